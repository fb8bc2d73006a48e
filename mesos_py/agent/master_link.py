"""The agent's side of the master <-> agent protocol (docs/agent-protocol.md).

One REGISTER call opens the link, a RecordIO stream of master events.  Calls
to the master go one at a time, in order, each carrying the link's
``Mesos-Stream-Id``; UPDATEs queued behind a call in flight are batched into
one call.  Registration is retried with full-jitter exponential backoff; a
link that ends, or stays silent longer than the ping timeout, is dropped and
registration starts over.

With ``--master=zk://...`` the address comes from a leader detector
(``follow``): a new leader means a new link, registered at once with backoff
reset, and no known leader means waiting (tasks keep running meanwhile).
"""

from __future__ import annotations

import enum
import random
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

from twisted.internet import defer
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.client import Agent, HTTPConnectionPool

from mesos_py.common.http_client import CallClient, Reply, Subscription, subscribe

log = Logger()

REGISTER_RETRY_INTERVAL_MAX = 60.0
# Updates per UPDATE call: keeps a burst's calls well below the master's body limit.
MAX_BATCH = 500
DEFAULT_PING_INTERVAL = 15.0
DEFAULT_MAX_PING_TIMEOUTS = 5
# Task events are handled in slices of this many seconds per reactor turn, so that a
# burst of thousands of RUN_TASKs does not hold back the status updates of the first.
EVENT_SLICE_SECONDS = 0.005


class LinkOwner(Protocol):
    """What the link needs from the agent."""

    def register_call(self) -> dict: ...

    def registered(self, body: dict) -> None: ...

    def disconnected(self) -> None: ...

    def refused(self, message: str) -> None: ...

    def handle_event(self, event: dict) -> None: ...


class LinkState(enum.Enum):
    IDLE = "idle"  # waiting for the next registration attempt
    REGISTERING = "registering"  # REGISTER sent, no REGISTERED yet
    REGISTERED = "registered"
    STOPPED = "stopped"


