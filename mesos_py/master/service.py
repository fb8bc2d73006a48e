"""Wiring of the master daemon: flags -> Master -> HTTP tree -> Twisted services."""

from __future__ import annotations

import argparse
import dataclasses
import os
import time
from typing import Any

from twisted.application import service
from twisted.internet import defer
from twisted.logger import Logger
from twisted.web import http, resource, server

from mesos_py.common.flags import add_flags, flags_as_strings, value_from_file
from mesos_py.common.http import (
    GetResource,
    HTTPError,
    PrometheusResource,
    make_site,
    query_args,
    write_error,
)
from mesos_py.common.identity import BUILD_INFO, advertised_ip
from mesos_py.common.zk_layout import parse_zk_url
from mesos_py.common.zookeeper import ZooKeeper
from mesos_py.master import registry as reg
from mesos_py.master import state_json
from mesos_py.master.agent_api import AgentAPI
from mesos_py.master.flags import MASTER_FLAGS, parse_weights
from mesos_py.master.leadership import (
    StandaloneLeadership,
    ZooKeeperLeadership,
    leader_authority,
)
from mesos_py.master.master import Master, MasterConfig
from mesos_py.master.operator_api import (
    OperatorAPI,
    add_maintenance_endpoints,
    add_role_endpoints,
)
from mesos_py.master.prometheus_metrics import master_metrics
from mesos_py.master.registrar import FileStore, MemoryStore, Registrar, ZooKeeperStore
from mesos_py.master.scheduler_api import SchedulerAPI
from mesos_py.webui.site import WebUI

log = Logger()
# A master that lost leadership stops its services; this bounds how long that may take.
EXIT_GRACE_SECONDS = 10.0
# After a failover every agent and framework connects within about a second.  With
# Twisted's default backlog (50) the kernel drops the excess SYNs and clients retry
# only after 1 s, then 3 s: seconds added to the failover.
LISTEN_BACKLOG = 4096


def add_master_arguments(parser: argparse.ArgumentParser) -> None:
    add_flags(parser, MASTER_FLAGS)


class _Redirect(resource.Resource):
    """``/master/redirect``: 307 to the leading master, 503 when none is known."""

    isLeaf = True

    def __init__(self, leadership: Any) -> None:
        super().__init__()
        self.leadership = leadership

    def render(self, request: server.Request) -> bytes:
        if request.postpath and any(request.postpath):
            request.setResponseCode(http.NOT_FOUND)
            return b""
        leader = self.leadership.leader_info
        if leader is None:
            return write_error(request, HTTPError(http.SERVICE_UNAVAILABLE, "No leader elected"))
        request.setResponseCode(http.TEMPORARY_REDIRECT)
        request.setHeader(b"location", f"//{leader_authority(leader)}".encode())
        return b""


class _Teardown(resource.Resource):
    """``POST /master/teardown`` with the form field ``frameworkId``."""

    isLeaf = True

    def __init__(self, master: Master, leadership: Any) -> None:
        super().__init__()
        self.master = master
        self.leadership = leadership

    def render_POST(self, request: server.Request) -> bytes:
        try:
            self.leadership.require_leader(request)
            values = request.args.get(b"frameworkId")
            if not values:
                raise HTTPError(http.BAD_REQUEST, "Missing 'frameworkId' query parameter")
            framework_id = values[0].decode(errors="replace")
            framework = self.master.frameworks.get(framework_id)
            if framework is None:
                raise HTTPError(http.BAD_REQUEST, f"No framework found with ID {framework_id}")
        except HTTPError as error:
            return write_error(request, error)
        self.master.remove_framework(framework)
        return b""


class _Health(resource.Resource):
    isLeaf = True

    def render_GET(self, request: server.Request) -> bytes:
        return b""


