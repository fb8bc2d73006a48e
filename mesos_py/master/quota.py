"""Role weights and quota as operators set and read them (pure: plain values, no I/O).

Parsing and validating the operator API's ``WeightInfo``, ``QuotaConfig`` and
the deprecated ``QuotaRequest``, the overcommit check, and the JSON shapes the
master answers with.  Scalars are kept in exact thousandths, as in
``mesos_py.common.resources``.  A ``ValueError`` carries the message the
operator gets with the 400.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mesos_py.common.resources import UNRESERVED, ResourceError, validate_role

__all__ = [
    "NON_SCALAR_NAMES",
    "QuotaConfig",
    "format_quantities",
    "overcommit_error",
    "parse_quota_configs",
    "parse_quota_request",
    "parse_weight_infos",
    "quantities_json",
    "quota_status_json",
    "weights_json",
]

# Resource names Mesos always knows as ranges or sets: never quota'd.
NON_SCALAR_NAMES = frozenset({"ports"})

Quantities = Mapping[str, int]  # name -> thousandths


@dataclass(frozen=True)
class QuotaConfig:
    """A role's guarantees (set aside for it) and limits (never exceeded), by scalar name."""

    role: str
    guarantees: Quantities = field(default_factory=dict)
    limits: Quantities = field(default_factory=dict)

    @property
    def is_default(self) -> bool:
        """No guarantee and no limit: what every role has until told otherwise."""
        return not self.guarantees and not self.limits

    def to_json(self) -> dict[str, Any]:
        """The v1 ``QuotaConfig`` (empty maps are left out, as protobuf JSON does)."""
        body: dict[str, Any] = {"role": self.role}
        if self.guarantees:
            body["guarantees"] = _scalar_map_json(self.guarantees)
        if self.limits:
            body["limits"] = _scalar_map_json(self.limits)
        return body

    def info_json(self) -> dict[str, Any]:
        """The deprecated ``QuotaInfo``: the role and its guarantees as Resources."""
        return {
            "role": self.role,
            "guarantee": [
                {"name": name, "type": "SCALAR", "scalar": {"value": milli / 1000}}
                for name, milli in sorted(self.guarantees.items())
            ],
        }

    @classmethod
    def from_json(cls, body: Any, non_scalar: Iterable[str] = ()) -> QuotaConfig:
        """Read and validate one v1 ``QuotaConfig``; ValueError says what is wrong."""
        if not isinstance(body, dict):
            raise ValueError("Invalid QuotaConfig: expecting a JSON object")
        role = _quota_role(body.get("role"), "Invalid QuotaConfig")
        excluded = NON_SCALAR_NAMES | frozenset(non_scalar)
        guarantees = _scalar_map(body.get("guarantees", {}), "guarantees", excluded)
        limits = _scalar_map(body.get("limits", {}), "limits", excluded)
        for name, guarantee in guarantees.items():
            limit = limits.get(name)
            if limit is not None and guarantee > limit:
                raise ValueError(
                    f"Invalid QuotaConfig: role '{role}' has a guarantee of "
                    f"{guarantee / 1000:g} {name} above its limit of {limit / 1000:g}"
                )
        return cls(role, guarantees, limits)


def parse_weight_infos(value: Any) -> tuple[tuple[str, float], ...]:
    """``[{"role": r, "weight": w}, ...]``: valid role names, finite positive weights."""
    if not isinstance(value, list):
        raise ValueError("Expecting a JSON array of weight infos")
    weights = []
    for item in value:
        if not isinstance(item, dict):
            raise ValueError("Expecting each weight info to be a JSON object")
        role = item.get("role")
        if not isinstance(role, str):
            raise ValueError("Expecting 'role' to be present in each weight info")
        try:
            validate_role(role)
        except ResourceError as exc:
            raise ValueError(f"Invalid role '{role}': {exc}") from None
        weight = item.get("weight")
        if isinstance(weight, bool) or not isinstance(weight, int | float):
            raise ValueError(f"Expecting a number as the weight of role '{role}'")
        if not (math.isfinite(weight) and weight > 0):
            raise ValueError(
                f"Invalid weight {weight!r} for role '{role}': weights must be positive"
            )
        weights.append((role, float(weight)))
    return tuple(weights)


def parse_quota_configs(value: Any, non_scalar: Iterable[str] = ()) -> list[QuotaConfig]:
    """The ``quota_configs`` of UPDATE_QUOTA: all valid, each role at most once."""
    if not isinstance(value, list):
        raise ValueError("Expecting 'quota_configs' to be a JSON array")
    non_scalar = frozenset(non_scalar)
    configs = [QuotaConfig.from_json(item, non_scalar) for item in value]
    roles = [c.role for c in configs]
    for role in roles:
        if roles.count(role) > 1:
            raise ValueError(f"Invalid QuotaConfig: role '{role}' appears more than once")
    return configs


