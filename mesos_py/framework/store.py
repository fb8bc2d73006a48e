"""A framework's state as JSON documents: one znode per key, or a dict in tests.

Keys are arbitrary strings (Marathon app IDs contain slashes); each is escaped
into a single znode name under the store's root, so listing the root lists the
keys.  A znode holds at most about 1 MB (ZooKeeper's ``jute.maxbuffer``).

Writes are fenced: once the framework's election hands the store its
``Fence`` (the leader's own election node, which exists only while its session
and candidacy live), every write is one ZooKeeper transaction that checks that
node and writes.  A leader deposed meanwhile (session expired during a pause or
a network cut) gets ``FencedOut`` instead of overwriting its successor's state,
and the store reports it once, so that the instance stops leading.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

from kazoo.exceptions import BadVersionError, NodeExistsError, NoNodeError
from twisted.internet import defer
from twisted.logger import Logger
from twisted.python.failure import Failure

from mesos_py.common.zookeeper import ZooKeeper

log = Logger()

# ZooKeeper's default jute.maxbuffer is 1 MiB for the whole packet; stay below it.
MAX_DOCUMENT_BYTES = 1_000_000
# Every node name starts with this, so that keys such as "." or ".." stay legal names.
_PREFIX = "k-"
# A write meets at most: a wrong guess about the key's existence, a missing root, then
# a key deleted or created meanwhile by someone else.  Beyond that, something is wrong.
_MAX_WRITE_ATTEMPTS = 4


def _encode(key: str, value: Any) -> bytes:
    data = json.dumps(value, separators=(",", ":")).encode()
    if len(data) > MAX_DOCUMENT_BYTES:
        raise ValueError(f"{key!r}: {len(data)} bytes exceed the {MAX_DOCUMENT_BYTES} byte limit")
    return data


def node_name(key: str) -> str:
    """The znode name that holds ``key``."""
    return _PREFIX + quote(key, safe="")


def key_of(name: str) -> str | None:
    """The key a znode name holds, None for a node the store did not write."""
    return unquote(name[len(_PREFIX) :]) if name.startswith(_PREFIX) else None


@dataclass(frozen=True)
class Fence:
    """A znode (path, version) that exists only while this instance leads: its election node."""

    path: str
    version: int


class FencedOut(Exception):
    """A write was refused: the fence is gone, so this instance no longer leads."""


def first_failure(failure: Failure) -> Failure:
    """``failure`` itself, or the first failure when it is ``gatherResults``' report."""
    return failure.value.subFailure if failure.check(defer.FirstError) else failure


def fenced_out(failure: Failure) -> bool:
    """Whether ``failure`` (or the first one ``gatherResults`` reports) is ``FencedOut``."""
    return first_failure(failure).check(FencedOut) is not None


# What a write transaction's results say (``write_outcome``).
WRITTEN = "written"
FENCED_OUT = "fenced out"
EXISTS = "exists"  # create: the node is there already
MISSING = "missing"  # set/delete: no such node; create: no parent


def write_outcome(results: list[Any], fenced: bool) -> str:
    """What a store transaction's per-op results mean: [the fence check,] one write.

    Raises the write's error when it is none of the expected ones.
    """
    if fenced:
        check, *results = results
        if isinstance(check, NoNodeError | BadVersionError):
            return FENCED_OUT
    (write,) = results
    if isinstance(write, NodeExistsError):
        return EXISTS
    if isinstance(write, NoNodeError):
        return MISSING
    if isinstance(write, Exception):
        raise write
    return WRITTEN