def build_resource_tree(master: Master, leadership: Any, zk: Any = None) -> resource.Resource:
    def leader_only(produce: Any) -> GetResource:
        def guarded(request: server.Request) -> Any:
            leadership.require_leader(request)
            return produce(request)

        return GetResource(guarded)

    def tasks(request: server.Request) -> Any:
        try:
            return state_json.tasks(master, query_args(request))
        except ValueError as exc:
            raise HTTPError(http.BAD_REQUEST, f"Invalid query: {exc}") from None

    def frameworks(request: server.Request) -> Any:
        wanted = query_args(request).get("framework_id")
        return {
            "frameworks": [
                state_json.framework_json(f)
                for f in master.frameworks.values()
                if wanted in (None, f.framework_id)
            ],
            "completed_frameworks": [
                state_json.framework_json(f)
                for f in master.completed_frameworks
                if wanted in (None, f.framework_id)
            ],
            "unregistered_frameworks": [],
        }

    def slaves(request: server.Request) -> Any:
        wanted = query_args(request).get("slave_id")
        return {
            "slaves": [
                state_json.agent_json(master, a)
                for a in master.agents.values()
                if wanted in (None, a.agent_id)
            ],
            "recovered_slaves": list(master.recovered_agents.values()),
        }

    def state(request: server.Request) -> Any:
        return state_json.state(master, leadership.leader_info)

    master_tree = resource.Resource()
    master_tree.putChild(b"state", leader_only(state))
    master_tree.putChild(b"state.json", leader_only(state))
    master_tree.putChild(b"state-summary", leader_only(lambda r: state_json.state_summary(master)))
    master_tree.putChild(b"frameworks", leader_only(frameworks))
    master_tree.putChild(b"slaves", leader_only(slaves))
    master_tree.putChild(b"tasks", leader_only(tasks))
    master_tree.putChild(b"health", _Health())
    master_tree.putChild(b"redirect", _Redirect(leadership))
    master_tree.putChild(b"teardown", _Teardown(master, leadership))
    master_tree.putChild(b"flags", GetResource(lambda r: {"flags": master.flags}))

    add_maintenance_endpoints(master_tree, master, leadership)
    add_role_endpoints(master_tree, master, leadership)
    api = resource.Resource()
    v1 = OperatorAPI(master, leadership)
    api.putChild(b"v1", v1)
    v1.putChild(b"scheduler", SchedulerAPI(master, leadership))
    v1.putChild(b"operator", v1)  # pymesos' operator driver posts here
    master_tree.putChild(b"api", api)

    metrics = PrometheusResource(lambda: master_metrics(master, zk))
    metrics.putChild(b"snapshot", GetResource(lambda r: state_json.metrics(master)))

    internal = resource.Resource()
    internal.putChild(b"agent", AgentAPI(master, leadership))

    root = resource.Resource()
    root.putChild(b"master", master_tree)
    root.putChild(b"api", api)
    root.putChild(b"metrics", metrics)
    root.putChild(b"internal", internal)
    root.putChild(b"health", _Health())
    root.putChild(b"redirect", _Redirect(leadership))
    root.putChild(b"version", GetResource(lambda r: dict(BUILD_INFO)))
    root.putChild(b"state", leader_only(state))
    for name in (b"roles", b"weights", b"quota"):  # Mesos' master also answers at the root
        root.putChild(name, master_tree.children[name])
    return root


