"""The kazoo-to-Twisted bridge, the detector and the contender against a real ZooKeeper."""

from __future__ import annotations

import threading
import time

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import BadVersionError, NoNodeError
from twisted.internet import defer, reactor, task

from mesos_py.common import zookeeper
from mesos_py.common.zk_detector import LeaderDetector
from mesos_py.common.zk_election import ZooKeeperElection
from mesos_py.common.zk_layout import ZkUrl, parse_zk_url
from mesos_py.master.registrar import Registrar, ZooKeeperStore
from mesos_py.master.registry import AdmitAgent
from tests.integration.zookeeper import EnsembleTestCase, missing_reason

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(missing_reason() is not None, reason=str(missing_reason())),
]


def sleep(seconds: float) -> defer.Deferred:
    return task.deferLater(reactor, seconds, lambda: None)


@defer.inlineCallbacks
def until(predicate, timeout: float = 20.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        yield sleep(0.05)


def expire(zk: zookeeper.ZooKeeper, hosts: str) -> None:
    """Expire ``zk``'s session the usual way: another client joins it and closes it."""
    session_id, password = zk.client.client_id
    other = KazooClient(hosts, client_id=(session_id, password))
    other.start(timeout=15)
    other.stop()
    other.close()


class BridgeTest(EnsembleTestCase):
    def url(self, credentials: str | None = None) -> ZkUrl:
        return ZkUrl(self.ensemble.hosts, f"/t-{time.monotonic_ns()}", credentials)

    @defer.inlineCallbacks
    def client(self, url: ZkUrl | None = None, session_timeout: float = 4.0):
        zk = zookeeper.ZooKeeper(reactor, url or self.url(), session_timeout)
        yield zk.start()
        self.addCleanup(zk.stop)
        return zk

    @defer.inlineCallbacks
    def test_results_and_watches_arrive_on_the_reactor_thread(self):
        zk = yield self.client()
        threads = []
        created = yield zk.create(zk.url.child("n"), b"v", makepath=True)
        threads.append(threading.current_thread())
        self.assertEqual(created, zk.url.child("n"))
        data, stat = yield zk.get(created)
        self.assertEqual((data, stat.version), (b"v", 0))
        stat = yield zk.set(created, b"w", 0)
        self.assertEqual(stat.version, 1)
        with self.assertRaises(BadVersionError):
            yield zk.set(created, b"x", 0)
        fired = []
        children = yield zk.get_children(zk.url.path, watch=fired.append)
        self.assertEqual(children, ["n"])
        yield zk.create(zk.url.child("m"))
        yield until(lambda: fired, what="the children watch")
        threads.append(threading.current_thread())
        yield zk.delete(created)
        self.assertIsNone((yield zk.exists(created)))
        with self.assertRaises(NoNodeError):
            yield zk.get(created)
        self.assertEqual(set(threads), {threading.main_thread()})

    def test_start_does_not_block_without_a_server(self):
        url = ZkUrl("127.0.0.1:1", "/nowhere")
        zk = zookeeper.ZooKeeper(reactor, url, 4.0)
        started = time.monotonic()
        d = zk.start()
        self.assertLess(time.monotonic() - started, 0.5)
        self.assertFalse(d.called)
        d.addErrback(lambda _: None)
        return zk.stop()

    @defer.inlineCallbacks
    def test_session_states_reach_listeners(self):
        zk = yield self.client()
        states = []
        zk.add_state_listener(states.append)
        expire(zk, self.ensemble.hosts)
        yield until(lambda: zookeeper.LOST in states, what="LOST")
        yield until(lambda: states[-1] == zookeeper.CONNECTED, what="a new session")

    @defer.inlineCallbacks
    def test_detector_follows_the_lowest_member(self):
        zk = yield self.client()
        seen = []
        detector = LeaderDetector(zk, lambda node, info: seen.append((node, info)))
        detector.start()
        yield sleep(0.5)  # the path does not exist yet: nothing to report
        self.assertEqual(seen, [])
        info = {"address": {"ip": "127.0.0.1", "port": 5050}, "hostname": "h", "port": 5050}
        first = yield zk.create(
            zk.url.child("json.info_"),
            b'{"address":{"ip":"127.0.0.1","port":5050}}',
            ephemeral=True,
            sequence=True,
            makepath=True,
        )
        yield until(lambda: seen and seen[-1][0] is not None, what="the first member")
        self.assertEqual(seen[-1][1]["address"], info["address"])
        yield zk.create(
            zk.url.child("json.info_"),
            b'{"address":{"ip":"127.0.0.2","port":5051}}',
            ephemeral=True,
            sequence=True,
        )
        yield zk.create(zk.url.child("log_replicas"))
        yield zk.delete(first)
        yield until(lambda: seen[-1][1] and seen[-1][1]["address"]["port"] == 5051, what="2nd")
        detector.stop()

    @defer.inlineCallbacks
    def test_election_and_a_leader_that_loses_its_session_gives_up(self):
        url = self.url()
        events = []

        def contender(name):
            zk = zookeeper.ZooKeeper(reactor, url, 4.0)
            info = {
                "address": {"ip": "127.0.0.1", "port": len(events) + 1000},
                "hostname": name,
                "port": 1000,
                "pid": name,
            }
            leadership = ZooKeeperElection(
                reactor,
                zk,
                lambda: info,
                lambda: events.append(("elected", name)),
                lambda reason: events.append(("lost", name, reason)),
                4.0,
            )
            leadership.start()
            self.addCleanup(leadership.stop)
            self.addCleanup(zk.stop)
            return zk, leadership

        zk_a, a = contender("a")
        yield until(lambda: a.elected, what="a to lead")
        _zk_b, b = contender("b")
        yield until(lambda: b.leader_info is not None, what="b to detect a")
        self.assertEqual(b.leader_info["hostname"], "a")
        self.assertFalse(b.elected)
        expire(zk_a, self.ensemble.hosts)
        yield until(lambda: b.elected, what="b to lead")
        yield until(lambda: any(e[0] == "lost" for e in events), what="a to give up")
        lost = [e for e in events if e[0] == "lost"]
        self.assertEqual(len(lost), 1)
        self.assertEqual(lost[0][1], "a")
        self.assertIn("session expired", lost[0][2])

    @defer.inlineCallbacks
    def test_registry_store_is_compare_and_set(self):
        url = self.url()
        zk1 = yield self.client(url)
        zk2 = yield self.client(url)
        failures = []
        first = Registrar(ZooKeeperStore(zk1, url.registry_path), failures.append)
        yield first.recover()
        yield first.apply(AdmitAgent("a1", {"hostname": "h"}))
        second = Registrar(ZooKeeperStore(zk2, url.registry_path), failures.append)
        recovered = yield second.recover()
        self.assertEqual(list(recovered.agents), ["a1"])
        yield second.apply(AdmitAgent("a2", {"hostname": "h"}))
        # The first (deposed) registrar's write must not overwrite its successor's.
        with self.assertRaises(RuntimeError):
            yield first.apply(AdmitAgent("a3", {"hostname": "h"}))
        self.assertEqual(len(failures), 1)
        self.assertEqual(
            list(
                (
                    yield Registrar(
                        ZooKeeperStore(zk2, url.registry_path), failures.append
                    ).recover()
                ).agents
            ),
            ["a1", "a2"],
        )

    @defer.inlineCallbacks
    def test_digest_credentials_protect_the_masters_nodes(self):
        url = parse_zk_url(f"zk://ops:secret@{self.ensemble.hosts}/acl-{time.monotonic_ns()}")
        zk = yield self.client(url)
        node = yield zk.create(
            url.child("json.info_"), b"{}", ephemeral=True, sequence=True, makepath=True
        )
        anonymous = yield self.client(ZkUrl(url.hosts, url.path))
        data, _ = yield anonymous.get(node)  # world-readable: pymesos reads without credentials
        self.assertEqual(data, b"{}")
        from kazoo.exceptions import NoAuthError

        with self.assertRaises(NoAuthError):
            yield anonymous.set(node, b"x")
        with self.assertRaises(NoAuthError):
            yield anonymous.create(url.child("intruder"))
