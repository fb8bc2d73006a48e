"""Keeps one framework subscribed to whichever master leads, for ever.

A long-running framework (Marathon, Chronos) must outlive master failovers,
standbys, ZooKeeper outages and cut connections.  This driver finds the
leading master (a fixed ``host:port`` or a ``zk://`` URL it watches), follows
307 redirects from standbys, subscribes, re-subscribes with its framework ID
whenever the stream ends or goes silent for three heartbeat intervals, and
acknowledges a status update only after the scheduler's handler for it has
finished (so that the framework persists first: nothing is lost by a crash).
"""

from __future__ import annotations

import random
from typing import Any, Protocol
from urllib.parse import urlsplit

from twisted.application import service
from twisted.internet import defer
from twisted.logger import Logger

from mesos_py.client.scheduler import SchedulerClient, SchedulerError, SubscriptionRejected
from mesos_py.common import zookeeper
from mesos_py.common.protocol import ident
from mesos_py.common.zk_detector import LeaderDetector
from mesos_py.common.zk_layout import master_address, parse_zk_url

log = Logger()

# Reconnection backoff: full jitter between 0 and min(cap, base * 2**attempt).
BACKOFF_BASE = 0.1
BACKOFF_CAP = 2.0
# A stream silent for this many heartbeat intervals is taken for dead.
MISSED_HEARTBEATS = 3
# Refusals worth retrying: the rest of 4xx mean the subscription itself is wrong.
_TRANSIENT_CODES = {307, 408, 429}


class Scheduler(Protocol):
    """The framework's side.  Every method runs on the reactor."""

    def subscribed(self, driver: SchedulerDriver, framework_id: str, master_info: dict) -> None:
        """After every (re)subscription: time to reconcile."""

    def disconnected(self, driver: SchedulerDriver) -> None:
        """The stream is gone; the driver re-subscribes by itself."""

    def offers(self, driver: SchedulerDriver, offers: list[dict]) -> None: ...

    def rescinded(self, driver: SchedulerDriver, offer_id: str) -> None: ...

    def update(self, driver: SchedulerDriver, status: dict) -> defer.Deferred | None:
        """A TaskStatus; a returned Deferred delays the acknowledgement until it fires."""

    def failure(self, driver: SchedulerDriver, failure: dict) -> None:
        """An agent or executor was lost (the v1 FAILURE event's body)."""

    def error(self, driver: SchedulerDriver, message: str) -> None:
        """The master ended the framework (ERROR event); the driver stops."""


def _redirect_target(reply: Any) -> str | None:
    """``host:port`` from a 307's protocol-relative Location, if there is one."""
    if reply is None or reply.code != 307:
        return None
    locations = reply.headers.getRawHeaders(b"location") or []
    if not locations:
        return None
    netloc = urlsplit(locations[0].decode(errors="replace")).netloc
    return netloc or None


def _offer_reply(offer_ids: list[str], refuse_seconds: float | None) -> dict[str, Any]:
    """The common part of ACCEPT and DECLINE: the offers, and how long to refuse them."""
    body: dict[str, Any] = {"offer_ids": [ident(each) for each in offer_ids]}
    if refuse_seconds is not None:
        body["filters"] = {"refuse_seconds": refuse_seconds}
    return body


