"""The frameworks' ZooKeeper store and instance election against a real ZooKeeper."""

from __future__ import annotations

import pytest
from kazoo.client import KazooClient
from twisted.internet import defer, reactor

from mesos_py.common import zookeeper
from mesos_py.common.zk_layout import parse_zk_url
from mesos_py.framework.election import FrameworkElection, instance_info
from mesos_py.framework.store import MAX_DOCUMENT_BYTES, ZooKeeperStore
from tests.integration.test_zookeeper_bridge import expire, until
from tests.integration.zookeeper import EnsembleTestCase, missing_reason

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(missing_reason() is not None, reason=str(missing_reason())),
]

KEYS = ["/prod/web", "plain", ".", "..", "with space & %", "ünï/cödé"]


class FrameworkStateTest(EnsembleTestCase):
    @defer.inlineCallbacks
    def session(self, path: str):
        zk = zookeeper.ZooKeeper(reactor, parse_zk_url(f"zk://{self.ensemble.hosts}{path}"), 4.0)
        self.addCleanup(zk.stop)
        yield zk.start()
        return zk

    @defer.inlineCallbacks
    def test_documents_round_trip_under_any_key(self):
        zk = yield self.session("/marathon")
        store = ZooKeeperStore(zk, "/marathon/state")
        self.assertEqual((yield store.keys()), [])
        self.assertIsNone((yield store.get("missing")))
        for index, key in enumerate(KEYS):
            yield store.put(key, {"key": key, "n": index})
        yield store.put("plain", {"replaced": True})
        self.assertEqual((yield store.keys()), sorted(KEYS))
        self.assertEqual((yield store.get("/prod/web")), {"key": "/prod/web", "n": 0})
        self.assertEqual((yield store.get("plain")), {"replaced": True})
        # Another session (a new leader) reads the same state.
        other = ZooKeeperStore((yield self.session("/marathon")), "/marathon/state")
        self.assertEqual((yield other.get("ünï/cödé")), {"key": "ünï/cödé", "n": 5})
        yield store.delete("/prod/web")
        yield store.delete("/prod/web")  # deleting a missing key is fine
        self.assertNotIn("/prod/web", (yield other.keys()))

    @defer.inlineCallbacks
    def test_an_oversized_document_is_refused_before_it_reaches_zookeeper(self):
        store = ZooKeeperStore((yield self.session("/big")), "/big")
        with self.assertRaises(ValueError):
            yield store.put("huge", "x" * MAX_DOCUMENT_BYTES)
        self.assertEqual((yield store.keys()), [])

    @defer.inlineCallbacks
    def test_one_instance_leads_and_a_standby_takes_over_when_its_session_dies(self):
        events: list[tuple] = []

        def instance(name: str, port: int):
            zk = yield self.session("/chronos")
            election = FrameworkElection(
                reactor,
                zk,
                instance_info(name, f"{name}.example", "127.0.0.1", port),
                lambda: events.append(("elected", name)),
                lambda reason: events.append(("lost", name, reason)),
                4.0,
            )
            election.start()
            self.addCleanup(election.stop)
            return zk, election

        zk_a, a = yield defer.inlineCallbacks(instance)("a", 4401)
        yield until(lambda: a.elected, what="a to lead")
        _zk_b, b = yield defer.inlineCallbacks(instance)("b", 4402)
        yield until(lambda: b.leader_info is not None, what="b to see a")
        self.assertFalse(b.elected)
        self.assertEqual(b.leader_info["address"]["port"], 4401)
        self.assertEqual(b.leader_info["hostname"], "a.example")
        # What the contender nodes hold is plain JSON any client can read.
        client = KazooClient(self.ensemble.hosts)
        client.start(timeout=15)
        self.addCleanup(client.stop)
        names = sorted(client.get_children("/chronos"))
        self.assertTrue(all(name.startswith("json.info_") for name in names), names)
        expire(zk_a, self.ensemble.hosts)
        yield until(lambda: b.elected, what="b to lead")
        yield until(lambda: ("lost", "a") in [e[:2] for e in events], what="a to give up")
        # (The expired instance learns it only when it reconnects: b may lead first.)
        self.assertEqual(
            sorted(e[:2] for e in events), [("elected", "a"), ("elected", "b"), ("lost", "a")]
        )