class MasterService(service.MultiService):
    """The master daemon: the HTTP server, the master's timers, and (with --zk) the election.

    ``exit_code`` becomes 1 when leadership is lost; ``on_exit`` (stopping the
    reactor by default) then ends the process so that its supervisor restarts it.
    """

    def __init__(self, options: argparse.Namespace, reactor: Any) -> None:
        super().__init__()
        self.reactor = reactor
        ip = advertised_ip(options.ip, options.advertise_ip)
        self.config = MasterConfig(
            hostname=options.hostname or ip,
            ip=ip,
            port=options.port,
            allocation_interval=options.allocation_interval,
            offer_timeout=options.offer_timeout,
            agent_ping_timeout=options.agent_ping_timeout,
            max_agent_ping_timeouts=options.max_agent_ping_timeouts,
            max_completed_frameworks=options.max_completed_frameworks,
            max_completed_tasks_per_framework=options.max_completed_tasks_per_framework,
            cluster=options.cluster,
            weights=parse_weights(options.weights),
            agent_reregister_timeout=options.agent_reregister_timeout,
            max_unreachable_tasks_per_framework=options.max_unreachable_tasks_per_framework,
            recovery_agent_removal_limit=options.recovery_agent_removal_limit,
            registry_gc_interval=options.registry_gc_interval,
            registry_max_agent_age=options.registry_max_agent_age,
            registry_max_agent_count=options.registry_max_agent_count,
        )
        self.exit_code = 0
        self.on_exit = self._exit
        self.zk: ZooKeeper | None = None
        zk_url = parse_zk_url(value_from_file(options.zk, "zk")) if options.zk else None
        if zk_url is not None:
            self.zk = ZooKeeper(reactor, zk_url, options.zk_session_timeout)
        if options.registry == "in_memory":
            store: Any = MemoryStore()
        elif self.zk is not None:
            store = ZooKeeperStore(self.zk, zk_url.registry_path)
        elif options.work_dir:
            store = FileStore(os.path.join(options.work_dir, "registry"))
        else:
            log.info("No --work_dir: the registry is kept in memory only")
            store = MemoryStore()
        self.registrar = Registrar(store, self.lose_leadership, clock=reactor)
        self.master = Master(
            self.config, reactor, flags_as_strings(options, MASTER_FLAGS), self.registrar
        )
        self.master.fail_over = self.fail_over
        self.leadership: Any
        if self.zk is not None:
            self.master.elected_time = None
            self.leadership = ZooKeeperLeadership(
                reactor,
                self.zk,
                lambda: self.master.master_info,
                self._elected,
                self.lose_leadership,
                options.zk_session_timeout,
            )
        else:
            self.leadership = StandaloneLeadership(self.master.master_info)
        root = build_resource_tree(self.master, self.leadership, self.zk)
        webui = WebUI(self.master, self.leadership, self.zk, reactor)
        root.putChild(b"", webui)  # the overview at /
        root.putChild(b"ui", webui)
        self.site = make_site(root, options.max_body_bytes)
        self._bind_ip = options.ip
        self._listening = None

    @property
    def port(self) -> int:
        """The bound port (the real one with ``--port=0``)."""
        return self.config.port

    def startService(self) -> None:
        if self.running:  # `mesos-py local` starts it early to learn the port
            return
        # listenTCP raises CannotListenError at once when the port is taken.
        self._listening = self.reactor.listenTCP(
            self.config.port, self.site, backlog=LISTEN_BACKLOG, interface=self._bind_ip
        )
        bound = self._listening.getHost().port
        if bound != self.config.port:
            self.config = dataclasses.replace(self.config, port=bound)
            self.master.config = self.config
            if self.zk is None:
                self.leadership.leader_info = self.master.master_info
        super().startService()
        if self.zk is not None:
            self.leadership.start()
            return
        recovered: list = []
        self.registrar.recover().addBoth(recovered.append)  # file and memory answer at once
        if not isinstance(recovered[0], reg.Registry):
            recovered[0].raiseException()
        self.master.recover(recovered[0])
        self.master.start()

    def _elected(self) -> defer.Deferred:
        """Our node leads: read the registry, then serve."""

        def recovered(registry: reg.Registry) -> None:
            self.master.elected_time = time.time()
            self.master.recover(registry)
            self.master.start()
            log.info(
                "Registry recovered in {ms:.0f} ms: {n} agent(s)",
                ms=self.registrar.fetch_ms,
                n=len(registry.agents),
            )

        return self.registrar.recover().addCallback(recovered)

    def lose_leadership(self, reason: str) -> None:
        """Mesos' behaviour: a master that can no longer lead exits, and is restarted."""
        self.fail_over(f"Lost leadership: {reason}")

    def fail_over(self, reason: str) -> None:
        """Going on is unsafe: exit with status 1 (Mesos' EXIT(EXIT_FAILURE))."""
        if self.exit_code:
            return
        self.exit_code = 1
        log.critical("{reason}. Exiting so that the supervisor restarts this master", reason=reason)
        self.on_exit()

    def _exit(self) -> None:
        self.reactor.callLater(EXIT_GRACE_SECONDS, os._exit, self.exit_code)
        self.reactor.stop()

    @defer.inlineCallbacks
    def stopService(self):
        self.master.stop()
        self.registrar.flush()
        if self.zk is not None:
            self.leadership.stop()
        yield super().stopService()
        if self._listening is not None:
            yield self._listening.stopListening()
        if self.zk is not None:
            # Closing the session removes our node at once: the next master takes over
            # without waiting for the session timeout.
            yield self.zk.stop()
