"""The web UI's twisted.web resource, served at ``/`` and ``/ui/`` by every master.

Pages are rendered here from the master's records; each page's ``data-live``
part is rendered again for ``?fragment=1``, which ``ui.js`` fetches to refresh
it in place.  A standby (or recovering) master serves a page naming the leader
instead.  Sandboxes and usage live on the agents: ``/ui/agents/<id>/proxy/``
forwards the three read-only agent endpoints the pages need, so the browser
only ever talks to the master.
"""

from __future__ import annotations

import mimetypes
import time
import urllib.parse
from pathlib import Path
from typing import Any

import jinja2
from twisted.internet import defer
from twisted.logger import Logger
from twisted.web import http, resource, server
from twisted.web.client import readBody

from mesos_py.common.http import query_args
from mesos_py.common.http_client import make_agent
from mesos_py.common.zk_layout import decode_master_info, master_address, sequence_of
from mesos_py.master.leadership import leader_authority
from mesos_py.webui import views

log = Logger()

HERE = Path(__file__).parent
REFRESH_MS = 2000
# The agent endpoints the pages read through the master, and nothing else.
PROXIED = {("files", "browse"), ("files", "read"), ("monitor", "statistics")}
PROXIED_ARGS = ("path", "offset", "length")
MAX_PROXIED_READ = 256 * 1024
PROXY_TIMEOUT = 5.0
ROSTER_TTL = 2.0
# A page does not wait longer than this for ZooKeeper (e.g. while its connection is down).
ROSTER_TIMEOUT = 2.0


def format_time(timestamp: float | None) -> str:
    if not timestamp:
        return ""
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(timestamp))


def format_amount(value: float) -> str:
    return f"{value:,.2f}".rstrip("0").rstrip(".") if value else "0"


def make_environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # A path segment: unlike Jinja's urlencode this quotes '/' too.
    environment.filters["segment"] = lambda value: urllib.parse.quote(str(value), safe="")
    environment.filters["when"] = format_time
    environment.filters["amount"] = format_amount
    return environment


def load_static() -> dict[str, bytes]:
    """The stylesheet and script every page (master's and frameworks') links to."""
    return {path.name: path.read_bytes() for path in (HERE / "static").iterdir() if path.is_file()}


def render_page(
    templates: jinja2.Environment, request: server.Request, name: str, context: dict[str, Any]
) -> bytes:
    """``name`` rendered whole, or only its ``data-live`` part for ``?fragment=1``."""
    body = templates.get_template(name).render(
        context, ui_page=name, fragment=bool(request.args.get(b"fragment"))
    )
    # A refresh that finds another kind of page (e.g. a standby became the leader)
    # makes the script reload the whole page.
    request.setHeader(b"x-ui-page", name.encode())
    request.setHeader(b"content-type", b"text/html; charset=utf-8")
    request.setHeader(b"cache-control", b"no-store")
    return body.encode()


def serve_static(
    static: dict[str, bytes], request: server.Request, segments: list[str]
) -> bytes | None:
    """One of ``static`` (``segments`` after ``/ui/static/``); None if there is no such file."""
    if len(segments) != 1 or segments[0] not in static:
        return None
    content_type = mimetypes.guess_type(segments[0])[0] or "application/octet-stream"
    request.setHeader(b"content-type", f"{content_type}; charset=utf-8".encode())
    request.setHeader(b"cache-control", b"max-age=300")
    return static[segments[0]]


