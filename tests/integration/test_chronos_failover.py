"""Exactly once across failovers: of the Chronos leader (two instances), and of the master.

Every run appends its task id (``ct:<dueMillis>:<attempt>:<job>:``) to a file,
so the file says which instants ran and how often.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
from kazoo.client import KazooClient

from mesos_py.common.zk_layout import parse_zk_url
from mesos_py.framework.store import node_name
from tests.integration.chronos_support import (
    ChronosInstance,
    due_seconds,
    find,
    in_seconds,
    iso,
    job,
    read_records,
    record_command,
    request,
)
from tests.integration.ha_cluster import running_ha_cluster
from tests.integration.harness import free_port, running_cluster, wait_for
from tests.integration.prometheus_support import scrape
from tests.integration.zookeeper import missing_reason

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(missing_reason() is not None, reason=missing_reason() or ""),
]

EPSILON = 30.0


def chronos_path() -> str:
    return f"/chronos-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def two_instances(ensemble, tmp_path):
    instances = []
    zk = ensemble.url(chronos_path())
    with running_cluster(tmp_path / "cluster", "processes") as cluster:
        try:
            for index in range(2):
                log = tmp_path / f"chronos-{index}.log"
                instances.append(ChronosInstance(log, cluster.address, zk))
            for instance in instances:
                instance.wait_serving()
            yield instances
        except BaseException:
            for instance in instances:
                print(f"--- {instance.address} ---\n{instance.daemon.output()[-6000:]}")
            raise
        finally:
            for instance in instances:
                instance.stop()


def leader_of(instances: list[ChronosInstance]) -> int:
    def agreed() -> int | None:
        views = {instance.leader() for instance in instances}
        if len(views) != 1:
            return None
        (leader,) = views
        addresses = [instance.address for instance in instances]
        return addresses.index(leader) + 1 if leader in addresses else None

    return wait_for(agreed, 30, what="the instances to agree on a leader") - 1


def add_ticking_job(client, out: Path) -> float:
    """A job due every second (concurrent, so every instant within epsilon runs)."""
    start = in_seconds(1)
    client.add(
        job(
            "tick",
            record_command(out),
            f"R/{iso(start)}/PT1S",
            epsilon=f"PT{EPSILON:g}S",
            concurrent=True,
        )
    )
    return start.timestamp()


def wait_every_instant_ran_once(out: Path, first_due: float, until: float) -> None:
    """Wait until every instant from ``first_due`` to ``until`` ran (each ran before any
    later one was counted lost), then check none ran twice or was retried."""

    def covered() -> bool:
        dues = {due_seconds(task_id) for task_id, _ in read_records(out)}
        return all(first_due + k in dues for k in range(int(until - first_due) + 1))

    wait_for(covered, 60, what=f"every instant from {first_due} to {until} to run")
    time.sleep(1.0)  # a duplicate launched with the others would have appended by now
    records = read_records(out)
    dues = Counter(due_seconds(task_id) for task_id, _ in records)
    assert [due for due, count in dues.items() if count > 1] == []  # no instant twice
    assert all(task_id.split(":")[2] == "0" for task_id, _ in records)  # no retries
    assert min(dues) == first_due
    lateness = {
        due_seconds(task_id): started - due_seconds(task_id) for task_id, started in records
    }
    assert max(lateness.values()) <= EPSILON


def check_on_time_before(out: Path, failed_at: float) -> None:
    """Instants due before the failure started on time."""
    lateness = [
        started - due_seconds(task_id)
        for task_id, started in read_records(out)
        if due_seconds(task_id) < failed_at - 1
    ]
    assert max(lateness, default=0.0) <= 2.0


def test_killing_the_leader_runs_every_instant_exactly_once(two_instances, tmp_path):
    out = tmp_path / "runs.out"
    leader = leader_of(two_instances)
    follower = 1 - leader
    # Added through the follower: it proxies to the leader.
    client = two_instances[follower].client()
    first_due = add_ticking_job(client, out)
    wait_for(lambda: len(read_records(out)) >= 3, 20, what="a few runs before the kill")
    # Each instance reports its own view on /metrics/prometheus (no proxying).
    views = [scrape(i.address, "/metrics/prometheus") for i in two_instances]
    assert [view[("chronos_leader", ())] for view in views] == [
        int(index == leader) for index in range(2)
    ]
    assert views[leader][("chronos_job_runs_total", (("outcome", "success"),))] >= 1
    assert ("chronos_job_runs_total", (("outcome", "success"),)) not in views[follower]
    assert views[follower][("chronos_mesos_subscribed", ())] == 0
    assert views[follower][("chronos_zookeeper_session", (("state", "CONNECTED"),))] == 1
    two_instances[leader].daemon.kill()
    killed_at = time.time()
    survivor = two_instances[follower]
    wait_for(lambda: survivor.leader() == survivor.address, 30, what="the follower to lead")
    # Runs resume under the new leader: instants missed meanwhile run late.
    wait_every_instant_ran_once(out, first_due, until=int(killed_at) + 3)
    check_on_time_before(out, killed_at)
    client.delete("tick")
    assert find(survivor.client(), "tick") is None


def test_master_failover_runs_every_instant_exactly_once(ensemble, tmp_path):
    out = tmp_path / "runs.out"
    with running_ha_cluster(
        tmp_path / "ha", ensemble, masters=3, agents=1, session_timeout="4secs"
    ) as cluster:
        instance = ChronosInstance(
            tmp_path / "chronos.log", cluster.zk_url, ensemble.url(chronos_path())
        )
        try:
            instance.wait_serving()
            client = instance.client()
            first_due = add_ticking_job(client, out)
            wait_for(lambda: len(read_records(out)) >= 3, 20, what="a few runs first")
            old_leader = cluster.wait_leader()
            cluster.kill_master(old_leader)
            killed_at = time.time()
            cluster.wait_leader(other_than=old_leader)
            wait_every_instant_ran_once(out, first_due, until=int(killed_at) + 3)
            check_on_time_before(out, killed_at)
            client.delete("tick")
        except BaseException:
            print(instance.daemon.output()[-8000:])
            raise
        finally:
            instance.stop()


def test_instants_claimed_by_a_leader_cut_off_from_the_master_run_once(ensemble, tmp_path):
    """The first leader can reach ZooKeeper but no master: it claims (stores) each
    instant and can launch none.  Killed, its successor finds the claimed runs, learns
    from the master that it never got them, and launches each once, late."""
    out = tmp_path / "runs.out"
    zk = ensemble.url(chronos_path())
    with running_cluster(tmp_path / "cluster", "processes") as cluster:
        unreachable = f"127.0.0.1:{free_port()}"
        cut_off = ChronosInstance(tmp_path / "cut-off.log", unreachable, zk)
        successor = None
        try:
            cut_off.wait_serving()
            first_due = add_ticking_job(cut_off.client(), out)
            time.sleep(max(0.0, first_due + 3.5 - time.time()))  # 4 instants claimed
            assert read_records(out) == []  # nothing could run
            successor = ChronosInstance(tmp_path / "successor.log", cluster.address, zk)
            cut_off.daemon.kill()
            killed_at = time.time()
            wait_for(lambda: successor.leader() == successor.address, 30, what="a new leader")
            wait_every_instant_ran_once(out, first_due, until=int(killed_at) + 3)
            successor.client().delete("tick")
            log = successor.daemon.output()
            assert "launching again a run the master never got" in log
        except BaseException:
            for instance in (cut_off, successor):
                if instance is not None:
                    print(f"--- {instance.address} ---\n{instance.daemon.output()[-6000:]}")
            raise
        finally:
            cut_off.stop()
            if successor is not None:
                successor.stop()


def test_standby_status_page_names_and_links_the_leader(two_instances):
    leader = two_instances[leader_of(two_instances)]
    standby = next(instance for instance in two_instances if instance is not leader)
    status, page = request(standby.address, "GET", "/")
    assert status == 200 and "This is a standby instance" in page
    assert f'<a id="leader-link" href="http://{leader.address}/ui/">{leader.address}</a>' in page
    status, page = request(leader.address, "GET", "/")
    assert status == 200 and f'<dd id="leader">{leader.address}</dd>' in page


def test_a_leader_paused_past_its_session_steps_down_and_overwrites_nothing(
    two_instances, tmp_path
):
    """A pause (GC, SIGSTOP) longer than the ZooKeeper session: the standby takes over
    and runs the job.  Resumed, the old leader's overdue timers fire at once, but its
    writes are fenced out (or its session found expired): it exits with status 1,
    and no instant ran twice."""
    out = tmp_path / "runs.out"
    leader = leader_of(two_instances)
    old, successor = two_instances[leader], two_instances[1 - leader]
    first_due = add_ticking_job(successor.client(), out)
    wait_for(lambda: len(read_records(out)) >= 3, 20, what="a few runs before the pause")
    url = parse_zk_url(next(a for a in old.daemon.argv if a.startswith("--zk="))[5:])
    zk = KazooClient(url.hosts)
    zk.start(timeout=15)
    framework_id_node = url.child("state/" + node_name("framework-id"))
    framework_id = zk.get(framework_id_node)[0]
    try:
        pause_past_the_session(old, successor, out, first_due)
        # Told "Framework failed over" by the master, the old leader tries to forget the
        # framework id: had that delete landed, the next leader would register anew.
        assert zk.get(framework_id_node)[0] == framework_id
    finally:
        zk.stop()
        zk.close()


def pause_past_the_session(old, successor, out: Path, first_due: float) -> None:
    """SIGSTOP ``old`` until ``successor`` leads and runs the job, then SIGCONT it: it
    must exit with status 1 and no instant run twice."""
    os.killpg(old.daemon.process.pid, signal.SIGSTOP)
    paused_at = time.time()
    try:
        wait_for(lambda: successor.leader() == successor.address, 30, what="a new leader")
        wait_for(
            lambda: sum(due_seconds(t) > paused_at + 5 for t, _ in read_records(out)) >= 3,
            30,
            what="the new leader to run the job",
        )
    finally:
        os.killpg(old.daemon.process.pid, signal.SIGCONT)
    resumed_at = time.time()
    wait_for(lambda: not old.daemon.alive(), 30, what="the deposed leader to exit")
    assert old.daemon.process.returncode == 1
    log = old.daemon.output()
    assert "Chronos instance stops" in log
    print("deposed leader's last words:", log[log.index("Chronos instance stops") :][:300])
    wait_every_instant_ran_once(out, first_due, until=int(resumed_at) + 3)
    assert successor.leader() == successor.address
    assert find(successor.client(), "tick") is not None


def test_a_write_fenced_out_is_answered_503_and_the_instance_exits(ensemble, tmp_path):
    """Its election node changed under it (as when a successor took over): the leader's
    next write is refused by ZooKeeper, the API says so, and the instance exits 1."""
    path = chronos_path()
    with running_cluster(tmp_path / "cluster", "processes") as cluster:
        chronos = ChronosInstance(tmp_path / "chronos.log", cluster.address, ensemble.url(path))
        admin = KazooClient(hosts=parse_zk_url(ensemble.url(path)).hosts)
        admin.start()
        try:
            chronos.wait_serving()
            (node,) = [c for c in admin.get_children(path) if c != "state"]
            admin.set(f"{path}/{node}", admin.get(f"{path}/{node}")[0])  # a new version
            status, body = request(
                chronos.address,
                "POST",
                "/v1/scheduler/iso8601",
                job("late", "true", f"R1/{iso(in_seconds(60))}/PT1M"),
            )
            assert status == 503, body
            assert body["message"].startswith("Not the leader any more") and "fenced out" in str(
                body
            )
            wait_for(lambda: not chronos.daemon.alive(), 20, what="the instance to exit")
            assert chronos.daemon.process.returncode == 1
            assert not admin.exists(f"{path}/state/{node_name('job:late')}")
        finally:
            admin.stop()
            chronos.stop()
