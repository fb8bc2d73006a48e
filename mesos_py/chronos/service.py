"""Wiring of ``mesos-py chronos``: flags -> election -> scheduler + driver -> HTTP API."""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import socket
import uuid
from typing import Any

from twisted.application import service
from twisted.internet import defer
from twisted.logger import Logger

from mesos_py.chronos.api import ChronosAPI
from mesos_py.chronos.jobs import Defaults
from mesos_py.chronos.prometheus_metrics import chronos_metrics
from mesos_py.chronos.scheduler import ChronosScheduler, Settings
from mesos_py.common.flags import Flag, add_flags, boolean, duration
from mesos_py.common.http import make_site
from mesos_py.common.identity import advertised_ip
from mesos_py.common.prometheus import Metric
from mesos_py.common.zk_layout import master_address, parse_zk_url
from mesos_py.common.zookeeper import ZooKeeper
from mesos_py.framework.driver import SchedulerDriver
from mesos_py.framework.election import FrameworkElection, instance_info
from mesos_py.framework.store import MemoryStore, ZooKeeperStore

log = Logger()

CHRONOS_FLAGS = [
    Flag("master", "the master: host:port or zk://host:port[,...]/mesos", "127.0.0.1:5050"),
    Flag(
        "zk",
        "ZooKeeper URL for leader election and the jobs, zk://host:port[,...]/chronos "
        "(unset: one instance keeping its jobs in memory, for local use only)",
        None,
    ),
    Flag("http_port", "port of the REST API", 4400, int),
    Flag("http_address", "address the REST API listens on", "0.0.0.0"),
    Flag("hostname", "hostname advertised to the other instances and the master", None),
    Flag("advertise_ip", "IP address the other instances proxy to", None),
    Flag("zk_session_timeout", "ZooKeeper session timeout", 10.0, duration),
    Flag("mesos_framework_name", "framework name", "chronos"),
    Flag("mesos_role", "role of the framework", "*"),
    Flag(
        "failover_timeout",
        "how long the master keeps the framework without a leader",
        604800.0,
        duration,
    ),
    Flag(
        "mesos_checkpoint",
        "ask agents to checkpoint the tasks, so that they survive an agent restart",
        True,
        boolean,
    ),
    Flag("failure_retry", "delay before a failed attempt is retried", 60.0, duration),
    Flag(
        "task_epsilon",
        "epsilon of jobs that set none: later than this, an instant is skipped",
        60.0,
        duration,
    ),
    Flag("mesos_task_cpu", "cpus of a job that sets none", 0.1, float),
    Flag("mesos_task_mem", "mem (MB) of a job that sets none", 128.0, float),
    Flag("mesos_task_disk", "disk (MB) of a job that sets none", 256.0, float),
    Flag("user", "runAsUser of a job that sets none (default: the user running chronos)", None),
]


def add_chronos_arguments(parser: argparse.ArgumentParser) -> None:
    add_flags(parser, CHRONOS_FLAGS)


