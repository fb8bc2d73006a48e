"""Wiring of the master daemon: flags -> Master -> HTTP tree -> Twisted services."""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from twisted.application import service
from twisted.web import http, resource, server

from mesos_py.common.flags import add_flags, flags_as_strings
from mesos_py.common.http import GetResource, HTTPError, make_site, write_error
from mesos_py.common.identity import BUILD_INFO, advertised_ip
from mesos_py.master import state_json
from mesos_py.master.agent_api import AgentAPI
from mesos_py.master.flags import MASTER_FLAGS, parse_weights
from mesos_py.master.leadership import StandaloneLeadership
from mesos_py.master.master import Master, MasterConfig
from mesos_py.master.scheduler_api import SchedulerAPI


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
        request.setHeader(b"location", f"//{leader['hostname']}:{leader['port']}".encode())
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


def _args(request: server.Request) -> dict[str, str]:
    return {k.decode(): v[0].decode(errors="replace") for k, v in request.args.items() if v}


def build_resource_tree(master: Master, leadership: Any) -> resource.Resource:
    def leader_only(produce: Any) -> GetResource:
        def guarded(request: server.Request) -> Any:
            leadership.require_leader(request)
            return produce(request)

        return GetResource(guarded)

    def tasks(request: server.Request) -> Any:
        try:
            return state_json.tasks(master, _args(request))
        except ValueError as exc:
            raise HTTPError(http.BAD_REQUEST, f"Invalid query: {exc}") from None

    def frameworks(request: server.Request) -> Any:
        wanted = _args(request).get("framework_id")
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
        wanted = _args(request).get("slave_id")
        return {
            "slaves": [
                state_json.agent_json(master, a)
                for a in master.agents.values()
                if wanted in (None, a.agent_id)
            ],
            "recovered_slaves": [],
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

    scheduler = SchedulerAPI(master, leadership)
    api = resource.Resource()
    v1 = resource.Resource()
    api.putChild(b"v1", v1)
    v1.putChild(b"scheduler", scheduler)
    master_tree.putChild(b"api", api)

    metrics = resource.Resource()
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
    return root


class MasterService(service.MultiService):
    """The master daemon: the HTTP server and the master's timers."""

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
        )
        self.master = Master(self.config, reactor, flags_as_strings(options, MASTER_FLAGS))
        self.leadership = StandaloneLeadership(self.master.master_info)
        self.site = make_site(
            build_resource_tree(self.master, self.leadership), options.max_body_bytes
        )
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
            self.config.port, self.site, interface=self._bind_ip
        )
        bound = self._listening.getHost().port
        if bound != self.config.port:
            self.config = dataclasses.replace(self.config, port=bound)
            self.master.config = self.config
            self.leadership.leader_info = self.master.master_info
        super().startService()
        self.master.start()

    def stopService(self) -> Any:
        self.master.stop()
        super().stopService()
        return self._listening.stopListening() if self._listening else None
