"""Exactly once across a leader change: two Chronos instances on ZooKeeper, the leader killed.

Every run appends its task id (``ct:<dueMillis>:<attempt>:<job>:``) to a file,
so the file says which instants ran and how often.
"""

from __future__ import annotations

import time
from collections import Counter

import pytest

from tests.integration.chronos_support import (
    ChronosInstance,
    due_seconds,
    find,
    in_seconds,
    iso,
    job,
    read_records,
    record_command,
)
from tests.integration.harness import running_cluster, wait_for
from tests.integration.zookeeper import Ensemble, missing_reason

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(missing_reason() is not None, reason=missing_reason() or ""),
]

EPSILON = 30.0


@pytest.fixture
def two_instances(tmp_path):
    ensemble = Ensemble(tmp_path / "zk", size=1)
    ensemble.start()
    instances = []
    try:
        ensemble.wait_serving()
        with running_cluster(tmp_path / "cluster", "processes") as cluster:
            for index in range(2):
                instances.append(
                    ChronosInstance(
                        tmp_path / f"chronos-{index}.log", cluster.address, ensemble.url("/chronos")
                    )
                )
            for instance in instances:
                instance.wait_serving()
            try:
                yield instances
            except BaseException:
                for instance in instances:
                    print(f"--- {instance.address} ---\n{instance.daemon.output()[-6000:]}")
                raise
    finally:
        for instance in instances:
            instance.stop()
        ensemble.stop()


def leader_of(instances: list[ChronosInstance]) -> int:
    def agreed() -> int | None:
        views = {instance.leader() for instance in instances}
        if len(views) != 1:
            return None
        (leader,) = views
        addresses = [instance.address for instance in instances]
        return addresses.index(leader) + 1 if leader in addresses else None

    return wait_for(agreed, 30, what="the instances to agree on a leader") - 1


def test_killing_the_leader_runs_every_instant_exactly_once(two_instances, tmp_path):
    out = tmp_path / "runs.out"
    leader = leader_of(two_instances)
    follower = 1 - leader
    # Added through the follower: it proxies to the leader.
    client = two_instances[follower].client()
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
    wait_for(lambda: len(read_records(out)) >= 3, 20, what="a few runs before the kill")
    two_instances[leader].daemon.kill()
    killed_at = time.time()
    survivor = two_instances[follower]
    wait_for(lambda: survivor.leader() == survivor.address, 30, what="the follower to lead")
    # Runs resume under the new leader: instants missed meanwhile run late.
    wait_for(
        lambda: any(due_seconds(t) > killed_at + 2 for t, _ in read_records(out)),
        40,
        what="runs of instants after the failover",
    )
    client.delete("tick")
    time.sleep(1.0)  # a run launched just before the delete may still append
    records = read_records(out)
    dues = Counter(due_seconds(task_id) for task_id, _ in records)
    assert [due for due, count in dues.items() if count > 1] == []  # no instant twice
    assert all(task_id.split(":")[2] == "0" for task_id, _ in records)  # no retries
    first, last = min(dues), max(dues)
    expected = [first + k for k in range(round(last - first) + 1)]
    assert sorted(dues) == expected  # none lost: every instant in between ran
    assert first == start.timestamp()
    lateness = {
        due_seconds(task_id): started - due_seconds(task_id) for task_id, started in records
    }
    assert max(lateness.values()) <= EPSILON
    # Those during the failover ran late; those before it did not.
    assert max(late for due, late in lateness.items() if due < killed_at - 1) <= 2.0
    assert find(two_instances[follower].client(), "tick") is None
