"""Chronos' REST API on twisted.web, under ``/scheduler/...`` and ``/v1/scheduler/...``.

Errors are Chronos' ApiResult ``{"message": ..., "status": ...}`` with its
status codes; successful changes answer 204 once they are stored.  A
non-leader proxies every request to the leader, as Chronos does (the real
client would not follow a redirect of a POST), except ``/ping``, the leader
question and ``/metrics/prometheus``: every instance answers its own view.
``/`` and ``/ui/...`` are the HTML status pages (``pages`` and
``webui.framework_site``); a standby's names the leader.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from twisted.internet import defer
from twisted.logger import Logger
from twisted.web import http, resource, server
from twisted.web.client import Agent, readBody
from twisted.web.http_headers import Headers
from twisted.web.iweb import IBodyProducer
from zope.interface import implementer

from mesos_py.chronos import graph, pages
from mesos_py.chronos.jobs import ApiError, parse_job
from mesos_py.chronos.scheduler import PERCENTILES, ChronosScheduler
from mesos_py.common import prometheus
from mesos_py.common.prometheus import Metric
from mesos_py.framework.store import fenced_out, first_failure
from mesos_py.webui.framework_site import FrameworkPages, is_page_path

log = Logger()

_STATS = {*PERCENTILES, "mean"}
# Request headers a proxied request keeps.
_FORWARDED = (b"content-type", b"accept", b"authorization")


def _write(request: server.Request, code: int, body: Any = None, text: str | None = None) -> bytes:
    request.setResponseCode(code)
    if text is not None:
        request.setHeader(b"content-type", b"text/plain; charset=utf-8")
        return text.encode()
    if body is None:
        return b""
    request.setHeader(b"content-type", b"application/json")
    return json.dumps(body).encode()


def _error(request: server.Request, error: ApiError) -> bytes:
    status = http.RESPONSES.get(error.code, b"Error").decode()
    return _write(request, error.code, {"message": error.message, "status": status})


def _arg(request: server.Request, name: str) -> str | None:
    values = request.args.get(name.encode())
    return values[0].decode(errors="replace") if values else None


@implementer(IBodyProducer)
class _Body:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.length = len(data)

    def startProducing(self, consumer: Any) -> defer.Deferred:
        consumer.write(self.data)
        return defer.succeed(None)

    def pauseProducing(self) -> None:
        pass

    def stopProducing(self) -> None:
        pass


class ChronosAPI(resource.Resource):
    """The whole HTTP surface; ``leader()`` says who serves (self, an address, or nobody)."""

    isLeaf = True

    def __init__(
        self,
        reactor: Any,
        scheduler: Callable[[], ChronosScheduler | None],
        leader_address: Callable[[], str | None],
        prometheus_families: Callable[[], list[Metric]] | None = None,
    ) -> None:
        super().__init__()
        self.reactor = reactor
        self.scheduler = scheduler
        self.leader_address = leader_address
        self.prometheus_families = prometheus_families
        self._agent = Agent(reactor, connectTimeout=5)
        self.pages = FrameworkPages(
            "Chronos",
            lambda: self.scheduler() is not None,
            leader_address,
            lambda segments, args: pages.route(self.scheduler(), leader_address(), segments, args),
        )
        self._routes: list[tuple[bytes, re.Pattern, Callable]] = [
            (b"GET", re.compile(r"/scheduler/jobs"), self._list),
            (b"GET", re.compile(r"/scheduler/jobs/search"), self._search),
            (b"POST", re.compile(r"/scheduler/iso8601"), self._add_scheduled),
            (b"PUT", re.compile(r"/scheduler/iso8601"), self._add_scheduled),
            (b"POST", re.compile(r"/scheduler/dependency"), self._add_dependent),
            (b"PUT", re.compile(r"/scheduler/dependency"), self._add_dependent),
            (b"GET", re.compile(r"/scheduler/job/stat/(?P<name>[^/]+)"), self._stat),
            (b"GET", re.compile(r"/scheduler/job/(?P<name>[^/]+)"), self._get),
            (b"PUT", re.compile(r"/scheduler/job/(?P<name>[^/]+)"), self._run),
            (b"DELETE", re.compile(r"/scheduler/job/(?P<name>[^/]+)"), self._delete),
            (b"DELETE", re.compile(r"/scheduler/task/kill/(?P<name>[^/]+)"), self._kill),
            (b"GET", re.compile(r"/scheduler/graph/csv"), self._graph_csv),
            (b"GET", re.compile(r"/scheduler/stats/(?P<which>[^/]+)"), self._stats),
        ]

    # ------------------------------------------------------------- dispatch

    def render(self, request: server.Request) -> bytes | int:
        if request.method in (b"GET", b"HEAD") and is_page_path(request.path):
            return self.pages.render(request)
        path = re.sub(r"/+", "/", unquote(request.path.decode(errors="replace")))
        if path.rstrip("/") == "/ping":
            return _write(request, 200, text="pong")
        if path.startswith("/v1/"):
            path = path[3:]
        path = path.rstrip("/") or "/"
        if path in ("/scheduler/leader", "/leader"):
            leader = self.leader_address()
            if leader is None:
                return _error(request, ApiError(404, "There is no leader"))
            return _write(request, 200, {"leader": leader})
        if path == "/metrics/prometheus" and self.prometheus_families is not None:
            request.setHeader(b"content-type", prometheus.CONTENT_TYPE.encode())
            return prometheus.encode(self.prometheus_families())
        scheduler = self.scheduler()
        if scheduler is None:
            return self._proxy(request)
        try:
            if path == "/metrics":
                return _write(request, 200, self._metrics(scheduler))
            handler, params = self._route(request.method, path)
            result = handler(scheduler, request, **params)
        except ApiError as error:
            return _error(request, error)
        except Exception as exc:  # never let a request take the daemon down
            log.failure("{method} {path} failed", method=request.method, path=path)
            return _error(request, ApiError(500, f"Internal error: {exc}"))
        if isinstance(result, defer.Deferred):
            result.addCallbacks(
                lambda _: self._finish(request, _write(request, 204)),
                lambda f: self._finish(request, self._failed(request, f)),
            )
            return server.NOT_DONE_YET
        return result

    def _route(self, method: bytes, path: str) -> tuple[Callable, dict[str, str]]:
        allowed = []
        for route_method, pattern, handler in self._routes:
            match = pattern.fullmatch(path)
            if match is None:
                continue
            if route_method == method:
                return handler, match.groupdict()
            allowed.append(route_method.decode())
        if allowed:
            raise ApiError(
                405, f"Method {method.decode()} not allowed on {path}; use {', '.join(allowed)}"
            )
        raise ApiError(404, f"No such resource: {path}")

    @staticmethod
    def _finish(request: server.Request, body: bytes) -> None:
        if not request._disconnected:
            request.write(body)
            request.finish()

    @staticmethod
    def _failed(request: server.Request, failure: Any) -> bytes:
        if failure.check(ApiError):
            return _error(request, failure.value)
        if fenced_out(failure):  # deposed meanwhile: the instance is stepping down
            reason = first_failure(failure).value
            return _error(request, ApiError(503, f"Not the leader any more: {reason}"))
        log.failure("Request failed", failure)
        return _error(request, ApiError(500, f"Internal error: {failure.getErrorMessage()}"))

    # ------------------------------------------------------------- proxying

    def _proxy(self, request: server.Request) -> bytes | int:
        leader = self.leader_address()
        if leader is None:
            return _error(request, ApiError(503, "No Chronos leader is elected yet"))
        uri = f"http://{leader}{request.uri.decode(errors='replace')}".encode()
        headers = Headers()
        for name in _FORWARDED:
            value = request.getHeader(name)
            if value is not None:
                headers.setRawHeaders(name, [value])
        body = request.content.read()
        producer = _Body(body) if body else None
        d = self._agent.request(request.method, uri, headers, producer)

        def relay(response: Any) -> defer.Deferred:
            def done(data: bytes) -> None:
                request.setResponseCode(response.code)
                for value in response.headers.getRawHeaders(b"content-type") or []:
                    request.setHeader(b"content-type", value)
                self._finish(request, data)

            return readBody(response).addCallback(done)

        def failed(failure: Any) -> None:
            message = f"Could not proxy to the leader at {leader}: {failure.getErrorMessage()}"
            self._finish(request, _error(request, ApiError(500, message)))

        d.addCallback(relay).addErrback(failed)
        return server.NOT_DONE_YET

    # ------------------------------------------------------------- handlers

    def _list(self, scheduler: ChronosScheduler, request: server.Request) -> bytes:
        jobs = sorted(scheduler.jobs.values(), key=lambda j: j.name)
        return _write(request, 200, [j.to_json(scheduler.defaults) for j in jobs])

    def _search(self, scheduler: ChronosScheduler, request: server.Request) -> bytes:
        name, command, anything = (_arg(request, k) for k in ("name", "command", "any"))
        try:
            limit = int(_arg(request, "limit") or 10)
            offset = int(_arg(request, "offset") or 0)
        except ValueError:
            raise ApiError(400, "'limit' and 'offset' must be integers") from None

        def matches(job: Any) -> bool:
            if name and name.lower() not in job.name.lower():
                return False
            if command and command.lower() not in job.command.lower():
                return False
            text = anything.lower() if anything else ""
            return not text or text in job.name.lower() or text in job.command.lower()

        jobs = sorted((j for j in scheduler.jobs.values() if matches(j)), key=lambda j: j.name)
        page = jobs[max(0, offset) : max(0, offset) + max(0, limit)]
        return _write(request, 200, [j.to_json(scheduler.defaults) for j in page])

    def _read_body(self, request: server.Request) -> Any:
        try:
            return json.loads(request.content.read() or b"null")
        except (ValueError, UnicodeDecodeError) as exc:
            raise ApiError(400, f"The body is not valid JSON: {exc}") from None

    def _add_scheduled(self, scheduler: ChronosScheduler, request: server.Request):
        job, given = parse_job(self._read_body(request), "scheduled", scheduler.now())
        return scheduler.put_job(job, given)

    def _add_dependent(self, scheduler: ChronosScheduler, request: server.Request):
        job, given = parse_job(self._read_body(request), "dependent", scheduler.now())
        return scheduler.put_job(job, given)

    def _get(self, scheduler: ChronosScheduler, request: server.Request, name: str) -> bytes:
        return _write(request, 200, scheduler.job(name).to_json(scheduler.defaults))

    def _run(self, scheduler: ChronosScheduler, request: server.Request, name: str):
        return scheduler.run_now(name)

    def _delete(self, scheduler: ChronosScheduler, request: server.Request, name: str):
        return scheduler.delete_job(name)

    def _kill(self, scheduler: ChronosScheduler, request: server.Request, name: str):
        return scheduler.kill_tasks(name)

    def _stat(self, scheduler: ChronosScheduler, request: server.Request, name: str) -> bytes:
        return _write(request, 200, scheduler.stat(name))

    def _graph_csv(self, scheduler: ChronosScheduler, request: server.Request) -> bytes:
        return _write(request, 200, text=graph.graph_csv(scheduler.jobs.values()))

    def _stats(self, scheduler: ChronosScheduler, request: server.Request, which: str) -> bytes:
        if which not in _STATS:
            raise ApiError(400, f"Unknown statistic '{which}'; one of {', '.join(sorted(_STATS))}")
        return _write(request, 200, scheduler.percentile_by_job(which))

    @staticmethod
    def _metrics(scheduler: ChronosScheduler) -> dict:
        """Dropwizard-shaped metrics, as Chronos' ``/metrics``."""
        counters = {f"chronos.tasks.{k}": {"count": v} for k, v in scheduler.metrics.items()}
        gauges = {
            "chronos.jobs.count": {"value": len(scheduler.jobs)},
            "chronos.tasks.running": {
                "value": sum(len(j.running()) for j in scheduler.jobs.values())
            },
        }
        return {
            "version": "3.0.0",
            "gauges": gauges,
            "counters": counters,
            "histograms": {},
            "meters": {},
            "timers": {},
        }
