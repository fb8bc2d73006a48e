"""Marathon's event bus and its server-sent event stream (``/v2/events``).

Every event carries ``eventType`` and a ``...Z`` ``timestamp``; the stream
writes ``event: <type>`` and ``data: <json>`` lines, chunked, so clients see
each event at once.  Only event types the marathon client knows are sent.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from twisted.internet.interfaces import IReactorTime
from twisted.web import server

from mesos_py.marathon.appdef import format_timestamp

Listener = Callable[[dict[str, Any]], None]


class EventBus:
    def __init__(self, clock: IReactorTime) -> None:
        self._clock = clock
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    @property
    def subscribers(self) -> int:
        return len(self._listeners)

    def publish(self, event_type: str, **fields: Any) -> None:
        event = {
            "eventType": event_type,
            "timestamp": format_timestamp(self._clock.seconds()),
            **fields,
        }
        for listener in list(self._listeners):
            listener(event)


class EventStream:
    """One ``GET /v2/events`` response, open until the client goes away."""

    def __init__(
        self, request: server.Request, bus: EventBus, types: set[str], remote: str
    ) -> None:
        self.request = request
        self.bus = bus
        self.types = types
        request.setResponseCode(200)
        request.setHeader(b"content-type", b"text/event-stream")
        request.setHeader(b"cache-control", b"no-cache, no-store, must-revalidate")
        request.notifyFinish().addBoth(self._closed)
        bus.subscribe(self.send)
        bus.publish("event_stream_attached", remoteAddress=remote)

    def send(self, event: dict[str, Any]) -> None:
        if self.types and event["eventType"] not in self.types:
            return
        line = json.dumps(event, separators=(",", ":"))
        self.request.write(f"event: {event['eventType']}\ndata: {line}\n\n".encode())

    def _closed(self, _: Any) -> None:
        self.bus.unsubscribe(self.send)
