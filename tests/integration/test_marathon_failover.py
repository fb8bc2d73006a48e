"""Leader changes never kill running tasks: of the framework, and of the master.

Three masters and two agents on a real ZooKeeper ensemble, and two
``mesos-py marathon`` instances electing a leader in the same ensemble.
A watcher thread reads the master's running tasks all along: a task of the
app that disappears at any moment fails the test.
"""

from __future__ import annotations

import threading
import time

import pytest
from marathon.models import MarathonApp

from tests.integration.ha_cluster import running_ha_cluster
from tests.integration.harness import wait_for
from tests.integration.marathon_support import (
    MarathonInstance,
    request,
    running_task_ids,
    wait_deployed,
)
from tests.integration.prometheus_support import scrape
from tests.integration.zookeeper import missing_reason

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(missing_reason() is not None, reason=missing_reason() or ""),
]


@pytest.fixture(scope="module")
def cluster(ensemble, tmp_path_factory):
    with running_ha_cluster(tmp_path_factory.mktemp("mha") / "ha", ensemble) as running:
        yield running


class Instances:
    """Two Marathon instances; a killed one is started again (systemd's Restart=always)."""

    def __init__(self, cluster, zk_url: str) -> None:
        self.cluster = cluster
        self.zk_url = zk_url
        self.members = [self._start(index) for index in range(2)]

    def _start(self, index: int) -> MarathonInstance:
        log = self.cluster.work_dir.with_name(f"marathon-{index}.log")
        return MarathonInstance(log, self.cluster.zk_url, self.zk_url)

    def leader(self, timeout: float = 30.0) -> int:
        """The index of the elected instance, once every live instance names it."""

        def elected() -> int | None:
            infos = [m.info() if m.daemon.alive() else None for m in self.members]
            leaders = [i for i, info in enumerate(infos) if info and info["elected"]]
            if len(leaders) != 1:
                return None
            address = self.members[leaders[0]].address
            if any(info and info["leader"] != address for info in infos):
                return None
            return leaders[0] + 1

        return wait_for(elected, timeout, what="one elected Marathon instance") - 1

    def restart(self, index: int) -> None:
        self.members[index].daemon.kill()
        self.members[index].stop()
        self.members[index] = self._start(index)

    def stop(self) -> None:
        for member in self.members:
            member.stop()


@pytest.fixture(scope="module")
def instances(cluster, ensemble):
    group = Instances(cluster, ensemble.url("/marathon-test"))
    yield group
    group.stop()


class TaskWatch:
    """Polls the master's running tasks; records every id that vanished while watched."""

    def __init__(self, cluster, ids: set[str]) -> None:
        self.cluster = cluster
        self.ids = set(ids)
        self.vanished: set[str] = set()
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                state = self.cluster.state()
            except (OSError, ValueError, TimeoutError):
                time.sleep(0.1)  # no leading master for a moment
                continue
            # Right after a master failover, agents are still re-registering: only
            # count a sample once every agent is back.
            if sum(1 for s in state["slaves"] if s["active"]) == len(self.cluster.agents):
                self.vanished |= self.ids - running_task_ids(state)
                self.samples += 1
            time.sleep(0.1)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def test_standby_takes_over_without_killing_tasks(cluster, instances):
    leader = instances.leader()
    standby = 1 - leader
    # Through the standby: it redirects to the leader, and the client follows.
    client = instances.members[standby].client
    client.create_app("svc", _app(instances=3))
    app = wait_deployed(client, "svc", 3)
    ids = {t.id for t in app.tasks}
    framework_id = instances.members[leader].info()["frameworkId"]
    # The standby answers /metrics/prometheus itself (its own view), no redirect.
    standby_view = scrape(instances.members[standby].address, "/metrics/prometheus")
    assert standby_view[("marathon_leader", ())] == 0
    assert standby_view[("marathon_mesos_subscribed", ())] == 0
    assert standby_view[("marathon_zookeeper_session", (("state", "CONNECTED"),))] == 1
    leader_view = scrape(instances.members[leader].address, "/metrics/prometheus")
    assert leader_view[("marathon_leader", ())] == 1
    assert leader_view[("marathon_app_instances_running", (("app", "/svc"),))] == 3

    watch = TaskWatch(cluster, ids)
    try:
        instances.members[leader].daemon.kill()
        assert instances.leader() == standby
        new = instances.members[standby]
        assert new.info()["frameworkId"] == framework_id
        app = wait_deployed(new.client, "svc", 3)
        assert {t.id for t in app.tasks} == ids
        time.sleep(3)  # reconciliation and a few converge rounds
        assert running_task_ids(cluster.state()) == ids
    finally:
        watch.stop()
    assert watch.samples > 10
    assert not watch.vanished, f"tasks killed by the failover: {watch.vanished}"

    # The new leader acts: scaling up adds one and keeps the others.
    new.client.scale_app("svc", 4)
    app = wait_deployed(new.client, "svc", 4)
    assert ids < {t.id for t in app.tasks}
    # The old leader comes back as a standby that names the new leader.
    instances.restart(leader)

    def detected() -> dict | None:
        info = instances.members[leader].info()
        return info if info["leader"] else None

    info = wait_for(detected, what="the restarted instance to find the leader")
    assert not info["elected"]
    assert info["leader"] == new.address
    status, _ = request(instances.members[leader].address, "GET", "/v2/apps")
    assert status == 307


def test_master_failover_kills_no_task(cluster, instances):
    leader = instances.members[instances.leader()]
    client = leader.client
    app = wait_deployed(client, "svc", 4)
    ids = {t.id for t in app.tasks}

    watch = TaskWatch(cluster, ids)
    try:
        old_master = cluster.wait_leader()
        cluster.kill_master(old_master)
        cluster.wait_leader(other_than=old_master, timeout=60)
        cluster.wait_agents(len(cluster.agents), timeout=60)
        wait_for(
            lambda: running_task_ids(cluster.state()) == ids,
            timeout=60,
            what="the new master to know the running tasks",
        )
        time.sleep(3)
        assert {t.id for t in wait_deployed(client, "svc", 4).tasks} == ids
    finally:
        watch.stop()
    assert watch.samples > 5
    assert not watch.vanished, f"tasks killed by the master failover: {watch.vanished}"
    client.scale_app("svc", 2)
    wait_deployed(client, "svc", 2)
    client.delete_app("svc")
    wait_for(lambda: not running_task_ids(cluster.state()), what="every task to end")


def _app(**fields) -> MarathonApp:
    return MarathonApp(cmd="sleep 1000", cpus=0.1, mem=16, **fields)


def test_standby_status_page_names_and_links_the_leader(instances):
    leading = instances.leader()
    leader = instances.members[leading].address
    standby = instances.members[1 - leading].address
    status, page = request(standby, "GET", "/")
    assert status == 200 and b"This is a standby instance" in page
    assert f'<a id="leader-link" href="http://{leader}/ui/">{leader}</a>'.encode() in page
    status, page = request(leader, "GET", "/")
    assert status == 200 and f'<dd id="leader">{leader}</dd>'.encode() in page
