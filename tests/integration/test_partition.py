"""A partitioned agent: unreachable after the ping timeouts, re-admitted when it returns.

The cut is a proxy between agent and master (``tcp_proxy.py``: packets stop,
no FIN/RST), so only the master's pings and the agent's ping watchdog notice.
"""

from __future__ import annotations

import contextlib

import pytest

from tests.integration.harness import RawScheduler, get_json, running_cluster
from tests.integration.pymesos_support import command_task
from tests.integration.tcp_proxy import PartitionableProxy
from tests.integration.test_faults import collect, launch
from tests.integration.test_maintenance import operator

pytestmark = pytest.mark.integration

PARTITION_AWARE = {"user": "root", "name": "pa", "capabilities": [{"type": "PARTITION_AWARE"}]}


@contextlib.contextmanager
def task_behind_proxy(cluster, task_id):
    """A partition-aware framework's running task on an agent that reaches the master
    through a proxy the test can cut; yields (proxy, the agent's /state entry, scheduler)."""
    proxy = PartitionableProxy(("127.0.0.1", cluster.port))
    try:
        cluster.start_agent(0, [f"--master={proxy.address}"])
        (agent,) = cluster.wait_agents(1)
        raw = RawScheduler(cluster.address, PARTITION_AWARE)
        offer = raw.next_event("OFFERS")["offers"]["offers"][0]
        launch(raw, offer, [command_task(offer, task_id, "sleep 600")])
        collect(raw, [task_id], {"TASK_RUNNING"})
        yield proxy, agent, raw
        raw.close()
    finally:
        proxy.close()


def test_a_partitioned_agent_becomes_unreachable_and_returns_with_its_tasks(tmp_path):
    flags = ["--agent_ping_timeout=500ms", "--max_agent_ping_timeouts=2"]
    with (
        running_cluster(tmp_path / "c", "processes", agents=0, master_flags=flags) as cluster,
        task_behind_proxy(cluster, "survivor") as (proxy, agent, raw),
    ):
        proxy.cut()
        status = raw.next_event("UPDATE", timeout=15)["update"]["status"]
        assert (status["task_id"]["value"], status["state"]) == ("survivor", "TASK_UNREACHABLE")
        state = cluster.state()
        assert state["slaves"] == [] and state["unreachable_slaves"] == 1
        # The task waits in its framework's unreachable list, not among completed ones.
        (framework,) = state["frameworks"]
        assert framework["tasks"] == [] and framework["completed_tasks"] == []
        assert [(t["id"], t["state"]) for t in framework["unreachable_tasks"]] == [
            ("survivor", "TASK_UNREACHABLE")
        ]
        status, body = operator(cluster.address, "GET_TASKS")
        assert status == 200
        tasks = body["get_tasks"]
        assert [t["task_id"]["value"] for t in tasks["unreachable_tasks"]] == ["survivor"]
        assert "tasks" not in tasks and "completed_tasks" not in tasks
        (summary,) = get_json(cluster.address, "/master/state-summary")["frameworks"]
        assert (summary["TASK_UNREACHABLE"], summary["TASK_RUNNING"]) == (1, 0)
        listed = get_json(cluster.address, "/master/tasks")["tasks"]
        assert [(t["id"], t["state"]) for t in listed] == [("survivor", "TASK_UNREACHABLE")]
        # Explicit reconciliation answers from the unreachable list.
        raw.call(
            "RECONCILE",
            {"tasks": [{"task_id": {"value": "survivor"}, "agent_id": {"value": agent["id"]}}]},
        )
        answer = raw.next_event("UPDATE")["update"]["status"]
        assert answer["state"] == "TASK_UNREACHABLE"

        proxy.heal()
        (back,) = cluster.wait_agents(1, timeout=30)
        assert back["id"] == agent["id"]  # re-admitted with its ID, not registered afresh
        raw.call("RECONCILE", {"tasks": []})
        answer = raw.next_event("UPDATE")["update"]["status"]
        assert (answer["task_id"]["value"], answer["state"]) == ("survivor", "TASK_RUNNING")
        state = cluster.state()
        assert state["unreachable_slaves"] == 0
        (framework,) = state["frameworks"]
        assert framework["unreachable_tasks"] == []
        assert [(t["id"], t["state"]) for t in framework["tasks"]] == [("survivor", "TASK_RUNNING")]
        tasks = get_json(cluster.address, "/master/tasks")["tasks"]
        assert [(t["id"], t["state"]) for t in tasks] == [("survivor", "TASK_RUNNING")]


def test_an_unreachable_agent_marked_gone_by_the_operator_never_returns_under_its_id(tmp_path):
    flags = ["--agent_ping_timeout=500ms", "--max_agent_ping_timeouts=2"]
    with (
        running_cluster(tmp_path / "c", "processes", agents=0, master_flags=flags) as cluster,
        task_behind_proxy(cluster, "doomed") as (proxy, agent, raw),
    ):
        proxy.cut()
        status = raw.next_event("UPDATE", timeout=15)["update"]["status"]
        assert status["state"] == "TASK_UNREACHABLE"
        for body, message in (
            ({}, b"Expecting 'agent_id.value' to be present"),
            ({"agent_id": {"value": "no-such-agent"}}, b"Unknown agent no-such-agent"),
        ):
            code, answer = operator(cluster.address, "MARK_AGENT_GONE", body)
            assert (code, answer) == (400, message)
        assert cluster.state()["unreachable_slaves"] == 1  # refusals change nothing

        for _ in range(2):  # marking an agent gone twice is no error
            code, answer = operator(
                cluster.address, "MARK_AGENT_GONE", {"agent_id": {"value": agent["id"]}}
            )
            assert (code, answer) == (200, b"")
        status = raw.next_event("UPDATE", timeout=5)["update"]["status"]
        assert (status["task_id"]["value"], status["state"], status["reason"]) == (
            "doomed",
            "TASK_GONE_BY_OPERATOR",
            "REASON_AGENT_REMOVED_BY_OPERATOR",
        )
        state = cluster.state()
        assert state["unreachable_slaves"] == 0
        (framework,) = state["frameworks"]
        assert framework["unreachable_tasks"] == []
        assert [(t["id"], t["state"]) for t in framework["completed_tasks"]] == [
            ("doomed", "TASK_GONE_BY_OPERATOR")
        ]

        proxy.heal()  # the agent comes back, but not under the ID the operator retired
        (back,) = cluster.wait_agents(1, timeout=30)
        assert back["id"] != agent["id"]
        (framework,) = cluster.state()["frameworks"]
        assert framework["tasks"] == [] and framework["unreachable_tasks"] == []


def test_a_registered_agent_marked_gone_is_removed_and_its_tasks_gone(tmp_path):
    with (
        running_cluster(tmp_path / "c", "processes", agents=0) as cluster,
        task_behind_proxy(cluster, "retired") as (_proxy, agent, raw),
    ):
        code, _ = operator(cluster.address, "MARK_AGENT_GONE", {"agent_id": {"value": agent["id"]}})
        assert code == 200
        status = raw.next_event("UPDATE", timeout=5)["update"]["status"]
        assert (status["task_id"]["value"], status["state"]) == ("retired", "TASK_GONE_BY_OPERATOR")
        assert agent["id"] not in [a["id"] for a in cluster.state()["slaves"]]
