"""``mesos-py marathon``: the flags and the service tree of one Marathon instance.

With ``--zk zk://.../marathon`` the instances contend for leadership under
that path (``json.info_`` nodes) and keep their state under ``<path>/state``;
only the leader subscribes to the master.  Without ``--zk`` (``mesos-py
local --with-marathon``) the one instance leads and keeps its state in
memory, like the local cluster itself.  A leader that loses its ZooKeeper
session, or whose store write is fenced out (it was deposed meanwhile),
exits with status 1, for its supervisor to restart it as a standby.
"""

from __future__ import annotations

import argparse
import getpass
import os
import socket
import uuid
from typing import Any

from twisted.application import service
from twisted.internet import defer
from twisted.logger import Logger

from mesos_py.common.flags import Flag, add_flags, boolean
from mesos_py.common.http import make_site
from mesos_py.common.identity import advertised_ip
from mesos_py.common.prometheus import Metric
from mesos_py.common.zk_layout import parse_zk_url
from mesos_py.common.zookeeper import ZooKeeper
from mesos_py.framework.driver import SchedulerDriver
from mesos_py.framework.election import FrameworkElection, instance_info
from mesos_py.framework.store import MemoryStore, ZooKeeperStore
from mesos_py.marathon.api import MarathonAPI
from mesos_py.marathon.events import EventBus
from mesos_py.marathon.health_checks import HealthChecker
from mesos_py.marathon.prometheus_metrics import marathon_metrics
from mesos_py.marathon.scheduler import Marathon
from mesos_py.marathon.state import MAX_VERSIONS, MarathonState

log = Logger()

EXIT_GRACE_SECONDS = 5.0

MARATHON_FLAGS = [
    Flag("master", "the Mesos master: host:port or zk://host:2181,.../mesos", None),
    Flag("zk", "ZooKeeper URL for state and leader election (zk://host:2181,.../marathon)", None),
    Flag("http_port", "port of the REST API", 8080, int),
    Flag("http_address", "address the REST API listens on", "0.0.0.0"),
    Flag("hostname", "hostname advertised to other instances and Mesos", None),
    Flag("framework_name", "framework name registered with Mesos", "marathon"),
    Flag("mesos_user", "user the tasks run as, unless an app names one", None),
    Flag("mesos_role", "Mesos role of the framework", "*"),
    Flag(
        "failover_timeout",
        "seconds the master keeps the framework after it leaves",
        604800.0,
        float,
    ),
    Flag("reconciliation_interval", "milliseconds between task reconciliations", 600000, int),
    Flag("zk_session_timeout", "ZooKeeper session timeout in milliseconds", 10000, int),
    Flag("checkpoint", "ask agents to checkpoint the tasks", True, boolean),
]


def add_marathon_arguments(parser: argparse.ArgumentParser) -> None:
    add_flags(parser, MARATHON_FLAGS)


class StandaloneLeadership:
    """The only instance: always the leader."""

    elected = True

    def __init__(self, address: str, on_lost: Any) -> None:
        self.address = address
        self.on_lost = on_lost

    def leader_address(self) -> str:
        return self.address

    def abdicate(self) -> None:
        self.on_lost("leadership abdicated")


class ElectedLeadership:
    """Leadership through ``FrameworkElection``, as the REST API asks about it."""

    def __init__(self, election: FrameworkElection) -> None:
        self.election = election

    @property
    def elected(self) -> bool:
        return self.election.elected

    def leader_address(self) -> str | None:
        info = self.election.leader_info
        if not info:
            return None
        address = info.get("address", {})
        host = address.get("hostname") or info.get("hostname")
        return f"{host}:{address.get('port', info.get('port'))}"

    def abdicate(self) -> None:
        self.election.step_down("leadership abdicated")


