"""The frameworks' scheduler driver against real masters: it follows the leader for ever.

The driver runs in its own process (driver_probe.py) against three masters on
a real ZooKeeper ensemble, with a real agent running its tasks.
"""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time

import pytest

from tests.integration.ha_cluster import running_ha_cluster
from tests.integration.zookeeper import missing_reason

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(missing_reason() is not None, reason=str(missing_reason())),
]


class Probe:
    """The probe framework process: commands in, callback records out."""

    def __init__(self, master: str, framework_id: str | None = None) -> None:
        argv = [sys.executable, "-m", "tests.integration.driver_probe", master]
        if framework_id:
            argv.append(framework_id)
        self.process = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.records: list[dict] = []
        self._queue: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self._queue.put(json.loads(line))

    def send(self, **command) -> None:
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()

    def wait(self, timeout: float = 30.0, **match) -> dict:
        """The first record (seen or to come) whose fields equal ``match``."""
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            for record in self.records[seen:]:
                if all(record.get(key) == value for key, value in match.items()):
                    return record
            seen = len(self.records)
            try:
                self.records.append(self._queue.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                raise TimeoutError(f"no record {match} within {timeout}s: {self.records}") from None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.send(stop=True)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


@pytest.fixture
def cluster(ensemble, tmp_path):
    with running_ha_cluster(tmp_path / "ha", ensemble, agents=1) as running:
        yield running


def test_follows_the_leader_through_a_kill_9_without_losing_its_task(cluster):
    probe = Probe(cluster.zk_url)
    try:
        first = probe.wait(event="subscribed")
        assert first["master"] == cluster.leader
        probe.send(launch={"task_id": "long", "command": "sleep 600"})
        probe.wait(event="update", task_id="long", state="TASK_RUNNING")

        old = cluster.wait_leader()
        cluster.kill_master(old)
        new = cluster.wait_leader(timeout=30, other_than=old, among=[0, 1, 2])
        probe.wait(event="disconnected")
        again = probe.wait(event="subscribed", master=cluster.addresses[new])
        assert again["framework_id"] == first["framework_id"]  # re-subscribed, not a new one

        probe.send(reconcile=[])
        probe.wait(event="update", task_id="long", state="TASK_RUNNING", timeout=30)
        # New work launches through the new leader; the old task was never lost or killed.
        probe.send(launch={"task_id": "after", "command": "sleep 600"})
        probe.wait(event="update", task_id="after", state="TASK_RUNNING")
        states = {r["state"] for r in probe.records if r.get("task_id") == "long"}
        assert states == {"TASK_RUNNING"}, probe.records
    finally:
        probe.stop()


def test_a_standby_redirects_it_to_the_leader(cluster):
    leader = cluster.wait_leader()
    standby = cluster.addresses[(leader + 1) % 3]
    probe = Probe(standby)
    try:
        assert probe.wait(event="subscribed")["master"] == cluster.addresses[leader]
    finally:
        probe.stop()


def test_resubscribes_with_a_stored_framework_id(cluster):
    probe = Probe(cluster.zk_url)
    try:
        framework_id = probe.wait(event="subscribed")["framework_id"]
        probe.send(launch={"task_id": "kept", "command": "sleep 600"})
        probe.wait(event="update", task_id="kept", state="TASK_RUNNING")
    finally:
        probe.process.kill()  # a crash: no clean stop
        probe.process.wait()
    # A new instance with the stored ID takes the framework (and its task) over.
    successor = Probe(cluster.zk_url, framework_id)
    try:
        assert successor.wait(event="subscribed")["framework_id"] == framework_id
        successor.send(reconcile=[])
        successor.wait(event="update", task_id="kept", state="TASK_RUNNING")
        frameworks = cluster.state()["frameworks"]
        assert [f["id"] for f in frameworks] == [framework_id]
        assert [t["state"] for t in frameworks[0]["tasks"]] == ["TASK_RUNNING"]
    finally:
        successor.stop()
