"""Offer lifecycle, framework failover timeouts, task groups, and master restarts."""

from __future__ import annotations

import os
import time

from tests.integration.harness import RawScheduler, get_json, running_cluster, wait_for
from tests.integration.pymesos_support import command_task, scalar
from tests.integration.test_faults import collect, launch


def test_unused_offers_are_rescinded_after_offer_timeout(tmp_path):
    with running_cluster(tmp_path / "c", "processes", master_flags=["--offer_timeout=500ms"]) as c:
        raw = RawScheduler(c.address)
        offer = raw.next_event("OFFERS")["offers"]["offers"][0]
        held_at = time.monotonic()
        rescind = raw.next_event("RESCIND")["rescind"]
        assert rescind["offer_id"] == offer["id"]
        assert time.monotonic() - held_at >= 0.4
        # A rescinded offer can no longer be used, and its resources are offered again.
        launch(raw, offer, [command_task(offer, "late", "true")])
        status = raw.next_event("UPDATE")["update"]["status"]
        assert (status["state"], status["reason"]) == ("TASK_LOST", "REASON_INVALID_OFFERS")
        assert raw.next_event("OFFERS")["offers"]["offers"][0]["id"] != offer["id"]
        raw.close()


def test_suppressed_frameworks_get_no_offers_until_they_revive(process_cluster):
    raw = RawScheduler(process_cluster.address)
    offer = raw.next_event("OFFERS")["offers"]["offers"][0]
    assert raw.call("SUPPRESS")[0] == 202
    assert (
        raw.call("DECLINE", {"offer_ids": [offer["id"]], "filters": {"refuse_seconds": 0}})[0]
        == 202
    )
    try:
        raw.next_event("OFFERS", timeout=1.5)
        raise AssertionError("a suppressed framework was offered resources")
    except TimeoutError:
        pass
    assert raw.call("REVIVE")[0] == 202
    assert raw.next_event("OFFERS")
    raw.close()


def test_a_framework_gone_past_its_failover_timeout_is_torn_down(process_cluster, tmp_path):
    raw = RawScheduler(
        process_cluster.address, {"user": "root", "name": "brief", "failover_timeout": 1}
    )
    offer = raw.next_event("OFFERS")["offers"]["offers"][0]
    pid_file = tmp_path / "pid"
    launch(raw, offer, [command_task(offer, "doomed", f"echo $$ > {pid_file}; exec sleep 1000")])
    collect(raw, ["doomed"], {"TASK_RUNNING"})
    pid = int(wait_for(lambda: pid_file.read_text().strip(), what="pid"))
    raw.close()

    def completed():
        frameworks = get_json(process_cluster.address, "/master/frameworks")
        return [f for f in frameworks["completed_frameworks"] if f["id"] == raw.framework_id]

    (framework,) = wait_for(completed, timeout=15, what="the framework to be torn down")
    assert [t["state"] for t in framework["completed_tasks"]] == ["TASK_KILLED"]

    def process_gone():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False

    wait_for(process_gone, timeout=15, what="the task's process to be killed")


def test_a_task_group_runs_under_one_default_executor(process_cluster):
    raw = RawScheduler(process_cluster.address)
    offer = raw.next_event("OFFERS")["offers"]["offers"][0]
    executor = {
        "type": "DEFAULT",
        "executor_id": {"value": "group-executor"},
        "resources": [scalar("cpus", 0.1), scalar("mem", 32)],
    }
    tasks = [command_task(offer, "g1", "true"), command_task(offer, "g2", "exit 2")]
    operation = {
        "type": "LAUNCH_GROUP",
        "launch_group": {"executor": executor, "task_group": {"tasks": tasks}},
    }
    status, body = raw.call(
        "ACCEPT",
        {"offer_ids": [offer["id"]], "operations": [operation], "filters": {"refuse_seconds": 0}},
    )
    assert status == 202, body
    ended = collect(raw, ["g1", "g2"], {"TASK_FINISHED", "TASK_FAILED", "TASK_KILLED"})
    # As with Mesos' default executor, one failed task kills the rest of the group.
    assert ended["g2"] == "TASK_FAILED"
    assert ended["g1"] in ("TASK_FINISHED", "TASK_KILLED")
    raw.close()


def test_an_invalid_task_group_fails_every_task(process_cluster):
    raw = RawScheduler(process_cluster.address)
    offer = raw.next_event("OFFERS")["offers"]["offers"][0]
    tasks = [command_task(offer, "a", "true"), command_task(offer, "b", "true", cpus=999)]
    operation = {
        "type": "LAUNCH_GROUP",
        "launch_group": {
            "executor": {"type": "DEFAULT", "executor_id": {"value": "e"}},
            "task_group": {"tasks": tasks},
        },
    }
    raw.call("ACCEPT", {"offer_ids": [offer["id"]], "operations": [operation]})
    reasons = set()
    for _ in tasks:
        status = raw.next_event("UPDATE")["update"]["status"]
        reasons.add((status["task_id"]["value"], status["state"], status["reason"]))
    assert reasons == {
        ("a", "TASK_ERROR", "REASON_TASK_GROUP_INVALID"),
        ("b", "TASK_ERROR", "REASON_TASK_GROUP_INVALID"),
    }
    raw.close()


def test_the_agent_reregisters_with_a_restarted_master_and_keeps_its_tasks(tmp_path):
    with running_cluster(tmp_path / "c", "processes") as cluster:
        info = {"user": "root", "name": "stays", "failover_timeout": 3600}
        raw = RawScheduler(cluster.address, info)
        offer = raw.next_event("OFFERS")["offers"]["offers"][0]
        launch(raw, offer, [command_task(offer, "keeps-running", "sleep 1000")])
        collect(raw, ["keeps-running"], {"TASK_RUNNING"})
        agent_id = offer["agent_id"]["value"]
        raw.close()

        cluster.restart_master()
        (agent,) = cluster.wait_agents(1)
        assert agent["id"] == agent_id

        info["id"] = {"value": raw.framework_id}
        back = RawScheduler(cluster.address, info, framework_id={"value": raw.framework_id})
        assert back.framework_id == raw.framework_id
        back.call("RECONCILE", {"tasks": [{"task_id": {"value": "keeps-running"}}]})
        status = back.next_event("UPDATE")["update"]["status"]
        assert status["state"] == "TASK_RUNNING" and status["agent_id"]["value"] == agent_id
        back.call("KILL", {"task_id": {"value": "keeps-running"}})
        assert collect(back, ["keeps-running"], {"TASK_KILLED"}) == {"keeps-running": "TASK_KILLED"}
        back.close()


def test_shutdown_stops_a_custom_executor(process_cluster):
    from tests.integration.pymesos_support import executor_task

    raw = RawScheduler(process_cluster.address)
    offer = raw.next_event("OFFERS")["offers"]["offers"][0]
    launch(raw, offer, [executor_task(offer, "held", "sleep")])
    collect(raw, ["held"], {"TASK_RUNNING"})
    status, _ = raw.call(
        "SHUTDOWN", {"executor_id": {"value": "pyexec"}, "agent_id": offer["agent_id"]}
    )
    assert status == 202
    failure = raw.next_event("FAILURE", timeout=30)["failure"]
    assert failure["executor_id"] == {"value": "pyexec"}
    assert failure["agent_id"] == offer["agent_id"]
    raw.close()
