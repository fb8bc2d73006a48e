"""Simulated agents and a framework on the real protocols, shared by the master benchmarks.

Each ``SimAgent`` speaks the master <-> agent protocol of docs/agent-protocol.md
(its link on a bare connection, its calls through ``mesos_py.common.http_client``
as ``mesos_py.agent.master_link`` makes them) and pretends to run tasks
(TASK_RUNNING at once).  It remembers its
tasks, so that after a master failover it re-registers with its ID and
reports them, as a real agent does (``follow``).  ``SimFramework`` launches
tasks on every agent it is offered, acknowledging updates.
"""

from __future__ import annotations

import json
import socket
import time
from collections import Counter
from typing import Any

from twisted.internet import defer, protocol, task
from twisted.internet.endpoints import TCP4ClientEndpoint
from twisted.python.failure import Failure
from twisted.web.client import Agent, HTTPConnectionPool

from mesos_py.client.scheduler import SchedulerClient
from mesos_py.common import http_client, recordio
from mesos_py.common.protocol import ident, new_status_uuid
from mesos_py.common.resources import Resources

AGENT_RESOURCES = "cpus:24;mem:65536;disk:100000;ports:[31000-32000]"
TASK_RESOURCES = "cpus:0.01;mem:16"


class BenchError(Exception):
    pass


def sleep(reactor: Any, seconds: float) -> defer.Deferred:
    return task.deferLater(reactor, seconds, lambda: None)


class Stats:
    def __init__(self) -> None:
        self.events: Counter = Counter()
        self.calls: Counter = Counter()
        self.errors: list[str] = []
        self.links_lost = 0
        self.registered = 0
        # During a failover benchmark links and calls to the killed master fail on purpose.
        self.failover = False

    def error(self, message: str) -> None:
        if len(self.errors) < 20:
            self.errors.append(message)


class _DirectEndpoints:
    """Connects to the master's IP literal directly.

    A plain ``Agent`` resolves every host name, even an IP literal, with
    ``getaddrinfo`` in Twisted's thread pool: a real agent does that once on its
    own machine, but a thousand simulated agents re-registering at once queue
    behind ten threads for seconds, which the benchmark would charge to the master.
    """

    def __init__(self, reactor: Any) -> None:
        self.reactor = reactor

    def endpointForURI(self, uri: Any) -> TCP4ClientEndpoint:
        return TCP4ClientEndpoint(self.reactor, uri.host.decode(), uri.port, timeout=10)


def _http_agent(reactor: Any, pool: HTTPConnectionPool) -> Agent:
    return Agent.usingEndpointFactory(reactor, _DirectEndpoints(reactor), pool=pool)


class _Link(protocol.Protocol):
    """An agent's link: its ``REGISTER`` sent as ready bytes, then the chunked RecordIO answer.

    A real agent builds and sends its ``REGISTER`` on its own machine, so after a
    failover a thousand agents do that work in parallel.  Through Twisted's HTTP
    client (Agent, pool, endpoint, request and response objects) this one bench
    process needed ~0.8 ms of CPU per agent before its request left, and the
    last of 1,000 requests went out ~0.8 s after the new leader served.  Here the
    request is encoded ahead (``SimAgent.prepare``) and written on a plain
    blocking socket (loopback connects at once), and only then does the reactor
    take the connection over to read the answer: 1,000 requests leave within
    ~0.05 s.  What reaches the master is the same HTTP/1.1 request.
    """

    def __init__(self, agent: SimAgent) -> None:
        self.agent = agent
        self.buffer = bytearray()
        self.code: int | None = None
        self.headers: dict[bytes, bytes] = {}
        self.records = recordio.Decoder()

    def dataReceived(self, data: bytes) -> None:
        self.buffer += data
        if self.code is None and not self._read_head():
            return
        if self.code != 200:
            length = int(self.headers.get(b"content-length", b"0"))
            if len(self.buffer) >= length:
                self.agent._refused(self, self.code, bytes(self.buffer[:length]))
                self.transport.loseConnection()
            return
        while True:  # chunked transfer coding
            end = self.buffer.find(b"\r\n")
            if end < 0:
                return
            size = int(bytes(self.buffer[:end]).split(b";")[0], 16)
            if len(self.buffer) < end + 2 + size + 2:
                return
            chunk = bytes(self.buffer[end + 2 : end + 2 + size])
            del self.buffer[: end + 2 + size + 2]
            if size == 0:  # the master ended the stream
                self.transport.loseConnection()
                return
            for event in self.records.feed_json(chunk):
                self.agent._event(event)

    def _read_head(self) -> bool:
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return False
        status, *lines = bytes(self.buffer[:end]).split(b"\r\n")
        del self.buffer[: end + 4]
        self.code = int(status.split(b" ", 2)[1])
        for line in lines:
            name, _, value = line.partition(b":")
            self.headers[name.strip().lower()] = value.strip()
        if self.code == 200:
            self.agent._link_open(self, self.headers.get(b"mesos-stream-id", b"").decode())
        return True

    def connectionLost(self, reason: Any = None) -> None:
        self.agent._link_ended(self, reason)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.loseConnection()


