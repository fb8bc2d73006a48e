"""The status pages the Marathon and Chronos frameworks serve at ``/`` and ``/ui/``.

The master links each framework's ``webui_url`` (``http://host:port``); these
pages answer there, with the master UI's templates, stylesheet and in-place
refresh (``?fragment=1``).  Only the leading instance reads its books; a
standby names the leader and links to it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.web import http, server

from mesos_py.common.http import query_args
from mesos_py.webui.site import REFRESH_MS, load_static, make_environment, render_page, serve_static


class PageNotFound(Exception):
    """The page (or the app, job... it names) does not exist."""


# A page: (template name, its context), from the path segments after ``/ui`` and the query.
Route = Callable[[list[str], dict[str, str]], tuple[str, dict[str, Any]]]


def is_page_path(path: bytes) -> bool:
    """Whether a request path is one of these pages (``/``, ``/ui``, ``/ui/...``)."""
    return path in (b"/", b"/ui") or path.startswith(b"/ui/")


class FrameworkPages:
    """Renders one framework's pages; the framework's API hands it the requests it matches."""

    def __init__(
        self,
        title: str,
        leading: Callable[[], bool],
        leader_address: Callable[[], str | None],
        route: Route,
    ) -> None:
        self.title = title
        self.leading = leading
        self.leader_address = leader_address
        self.route = route
        self.templates = make_environment()
        self.static = load_static()

    def render(self, request: server.Request) -> bytes:
        try:
            segments = [s.decode("utf-8") for s in request.path.split(b"/") if s]
        except UnicodeDecodeError:
            return self._error(request, http.NOT_FOUND, "No such page")
        if segments[:1] == ["ui"]:
            segments = segments[1:]
        if segments[:1] == ["static"]:
            body = serve_static(self.static, request, segments[1:])
            if body is None:
                return self._error(request, http.NOT_FOUND, "No such file")
            return body
        if not self.leading():
            leader = self.leader_address()
            return self._render(
                request,
                "framework_standby.html",
                {"leader": leader, "leader_url": f"http://{leader}/ui/" if leader else None},
            )
        try:
            name, context = self.route(segments, query_args(request))
        except PageNotFound as missing:
            return self._error(request, http.NOT_FOUND, str(missing))
        except ValueError as exc:
            return self._error(request, http.BAD_REQUEST, f"Invalid query: {exc}")
        return self._render(request, name, context)

    def _render(self, request: server.Request, name: str, context: dict[str, Any]) -> bytes:
        common = {"framework_title": self.title, "refresh_ms": REFRESH_MS}
        return render_page(self.templates, request, name, {**common, **context})

    def _error(self, request: server.Request, code: int, message: str) -> bytes:
        request.setResponseCode(code)
        return self._render(request, "framework_error.html", {"code": code, "message": message})