def parse_quota_request(body: Any, non_scalar: Iterable[str] = ()) -> tuple[QuotaConfig, bool]:
    """The deprecated ``QuotaRequest`` (SET_QUOTA, ``POST /quota``) and its ``force`` flag.

    Its guarantee is a list of scalar Resources; as in Mesos it becomes both the
    guarantees and the limits of the role.
    """
    what = "Failed to validate set quota request"
    if not isinstance(body, dict):
        raise ValueError(f"{what}: expecting a JSON object")
    role = _quota_role(body.get("role"), what)
    force = body.get("force", False)
    if not isinstance(force, bool):
        raise ValueError(f"{what}: 'force' must be a boolean")
    items = body.get("guarantee", [])
    if not isinstance(items, list):
        raise ValueError(f"{what}: 'guarantee' must be a JSON array of resources")
    excluded = NON_SCALAR_NAMES | frozenset(non_scalar)
    guarantees: dict[str, int] = {}
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise ValueError(f"{what}: each guarantee needs a 'name'")
        name = item["name"]
        scalar = item.get("scalar")
        if item.get("type", "SCALAR") != "SCALAR" or name in excluded or scalar is None:
            raise ValueError(f"{what}: quota only applies to scalar resources, not '{name}'")
        if name in guarantees:
            raise ValueError(f"{what}: resource '{name}' is given more than once")
        guarantees[name] = _milli(scalar, f"{what}: guarantee of '{name}'")
    if not guarantees:
        raise ValueError(f"{what}: the guarantee is empty")
    return QuotaConfig(role, guarantees, dict(guarantees)), force


def overcommit_error(quotas: Iterable[QuotaConfig], capacity: Quantities) -> str | None:
    """Why the guarantees together do not fit in the cluster's capacity, or None."""
    total: dict[str, int] = {}
    for config in quotas:
        for name, milli in config.guarantees.items():
            total[name] = total.get(name, 0) + milli
    if all(milli <= capacity.get(name, 0) for name, milli in total.items()):
        return None
    return (
        f"total quota guarantees '{format_quantities(total)}' exceed cluster capacity "
        f"'{format_quantities(capacity)}'"
    )


def format_quantities(quantities: Quantities) -> str:
    """``cpus:4; mem:1024`` (names sorted), for messages."""
    return "; ".join(f"{name}:{milli / 1000:g}" for name, milli in sorted(quantities.items()))


def quantities_json(quantities: Quantities) -> dict[str, float]:
    """``{name: number}``, the flat form of ``/master/roles``."""
    return {name: milli / 1000 for name, milli in sorted(quantities.items())}


def weights_json(weights: Mapping[str, float]) -> list[dict[str, Any]]:
    """``[{"role": r, "weight": w}]`` sorted by role: ``GET /weights`` and GET_WEIGHTS."""
    return [{"role": role, "weight": weight} for role, weight in sorted(weights.items())]


def quota_status_json(quotas: Iterable[QuotaConfig]) -> dict[str, Any]:
    """``QuotaStatus``: the deprecated ``infos`` (guarantees only) and the ``configs``."""
    ordered = sorted(quotas, key=lambda c: c.role)
    return {
        "infos": [c.info_json() for c in ordered],
        "configs": [c.to_json() for c in ordered],
    }


# -- helpers ----------------------------------------------------------------


def _quota_role(role: Any, what: str) -> str:
    if not isinstance(role, str) or not role:
        raise ValueError(f"{what}: expecting 'role' to be present")
    if role == UNRESERVED:
        raise ValueError(f"{what}: quota cannot be set for the default role '*'")
    try:
        validate_role(role)
    except ResourceError as exc:
        raise ValueError(f"{what}: invalid role '{role}': {exc}") from None
    if "/" in role:
        raise ValueError(f"{what}: quota on nested role '{role}' is not supported")
    return role


def _scalar_map(value: Any, key: str, excluded: frozenset[str]) -> dict[str, int]:
    if not isinstance(value, dict):
        raise ValueError(f"Invalid QuotaConfig: '{key}' must map resource names to scalars")
    out = {}
    for name, scalar in value.items():
        if not name:
            raise ValueError(f"Invalid QuotaConfig: empty resource name in '{key}'")
        if name in excluded:
            raise ValueError(
                f"Invalid QuotaConfig: quota only applies to scalar resources, not '{name}'"
            )
        out[name] = _milli(scalar, f"Invalid QuotaConfig: {key} of '{name}'")
    return out


def _milli(scalar: Any, what: str) -> int:
    value = scalar.get("value") if isinstance(scalar, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f'{what} must be {{"value": <number>}}')
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{what} must be a finite number >= 0, not {value!r}")
    return round(value * 1000)


def _scalar_map_json(quantities: Quantities) -> dict[str, dict[str, float]]:
    return {name: {"value": milli / 1000} for name, milli in sorted(quantities.items())}
