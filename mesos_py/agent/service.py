"""Wiring of the agent daemon: flags -> Agent -> HTTP server -> Twisted service.

Nothing here is global, so one process can run several agents (``mesos-py
local``): each has its own work_dir, port, master link and HTTP site.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from twisted.application import service

from mesos_py.agent.agent import Agent, AgentConfig
from mesos_py.agent.cgroups import Backend, CgroupError, make_backend
from mesos_py.agent.flags import AGENT_FLAGS, flags_for_state
from mesos_py.agent.http_endpoints import build_resource_tree
from mesos_py.agent.resources_detect import host_facts, total_resources
from mesos_py.common.attributes import parse_attributes
from mesos_py.common.flags import add_flags, value_from_file
from mesos_py.common.http import make_site
from mesos_py.common.identity import advertised_ip
from mesos_py.common.zk_detector import LeaderDetector
from mesos_py.common.zk_layout import master_address, parse_zk_url
from mesos_py.common.zookeeper import ZooKeeper


def add_agent_arguments(parser: argparse.ArgumentParser) -> None:
    add_flags(parser, AGENT_FLAGS)


def _master_address(text: str | None) -> str:
    if not text:
        raise ValueError("--master is required (host:port, zk://... or file:///path)")
    text = value_from_file(text, "master")
    if text.startswith("zk://"):
        try:
            parse_zk_url(text)
        except ValueError as exc:
            raise ValueError(f"--master: {exc}") from None
        return text
    if "://" in text:
        raise ValueError(f"--master={text}: expected host:port or zk://host:port,.../path")
    host, sep, port = text.rpartition(":")
    if not sep:
        return f"{text}:5050"
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--master={text}: expected host:port")
    return text


def make_agent_config(options: argparse.Namespace) -> AgentConfig:
    """Check the flags and derive the agent's configuration; ValueError says what is wrong."""
    if not options.work_dir:
        raise ValueError("--work_dir is required")
    work_dir = os.path.abspath(options.work_dir)
    try:
        resources = total_resources(options.resources, options.default_role, host_facts(work_dir))
    except (ValueError, OSError) as exc:
        raise ValueError(f"--resources: {exc}") from None
    try:
        attributes = parse_attributes(options.attributes) if options.attributes else []
    except ValueError as exc:
        raise ValueError(f"--attributes: {exc}") from None
    ip = advertised_ip(options.ip, options.advertise_ip)
    return AgentConfig(
        master=_master_address(options.master),
        work_dir=work_dir,
        hostname=options.hostname or ip,
        advertise_ip=ip,
        port=options.port,
        resources=resources,
        attributes=attributes,
        flags=flags_for_state(options),
        switch_user=options.switch_user,
        executor_registration_timeout=options.executor_registration_timeout,
        executor_shutdown_grace_period=options.executor_shutdown_grace_period,
        registration_backoff_factor=options.registration_backoff_factor,
        status_update_retry_interval_min=options.status_update_retry_interval_min,
        executor_environment=options.executor_environment_variables,
        recover=options.recover,
        executor_reregistration_timeout=options.executor_reregistration_timeout,
        cgroups_enable_cfs=options.cgroups_enable_cfs,
        cgroups_pids_max=options.cgroups_pids_max,
        gc_delay=options.gc_delay,
        gc_disk_headroom=options.gc_disk_headroom,
        disk_watch_interval=options.disk_watch_interval,
    )


def make_isolator(options: argparse.Namespace) -> Backend | None:
    """The cgroups backend ``--isolation`` asks for (v1 or v2, as the host has)."""
    try:
        return make_backend(
            options.isolation,
            options.cgroups_hierarchy,
            options.cgroups_root,
            options.cgroups_enable_cfs,
        )
    except (CgroupError, OSError) as exc:
        raise ValueError(f"--isolation={options.isolation}: {exc}") from None


class AgentService(service.MultiService):
    """One agent: its HTTP server and its link to the master."""

    def __init__(self, options: argparse.Namespace, reactor: Any) -> None:
        super().__init__()
        self.reactor = reactor
        self.agent = Agent(make_agent_config(options), reactor, isolator=make_isolator(options))
        self.site = make_site(build_resource_tree(self.agent, self._zk_state))
        self._bind_ip = options.ip
        self._listening = None
        # Stopping leaves the tasks running for the next agent to recover, unless
        # this is set (SIGUSR1, or an embedded agent): then it kills them first.
        self.shut_down_on_stop = False
        self.zk: ZooKeeper | None = None
        if self.agent.config.master.startswith("zk://"):
            self.zk = ZooKeeper(
                reactor, parse_zk_url(self.agent.config.master), options.zk_session_timeout
            )
            LeaderDetector(self.zk, self._leader_changed)  # it runs on the session's events

    def _zk_state(self) -> str | None:
        return self.zk.state if self.zk is not None else None

    def _leader_changed(self, _node: str | None, info: dict | None) -> None:
        self.agent.link.follow(master_address(info) if info is not None else None)

    @property
    def port(self) -> int:
        """The bound port (the real one with ``--port=0``) once started."""
        return self.agent.port

    def startService(self) -> None:
        os.makedirs(self.agent.config.work_dir, exist_ok=True)
        # listenTCP raises CannotListenError at once when the port is taken.
        self._listening = self.reactor.listenTCP(
            self.agent.config.port, self.site, interface=self._bind_ip
        )
        self.agent.config.port = self._listening.getHost().port
        super().startService()
        self.agent.start()
        if self.zk is not None:
            self.zk.start()

    def stopService(self) -> Any:
        super().stopService()
        d = self.agent.shutdown() if self.shut_down_on_stop else self.agent.stop()
        if self.zk is not None:
            d.addBoth(lambda _: self.zk.stop())
        if self._listening is not None:
            listening, self._listening = self._listening, None
            d.addBoth(lambda _: listening.stopListening())
        return d


def make_agent_service(options: argparse.Namespace, reactor: Any) -> service.MultiService:
    """The agent daemon as a service; ``.port`` / ``.agent.port`` give the bound port."""
    return AgentService(options, reactor)
