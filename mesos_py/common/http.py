"""twisted.web plumbing shared by the master's and the agent's HTTP servers.

Errors are answered the way libprocess does: a status code and a short
plain-text body saying what was wrong.  Event streams are chunked RecordIO.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web import http, resource, server

from mesos_py.common import jsoncodec, prometheus, recordio

DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024

log = Logger()


class HTTPError(Exception):
    """Raised inside a handler to answer ``code`` with ``message``."""

    def __init__(self, code: int, message: str, headers: dict[bytes, bytes] | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.headers = headers or {}


class BoundedRequest(server.Request):
    """A request whose body is capped: a larger body is drained and answered 413."""

    max_body_bytes = DEFAULT_MAX_BODY_BYTES

    def gotLength(self, length: int | None) -> None:
        # twisted.web parses every POST's Content-Type with the ``email`` package to
        # look for form fields: a fifth of a master's CPU for agents re-registering in
        # JSON.  Only form bodies need it.  The attribute is Twisted's own (private):
        # tests/unit/test_http_server.py fails if a release renames it.
        content_type = self.requestHeaders.getRawHeaders(b"content-type", [b""])[0]
        self._parsePOSTFormSubmission = (
            content_type.lstrip()
            .lower()
            .startswith((b"application/x-www-form-urlencoded", b"multipart/form-data"))
        )
        self.body_bytes = 0
        self.body_too_large = length is not None and length > self.max_body_bytes
        super().gotLength(None if self.body_too_large else length)

    def handleContentChunk(self, data: bytes) -> None:
        self.body_bytes += len(data)
        if self.body_bytes > self.max_body_bytes:
            self.body_too_large = True
        if not self.body_too_large:
            super().handleContentChunk(data)

    def process(self) -> None:
        if getattr(self, "body_too_large", False):
            self.setResponseCode(http.REQUEST_ENTITY_TOO_LARGE)
            self.setHeader(b"content-type", b"text/plain; charset=utf-8")
            self.write(b"Request body exceeds %d bytes" % self.max_body_bytes)
            self.finish()
            return
        super().process()


class QuietSite(server.Site):
    """A Site that does not write an access-log line per request (hot paths)."""

    def log(self, request: server.Request) -> None:
        pass


def make_site(root: resource.Resource, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> server.Site:
    request_factory = type("Request", (BoundedRequest,), {"max_body_bytes": max_body_bytes})
    site = QuietSite(root, requestFactory=request_factory)
    site.noisy = False
    return site


def query_args(request: server.Request) -> dict[str, str]:
    """The query's arguments, first value of each, as text."""
    return {k.decode(): v[0].decode(errors="replace") for k, v in request.args.items() if v}


def write_json(request: server.Request, body: Any, code: int = 200) -> bytes:
    """Answer with a JSON body; handles ``?jsonp=callback`` as Mesos does."""
    request.setResponseCode(code)
    payload = jsoncodec.encode(body)
    callback = request.args.get(b"jsonp", [None])[0]
    if callback:
        request.setHeader(b"content-type", b"text/javascript")
        return callback + b"(" + payload + b");"
    request.setHeader(b"content-type", b"application/json")
    return payload


def write_error(request: server.Request, error: HTTPError) -> bytes:
    request.setResponseCode(error.code)
    for name, value in error.headers.items():
        request.setHeader(name, value)
    request.setHeader(b"content-type", b"text/plain; charset=utf-8")
    return error.message.encode()


def require_post(request: server.Request) -> None:
    if request.method != b"POST":
        raise HTTPError(
            http.NOT_ALLOWED,
            f"Expecting 'POST', received '{request.method.decode(errors='replace')}'",
            {b"allow": b"POST"},
        )