class _Adopt(protocol.Factory):
    """Hands one ready-made protocol to ``adoptStreamConnection``."""

    def __init__(self, link: _Link) -> None:
        self.link = link

    def buildProtocol(self, addr: Any) -> _Link:
        return self.link


class SimAgent:
    """One agent: its link and its one-at-a-time calls; tasks are only pretended."""

    def __init__(self, reactor: Any, master: str, index: int, resources: list, stats: Stats):
        self.reactor = reactor
        self.master = master
        self.index = index
        self.resources = resources
        self.stats = stats
        # Calls go through Twisted's HTTP client on one persistent connection, as
        # MasterLink's do; the link is a connection of its own (_Link).
        self.pool = HTTPConnectionPool(reactor, persistent=True)
        self.pool.maxPersistentPerHost = 1
        self.http = _http_agent(reactor, self.pool)
        self.agent_id: str | None = None
        self.stream_id: str | None = None
        self.link: _Link | None = None
        self.registered: defer.Deferred = defer.Deferred()
        self.pong_pending = False
        self.pongs_answered = 0
        self.updates: list[dict] = []
        self.in_flight: str | None = None  # the type of the call in flight
        self.pump_scheduled = False
        self.stopping = False
        self.registered_at: float | None = None
        self.sent_at: float | None = None  # the last REGISTER's
        # What a re-registration reports: task_id -> task, framework_id -> FrameworkInfo
        self.tasks: dict[str, dict] = {}
        self.frameworks: dict[str, dict] = {}
        self.prepared: bytes | None = None

    @property
    def url(self) -> str:
        return f"http://{self.master}/internal/agent"

    # -- link

    def prepare(self) -> None:
        """Encode the next ``REGISTER`` now: what this agent reports if a failover comes."""
        info: dict[str, Any] = {
            "hostname": f"sim-{self.index}",
            "port": 5051,
            "resources": self.resources,
        }
        if self.agent_id:
            info["id"] = ident(self.agent_id)
        call = {
            "type": "REGISTER",
            "register": {
                "agent_info": info,
                "tasks": list(self.tasks.values()),
                "executors": [],
                "frameworks": list(self.frameworks.values()),
                "version": "1.11.0",
            },
        }
        self.prepared = json.dumps(call, separators=(",", ":")).encode()

    def register(self) -> defer.Deferred:
        if self.prepared is None:
            self.prepare()
        body = self.prepared
        request = (
            b"POST /internal/agent HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
            b"Accept: application/json\r\nContent-Length: %d\r\n\r\n%s"
            % (self.master.encode(), len(body), body)
        )
        host, _, port = self.master.rpartition(":")
        self.sent_at = time.perf_counter()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.connect((host, int(port)))
            sock.sendall(request)
            sock.setblocking(False)
            self.link = _Link(self)
            self.reactor.adoptStreamConnection(sock.fileno(), socket.AF_INET, _Adopt(self.link))
        except OSError:  # refused: no master listens there (yet)
            self._failed(Failure())
        finally:
            sock.close()  # the reactor holds its own descriptor for the connection
        return self.registered

    def _failed(self, failure: Any) -> None:
        if not self.registered.called:
            self.registered.errback(failure)

    def _refused(self, link: _Link, code: int, body: bytes) -> None:
        if link is self.link:
            self.link = None
            self._failed(BenchError(f"REGISTER of sim-{self.index}: {code} {body!r}"))

    def _link_open(self, link: _Link, stream_id: str) -> None:
        if link is self.link:
            self.stream_id = stream_id
            self._maybe_registered()

    def _maybe_registered(self) -> None:
        # Admitted: the stream's ID (its head) and the REGISTERED event both arrived.
        if self.agent_id and self.stream_id and not self.registered.called:
            self.prepared = None  # it told this master; the next REGISTER reports anew
            self.stats.registered += 1
            self.registered_at = time.perf_counter()
            self.registered.callback(self)

    def _link_ended(self, link: _Link, reason: Any) -> None:
        if self.stopping or link is not self.link:
            return
        if not self.registered.called:
            self._failed(reason)
            return
        self.stats.links_lost += 1
        if not self.stats.failover:
            self.stats.error(f"sim-{self.index}: link closed by the master")

    def follow(self, master: str) -> defer.Deferred:
        """A new leader: re-register with it, reporting this agent's tasks (as agents do)."""
        old, self.link = self.link, None
        self.stream_id = None
        self.in_flight = None
        self.pong_pending = False
        self.master = master
        self.registered = defer.Deferred()
        self.registered_at = None
        if old is not None:
            old.close()
        # The pool keys connections by host: calls to the new master open a new one.
        return self.register()

    def _event(self, event: Any) -> None:
        kind = event.get("type") if isinstance(event, dict) else None
        self.stats.events[kind] += 1
        if kind == "REGISTERED":
            self.agent_id = event["registered"]["agent_id"]["value"]
            self._maybe_registered()
        elif kind == "PING":
            self.pong_pending = True
            self._schedule_pump()
        elif kind == "RUN_TASK":
            run = event["run_task"]
            task_info = run["task"]
            status = {
                "task_id": task_info["task_id"],
                "state": "TASK_RUNNING",
                "source": "SOURCE_EXECUTOR",
                "agent_id": ident(self.agent_id),
                "executor_id": task_info["task_id"],
                "timestamp": time.time(),
                "uuid": new_status_uuid(),
            }
            self.updates.append({"framework_id": run["framework_info"]["id"], "status": status})
            framework_id = run["framework_info"]["id"]
            self.frameworks[framework_id["value"]] = run["framework_info"]
            self.tasks[task_info["task_id"]["value"]] = {
                "task_id": task_info["task_id"],
                "framework_id": framework_id,
                "agent_id": ident(self.agent_id),
                "name": task_info["name"],
                "resources": task_info["resources"],
                "state": "TASK_RUNNING",
            }
            self._schedule_pump()
        elif kind == "ERROR":
            self.stats.error(f"sim-{self.index}: ERROR event {event.get('error')}")

    # -- calls, at most one in flight; updates queued meanwhile go in one UPDATE

    def _schedule_pump(self) -> None:
        if not self.pump_scheduled:
            self.pump_scheduled = True
            self.reactor.callLater(0, self._pump)

    def _pump(self) -> None:
        self.pump_scheduled = False
        if self.in_flight or self.stream_id is None or self.stopping:
            return
        call: dict[str, Any] = {"agent_id": ident(self.agent_id)}
        if self.pong_pending:
            self.pong_pending = False
            call["type"] = "PONG"
        elif self.updates:
            updates, self.updates = self.updates, []
            call["type"] = "UPDATE"
            call["update"] = {"updates": updates}
        else:
            return
        self.in_flight = call["type"]
        self.stats.calls[call["type"]] += 1
        d = http_client.post_json(self.http, self.url, call, {"Mesos-Stream-Id": self.stream_id})
        d.addCallbacks(self._answered, self._call_failed, (call["type"],), None, (call["type"],))

    def _answered(self, reply: http_client.Reply, kind: str) -> None:
        self.in_flight = None
        if kind == "PONG" and reply.code == 202:
            self.pongs_answered += 1
        if reply.code != 202:
            self.stats.error(f"sim-{self.index}: {kind} answered {reply.code} {reply.body!r}")
        self._pump()

    def _call_failed(self, failure: Any, kind: str) -> None:
        self.in_flight = None
        if not self.stopping:
            if not self.stats.failover:
                self.stats.error(f"sim-{self.index}: {kind} failed: {failure.getErrorMessage()}")
            self._pump()

    @property
    def idle(self) -> bool:
        return not (self.in_flight or self.updates or self.pong_pending)

    @property
    def updates_done(self) -> bool:
        """No status update waiting or in flight (PONGs may be)."""
        return not self.updates and self.in_flight != "UPDATE"

    def stop(self) -> defer.Deferred:
        self.stopping = True
        if self.link is not None:
            self.link.close()
        return self.pool.closeCachedConnections()


