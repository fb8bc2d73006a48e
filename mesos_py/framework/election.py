"""Leader election among the instances of one framework (Marathon, Chronos).

Instances contend exactly as masters do (``mesos_py.common.zk_election``):
ephemeral sequential ``json.info_`` nodes under the framework's ``--zk``
path, lowest sequence leads.  The node holds a MasterInfo-shaped document, so
the same detector finds the leader's address for redirects and proxying.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.internet import defer

from mesos_py.common.zk_election import ZooKeeperElection
from mesos_py.common.zookeeper import ZooKeeper


def instance_info(instance_id: str, hostname: str, ip: str, port: int) -> dict[str, Any]:
    """The document an instance contends with: where its HTTP API answers."""
    return {
        "id": instance_id,
        "hostname": hostname,
        "ip": ip,
        "port": port,
        "address": {"hostname": hostname, "ip": ip, "port": port},
    }


class FrameworkElection(ZooKeeperElection):
    """``ZooKeeperElection`` with a fixed info document.

    ``on_lost`` is final, as for masters: the instance must stop acting as
    leader at once (the daemons exit non-zero so that systemd restarts them).
    """

    def __init__(
        self,
        reactor: Any,
        zk: ZooKeeper,
        info: dict[str, Any],
        on_elected: Callable[[], defer.Deferred | None],
        on_lost: Callable[[str], None],
        session_timeout: float,
    ) -> None:
        super().__init__(reactor, zk, lambda: info, on_elected, on_lost, session_timeout)
