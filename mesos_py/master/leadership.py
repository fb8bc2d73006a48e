"""Who leads: the seam between the master's HTTP front and the election.

A standalone master always leads.  With ``--zk`` the master contends in
ZooKeeper (Mesos' layout, ``mesos_py.common.zk_layout``); a standby answers
307 to the leader it detects, and a leader that loses its ZooKeeper session
gives up (the daemon exits so that its supervisor restarts it, as Mesos does).
"""

from __future__ import annotations

from typing import Any

from twisted.web import http, server

from mesos_py.common.http import HTTPError
from mesos_py.common.zk_election import ZooKeeperElection


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


class ZooKeeperLeadership(ZooKeeperElection, _Leadership):
    """A master contending in ZooKeeper: serves once the registry is recovered.

    ``on_elected`` recovers the registry; until it fires the master answers
    503 "recovering", and standbys redirect to the leader they detect.
    """
