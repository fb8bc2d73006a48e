"""Client side of the v1 HTTP APIs on Twisted: JSON calls and RecordIO subscriptions.

Used by the agent (to reach the master) and by ``mesos-py execute``.
"""

from __future__ import annotations

import collections
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from twisted.internet import defer, protocol
from twisted.internet.endpoints import HostnameEndpoint, connectProtocol
from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import IReactorTime
from twisted.internet.protocol import connectionDone
from twisted.python.failure import Failure
from twisted.web.client import Agent, HTTPConnectionPool, readBody
from twisted.web.http_headers import Headers
from twisted.web.iweb import IBodyProducer
from zope.interface import implementer

from mesos_py.common import jsoncodec, recordio


@implementer(IBodyProducer)
class BytesProducer:
    """A request body already in memory."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.length = len(body)

    def startProducing(self, consumer: Any) -> defer.Deferred:
        consumer.write(self.body)
        return defer.succeed(None)

    def pauseProducing(self) -> None:
        pass

    def stopProducing(self) -> None:
        pass

    def resumeProducing(self) -> None:
        pass


@dataclass
class Reply:
    code: int
    headers: Headers
    body: bytes

    def json(self) -> Any:
        return jsoncodec.decode(self.body) if self.body else None


def make_agent(reactor: IReactorTime, persistent: bool = True) -> Agent:
    pool = HTTPConnectionPool(reactor, persistent=persistent)
    pool.maxPersistentPerHost = 4
    return Agent(reactor, pool=pool, connectTimeout=10)


def _headers(extra: dict[str, str] | None, accept: bool) -> Headers:
    headers = Headers({b"content-type": [b"application/json"]})
    if accept:
        headers.addRawHeader(b"accept", b"application/json")
    for name, value in (extra or {}).items():
        headers.addRawHeader(name.encode(), value.encode())
    return headers


@defer.inlineCallbacks
def post_json(agent: Agent, url: str, body: Any, headers: dict[str, str] | None = None):
    """POST one JSON call; fires with a Reply whatever the status code."""
    payload = jsoncodec.encode(body)
    response = yield agent.request(
        b"POST", url.encode(), _headers(headers, accept=False), BytesProducer(payload)
    )
    data = yield readBody(response)
    return Reply(response.code, response.headers, data)


class _RecordIOBody(protocol.Protocol):
    def __init__(self, on_event: Callable[[Any], None], done: defer.Deferred) -> None:
        self._decoder = recordio.Decoder()
        self._on_event = on_event
        self._done = done

    def dataReceived(self, data: bytes) -> None:
        try:
            events = self._decoder.feed_json(data)
        except ValueError:
            self.transport.stopProducing()
            return
        for event in events:
            self._on_event(event)

    def connectionLost(self, reason: Failure) -> None:
        if not self._done.called:
            self._done.callback(None)


@dataclass
class Subscription:
    """An open event stream: ``done`` fires when it ends; ``close`` ends it."""

    stream_id: str | None
    done: defer.Deferred
    _body: _RecordIOBody

    def close(self) -> None:
        if self._body.transport is not None:
            self._body.transport.stopProducing()


@defer.inlineCallbacks
def subscribe(
    agent: Agent,
    url: str,
    body: Any,
    on_event: Callable[[Any], None],
    headers: dict[str, str] | None = None,
):
    """Open a subscription; fires with a Subscription, or a Reply when refused."""
    payload = jsoncodec.encode(body)
    response = yield agent.request(
        b"POST", url.encode(), _headers(headers, accept=True), BytesProducer(payload)
    )
    if response.code != 200:
        data = yield readBody(response)
        return Reply(response.code, response.headers, data)
    stream_ids = response.headers.getRawHeaders(b"mesos-stream-id") or [b""]
    done: defer.Deferred = defer.Deferred()
    body_protocol = _RecordIOBody(on_event, done)
    response.deliverBody(body_protocol)
    return Subscription(stream_ids[0].decode() or None, done, body_protocol)


class _PipelinedConnection(protocol.Protocol):
    """One HTTP/1.1 connection carrying pipelined requests, answered in order.

    Calls are small and frequent (an ACKNOWLEDGE per status update); a single
    persistent connection keeps them ordered and avoids a TCP handshake, a
    name lookup and a socket per call under load.
    """

    def __init__(self) -> None:
        self._waiting: collections.deque[defer.Deferred] = collections.deque()
        self._buffer = bytearray()
        self._head: tuple[int, Headers] | None = None
        self._length: int | None = None
        self._chunked = False
        self._body = bytearray()
        self.lost = False

    def request(self, path: bytes, host: bytes, body: bytes, headers: Headers) -> defer.Deferred:
        lines = [
            b"POST " + path + b" HTTP/1.1",
            b"Host: " + host,
            b"Content-Length: %d" % len(body),
        ]
        for name, values in headers.getAllRawHeaders():
            lines.extend(name + b": " + value for value in values)
        d: defer.Deferred = defer.Deferred()
        self._waiting.append(d)
        self.transport.write(b"\r\n".join(lines) + b"\r\n\r\n" + body)
        return d

    def dataReceived(self, data: bytes) -> None:
        self._buffer += data
        try:
            while self._parse_one():
                pass
        except ValueError as exc:
            self.transport.loseConnection()
            self._fail_all(exc)

    def _parse_one(self) -> bool:
        if self._head is None:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                return False
            status_line, *header_lines = bytes(self._buffer[:end]).split(b"\r\n")
            del self._buffer[: end + 4]
            parts = status_line.split(b" ", 2)
            if len(parts) < 2 or not parts[1].isdigit():
                raise ValueError(f"bad status line {status_line[:60]!r}")
            headers = Headers()
            for line in header_lines:
                name, _, value = line.partition(b":")
                headers.addRawHeader(name.strip().lower(), value.strip())
            self._head = (int(parts[1]), headers)
            encoding = (headers.getRawHeaders(b"transfer-encoding") or [b""])[0].lower()
            self._chunked = encoding == b"chunked"
            self._length = int((headers.getRawHeaders(b"content-length") or [b"0"])[0])
            self._body = bytearray()
        if self._chunked:
            while True:
                end = self._buffer.find(b"\r\n")
                if end < 0:
                    return False
                size = int(bytes(self._buffer[:end]).split(b";")[0], 16)
                if len(self._buffer) < end + 2 + size + 2:
                    return False
                self._body += self._buffer[end + 2 : end + 2 + size]
                del self._buffer[: end + 2 + size + 2]
                if size == 0:
                    break
        else:
            if len(self._buffer) < self._length:
                return False
            self._body = self._buffer[: self._length]
            del self._buffer[: self._length]
        code, headers = self._head
        self._head = None
        if self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.called:  # a caller may have cancelled it
                waiter.callback(Reply(code, headers, bytes(self._body)))
        return True

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.lost = True
        self._fail_all(reason)

    def _fail_all(self, reason: Any) -> None:
        waiting, self._waiting = self._waiting, collections.deque()
        for d in waiting:
            if not d.called:
                d.errback(reason)


class CallClient:
    """JSON calls to one HTTP server over a single pipelined connection.

    Calls are written in the order they are made and answered in that order;
    a lost connection fails the calls in flight, and the next call reconnects.
    ``close`` is final: it also abandons a connection attempt under way.
    """

    def __init__(self, reactor: Any, address: str) -> None:
        self._reactor = reactor
        host, _, port = address.rpartition(":")
        self._host = address.encode()
        self._endpoint = HostnameEndpoint(reactor, host, int(port))
        self._connection: _PipelinedConnection | None = None
        self._waiters: list[defer.Deferred] = []
        self._connecting: defer.Deferred | None = None
        self._closed = False

    def _connected(self) -> defer.Deferred:
        if self._closed:
            return defer.fail(ConnectionDone("the call client is closed"))
        if self._connection is not None and not self._connection.lost:
            return defer.succeed(self._connection)
        waiter: defer.Deferred = defer.Deferred()
        self._waiters.append(waiter)
        if len(self._waiters) == 1:

            def done(result: Any) -> None:
                self._connecting = None
                if isinstance(result, _PipelinedConnection):
                    if self._closed:  # closed while connecting
                        result.transport.loseConnection()
                    self._connection = result
                waiters, self._waiters = self._waiters, []
                for each in waiters:
                    each.callback(result)  # a Failure result takes the errback path

            self._connecting = connectProtocol(self._endpoint, _PipelinedConnection())
            self._connecting.addBoth(done)
        return waiter

    def post_json(self, path: str, body: Any, headers: dict[str, str] | None = None):
        """POST one JSON call; fires with a Reply whatever the status code."""
        payload = jsoncodec.encode(body)
        request_headers = _headers(headers, accept=False)
        return self._connected().addCallback(
            lambda connection: connection.request(
                path.encode(), self._host, payload, request_headers
            )
        )

    def close(self) -> None:
        self._closed = True
        if self._connecting is not None:
            self._connecting.cancel()  # its waiters fail with CancelledError
        if self._connection is not None and not self._connection.lost:
            self._connection.transport.loseConnection()
