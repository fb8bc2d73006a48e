"""Who leads: the seam between the master's HTTP front and the election.

A standalone master always leads.  The ZooKeeper contender (a later piece)
implements the same two members, so the HTTP layer never changes.
"""

from __future__ import annotations

from typing import Any

from twisted.web import http, server

from mesos_py.common.http import HTTPError


class StandaloneLeadership:
    """A master with no ZooKeeper: it is the leader from the start."""

    def __init__(self, master_info: dict[str, Any]) -> None:
        self.leader_info: dict[str, Any] | None = master_info

    @property
    def elected(self) -> bool:
        return True

    def require_leader(self, request: server.Request) -> None:
        """Return if this master leads; otherwise answer 307 to the leader or 503."""
        if self.elected:
            return
        leader = self.leader_info
        if leader is None:
            raise HTTPError(http.SERVICE_UNAVAILABLE, "No leader elected")
        location = f"//{leader['hostname']}:{leader['port']}{request.uri.decode()}"
        raise HTTPError(http.TEMPORARY_REDIRECT, "", {b"location": location.encode()})