class MasterRoster:
    """The masters contending in ZooKeeper, leader first; read when asked, kept ROSTER_TTL s."""

    def __init__(self, zk: Any, clock: Any) -> None:
        self.zk = zk
        self.clock = clock
        self._cached: tuple[float, list[dict[str, Any]]] | None = None

    @defer.inlineCallbacks
    def members(self):
        now = self.clock.seconds()
        if self._cached is not None and now - self._cached[0] < ROSTER_TTL:
            return self._cached[1]
        children = yield self.zk.get_children(self.zk.url.path)
        nodes = sorted((sequence_of(c), c) for c in children if sequence_of(c) is not None)
        members = []
        for index, (_sequence, node) in enumerate(nodes):
            try:
                data, _stat = yield self.zk.get(self.zk.url.child(node))
                info = decode_master_info(node, data)
            except Exception as exc:  # gone meanwhile, or not a JSON MasterInfo
                log.debug("Skipping master node {node}: {error}", node=node, error=exc)
                continue
            members.append(
                {
                    "address": master_address(info),
                    "hostname": info.get("hostname", ""),
                    "id": info.get("id", ""),
                    "leading": index == 0,
                }
            )
        self._cached = (now, members)
        return members


class _NotFound(Exception):
    pass


class WebUI(resource.Resource):
    """Every ``/ui`` page; mounted at ``/`` (the overview) and at ``/ui``."""

    isLeaf = True

    def __init__(self, master: Any, leadership: Any, zk: Any, reactor: Any) -> None:
        super().__init__()
        self.master = master
        self.leadership = leadership
        self.reactor = reactor
        self.roster = MasterRoster(zk, reactor) if zk is not None else None
        self.templates = make_environment()
        self.static = load_static()
        self._http = None

    # ------------------------------------------------------------- dispatch

    def render_GET(self, request: server.Request) -> bytes | int:
        try:
            segments = [s.decode("utf-8") for s in request.postpath]
        except UnicodeDecodeError:
            return self._error(request, http.NOT_FOUND, "No such page")
        while segments and not segments[-1]:
            segments.pop()
        try:
            if segments[:1] == ["static"]:
                return self._static(request, segments[1:])
            if not self.leadership.elected:
                return self._later(request, self._standby(request))
            if len(segments) >= 3 and segments[0] == "agents" and segments[2] == "proxy":
                return self._proxy(request, segments[1], segments[3:])
            return self._route(request, segments)
        except _NotFound as missing:
            return self._error(request, http.NOT_FOUND, str(missing))
        except ValueError as exc:
            return self._error(request, http.BAD_REQUEST, f"Invalid query: {exc}")

    def _route(self, request: server.Request, segments: list[str]) -> bytes | int:
        args = query_args(request)
        match segments:
            case []:
                return self._later(request, self._overview(request))
            case ["agents"]:
                return self._render(request, "agents.html", views.agents_page(self.master, args))
            case ["agents", agent_id]:
                return self._render(
                    request,
                    "agent.html",
                    self._found(views.agent_detail(self.master, agent_id, args), "agent"),
                )
            case ["frameworks"]:
                return self._render(request, "frameworks.html", views.frameworks_page(self.master))
            case ["frameworks", framework_id]:
                detail = views.framework_detail(self.master, framework_id, args)
                return self._render(request, "framework.html", self._found(detail, "framework"))
            case ["frameworks", framework_id, "tasks", task_id]:
                detail = views.task_detail(self.master, framework_id, task_id)
                return self._render(request, "task.html", self._found(detail, "task"))
            case ["tasks"]:
                page = views.tasks_page(views.all_tasks(self.master), args)
                return self._render(request, "tasks.html", page)
        raise _NotFound("No such page")

    @staticmethod
    def _found(value: Any, what: str) -> Any:
        if value is None:
            raise _NotFound(f"No such {what}")
        return value

    # -------------------------------------------------------------- pages

    def _common(self) -> dict[str, Any]:
        return {
            "master": {"pid": self.master.pid, "cluster": self.master.config.cluster},
            "refresh_ms": REFRESH_MS,
        }

    def _render(self, request: server.Request, name: str, context: dict[str, Any]) -> bytes:
        return render_page(self.templates, request, name, {**self._common(), **context})

    def _error(self, request: server.Request, code: int, message: str) -> bytes:
        request.setResponseCode(code)
        return self._render(request, "error.html", {"code": code, "message": message})

    @defer.inlineCallbacks
    def _masters(self):
        """The ZooKeeper roster (None without --zk); an error is shown, not raised."""
        if self.roster is None:
            return None, None
        try:
            members = yield self.roster.members().addTimeout(ROSTER_TIMEOUT, self.reactor)
        except defer.TimeoutError:
            return None, f"ZooKeeper did not answer within {ROSTER_TIMEOUT:g}s"
        except Exception as exc:
            return None, f"ZooKeeper: {exc!r}"
        return members, None

    @defer.inlineCallbacks
    def _overview(self, request: server.Request):
        members, zk_error = yield self._masters()
        context = views.overview(self.master)
        context.update(masters=members, zk_error=zk_error, elected_time=self.master.elected_time)
        return self._render(request, "overview.html", context)

    @defer.inlineCallbacks
    def _standby(self, request: server.Request):
        members, zk_error = yield self._masters()
        leader = self.leadership.leader_info
        authority = leader_authority(leader) if leader is not None else None
        context = {
            "leader": authority,
            "leader_url": f"http://{authority}{request.path.decode()}" if authority else None,
            "recovering": self.leadership.recovering,
            "masters": members,
            "zk_error": zk_error,
        }
        return self._render(request, "standby.html", context)

    def _later(self, request: server.Request, rendering: defer.Deferred) -> int:
        """Answer with what ``rendering`` fires with, unless the client went away first."""
        gone: list[bool] = []
        request.notifyFinish().addErrback(lambda _: gone.append(True))

        def write(body: bytes) -> None:
            if not gone:
                request.write(body)
                request.finish()

        def failed(failure: Any) -> None:
            log.failure("Rendering {path} failed", failure, path=request.path)
            if not gone:
                request.setResponseCode(http.INTERNAL_SERVER_ERROR)
                write(b"Internal error while rendering this page")

        rendering.addCallbacks(write, failed)
        return server.NOT_DONE_YET

    def _static(self, request: server.Request, segments: list[str]) -> bytes:
        body = serve_static(self.static, request, segments)
        if body is None:
            raise _NotFound("No such file")
        return body

    # -------------------------------------------------------------- proxy

    def _proxy(self, request: server.Request, agent_id: str, rest: list[str]) -> int:
        agent = self.master.agents.get(agent_id)
        if agent is None:
            raise _NotFound("No such agent")
        if tuple(rest) not in PROXIED:
            raise _NotFound("Not an endpoint the UI proxies")
        args = {k: v for k, v in query_args(request).items() if k in PROXIED_ARGS}
        if "length" in args:
            args["length"] = str(min(int(args["length"]), MAX_PROXIED_READ))
        elif tuple(rest) == ("files", "read") and args.get("offset", "-1") != "-1":
            args["length"] = str(MAX_PROXIED_READ)
        address = views.agent_address(agent)
        url = f"http://{address}/{'/'.join(rest)}?{urllib.parse.urlencode(args)}"
        if self._http is None:
            self._http = make_agent(self.reactor)
        d = self._http.request(b"GET", url.encode())
        d.addTimeout(PROXY_TIMEOUT, self.reactor)

        def relay(response: Any) -> defer.Deferred:
            content_type = response.headers.getRawHeaders(b"content-type", [b"text/plain"])[0]
            request.setResponseCode(response.code)
            request.setHeader(b"content-type", content_type)
            request.setHeader(b"cache-control", b"no-store")
            return readBody(response)

        def unreachable(failure: Any) -> bytes:
            request.setResponseCode(http.BAD_GATEWAY)
            request.setHeader(b"content-type", b"text/plain; charset=utf-8")
            return f"Agent {address} did not answer: {failure.getErrorMessage()}".encode()

        d.addCallback(relay)
        d.addErrback(unreachable)
        return self._later(request, d)
