"""Master high availability on a real 3-node ZooKeeper ensemble (Debian's package).

Three master processes, two agents and an unmodified pymesos framework, all
finding the leader through ``zk://``.  Session timeouts are shortened to 4 s
so that failovers take seconds; the bound checked is Mesos' (session timeout
+ 3 s).
"""

from __future__ import annotations

import http.client
import json
import time

import pytest
from kazoo.client import KazooClient

from tests.integration.ha_cluster import HACluster, running_ha_cluster
from tests.integration.harness import get_json, wait_for
from tests.integration.pymesos_support import PymesosFramework, command_task
from tests.integration.zookeeper import Ensemble, missing_reason

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(missing_reason() is not None, reason=str(missing_reason())),
]

SESSION_TIMEOUT = 4.0


@pytest.fixture
def cluster(ensemble, tmp_path):
    with running_ha_cluster(
        tmp_path / "ha", ensemble, session_timeout=f"{SESSION_TIMEOUT:g}secs"
    ) as running:
        yield running


def zk_children(ensemble: Ensemble, path: str) -> dict[str, bytes]:
    client = KazooClient(ensemble.hosts)
    client.start(timeout=15)
    try:
        return {name: client.get(f"{path}/{name}")[0] for name in client.get_children(path)}
    finally:
        client.stop()
        client.close()


def scheduler_post(address: str, body: dict) -> tuple[int, dict]:
    host, port = address.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request(
            "POST",
            "/api/v1/scheduler",
            json.dumps(body),
            {"Content-Type": "application/json", "Accept": "application/json"},
        )
        response = connection.getresponse()
        response.read()
        return response.status, dict(response.getheaders())
    finally:
        connection.close()


def current_offer(cluster: HACluster, sched, timeout: float = 60.0) -> dict:
    """The next offer made by the current leader (older ones died with their master)."""
    master_id = cluster.state()["id"]
    deadline = time.monotonic() + timeout
    while True:
        offer = sched.next_offer(timeout=max(0.1, deadline - time.monotonic()))
        if offer["id"]["value"].startswith(master_id):
            return offer


def running_tasks(state: dict) -> dict[str, str]:
    return {t["id"]: t["state"] for f in state["frameworks"] for t in f["tasks"]}


def test_one_leader_that_masters_agents_and_pymesos_agree_on(cluster, ensemble):
    leader = cluster.leader
    members = zk_children(ensemble, cluster.path)
    masters = {name: data for name, data in members.items() if name.startswith("json.info_")}
    assert len(masters) == 3 and all(len(name) == len("json.info_") + 10 for name in masters)
    lowest = json.loads(masters[min(masters)])
    # What pymesos reads: address.ip and address.port of the lowest node.
    assert f"{lowest['address']['ip']}:{lowest['address']['port']}" == leader
    assert lowest["pid"] == f"master@{leader}" and isinstance(lowest["ip"], int)
    # pymesos' leader choice (min child name, skipping log_replicas) is ours too.
    assert min(n for n in members if n != "log_replicas") == min(masters)
    for address in cluster.addresses:
        if address == leader:
            continue
        status, headers = scheduler_post(
            address,
            {"type": "SUBSCRIBE", "subscribe": {"framework_info": {"user": "u", "name": "n"}}},
        )
        assert status == 307 and headers["Location"] == f"//{leader}/api/v1/scheduler"
    # Both agents registered with the leader (they found it in ZooKeeper).
    assert {s["active"] for s in cluster.state()["slaves"]} == {True}
    assert len(cluster.state()["slaves"]) == 2
    framework = PymesosFramework(cluster.zk_url)
    try:
        assert framework.framework_id in {f["id"] for f in cluster.state()["frameworks"]}
    finally:
        framework.stop()


def test_masters_with_zookeeper_credentials(ensemble, tmp_path):
    """Digest ACLs: world-readable nodes (agents, pymesos), writable by the masters only."""
    from kazoo.exceptions import NoAuthError

    cluster = HACluster(tmp_path / "acl", ensemble, credentials="ops:secret")
    try:
        cluster.start()
        leader = cluster.leader
        client = KazooClient(ensemble.hosts)
        client.start(timeout=15)
        try:
            nodes = sorted(n for n in client.get_children(cluster.path) if n.startswith("json."))
            data, _ = client.get(f"{cluster.path}/{nodes[0]}")
            assert json.loads(data)["address"]["port"] == int(leader.split(":")[1])
            acl, _ = client.get_acls(f"{cluster.path}/{nodes[0]}")
            assert {a.id.scheme for a in acl} == {"world", "digest"}
            with pytest.raises(NoAuthError):
                client.delete(f"{cluster.path}/{nodes[0]}")
            with pytest.raises(NoAuthError):
                client.set(f"{cluster.path}/log_replicas/registry", b"forged")
        finally:
            client.stop()
            client.close()
        framework = PymesosFramework(cluster.zk_url)
        framework.stop()
        # The URL came from a file: the masters show that, never the password.
        flags = get_json(leader, "/master/flags")["flags"]
        assert flags["zk"] == cluster.masters_zk_url and flags["zk"].startswith("file://")
        assert "secret" not in json.dumps(get_json(leader, "/master/state"))
        for master in cluster.masters:
            assert "secret" not in master.output()
    except BaseException:
        print(cluster.logs())
        raise
    finally:
        cluster.stop()


