"""Leader election among the instances of one framework (Marathon, Chronos).

Instances contend exactly as masters do (``mesos_py.common.zk_election``):
ephemeral sequential ``json.info_`` nodes under the framework's ``--zk``
path, lowest sequence leads.  The node holds a MasterInfo-shaped document, so
the same detector finds the leader's address for redirects and proxying.

That node also fences the instance's store: it exists only while the
instance's session and candidacy live, so the winner hands it to its store
before recovering, and every write checks it (``mesos_py.framework.store``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.internet import defer

from mesos_py.common.zk_election import ZooKeeperElection
from mesos_py.common.zookeeper import ZooKeeper
from mesos_py.framework.store import Fence, ZooKeeperStore


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
    """``ZooKeeperElection`` with a fixed info document, fencing ``store``'s writes.

    ``on_lost`` is final, as for masters: the instance must stop acting as
    leader at once (the daemons exit non-zero so that systemd restarts them).
    A write fenced out by ``store`` takes the same path: ``on_lost(reason)``.
    """

    def __init__(
        self,
        reactor: Any,
        zk: ZooKeeper,
        info: dict[str, Any],
        on_elected: Callable[[], defer.Deferred | None],
        on_lost: Callable[[str], None],
        session_timeout: float,
        store: ZooKeeperStore | None = None,
    ) -> None:
        super().__init__(reactor, zk, lambda: info, self._fence_store, on_lost, session_timeout)
        self.store = store
        self._recover = on_elected

    @defer.inlineCallbacks
    def _fence_store(self):
        """Fence the store with our node (as it is now) before the owner recovers:
        from its first write on, a deposed instance cannot write."""
        if self.store is not None:
            path = self.node_path
            stat = None if path is None else (yield self.zk.exists(path))
            if stat is None:
                raise LookupError(f"our election node {path} is gone")
            self.store.fence_with(Fence(path, stat.version), self.step_down)
        yield self._recover()
