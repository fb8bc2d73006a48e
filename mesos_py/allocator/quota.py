"""Quota arithmetic for the allocator: limits and the headroom guarantees need (pure).

Quantities are ``{scalar name: thousandths}``.  A role's *consumption* is what
it holds (offered or in use).  Its *unmet guarantee* is, per name, how far
consumption falls short of the guarantee.  The *required headroom* is the sum
of every quota'd role's unmet guarantee: unallocated unreserved resources that
must stay available for those roles.  So a role may take, per name, at most

* ``limit - consumption`` when the name is limited, and
* ``its own unmet guarantee + (available - required headroom)`` when some
  headroom is required: what it takes towards its own guarantee lowers the
  headroom needed by as much, anything beyond must leave enough for the others.

The allocator serves roles in two stages, as Mesos does: first the roles short
of a guarantee, each only up to its unmet guarantee for the names it is
guaranteed (other names as above), then every role in weighted DRF order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from mesos_py.common.resources import Resources

__all__ = ["Quota", "cap", "required_headroom", "role_caps", "unmet_guarantee"]

Quantities = Mapping[str, int]


@dataclass(frozen=True)
class Quota:
    guarantees: Quantities = field(default_factory=dict)
    limits: Quantities = field(default_factory=dict)


def unmet_guarantee(quota: Quota, consumed: Quantities) -> dict[str, int]:
    """Per name, how much more the role needs to reach its guarantee (only positives)."""
    out = {}
    for name, guarantee in quota.guarantees.items():
        short = guarantee - consumed.get(name, 0)
        if short > 0:
            out[name] = short
    return out


def required_headroom(unmet: Iterable[Quantities]) -> dict[str, int]:
    """The sum of the roles' unmet guarantees."""
    total: dict[str, int] = {}
    for quantities in unmet:
        for name, amount in quantities.items():
            total[name] = total.get(name, 0) + amount
    return total


def role_caps(
    quota: Quota | None,
    consumed: Quantities,
    unmet: Quantities,
    available: Quantities,
    required: Quantities,
    *,
    first_stage: bool = False,
) -> dict[str, int]:
    """Per name, the most unreserved resources a role may be offered now.

    `available` is what is unallocated and unreserved in the cluster,
    `required` the required headroom; names absent are not capped.
    """
    caps: dict[str, int] = {}
    for name, needed in required.items():
        spare = max(0, available.get(name, 0) - needed)
        caps[name] = unmet.get(name, 0) + spare
    if quota is not None:
        if first_stage:
            for name in quota.guarantees:
                caps[name] = unmet.get(name, 0)
        for name, limit in quota.limits.items():
            room = max(0, limit - consumed.get(name, 0))
            caps[name] = min(room, caps.get(name, room))
    return caps


def cap(unreserved: Resources, caps: Quantities) -> Resources:
    """`unreserved` with each capped scalar cut down to its cap."""
    have = unreserved.scalar_milli()
    excess = [
        (name, have[name] - limit) for name, limit in caps.items() if have.get(name, 0) > limit
    ]
    if not excess:
        return unreserved
    return unreserved - Resources.parse(
        ";".join(f"{name}:{milli // 1000}.{milli % 1000:03d}" for name, milli in excess)
    )
