"""The registry's codec and operations, and the registrar's batching of writes."""

from __future__ import annotations

import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st
from kazoo.exceptions import BadVersionError, ConnectionLoss
from twisted.internet import defer
from twisted.internet.task import Clock

from mesos_py.master import registry as reg
from mesos_py.master.registrar import FileStore, MemoryStore, Registrar, ZooKeeperStore

ids = st.text("abcdef0123456789-", min_size=1, max_size=12)


@given(
    st.dictionaries(ids, st.fixed_dictionaries({"hostname": st.text(max_size=8)}), max_size=5),
    st.dictionaries(ids, st.floats(0, 2e9), max_size=5),
    st.dictionaries(st.text(min_size=1, max_size=5), st.floats(0.1, 100), max_size=3),
)
def test_codec_round_trip(agents, unreachable, weights):
    registry = reg.Registry(agents=agents, unreachable=unreachable, weights=weights)
    assert reg.decode(reg.encode(registry)) == registry


@pytest.mark.parametrize(
    "data",
    [
        b"junk",
        zlib.compress(b"[1]"),
        zlib.compress(b'{"format":99}'),
        zlib.compress(b'{"format":1,"agents":{"a":3}}'),
    ],
)
def test_unreadable_registries_are_refused(data):
    with pytest.raises(reg.RegistryError):
        reg.decode(data)


def test_empty_bytes_are_an_empty_registry():
    assert reg.decode(b"") == reg.Registry()


def test_agent_lifecycle_operations():
    registry = reg.Registry()
    info = {"hostname": "h"}
    assert reg.AdmitAgent("a", info).apply(registry)
    assert not reg.AdmitAgent("a", info).apply(registry)  # no change, no write
    assert reg.MarkUnreachable("a", 5.0).apply(registry)
    assert registry.agents == {} and registry.unreachable == {"a": 5.0}
    assert not reg.MarkUnreachable("a", 6.0).apply(registry)
    assert reg.AdmitAgent("a", info).apply(registry)  # it came back
    assert registry.agents == {"a": info} and registry.unreachable == {}
    assert reg.MarkGone("a", 7.0).apply(registry)
    assert registry.agents == {} and registry.gone == {"a": 7.0}
    assert not reg.MarkUnreachable("a", 8.0).apply(registry)


def test_settings_operations():
    registry = reg.Registry()
    assert reg.UpdateWeights((("eng", 2.0),)).apply(registry)
    assert not reg.UpdateWeights((("eng", 2.0),)).apply(registry)
    assert reg.UpdateQuota("eng", {"guarantees": {"cpus": 1}}).apply(registry)
    assert reg.UpdateQuota("eng", None).apply(registry) and registry.quotas == {}
    assert reg.UpdateMaintenance({"windows": []}).apply(registry)
    assert not reg.UpdateMaintenance({"windows": []}).apply(registry)


class SlowStore:
    """Writes complete when the test says so."""

    def __init__(self):
        self.writes: list[tuple[bytes, defer.Deferred]] = []

    def fetch(self):
        return defer.succeed(b"")

    def store(self, data):
        d = defer.Deferred()
        self.writes.append((data, d))
        return d


def test_operations_queued_behind_a_write_go_out_together():
    store = SlowStore()
    registrar = Registrar(store, lambda reason: None)
    done = [registrar.apply(reg.AdmitAgent(f"a{i}", {"hostname": "h"})) for i in range(100)]
    assert len(store.writes) == 1
    store.writes[0][1].callback(None)
    assert len(store.writes) == 2
    store.writes[1][1].callback(None)
    assert all(d.called for d in done)
    assert list(reg.decode(store.writes[1][0]).agents) == [f"a{i}" for i in range(100)]
    unchanged = registrar.apply(reg.AdmitAgent("a0", {"hostname": "h"}))
    assert unchanged.called and len(store.writes) == 2


