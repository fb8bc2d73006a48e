"""The master: frameworks, agents, tasks and offers, and what happens to them.

HTTP handlers decode and validate requests and call into ``Master``; the
allocator decides who is offered what; ``Master`` keeps the books and sends
events.  Every timer uses the injected clock, so the behaviour can be driven
step by step in tests.
"""

from __future__ import annotations

import collections
import socket
import struct
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from mesos_py import MESOS_API_VERSION
from mesos_py.allocator.drf import AllocatorError, DRFAllocator, effective_refuse_seconds
from mesos_py.common import jsoncodec
from mesos_py.common.http import EventStream
from mesos_py.common.prometheus import Histogram
from mesos_py.common.protocol import DEFAULT_HEARTBEAT_INTERVAL, TASK_STATES, id_value, ident
from mesos_py.common.resources import ResourceError, Resources
from mesos_py.master import registry, validation
from mesos_py.master.maintainer import Maintainer
from mesos_py.master.model import AgentRecord, CallRefused, Framework, Offer, Task
from mesos_py.master.registrar import MemoryStore, Registrar
from mesos_py.master.role_settings import RoleSettings

log = Logger()


@dataclass(frozen=True)
class MasterConfig:
    hostname: str = "localhost"
    ip: str = "127.0.0.1"
    port: int = 5050
    allocation_interval: float = 1.0
    offer_timeout: float | None = None
    agent_ping_timeout: float = 15.0
    max_agent_ping_timeouts: int = 5
    max_completed_frameworks: int = 50
    max_completed_tasks_per_framework: int = 1000
    heartbeat_interval: float = DEFAULT_HEARTBEAT_INTERVAL
    cluster: str | None = None
    weights: tuple[tuple[str, float], ...] = ()
    agent_reregister_timeout: float = 600.0
    max_unreachable_tasks_per_framework: int = 1000
    # Largest share (0 to 1) of recovered agents that may be marked unreachable at once.
    recovery_agent_removal_limit: float = 1.0
    registry_gc_interval: float = 15 * 60.0
    registry_max_agent_age: float = 14 * 86400.0
    registry_max_agent_count: int = 102400


def _ip_as_int(ip: str) -> int:
    """MasterInfo.ip: the IPv4 address in network order, read as a host integer."""
    try:
        return struct.unpack("=I", socket.inet_aton(ip))[0]
    except OSError:
        return 0


def _executor_resources(executor: dict) -> Resources:
    return Resources.from_json(executor.get("resources", [])).unallocated()


def master_status(task_id: str, state: str, reason: str, message: str, **extra: Any) -> dict:
    """A status update the master makes itself: no uuid, so nobody acknowledges it."""
    status = {
        "task_id": ident(task_id),
        "state": state,
        "source": "SOURCE_MASTER",
        "reason": reason,
        "message": message,
        "timestamp": time.time(),
    }
    status.update(extra)
    return status


def _nanoseconds(seconds: float) -> dict[str, int]:
    """A TimeInfo."""
    return {"nanoseconds": int(seconds * 1_000_000_000)}


def _log_critical(reason: str) -> None:
    log.critical("{reason}", reason=reason)


def _well_formed_task(task: dict) -> bool:
    """A task an agent reports when it re-registers: fields of the types the books need."""
    executor_id = task.get("executor_id", {})
    return (
        isinstance(task.get("name", ""), str)
        and isinstance(task.get("role", ""), str)
        and task.get("state", "TASK_STAGING") in TASK_STATES
        and isinstance(executor_id, dict)
        and isinstance(executor_id.get("value", ""), str)
        and isinstance(task.get("statuses", []), list)
    )