# ----------------------------------------------------------------- framework


class SimFramework:
    """Launches ``per_agent`` tasks on every agent it is offered, acknowledges updates."""

    def __init__(self, reactor: Any, master: str, agents: int, per_agent: int, concurrency: int):
        self.reactor = reactor
        self.per_agent = per_agent
        self.total = agents * per_agent
        self.client = SchedulerClient(
            reactor,
            master,
            {"user": "bench", "name": "master-memory-bench", "failover_timeout": 0},
            self._event,  # SchedulerClient acknowledges every update after this returns
        )
        self.calls = defer.DeferredSemaphore(concurrency)
        self.task_resources = Resources.parse(TASK_RESOURCES).to_json()
        self.launched: Counter = Counter()
        self.launched_total = 0
        self.running = 0
        self.states: Counter = Counter()
        self.failures: list[str] = []
        self.outstanding = 0
        self.accepts: list[defer.Deferred] = []
        self.all_running_at: float | None = None
        self.all_accepted_at: float | None = None
        self.suppressed = False

    def _call(self, kind: str, body: dict) -> defer.Deferred:
        self.outstanding += 1

        def done(result: Any) -> None:
            self.outstanding -= 1
            if not isinstance(result, http_client.Reply) and len(self.failures) < 20:
                self.failures.append(f"{kind}: {result.getErrorMessage()}")

        d = self.calls.run(self.client.call, kind, body)
        d.addBoth(done)
        return d

    def _event(self, event: dict) -> None:
        kind = event.get("type")
        if kind == "OFFERS":
            self._offers(event["offers"].get("offers", []))
        elif kind == "UPDATE":
            status = event["update"]["status"]
            state = status.get("state")
            self.states[state] += 1
            if state == "TASK_RUNNING":
                self.running += 1
                if self.running == self.total:
                    self.all_running_at = time.perf_counter()
            elif len(self.failures) < 20:
                self.failures.append(f"update {state}: {status.get('message')}")
        elif kind == "ERROR":
            self.failures.append(f"ERROR event: {event.get('error')}")

    def _offers(self, offers: list[dict]) -> None:
        unusable = []
        for offer in offers:
            agent_id = offer["agent_id"]["value"]
            wanted = self.per_agent - self.launched[agent_id]
            if wanted <= 0:
                unusable.append(offer["id"])
                continue
            base = self.launched[agent_id]
            task_infos = [
                {
                    "name": f"bench-{offer['hostname']}-{base + k}",
                    "task_id": {"value": f"{offer['hostname']}-t{base + k}"},
                    "agent_id": offer["agent_id"],
                    "resources": self.task_resources,
                    "command": {"value": "sleep 1000"},
                }
                for k in range(wanted)
            ]
            self.launched[agent_id] += wanted
            self.launched_total += wanted
            self.accepts.append(
                self._call(
                    "ACCEPT",
                    {
                        "offer_ids": [offer["id"]],
                        "operations": [{"type": "LAUNCH", "launch": {"task_infos": task_infos}}],
                    },
                )
            )
        if unusable:
            self._call("DECLINE", {"offer_ids": unusable, "filters": {"refuse_seconds": 3600}})
        if self.launched_total >= self.total and not self.suppressed:
            self.suppressed = True
            accepts, self.accepts = self.accepts, []

            def all_accepted(_: Any) -> None:
                self.all_accepted_at = time.perf_counter()
                self._call("SUPPRESS", {})

            defer.DeferredList(accepts).addCallback(all_accepted)
