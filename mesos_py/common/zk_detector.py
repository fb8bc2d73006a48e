"""Who leads, as seen through ZooKeeper: used by agents and by standby masters.

Watches the children of the ``--zk`` path, takes the lowest ``json.info_``
member, reads its MasterInfo and reports changes.  While the connection is
merely suspended the last leader stands (as in Mesos); after a session loss
the watch is set again on the new session.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kazoo.exceptions import NoNodeError
from twisted.internet import defer
from twisted.logger import Logger

from mesos_py.common import zookeeper
from mesos_py.common.zk_layout import decode_master_info, leader_child

log = Logger()


class LeaderDetector:
    """Calls ``on_change(node_name, master_info)`` on the reactor whenever the leader changes.

    ``node_name`` and ``master_info`` are None while no (usable) leader is known.
    """

    def __init__(
        self, zk: zookeeper.ZooKeeper, on_change: Callable[[str | None, dict | None], None]
    ) -> None:
        self.zk = zk
        self.path = zk.url.path
        self.on_change = on_change
        self.leader_node: str | None = None
        self.leader_info: dict | None = None
        self._stopped = False
        self._refreshing = False
        self._again = False
        zk.add_state_listener(self._session)

    def start(self) -> None:
        self._refresh()

    def stop(self) -> None:
        self._stopped = True

    def _session(self, state: str) -> None:
        if state == zookeeper.CONNECTED:
            # Cheap and covers a new session (watches lost) as well as a reconnection.
            self._refresh()

    def _watch(self, _event: Any) -> None:
        self._refresh()

    def _refresh(self) -> None:
        """Read the members (one read at a time; a change meanwhile reads again)."""
        if self._stopped:
            return
        if self._refreshing:
            self._again = True
            return
        self._refreshing = True
        self._again = False
        d = self._read()
        d.addErrback(self._failed)
        d.addBoth(self._refreshed)

    def _refreshed(self, _: Any) -> None:
        self._refreshing = False
        if self._again:
            self._refresh()

    def _failed(self, failure: Any) -> None:
        # Connection trouble: the next CONNECTED state reads again.
        log.info(
            "Could not read the masters in ZooKeeper: {error}", error=failure.getErrorMessage()
        )

    @defer.inlineCallbacks
    def _read(self):
        try:
            children = yield self.zk.get_children(self.path, watch=self._watch)
        except NoNodeError:
            # Wait for the path to appear (masters create it).
            stat = yield self.zk.exists(self.path, watch=self._watch)
            if stat is not None:
                self._again = True
            self._report(None, None)
            return
        node = leader_child(children)
        if node is None:
            self._report(None, None)
            return
        if node == self.leader_node:
            return
        try:
            data, _stat = yield self.zk.get(f"{self.path}/{node}")
        except NoNodeError:  # it went away between the two reads
            self._again = True
            return
        try:
            info = decode_master_info(node, data)
        except ValueError as exc:
            log.warn("Leading master's node is unusable: {error}", error=exc)
            self._report(None, None)
            return
        self._report(node, info)

    def _report(self, node: str | None, info: dict | None) -> None:
        if node == self.leader_node or self._stopped:
            return
        self.leader_node, self.leader_info = node, info
        try:
            self.on_change(node, info)
        except Exception:
            log.failure("Leader change handler failed")
