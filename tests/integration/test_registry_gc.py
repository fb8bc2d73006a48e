"""Registry garbage collection and the post-failover agent removal limit, with real processes.

* A partitioned agent (cut through ``tcp_proxy``) becomes unreachable, is pruned
  from the registry file once older than ``--registry_max_agent_age`` and, when
  the partition heals, is admitted again with its ID and tasks (Mesos does so).
* After a restart (file registry) or a failover (ZooKeeper registry), agents
  that do not re-register within ``--agent_reregister_timeout`` are marked
  unreachable, unless their share exceeds ``--recovery_agent_removal_limit``:
  then the leader exits 1 for an operator to investigate.
"""

from __future__ import annotations

import pytest
from kazoo.client import KazooClient

from mesos_py.common.zk_layout import parse_zk_url
from mesos_py.master import registry as reg
from tests.integration.ha_cluster import running_ha_cluster
from tests.integration.harness import running_cluster, wait_for
from tests.integration.test_partition import task_behind_proxy
from tests.integration.zookeeper import Ensemble, missing_reason

pytestmark = pytest.mark.integration

LIMIT_EXCEEDED = "Post-recovery agent removal limit exceeded"


def stored_registry(work_dir):
    return reg.decode((work_dir / "registry").read_bytes())


def test_an_old_unreachable_agent_is_pruned_and_admitted_again_when_it_returns(tmp_path):
    master_dir = tmp_path / "master"
    flags = [
        f"--work_dir={master_dir}",
        "--agent_ping_timeout=500ms",
        "--max_agent_ping_timeouts=2",
        "--registry_gc_interval=1secs",
        "--registry_max_agent_age=6secs",
    ]
    with (
        running_cluster(tmp_path / "c", "processes", agents=0, master_flags=flags) as cluster,
        task_behind_proxy(cluster, "pruned") as (proxy, agent, raw),
    ):
        proxy.cut()
        status = raw.next_event("UPDATE", timeout=15)["update"]["status"]
        assert status["state"] == "TASK_UNREACHABLE"
        wait_for(lambda: agent["id"] in stored_registry(master_dir).unreachable, 5, "a write")
        (framework,) = cluster.state()["frameworks"]
        assert [t["id"] for t in framework["unreachable_tasks"]] == ["pruned"]

        # Older than 6 s: the next collection prunes it, and its unreachable tasks.
        wait_for(lambda: cluster.state()["unreachable_slaves"] == 0, 20, "the agent to be pruned")
        wait_for(lambda: not stored_registry(master_dir).unreachable, 5, "the pruning write")
        (framework,) = cluster.state()["frameworks"]
        assert framework["unreachable_tasks"] == []
        assert "pruned 1 unreachable agent(s)" in cluster.master.output()
        raw.call(
            "RECONCILE",
            {"tasks": [{"task_id": {"value": "pruned"}, "agent_id": {"value": agent["id"]}}]},
        )
        answer = raw.next_event("UPDATE")["update"]["status"]
        assert answer["state"] == "TASK_UNKNOWN"

        proxy.heal()
        (back,) = cluster.wait_agents(1, timeout=30)
        assert back["id"] == agent["id"]
        wait_for(lambda: agent["id"] in stored_registry(master_dir).agents, 5, "admission")
        raw.call("RECONCILE", {"tasks": []})
        answer = raw.next_event("UPDATE")["update"]["status"]
        assert (answer["task_id"]["value"], answer["state"]) == ("pruned", "TASK_RUNNING")


def test_a_restarted_master_marks_few_missing_agents_but_exits_when_too_many(tmp_path):
    master_dir = tmp_path / "master"
    flags = [
        f"--work_dir={master_dir}",
        "--agent_reregister_timeout=3secs",
        "--recovery_agent_removal_limit=40%",
    ]
    with running_cluster(tmp_path / "c", "processes", agents=3, master_flags=flags) as cluster:
        ids = {a["id"] for a in cluster.state()["slaves"]}
        wait_for(lambda: set(stored_registry(master_dir).agents) == ids, 5, "the registry")

        # One of three (33 %) does not come back: within the limit, it becomes unreachable.
        cluster.agents[2].kill()
        cluster.restart_master()
        cluster.wait_agents(2)
        wait_for(lambda: cluster.state()["unreachable_slaves"] == 1, 15, "one unreachable agent")
        assert cluster.master.alive()
        wait_for(lambda: len(stored_registry(master_dir).unreachable) == 1, 5, "the write")
        assert len(stored_registry(master_dir).agents) == 2

        # One of the two admitted left (50 %): over the limit, the master exits instead.
        cluster.agents[1].kill()
        cluster.restart_master()
        cluster.wait_agents(1)
        assert cluster.master.process.wait(timeout=30) == 1
        assert LIMIT_EXCEEDED in cluster.master.output()
        stored = stored_registry(master_dir)  # nothing was marked
        assert len(stored.agents) == 2 and len(stored.unreachable) == 1


@pytest.mark.skipif(missing_reason() is not None, reason=str(missing_reason()))
def test_a_new_leader_exits_while_too_many_agents_are_missing(tmp_path):
    ensemble = Ensemble(tmp_path / "zk", size=1)
    ensemble.start()
    flags = ["--agent_reregister_timeout=3secs", "--recovery_agent_removal_limit=40%"]
    try:
        ensemble.wait_serving()
        with running_ha_cluster(
            tmp_path / "ha", ensemble, masters=1, agents=2, master_flags=flags
        ) as cluster:
            # Both admissions must be in the registry (written in batches) before the kill.
            zk = KazooClient(hosts=ensemble.hosts)
            zk.start()
            try:
                node = parse_zk_url(cluster.zk_url).registry_path
                wait_for(
                    lambda: zk.exists(node) and len(reg.decode(zk.get(node)[0]).agents) == 2,
                    10,
                    "both agents in the registry",
                )
            finally:
                zk.stop()
            cluster.agents[1].kill()
            cluster.kill_master(0)  # the supervisor restarts it; it leads again, recovers
            wait_for(lambda: 1 in cluster.exit_codes[0], 60, "the new leader to give up")
            assert cluster.exit_codes[0][0] == -9
            log = cluster.masters[0].log_path.read_text()
            assert LIMIT_EXCEEDED in log and "1 of the 2 agents" in log
    finally:
        ensemble.stop()
