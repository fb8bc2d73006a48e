"""A Twisted client of the v1 scheduler HTTP API.

The built-in tools (``mesos-py execute``, the benchmarks, and later the
Marathon- and Chronos-compatible frameworks) talk to the master exactly as a
third-party framework would, through this class.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.internet import defer
from twisted.logger import Logger

from mesos_py.common import http_client
from mesos_py.common.protocol import ident

log = Logger()


class SchedulerError(Exception):
    """The master refused a call or the subscription (``reply`` says how, if it answered)."""

    def __init__(self, message: str, reply: http_client.Reply | None = None) -> None:
        super().__init__(message)
        self.reply = reply


class SubscriptionRejected(SchedulerError):
    """The master answered SUBSCRIBE with an ERROR event (e.g. the framework was removed)."""


class SchedulerClient:
    """One framework's subscription plus its calls, on one master.

    ``on_event`` receives every event except HEARTBEAT.  With
    ``auto_acknowledge`` (the default) updates that carry a uuid are
    acknowledged after ``on_event`` returns.
    """

    def __init__(
        self,
        reactor: Any,
        master: str,
        framework_info: dict[str, Any],
        on_event: Callable[[dict[str, Any]], None],
        auto_acknowledge: bool = True,
    ) -> None:
        self.reactor = reactor
        self.base = f"http://{master}"
        self.framework_info = dict(framework_info)
        self.on_event = on_event
        self.auto_acknowledge = auto_acknowledge
        self.framework_id: str | None = framework_info.get("id", {}).get("value")
        self.stream_id: str | None = None
        self.subscription: http_client.Subscription | None = None
        # When the stream last carried anything (heartbeats included): a watchdog's input.
        self.last_event_time: float | None = None
        self._stream_agent = http_client.make_agent(reactor, persistent=False)
        self._calls = http_client.CallClient(reactor, master)

    @defer.inlineCallbacks
    def subscribe(self):
        """Open the event stream; fires once SUBSCRIBED arrived (with the framework ID)."""
        subscribed: defer.Deferred = defer.Deferred()
        call: dict[str, Any] = {
            "type": "SUBSCRIBE",
            "subscribe": {"framework_info": self.framework_info},
        }
        if self.framework_id:
            call["framework_id"] = ident(self.framework_id)
            self.framework_info["id"] = ident(self.framework_id)

        def on_event(event: dict[str, Any]) -> None:
            self.last_event_time = self.reactor.seconds()
            if event.get("type") == "SUBSCRIBED":
                self.framework_id = event["subscribed"]["framework_id"]["value"]
                self.framework_info["id"] = ident(self.framework_id)
                if not subscribed.called:
                    subscribed.callback(event)
                return
            if event.get("type") == "ERROR" and not subscribed.called:
                subscribed.errback(SubscriptionRejected(event["error"]["message"]))
                return
            if event.get("type") == "HEARTBEAT":
                return
            self.on_event(event)
            if event.get("type") == "UPDATE" and self.auto_acknowledge:
                self.acknowledge(event["update"]["status"])

        result = yield http_client.subscribe(
            self._stream_agent, self.base + "/api/v1/scheduler", call, on_event
        )
        if isinstance(result, http_client.Reply):
            message = f"SUBSCRIBE refused: {result.code} {result.body.decode(errors='replace')}"
            raise SchedulerError(message, result)
        self.subscription = result
        self.stream_id = result.stream_id

        def ended(_: Any) -> None:
            if not subscribed.called:
                subscribed.errback(SchedulerError("the stream ended before SUBSCRIBED"))

        result.done.addCallback(ended)
        event = yield subscribed
        return event

    def call(self, call_type: str, body: dict[str, Any] | None = None) -> defer.Deferred:
        """Send one call; fires with the Reply, errbacks with SchedulerError when not 2xx."""
        call: dict[str, Any] = {"type": call_type, "framework_id": ident(self.framework_id)}
        if body is not None:
            call[call_type.lower()] = body
        headers = {"Mesos-Stream-Id": self.stream_id or ""}
        d = self._calls.post_json("/api/v1/scheduler", call, headers)

        def check(reply: http_client.Reply) -> http_client.Reply:
            if not 200 <= reply.code < 300:
                body = reply.body.decode(errors="replace")
                raise SchedulerError(f"{call_type} refused: {reply.code} {body}", reply)
            return reply

        return d.addCallback(check)

    def acknowledge(self, status: dict[str, Any]) -> defer.Deferred | None:
        if "uuid" not in status:
            return None
        d = self.call(
            "ACKNOWLEDGE",
            {"agent_id": status["agent_id"], "task_id": status["task_id"], "uuid": status["uuid"]},
        )
        return d.addErrback(lambda f: log.failure("acknowledgement failed", f))

    def close(self) -> None:
        """Drop the subscription (the master then waits failover_timeout)."""
        if self.subscription is not None:
            self.subscription.close()
        self._calls.close()
