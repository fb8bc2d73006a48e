"""The registry: what a new leader must know before it serves (pure, no I/O).

As in Mesos it holds cluster membership and operator settings, never
frameworks or tasks (those come back from agents and frameworks): admitted
agents, unreachable and gone agents, maintenance, weights and quotas.
Changes are operations applied to a ``Registry``; the whole registry is
stored as one zlib-compressed JSON document (ZooKeeper node or file).
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass, field
from typing import Any

FORMAT = 1


class RegistryError(Exception):
    """Stored bytes that are not a registry this code can read."""


@dataclass
class Registry:
    agents: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> AgentInfo
    unreachable: dict[str, float] = field(default_factory=dict)  # id -> when (epoch s)
    gone: dict[str, float] = field(default_factory=dict)  # id -> when
    # Maintenance.to_registry(): the schedule's windows and the DOWN machines
    maintenance: dict[str, Any] = field(default_factory=dict)
    # Deactivated agents (no offers) -> {"drain_info": DrainInfo} when draining, else {}
    deactivated: dict[str, dict[str, Any]] = field(default_factory=dict)
    weights: dict[str, float] = field(default_factory=dict)
    quotas: dict[str, dict[str, Any]] = field(default_factory=dict)  # role -> QuotaConfig


def encode(registry: Registry) -> bytes:
    document = {
        "format": FORMAT,
        "agents": registry.agents,
        "unreachable": registry.unreachable,
        "gone": registry.gone,
        "maintenance": registry.maintenance,
        "deactivated": registry.deactivated,
        "weights": registry.weights,
        "quotas": registry.quotas,
    }
    return zlib.compress(json.dumps(document, separators=(",", ":")).encode(), 6)


def _mapping(document: dict, key: str, value_type: type | tuple) -> dict:
    value = document.get(key, {})
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, value_type) for k, v in value.items()
    ):
        raise RegistryError(f"registry field {key!r} is malformed")
    return value


def decode(data: bytes) -> Registry:
    """A registry from stored bytes; empty bytes are an empty registry."""
    if not data:
        return Registry()
    try:
        document = json.loads(zlib.decompress(data))
    except (zlib.error, ValueError, UnicodeDecodeError) as exc:
        raise RegistryError(f"unreadable registry: {exc}") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise RegistryError("unknown registry format")
    return Registry(
        agents=_mapping(document, "agents", dict),
        unreachable=_mapping(document, "unreachable", (int, float)),
        gone=_mapping(document, "gone", (int, float)),
        maintenance=document.get("maintenance")
        if isinstance(document.get("maintenance"), dict)
        else {},
        deactivated=_mapping(document, "deactivated", dict),
        weights=_mapping(document, "weights", (int, float)),
        quotas=_mapping(document, "quotas", dict),
    )


# ----------------------------------------------------------------- operations
# Each returns whether the registry changed, so a no-op needs no write.


@dataclass(frozen=True)
class AdmitAgent:
    agent_id: str
    info: dict[str, Any]

    def apply(self, registry: Registry) -> bool:
        if registry.agents.get(self.agent_id) == self.info and self.agent_id not in (
            registry.unreachable
        ):
            return False
        registry.unreachable.pop(self.agent_id, None)
        registry.agents[self.agent_id] = self.info
        return True


@dataclass(frozen=True)
class MarkUnreachable:
    agent_id: str
    when: float

    def apply(self, registry: Registry) -> bool:
        if self.agent_id in registry.unreachable or self.agent_id in registry.gone:
            return False
        registry.agents.pop(self.agent_id, None)
        registry.unreachable[self.agent_id] = self.when
        return True


@dataclass(frozen=True)
class MarkGone:
    """The agent shut down or was removed for good: it may never come back with this ID."""

    agent_id: str
    when: float

    def apply(self, registry: Registry) -> bool:
        if self.agent_id in registry.gone:
            return False
        registry.agents.pop(self.agent_id, None)
        registry.unreachable.pop(self.agent_id, None)
        registry.deactivated.pop(self.agent_id, None)
        registry.gone[self.agent_id] = self.when
        return True


@dataclass(frozen=True)
class DeactivateAgent:
    """No offers from this agent; ``drain_info`` when it is being drained."""

    agent_id: str
    drain_info: dict[str, Any] | None = None

    def apply(self, registry: Registry) -> bool:
        entry = {"drain_info": self.drain_info} if self.drain_info is not None else {}
        if registry.deactivated.get(self.agent_id) == entry:
            return False
        registry.deactivated[self.agent_id] = entry
        return True


@dataclass(frozen=True)
class ReactivateAgent:
    agent_id: str

    def apply(self, registry: Registry) -> bool:
        return registry.deactivated.pop(self.agent_id, None) is not None


@dataclass(frozen=True)
class UpdateWeights:
    weights: tuple[tuple[str, float], ...]

    def apply(self, registry: Registry) -> bool:
        changed = False
        for role, weight in self.weights:
            if registry.weights.get(role) != weight:
                registry.weights[role] = weight
                changed = True
        return changed


@dataclass(frozen=True)
class UpdateQuota:
    role: str
    config: dict[str, Any] | None  # None removes the role's quota

    def apply(self, registry: Registry) -> bool:
        if self.config is None:
            return registry.quotas.pop(self.role, None) is not None
        if registry.quotas.get(self.role) == self.config:
            return False
        registry.quotas[self.role] = self.config
        return True


@dataclass(frozen=True)
class UpdateMaintenance:
    """The whole maintenance state (``Maintenance.to_registry()``)."""

    maintenance: dict[str, Any]

    def apply(self, registry: Registry) -> bool:
        if registry.maintenance == self.maintenance:
            return False
        registry.maintenance = self.maintenance
        return True


@dataclass(frozen=True)
class PruneAgents:
    """Forget unreachable and gone agents (registry garbage collection).

    A pruned unreachable agent that comes back is admitted again, as one
    never seen; a pruned gone agent is no longer refused (Mesos does the same).
    """

    unreachable: frozenset[str]
    gone: frozenset[str]

    def apply(self, registry: Registry) -> bool:
        changed = False
        for agent_id in self.unreachable:
            changed |= registry.unreachable.pop(agent_id, None) is not None
        for agent_id in self.gone:
            changed |= registry.gone.pop(agent_id, None) is not None
        return changed


def expired_agents(
    marked: dict[str, float], now: float, max_age: float, max_count: int
) -> frozenset[str]:
    """Entries older than ``max_age`` seconds, and the oldest beyond ``max_count``."""
    oldest_first = sorted(marked.items(), key=lambda entry: (entry[1], entry[0]))
    excess = max(0, len(oldest_first) - max_count)
    return frozenset(
        agent_id
        for index, (agent_id, when) in enumerate(oldest_first)
        if index < excess or now - when > max_age
    )


def garbage_collection(
    registry: Registry, now: float, max_age: float, max_count: int
) -> PruneAgents:
    """What the leader prunes every ``--registry_gc_interval``; the unreachable and gone
    lists are bounded separately, as in Mesos."""
    return PruneAgents(
        unreachable=expired_agents(registry.unreachable, now, max_age, max_count),
        gone=expired_agents(registry.gone, now, max_age, max_count),
    )
