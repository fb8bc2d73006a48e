"""Weighted DRF allocator with Mesos hierarchical-allocator semantics.

Pure bookkeeping: no clocks (callers pass ``now``), no I/O. See
``docs/allocator.md`` for the algorithm and for why a round is cheap.

Vocabulary used below:

* *eligible* (framework, role): the framework is active and has not
  suppressed the role. Only eligible pairs are kept in a role's sorted order.
* *reference* of an agent: a snapshot of its available resources. A framework
  is *blocked* on an agent (for a role) when one of its refusal filters
  covers the whole reference; while the agent's available resources stay
  within the reference, a blocked framework can be skipped without looking
  at its filters, and an agent on which every eligible pair is blocked is
  skipped in O(1).
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
from bisect import bisect_left, insort
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from mesos_py.allocator.quota import Quota, cap, required_headroom, role_caps, unmet_guarantee
from mesos_py.common.resources import UNRESERVED, ResourceError, Resources, validate_role

__all__ = [
    "DEFAULT_MIN_ALLOCATABLE",
    "DEFAULT_REFUSE_SECONDS",
    "MAX_REFUSE_SECONDS",
    "Allocation",
    "AllocatorError",
    "AllocatorStats",
    "DRFAllocator",
    "effective_refuse_seconds",
    "parse_min_allocatable",
]

DEFAULT_REFUSE_SECONDS = 5.0
MAX_REFUSE_SECONDS = 365 * 24 * 3600.0
DEFAULT_MIN_ALLOCATABLE = "cpus:0.01|mem:32"  # Mesos' --min_allocatable_resources

# With at most this many unblocked frameworks left for an agent, pick among
# them directly instead of walking the role's whole sorted order.
_FEW = 16

_EMPTY = Resources()
_versions = itertools.count()  # never repeats, so a stale cache can never look fresh

_Key = tuple[float, int, str]  # (weighted dominant share, allocation count, name)


class AllocatorError(ValueError):
    """The caller asked for something inconsistent (unknown agent, over-allocation...)."""


def effective_refuse_seconds(value: float | None) -> float:
    """Mesos' reading of ``Filters.refuse_seconds``.

    Absent, negative or NaN means the 5 s default; more than 365 days is capped
    at 365 days; 0 means "install no filter".
    """
    if value is None or math.isnan(value) or value < 0:
        return DEFAULT_REFUSE_SECONDS
    return min(float(value), MAX_REFUSE_SECONDS)


def parse_min_allocatable(text: str) -> list[Resources]:
    """Read the ``--min_allocatable_resources`` flag: bundles separated by ``|``.

    ``"cpus:0.01|mem:32"`` means "at least 0.01 cpus, or at least 32 MB";
    ``"cpus:1;mem:64|disk:5"`` means "1 cpu and 64 MB, or 5 MB of disk".
    Ranges and sets count by element (``ports:10`` is "ten ports").
    """
    bundles = [Resources.parse(part) for part in text.split("|") if part.strip()]
    if not bundles:
        raise AllocatorError(f"no resources in min_allocatable_resources {text!r}")
    return bundles


@dataclass(frozen=True, slots=True)
class Allocation:
    """Resources offered to one framework on one agent for one role (allocation_info set)."""

    framework_id: str
    agent_id: str
    role: str
    resources: Resources


@dataclass(slots=True)
class AllocatorStats:
    allocation_runs: int = 0
    allocations_made: int = 0


class _Client:
    """A role, or a framework within a role: what DRF sorts."""

    __slots__ = ("alloc", "count", "key", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self.alloc: dict[str, int] = {}  # scalar name -> thousandths
        self.count = 0  # allocations ever made to it: the DRF tie-breaker
        self.key: _Key | None = None  # set while it sits in a sorted order


class _Role:
    __slots__ = ("client", "eligible", "frameworks", "name", "order", "version")

    def __init__(self, name: str) -> None:
        self.name = name
        self.client = _Client(name)
        self.frameworks: dict[str, _Client] = {}  # tracked under this role
        self.eligible: set[str] = set()
        self.order: list[_Key] = []  # keys of the eligible frameworks, ascending
        self.version = next(_versions)  # renewed whenever `eligible` changes


class _Framework:
    __slots__ = ("active", "gpu_aware", "id", "roles", "suppressed")

    def __init__(
        self, fid: str, roles: tuple[str, ...], suppressed: set[str], gpu_aware: bool, active: bool
    ) -> None:
        self.id = fid
        self.roles = roles
        self.suppressed = suppressed
        self.gpu_aware = gpu_aware
        self.active = active


class _Filter:
    """A refusal: `framework_id` wants no `role` offer from the agent within `resources`.

    The filters of one (agent, role, framework) form a chain, newest first. The
    newest one's `blocked` says whether the chain covers the agent's reference.
    """

    __slots__ = ("agent_id", "alive", "blocked", "framework_id", "older", "resources", "role")

    def __init__(
        self, fid: str, role: str, aid: str, resources: Resources, older: _Filter | None
    ) -> None:
        self.framework_id = fid
        self.role = role
        self.agent_id = aid
        self.resources = resources
        self.older = older
        self.alive = True
        self.blocked = older is not None and older.blocked

    def covers(self, resources: Resources) -> bool:
        f: _Filter | None = self
        while f is not None:
            if f.resources.contains(resources):
                return True
            f = f.older
        return False


class _Agent:
    __slots__ = (
        "active",
        "allocations",
        "available",
        "blocked_eligible",
        "blocked_total",
        "filters",
        "has_gpu",
        "id",
        "reference",
        "reserved",
        "total",
        "unblocked",
    )

    def __init__(self, aid: str, total: Resources) -> None:
        self.id = aid
        self.total = total
        self.available = total
        self.reference = total
        self.active = True
        self.has_gpu = total.scalar_milli().get("gpus", 0) > 0
        self.reserved = bool(total.reservation_roles())
        self.allocations: dict[str, Resources] = {}  # framework -> resources (allocation_info set)
        self.filters: dict[str, dict[str, _Filter]] = {}  # role -> framework -> newest filter
        self.blocked_eligible: dict[str, int] = {}  # role -> eligible frameworks blocked here
        self.blocked_total = 0  # sum of blocked_eligible
        self.unblocked: dict[str, tuple[int, set[str]]] = {}  # role -> (role version, set)


class DRFAllocator:
    """Offers each agent's free resources to the framework with the lowest weighted share."""

    def __init__(
        self,
        *,
        min_allocatable: list[Resources] | None = None,
        filter_gpu_resources: bool = True,
        allocation_interval: float = 1.0,
        seed: int | None = None,
    ) -> None:
        if min_allocatable is None:
            min_allocatable = parse_min_allocatable(DEFAULT_MIN_ALLOCATABLE)
        self._min = [tuple(r.quantities_milli().items()) for r in min_allocatable if r]
        self._filter_gpu = filter_gpu_resources
        self._interval = allocation_interval
        self._rng = random.Random(seed)
        self._weights: dict[str, float] = {}
        self._quotas: dict[str, Quota] = {}
        self._roles: dict[str, _Role] = {}
        self._role_order: list[_Key] = []  # keys of roles with an eligible framework
        self._frameworks: dict[str, _Framework] = {}
        self._agents: dict[str, _Agent] = {}
        self._fw_agents: dict[str, set[str]] = {}  # framework -> agents where it holds resources
        self._untracked: set[str] = set()  # removed frameworks whose leftovers left the shares
        self._total_milli: dict[str, int] = {}
        self._total: Resources | None = _EMPTY
        self._dirty = False  # totals or weights changed: every key is stale
        self._eligible_total = 0
        self._filtered_at: dict[tuple[str, str], set[str]] = {}  # (framework, role) -> agents
        # Filters by expiry time, and a heap of those times. One bucket serves
        # every filter made with the same `now`, which keeps the number of
        # objects the garbage collector has to scan down.
        self._expiries: dict[float, list[_Filter]] = {}
        self._expiry_heap: list[float] = []
        self._dead = 0  # filters dropped before their expiry, still in a bucket
        self.stats = AllocatorStats()

    # -- weights -------------------------------------------------------------

    def set_weights(self, weights: Mapping[str, float]) -> None:
        """Replace the role weights; roles not named weigh 1.0."""
        for role, weight in weights.items():
            validate_role(role)
            if not (math.isfinite(weight) and weight > 0):
                raise AllocatorError(f"weight of role {role!r} must be positive, not {weight!r}")
        self._weights = dict(weights)
        self._dirty = True

    # -- quota ---------------------------------------------------------------

    def set_quota(
        self,
        role: str,
        *,
        guarantees: Mapping[str, float] | None = None,
        limits: Mapping[str, float] | None = None,
    ) -> None:
        """The role's guarantees and limits by scalar name; neither removes its quota.

        Limits: the role is never offered unreserved resources that would take
        its consumption (offered plus in use) past them. Guarantees: unallocated
        unreserved resources needed by unmet guarantees are kept from other roles.
        """
        validate_role(role)
        if role == UNRESERVED:
            raise AllocatorError("the default role '*' cannot have quota")
        quota = Quota(_milli_map(guarantees, "guarantee"), _milli_map(limits, "limit"))
        for name, guarantee in quota.guarantees.items():
            if guarantee > quota.limits.get(name, guarantee):
                raise AllocatorError(f"role {role!r}: {name} guarantee above its limit")
        if quota.guarantees or quota.limits:
            self._quotas[role] = quota
        else:
            self._quotas.pop(role, None)

    def consumed(self, role: str) -> dict[str, float]:
        """What the role holds (offered or in use) by scalar name: its quota consumption."""
        held = self._roles.get(role)
        return {n: v / 1000 for n, v in sorted(held.client.alloc.items())} if held else {}

    # -- frameworks ----------------------------------------------------------

    def add_framework(
        self,
        framework_id: str,
        roles: Iterable[str],
        *,
        suppressed_roles: Iterable[str] = (),
        gpu_aware: bool = False,
        active: bool = True,
    ) -> None:
        if framework_id in self._frameworks:
            raise AllocatorError(f"framework {framework_id} is already added")
        roles = _roles_tuple(roles)
        fw = _Framework(framework_id, roles, set(suppressed_roles) & set(roles), gpu_aware, active)
        self._frameworks[framework_id] = fw
        if framework_id in self._untracked:
            self._untracked.discard(framework_id)
            for aid in self._fw_agents.get(framework_id, ()):
                self._track_all(framework_id, self._agents[aid].allocations[framework_id], 1)
        for role in roles:
            self._client(role, framework_id)
        self._sync(fw)

    def update_framework(
        self,
        framework_id: str,
        roles: Iterable[str],
        *,
        suppressed_roles: Iterable[str] = (),
        gpu_aware: bool | None = None,
    ) -> None:
        """New roles and suppressed roles (re-subscription); unsuppressed roles lose filters."""
        fw = self._framework(framework_id)
        roles = _roles_tuple(roles)
        dropped = set(fw.roles) - set(roles)
        suppressed = set(suppressed_roles) & set(roles)
        unsuppressed = (fw.suppressed - suppressed) & set(roles)
        for role in dropped:
            self._set_eligible(framework_id, role, False)
        for role in dropped | unsuppressed:
            self._clear_filters(framework_id, role)
        fw.roles = roles
        fw.suppressed = suppressed
        if gpu_aware is not None:
            fw.gpu_aware = gpu_aware
        for role in dropped:
            self._forget_client(role, framework_id)
        for role in roles:
            self._client(role, framework_id)
        self._sync(fw)

    def remove_framework(self, framework_id: str) -> None:
        """Forget the framework, its filters and its share.

        Resources it still holds stay in use on their agents until the caller
        `recover`s them.
        """
        fw = self._frameworks.pop(framework_id, None)
        if fw is None:
            return
        for role in fw.roles:
            self._set_eligible(framework_id, role, False)
            self._clear_filters(framework_id, role)
        held = self._fw_agents.get(framework_id)
        if held:
            for aid in held:
                self._track_all(framework_id, self._agents[aid].allocations[framework_id], -1)
            self._untracked.add(framework_id)
        for role in fw.roles:
            self._forget_client(role, framework_id)

    def activate_framework(self, framework_id: str) -> None:
        fw = self._framework(framework_id)
        fw.active = True
        self._sync(fw)

    def deactivate_framework(self, framework_id: str) -> None:
        """No more offers until reactivated; its filters are dropped, as in Mesos."""
        fw = self._framework(framework_id)
        fw.active = False
        self._sync(fw)
        for role in fw.roles:
            self._clear_filters(framework_id, role)

    def suppress(self, framework_id: str, roles: Iterable[str] | None = None) -> None:
        """Stop offering to these roles (None: all) of the framework."""
        fw = self._framework(framework_id)
        fw.suppressed |= self._pick_roles(fw, roles)
        self._sync(fw)

    def revive(self, framework_id: str, roles: Iterable[str] | None = None) -> None:
        """Unsuppress these roles (None: all) and drop the framework's filters for them."""
        fw = self._framework(framework_id)
        chosen = self._pick_roles(fw, roles)
        fw.suppressed -= chosen
        for role in chosen:
            self._clear_filters(framework_id, role)
        self._sync(fw)

    # -- agents --------------------------------------------------------------

    def add_agent(
        self,
        agent_id: str,
        total: Resources,
        *,
        allocated: Mapping[str, Resources] | None = None,
    ) -> None:
        """Add an agent; `allocated` maps framework -> resources already in use there."""
        if agent_id in self._agents:
            raise AllocatorError(f"agent {agent_id} is already added")
        agent = _Agent(agent_id, total)
        held = {fid: self._tag(fid, res) for fid, res in (allocated or {}).items() if res}
        agent.available = agent.reference = self._free(agent_id, total, held.values())
        agent.allocations = held
        self._agents[agent_id] = agent
        for fid, res in held.items():
            self._fw_agents.setdefault(fid, set()).add(agent_id)
            if fid not in self._untracked:
                self._track_all(fid, res, 1)
        self._change_total(total.scalar_milli(), 1)

    def remove_agent(self, agent_id: str) -> None:
        """Forget the agent, what is allocated on it and the filters about it."""
        agent = self._agents.pop(agent_id, None)
        if agent is None:
            return
        for fid, res in agent.allocations.items():
            if fid not in self._untracked:
                self._track_all(fid, res, -1)
            self._drop_holder(fid, agent_id)
        for role, by_fw in agent.filters.items():
            for fid, newest in by_fw.items():
                self._kill_chain(newest)
                _discard(self._filtered_at, (fid, role), agent_id)
        self._change_total(agent.total.scalar_milli(), -1)

    def activate_agent(self, agent_id: str) -> None:
        self._agent(agent_id).active = True

    def deactivate_agent(self, agent_id: str) -> None:
        """Keep the agent's books but offer nothing from it."""
        self._agent(agent_id).active = False

    def update_agent_total(self, agent_id: str, total: Resources) -> None:
        agent = self._agent(agent_id)
        available = self._free(agent_id, total, agent.allocations.values())
        self._change_total(agent.total.scalar_milli(), -1)
        self._change_total(total.scalar_milli(), 1)
        agent.total = total
        agent.has_gpu = total.scalar_milli().get("gpus", 0) > 0
        agent.reserved = bool(total.reservation_roles())
        self._set_available(agent, available)

    # -- resources -----------------------------------------------------------

    def add_allocation(
        self, framework_id: str, agent_id: str, resources: Resources, *, role: str | None = None
    ) -> None:
        """Mark free resources as used by the framework (e.g. a re-registered task).

        Entries without ``allocation_info`` are taken for `role`, else for the
        framework's first role.
        """
        agent = self._agent(agent_id)
        tagged = self._tag(framework_id, resources, role)
        plain = tagged.unallocated()
        if not agent.available.contains(plain):
            raise AllocatorError(
                f"agent {agent_id}: cannot allocate {plain!r}, only {agent.available!r} is free"
            )
        agent.available = agent.available - plain
        self._hold(agent, framework_id, tagged)
        if framework_id not in self._untracked:
            self._track_all(framework_id, tagged, 1)

    def recover(
        self,
        framework_id: str,
        agent_id: str,
        resources: Resources,
        *,
        now: float,
        refuse_seconds: float | None = None,
        role: str | None = None,
    ) -> None:
        """Resources come back from the framework (declined, unused, task ended, rescinded).

        With `refuse_seconds` (read by `effective_refuse_seconds`), the framework
        is not offered this agent's resources again for that role while they are
        contained in the refused ones, for at least one allocation interval.
        Entries without ``allocation_info`` are matched to `role`, or to the
        framework's allocation role on the agent that contains them.
        """
        agent = self._agents.get(agent_id)
        if agent is None or not resources:
            return
        held = agent.allocations.get(framework_id, _EMPTY)
        parts = self._split_recovered(framework_id, agent_id, held, resources, role)
        freed = agent.available
        for _part_role, tagged, plain in parts:
            if not held.contains(tagged):
                raise AllocatorError(
                    f"agent {agent_id}: framework {framework_id} does not hold {tagged!r}"
                )
            held = held - tagged
            freed = freed + plain
        if framework_id not in self._untracked:
            for part_role, _tagged, plain in parts:
                self._track(framework_id, part_role, plain.scalar_milli(), -1)
        if held:
            agent.allocations[framework_id] = held
        else:
            agent.allocations.pop(framework_id, None)
            self._drop_holder(framework_id, agent_id)
        self._set_available(agent, freed)
        if refuse_seconds is None or framework_id not in self._frameworks:
            return
        timeout = effective_refuse_seconds(refuse_seconds)
        if timeout == 0:
            return
        expires = now + max(timeout, self._interval)
        subscribed = self._frameworks[framework_id].roles
        for part_role, _tagged, plain in parts:
            if part_role in subscribed:
                self._add_filter(agent, framework_id, part_role, plain, expires)

    # -- queries -------------------------------------------------------------

    def allocated(self, framework_id: str) -> Resources:
        """What the framework holds (offered or in use), with allocation_info set."""
        total = _EMPTY
        for aid in self._fw_agents.get(framework_id, ()):
            total = total + self._agents[aid].allocations[framework_id]
        return total

    def available(self, agent_id: str) -> Resources:
        return self._agent(agent_id).available

    def total(self) -> Resources:
        if self._total is None:
            total = _EMPTY
            for agent in self._agents.values():
                total = total + agent.total
            self._total = total
        return self._total

    # -- the allocation round ------------------------------------------------

    def allocate(self, now: float) -> list[Allocation]:
        """One allocation round; the returned resources count as allocated until recovered."""
        self.stats.allocation_runs += 1
        self._expire(now)
        if self._dirty:
            self._resort()
        everyone = self._eligible_total
        if not everyone:
            return []
        agents = [a for a in self._agents.values() if a.active and a.available]
        self._rng.shuffle(agents)
        if self._quotas:
            quota_out = self._allocate_with_quota(agents, everyone)
            self.stats.allocations_made += len(quota_out)
            return quota_out
        out: list[Allocation] = []
        for agent in agents:
            if agent.blocked_total == everyone:
                continue  # every eligible framework has refused all of it
            if agent.reserved and agent.available.reservation_roles():
                self._allocate_reserved_agent(agent, out)
            else:
                self._allocate_agent(agent, out)
        self.stats.allocations_made += len(out)
        return out

    def _allocate_agent(self, agent: _Agent, out: list[Allocation]) -> None:
        """An agent with only unreserved resources: all of them go to one framework."""
        available = agent.available
        if not self._allocatable(available):
            return
        roles = self._roles
        blocked_eligible = agent.blocked_eligible
        for key in self._role_order:
            role = roles[key[2]]
            if len(role.eligible) <= blocked_eligible.get(role.name, 0):
                continue
            fid = self._pick(agent, role, available)
            if fid is not None:
                self._offer(agent, role, fid, available, out)
                return  # the order just changed under the loop, and nothing is left

    def _allocate_reserved_agent(self, agent: _Agent, out: list[Allocation]) -> None:
        """Mesos' per-role loop: each role, in DRF order, may take its reservations
        and whatever unreserved resources are still there."""
        for key in list(self._role_order):
            if not agent.available:
                return
            role = self._roles[key[2]]
            if len(role.eligible) <= agent.blocked_eligible.get(role.name, 0):
                continue
            offerable = agent.available.allocatable_to(role.name)
            if not offerable or not self._allocatable(offerable):
                continue
            fid = self._pick(agent, role, offerable)
            if fid is not None:
                self._offer(agent, role, fid, offerable, out)

    def _allocate_with_quota(self, agents: list[_Agent], everyone: int) -> list[Allocation]:
        """Mesos' two stages: first the roles short of their guarantees, then everyone.

        In both, each role in DRF order may take its reservations and the part of
        the unreserved resources its limits and the others' headroom leave it
        (see ``mesos_py.allocator.quota``). One offer per (framework, agent, role).
        """
        available: dict[str, int] = {}
        for agent in agents:
            for name, milli in agent.available.unreserved().scalar_milli().items():
                available[name] = available.get(name, 0) + milli
        out: dict[tuple[str, str, str], Allocation] = {}
        for first_stage in (True, False):
            for agent in agents:
                if agent.blocked_total == everyone:
                    continue
                for key in list(self._role_order):
                    if not agent.available:
                        break
                    role = self._roles[key[2]]
                    unmet = self._unmet(role.name)
                    if first_stage and not _has_any(agent.available, unmet):
                        continue  # nothing here towards its guarantee
                    if len(role.eligible) <= agent.blocked_eligible.get(role.name, 0):
                        continue
                    self._offer_within_quota(agent, role, unmet, available, out, first_stage)
        return list(out.values())

    def _unmet(self, role: str) -> dict[str, int]:
        quota = self._quotas.get(role)
        if quota is None:
            return {}
        held = self._roles.get(role)
        return unmet_guarantee(quota, held.client.alloc if held else {})

    def _offer_within_quota(
        self,
        agent: _Agent,
        role: _Role,
        unmet: dict[str, int],
        available: dict[str, int],
        out: dict[tuple[str, str, str], Allocation],
        first_stage: bool,
    ) -> None:
        free = agent.available
        unreserved = free.unreserved()
        required = required_headroom(self._unmet(r) for r in self._quotas)
        quota = self._quotas.get(role.name)
        caps = role_caps(
            quota, role.client.alloc, unmet, available, required, first_stage=first_stage
        )
        taken = cap(unreserved, caps)
        offerable = free.allocatable_to(role.name).reserved() + taken
        if not offerable or not self._allocatable(offerable):
            return
        fid = self._pick(agent, role, offerable)
        if fid is None:
            return
        made: list[Allocation] = []
        self._offer(agent, role, fid, offerable, made)
        for name, milli in taken.scalar_milli().items():
            available[name] -= milli
        (allocation,) = made
        key = (fid, agent.id, role.name)
        earlier = out.get(key)
        if earlier is not None:
            allocation = Allocation(
                fid, agent.id, role.name, earlier.resources + allocation.resources
            )
        out[key] = allocation

    def _pick(self, agent: _Agent, role: _Role, offerable: Resources) -> str | None:
        """The first framework in the role's DRF order that may receive `offerable`."""
        name = role.name
        filters = agent.filters.get(name)
        gpu_only = self._filter_gpu and agent.has_gpu
        frameworks = self._frameworks
        unblocked_count = len(role.eligible) - agent.blocked_eligible.get(name, 0)
        if unblocked_count <= _FEW < len(role.eligible):
            cached = agent.unblocked.get(name)
            if cached is None or cached[0] != role.version:
                cached = (role.version, _unblocked(role.eligible, filters))
                agent.unblocked[name] = cached
            clients = role.frameworks
            keys: Iterable[_Key] = sorted(
                key for fid in cached[1] if (key := clients[fid].key) is not None
            )
        else:
            keys = role.order
        for key in keys:
            fid = key[2]
            if filters is not None:
                mine = filters.get(fid)
                if mine is not None and (mine.blocked or mine.covers(offerable)):
                    continue
            if gpu_only and not frameworks[fid].gpu_aware:
                continue
            return fid
        return None

    def _offer(
        self, agent: _Agent, role: _Role, fid: str, offerable: Resources, out: list[Allocation]
    ) -> None:
        offered = offerable.allocated_to(role.name)
        agent.available = _EMPTY if offerable is agent.available else agent.available - offerable
        self._hold(agent, fid, offered)
        self._track(fid, role.name, offerable.scalar_milli(), 1)
        out.append(Allocation(fid, agent.id, role.name, offered))

    def _allocatable(self, resources: Resources) -> bool:
        """Mesos' min_allocatable rule: contains at least one of the minimum bundles."""
        if not self._min:
            return bool(resources)
        # Scalars answer the usual "cpus:0.01|mem:32" without counting ports.
        for have in (resources.scalar_milli(), resources.quantities_milli()):
            if any(all(have.get(n, 0) >= v for n, v in bundle) for bundle in self._min):
                return True
        return False

    # -- DRF bookkeeping -----------------------------------------------------

    def _share(self, alloc: Mapping[str, int]) -> float:
        total = self._total_milli
        share = 0.0
        for name, amount in alloc.items():
            whole = total.get(name)
            if whole and amount / whole > share:
                share = amount / whole
        return share

    def _role_key(self, role: _Role) -> _Key:
        client = role.client
        weight = self._weights.get(role.name, 1.0)
        return (self._share(client.alloc) / weight, client.count, client.name)

    def _fw_key(self, client: _Client) -> _Key:
        return (self._share(client.alloc), client.count, client.name)

    def _resort(self) -> None:
        """Recompute every key after totals or weights changed."""
        self._role_order = []
        for role in self._roles.values():
            role.order = []
            for fid, client in role.frameworks.items():
                client.key = self._fw_key(client) if fid in role.eligible else None
                if client.key is not None:
                    role.order.append(client.key)
            role.order.sort()
            role.client.key = self._role_key(role) if role.eligible else None
            if role.client.key is not None:
                self._role_order.append(role.client.key)
        self._role_order.sort()
        self._dirty = False

    def _track_all(self, fid: str, tagged: Resources, sign: int) -> None:
        for role in tagged.allocation_roles():
            self._track(fid, role, tagged.allocated_part(role).scalar_milli(), sign)

    def _track(self, fid: str, role_name: str, amounts: Mapping[str, int], sign: int) -> None:
        """Add (sign 1) or remove (sign -1) an allocation and keep both orders sorted."""
        role = self._role(role_name)
        client = self._client(role_name, fid)
        for c in (client, role.client):
            alloc = c.alloc
            for name, amount in amounts.items():
                left = alloc.get(name, 0) + sign * amount
                if left:
                    alloc[name] = left
                else:
                    alloc.pop(name, None)
            if sign > 0:
                c.count += 1
        if not self._dirty:
            if client.key is not None:
                _move(role.order, client, self._fw_key(client))
            if role.client.key is not None:
                _move(self._role_order, role.client, self._role_key(role))
        if sign < 0:
            self._forget_client(role_name, fid)

    def _change_total(self, amounts: Mapping[str, int], sign: int) -> None:
        total = self._total_milli
        for name, amount in amounts.items():
            left = total.get(name, 0) + sign * amount
            if left:
                total[name] = left
            else:
                total.pop(name, None)
        self._total = None
        self._dirty = True

    # -- eligibility ---------------------------------------------------------

    def _sync(self, fw: _Framework) -> None:
        for role in fw.roles:
            self._set_eligible(fw.id, role, fw.active and role not in fw.suppressed)

    def _set_eligible(self, fid: str, role_name: str, eligible: bool) -> None:
        role = self._role(role_name)
        if (fid in role.eligible) == eligible:
            return
        client = self._client(role_name, fid)
        role.version = next(_versions)
        step = 1 if eligible else -1
        if eligible:
            role.eligible.add(fid)
        else:
            role.eligible.discard(fid)
        self._eligible_total += step
        for aid in self._filtered_at.get((fid, role_name), ()):
            agent = self._agents[aid]
            if agent.filters[role_name][fid].blocked:
                agent.blocked_eligible[role_name] = agent.blocked_eligible.get(role_name, 0) + step
                agent.blocked_total += step
        if self._dirty:
            return
        if eligible:
            client.key = self._fw_key(client)
            insort(role.order, client.key)
            if len(role.eligible) == 1:
                role.client.key = self._role_key(role)
                insort(self._role_order, role.client.key)
        else:
            assert client.key is not None
            _remove(role.order, client.key)
            client.key = None
            if not role.eligible:
                assert role.client.key is not None
                _remove(self._role_order, role.client.key)
                role.client.key = None

    # -- filters -------------------------------------------------------------

    def _add_filter(
        self, agent: _Agent, fid: str, role: str, refused: Resources, expires: float
    ) -> None:
        if refused == agent.reference:
            refused = agent.reference  # share one object: fewer for the GC to scan
        by_fw = agent.filters.setdefault(role, {})
        f = by_fw[fid] = _Filter(fid, role, agent.id, refused, by_fw.get(fid))
        self._filtered_at.setdefault((fid, role), set()).add(agent.id)
        bucket = self._expiries.get(expires)
        if bucket is None:
            bucket = self._expiries[expires] = []
            heapq.heappush(self._expiry_heap, expires)
        bucket.append(f)
        if refused.contains(agent.reference):
            self._block(agent, f)
        elif refused.contains(agent.available):
            self._rebase(agent)  # it applies now: make the smaller reference current

    def _expire(self, now: float) -> None:
        heap = self._expiry_heap
        while heap and heap[0] <= now:
            for f in self._expiries.pop(heapq.heappop(heap)):
                if f.alive:
                    self._drop_filter(f)
                else:
                    self._dead -= 1

    def _drop_filter(self, f: _Filter) -> None:
        """Unlink one expired filter from its chain."""
        f.alive = False
        agent = self._agents[f.agent_id]
        by_fw = agent.filters[f.role]
        newest = by_fw[f.framework_id]
        if newest is f:
            if f.older is None:
                self._unblock(agent, f)
                del by_fw[f.framework_id]
                if not by_fw:
                    del agent.filters[f.role]
                _discard(self._filtered_at, (f.framework_id, f.role), agent.id)
                return
            newest = by_fw[f.framework_id] = f.older
            newest.blocked = f.blocked
        else:
            prev = newest
            while prev.older is not None and prev.older is not f:
                prev = prev.older
            prev.older = f.older
        if newest.blocked and not newest.covers(agent.reference):
            self._unblock(agent, newest)

    def _kill_chain(self, newest: _Filter) -> None:
        f: _Filter | None = newest
        while f is not None:
            f.alive = False
            self._dead += 1
            f = f.older

    def _clear_filters(self, fid: str, role: str) -> None:
        for aid in self._filtered_at.pop((fid, role), ()):
            agent = self._agents[aid]
            by_fw = agent.filters[role]
            newest = by_fw.pop(fid)
            self._unblock(agent, newest)
            self._kill_chain(newest)
            if not by_fw:
                del agent.filters[role]
        if self._dead > 1024 and self._dead * 2 > sum(map(len, self._expiries.values())):
            for when in list(self._expiries):
                alive = [f for f in self._expiries[when] if f.alive]
                if alive:
                    self._expiries[when] = alive
                else:
                    del self._expiries[when]
            self._expiry_heap = list(self._expiries)
            heapq.heapify(self._expiry_heap)
            self._dead = 0

    def _set_available(self, agent: _Agent, available: Resources) -> None:
        agent.available = available
        if not agent.reference.contains(available):
            self._rebase(agent)

    def _rebase(self, agent: _Agent) -> None:
        """Take the current free resources as the agent's reference; re-derive who is blocked."""
        agent.reference = reference = agent.available
        for by_fw in agent.filters.values():
            for newest in by_fw.values():
                if newest.covers(reference):
                    self._block(agent, newest)
                else:
                    self._unblock(agent, newest)

    def _block(self, agent: _Agent, newest: _Filter) -> None:
        if newest.blocked:
            return
        newest.blocked = True
        fid, role = newest.framework_id, newest.role
        if fid in self._roles[role].eligible:
            agent.blocked_eligible[role] = agent.blocked_eligible.get(role, 0) + 1
            agent.blocked_total += 1
            cached = agent.unblocked.get(role)
            if cached is not None:
                cached[1].discard(fid)

    def _unblock(self, agent: _Agent, newest: _Filter) -> None:
        if not newest.blocked:
            return
        newest.blocked = False
        fid, role = newest.framework_id, newest.role
        if fid in self._roles[role].eligible:
            agent.blocked_eligible[role] -= 1
            agent.blocked_total -= 1
            cached = agent.unblocked.get(role)
            if cached is not None:
                cached[1].add(fid)
                if len(cached[1]) > 2 * _FEW:
                    del agent.unblocked[role]

    # -- small helpers -------------------------------------------------------

    def _framework(self, fid: str) -> _Framework:
        fw = self._frameworks.get(fid)
        if fw is None:
            raise AllocatorError(f"unknown framework {fid}")
        return fw

    def _agent(self, aid: str) -> _Agent:
        agent = self._agents.get(aid)
        if agent is None:
            raise AllocatorError(f"unknown agent {aid}")
        return agent

    def _role(self, name: str) -> _Role:
        role = self._roles.get(name)
        if role is None:
            role = self._roles[name] = _Role(name)
        return role

    def _client(self, role_name: str, fid: str) -> _Client:
        role = self._role(role_name)
        client = role.frameworks.get(fid)
        if client is None:
            client = role.frameworks[fid] = _Client(fid)
        return client

    def _forget_client(self, role_name: str, fid: str) -> None:
        """Drop a framework's record under a role once it neither subscribes nor holds anything."""
        role = self._roles.get(role_name)
        if role is None:
            return
        client = role.frameworks.get(fid)
        fw = self._frameworks.get(fid)
        if client is None or client.alloc or (fw is not None and role_name in fw.roles):
            return
        del role.frameworks[fid]
        if not role.frameworks and not role.client.alloc:
            del self._roles[role_name]

    @staticmethod
    def _pick_roles(fw: _Framework, roles: Iterable[str] | None) -> set[str]:
        return set(fw.roles) if roles is None else set(roles) & set(fw.roles)

    def _tag(self, fid: str, resources: Resources, role: str | None = None) -> Resources:
        """Give entries without allocation_info the given role, or the framework's first."""
        plain = resources.allocated_part(None)
        if not plain:
            return resources
        if role is None:
            fw = self._frameworks.get(fid)
            if fw is None or not fw.roles:
                raise AllocatorError(
                    f"framework {fid}: {plain!r} has no allocation role and none can be inferred"
                )
            role = fw.roles[0]
        return (resources - plain) + plain.allocated_to(role)

    def _split_recovered(
        self, fid: str, aid: str, held: Resources, resources: Resources, role: str | None
    ) -> list[tuple[str, Resources, Resources]]:
        """(role, with allocation_info, without) per allocation role of `resources`.

        Entries without allocation_info go to `role`, or else to the first role
        whose allocation on the agent contains them.
        """
        roles = resources.allocation_roles()
        if len(roles) == 1 and "" not in roles:
            (only,) = roles
            return [(only, resources, resources.unallocated())]
        parts = []
        for r in sorted(roles - {""}):
            tagged = resources.allocated_part(r)
            parts.append((r, tagged, tagged.unallocated()))
        plain = resources.allocated_part(None)
        if plain:
            if role is None:
                fw = self._frameworks.get(fid)
                candidates = (fw.roles if fw else ()) + tuple(sorted(held.allocation_roles()))
                role = next((r for r in candidates if held.contains(plain.allocated_to(r))), None)
            if role is None:
                raise AllocatorError(f"agent {aid}: framework {fid} does not hold {plain!r}")
            parts.append((role, plain.allocated_to(role), plain))
        return parts

    def _free(self, aid: str, total: Resources, held: Iterable[Resources]) -> Resources:
        free = total
        for res in held:
            try:
                free = free - res.unallocated()
            except ResourceError as exc:
                raise AllocatorError(f"agent {aid}: allocations exceed its total: {exc}") from None
        return free

    def _hold(self, agent: _Agent, fid: str, tagged: Resources) -> None:
        prev = agent.allocations.get(fid)
        if prev is None:
            agent.allocations[fid] = tagged
            self._fw_agents.setdefault(fid, set()).add(agent.id)
        else:
            agent.allocations[fid] = prev + tagged

    def _drop_holder(self, fid: str, aid: str) -> None:
        _discard(self._fw_agents, fid, aid)
        if fid not in self._fw_agents:
            self._untracked.discard(fid)


