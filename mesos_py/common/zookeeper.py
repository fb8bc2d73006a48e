"""kazoo on the Twisted reactor: the one module that touches ZooKeeper's client.

kazoo runs its own I/O threads.  Every result, watch and session event it
produces is handed to the reactor thread with ``callFromThread``, so callers
see ordinary Deferreds and callbacks on the reactor and never block it.
(txzookeeper, the Twisted-native client, is Python 2 only: see DESIGN.md.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kazoo.client import KazooClient, KazooState, TransactionRequest
from kazoo.protocol.states import WatchedEvent, ZnodeStat
from kazoo.retry import KazooRetry
from kazoo.security import make_acl, make_digest_acl
from twisted.internet import defer, threads
from twisted.logger import Logger

from mesos_py.common.zk_layout import ZkUrl

log = Logger()

# Session states as callers see them.
CONNECTED = "CONNECTED"
SUSPENDED = "SUSPENDED"  # connection lost; the session may still be alive
LOST = "LOST"  # the session expired: ephemeral nodes and watches are gone

_STATES = {KazooState.CONNECTED: CONNECTED, KazooState.SUSPENDED: SUSPENDED, KazooState.LOST: LOST}


class ZooKeeper:
    """One ZooKeeper session for a daemon, answering on the reactor."""

    def __init__(
        self,
        reactor: Any,
        url: ZkUrl,
        session_timeout: float,
        client: KazooClient | None = None,
    ) -> None:
        self.reactor = reactor
        self.url = url
        self.session_timeout = session_timeout
        self.state = SUSPENDED
        self._started = False
        self._listeners: list[Callable[[str], None]] = []
        auth = [("digest", url.credentials)] if url.credentials else None
        self.acl = None
        if url.credentials:
            # Mesos' choice: anyone may read (detectors, pymesos), only the creator may write.
            user, _, password = url.credentials.partition(":")
            self.acl = [
                make_acl("world", "anyone", read=True),
                make_digest_acl(user, password, all=True),
            ]
        self.client = client or KazooClient(
            hosts=url.hosts,
            timeout=session_timeout,
            auth_data=auth,
            default_acl=self.acl,
            # Reconnect for ever, quickly: a daemon outlives ZooKeeper outages.
            connection_retry=KazooRetry(max_tries=-1, delay=0.1, max_delay=1.0),
        )
        self.client.add_listener(self._kazoo_state)

    # -------------------------------------------------------------- session

    def add_state_listener(self, listener: Callable[[str], None]) -> None:
        """``listener(state)`` runs on the reactor on every session state change."""
        self._listeners.append(listener)

    def _kazoo_state(self, state: str) -> None:  # kazoo's thread
        self.reactor.callFromThread(self._state_changed, _STATES.get(state, SUSPENDED))

    def _state_changed(self, state: str) -> None:
        self.state = state
        for listener in list(self._listeners):
            try:
                listener(state)
            except Exception:  # one listener's bug must not starve the others
                log.failure("ZooKeeper state listener failed")

    def start(self) -> defer.Deferred:
        """Start connecting; fires once a session is established (retries for ever).

        Idempotent, so that the services sharing one session may each call it.
        """
        if self.state == CONNECTED:
            return defer.succeed(None)
        connected: defer.Deferred = defer.Deferred()

        def first(state: str) -> None:
            if state == CONNECTED and not connected.called:
                self._listeners.remove(first)
                connected.callback(None)

        self._listeners.append(first)
        if not self._started:
            self._started = True
            self.client.start_async()
        return connected

    def stop(self) -> defer.Deferred:
        """Close the session (its ephemeral nodes go at once) off the reactor thread."""

        def close() -> None:
            self.client.stop()
            self.client.close()

        return threads.deferToThread(close)

    # ------------------------------------------------------------ operations

    def _deferred(self, async_result: Any) -> defer.Deferred:
        d: defer.Deferred = defer.Deferred()

        def settle(result: Any) -> None:  # kazoo's thread
            try:
                value = result.get_nowait()
            except Exception as exc:  # the operation's error, delivered as a Failure
                self.reactor.callFromThread(d.errback, exc)
            else:
                self.reactor.callFromThread(d.callback, value)

        async_result.rawlink(settle)
        return d

    def _watcher(self, watch: Callable[[WatchedEvent], None] | None) -> Any:
        if watch is None:
            return None
        return _ReactorWatch(self.reactor, watch)

    def create(
        self,
        path: str,
        value: bytes = b"",
        ephemeral: bool = False,
        sequence: bool = False,
        makepath: bool = False,
    ) -> defer.Deferred:
        """Fires with the created node's path (with its sequence suffix if any)."""
        return self._deferred(
            self.client.create_async(
                path, value, acl=self.acl, ephemeral=ephemeral, sequence=sequence, makepath=makepath
            )
        )

    def ensure_path(self, path: str) -> defer.Deferred:
        return self._deferred(self.client.ensure_path_async(path, acl=self.acl))

    def get(self, path: str, watch: Callable | None = None) -> defer.Deferred:
        """Fires with ``(data, ZnodeStat)``."""
        return self._deferred(self.client.get_async(path, watch=self._watcher(watch)))

    def get_children(self, path: str, watch: Callable | None = None) -> defer.Deferred:
        return self._deferred(self.client.get_children_async(path, watch=self._watcher(watch)))

    def exists(self, path: str, watch: Callable | None = None) -> defer.Deferred:
        """Fires with a ZnodeStat, or None when there is no such node."""
        return self._deferred(self.client.exists_async(path, watch=self._watcher(watch)))

    def set(self, path: str, value: bytes, version: int = -1) -> defer.Deferred:
        """Fires with the new ZnodeStat; BadVersionError if ``version`` is stale."""
        return self._deferred(self.client.set_async(path, value, version))

    def delete(self, path: str, version: int = -1) -> defer.Deferred:
        return self._deferred(self.client.delete_async(path, version))

    def transaction(self) -> TransactionRequest:
        """A multi-op transaction to fill (``check``, ``create``, ``set_data``, ``delete``)
        and hand to ``commit``: one round trip, all ops applied or none."""
        return self.client.transaction()

    def commit(self, transaction: TransactionRequest) -> defer.Deferred:
        """Fires with one result per op.  When the transaction failed, the failing op's
        slot holds its error (e.g. ``NoNodeError``) and the others ``RolledBackError``
        or ``RuntimeInconsistency``: nothing was applied."""
        return self._deferred(transaction.commit_async())


class _ReactorWatch:
    """A kazoo watch that runs ``watch`` on the reactor.

    Equal when wrapping the same callable, so that kazoo (which keeps a set of
    watchers per path) registers a re-armed watch only once.
    """

    def __init__(self, reactor: Any, watch: Callable[[WatchedEvent], None]) -> None:
        self.reactor = reactor
        self.watch = watch

    def __call__(self, event: WatchedEvent) -> None:  # kazoo's thread
        self.reactor.callFromThread(self.watch, event)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _ReactorWatch) and other.watch == self.watch

    def __hash__(self) -> int:
        return hash(self.watch)


__all__ = ["CONNECTED", "LOST", "SUSPENDED", "ZnodeStat", "ZooKeeper"]