class MarathonService(service.MultiService):
    """One Marathon instance: REST API, election (with --zk), and when leading the scheduler."""

    def __init__(self, options: argparse.Namespace, reactor: Any, on_exit: Any = None) -> None:
        super().__init__()
        if not options.master:
            raise ValueError("--master is required")
        self.options = options
        self.reactor = reactor
        self.exit_code = 0
        self.on_exit = on_exit or self._exit
        self.hostname = options.hostname or socket.gethostname()
        self.events = EventBus(reactor)
        self.zk: ZooKeeper | None = None
        self.election: FrameworkElection | None = None
        session_timeout = options.zk_session_timeout / 1000.0
        if options.zk:
            url = parse_zk_url(options.zk)
            self.zk = ZooKeeper(reactor, url, session_timeout)
            self.store: Any = ZooKeeperStore(self.zk, url.path.rstrip("/") + "/state")
        else:
            self.store = MemoryStore()
        self.marathon = Marathon(
            reactor,
            MarathonState(self.store),
            self.events,
            reconciliation_interval=options.reconciliation_interval / 1000.0,
        )
        self.health_checker = HealthChecker(reactor, self.marathon)
        self.marathon.health_checker = self.health_checker
        self.driver: SchedulerDriver | None = None
        self.port: int | None = None
        self._listener: Any = None

    @property
    def webui_url(self) -> str:
        """This instance's status page, as the master's UI links it."""
        return f"http://{self.hostname}:{self.port}"

    def _info(self) -> dict:
        options = self.options
        return {
            "marathon_config": {
                "master": options.master,
                "framework_name": options.framework_name,
                "hostname": self.hostname,
                "ha": bool(options.zk),
                "checkpoint": options.checkpoint,
                "failover_timeout": int(options.failover_timeout),
                "local_port_min": 10000,
                "local_port_max": 20000,
                "mesos_role": options.mesos_role,
                "mesos_user": self._user(),
                "reconciliation_interval": options.reconciliation_interval,
                "webui_url": self.webui_url,
            },
            "zookeeper_config": {
                "zk": options.zk,
                "zk_session_timeout": options.zk_session_timeout,
                "zk_timeout": options.zk_session_timeout,
                "zk_max_versions": MAX_VERSIONS,
            },
            "http_config": {"http_port": self.port, "https_port": None},
        }

    def _prometheus_families(self) -> list[Metric]:
        return marathon_metrics(
            self.marathon,
            elected=self.election.elected if self.election is not None else True,
            subscribed=self.driver is not None and self.driver.connected,
            zk_state=self.zk.state if self.zk is not None else None,
        )

    def _user(self) -> str:
        return self.options.mesos_user or getpass.getuser()

    def startService(self) -> None:
        api = MarathonAPI(self.marathon, None, {}, self._prometheus_families)
        self._listener = self.reactor.listenTCP(
            self.options.http_port, make_site(api), interface=self.options.http_address
        )
        self.port = self._listener.getHost().port
        api.info = self._info()
        if self.zk is None:
            api.leadership = StandaloneLeadership(
                f"{self.hostname}:{self.port}", self.lose_leadership
            )
            self._elected()
        else:
            ip = advertised_ip(self.options.http_address, None)
            self.election = FrameworkElection(
                self.reactor,
                self.zk,
                instance_info(str(uuid.uuid4()), self.hostname, ip, self.port),
                self._elected,
                self.lose_leadership,
                self.options.zk_session_timeout / 1000.0,
                self.store,
            )
            api.leadership = ElectedLeadership(self.election)
            self.election.start()
        super().startService()
        log.info("Marathon API on port {port}", port=self.port)

    @defer.inlineCallbacks
    def _elected(self):
        """Read the stored state, then subscribe: launching waits for reconciliation."""
        snapshot = yield self.marathon.state.load()
        self.marathon.restore(snapshot)
        log.info(
            "Recovered {apps} app(s) and {tasks} task record(s)",
            apps=len(snapshot.apps),
            tasks=len(snapshot.tasks),
        )
        framework_info: dict[str, Any] = {
            "user": self._user(),
            "name": self.options.framework_name,
            "hostname": self.hostname,
            "failover_timeout": self.options.failover_timeout,
            "checkpoint": self.options.checkpoint,
            "roles": [self.options.mesos_role],
            "capabilities": [{"type": "MULTI_ROLE"}],
            "webui_url": self.webui_url,
        }
        if snapshot.framework_id:
            framework_info["id"] = {"value": snapshot.framework_id}
        self.driver = SchedulerDriver(
            self.reactor,
            self.options.master,
            framework_info,
            self.marathon,
            self.options.zk_session_timeout / 1000.0,
        )
        self.driver.setServiceParent(self)
        self.marathon.start()

    def lose_leadership(self, reason: str) -> None:
        if self.exit_code or not self.running:
            return  # already leaving, or stopping on purpose (the session ends with it)
        self.exit_code = 1
        log.critical("Lost leadership: {reason}. Exiting", reason=reason)
        self.marathon.stop()
        self.health_checker.stop()
        self.on_exit()

    def _exit(self) -> None:
        self.reactor.callLater(EXIT_GRACE_SECONDS, os._exit, self.exit_code)
        self.reactor.stop()

    @defer.inlineCallbacks
    def stopService(self):
        self.running = False
        self.marathon.stop()
        self.health_checker.stop()
        if self.election is not None:
            self.election.stop()
        yield super().stopService()
        if self._listener is not None:
            yield self._listener.stopListening()
        if self.zk is not None:
            yield self.zk.stop()