class ZooKeeperStore:
    """JSON documents under ``root`` in ZooKeeper, written through the fence once set.

    It remembers which keys exist (learned from ``keys``, ``get`` and its own
    writes), so that a put is one round trip: a create for a new key, a set for
    a known one; a wrong guess costs one more and corrects itself.
    """

    def __init__(self, zk: ZooKeeper, root: str) -> None:
        self.zk = zk
        self.root = "/" + root.strip("/")
        self.fence: Fence | None = None
        self._on_fenced_out: Callable[[str], None] | None = None
        self._fenced_out: str | None = None  # why, once a write was fenced out
        self._existing: set[str] = set()
        self._writing: dict[str, defer.DeferredLock] = {}  # keys being written

    def fence_with(self, fence: Fence, on_fenced_out: Callable[[str], None]) -> None:
        """Check ``fence`` in every write from now on; ``on_fenced_out(reason)`` runs
        (before the write's Deferred fails with ``FencedOut``) when it is gone."""
        self.fence = fence
        self._on_fenced_out = on_fenced_out

    def _path(self, key: str) -> str:
        return f"{self.root}/{node_name(key)}"

    @defer.inlineCallbacks
    def get(self, key: str):
        """Fires with the stored value, or None when there is none."""
        try:
            data, _stat = yield self.zk.get(self._path(key))
        except NoNodeError:
            self._existing.discard(key)
            return None
        self._existing.add(key)
        return json.loads(data)

    @defer.inlineCallbacks
    def put(self, key: str, value: Any):
        data = _encode(key, value)
        yield self._in_order(key, self._put, key, data)

    @defer.inlineCallbacks
    def delete(self, key: str):
        yield self._in_order(key, self._delete, key)

    def _in_order(self, key: str, write: Callable[..., defer.Deferred], *args: Any):
        """Writes of one key land in the order they were asked for: a put that must
        retry with the other op never overtakes a later write of the same key."""
        lock = self._writing.setdefault(key, defer.DeferredLock())

        def forget(result: Any) -> Any:
            if not lock.locked:  # nobody waiting: the lock is no longer needed
                self._writing.pop(key, None)
            return result

        return lock.run(write, *args).addBoth(forget)

    @defer.inlineCallbacks
    def _put(self, key: str, data: bytes):
        path = self._path(key)
        create = key not in self._existing
        for _attempt in range(_MAX_WRITE_ATTEMPTS):
            if create:
                outcome = yield self._write(key, lambda t: t.create(path, data, acl=self.zk.acl))
                if outcome == MISSING:  # no root yet
                    yield self.zk.ensure_path(self.root)
                    continue
            else:
                outcome = yield self._write(key, lambda t: t.set_data(path, data))
            if outcome == WRITTEN:
                self._existing.add(key)
                return
            create = outcome == MISSING  # guessed wrong (or changed meanwhile): the other op
        raise RuntimeError(f"{key!r}: not written after {_MAX_WRITE_ATTEMPTS} attempts")

    @defer.inlineCallbacks
    def _delete(self, key: str):
        yield self._write(key, lambda t: t.delete(self._path(key)))  # missing already is fine
        self._existing.discard(key)

    @defer.inlineCallbacks
    def keys(self):
        try:
            names = yield self.zk.get_children(self.root)
        except NoNodeError:
            names = []
        keys = sorted(key for key in map(key_of, names) if key is not None)
        self._existing = set(keys)
        return keys

    @defer.inlineCallbacks
    def _write(self, key: str, write: Callable[[Any], None]):
        """One transaction: the fence check (once fenced), then ``write``; fires with
        its outcome, or fails with ``FencedOut`` (at once, once fenced out: for good)."""
        if self._fenced_out is not None:
            raise FencedOut(self._fenced_out)
        transaction = self.zk.transaction()
        fence = self.fence
        if fence is not None:
            transaction.check(fence.path, fence.version)
        write(transaction)
        outcome = write_outcome((yield self.zk.commit(transaction)), fence is not None)
        if outcome != FENCED_OUT:
            return outcome
        if self._fenced_out is None:  # writes in flight together: report the first
            self._fenced_out = (
                f"a write of {key!r} was fenced out: the election node {fence.path} "
                "is gone, so another instance may lead"
            )
            log.error("{reason}; this instance stops leading", reason=self._fenced_out)
            if self._on_fenced_out is not None:
                self._on_fenced_out(self._fenced_out)
        raise FencedOut(self._fenced_out)


class MemoryStore:
    """The same interface in memory, for unit tests of the frameworks' logic."""

    def __init__(self) -> None:
        self.documents: dict[str, bytes] = {}

    def get(self, key: str) -> defer.Deferred:
        data = self.documents.get(key)
        return defer.succeed(None if data is None else json.loads(data))

    def put(self, key: str, value: Any) -> defer.Deferred:
        try:
            self.documents[key] = _encode(key, value)
        except ValueError:
            return defer.fail()
        return defer.succeed(None)

    def delete(self, key: str) -> defer.Deferred:
        self.documents.pop(key, None)
        return defer.succeed(None)

    def keys(self) -> defer.Deferred:
        return defer.succeed(sorted(self.documents))
