"""Who leads: the seam between the master's HTTP front and the election.

A standalone master always leads.  With ``--zk`` the master contends in
ZooKeeper (Mesos' layout, ``mesos_py.common.zk_layout``); a standby answers
307 to the leader it detects, and a leader that loses its ZooKeeper session
gives up (the daemon exits so that its supervisor restarts it, as Mesos does).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.internet import defer
from twisted.logger import Logger
from twisted.web import http, server

from mesos_py.common import zookeeper
from mesos_py.common.http import HTTPError
from mesos_py.common.zk_detector import LeaderDetector
from mesos_py.common.zk_layout import MASTER_LABEL, encode_master_info

log = Logger()


def leader_authority(leader: dict[str, Any]) -> str:
    """``host:port`` for a redirect: MasterInfo's hostname, else its address (Mesos' rule)."""
    address = leader.get("address") if isinstance(leader.get("address"), dict) else {}
    host = leader.get("hostname") or address.get("hostname") or address.get("ip")
    return f"{host}:{leader.get('port') or address.get('port')}"


class _Leadership:
    leader_info: dict[str, Any] | None
    recovering = False

    @property
    def elected(self) -> bool:
        raise NotImplementedError

    def require_leader(self, request: server.Request) -> None:
        """Return if this master leads; otherwise answer 307 to the leader or 503."""
        if self.elected:
            return
        leader = self.leader_info
        if self.recovering:
            raise HTTPError(http.SERVICE_UNAVAILABLE, "Master is recovering")
        if leader is None:
            raise HTTPError(http.SERVICE_UNAVAILABLE, "No leader elected")
        location = f"//{leader_authority(leader)}{request.uri.decode()}"
        raise HTTPError(http.TEMPORARY_REDIRECT, "", {b"location": location.encode()})


class StandaloneLeadership(_Leadership):
    """A master with no ZooKeeper: it is the leader from the start."""

    def __init__(self, master_info: dict[str, Any]) -> None:
        self.leader_info: dict[str, Any] | None = master_info

    @property
    def elected(self) -> bool:
        return True


class ZooKeeperLeadership(_Leadership):
    """Contend with an ephemeral sequential ``json.info_`` node; lead while it is the lowest.

    ``on_elected()`` (returning a Deferred: registry recovery) runs when this
    master's node becomes the lowest; the master serves once it fires.
    ``on_lost(reason)`` runs when a leader (or a recovering one) loses its
    session: after ``session_timeout`` without a connection, or at once when
    ZooKeeper reports the session expired.
    """

    def __init__(
        self,
        reactor: Any,
        zk: zookeeper.ZooKeeper,
        master_info: Callable[[], dict[str, Any]],
        on_elected: Callable[[], defer.Deferred],
        on_lost: Callable[[str], None],
        session_timeout: float,
    ) -> None:
        self.reactor = reactor
        self.zk = zk
        self.master_info = master_info
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
    def recovering(self) -> bool:  # type: ignore[override]
        return self.leading and not self._serving

    def start(self) -> None:
        """Connect; contending and detecting begin on the first CONNECTED."""
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
            encode_master_info(self.master_info()),
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
            self._give_up(f"another master ({node}) now leads")
            return
        self.leader_info = info
        if node is not None and node == self.node and not self.leading:
            self.leading = True
            log.info("Elected leader ({node}); recovering the registry", node=node)
            d = defer.maybeDeferred(self.on_elected)
            d.addCallbacks(self._recovered, self._recovery_failed)
        elif info is not None:
            log.info("Detected leading master {pid}", pid=info.get("pid"))
        else:
            log.info("No leading master detected")

    def _recovered(self, _: Any) -> None:
        if self.leading and not self._lost:
            self._serving = True
            log.info("Serving as the leading master")

    def _recovery_failed(self, failure: Any) -> None:
        self._give_up(f"registry recovery failed: {failure.getErrorMessage()}")

    def _give_up(self, reason: str) -> None:
        if self._lost:
            return
        self._lost = True
        self._serving = False
        self._cancel_expiry()
        self.on_lost(reason)