def _unblocked(eligible: set[str], filters: dict[str, _Filter] | None) -> set[str]:
    if not filters:
        return set(eligible)
    return {fid for fid in eligible if (f := filters.get(fid)) is None or not f.blocked}


def _has_any(resources: Resources, names: Iterable[str]) -> bool:
    scalars = resources.scalar_milli()
    return any(scalars.get(name, 0) > 0 for name in names)


def _milli_map(amounts: Mapping[str, float] | None, what: str) -> dict[str, int]:
    out = {}
    for name, amount in (amounts or {}).items():
        if not (math.isfinite(amount) and amount >= 0):
            raise AllocatorError(f"{what} of {name} must be a finite number >= 0, not {amount!r}")
        out[name] = round(amount * 1000)
    return out


def _roles_tuple(roles: Iterable[str]) -> tuple[str, ...]:
    if isinstance(roles, str):
        raise AllocatorError("roles must be a list of role names, not a string")
    out = tuple(dict.fromkeys(roles))
    for role in out:
        validate_role(role)
    return out


def _move(order: list[_Key], client: _Client, key: _Key) -> None:
    """Reposition `client` in `order` under its new key."""
    old = client.key
    if key == old:
        return
    assert old is not None
    _remove(order, old)
    insort(order, key)
    client.key = key


def _remove(order: list[_Key], key: _Key) -> None:
    del order[bisect_left(order, key)]


def _discard(index: dict, key: object, member: str) -> None:
    members = index.get(key)
    if members is not None:
        members.discard(member)
        if not members:
            del index[key]
