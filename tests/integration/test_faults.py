"""Faults: a killed framework, a killed task process, a killed agent. Nothing is lost."""

from __future__ import annotations

import os
import signal
import time

import pytest

from tests.integration.harness import RawScheduler, get_json, running_cluster, wait_for
from tests.integration.pymesos_support import command_task

TERMINAL = {"TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_LOST", "TASK_ERROR"}


def launch(raw, offer, tasks):
    status, body = raw.call(
        "ACCEPT",
        {
            "offer_ids": [offer["id"]],
            "operations": [{"type": "LAUNCH", "launch": {"task_infos": tasks}}],
            "filters": {"refuse_seconds": 0},
        },
    )
    assert status == 202, body


def collect(raw, task_ids, until, timeout=30.0):
    """Acknowledge updates until every task in ``task_ids`` reached a state in ``until``."""
    reached: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    while set(reached) != set(task_ids):
        event = raw.next_event("UPDATE", timeout=max(0.1, deadline - time.monotonic()))
        status = event["update"]["status"]
        if "uuid" in status:
            raw.call(
                "ACKNOWLEDGE",
                {
                    "agent_id": status["agent_id"],
                    "task_id": status["task_id"],
                    "uuid": status["uuid"],
                },
            )
        if status["state"] in until:
            reached[status["task_id"]["value"]] = status["state"]
    return reached


def test_a_killed_framework_gets_every_terminal_state_after_it_resubscribes(process_cluster):
    info = {"user": "root", "name": "dies", "failover_timeout": 3600}
    raw = RawScheduler(process_cluster.address, info)
    offer = raw.next_event("OFFERS")["offers"]["offers"][0]
    tasks = [command_task(offer, f"short-{i}", "sleep 1") for i in range(4)]
    tasks += [command_task(offer, "fails", "sleep 1; exit 7")]
    tasks += [command_task(offer, "long", "sleep 1000")]
    launch(raw, offer, tasks)
    collect(raw, [t["task_id"]["value"] for t in tasks], {"TASK_RUNNING"})
    framework_id = raw.framework_id
    raw.close()  # the framework dies mid-stream; its tasks finish while it is away
    time.sleep(2.5)

    info["id"] = {"value": framework_id}
    back = RawScheduler(process_cluster.address, info, framework_id={"value": framework_id})
    assert back.framework_id == framework_id
    reached = collect(back, [t["task_id"]["value"] for t in tasks[:-1]], TERMINAL)
    assert reached == {**{f"short-{i}": "TASK_FINISHED" for i in range(4)}, "fails": "TASK_FAILED"}
    assert back.call("KILL", {"task_id": {"value": "long"}})[0] == 202
    assert collect(back, ["long"], TERMINAL) == {"long": "TASK_KILLED"}
    back.close()


def test_a_killed_task_process_is_reported_failed_with_its_signal(process_cluster, tmp_path):
    raw = RawScheduler(process_cluster.address)
    offer = raw.next_event("OFFERS")["offers"]["offers"][0]
    pid_file = tmp_path / "task.pid"
    launch(raw, offer, [command_task(offer, "victim", f"echo $$ > {pid_file}; exec sleep 1000")])
    collect(raw, ["victim"], {"TASK_RUNNING"})
    pid = int(wait_for(lambda: pid_file.read_text().strip(), what="the task's pid"))
    os.kill(pid, signal.SIGKILL)
    event = raw.next_event("UPDATE")["update"]["status"]
    assert event["state"] == "TASK_FAILED"
    assert "signal" in event["message"].lower() and "kill" in event["message"].lower()
    raw.close()


def test_a_killed_agent_is_removed_and_its_tasks_reported_lost(tmp_path):
    flags = ["--agent_ping_timeout=500ms", "--max_agent_ping_timeouts=2"]
    with running_cluster(tmp_path / "c", "processes", master_flags=flags) as cluster:
        raw = RawScheduler(cluster.address)
        offer = raw.next_event("OFFERS")["offers"]["offers"][0]
        launch(raw, offer, [command_task(offer, "orphan", "sleep 30")])
        collect(raw, ["orphan"], {"TASK_RUNNING"})
        cluster.agents[0].kill()
        lost = raw.next_event("UPDATE", timeout=15)["update"]["status"]
        assert (lost["state"], lost["reason"]) == ("TASK_LOST", "REASON_AGENT_REMOVED")
        failure = raw.next_event("FAILURE")["failure"]
        assert failure["agent_id"] == offer["agent_id"]
        assert get_json(cluster.address, "/master/slaves")["slaves"] == []
        raw.close()


@pytest.mark.parametrize("mode", ["processes"])
def test_operator_endpoints_have_mesos_shapes(tmp_path, mode):
    with running_cluster(tmp_path / "c", mode) as cluster:
        raw = RawScheduler(cluster.address)
        offer = raw.next_event("OFFERS")["offers"]["offers"][0]
        launch(raw, offer, [command_task(offer, "visible", "sleep 30")])
        collect(raw, ["visible"], {"TASK_RUNNING"})
        state = get_json(cluster.address, "/master/state")
        for key in (
            "version",
            "id",
            "pid",
            "hostname",
            "start_time",
            "activated_slaves",
            "slaves",
            "frameworks",
            "completed_frameworks",
            "flags",
            "leader",
        ):
            assert key in state, key
        (framework,) = state["frameworks"]
        assert framework["tasks"][0]["state"] == "TASK_RUNNING"
        assert framework["used_resources"]["cpus"] == pytest.approx(0.1)
        agent = state["slaves"][0]
        assert agent["resources"]["cpus"] == 4 and agent["resources"]["ports"] == "[31000-32000]"
        summary = get_json(cluster.address, "/master/state-summary")
        assert summary["slaves"][0]["TASK_RUNNING"] == 1
        tasks = get_json(cluster.address, "/master/tasks")["tasks"]
        assert [t["id"] for t in tasks] == ["visible"]
        metrics = get_json(cluster.address, "/metrics/snapshot")
        assert metrics["master/tasks_running"] == 1
        assert metrics["master/slaves_active"] == 1
        assert metrics["master/frameworks_active"] == 1
        assert metrics["master/elected"] == 1
        version = get_json(cluster.address, "/version")["version"]
        assert all(part.isdigit() for part in version.split("."))
        raw.close()