class Master:
    def __init__(
        self,
        config: MasterConfig,
        clock: IReactorTime,
        flags: dict[str, str],
        registrar: Registrar | None = None,
    ) -> None:
        self.config = config
        self.clock = clock
        self.flags = flags
        self.registrar = registrar or Registrar(MemoryStore(), lambda reason: None)
        self.master_id = str(uuid.uuid4())
        self.start_time = time.time()
        self.elected_time: float | None = self.start_time
        self.allocator = DRFAllocator(allocation_interval=config.allocation_interval)
        self.allocator.set_weights(dict(config.weights))
        self.frameworks: dict[str, Framework] = {}
        self.completed_frameworks: collections.deque[Framework] = collections.deque(
            maxlen=config.max_completed_frameworks
        )
        self.removed_framework_ids: set[str] = set()
        self.agents: dict[str, AgentRecord] = {}
        # Shut down or removed for good: refused if they try to come back (registry 'gone').
        self.removed_agent_ids: set[str] = set()
        # Marked unreachable (missed pings, or not back after a failover); welcome back.
        self.unreachable_agents: dict[str, float] = {}
        # Admitted in the registry a new leader recovered, not yet re-registered.
        self.recovered_agents: dict[str, dict] = {}
        self._recovered_total = 0  # admitted agents in the registry recovered
        self._reregister_timeout_call = None
        self._registry_gc_call = None
        # What the leader does when going on is unsafe: the service exits (Mesos aborts).
        self.fail_over: Callable[[str], None] = _log_critical
        self._parsed_resources: dict[str, Resources] = {}
        self.offers: dict[str, Offer] = {}
        self.metrics: collections.Counter = collections.Counter()
        self.allocation_run_ms: collections.deque[float] = collections.deque(maxlen=1000)
        self.allocation_run_seconds = Histogram()
        # From a status's creation (its timestamp) to the master relaying it.
        self.status_update_latency = Histogram()
        self._next_framework = 0
        self._next_agent = 0
        self._next_offer = 0
        self._allocation_pending = None
        self._allocation_loop = None
        self.maintainer = Maintainer(self)
        self.role_settings = RoleSettings(self)

    # ------------------------------------------------------------------ info

    @property
    def master_info(self) -> dict[str, Any]:
        c = self.config
        return {
            "id": self.master_id,
            "ip": _ip_as_int(c.ip),
            "port": c.port,
            "pid": f"master@{c.ip}:{c.port}",
            "hostname": c.hostname,
            "version": MESOS_API_VERSION,
            "address": {"hostname": c.hostname, "ip": c.ip, "port": c.port},
            "capabilities": [{"type": "AGENT_UPDATE"}],
        }

    @property
    def pid(self) -> str:
        return f"master@{self.config.ip}:{self.config.port}"

    # ------------------------------------------------------------ allocation

    def recover(self, recovered: registry.Registry) -> None:
        """Take over the registry a new leader read: agents get a window to re-register."""
        self.recovered_agents = {
            agent_id: info
            for agent_id, info in recovered.agents.items()
            if agent_id not in self.agents
        }
        self._recovered_total = len(recovered.agents)
        self.unreachable_agents.update(recovered.unreachable)
        self.removed_agent_ids.update(recovered.gone)
        self.role_settings.recover(recovered)
        self.maintainer.recover(recovered)
        if self.recovered_agents:
            log.info(
                "Recovered {n} agent(s) from the registry; waiting {t}s for them to re-register",
                n=len(self.recovered_agents),
                t=self.config.agent_reregister_timeout,
            )
            self._reregister_timeout_call = self.clock.callLater(
                self.config.agent_reregister_timeout, self._reregister_timed_out
            )

    def _reregister_timed_out(self) -> None:
        """Agents of the recovered registry that never came back become unreachable.

        Unless too many are missing (``--recovery_agent_removal_limit``): then the
        leader fails over rather than mark them, so that an operator investigates.
        """
        self._reregister_timeout_call = None
        missing = self.recovered_agents
        share = len(missing) / self._recovered_total if missing else 0.0
        limit = self.config.recovery_agent_removal_limit
        if share > limit:
            shown = ", ".join(sorted(missing)[:20]) + (", ..." if len(missing) > 20 else "")
            self.fail_over(
                f"Post-recovery agent removal limit exceeded: {len(missing)} of the "
                f"{self._recovered_total} agents recovered from the registry ({share:.1%}) did "
                f"not re-register within {self.config.agent_reregister_timeout:g}s: {shown}. "
                f"The limit is {limit:.1%}; investigate, or raise "
                "--recovery_agent_removal_limit"
            )
            return
        self.recovered_agents = {}
        self.metrics["master/recovery_slave_removals"] += len(missing)
        now = time.time()
        for agent_id in missing:
            self.unreachable_agents[agent_id] = now
            self.store(registry.MarkUnreachable(agent_id, now))
        if missing:
            log.warn(
                "{n} agent(s) did not re-register within {t}s: marked unreachable",
                n=len(missing),
                t=self.config.agent_reregister_timeout,
            )

    def _give_back(
        self,
        framework_id: str,
        agent_id: str,
        resources: Resources,
        role: str | None = None,
        refuse_seconds: float | None = None,
    ) -> None:
        """Return resources to the allocator, filtered for ``refuse_seconds`` when given."""
        self.allocator.recover(
            framework_id,
            agent_id,
            resources,
            now=self.clock.seconds(),
            role=role,
            refuse_seconds=refuse_seconds,
        )

    def store(self, operation: Any) -> None:
        """Write a registry change; a failed write ends leadership (the registrar says so)."""
        self.registrar.apply(operation).addErrback(lambda _failure: None)

    def _schedule_registry_gc(self) -> None:
        self._registry_gc_call = self.clock.callLater(
            self.config.registry_gc_interval, self.collect_registry_garbage
        )

    def collect_registry_garbage(self) -> None:
        """Prune unreachable and gone agents past ``--registry_max_agent_age`` or beyond
        ``--registry_max_agent_count``, then wait for the next ``--registry_gc_interval``."""
        self._schedule_registry_gc()
        prune = registry.garbage_collection(
            self.registrar.registry,
            time.time(),
            self.config.registry_max_agent_age,
            self.config.registry_max_agent_count,
        )
        if not (prune.unreachable or prune.gone):
            return
        self.store(prune)
        for agent_id in prune.unreachable:
            self.unreachable_agents.pop(agent_id, None)
        self.removed_agent_ids.difference_update(prune.gone)
        # Their tasks reconcile as unknown from now on, as in Mesos.
        self._forget_unreachable_tasks(prune.unreachable)
        log.info(
            "Registry garbage collection pruned {u} unreachable agent(s) {unreachable} "
            "and {g} gone agent(s) {gone}",
            u=len(prune.unreachable),
            unreachable=sorted(prune.unreachable),
            g=len(prune.gone),
            gone=sorted(prune.gone),
        )

    def start(self) -> None:
        self._schedule_periodic_allocation()
        self._schedule_registry_gc()

    def stop(self) -> None:
        for timer in (self._reregister_timeout_call, self._registry_gc_call):
            if timer is not None and timer.active():
                timer.cancel()
        for call in (self._allocation_pending, self._allocation_loop):
            if call is not None and call.active():
                call.cancel()
        self._allocation_pending = self._allocation_loop = None
        for framework in list(self.frameworks.values()):
            if framework.stream is not None:
                framework.stream.close()
        for agent in list(self.agents.values()):
            for call in (agent.ping_call, agent.disconnect_call):
                if call is not None and call.active():
                    call.cancel()
            if agent.link is not None:
                agent.link.close()

    def _schedule_periodic_allocation(self) -> None:
        def periodic() -> None:
            self._allocation_loop = self.clock.callLater(self.config.allocation_interval, periodic)
            self.allocate()

        self._allocation_loop = self.clock.callLater(self.config.allocation_interval, periodic)

    def request_allocation(self) -> None:
        """Allocate soon, coalescing all requests made before it runs."""
        if self._allocation_pending is None or not self._allocation_pending.active():
            self._allocation_pending = self.clock.callLater(0, self.allocate)

    def allocate(self) -> None:
        if self._allocation_pending is not None and self._allocation_pending.active():
            self._allocation_pending.cancel()
        self._allocation_pending = None
        started = time.perf_counter()
        allocations = self.allocator.allocate(self.clock.seconds())
        elapsed = time.perf_counter() - started
        self.allocation_run_ms.append(elapsed * 1000)
        self.allocation_run_seconds.observe(elapsed)
        self.metrics["allocator/mesos/allocation_runs"] += 1
        by_framework: dict[str, list[Offer]] = collections.defaultdict(list)
        for allocation in allocations:
            framework = self.frameworks.get(allocation.framework_id)
            agent = self.agents.get(allocation.agent_id)
            if framework is None or agent is None or not framework.connected:
                self._give_back(
                    allocation.framework_id,
                    allocation.agent_id,
                    allocation.resources,
                    role=allocation.role,
                )
                continue
            by_framework[allocation.framework_id].append(
                self._make_offer(framework, agent, allocation)
            )
        for framework_id, offers in by_framework.items():
            framework = self.frameworks[framework_id]
            framework.counters["offers/sent"] += len(offers)
            self.metrics["master/offers_sent"] += len(offers)
            framework.send(
                {
                    "type": "OFFERS",
                    "offers": {"offers": [self.offer_json(o) for o in offers]},
                }
            )

    def _make_offer(self, framework: Framework, agent: AgentRecord, allocation: Any) -> Offer:
        offer_id = f"{self.master_id}-O{self._next_offer}"
        self._next_offer += 1
        offer = Offer(
            offer_id,
            framework.framework_id,
            agent.agent_id,
            allocation.role,
            allocation.resources.unallocated(),
        )
        if self.config.offer_timeout is not None:
            offer.timeout_call = self.clock.callLater(
                self.config.offer_timeout, self._offer_timed_out, offer_id
            )
        self.offers[offer_id] = offer
        framework.offers[offer_id] = offer
        agent.offers.add(offer_id)
        return offer

    def offer_json(self, offer: Offer) -> dict[str, Any]:
        agent = self.agents[offer.agent_id]
        framework = self.frameworks[offer.framework_id]
        body: dict[str, Any] = {
            "id": ident(offer.offer_id),
            "framework_id": ident(offer.framework_id),
            "agent_id": ident(offer.agent_id),
            "hostname": agent.hostname,
            "url": {
                "scheme": "http",
                "address": {
                    "hostname": agent.hostname,
                    "ip": agent.ip or agent.hostname,
                    "port": agent.info.get("port", 5051),
                },
                "path": "/slave(1)",
            },
            "resources": offer.resources.allocated_to(offer.role).to_json(),
            "allocation_info": {"role": offer.role},
        }
        if agent.info.get("attributes"):
            body["attributes"] = agent.info["attributes"]
        unavailability = self.maintainer.unavailability(agent)
        if unavailability is not None:
            body["unavailability"] = unavailability
        executor_ids = list(framework.executors.get(offer.agent_id, {}))
        if executor_ids:
            body["executor_ids"] = [ident(e) for e in executor_ids]
        return body

    def _offer_timed_out(self, offer_id: str) -> None:
        offer = self.offers.get(offer_id)
        if offer is not None:
            offer.timeout_call = None
            self.rescind_offer(offer)

    def _remove_offer(self, offer: Offer) -> None:
        self.offers.pop(offer.offer_id, None)
        framework = self.frameworks.get(offer.framework_id)
        if framework is not None:
            framework.offers.pop(offer.offer_id, None)
        agent = self.agents.get(offer.agent_id)
        if agent is not None:
            agent.offers.discard(offer.offer_id)
        if offer.timeout_call is not None and offer.timeout_call.active():
            offer.timeout_call.cancel()
        offer.timeout_call = None

    def rescind_offer(self, offer: Offer, notify: bool = True) -> None:
        """Take an offer back; its resources return to the allocator unfiltered."""
        self._remove_offer(offer)
        self._give_back(offer.framework_id, offer.agent_id, offer.resources, role=offer.role)
        framework = self.frameworks.get(offer.framework_id)
        if framework is not None and notify:
            framework.counters["offers/rescinded"] += 1
            framework.send({"type": "RESCIND", "rescind": {"offer_id": ident(offer.offer_id)}})

    # ------------------------------------------------------------ frameworks

    def subscribe(self, call: dict, stream: EventStream) -> None:
        """A SUBSCRIBE whose 200 response ``stream`` is already open."""
        info = dict(call["subscribe"]["framework_info"])
        suppressed = set(call["subscribe"].get("suppressed_roles") or [])
        framework_id = info.get("id", {}).get("value") if "id" in info else None
        now = time.time()
        if framework_id in self.removed_framework_ids:
            stream.send({"type": "ERROR", "error": {"message": "Framework has been removed"}})
            stream.close()
            return
        framework = self.frameworks.get(framework_id) if framework_id else None
        if framework is None:
            if not framework_id:
                framework_id = f"{self.master_id}-{self._next_framework:04d}"
                self._next_framework += 1
            info["id"] = ident(framework_id)
            framework = Framework(framework_id, info, registered_time=now)
            framework.suppressed_roles = suppressed
            self.frameworks[framework_id] = framework
            self._attach(framework, stream)
            self.allocator.add_framework(
                framework_id,
                framework.roles,
                suppressed_roles=suppressed,
                gpu_aware=framework.has_capability("GPU_RESOURCES"),
            )
            log.info("Framework {id} ({name}) subscribed", id=framework_id, name=info.get("name"))
        else:
            self._failover(framework, info, suppressed, stream, now)
        self.metrics["master/messages_register_framework"] += 1
        framework.send(
            {
                "type": "SUBSCRIBED",
                "subscribed": {
                    "framework_id": ident(framework_id),
                    "heartbeat_interval_seconds": self.config.heartbeat_interval,
                    "master_info": self.master_info,
                },
            }
        )
        stream.start_heartbeats(self.config.heartbeat_interval)
        self.request_allocation()

    def _attach(self, framework: Framework, stream: EventStream) -> None:
        framework.stream = stream
        framework.connected = framework.active = True
        framework.recovered = False

        def closed(_stream: EventStream) -> None:
            if framework.stream is _stream:
                self.disconnect_framework(framework)

        stream.on_close = closed

    def _failover(
        self, framework: Framework, info: dict, suppressed: set, stream: EventStream, now: float
    ) -> None:
        old = framework.stream
        if old is not None and not old.closed:
            framework.stream = None
            old.send({"type": "ERROR", "error": {"message": "Framework failed over"}})
            old.close()
        if framework.failover_call is not None and framework.failover_call.active():
            framework.failover_call.cancel()
        framework.failover_call = None
        for offer in list(framework.offers.values()):
            self.rescind_offer(offer, notify=False)
        info["id"] = ident(framework.framework_id)
        framework.info = info
        framework.suppressed_roles = suppressed
        framework.reregistered_time = now
        self._attach(framework, stream)
        self.allocator.update_framework(
            framework.framework_id, framework.roles, suppressed_roles=suppressed
        )
        self.allocator.activate_framework(framework.framework_id)
        for agent in self.agents.values():
            if framework.framework_id in {t.framework_id for t in agent.tasks.values()}:
                agent.send(
                    {"type": "UPDATE_FRAMEWORK", "update_framework": {"framework_info": info}}
                )
        log.info("Framework {id} re-subscribed (failover)", id=framework.framework_id)

    def disconnect_framework(self, framework: Framework) -> None:
        """The subscription connection closed: deactivate, then wait ``failover_timeout``."""
        if not framework.connected:
            return
        framework.stream = None
        framework.connected = framework.active = False
        framework.unregistered_time = time.time()
        self.allocator.deactivate_framework(framework.framework_id)
        for offer in list(framework.offers.values()):
            self.rescind_offer(offer, notify=False)
        timeout = float(framework.info.get("failover_timeout", 0) or 0)
        log.info(
            "Framework {id} disconnected; failover timeout {t}s",
            id=framework.framework_id,
            t=timeout,
        )
        framework.failover_call = self.clock.callLater(
            timeout, self._failover_expired, framework.framework_id
        )

    def _failover_expired(self, framework_id: str) -> None:
        framework = self.frameworks.get(framework_id)
        if framework is not None and not framework.connected:
            framework.failover_call = None
            self.remove_framework(framework)

    def remove_framework(self, framework: Framework) -> None:
        """Tear a framework down: kill its tasks and executors and forget it."""
        framework_id = framework.framework_id
        if framework.failover_call is not None and framework.failover_call.active():
            framework.failover_call.cancel()
        for offer in list(framework.offers.values()):
            self.rescind_offer(offer, notify=False)
        agent_ids = {t.agent_id for t in framework.tasks.values()} | set(framework.executors)
        for agent_id in agent_ids:
            agent = self.agents.get(agent_id)
            if agent is not None:
                agent.send(
                    {
                        "type": "SHUTDOWN_FRAMEWORK",
                        "shutdown_framework": {"framework_id": ident(framework_id)},
                    }
                )
        for task in list(framework.tasks.values()):
            if not task.terminal:
                self._apply_state(
                    task,
                    master_status(
                        task.task_id,
                        "TASK_KILLED",
                        "REASON_FRAMEWORK_REMOVED",
                        "Framework removed",
                        agent_id=ident(task.agent_id),
                    ),
                )
            self._complete_task(task)
        for agent_id, executors in framework.executors.items():
            for _, resources in executors.values():
                if agent_id in self.agents and resources:
                    self._give_back(framework_id, agent_id, resources)
        framework.executors.clear()
        self.allocator.remove_framework(framework_id)
        stream, framework.stream = framework.stream, None
        framework.connected = framework.active = False
        framework.unregistered_time = framework.unregistered_time or time.time()
        del self.frameworks[framework_id]
        self.completed_frameworks.append(framework)
        self.removed_framework_ids.add(framework_id)
        if stream is not None:
            stream.close()
        log.info("Framework {id} removed", id=framework_id)

    # ------------------------------------------------------------- calls

    def framework_for_call(self, call: dict, stream_id: str | None) -> Framework:
        framework_id = call["framework_id"]["value"]
        framework = self.frameworks.get(framework_id)
        if framework is None:
            raise CallRefused(400, f"Framework '{framework_id}' cannot be found")
        if not framework.connected or framework.stream is None:
            raise CallRefused(403, f"Framework '{framework_id}' is not subscribed")
        if stream_id is None:
            raise CallRefused(
                400, "All non-subscribe calls should include the 'Mesos-Stream-Id' header"
            )
        if stream_id != framework.stream.stream_id:
            raise CallRefused(
                400,
                f"The stream ID '{stream_id}' included in this request didn't match the stream "
                f"ID currently associated with framework ID '{framework_id}'",
            )
        return framework

    def handle_call(self, framework: Framework, call_type: str, call: dict) -> bytes | None:
        """Carry out a validated non-SUBSCRIBE call; a returned body is answered 200, else 202."""
        framework.counters["calls/" + call_type.lower()] += 1
        body = call.get(call_type.lower(), {})
        handler = getattr(self, "_call_" + call_type.lower(), None)
        if handler is None:
            return None  # REQUEST and the inverse-offer/operation calls: accepted, nothing to do.
        return handler(framework, body)

    def _call_teardown(self, framework: Framework, body: dict) -> None:
        self.remove_framework(framework)

    def _call_decline(self, framework: Framework, body: dict) -> None:
        self.metrics["master/messages_decline_offers"] += 1
        refuse = effective_refuse_seconds(validation.refuse_seconds(body))
        for offer_id in body.get("offer_ids", []):
            offer = framework.offers.get(offer_id["value"])
            if offer is None:
                continue
            self._remove_offer(offer)
            framework.counters["offers/declined"] += 1
            self._give_back(
                framework.framework_id,
                offer.agent_id,
                offer.resources,
                role=offer.role,
                refuse_seconds=refuse,
            )

    def _call_revive(self, framework: Framework, body: dict) -> None:
        self.metrics["master/messages_revive_offers"] += 1
        roles = body.get("roles") or None
        framework.suppressed_roles -= set(roles or framework.suppressed_roles)
        self.allocator.revive(framework.framework_id, roles)
        self.request_allocation()

    def _call_suppress(self, framework: Framework, body: dict) -> None:
        self.metrics["master/messages_suppress_offers"] += 1
        roles = body.get("roles") or None
        framework.suppressed_roles |= set(roles or framework.roles)
        self.allocator.suppress(framework.framework_id, roles)

    def _call_update_framework(self, framework: Framework, body: dict) -> bytes:
        info = dict(body["framework_info"])
        for fixed in ("principal", "user", "checkpoint"):
            if info.get(fixed) != framework.info.get(fixed):
                raise CallRefused(400, f"Updating 'FrameworkInfo.{fixed}' is unsupported")
        framework.info = info
        framework.suppressed_roles = set(body.get("suppressed_roles") or [])
        self.allocator.update_framework(
            framework.framework_id, framework.roles, suppressed_roles=framework.suppressed_roles
        )
        self.request_allocation()
        return b""

    def _call_kill(self, framework: Framework, body: dict) -> None:
        self.metrics["master/messages_kill_task"] += 1
        task_id = body["task_id"]["value"]
        task = framework.tasks.get(task_id)
        if task is None or task.terminal:
            agent_id = body.get("agent_id", {}).get("value")
            self._reconcile_one(framework, task_id, agent_id)
            return
        agent = self.agents.get(task.agent_id)
        kill: dict[str, Any] = {
            "framework_id": ident(framework.framework_id),
            "task_id": ident(task_id),
        }
        if "kill_policy" in body:
            kill["kill_policy"] = body["kill_policy"]
        if agent is not None:
            agent.send({"type": "KILL_TASK", "kill_task": kill})

    def _call_shutdown(self, framework: Framework, body: dict) -> None:
        agent = self.agents.get(body["agent_id"]["value"])
        if agent is not None:
            agent.send(
                {
                    "type": "SHUTDOWN_EXECUTOR",
                    "shutdown_executor": {
                        "framework_id": ident(framework.framework_id),
                        "executor_id": body["executor_id"],
                    },
                }
            )

    def _call_acknowledge(self, framework: Framework, body: dict) -> None:
        self.metrics["master/messages_status_update_acknowledgement"] += 1
        agent = self.agents.get(body["agent_id"]["value"])
        task = framework.tasks.get(body["task_id"]["value"])
        if agent is None:
            self.metrics["master/invalid_status_update_acknowledgements"] += 1
            return
        self.metrics["master/valid_status_update_acknowledgements"] += 1
        if task is not None and task.pending_uuid == body["uuid"]:
            task.pending_uuid = None
            if task.terminal:
                self._complete_task(task)
        agent.send(
            {
                "type": "ACKNOWLEDGE",
                "acknowledge": {
                    "framework_id": ident(framework.framework_id),
                    "task_id": body["task_id"],
                    "uuid": body["uuid"],
                },
            }
        )

    def _call_message(self, framework: Framework, body: dict) -> None:
        agent = self.agents.get(body["agent_id"]["value"])
        if agent is None or not agent.send(
            {
                "type": "MESSAGE",
                "message": {
                    "framework_id": ident(framework.framework_id),
                    "executor_id": body["executor_id"],
                    "data": body["data"],
                },
            }
        ):
            self.metrics["master/invalid_framework_to_executor_messages"] += 1
            return
        self.metrics["master/valid_framework_to_executor_messages"] += 1

    def _call_reconcile(self, framework: Framework, body: dict) -> None:
        self.metrics["master/messages_reconcile_tasks"] += 1
        requested = body.get("tasks", [])
        if not requested:
            for task in framework.tasks.values():
                framework.send(
                    {"type": "UPDATE", "update": {"status": self._reconcile_status(task)}}
                )
            return
        for entry in requested:
            agent_id = entry.get("agent_id", {}).get("value")
            self._reconcile_one(framework, entry["task_id"]["value"], agent_id)

    def _reconcile_status(self, task: Task) -> dict:
        last = task.last_status or {}
        status = master_status(
            task.task_id,
            task.state,
            "REASON_RECONCILIATION",
            "Reconciliation: Latest task state",
            agent_id=ident(task.agent_id),
        )
        if task.executor_id:
            status["executor_id"] = ident(task.executor_id)
        for key in ("healthy", "labels", "container_status", "data"):
            if key in last:
                status[key] = last[key]
        return status

    def _reconcile_one(self, framework: Framework, task_id: str, agent_id: str | None) -> None:
        task = framework.tasks.get(task_id)
        if task is not None:
            framework.send({"type": "UPDATE", "update": {"status": self._reconcile_status(task)}})
            return
        unreachable = framework.unreachable_tasks.get(task_id)
        if unreachable is not None and agent_id is None:
            agent_id = unreachable.agent_id  # answered from its agent's unreachable entry
        if agent_id in self.recovered_agents or (agent_id is None and self.recovered_agents):
            return  # its agent may still re-register with it: no answer yet (as in Mesos)
        extra: dict[str, Any] = {}
        if agent_id is not None and agent_id in self.agents:
            state, message = "TASK_GONE", "Reconciliation: Task is unknown to the agent"
        elif agent_id is not None and agent_id in self.removed_agent_ids:
            state, message = "TASK_GONE", "Reconciliation: Task is gone"
        elif agent_id is not None and agent_id in self.unreachable_agents:
            state, message = "TASK_UNREACHABLE", "Reconciliation: Task is unreachable"
            extra["unreachable_time"] = _nanoseconds(self.unreachable_agents[agent_id])
        else:
            state, message = "TASK_UNKNOWN", "Reconciliation: Task is unknown"
        if not framework.partition_aware:
            state = "TASK_LOST"
        if agent_id:
            extra["agent_id"] = ident(agent_id)
        framework.send(
            {
                "type": "UPDATE",
                "update": {
                    "status": master_status(
                        task_id, state, "REASON_RECONCILIATION", message, **extra
                    )
                },
            }
        )

    # ----------------------------------------------------------- launching

    def _call_accept(self, framework: Framework, body: dict) -> None:
        self.metrics["master/messages_launch_tasks"] += 1
        offer_ids = [o["value"] for o in body.get("offer_ids", [])]
        operations = body.get("operations", [])
        problem = None
        if not offer_ids:
            problem = "No offers specified"
        elif len(set(offer_ids)) != len(offer_ids):
            problem = "Duplicate offer ID in ACCEPT"
        offers = []
        for offer_id in offer_ids:
            offer = framework.offers.get(offer_id)
            if offer is None:
                problem = problem or f"Offer {offer_id} is no longer valid"
            else:
                offers.append(offer)
        if not problem and len({o.agent_id for o in offers}) > 1:
            problem = "Aggregated offers must belong to one single agent"
        for offer in offers:
            self._remove_offer(offer)
        if problem:
            for offer in offers:
                self._give_back(
                    framework.framework_id, offer.agent_id, offer.resources, role=offer.role
                )
            self._drop_operations(framework, operations, problem)
            return
        framework.counters["offers/accepted"] += len(offers)
        agent = self.agents.get(offers[0].agent_id)
        remaining = sum((o.resources for o in offers), Resources())
        role = offers[0].role
        if agent is None or not agent.connected:
            self._give_back(framework.framework_id, offers[0].agent_id, remaining, role=role)
            self._drop_operations(framework, operations, "Agent is not connected")
            return
        for operation in operations:
            kind = operation.get("type")
            if kind == "LAUNCH":
                tasks = operation.get("launch", {}).get("task_infos", [])
                for task_info in tasks if isinstance(tasks, list) else []:
                    remaining = self._launch(framework, agent, role, task_info, remaining)
            elif kind == "LAUNCH_GROUP":
                remaining = self._launch_group(framework, agent, role, operation, remaining)
            else:
                log.warn("Ignoring unsupported offer operation {kind}", kind=kind)
        refuse = effective_refuse_seconds(validation.refuse_seconds(body))
        if remaining:
            self._give_back(
                framework.framework_id, agent.agent_id, remaining, role=role, refuse_seconds=refuse
            )

    def _drop_operations(self, framework: Framework, operations: list, message: str) -> None:
        """Answer every task of an ACCEPT that used invalid offers with TASK_LOST/DROPPED."""
        state = "TASK_DROPPED" if framework.partition_aware else "TASK_LOST"
        for operation in operations:
            launch = operation.get("launch", {}) if isinstance(operation, dict) else {}
            group = operation.get("launch_group", {}) if isinstance(operation, dict) else {}
            tasks = launch.get("task_infos", []) + group.get("task_group", {}).get("tasks", [])
            for task in tasks:
                task_id = task.get("task_id", {}).get("value") if isinstance(task, dict) else None
                if isinstance(task_id, str):
                    self.metrics["master/task_lost/source_master/reason_invalid_offers"] += 1
                    framework.send(
                        {
                            "type": "UPDATE",
                            "update": {
                                "status": master_status(
                                    task_id, state, "REASON_INVALID_OFFERS", message
                                )
                            },
                        }
                    )

    def _task_error(self, framework: Framework, task_info: Any, reason: str, message: str) -> None:
        task_id = None
        if isinstance(task_info, dict) and isinstance(task_info.get("task_id"), dict):
            task_id = task_info["task_id"].get("value")
        if not isinstance(task_id, str):
            task_id = ""
        self.metrics["master/tasks_error"] += 1
        framework.send(
            {
                "type": "UPDATE",
                "update": {"status": master_status(task_id, "TASK_ERROR", reason, message)},
            }
        )

    def _check_task(
        self,
        framework: Framework,
        agent: AgentRecord,
        task_info: Any,
        remaining: Resources,
        seen: set[str],
    ) -> tuple[str | None, Resources]:
        """Why ``task_info`` cannot run on ``remaining``, and what it consumes (incl. executor)."""
        problem = validation.validate_task(task_info, agent.agent_id, framework.framework_id)
        if problem:
            return problem, Resources()
        task_id = task_info["task_id"]["value"]
        existing = framework.tasks.get(task_id)
        if task_id in seen or (existing is not None and not existing.terminal):
            return f"Task has duplicate ID: {task_id}", Resources()
        try:
            needed = validation.task_resources(task_info).unallocated()
            executor = task_info.get("executor")
            if executor is not None:
                running = framework.executors.get(agent.agent_id, {})
                known = running.get(executor["executor_id"]["value"])
                if known is None:
                    needed = needed + _executor_resources(executor)
                elif known[0].get("command") != executor.get("command"):
                    return (
                        "ExecutorInfo is not compatible with the running executor "
                        f"{executor['executor_id']['value']}"
                    ), Resources()
        except ResourceError as exc:
            return f"Task uses invalid resources: {exc}", Resources()
        if not needed:
            return "Task uses no resources", Resources()
        if not remaining.contains(needed):
            return (
                f"Task uses more resources {needed!r} than available {remaining!r}",
                Resources(),
            )
        return None, needed

    def _launch(
        self,
        framework: Framework,
        agent: AgentRecord,
        role: str,
        task_info: Any,
        remaining: Resources,
    ) -> Resources:
        problem, needed = self._check_task(framework, agent, task_info, remaining, set())
        if problem:
            self._task_error(framework, task_info, "REASON_TASK_INVALID", problem)
            return remaining
        task = self._add_task(framework, agent, role, task_info, needed)
        agent.send(
            {"type": "RUN_TASK", "run_task": {"framework_info": framework.info, "task": task.info}}
        )
        return remaining - needed

    def _launch_group(
        self,
        framework: Framework,
        agent: AgentRecord,
        role: str,
        operation: dict,
        remaining: Resources,
    ) -> Resources:
        group = operation.get("launch_group", {})
        executor = group.get("executor")
        tasks = group.get("task_group", {}).get("tasks", [])
        problem = None
        if not isinstance(executor, dict) or executor.get("type") != "DEFAULT":
            problem = "LAUNCH_GROUP needs an ExecutorInfo of type DEFAULT"
        elif not isinstance(tasks, list) or not tasks:
            problem = "Task group is empty"
        plan: list[tuple[dict, Resources]] = []
        available = remaining
        seen: set[str] = set()
        if problem is None:
            try:
                executor_id = id_value(executor, "executor_id")
                known = framework.executors.get(agent.agent_id, {}).get(executor_id)
                if known is None:
                    executor_resources = _executor_resources(executor)
                    if not available.contains(executor_resources):
                        raise ResourceError("executor resources exceed the offer")
                    available = available - executor_resources
            except (ValueError, ResourceError) as exc:
                problem = f"Invalid executor: {exc}"
        for task_info in tasks if problem is None else []:
            if isinstance(task_info, dict) and "executor" in task_info:
                problem = "Tasks in a task group must not have an ExecutorInfo"
                break
            task_problem, needed = self._check_task(framework, agent, task_info, available, seen)
            if task_problem:
                problem = task_problem
                break
            seen.add(task_info["task_id"]["value"])
            available = available - needed
            plan.append((task_info, needed))
        if problem is not None:
            for task_info in tasks if isinstance(tasks, list) else []:
                self._task_error(framework, task_info, "REASON_TASK_GROUP_INVALID", problem)
            return remaining
        executor = dict(executor, framework_id=ident(framework.framework_id))
        consumed = remaining - available
        launched = []
        for index, (task_info, needed) in enumerate(plan):
            if index == 0:
                needed = consumed - sum((n for _, n in plan[1:]), Resources())
            task = self._add_task(
                framework,
                agent,
                role,
                dict(task_info, executor=executor),
                needed,
                executor_id=executor["executor_id"]["value"],
            )
            launched.append(task.info)
        agent.send(
            {
                "type": "RUN_TASK_GROUP",
                "run_task_group": {
                    "framework_info": framework.info,
                    "executor": executor,
                    "task_group": {"tasks": launched},
                },
            }
        )
        return available

    def _add_task(
        self,
        framework: Framework,
        agent: AgentRecord,
        role: str,
        task_info: dict,
        needed: Resources,
        executor_id: str | None = None,
    ) -> Task:
        task_id = task_info["task_id"]["value"]
        executor = task_info.get("executor")
        if executor is not None:
            executor_id = executor["executor_id"]["value"]
            running = framework.executors.setdefault(agent.agent_id, {})
            if executor_id not in running:
                executor_resources = _executor_resources(executor)
                running[executor_id] = (executor, executor_resources)
                needed = needed - executor_resources
        task = Task(
            task_id=task_id,
            framework_id=framework.framework_id,
            agent_id=agent.agent_id,
            name=task_info["name"],
            resources=needed,
            role=role,
            executor_id=executor_id or "",
            info=task_info,
            statuses=[],
        )
        framework.tasks[task_id] = task
        agent.tasks[(framework.framework_id, task_id)] = task
        self.metrics["master/tasks_staging_total"] += 1
        return task

    # --------------------------------------------------------------- status

    def _apply_state(self, task: Task, status: dict, latest_state: str | None = None) -> None:
        """Record a status; release the task's resources when it first turns terminal.

        ``latest_state`` is the agent's newest state for the task when the update being
        delivered is an older one still awaiting acknowledgement (as in Mesos).
        """
        task.last_status = status
        if not task.statuses or task.statuses[-1]["state"] != status["state"]:
            # A retried update (same state) adds no history: retries must not grow memory.
            task.statuses.append({"state": status["state"], "timestamp": status.get("timestamp")})
        if task.terminal:
            return
        task.state = latest_state or status["state"]
        if task.terminal:
            self.metrics["master/tasks_" + task.state[5:].lower()] += 1
            if task.agent_id in self.agents:
                self._give_back(task.framework_id, task.agent_id, task.resources, role=task.role)

    def _complete_task(self, task: Task) -> None:
        framework = self.frameworks.get(task.framework_id)
        if framework is not None and framework.tasks.get(task.task_id) is task:
            del framework.tasks[task.task_id]
            framework.completed_tasks.append(task)
        agent = self.agents.get(task.agent_id)
        if agent is not None:
            agent.tasks.pop((task.framework_id, task.task_id), None)
            self.maintainer.task_removed(agent.agent_id)

    def _mark_task_unreachable(self, task: Task) -> None:
        """Move a task of an unreachable agent to its framework's bounded unreachable list."""
        framework = self.frameworks.get(task.framework_id)
        if framework is None or framework.tasks.get(task.task_id) is not task:
            return
        del framework.tasks[task.task_id]
        kept = framework.unreachable_tasks
        kept.pop(task.task_id, None)
        kept[task.task_id] = task
        while len(kept) > self.config.max_unreachable_tasks_per_framework:
            del kept[next(iter(kept))]  # the oldest goes first

    def _forget_unreachable_tasks(self, agent_ids: Iterable[str]) -> None:
        """Drop the unreachable tasks of agents that came back or were pruned."""
        agent_ids = set(agent_ids)
        if not agent_ids:
            return
        for framework in self.frameworks.values():
            kept = framework.unreachable_tasks
            for task_id in [i for i, t in kept.items() if t.agent_id in agent_ids]:
                del kept[task_id]

    def status_update(
        self, agent: AgentRecord, framework_id: str, status: dict, latest_state: str | None
    ) -> None:
        """An agent's status update (it carries a uuid and is retried until acknowledged)."""
        self.metrics["master/messages_status_update"] += 1
        framework = self.frameworks.get(framework_id)
        if framework is None:
            self.metrics["master/invalid_status_updates"] += 1
            return
        self.metrics["master/valid_status_updates"] += 1
        status = self.maintainer.decorate(agent, status)
        task = framework.tasks.get(status["task_id"]["value"])
        if task is not None and task.agent_id == agent.agent_id:
            if status.get("timestamp") and status.get("uuid") != task.pending_uuid:
                self.status_update_latency.observe(max(0.0, time.time() - status["timestamp"]))
            self._apply_state(task, status, latest_state)
            if status.get("uuid"):
                task.pending_uuid = status["uuid"]
        framework.send({"type": "UPDATE", "update": {"status": status}})

    def executor_exited(
        self, agent: AgentRecord, framework_id: str, executor_id: str, exit_status: int
    ) -> None:
        framework = self.frameworks.get(framework_id)
        if framework is None:
            return
        executors = framework.executors.get(agent.agent_id, {})
        entry = executors.pop(executor_id, None)
        if entry is not None and entry[1]:
            self._give_back(framework_id, agent.agent_id, entry[1])
        framework.send(
            {
                "type": "FAILURE",
                "failure": {
                    "agent_id": ident(agent.agent_id),
                    "executor_id": ident(executor_id),
                    "status": exit_status,
                },
            }
        )

    def executor_message(
        self, agent: AgentRecord, framework_id: str, executor_id: str, data: str
    ) -> None:
        framework = self.frameworks.get(framework_id)
        if framework is None or not framework.send(
            {
                "type": "MESSAGE",
                "message": {
                    "agent_id": ident(agent.agent_id),
                    "executor_id": ident(executor_id),
                    "data": data,
                },
            }
        ):
            self.metrics["master/invalid_executor_to_framework_messages"] += 1
            return
        self.metrics["master/valid_executor_to_framework_messages"] += 1

    # --------------------------------------------------------------- agents

    def register_agent(self, register: dict, link: EventStream, peer_ip: str = "") -> AgentRecord:
        """Admit an agent (new, or re-registering with its ID) on its new link."""
        info = dict(register["agent_info"])
        total = self.parse_resources(info.get("resources", []))
        version = str(register.get("version", MESOS_API_VERSION))
        agent_id = info.get("id", {}).get("value") if isinstance(info.get("id"), dict) else None
        now = time.time()
        agent = self.agents.get(agent_id) if agent_id else None
        reregistered = agent is not None or agent_id is not None
        was_unreachable = self.unreachable_agents.pop(agent_id, None) is not None
        self.recovered_agents.pop(agent_id, None)
        if agent is None:
            if not agent_id:
                agent_id = f"{self.master_id}-S{self._next_agent}"
                self._next_agent += 1
                self.metrics["master/slave_registrations"] += 1
            else:
                self.metrics["master/slave_reregistrations"] += 1
            info["id"] = ident(agent_id)
            agent = AgentRecord(agent_id, info, total, registered_time=now, version=version)
            if reregistered:
                agent.reregistered_time = now
            self.agents[agent_id] = agent
            self.allocator.add_agent(agent_id, total)
        else:
            self.metrics["master/slave_reregistrations"] += 1
            info["id"] = ident(agent_id)
            agent.info = info
            agent.reregistered_time = now
            old = agent.link
            agent.link = None
            if old is not None:
                old.close()
            if agent.disconnect_call is not None and agent.disconnect_call.active():
                agent.disconnect_call.cancel()
            agent.disconnect_call = None
            if agent.total != total:
                agent.total = total
                self.allocator.update_agent_total(agent_id, total)
            self.allocator.activate_agent(agent_id)
        agent.link = link
        agent.ip = peer_ip or agent.ip
        agent.connected = True
        agent.pings_missed = 0
        self.store(registry.AdmitAgent(agent_id, info))

        def closed(_link: EventStream) -> None:
            if agent.link is _link:
                self.disconnect_agent(agent)

        link.on_close = closed
        if reregistered:
            self._reconcile_agent_tasks(agent, register, was_unreachable)
        link.send(
            {
                "type": "REGISTERED",
                "registered": {
                    "agent_id": ident(agent_id),
                    "master_info": self.master_info,
                    "ping_interval_seconds": self.config.agent_ping_timeout,
                    "max_ping_timeouts": self.config.max_agent_ping_timeouts,
                    "reregistered": reregistered,
                },
            }
        )
        self._schedule_ping(agent)
        self.maintainer.agent_registered(agent)
        log.info(
            "Agent {id} at {host} {what}",
            id=agent_id,
            host=agent.hostname,
            what="re-registered" if reregistered else "registered",
        )
        self.request_allocation()
        return agent

    def _reconcile_agent_tasks(
        self, agent: AgentRecord, register: dict, was_unreachable: bool = False
    ) -> None:
        """Make the master's view of an agent's tasks match what the agent reports.

        An agent back from being unreachable may report tasks whose frameworks were
        told TASK_LOST (not partition-aware): those tasks are killed, as in Mesos.
        Partition-aware frameworks get their tasks back and learn it by reconciling.
        """
        reported: dict[tuple[str, str], dict] = {}
        for task in register.get("tasks", []):
            try:
                key = (id_value(task, "framework_id"), id_value(task, "task_id"))
            except ValueError:
                continue
            reported[key] = task
        if was_unreachable:  # its tasks are reported afresh below (or are gone)
            self._forget_unreachable_tasks([agent.agent_id])
        frameworks_info = {}
        for info in register.get("frameworks", []):
            if isinstance(info, dict) and isinstance(info.get("id"), dict):
                frameworks_info[info["id"].get("value")] = info
        for key, task in list(agent.tasks.items()):
            if key not in reported and not task.terminal:
                framework = self.frameworks.get(task.framework_id)
                status = master_status(
                    task.task_id,
                    "TASK_LOST",
                    "REASON_RECONCILIATION",
                    "Task is unknown to the agent",
                    agent_id=ident(agent.agent_id),
                )
                self._apply_state(task, status)
                if framework is not None:
                    framework.send({"type": "UPDATE", "update": {"status": status}})
                self._complete_task(task)
        held: dict[tuple[str, str], list[Resources]] = collections.defaultdict(list)
        for (framework_id, task_id), task_json in reported.items():
            if (framework_id, task_id) in agent.tasks:
                continue
            framework = self.frameworks.get(framework_id)
            if framework is None:
                info = frameworks_info.get(framework_id)
                if info is None:
                    continue
                framework = Framework(
                    framework_id, dict(info), registered_time=time.time(), recovered=True
                )
                self.frameworks[framework_id] = framework
                self.allocator.add_framework(
                    framework_id,
                    framework.roles,
                    active=False,
                    gpu_aware=framework.has_capability("GPU_RESOURCES"),
                )
            if not _well_formed_task(task_json):
                log.warn(
                    "Agent {id} reported a malformed task {task}", id=agent.agent_id, task=task_id
                )
                continue
            try:
                resources = self.parse_resources(task_json.get("resources", []))
            except (ResourceError, TypeError, ValueError):
                continue
            task = Task(
                task_id=task_id,
                framework_id=framework_id,
                agent_id=agent.agent_id,
                name=task_json.get("name", ""),
                resources=resources,
                role=task_json.get("role", framework.roles[0]),
                executor_id=task_json.get("executor_id", {}).get("value", ""),
                info=task_json,
                state=task_json.get("state", "TASK_STAGING"),
                statuses=list(task_json.get("statuses", [])),
            )
            framework.tasks[task_id] = task
            agent.tasks[(framework_id, task_id)] = task
            if not task.terminal:
                held[(framework_id, task.role)].append(resources)
                if was_unreachable and not framework.partition_aware:
                    agent.send(
                        {
                            "type": "KILL_TASK",
                            "kill_task": {
                                "framework_id": ident(framework_id),
                                "task_id": ident(task_id),
                            },
                        }
                    )
        # One allocator update per framework and role, not one per task: a failover
        # re-registers every agent with all its tasks at once.
        for (framework_id, role), bags in held.items():
            try:
                self.allocator.add_allocation(
                    framework_id, agent.agent_id, Resources.total(bags), role=role
                )
            except AllocatorError as exc:
                log.warn(
                    "Agent {id} reports tasks it has no room for: {error}",
                    id=agent.agent_id,
                    error=exc,
                )

    def parse_resources(self, resources_json: Any) -> Resources:
        """Parse an agent's or a reported task's resources, reusing the parse of identical ones.

        Agents and tasks mostly share a few shapes; re-registrations after a
        failover parse every task of every agent, so this halves the master's
        work then.  The key is the JSON's exact text: a different key order
        merely misses the cache.
        """
        try:
            key = jsoncodec.exact_text(resources_json)
        except TypeError:  # not JSON at all: let the parser say what is wrong
            return Resources.from_json(resources_json)
        parsed = self._parsed_resources.get(key)
        if parsed is None:
            parsed = Resources.from_json(resources_json)
            if len(self._parsed_resources) >= 1024:
                self._parsed_resources.clear()
            self._parsed_resources[key] = parsed
        return parsed

    def _schedule_ping(self, agent: AgentRecord) -> None:
        if agent.ping_call is not None and agent.ping_call.active():
            agent.ping_call.cancel()
        agent.ping_call = self.clock.callLater(self.config.agent_ping_timeout, self._ping, agent)

    def _ping(self, agent: AgentRecord) -> None:
        agent.ping_call = None
        if self.agents.get(agent.agent_id) is not agent or not agent.connected:
            return
        if agent.pings_missed >= self.config.max_agent_ping_timeouts:
            log.warn(
                "Agent {id} missed {n} pings: unreachable", id=agent.agent_id, n=agent.pings_missed
            )
            self.mark_unreachable(agent)
            return
        agent.pings_missed += 1
        agent.send({"type": "PING"})
        self._schedule_ping(agent)

    def pong(self, agent: AgentRecord) -> None:
        agent.pings_missed = 0

    def disconnect_agent(self, agent: AgentRecord) -> None:
        """The link closed: no offers from this agent until it comes back."""
        if not agent.connected:
            return
        agent.connected = False
        agent.link = None
        if agent.ping_call is not None and agent.ping_call.active():
            agent.ping_call.cancel()
        agent.ping_call = None
        self.allocator.deactivate_agent(agent.agent_id)
        for offer_id in list(agent.offers):
            self.rescind_offer(self.offers[offer_id])
        grace = self.config.agent_ping_timeout * self.config.max_agent_ping_timeouts
        log.info(
            "Agent {id} disconnected; removing it in {grace}s unless it re-registers",
            id=agent.agent_id,
            grace=grace,
        )
        agent.disconnect_call = self.clock.callLater(grace, self.mark_unreachable, agent)

    def unregister_agent(self, agent: AgentRecord) -> None:
        """The agent shut down for good: partition-aware frameworks hear TASK_GONE (Mesos)."""
        self.remove_agent(
            agent, "REASON_AGENT_REMOVED", "Agent shut down", partition_aware_state="TASK_GONE"
        )

    def mark_agent_gone(self, agent_id: Any) -> None:
        """MARK_AGENT_GONE: the operator says the agent is gone for good (e.g. decommissioned).

        A registered agent is shut down and removed; an unreachable one's tasks,
        which partition-aware frameworks were told are unreachable, become
        TASK_GONE_BY_OPERATOR.  Either way the ID may never come back.
        """
        if not isinstance(agent_id, str):
            raise CallRefused(400, "Expecting 'agent_id.value' to be a string")
        if agent_id in self.removed_agent_ids:
            return  # already gone: nothing changes
        agent = self.agents.get(agent_id)
        if agent is not None:
            self.remove_agent(
                agent,
                "REASON_AGENT_REMOVED_BY_OPERATOR",
                "Agent marked gone by the operator",
                partition_aware_state="TASK_GONE_BY_OPERATOR",
            )
            return
        if agent_id not in self.unreachable_agents and agent_id not in self.recovered_agents:
            raise CallRefused(400, f"Unknown agent {agent_id}")
        self.unreachable_agents.pop(agent_id, None)
        self.recovered_agents.pop(agent_id, None)
        self._retire_agent_id(agent_id, time.time())
        for framework in self.frameworks.values():
            gone = [t for t in framework.unreachable_tasks.values() if t.agent_id == agent_id]
            for task in gone:
                del framework.unreachable_tasks[task.task_id]
                status = master_status(
                    task.task_id,
                    "TASK_GONE_BY_OPERATOR",
                    "REASON_AGENT_REMOVED_BY_OPERATOR",
                    "Agent marked gone by the operator",
                    agent_id=ident(agent_id),
                )
                self._apply_state(task, status)
                if framework.partition_aware:  # the others were told TASK_LOST already
                    framework.send({"type": "UPDATE", "update": {"status": status}})
                framework.completed_tasks.append(task)
        log.info("Agent {id} marked gone by the operator", id=agent_id)

    def _retire_agent_id(self, agent_id: str, when: float) -> None:
        """The ID may never come back: refused from now on, and so in the registry."""
        self.removed_agent_ids.add(agent_id)
        self.maintainer.agent_gone(agent_id)
        self.store(registry.MarkGone(agent_id, when))

    def mark_unreachable(self, agent: AgentRecord) -> None:
        """No pings answered, or no link for too long: the agent may come back with its ID."""
        self.remove_agent(agent, "REASON_AGENT_REMOVED", "Agent is unreachable", gone=False)

    def remove_agent(
        self,
        agent: AgentRecord,
        reason: str,
        message: str,
        gone: bool = True,
        partition_aware_state: str = "TASK_UNREACHABLE",
    ) -> None:
        """Forget an agent: its live tasks are lost or unreachable, and their frameworks hear.

        Tasks of an unreachable agent (``gone=False``) wait in their frameworks'
        unreachable lists for it to come back; otherwise they are completed.
        """
        if self.agents.get(agent.agent_id) is not agent:
            return
        for call in (agent.ping_call, agent.disconnect_call):
            if call is not None and call.active():
                call.cancel()
        for offer_id in list(agent.offers):
            self.rescind_offer(self.offers[offer_id])
        if agent.link is not None:
            link, agent.link = agent.link, None
            if gone:  # an unreachable agent keeps its ID: ERROR would make it start afresh
                link.send({"type": "ERROR", "error": {"message": message}})
            link.close()
        del self.agents[agent.agent_id]
        now = time.time()
        extra: dict[str, Any] = {"agent_id": ident(agent.agent_id)}
        if gone:
            self._retire_agent_id(agent.agent_id, now)
        else:
            self.unreachable_agents[agent.agent_id] = now
            self.store(registry.MarkUnreachable(agent.agent_id, now))
            extra["unreachable_time"] = _nanoseconds(now)
        self.allocator.remove_agent(agent.agent_id)
        self.metrics["master/slave_removals"] += 1
        affected = set()
        for task in list(agent.tasks.values()):
            framework = self.frameworks.get(task.framework_id)
            if framework is None:
                continue
            affected.add(framework)
            live = not task.terminal
            if live:
                state = partition_aware_state if framework.partition_aware else "TASK_LOST"
                status = master_status(task.task_id, state, reason, message, **extra)
                self._apply_state(task, status)
                framework.send({"type": "UPDATE", "update": {"status": status}})
            if live and not gone:
                self._mark_task_unreachable(task)
            else:
                self._complete_task(task)
        for framework in self.frameworks.values():
            framework.executors.pop(agent.agent_id, None)
        for framework in affected:
            framework.send({"type": "FAILURE", "failure": {"agent_id": ident(agent.agent_id)}})
        log.info("Agent {id} removed: {message}", id=agent.agent_id, message=message)

    def agent_for_call(self, agent_id: str, stream_id: str | None) -> AgentRecord:
        agent = self.agents.get(agent_id)
        if agent is None:
            if agent_id in self.removed_agent_ids:
                raise CallRefused(403, f"Agent {agent_id} was removed; register afresh")
            raise CallRefused(400, f"Agent {agent_id} is not registered")
        if agent.link is None or stream_id != agent.link.stream_id:
            raise CallRefused(400, "Mesos-Stream-Id does not match the agent's link")
        return agent