def read_json_call(request: server.Request) -> dict:
    """The JSON body of a v1 API call, checked the way Mesos checks it."""
    require_post(request)
    content_type = request.getHeader(b"content-type")
    if content_type is None:
        raise HTTPError(http.BAD_REQUEST, "Expecting 'Content-Type' to be present")
    if content_type.strip().lower() != b"application/json":
        raise HTTPError(
            http.UNSUPPORTED_MEDIA_TYPE,
            f"Expecting 'Content-Type' of application/json; received "
            f"'{content_type.decode(errors='replace')}'",
        )
    try:
        body = jsoncodec.decode(request.content.read())
    except jsoncodec.DecodeError as exc:
        raise HTTPError(http.BAD_REQUEST, f"Failed to parse body into JSON: {exc}") from None
    if not isinstance(body, dict):
        raise HTTPError(http.BAD_REQUEST, "Failed to convert JSON into Call: not an object")
    return body


def accepts_json(request: server.Request) -> bool:
    """Whether the client's ``Accept`` admits JSON (absent means anything)."""
    accept = request.getHeader(b"accept")
    if accept is None:
        return True
    for part in accept.split(b","):
        media = part.split(b";")[0].strip().lower()
        if media in (b"application/json", b"*/*", b"application/*"):
            return True
    return False


class JSONCallResource(resource.Resource):
    """A leaf that turns HTTPError raised by ``handle`` into Mesos-style answers."""

    isLeaf = True

    def render(self, request: server.Request) -> bytes | int:
        try:
            return self.handle(request)
        except HTTPError as error:
            return write_error(request, error)

    def handle(self, request: server.Request) -> bytes | int:
        raise NotImplementedError


class GetResource(resource.Resource):
    """A leaf answering GET with the JSON from a zero-argument function."""

    isLeaf = True

    def __init__(self, produce: Callable[[server.Request], Any]) -> None:
        super().__init__()
        self._produce = produce

    def render_GET(self, request: server.Request) -> bytes:
        try:
            return write_json(request, self._produce(request))
        except HTTPError as error:
            return write_error(request, error)


class PrometheusResource(resource.Resource):
    """``/metrics``: the families ``produce()`` returns, in Prometheus' text format.

    Not a leaf, so children such as ``/metrics/snapshot`` stay reachable.
    """

    def __init__(self, produce: Callable[[], Any]) -> None:
        super().__init__()
        self._produce = produce

    def render_GET(self, request: server.Request) -> bytes:
        request.setHeader(b"content-type", prometheus.CONTENT_TYPE.encode())
        return prometheus.encode(self._produce())


class EventStream:
    """One open chunked RecordIO response (a subscription).

    ``send`` frames events; the first ``HEARTBEAT`` and the periodic ones are
    driven by ``start_heartbeats``.  ``on_close`` runs once, whichever side
    ends the stream.
    """

    def __init__(
        self,
        request: server.Request,
        clock: IReactorTime,
        on_close: Callable[[EventStream], None] | None = None,
        stream_id: str | None = None,
    ) -> None:
        self.request = request
        self.stream_id = stream_id
        self.closed = False
        self._clock = clock
        # Run once when the stream ends, whichever side ends it; owners may replace it.
        self.on_close = on_close
        self._heartbeat_call = None
        request.setResponseCode(http.OK)
        request.setHeader(b"content-type", b"application/json")
        if stream_id is not None:
            request.setHeader(b"mesos-stream-id", stream_id.encode())
        request.notifyFinish().addBoth(self._finished)

    def send(self, event: dict) -> None:
        if not self.closed:
            self.request.write(recordio.encode_json(event))

    def start_heartbeats(self, interval: float, event: dict | None = None) -> None:
        heartbeat = event or {"type": "HEARTBEAT"}

        def beat() -> None:
            self._heartbeat_call = None
            if not self.closed:
                self.send(heartbeat)
                self._heartbeat_call = self._clock.callLater(interval, beat)

        beat()

    def close(self) -> None:
        """End the stream from our side (terminating chunk, then the connection)."""
        if self.closed:
            return
        self.request.finish()
        self._finished(None)

    def _finished(self, result: Failure | None) -> None:
        if self.closed and self.on_close is None:
            return
        self.closed = True
        if self._heartbeat_call is not None and self._heartbeat_call.active():
            self._heartbeat_call.cancel()
        self._heartbeat_call = None
        on_close, self.on_close = self.on_close, None
        if on_close is not None:
            try:
                on_close(self)
            except Exception:
                log.failure("stream close handler failed")