class SchedulerDriver(service.Service):
    """A v1 scheduler subscription that survives master failovers."""

    def __init__(
        self,
        reactor: Any,
        master: str,
        framework_info: dict[str, Any],
        scheduler: Scheduler,
        zk_session_timeout: float = 10.0,
    ) -> None:
        self.reactor = reactor
        self.scheduler = scheduler
        self.framework_info = dict(framework_info)
        self.framework_id: str | None = framework_info.get("id", {}).get("value")
        self.master_info: dict[str, Any] | None = None
        self.master_address: str | None = None
        self._zk: zookeeper.ZooKeeper | None = None
        self._detector: LeaderDetector | None = None
        if master.startswith("zk://"):
            self._zk = zookeeper.ZooKeeper(reactor, parse_zk_url(master), zk_session_timeout)
            self._detector = LeaderDetector(self._zk, self._leader_changed)
        else:
            self.master_address = master
        self._client: SchedulerClient | None = None  # the latest attempt
        self._live: SchedulerClient | None = None  # the one that got SUBSCRIBED
        self._early_events: list[dict[str, Any]] | None = None
        self._retry: Any = None
        self._watchdog: Any = None
        self._attempts = 0
        self._finished = False  # stopped, torn down, or removed by the master

    @property
    def connected(self) -> bool:
        return self._live is not None

    # ------------------------------------------------------------- lifecycle

    def startService(self) -> None:
        super().startService()
        if self._zk is not None:
            self._zk.start()
            self._detector.start()
        else:
            self._connect()

    def stopService(self) -> defer.Deferred:
        super().stopService()
        self._finished = True
        self._cancel_timers()
        self._drop_client()
        if self._zk is None:
            return defer.succeed(None)
        self._detector.stop()
        return self._zk.stop()

    def _cancel_timers(self) -> None:
        for call in (self._retry, self._watchdog):
            if call is not None and call.active():
                call.cancel()
        self._retry = self._watchdog = None

    def _drop_client(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()

    # ------------------------------------------------------------ connection

    def _leader_changed(self, _node: str | None, info: dict | None) -> None:
        address = master_address(info) if info is not None else None
        if address == self.master_address:
            return
        log.info("Leading master is now {address}", address=address or "unknown")
        self.master_address = address
        if self._client is not None:
            self._drop_client()  # its stream ends; _ended reconnects to the new leader
        if address is not None and not self._finished:
            self._connect()

    def _connect(self) -> None:
        if self._client is not None or self._finished or not self.running:
            return
        if self._retry is not None and self._retry.active():
            self._retry.cancel()
        self._retry = None
        if self.master_address is None:
            return  # the detector calls back when a leader appears
        client = SchedulerClient(
            self.reactor,
            self.master_address,
            self.framework_info,
            self._on_event,
            auto_acknowledge=False,
        )
        self._client = client
        self._early_events = []
        client.subscribe().addCallbacks(
            self._subscribed, self._refused, callbackArgs=(client,), errbackArgs=(client,)
        )

    def _subscribed(self, event: dict[str, Any], client: SchedulerClient) -> None:
        if client is not self._client:
            return
        subscribed = event["subscribed"]
        self.framework_id = client.framework_id
        self.framework_info["id"] = ident(self.framework_id)
        self.master_info = subscribed.get("master_info") or {}
        self._live = client
        self._attempts = 0
        client.subscription.done.addCallback(self._ended, client)
        interval = float(subscribed.get("heartbeat_interval_seconds") or 15.0)
        self._watch_heartbeats(client, interval)
        log.info(
            "Subscribed as framework {id} to {master}",
            id=self.framework_id,
            master=self.master_address,
        )
        self._callback("subscribed", self.framework_id, self.master_info)
        early, self._early_events = self._early_events or [], None
        for each in early:
            self._dispatch(each)

    def _refused(self, failure: Any, client: SchedulerClient) -> None:
        if client is not self._client:
            return
        self._drop_client()
        error = failure.value
        target = _redirect_target(getattr(error, "reply", None))
        if target is not None and target != self.master_address:
            log.info("Redirected to the leading master at {target}", target=target)
            self.master_address = target
            self._connect()
            return
        reply = getattr(error, "reply", None)
        if isinstance(error, SubscriptionRejected) or (
            reply is not None and 400 <= reply.code < 500 and reply.code not in _TRANSIENT_CODES
        ):
            self._finish(str(error))
            return
        log.info("Subscription failed: {error}", error=failure.getErrorMessage())
        self._schedule_retry()

    def _ended(self, _: Any, client: SchedulerClient) -> None:
        if client is self._client:
            self._drop_client()
        if client is not self._live:
            return  # a stream already replaced (the leader changed)
        self._live = None
        self._cancel_timers()
        log.info("Disconnected from master {master}", master=self.master_address)
        self._callback("disconnected")
        self._schedule_retry()

    def _schedule_retry(self) -> None:
        if self._finished or not self.running:
            return
        if self._zk is not None and self._client is None:
            # A fresh look in ZooKeeper is cheap; the redirect may have been stale.
            leader = self._detector.leader_info
            self.master_address = master_address(leader) if leader else None
        delay = random.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2**self._attempts))
        self._attempts += 1
        self._retry = self.reactor.callLater(delay, self._connect)

    def _watch_heartbeats(self, client: SchedulerClient, interval: float) -> None:
        def check() -> None:
            if client is not self._client:
                return
            silent = self.reactor.seconds() - (client.last_event_time or 0.0)
            if silent > MISSED_HEARTBEATS * interval:
                log.warn("No heartbeat for {silent:.0f}s: reconnecting", silent=silent)
                self._drop_client()  # the stream's end runs _ended
                return
            self._watchdog = self.reactor.callLater(interval, check)

        self._watchdog = self.reactor.callLater(interval, check)

    def _finish(self, message: str) -> None:
        log.error("The master ended this framework: {message}", message=message)
        self._finished = True
        self._live = None
        self._cancel_timers()
        self._drop_client()
        self._callback("error", message)

    # ---------------------------------------------------------------- events

    def _on_event(self, event: dict[str, Any]) -> None:
        if self._early_events is not None:  # arrived with SUBSCRIBED, before it was handled
            self._early_events.append(event)
            return
        self._dispatch(event)

    def _dispatch(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "OFFERS":
            self._callback("offers", event["offers"].get("offers", []))
        elif kind == "RESCIND":
            self._callback("rescinded", event["rescind"]["offer_id"]["value"])
        elif kind == "UPDATE":
            self._update(event["update"]["status"])
        elif kind == "FAILURE":
            self._callback("failure", event["failure"])
        elif kind == "ERROR":
            self._finish(event["error"].get("message", ""))
        else:
            log.debug("Ignoring a {kind} event", kind=kind)

    def _update(self, status: dict[str, Any]) -> None:
        client = self._live
        d = defer.maybeDeferred(self.scheduler.update, self, status)
        if "uuid" not in status:
            d.addErrback(log.failure, "Status update handler failed")
            return

        def acknowledge(_: Any) -> defer.Deferred | None:
            if client is not self._live or client is None:
                return None  # the master resends it to the next subscription
            body = {key: status[key] for key in ("agent_id", "task_id", "uuid")}
            return client.call("ACKNOWLEDGE", body)

        d.addCallback(acknowledge)
        d.addErrback(log.failure, "Status update not acknowledged")

    def _callback(self, name: str, *args: Any) -> None:
        try:
            getattr(self.scheduler, name)(self, *args)
        except Exception:
            log.failure("Scheduler callback {name} failed", name=name)

    # ----------------------------------------------------------------- calls

    def _call(self, call_type: str, body: dict[str, Any] | None = None) -> defer.Deferred:
        client = self._live
        if client is None:
            return defer.fail(SchedulerError(f"{call_type}: not subscribed to a master"))
        return client.call(call_type, body).addCallback(lambda _reply: None)

    def accept(
        self,
        offer_ids: list[str],
        operations: list[dict[str, Any]],
        refuse_seconds: float | None = None,
    ) -> defer.Deferred:
        body = _offer_reply(offer_ids, refuse_seconds)
        body["operations"] = operations
        return self._call("ACCEPT", body)

    def launch(
        self,
        offer_ids: list[str],
        task_infos: list[dict[str, Any]],
        refuse_seconds: float | None = None,
    ) -> defer.Deferred:
        operation = {"type": "LAUNCH", "launch": {"task_infos": task_infos}}
        return self.accept(offer_ids, [operation], refuse_seconds)

    def decline(self, offer_ids: list[str], refuse_seconds: float | None = None) -> defer.Deferred:
        return self._call("DECLINE", _offer_reply(offer_ids, refuse_seconds))

    def kill(self, task_id: str, agent_id: str | None = None) -> defer.Deferred:
        body: dict[str, Any] = {"task_id": ident(task_id)}
        if agent_id is not None:
            body["agent_id"] = ident(agent_id)
        return self._call("KILL", body)

    def reconcile(self, tasks: list[tuple[str, str | None]]) -> defer.Deferred:
        """Explicit reconciliation of ``[(task_id, agent_id)]``; an empty list is implicit."""
        entries = []
        for task_id, agent_id in tasks:
            entry: dict[str, Any] = {"task_id": ident(task_id)}
            if agent_id is not None:
                entry["agent_id"] = ident(agent_id)
            entries.append(entry)
        return self._call("RECONCILE", {"tasks": entries})

    def revive(self) -> defer.Deferred:
        return self._call("REVIVE")

    def suppress(self) -> defer.Deferred:
        return self._call("SUPPRESS")

    def teardown(self) -> defer.Deferred:
        """End the framework for good: the master kills its tasks and forgets it."""
        d = self._call("TEARDOWN")
        self._finished = True
        return d