class ChronosService(service.Service):
    """One Chronos instance: the API always, the scheduler while it leads."""

    def __init__(self, options: argparse.Namespace, reactor: Any) -> None:
        self.options = options
        self.reactor = reactor
        self.exit_code = 0
        self.hostname = options.hostname or socket.gethostname()
        self.ip = advertised_ip(options.http_address, options.advertise_ip)
        self.settings = Settings(
            defaults=Defaults(
                cpus=options.mesos_task_cpu,
                mem=options.mesos_task_mem,
                disk=options.mesos_task_disk,
                epsilon=dt.timedelta(seconds=options.task_epsilon),
                run_as_user=options.user if options.user is not None else getpass.getuser(),
            ),
            failure_retry=options.failure_retry,
            role=options.mesos_role,
        )
        self.zk: ZooKeeper | None = None
        self.election: FrameworkElection | None = None
        self.store: Any = MemoryStore()
        if options.zk:
            url = parse_zk_url(options.zk)  # a ValueError is a bad flag: reported by the CLI
            self.zk = ZooKeeper(reactor, url, options.zk_session_timeout)
            self.store = ZooKeeperStore(self.zk, url.child("state"))
        self.scheduler: ChronosScheduler | None = None
        self.driver: SchedulerDriver | None = None
        self.port: Any = None

    # ------------------------------------------------------------- lifecycle

    def startService(self) -> None:
        super().startService()
        api = ChronosAPI(
            self.reactor, self._serving_scheduler, self._leader_address, self._prometheus_families
        )
        self.port = self.reactor.listenTCP(
            self.options.http_port, make_site(api), interface=self.options.http_address
        )
        self.http_port = self.port.getHost().port
        log.info("Chronos API on port {port}", port=self.http_port)
        if self.zk is None:
            self._elected().addErrback(self._fail)
            return
        info = instance_info(
            f"chronos-{uuid.uuid4().hex[:8]}", self.hostname, self.ip, self.http_port
        )
        self.election = FrameworkElection(
            self.reactor,
            self.zk,
            info,
            self._elected,
            self._lost,
            self.options.zk_session_timeout,
            self.store,
        )
        self.election.start()

    @defer.inlineCallbacks
    def stopService(self):
        super().stopService()
        if self.scheduler is not None:
            self.scheduler.stop()
        if self.driver is not None:
            yield self.driver.stopService()
        if self.election is not None:
            self.election.stop()
        if self.zk is not None:
            yield self.zk.stop()
        if self.port is not None:
            yield self.port.stopListening()

    @defer.inlineCallbacks
    def _elected(self):
        scheduler = ChronosScheduler(self.reactor, self.store, self.settings)
        scheduler.on_fatal = self._lost
        yield scheduler.load()
        framework_info: dict[str, Any] = {
            "user": self.settings.defaults.run_as_user or getpass.getuser(),
            "name": self.options.mesos_framework_name,
            "roles": [self.options.mesos_role],
            "capabilities": [{"type": "MULTI_ROLE"}],
            "failover_timeout": self.options.failover_timeout,
            "checkpoint": self.options.mesos_checkpoint,
            "hostname": self.hostname,
            "webui_url": f"http://{self.ip}:{self.http_port}",
        }
        if scheduler.framework_id:
            framework_info["id"] = {"value": scheduler.framework_id}
        self.driver = SchedulerDriver(
            self.reactor,
            self.options.master,
            framework_info,
            scheduler,
            self.options.zk_session_timeout,
        )
        scheduler.start(self.driver)
        self.driver.startService()
        self.scheduler = scheduler
        log.info("Leading: {jobs} job(s) scheduled", jobs=len(scheduler.jobs))

    def _fail(self, failure: Any) -> None:
        self._lost(f"could not start: {failure.getErrorMessage()}")

    def _lost(self, reason: str) -> None:
        """Leadership is gone for good: stop acting at once; systemd restarts us."""
        if not self.running:  # our own shutdown closed the session
            return
        log.error("Chronos instance stops: {reason}", reason=reason)
        self.exit_code = 1
        if self.scheduler is not None:
            self.scheduler.stop()
            self.scheduler = None
        if self.reactor.running:
            self.reactor.stop()

    # ---------------------------------------------------------- for the API

    def _serving_scheduler(self) -> ChronosScheduler | None:
        if self.election is not None and not self.election.elected:
            return None
        return self.scheduler

    def _prometheus_families(self) -> list[Metric]:
        scheduler = self._serving_scheduler()
        return chronos_metrics(
            scheduler,
            elected=scheduler is not None,
            subscribed=self.driver is not None and self.driver.connected,
            zk_state=self.zk.state if self.zk is not None else None,
        )

    def _leader_address(self) -> str | None:
        if self.election is None:
            return f"{self.ip}:{self.http_port}" if self.scheduler is not None else None
        if self.election.elected:
            return f"{self.ip}:{self.http_port}"
        if self.election.leading:  # recovering: not serving yet, nor anyone else
            return None
        info = self.election.leader_info
        return master_address(info) if info is not None else None