def test_kill_9_of_the_leader_loses_no_task(cluster):
    framework = PymesosFramework(cluster.zk_url, failover_timeout=3600)
    sched = framework.scheduler
    try:
        launched = []
        agents_used = set()
        while len(agents_used) < 2:
            offer = sched.next_offer()
            if offer["agent_id"]["value"] in agents_used:
                framework.driver.declineOffer(offer["id"], {"refuse_seconds": 0})
                continue
            agents_used.add(offer["agent_id"]["value"])
            task_id = f"long-{len(launched)}"
            framework.driver.launchTasks(offer["id"], [command_task(offer, task_id, "sleep 600")])
            launched.append(task_id)
        for task_id in launched:
            sched.wait_update(task_id, "TASK_RUNNING")

        old = cluster.wait_leader()
        killed_at = time.monotonic()
        cluster.kill_master(old)
        survivors = [i for i in range(3) if i != old]
        new = cluster.wait_leader(timeout=30, other_than=old, among=survivors)
        took = time.monotonic() - killed_at
        assert took <= SESSION_TIMEOUT + 3, f"new leader after {took:.1f}s"
        assert cluster.wait_leader() == new  # the restarted master agrees once it is up

        def both_back() -> bool:
            state = cluster.state()
            agents = [s for s in state["slaves"] if s["active"]]
            return len(agents) == 2 and running_tasks(state) == dict.fromkeys(
                launched, "TASK_RUNNING"
            )

        wait_for(both_back, 30, what="agents to re-register with their tasks")
        wait_for(
            lambda: any(f["active"] for f in cluster.state()["frameworks"]),
            30,
            what="the framework to re-subscribe",
        )
        assert cluster.state()["frameworks"][0]["id"] == framework.framework_id
        framework.driver.reconcileTasks([])
        for task_id in launched:
            sched.wait_update(task_id, "TASK_RUNNING", timeout=20)
        for task_id in launched:
            assert set(sched.states_of(task_id)) <= {"TASK_RUNNING"}, sched.states_of(task_id)
        # New work still launches.
        offer = current_offer(cluster, sched)
        framework.driver.launchTasks(offer["id"], [command_task(offer, "after", "sleep 600")])
        sched.wait_update("after", "TASK_RUNNING")
        assert cluster.addresses[new] == cluster.leader
    finally:
        framework.stop()


def agent_task_states(daemon) -> dict[str, str]:
    port = next(a.split("=", 1)[1] for a in daemon.argv if a.startswith("--port="))
    state = get_json(f"127.0.0.1:{port}", "/state")
    return {
        t["id"]: t["state"] for f in state["frameworks"] for e in f["executors"] for t in e["tasks"]
    }


def serves_writes(address: str) -> bool:
    """A SUBSCRIBE, following one redirect, opens a stream."""
    body = {"type": "SUBSCRIBE", "subscribe": {"framework_info": {"user": "u", "name": "probe"}}}
    try:
        status, headers = scheduler_post(address, body)
        if status == 307:
            status, _ = scheduler_post(headers["Location"].lstrip("/").split("/")[0], body)
    except OSError:  # a master being restarted by its supervisor
        return False
    return status == 200


def test_zookeeper_server_losses(tmp_path):
    ensemble = Ensemble(tmp_path / "zk")
    ensemble.start()
    cluster = HACluster(tmp_path / "ha", ensemble, session_timeout=f"{SESSION_TIMEOUT:g}secs")
    framework = None
    try:
        ensemble.wait_serving()
        cluster.start()
        framework = PymesosFramework(cluster.zk_url, failover_timeout=3600)
        sched = framework.scheduler
        offer = sched.next_offer()
        framework.driver.launchTasks(offer["id"], [command_task(offer, "steady", "sleep 600")])
        sched.wait_update("steady", "TASK_RUNNING")

        # One server down: a quorum remains and everything keeps working.
        ensemble.kill(0)
        time.sleep(SESSION_TIMEOUT + 1)
        leader = cluster.wait_leader()
        assert cluster.exit_codes == [[], [], []]
        offer = current_offer(cluster, sched)
        framework.driver.launchTasks(offer["id"], [command_task(offer, "during", "sleep 600")])
        sched.wait_update("during", "TASK_RUNNING")

        # Two down: no quorum.  The leader gives up after the session timeout (exit 1,
        # restarted by its supervisor), nobody serves writes, tasks keep running.
        ensemble.kill(1)
        wait_for(
            lambda: cluster.exit_codes[leader], SESSION_TIMEOUT + 10, what="the leader to exit"
        )
        assert cluster.exit_codes[leader] == [1]
        log = cluster.masters[leader].log_path.read_text()
        assert "Lost leadership" in log and "ZooKeeper" in log
        time.sleep(1)
        assert not any(serves_writes(a) for a in cluster.addresses)
        running = {}
        for daemon in cluster.agents:
            running.update(agent_task_states(daemon))
        assert running == {"steady": "TASK_RUNNING", "during": "TASK_RUNNING"}

        # ZooKeeper returns: the cluster recovers by itself.
        ensemble.start(0)
        ensemble.start(1)
        ensemble.wait_serving()
        cluster.wait_leader(timeout=60)
        wait_for(
            lambda: (
                running_tasks(cluster.state())
                == {"steady": "TASK_RUNNING", "during": "TASK_RUNNING"}
            ),
            60,
            what="agents to re-register with their tasks",
        )
        wait_for(
            lambda: any(f["active"] for f in cluster.state()["frameworks"]),
            60,
            what="the framework to re-subscribe",
        )
        offer = current_offer(cluster, sched)
        framework.driver.launchTasks(offer["id"], [command_task(offer, "after", "sleep 600")])
        sched.wait_update("after", "TASK_RUNNING", timeout=30)
        for task_id in ("steady", "during"):
            assert set(sched.states_of(task_id)) <= {"TASK_RUNNING"}, sched.states_of(task_id)
    except BaseException:
        print(cluster.logs())
        print(ensemble.logs())
        raise
    finally:
        if framework is not None:
            framework.stop()
        cluster.stop()
        ensemble.stop()
