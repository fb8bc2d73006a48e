"""Keeps the registry durable: ZooKeeper with ``--zk``, a file under ``--work_dir``, or memory.

Operations apply to the in-memory copy at once and are written in batches:
while one write is in flight the next ones queue and go out together, and
with a clock the first change after a quiet spell waits ``batch_interval``
for company (the memory and file stores answer at once, so without that
every change would re-encode the whole registry: quadratic in a burst of
registering agents).  1,000 agents registering cost a handful of writes.  The ZooKeeper
store writes with the version it last read or wrote, so a deposed leader's
write fails instead of overwriting its successor's registry.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from typing import Any

from kazoo.exceptions import BadVersionError, ConnectionLoss, NodeExistsError, NoNodeError
from twisted.internet import defer, task
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger

from mesos_py.common.zookeeper import ZooKeeper
from mesos_py.master import registry as reg

log = Logger()

# Between attempts of a registry write whose ZooKeeper connection was lost.
RECONNECT_WAIT = 0.2


class MemoryStore:
    """``--registry=in_memory``: lost with the process (tests, throw-away clusters)."""

    def __init__(self) -> None:
        self.data = b""

    def fetch(self) -> defer.Deferred:
        return defer.succeed(self.data)

    def store(self, data: bytes) -> defer.Deferred:
        self.data = data
        return defer.succeed(None)


class FileStore:
    """A standalone master's registry: ``<work_dir>/registry``, replaced atomically."""

    def __init__(self, path: str) -> None:
        self.path = path

    def fetch(self) -> defer.Deferred:
        try:
            with open(self.path, "rb") as f:
                return defer.succeed(f.read())
        except FileNotFoundError:
            return defer.succeed(b"")
        except OSError as exc:
            return defer.fail(exc)

    def store(self, data: bytes) -> defer.Deferred:
        return defer.maybeDeferred(self._write, data)

    def _write(self, data: bytes) -> None:
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        temporary = self.path + ".new"
        with open(temporary, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, self.path)


class ZooKeeperStore:
    """The registry node under the ``--zk`` path, written compare-and-set."""

    def __init__(self, zk: ZooKeeper, path: str) -> None:
        self.zk = zk
        self.path = path
        self.version: int | None = None

    @defer.inlineCallbacks
    def fetch(self):
        try:
            data, stat = yield self.zk.get(self.path)
        except NoNodeError:
            with contextlib.suppress(NodeExistsError):  # another master made it first
                yield self.zk.create(self.path, b"", makepath=True)
            data, stat = yield self.zk.get(self.path)
        self.version = stat.version
        return data

    @defer.inlineCallbacks
    def store(self, data: bytes):
        """Compare-and-set, through the loss of the ZooKeeper server we talk to.

        When one server of the ensemble goes, the client moves to another within
        its session, and a write in flight fails with ConnectionLoss: it is sent
        again.  If the first attempt had landed before the connection dropped, the
        retry meets a newer version holding exactly our data: that is success.
        Anything else (another master wrote, the session expired, no reconnection
        within the session timeout) fails the write, and the master steps down.
        """
        deadline = self.zk.reactor.seconds() + self.zk.session_timeout
        retried = False
        while True:
            try:
                stat = yield self.zk.set(self.path, data, self.version)
                break
            except ConnectionLoss:
                if self.zk.reactor.seconds() >= deadline:
                    raise
                retried = True
                yield task.deferLater(self.zk.reactor, RECONNECT_WAIT, lambda: None)
            except BadVersionError:
                if not retried:
                    raise
                current, stat = yield self.zk.get(self.path)
                if current != data or stat.version != self.version + 1:
                    raise
                break
        self.version = stat.version


class Registrar:
    """The registry and its store; ``on_failure(reason)`` hears of a write that failed."""

    def __init__(
        self,
        store: Any,
        on_failure: Callable[[str], None],
        clock: IReactorTime | None = None,
        batch_interval: float = 0.05,
    ) -> None:
        self.store = store
        self.on_failure = on_failure
        self._clock = clock
        self._batch_interval = batch_interval
        self._batch_call: IDelayedCall | None = None
        self.registry = reg.Registry()
        self.writes = 0
        self.fetch_ms: float | None = None  # how long the last recovery read took
        self.size = 0  # bytes of the registry as last read or written
        self._waiting: list[defer.Deferred] = []
        self._writing = False
        self._failed = False

    @defer.inlineCallbacks
    def recover(self):
        """Read the stored registry; fires with it (RegistryError if unreadable)."""
        started = time.perf_counter()
        data = yield self.store.fetch()
        self.registry = reg.decode(data)
        self.fetch_ms = (time.perf_counter() - started) * 1000
        self.size = len(data)
        return self.registry

    def apply(self, operation: Any) -> defer.Deferred:
        """Apply now; fires once the change is stored (at once when nothing changed)."""
        if self._failed:
            return defer.fail(RuntimeError("the registry can no longer be written"))
        if not operation.apply(self.registry):
            return defer.succeed(False)
        waiter: defer.Deferred = defer.Deferred()
        self._waiting.append(waiter)
        if self._writing or self._batch_call is not None:
            return waiter
        if self._clock is None:
            self._write()
        else:
            self._batch_call = self._clock.callLater(self._batch_interval, self._write)
        return waiter

    def flush(self) -> None:
        """Write a pending batch now (on a clean stop)."""
        if self._batch_call is not None and self._batch_call.active():
            self._batch_call.cancel()
            self._write()

    def _write(self) -> None:
        self._batch_call = None
        waiting, self._waiting = self._waiting, []
        self._writing = True
        data = reg.encode(self.registry)
        self.size = len(data)
        d = self.store.store(data)

        def written(_: Any) -> None:
            self.writes += 1
            self._writing = False
            for waiter in waiting:
                waiter.callback(True)
            if self._waiting:
                self._write()

        def failed(failure: Any) -> None:
            self._writing = False
            self._failed = True
            error = failure.getErrorMessage() or failure.type.__name__
            reason = f"Failed to write the registry: {error}"
            log.error(reason)
            self.on_failure(reason)
            waiting.extend(self._waiting)
            self._waiting = []
            for waiter in waiting:
                waiter.errback(RuntimeError(reason))

        d.addCallbacks(written, failed)
