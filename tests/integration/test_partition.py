"""A partitioned agent: unreachable after the ping timeouts, re-admitted when it returns.

The cut is a proxy between agent and master (``tcp_proxy.py``: packets stop,
no FIN/RST), so only the master's pings and the agent's ping watchdog notice.
"""

from __future__ import annotations

import pytest

from tests.integration.harness import RawScheduler, get_json, running_cluster
from tests.integration.pymesos_support import command_task
from tests.integration.tcp_proxy import PartitionableProxy
from tests.integration.test_faults import collect, launch

pytestmark = pytest.mark.integration

PARTITION_AWARE = {"user": "root", "name": "pa", "capabilities": [{"type": "PARTITION_AWARE"}]}


def test_a_partitioned_agent_becomes_unreachable_and_returns_with_its_tasks(tmp_path):
    flags = ["--agent_ping_timeout=500ms", "--max_agent_ping_timeouts=2"]
    with running_cluster(tmp_path / "c", "processes", agents=0, master_flags=flags) as cluster:
        proxy = PartitionableProxy(("127.0.0.1", cluster.port))
        try:
            cluster.start_agent(0, [f"--master={proxy.address}"])
            (agent,) = cluster.wait_agents(1)
            raw = RawScheduler(cluster.address, PARTITION_AWARE)
            offer = raw.next_event("OFFERS")["offers"]["offers"][0]
            launch(raw, offer, [command_task(offer, "survivor", "sleep 600")])
            collect(raw, ["survivor"], {"TASK_RUNNING"})

            proxy.cut()
            status = raw.next_event("UPDATE", timeout=15)["update"]["status"]
            assert (status["task_id"]["value"], status["state"]) == ("survivor", "TASK_UNREACHABLE")
            state = cluster.state()
            assert state["slaves"] == [] and state["unreachable_slaves"] == 1
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
            assert cluster.state()["unreachable_slaves"] == 0
            tasks = get_json(cluster.address, "/master/tasks")["tasks"]
            assert [(t["id"], t["state"]) for t in tasks] == [("survivor", "TASK_RUNNING")]
            raw.close()
        finally:
            proxy.close()
