"""The master's bookkeeping, driven with an in-memory event stream and a fake clock."""

from __future__ import annotations

from twisted.internet.task import Clock

from mesos_py.common.protocol import new_status_uuid
from mesos_py.common.resources import Resources
from mesos_py.master.master import Master, MasterConfig


class MemoryStream:
    """Stands in for an HTTP event stream: records what the master sends."""

    def __init__(self, stream_id: str) -> None:
        self.stream_id = stream_id
        self.events: list[dict] = []
        self.closed = False
        self.on_close = None

    def send(self, event: dict) -> None:
        self.events.append(event)

    def start_heartbeats(self, interval: float) -> None:
        pass

    def close(self) -> None:
        self.closed = True
        if self.on_close:
            self.on_close(self)

    def of_type(self, kind: str) -> list[dict]:
        return [e for e in self.events if e["type"] == kind]


AGENT_RESOURCES = Resources.parse("cpus:2;mem:1024").to_json()


def started_master():
    clock = Clock()
    master = Master(MasterConfig(allocation_interval=1.0), clock, {})
    master.start()
    link = MemoryStream("link")
    agent = master.register_agent(
        {"agent_info": {"hostname": "h", "resources": AGENT_RESOURCES}}, link
    )
    framework_stream = MemoryStream("fw")
    master.subscribe(
        {"type": "SUBSCRIBE", "subscribe": {"framework_info": {"user": "u", "name": "n"}}},
        framework_stream,
    )
    clock.advance(0)
    return master, clock, agent, link, framework_stream


def launch_one(master, framework_stream, agent):
    (offer,) = framework_stream.of_type("OFFERS")[-1]["offers"]["offers"]
    framework = next(iter(master.frameworks.values()))
    task = {
        "name": "t",
        "task_id": {"value": "t"},
        "agent_id": {"value": agent.agent_id},
        "command": {"value": "true"},
        "resources": Resources.parse("cpus:1;mem:128").to_json(),
    }
    master.handle_call(
        framework,
        "ACCEPT",
        {
            "accept": {
                "offer_ids": [offer["id"]],
                "operations": [{"type": "LAUNCH", "launch": {"task_infos": [task]}}],
            }
        },
    )
    return framework, framework.tasks["t"]


def status(agent, state, uuid):
    return {
        "task_id": {"value": "t"},
        "state": state,
        "source": "SOURCE_EXECUTOR",
        "agent_id": {"value": agent.agent_id},
        "timestamp": 1.0,
        "uuid": uuid,
    }


def acknowledge(master, framework, agent, uuid):
    """The framework acknowledges the update ``uuid`` of task "t"."""
    master.handle_call(
        framework,
        "ACKNOWLEDGE",
        {
            "acknowledge": {
                "agent_id": {"value": agent.agent_id},
                "task_id": {"value": "t"},
                "uuid": uuid,
            }
        },
    )


def test_offers_are_sent_to_a_subscribed_framework():
    _, _, agent, _, stream = started_master()
    (offer,) = stream.of_type("OFFERS")[0]["offers"]["offers"]
    assert offer["agent_id"]["value"] == agent.agent_id
    assert Resources.from_json(offer["resources"]).unallocated() == Resources.parse(
        "cpus:2;mem:1024"
    )


def test_retried_updates_are_forwarded_but_recorded_once():
    master, _, agent, link, stream = started_master()
    framework, task = launch_one(master, stream, agent)
    assert link.of_type("RUN_TASK")
    running = status(agent, "TASK_RUNNING", new_status_uuid())
    for _ in range(5):
        master.status_update(agent, framework.framework_id, running, None)
    assert len(stream.of_type("UPDATE")) == 5
    assert [s["state"] for s in task.statuses] == ["TASK_RUNNING"]


def test_latest_state_releases_resources_before_the_terminal_update_arrives():
    master, clock, agent, _, stream = started_master()
    framework, task = launch_one(master, stream, agent)
    assert master.allocator.allocated(framework.framework_id).scalar("cpus") == 1
    running = status(agent, "TASK_RUNNING", new_status_uuid())
    master.status_update(agent, framework.framework_id, running, "TASK_FINISHED")
    assert task.state == "TASK_FINISHED"
    assert master.allocator.allocated(framework.framework_id).scalar("cpus") == 0
    # The terminal update itself, and its retry, release nothing twice.
    finished = status(agent, "TASK_FINISHED", new_status_uuid())
    master.status_update(agent, framework.framework_id, finished, None)
    master.status_update(agent, framework.framework_id, finished, None)
    assert [s["state"] for s in task.statuses] == ["TASK_RUNNING", "TASK_FINISHED"]
    assert master.metrics["master/tasks_finished"] == 1
    clock.advance(1.0)
    (offer,) = stream.of_type("OFFERS")[-1]["offers"]["offers"]
    assert Resources.from_json(offer["resources"]).scalar("cpus") == 2


def test_acknowledging_the_terminal_update_completes_the_task():
    master, _, agent, link, stream = started_master()
    framework, task = launch_one(master, stream, agent)
    uuid = new_status_uuid()
    master.status_update(agent, framework.framework_id, status(agent, "TASK_FAILED", uuid), None)
    acknowledge(master, framework, agent, uuid)
    assert "t" not in framework.tasks and list(framework.completed_tasks) == [task]
    assert link.of_type("ACKNOWLEDGE")[-1]["acknowledge"]["uuid"] == uuid


def test_a_framework_past_its_failover_timeout_is_removed_and_its_tasks_killed():
    master, clock, agent, link, stream = started_master()
    framework, task = launch_one(master, stream, agent)
    framework.info["failover_timeout"] = 10
    stream.close()
    assert not framework.connected and framework.framework_id in master.frameworks
    clock.advance(9.9)
    assert framework.framework_id in master.frameworks
    clock.advance(0.2)
    assert framework.framework_id not in master.frameworks
    assert task.state == "TASK_KILLED"
    assert link.of_type("SHUTDOWN_FRAMEWORK")


def test_an_agent_that_stops_answering_pings_is_removed():
    master, clock, agent, link, stream = started_master()
    launch_one(master, stream, agent)
    for _ in range(master.config.max_agent_ping_timeouts + 1):
        clock.advance(master.config.agent_ping_timeout)
    assert len(link.of_type("PING")) == master.config.max_agent_ping_timeouts
    assert agent.agent_id not in master.agents
    lost = stream.of_type("UPDATE")[-1]["update"]["status"]
    assert (lost["state"], lost["reason"]) == ("TASK_LOST", "REASON_AGENT_REMOVED")
    assert stream.of_type("FAILURE")[-1]["failure"] == {"agent_id": {"value": agent.agent_id}}