def test_with_a_clock_a_burst_is_written_once_after_the_batch_interval():
    store = MemoryStore()
    clock = Clock()
    registrar = Registrar(store, lambda reason: None, clock=clock, batch_interval=0.05)
    done = [registrar.apply(reg.AdmitAgent(f"a{i}", {"hostname": "h"})) for i in range(1000)]
    assert store.data == b"" and not any(d.called for d in done)
    clock.advance(0.05)
    assert all(d.called for d in done)
    assert len(reg.decode(store.data).agents) == 1000 and registrar.writes == 1
    registrar.apply(reg.AdmitAgent("late", {"hostname": "h"}))
    registrar.flush()  # a clean stop does not wait for the batch
    assert "late" in reg.decode(store.data).agents and registrar.writes == 2


def test_a_failed_write_ends_leadership_and_later_writes_fail():
    store = SlowStore()
    reasons = []
    registrar = Registrar(store, reasons.append)
    first = registrar.apply(reg.AdmitAgent("a", {}))
    second = registrar.apply(reg.AdmitAgent("b", {}))
    store.writes[0][1].errback(OSError("disk full"))
    assert reasons == ["Failed to write the registry: disk full"]
    for d in (first, second, registrar.apply(reg.AdmitAgent("c", {}))):
        failures = []
        d.addErrback(failures.append)
        assert failures


def test_file_store_survives_a_restart(tmp_path):
    path = str(tmp_path / "master" / "registry")
    registrar = Registrar(FileStore(path), lambda reason: None)
    registrar.apply(reg.AdmitAgent("a", {"hostname": "h"}))
    recovered = []
    Registrar(FileStore(path), lambda reason: None).recover().addCallback(recovered.append)
    assert list(recovered[0].agents) == ["a"]


class FlakyZooKeeper:
    """A ZooKeeper bridge whose connection drops during given ``set`` calls.

    ``landed`` says whether the write of a dropped call reached the server first.
    """

    def __init__(self, drops: list[bool], session_timeout: float = 10.0) -> None:
        self.reactor = Clock()
        self.session_timeout = session_timeout
        self.drops = drops
        self.data, self.version = b"", 0

    def set(self, path, data, version):
        if version != self.version:
            return defer.fail(BadVersionError())
        if self.drops:
            landed = self.drops.pop(0)
            if landed:
                self.data, self.version = data, self.version + 1
            return defer.fail(ConnectionLoss())
        self.data, self.version = data, self.version + 1
        return defer.succeed(type("Stat", (), {"version": self.version}))

    def get(self, path):
        return defer.succeed((self.data, type("Stat", (), {"version": self.version})))


def zk_store(zk):
    store = ZooKeeperStore(zk, "/mesos/log_replicas/registry")
    store.version = 0
    return store


@pytest.mark.parametrize("landed", [False, True])
def test_a_registry_write_outlives_the_loss_of_its_zookeeper_server(landed):
    zk = FlakyZooKeeper([landed])
    store = zk_store(zk)
    done = store.store(b"registry")
    assert not done.called  # waiting for the client to reconnect
    zk.reactor.advance(1)
    assert done.called and done.result is None
    assert (zk.data, zk.version, store.version) == (b"registry", 1, 1)


def test_a_write_that_met_another_masters_write_still_fails():
    zk = FlakyZooKeeper([False])
    store = zk_store(zk)
    done = store.store(b"ours")
    zk.data, zk.version = b"theirs", 1  # another master wrote while we reconnected
    zk.reactor.advance(1)
    failures = []
    done.addErrback(failures.append)
    assert failures and failures[0].check(BadVersionError)
    assert zk.data == b"theirs"


def test_a_write_gives_up_when_no_reconnection_comes_within_the_session():
    zk = FlakyZooKeeper([False] * 1000, session_timeout=2.0)
    done = zk_store(zk).store(b"registry")
    failures = []
    done.addErrback(failures.append)
    zk.reactor.pump([0.2] * 20)
    assert failures and failures[0].check(ConnectionLoss)
