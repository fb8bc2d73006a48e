"""Fenced writes of the frameworks' store, against a real ZooKeeper server.

A store fenced by its instance's election node writes only while that node is
there, as it was when the instance won: a deposed instance's writes fail
(``FencedOut``) instead of landing on its successor's state.  And a put costs
one ZooKeeper request, counted by the server (``cons``).
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import re

import pytest
from kazoo.client import KazooClient
from twisted.internet import defer, reactor, task
from twisted.web.client import Agent, FileBodyProducer, readBody
from twisted.web.http_headers import Headers

from mesos_py.common import zookeeper
from mesos_py.common.zk_layout import parse_zk_url
from mesos_py.framework.election import FrameworkElection, instance_info
from mesos_py.framework.store import Fence, FencedOut, ZooKeeperStore, node_name
from mesos_py.marathon.service import MarathonService, add_marathon_arguments
from tests.integration.test_zookeeper_bridge import expire, until
from tests.integration.zookeeper import EnsembleTestCase, four_letter, missing_reason

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(missing_reason() is not None, reason=str(missing_reason())),
]

_paths = itertools.count()


class StoreFencingTest(EnsembleTestCase):
    def setUp(self) -> None:
        self.path = f"/fencing-{next(_paths)}"
        self.admin = KazooClient(self.ensemble.hosts)  # another client: an operator, a peer
        self.admin.start(timeout=15)
        self.addCleanup(self.admin.close)
        self.addCleanup(self.admin.stop)

    @defer.inlineCallbacks
    def session(self):
        url = parse_zk_url(f"zk://{self.ensemble.hosts}{self.path}")
        zk = zookeeper.ZooKeeper(reactor, url, 4.0)
        self.addCleanup(zk.stop)
        yield zk.start()
        return zk

    @defer.inlineCallbacks
    def instance(self, name: str, lost: list):
        """A contending instance with a fenced store; ``lost`` collects (name, reason)."""
        zk = yield self.session()
        store = ZooKeeperStore(zk, self.path + "/state")
        election = FrameworkElection(
            reactor,
            zk,
            instance_info(name, name, "127.0.0.1", 1),
            lambda: None,
            lambda reason: lost.append((name, reason)),
            4.0,
            store,
        )
        election.start()
        self.addCleanup(election.stop)
        return zk, store, election

    def node(self, key: str) -> str:
        return f"{self.path}/state/{node_name(key)}"

    def read(self, key: str) -> bytes:
        return self.admin.get(self.node(key))[0]

    @defer.inlineCallbacks
    def test_a_store_refuses_writes_once_its_fence_is_gone_or_changed(self):
        zk = yield self.session()
        fence_path = self.admin.create(self.path + "/fence", makepath=True)
        reasons: list[str] = []
        store = ZooKeeperStore(zk, self.path + "/state")
        store.fence_with(Fence(fence_path, 0), reasons.append)
        yield store.put("a", 1)
        yield store.put("a", 2)
        self.admin.set(fence_path, b"x")  # version 1: not the node the instance won with
        with self.assertRaises(FencedOut):
            yield store.put("a", 3)
        self.assertEqual(len(reasons), 1)
        self.assertIn(fence_path, reasons[0])
        self.admin.delete(fence_path)
        for write in (lambda: store.put("a", 4), lambda: store.put("b", 1)):
            with self.assertRaises(FencedOut):
                yield write()
        with self.assertRaises(FencedOut):
            yield store.delete("a")
        self.assertEqual(len(reasons), 1)  # reported once
        self.assertEqual(self.read("a"), b"2")
        self.assertEqual(self.admin.get_children(self.path + "/state"), ["k-a"])

    @defer.inlineCallbacks
    def test_a_fenced_out_write_makes_the_leader_step_down(self):
        lost: list = []
        _zk, store, election = yield self.instance("a", lost)
        yield until(lambda: election.elected, what="a to lead")
        self.assertEqual(store.fence, Fence(election.node_path, 0))
        yield store.put("app:/web", {"by": "a"})
        # Its node changes under it (the election's detector watches only the
        # members): the store is the first to notice.
        self.admin.set(election.node_path, self.admin.get(election.node_path)[0])
        with self.assertRaises(FencedOut):
            yield store.put("app:/web", {"by": "a", "again": True})
        self.assertEqual(len(lost), 1)
        self.assertEqual(lost[0][0], "a")
        self.assertIn("fenced out", lost[0][1])
        self.assertFalse(election.elected)
        self.assertEqual(self.read("app:/web"), b'{"by":"a"}')

    @defer.inlineCallbacks
    def test_a_deposed_leader_cannot_overwrite_its_successor(self):
        lost: list = []
        zk_a, store_a, a = yield self.instance("a", lost)
        yield until(lambda: a.elected, what="a to lead")
        yield store_a.put("app:/web", {"by": "a"})
        _zk_b, store_b, b = yield self.instance("b", lost)
        yield until(lambda: b.leader_info is not None, what="b to see a")
        # a's session expires (a pause, a cut network): b leads and writes.
        expire(zk_a, self.ensemble.hosts)
        yield until(lambda: b.elected, what="b to lead")
        yield store_b.put("app:/web", {"by": "b"})
        yield store_b.put("task:t1", {"by": "b"})
        # a's client reconnects with a new session, in which a's old node is gone:
        # any write a still makes (a timer, a request in flight) must not land.
        yield until(lambda: "a" in dict(lost), what="a to learn it lost")
        yield until(lambda: zk_a.state == zookeeper.CONNECTED, what="a to reconnect")
        for write in (
            lambda: store_a.put("app:/web", {"by": "a", "stale": True}),
            lambda: store_a.put("task:t2", {"by": "a"}),
            lambda: store_a.delete("task:t1"),
        ):
            with self.assertRaises(FencedOut):
                yield write()
        self.assertEqual((yield store_b.get("app:/web")), {"by": "b"})
        self.assertEqual((yield store_b.keys()), ["app:/web", "task:t1"])
        self.assertEqual([name for name, _ in lost], ["a"])  # a stepped down once; b leads
        self.assertTrue(b.elected)

    @defer.inlineCallbacks
    def test_a_marathon_leader_whose_write_is_fenced_out_exits_and_stores_nothing(self):
        parser = argparse.ArgumentParser()
        add_marathon_arguments(parser)
        options = parser.parse_args(
            [
                "--master=127.0.0.1:1",  # never reached: the test needs no offers
                f"--zk=zk://{self.ensemble.hosts}{self.path}",
                "--http_port=0",
                "--http_address=127.0.0.1",
                "--hostname=127.0.0.1",
                "--zk_session_timeout=4000",
            ]
        )
        exits: list[int] = []
        marathon = MarathonService(options, reactor, lambda: exits.append(marathon.exit_code))
        marathon.startService()
        # (Run last: the driver's attempt to reach the absent master ends in 0.3 s.)
        self.addCleanup(task.deferLater, reactor, 1.0, lambda: None)
        self.addCleanup(marathon.stopService)
        yield until(lambda: marathon.driver is not None, what="marathon to lead")
        node = marathon.election.node_path
        self.admin.set(node, self.admin.get(node)[0])  # not the node it won with any more
        app = {"id": "/web", "cmd": "sleep 100", "instances": 1, "cpus": 0.1, "mem": 16}
        response = yield Agent(reactor).request(
            b"POST",
            f"http://127.0.0.1:{marathon.port}/v2/apps".encode(),
            Headers({"content-type": ["application/json"]}),
            FileBodyProducer(io.BytesIO(json.dumps(app).encode())),
        )
        body = json.loads((yield readBody(response)))
        self.assertEqual(response.code, 503)
        self.assertIn("fenced out", body["message"])
        self.assertEqual(exits, [1])  # the exit path of a lost session
        self.assertFalse(marathon.election.elected)
        self.assertFalse(self.admin.exists(self.node("app:/web")))

    # ------------------------------------------------------ round trips per put

    @defer.inlineCallbacks
    def last_request(self, zk):
        """The id (xid) of the session's last request, as the server saw it (``cons``)."""
        for _ in range(5):
            yield zk.exists("/")  # so that our last request is not a ping (xid -2)
            session = f"sid=0x{zk.client.client_id[0]:x},"
            lines = four_letter(self.ensemble.client_ports[0], b"cons").decode().splitlines()
            (line,) = [line for line in lines if session in line]
            xid = int(re.search(r"lcxid=0x([0-9a-f]+)", line).group(1), 16)
            if xid < 2**31:
                return xid
        raise AssertionError("only pings seen")

    @defer.inlineCallbacks
    def requests(self, zk, writes):
        """How many requests ``writes()`` sent, counted by the server."""
        before = yield self.last_request(zk)
        yield writes()
        after = yield self.last_request(zk)
        return after - before - 1  # the probe of last_request

    @defer.inlineCallbacks
    def test_a_fenced_put_is_one_request_for_new_and_known_keys(self):
        zk = yield self.session()
        fence_path = self.admin.create(self.path + "/fence", makepath=True)
        store = ZooKeeperStore(zk, self.path + "/state")
        store.fence_with(Fence(fence_path, 0), lambda reason: None)
        yield store.put("first", 0)  # creates the root too
        keys = [f"task:{n}" for n in range(20)]

        def put_all(value):
            return defer.gatherResults([store.put(k, value) for k in keys], consumeErrors=True)

        self.assertEqual((yield self.requests(zk, lambda: put_all(1))), len(keys))  # creates
        self.assertEqual((yield self.requests(zk, lambda: put_all(2))), len(keys))  # sets
        # A new leader's store learns the keys when it loads them.
        successor = ZooKeeperStore(zk, self.path + "/state")
        self.assertEqual((yield self.requests(zk, successor.keys)), 1)
        self.assertEqual((yield self.requests(zk, lambda: successor.put("task:0", 3))), 1)
        # One that guessed wrong pays one more request, then knows.
        unaware = ZooKeeperStore(zk, self.path + "/state")
        self.assertEqual((yield self.requests(zk, lambda: unaware.put("task:1", 3))), 2)
        self.assertEqual((yield self.requests(zk, lambda: unaware.put("task:1", 4))), 1)
        self.admin.delete(self.node("task:2"))  # behind the store's back
        self.assertEqual((yield self.requests(zk, lambda: store.put("task:2", 5))), 2)
        self.assertEqual(self.read("task:2"), b"5")
        self.assertEqual(self.read("task:1"), b"4")
