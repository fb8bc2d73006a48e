"""Leader election in ZooKeeper with Mesos' layout, for masters and frameworks alike.

Each contender creates an ephemeral sequential ``json.info_`` node holding
its info as JSON under the URL's path; the lowest sequence leads
(``mesos_py.common.zk_layout``).  Everyone else learns the leader's info
through the same ``LeaderDetector`` agents and pymesos-style clients use.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.internet import defer
from twisted.logger import Logger

from mesos_py.common import zookeeper
from mesos_py.common.zk_detector import LeaderDetector
from mesos_py.common.zk_layout import MASTER_LABEL, encode_master_info

log = Logger()


class ZooKeeperElection:
    """Contend with an ephemeral sequential ``json.info_`` node; lead while it is the lowest.

    ``on_elected()`` (it may return a Deferred: recovering state) runs when
    this contender's node becomes the lowest; ``elected`` turns true once it
    fires.  ``on_lost(reason)`` runs when a leader (or a recovering one) loses
    its session: after ``session_timeout`` without a connection, or at once
    when ZooKeeper reports the session expired.  It is final: the owner must
    stop acting as leader (daemons exit so that their supervisor restarts them).
    """

    def __init__(
        self,
        reactor: Any,
        zk: zookeeper.ZooKeeper,
        info: Callable[[], dict[str, Any]],
        on_elected: Callable[[], defer.Deferred],
        on_lost: Callable[[str], None],
        session_timeout: float,
    ) -> None:
        self.reactor = reactor
        self.zk = zk
        self.info = info
        self.on_elected = on_elected
        self.on_lost = on_lost
        self.session_timeout = session_timeout
        self.leader_info: dict[str, Any] | None = None
        self.node: str | None = None  # our contender node's name
        self.leading = False  # our node is the lowest (recovering or serving)
        self._serving = False
        self._contending = False
        self._lost = False
        self._expiry: Any = None
        self.detector = LeaderDetector(zk, self._leader_changed)
        zk.add_state_listener(self._session)

    @property
    def elected(self) -> bool:
        return self._serving

    @property
    def recovering(self) -> bool:
        return self.leading and not self._serving

    @property
    def node_path(self) -> str | None:
        """Our contender node's full path: it exists only while our session and candidacy do."""
        return None if self.node is None else self.zk.url.child(self.node)

    def start(self) -> None:
        """Contend and detect once the session is up (now, if it already is)."""
        if self.zk.state == zookeeper.CONNECTED:
            self._session(zookeeper.CONNECTED)
        else:
            self.zk.start()

    def stop(self) -> None:
        self.detector.stop()
        self._cancel_expiry()

    # ------------------------------------------------------------- contending

    def _session(self, state: str) -> None:
        if state == zookeeper.CONNECTED:
            self._cancel_expiry()
            if self.node is None:
                self._contend()
        elif state == zookeeper.SUSPENDED:
            if self.leading and self._expiry is None:
                # ZooKeeper expires the session after this long without us; by then
                # another master may lead, so this one must stop first.
                self._expiry = self.reactor.callLater(
                    self.session_timeout,
                    self._give_up,
                    f"no connection to ZooKeeper for {self.session_timeout:g}s "
                    "(the session timeout): its session is considered expired",
                )
        elif state == zookeeper.LOST:
            self.node = None
            if self.leading:
                self._give_up("its ZooKeeper session expired")

    def _cancel_expiry(self) -> None:
        if self._expiry is not None and self._expiry.active():
            self._expiry.cancel()
        self._expiry = None

    def _contend(self) -> None:
        if self._contending or self._lost:
            return
        self._contending = True
        d = self.zk.create(
            self.zk.url.child(MASTER_LABEL + "_"),
            encode_master_info(self.info()),
            ephemeral=True,
            sequence=True,
            makepath=True,
        )

        def created(path: str) -> None:
            self._contending = False
            self.node = path.rsplit("/", 1)[-1]
            log.info("Contending for leadership as {node}", node=self.node)
            self.detector.start()  # read the members again, now including us

        def failed(failure: Any) -> None:
            self._contending = False
            log.warn("Could not join the election: {error}", error=failure.getErrorMessage())
            if self.zk.state == zookeeper.CONNECTED:
                self.reactor.callLater(1.0, self._session, self.zk.state)

        d.addCallbacks(created, failed)

    # -------------------------------------------------------------- detecting

    def _leader_changed(self, node: str | None, info: dict | None) -> None:
        if self.leading and node != self.node:
            self._give_up(f"another contender ({node}) now leads")
            return
        self.leader_info = info
        if node is not None and node == self.node and not self.leading:
            self.leading = True
            log.info("Elected leader ({node}); recovering", node=node)
            d = defer.maybeDeferred(self.on_elected)
            d.addCallbacks(self._recovered, self._recovery_failed)
        elif info is not None:
            log.info("Detected leader {leader}", leader=info.get("pid") or info.get("hostname"))
        else:
            log.info("No leader detected")

    def _recovered(self, _: Any) -> None:
        if self.leading and not self._lost:
            self._serving = True
            log.info("Serving as the leader")

    def _recovery_failed(self, failure: Any) -> None:
        self._give_up(f"recovery failed: {failure.getErrorMessage()}")

    def step_down(self, reason: str) -> None:
        """Stop leading for a ``reason`` the owner found (e.g. a write fenced out):
        ``on_lost(reason)`` runs as when the session is lost, once."""
        self._give_up(reason)

    def _give_up(self, reason: str) -> None:
        if self._lost:
            return
        self._lost = True
        self._serving = False
        self._cancel_expiry()
        self.on_lost(reason)
