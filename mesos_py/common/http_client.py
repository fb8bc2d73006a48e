"""Client side of the v1 HTTP APIs on Twisted: JSON calls and RecordIO subscriptions.

Used by the agent (to reach the master) and by ``mesos-py execute``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from twisted.internet import defer, protocol
from twisted.internet.interfaces import IReactorTime
from twisted.python.failure import Failure
from twisted.web.client import Agent, HTTPConnectionPool, readBody
from twisted.web.http_headers import Headers
from twisted.web.iweb import IBodyProducer
from zope.interface import implementer

from mesos_py.common import recordio


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
        return json.loads(self.body) if self.body else None


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
    payload = json.dumps(body, separators=(",", ":")).encode()
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
    payload = json.dumps(body, separators=(",", ":")).encode()
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
