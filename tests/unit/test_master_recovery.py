"""A new leader's recovery, unreachable agents and their return, on a fake clock."""

from __future__ import annotations

from twisted.internet.task import Clock

from mesos_py.common.resources import Resources
from mesos_py.master import registry as reg
from mesos_py.master.master import Master, MasterConfig
from mesos_py.master.registrar import MemoryStore, Registrar
from tests.unit.test_master_books import AGENT_RESOURCES, MemoryStream, launch_one

INFO = {"hostname": "h", "resources": AGENT_RESOURCES}


def new_master(recovered: reg.Registry | None = None, **config):
    """A leader that read ``recovered`` from its store, as the service does."""
    clock = Clock()
    store = MemoryStore()
    store.data = reg.encode(recovered or reg.Registry())
    registrar = Registrar(store, lambda reason: None)
    master = Master(MasterConfig(**config), clock, {}, registrar)
    registrar.recover().addCallback(master.recover)  # the memory store answers at once
    master.start()
    return master, clock, store


def subscribe(master, clock, partition_aware=False, framework_id=None):
    info = {"user": "u", "name": "n"}
    if partition_aware:
        info["capabilities"] = [{"type": "PARTITION_AWARE"}]
    call = {"type": "SUBSCRIBE", "subscribe": {"framework_info": info}}
    if framework_id:
        info["id"] = {"value": framework_id}
    stream = MemoryStream("fw")
    master.subscribe(call, stream)
    clock.advance(0)
    return stream


def reregister(master, agent_id, tasks=(), frameworks=()):
    link = MemoryStream("link")
    body = {
        "agent_info": {**INFO, "id": {"value": agent_id}},
        "tasks": list(tasks),
        "frameworks": list(frameworks),
    }
    return master.register_agent(body, link), link


def reported(task_id, framework_id, agent_id):
    return {
        "task_id": {"value": task_id},
        "framework_id": {"value": framework_id},
        "agent_id": {"value": agent_id},
        "name": task_id,
        "state": "TASK_RUNNING",
        "resources": Resources.parse("cpus:1;mem:128").to_json(),
    }


def test_registrations_are_admitted_to_the_registry():
    master, _, store = new_master()
    agent = master.register_agent({"agent_info": dict(INFO)}, MemoryStream("l"))
    assert list(reg.decode(store.data).agents) == [agent.agent_id]


def test_recovered_agents_that_do_not_return_become_unreachable():
    recovered = reg.Registry(agents={"A": {**INFO, "id": {"value": "A"}}, "B": dict(INFO)})
    master, clock, store = new_master(recovered, agent_reregister_timeout=600)
    stream = subscribe(master, clock, partition_aware=True)
    framework = next(iter(master.frameworks.values()))
    # While an agent may still come back, explicit reconciliation of its tasks waits.
    master._call_reconcile(
        framework, {"tasks": [{"task_id": {"value": "t"}, "agent_id": {"value": "B"}}]}
    )
    assert not stream.of_type("UPDATE")
    reregister(master, "A")
    clock.advance(600)
    assert master.recovered_agents == {} and set(master.unreachable_agents) == {"B"}
    stored = reg.decode(store.data)
    assert set(stored.agents) == {"A"} and set(stored.unreachable) == {"B"}
    master._call_reconcile(
        framework, {"tasks": [{"task_id": {"value": "t"}, "agent_id": {"value": "B"}}]}
    )
    assert stream.of_type("UPDATE")[-1]["update"]["status"]["state"] == "TASK_UNREACHABLE"


def test_an_unreachable_agent_returns_with_its_tasks():
    master, clock, store = new_master(agent_ping_timeout=1, max_agent_ping_timeouts=2)
    link = MemoryStream("link")
    agent = master.register_agent({"agent_info": dict(INFO)}, link)
    aware = subscribe(master, clock, partition_aware=True)
    framework, _task = launch_one(master, aware, agent)
    clock.advance(1)
    clock.advance(1)
    clock.advance(1)
    assert agent.agent_id in master.unreachable_agents and agent.agent_id not in master.agents
    assert aware.of_type("UPDATE")[-1]["update"]["status"]["state"] == "TASK_UNREACHABLE"
    assert not link.of_type("ERROR")  # so the agent keeps its ID and comes back
    assert agent.agent_id in reg.decode(store.data).unreachable
    returned, new_link = reregister(
        master,
        agent.agent_id,
        tasks=[reported("t", framework.framework_id, agent.agent_id)],
        frameworks=[framework.info],
    )
    assert returned.agent_id in master.agents and returned.agent_id not in master.unreachable_agents
    assert framework.tasks["t"].state == "TASK_RUNNING"
    assert not new_link.of_type("KILL_TASK")
    assert returned.agent_id in reg.decode(store.data).agents


def test_tasks_of_frameworks_told_lost_are_killed_when_their_agent_returns():
    master, clock, _ = new_master(agent_ping_timeout=1, max_agent_ping_timeouts=1)
    agent = master.register_agent({"agent_info": dict(INFO)}, MemoryStream("l"))
    stream = subscribe(master, clock)
    framework, _ = launch_one(master, stream, agent)
    clock.advance(1)
    clock.advance(1)
    assert stream.of_type("UPDATE")[-1]["update"]["status"]["state"] == "TASK_LOST"
    _, link = reregister(
        master, agent.agent_id, tasks=[reported("t", framework.framework_id, agent.agent_id)]
    )
    (kill,) = link.of_type("KILL_TASK")
    assert kill["kill_task"]["task_id"] == {"value": "t"}


def test_gone_agents_stay_refused_after_a_failover():
    master, _, _ = new_master(reg.Registry(gone={"G": 1.0}))
    assert "G" in master.removed_agent_ids


def test_registry_weights_are_recovered_and_win_over_the_flag():
    master, _, _ = new_master(reg.Registry(weights={"a": 2.0, "b": 3.0}), weights=(("b", 5.0),))
    assert master.role_settings.weights == {"a": 2.0, "b": 3.0}


def test_malformed_reported_tasks_are_skipped():
    master, _, _ = new_master()
    good = reported("ok", "F", "A")
    bad = [
        {**reported("b1", "F", "A"), "state": "TASK_NONSENSE"},
        {**reported("b2", "F", "A"), "executor_id": "E"},
        {**reported("b3", "F", "A"), "name": 7},
        {**reported("b4", "F", "A"), "resources": "cpus:1"},
        {**reported("b5", "F", "A"), "statuses": {}},
    ]
    framework_info = {"user": "u", "name": "n", "id": {"value": "F"}}
    agent, _ = reregister(master, "A", tasks=[good, *bad], frameworks=[framework_info])
    assert [key[1] for key in agent.tasks] == ["ok"]