class MasterLink:
    def __init__(
        self,
        reactor: IReactorTime,
        master: str,
        owner: LinkOwner,
        backoff_factor: float,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.path = "/internal/agent"
        self.state = LinkState.IDLE
        self.agent_id: str | None = None
        self._reactor = reactor
        self._owner = owner
        self._factor = backoff_factor
        self._bound = backoff_factor
        self._random = rand
        self._pool = HTTPConnectionPool(reactor, persistent=True)
        self._http = Agent(reactor, pool=self._pool, connectTimeout=10)
        self.master: str | None = None
        self.url = ""
        self._calls: CallClient | None = None
        if not master.startswith("zk://"):  # else follow() a detector
            self._use_master(master)
        # (link generation, event) waiting to be handled, in arrival order
        self._inbox: deque[tuple[int, dict]] = deque()
        self._drain_call: IDelayedCall | None = None
        self._subscription: Subscription | None = None
        self._generation = 0
        self._attempt_call: IDelayedCall | None = None
        self._watchdog: IDelayedCall | None = None
        self._ping_timeout = DEFAULT_PING_INTERVAL * DEFAULT_MAX_PING_TIMEOUTS
        # (call type, body, Deferred fired with the answer or None)
        self._queue: deque[tuple[str, Any, defer.Deferred | None]] = deque()
        self._in_flight = False
        self._requests: set[defer.Deferred] = set()  # cancelled on stop

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self._schedule_attempt()

    def _use_master(self, master: str) -> None:
        self.master = master
        self.url = f"http://{master}{self.path}"
        if self._calls is not None:
            self._calls.close()
        self._calls = CallClient(self._reactor, master)

    def follow(self, master: str | None) -> None:
        """The detector's news: register with ``master`` now, or wait while it is None."""
        if master == self.master or self.state is LinkState.STOPPED:
            return
        log.info("Leading master is now {master}", master=master or "unknown")
        was_registered = self.state is LinkState.REGISTERED
        if self._attempt_call is not None and self._attempt_call.active():
            self._attempt_call.cancel()
        self._attempt_call = None
        self._lost()  # first: the old link's end must not look like the current one's
        if self._subscription is not None:
            subscription, self._subscription = self._subscription, None
            subscription.close()
        if was_registered:
            self._owner.disconnected()
        if master is None:
            self.master = None
            return
        self._use_master(master)
        self._bound = self._factor
        self._schedule_attempt()

    def stop(self) -> Any:
        """Stop for good; fires when the HTTP connections are closed."""
        self.state = LinkState.STOPPED
        self._generation += 1
        for call in (self._attempt_call, self._watchdog, self._drain_call):
            if call is not None and call.active():
                call.cancel()
        self._attempt_call = self._watchdog = self._drain_call = None
        self._inbox.clear()
        self._drop_queue()
        if self._subscription is not None:
            self._subscription.close()
            self._subscription = None
        for request in list(self._requests):
            request.cancel()
        if self._calls is not None:
            self._calls.close()
        return self._pool.closeCachedConnections()

    def _track(self, request: defer.Deferred) -> defer.Deferred:
        self._requests.add(request)

        def untrack(result: Any) -> Any:
            self._requests.discard(request)
            return result

        return request.addBoth(untrack)

    def _drop_queue(self) -> None:
        queue, self._queue = self._queue, deque()
        for _kind, _body, waiter in queue:
            if waiter is not None:
                waiter.errback(ConnectionError("the link to the master closed"))

    @property
    def registered(self) -> bool:
        return self.state is LinkState.REGISTERED

    # ---------------------------------------------------------- registering

    def _schedule_attempt(self) -> None:
        """Wait a random time below the current bound, then try; the bound doubles."""
        if self.state is LinkState.STOPPED:
            return
        self.state = LinkState.IDLE
        delay = self._random() * self._bound
        self._bound = min(self._bound * 2, REGISTER_RETRY_INTERVAL_MAX)
        self._attempt_call = self._reactor.callLater(delay, self._attempt)

    def _attempt(self) -> None:
        self._attempt_call = None
        if self.master is None:
            return  # follow() starts again once a leader is detected
        self.state = LinkState.REGISTERING
        self._generation += 1
        generation = self._generation
        try:
            call = self._owner.register_call()
        except Exception:
            log.failure("Could not build the REGISTER call")
            self._schedule_attempt()
            return
        d = self._track(
            subscribe(self._http, self.url, call, lambda event: self._event(generation, event))
        )
        d.addCallbacks(self._subscribed, self._register_failed, (generation,), None, (generation,))

    def _subscribed(self, result: Subscription | Reply, generation: int) -> None:
        if generation != self._generation:
            if isinstance(result, Subscription):
                result.close()
            return
        if isinstance(result, Reply):
            message = result.body.decode(errors="replace")
            log.warn(
                "Master refused REGISTER with {code}: {message}", code=result.code, message=message
            )
            if result.code == 403:
                bound = self._bound
                self._refused(message)
                # Refused again and again (its machine is DOWN for maintenance, say):
                # keep backing off rather than knock every second.
                self._bound = bound
            self._schedule_attempt()
            return
        self._subscription = result
        result.done.addBoth(self._link_ended, generation)

    def _register_failed(self, failure: Failure, generation: int) -> None:
        if generation != self._generation:
            return
        log.info(
            "Could not reach the master at {url}: {error}",
            url=self.url,
            error=failure.getErrorMessage(),
        )
        self._schedule_attempt()

    def _link_ended(self, _result: object, generation: int) -> None:
        if generation != self._generation:
            return
        self._subscription = None
        was_registered = self.state is LinkState.REGISTERED
        self._lost()
        if was_registered:
            log.info("Link to the master closed; re-registering")
            self._bound = self._factor
            self._owner.disconnected()
        self._schedule_attempt()

    def _lost(self) -> None:
        self._generation += 1
        self._drop_queue()
        self._in_flight = False
        self.state = LinkState.IDLE
        if self._watchdog is not None and self._watchdog.active():
            self._watchdog.cancel()
        self._watchdog = None

    def _refused(self, message: str) -> None:
        self.agent_id = None
        self._bound = self._factor
        self._owner.refused(message)

    def _close_link(self) -> None:
        """Drop the link ourselves; ``_link_ended`` then re-registers."""
        if self._subscription is not None:
            self._subscription.close()

    # --------------------------------------------------------------- events

    def _event(self, generation: int, event: Any) -> None:
        if generation != self._generation or not isinstance(event, dict):
            return
        kind = event.get("type")
        if kind == "REGISTERED":
            self._registered(event.get("registered"))
        elif kind == "ERROR":
            body = event.get("error")
            message = body.get("message", "") if isinstance(body, dict) else ""
            log.warn("Master refused this agent: {message}", message=message)
            self._refused(message)
            self._close_link()
        elif self.state is not LinkState.REGISTERED:
            log.warn("Ignoring {type} event before REGISTERED", type=kind)
        elif kind == "PING":
            self._reset_watchdog()
            if not any(kind == "PONG" for kind, _, _ in self._queue):
                self._queue.append(("PONG", None, None))
            self._pump()
        elif kind == "ACKNOWLEDGE":
            # An ack is for an update this agent already sent, so it may overtake
            # queued launches; handling it now lets the task's next update go out.
            self._handle(event)
        else:
            self._inbox.append((generation, event))
            if self._drain_call is None:
                self._drain_call = self._reactor.callLater(0, self._drain)

    def _handle(self, event: dict) -> None:
        try:
            self._owner.handle_event(event)
        except Exception:
            log.failure("Failed to handle master event {type}", type=event.get("type"))

    def _drain(self) -> None:
        """Hand queued events to the agent, yielding to the reactor every few ms."""
        self._drain_call = None
        deadline = time.monotonic() + EVENT_SLICE_SECONDS
        while self._inbox and time.monotonic() < deadline:
            generation, event = self._inbox.popleft()
            if generation == self._generation:  # else from a link that has since ended
                self._handle(event)
        if self._inbox:
            self._drain_call = self._reactor.callLater(0, self._drain)

    def _registered(self, body: Any) -> None:
        agent_id = body.get("agent_id", {}).get("value") if isinstance(body, dict) else None
        if not isinstance(agent_id, str) or not agent_id:
            log.warn("REGISTERED without an agent_id; dropping the link")
            self._close_link()
            return
        interval = body.get("ping_interval_seconds")
        interval = interval if isinstance(interval, int | float) and interval > 0 else None
        timeouts = body.get("max_ping_timeouts")
        timeouts = timeouts if isinstance(timeouts, int) and timeouts > 0 else None
        self._ping_timeout = (interval or DEFAULT_PING_INTERVAL) * (
            timeouts or DEFAULT_MAX_PING_TIMEOUTS
        )
        self.agent_id = agent_id
        self.state = LinkState.REGISTERED
        self._bound = self._factor
        self._reset_watchdog()
        self._owner.registered(body)

    def _reset_watchdog(self) -> None:
        if self._watchdog is not None and self._watchdog.active():
            self._watchdog.reset(self._ping_timeout)
        else:
            self._watchdog = self._reactor.callLater(self._ping_timeout, self._ping_timed_out)

    def _ping_timed_out(self) -> None:
        self._watchdog = None
        log.warn(
            "No PING from the master for {timeout}s; re-registering", timeout=self._ping_timeout
        )
        self._close_link()

    # ---------------------------------------------------------------- calls

    def call(self, kind: str, body: Any = None) -> bool:
        """Queue a call; False (dropped) unless registered."""
        if self.state is not LinkState.REGISTERED:
            return False
        self._queue.append((kind, body, None))
        self._pump()
        return True

    def call_and_wait(self, kind: str, body: Any = None) -> defer.Deferred:
        """Queue a call; fires with the master's Reply (fails if it was not answered)."""
        waiter: defer.Deferred = defer.Deferred()
        if self.state is not LinkState.REGISTERED:
            waiter.errback(ConnectionError("not registered with a master"))
            return waiter
        self._queue.append((kind, body, waiter))
        self._pump()
        return waiter

    def _pump(self) -> None:
        if self._in_flight or not self._queue or self.state is not LinkState.REGISTERED:
            return
        kind, body, waiter = self._queue.popleft()
        if kind == "UPDATE":
            updates = [body]
            while self._queue and self._queue[0][0] == "UPDATE" and len(updates) < MAX_BATCH:
                updates.append(self._queue.popleft()[1])
            body = {"updates": updates}
        call = {"type": kind, "agent_id": {"value": self.agent_id}}
        if body is not None:
            call[kind.lower()] = body
        self._in_flight = True
        generation = self._generation
        headers = {"Mesos-Stream-Id": self._subscription.stream_id or ""}
        d = self._track(self._calls.post_json(self.path, call, headers))
        if waiter is not None:
            d.addBoth(_relay, waiter)
        d.addCallbacks(
            self._answered, self._call_failed, (kind, generation), None, (kind, generation)
        )

    def _answered(self, reply: Reply, kind: str, generation: int) -> None:
        if generation != self._generation:
            return
        self._in_flight = False
        if reply.code == 403:
            message = reply.body.decode(errors="replace")
            log.warn("Master refused {kind}: {message}", kind=kind, message=message)
            self._refused(message)
            self._close_link()
            return
        if not 200 <= reply.code < 300:
            log.warn(
                "Master answered {kind} with {code}: {body}",
                kind=kind,
                code=reply.code,
                body=reply.body.decode(errors="replace")[:200],
            )
        self._pump()

    def _call_failed(self, failure: Failure, kind: str, generation: int) -> None:
        if generation != self._generation:
            return
        self._in_flight = False
        log.warn(
            "{kind} call to the master failed: {error}", kind=kind, error=failure.getErrorMessage()
        )
        self._pump()


def _relay(result: Any, waiter: defer.Deferred) -> Any:
    """Copy a call's outcome to whoever waits for it, leaving the chain unchanged."""
    if isinstance(result, Failure):
        waiter.errback(result)
    else:
        waiter.callback(result)
    return result
