"""Mesos resources as an exact, immutable value.

A `Resources` holds scalars (cpus, mem, ...), ranges (ports) and sets, each
identified by ``(name, reservation role, allocation role)``. Scalars are kept as
integer thousandths, which is Mesos' fixed three-decimal precision: sums and
differences never drift, so "is this contained in that" is always exact.

The value is normalised on construction (no empty entries, ranges merged and
sorted, sets as frozensets), so ``==`` is plain dictionary equality.

Only static reservations are modelled: the ``reservations`` stack of the v1
wire format is reduced to its last role, and disk/revocable/shared details are
ignored (unknown JSON keys are ignored by Mesos' own parser too).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "RANGES",
    "SCALAR",
    "SET",
    "UNRESERVED",
    "ResourceError",
    "Resources",
    "validate_role",
]

SCALAR = "SCALAR"
RANGES = "RANGES"
SET = "SET"
UNRESERVED = "*"

_MAX_RANGE_VALUE = 2**64 - 1  # Mesos ranges are uint64.
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_RANGE = re.compile(r"(\d+)-(\d+)")
_FLAT_ALWAYS = ("cpus", "gpus", "mem", "disk")
_NAME_RANK = {"cpus": 0, "gpus": 1, "mem": 2, "disk": 3, "ports": 4}

# (name, reservation role, allocation role or "" when unallocated)
_Key = tuple[str, str, str]
_Ranges = tuple[tuple[int, int], ...]
_Value = int | _Ranges | frozenset[str]


class ResourceError(ValueError):
    """Invalid resources, or arithmetic that would leave a negative amount."""


def validate_role(role: str) -> None:
    """Raise `ResourceError` unless `role` is a valid Mesos role name."""
    if role == UNRESERVED:
        return
    if not isinstance(role, str) or not role:
        raise ResourceError("role names cannot be empty")
    if role.startswith("/") or role.endswith("/") or "//" in role:
        raise ResourceError(f"role {role!r} has a misplaced '/'")
    for part in role.split("/"):
        if part in (".", "..", "*"):
            raise ResourceError(f"role {role!r} cannot have {part!r} as a component")
        if part.startswith("-"):
            raise ResourceError(f"role {role!r} has a component starting with '-'")
        if any(c.isspace() or c == "\b" for c in part):
            raise ResourceError(f"role {role!r} contains whitespace or backspace")


def _role_and_ancestors(role: str) -> frozenset[str]:
    parts = role.split("/")
    return frozenset("/".join(parts[:i]) for i in range(1, len(parts) + 1))


# -- scalars ---------------------------------------------------------------


def _to_milli(value: Any, what: str) -> int:
    """Convert a wire or text number to thousandths, rejecting what Mesos rejects."""
    if isinstance(value, bool):
        raise ResourceError(f"{what}: {value!r} is not a number")
    if isinstance(value, str):
        text = value.strip()
        if text in ("Infinity", "-Infinity", "NaN") or not _NUMBER.fullmatch(text):
            raise ResourceError(f"{what}: {value!r} is not a finite number")
        number = float(text)
    elif isinstance(value, int | float):
        number = float(value)
    else:
        raise ResourceError(f"{what}: {value!r} is not a number")
    if not math.isfinite(number):
        raise ResourceError(f"{what}: {value!r} is not a finite number")
    if number < 0:
        raise ResourceError(f"{what}: negative value {value!r}")
    milli = math.floor(number * 1000 + 0.5)
    if milli == 0 and number != 0:
        raise ResourceError(f"{what}: {value!r} is below the 0.001 precision")
    return milli


def _milli_text(milli: int) -> str:
    whole, frac = divmod(milli, 1000)
    return str(whole) if frac == 0 else f"{whole}.{frac:03d}".rstrip("0")


def _milli_number(milli: int) -> int | float:
    return milli // 1000 if milli % 1000 == 0 else milli / 1000


# -- ranges ----------------------------------------------------------------


def _range_int(value: Any, what: str) -> int:
    if isinstance(value, bool):
        raise ResourceError(f"{what}: {value!r} is not an integer")
    if isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    elif isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    else:
        raise ResourceError(f"{what}: {value!r} is not a non-negative integer")
    if not 0 <= number <= _MAX_RANGE_VALUE:
        raise ResourceError(f"{what}: {value!r} is outside 0..2^64-1")
    return number


def _normalize_ranges(pairs: Iterable[tuple[int, int]], what: str, *, overlap_ok: bool) -> _Ranges:
    """Sort and coalesce `pairs`; begin > end is always an error."""
    out: list[tuple[int, int]] = []
    for begin, end in sorted(pairs):
        if begin > end:
            raise ResourceError(f"{what}: range {begin}-{end} has begin > end")
        if out and begin <= out[-1][1] + 1:
            if begin <= out[-1][1] and not overlap_ok:
                raise ResourceError(f"{what}: overlapping ranges near {begin}-{end}")
            if end > out[-1][1]:
                out[-1] = (out[-1][0], end)
        else:
            out.append((begin, end))
    return tuple(out)


def _ranges_union(a: _Ranges, b: _Ranges) -> _Ranges:
    return _normalize_ranges(a + b, "ranges", overlap_ok=True)


def _ranges_contains(a: _Ranges, b: _Ranges) -> bool:
    """True when every range of `b` lies inside one range of `a` (both normalised)."""
    if a == b:
        return True
    i = 0
    n = len(a)
    for begin, end in b:
        while i < n and a[i][1] < begin:
            i += 1
        if i == n or a[i][0] > begin or a[i][1] < end:
            return False
    return True


def _ranges_diff(a: _Ranges, b: _Ranges) -> _Ranges:
    """`a` minus `b`, where `b` is known to be contained in `a`."""
    if a == b:
        return ()
    out: list[tuple[int, int]] = []
    j = 0
    for begin, end in a:
        cur = begin
        while j < len(b) and b[j][1] < cur:
            j += 1
        k = j
        while k < len(b) and b[k][0] <= end:
            if b[k][0] > cur:
                out.append((cur, b[k][0] - 1))
            cur = max(cur, b[k][1] + 1)
            k += 1
        if cur <= end:
            out.append((cur, end))
    return tuple(out)


def _ranges_text(ranges: _Ranges, sep: str) -> str:
    return "[" + sep.join(f"{b}-{e}" for b, e in ranges) + "]"


def _count(value: _Ranges | frozenset[str]) -> int:
    if isinstance(value, tuple):
        return sum(e - b + 1 for b, e in value)
    return len(value)


# -- entries ---------------------------------------------------------------


def _type_of(value: _Value) -> str:
    if isinstance(value, int):
        return SCALAR
    return RANGES if isinstance(value, tuple) else SET


def _value_text(value: _Value, sep: str = ",") -> str:
    if isinstance(value, int):
        return _milli_text(value)
    if isinstance(value, tuple):
        return _ranges_text(value, sep)
    return "{" + sep.join(sorted(value)) + "}"


def _combine(key: _Key, mine: _Value, value: _Value) -> _Value:
    """The sum of two values of one entry."""
    if isinstance(mine, int) and isinstance(value, int):
        return mine + value
    if isinstance(mine, tuple) and isinstance(value, tuple):
        return _ranges_union(mine, value)
    if isinstance(mine, frozenset) and isinstance(value, frozenset):
        return mine | value
    raise ResourceError(f"resource {key[0]!r} is both {_type_of(mine)} and {_type_of(value)}")


def _within(mine: _Value, value: _Value) -> bool:
    """True when `value` fits inside `mine` (same entry)."""
    if isinstance(value, int):
        return isinstance(mine, int) and mine >= value
    if isinstance(value, tuple):
        return isinstance(mine, tuple) and _ranges_contains(mine, value)
    return isinstance(mine, frozenset) and value <= mine


def _remove(mine: _Value, value: _Value) -> _Value:
    """`mine` minus `value`, where `_within(mine, value)` holds."""
    if isinstance(mine, int) and isinstance(value, int):
        return mine - value
    if isinstance(mine, tuple) and isinstance(value, tuple):
        return _ranges_diff(mine, value)
    assert isinstance(mine, frozenset) and isinstance(value, frozenset)
    return mine - value


def _entry_text(key: _Key, value: _Value) -> str:
    name, role, alloc = key
    label = name if role == UNRESERVED else f"{name}({role})"
    if alloc:
        label += f"(allocated: {alloc})"
    return f"{label}:{_value_text(value)}"


def _sort_key(key: _Key) -> tuple[int, str, bool, str, str]:
    name, role, alloc = key
    return (_NAME_RANK.get(name, len(_NAME_RANK)), name, role != UNRESERVED, role, alloc)


def _merge(d: dict[_Key, _Value], key: _Key, value: _Value) -> None:
    """Add `value` into `d[key]` in place (d is a private, fresh dict)."""
    mine = d.get(key)
    d[key] = value if mine is None else _combine(key, mine, value)


def _check_types(d: Mapping[_Key, _Value]) -> None:
    seen: dict[str, str] = {}
    for key, value in d.items():
        kind = _type_of(value)
        if seen.setdefault(key[0], kind) != kind:
            raise ResourceError(f"resource {key[0]!r} is given as both {seen[key[0]]} and {kind}")


class Resources:
    """An immutable bag of Mesos resources; see the module docstring."""

    __slots__ = ("_d", "_flat", "_quantities", "_scalars")

    _d: dict[_Key, _Value]
    _scalars: Mapping[str, int] | None
    _quantities: Mapping[str, int] | None

    def __init__(self) -> None:
        self._d = {}
        self._scalars = None
        self._quantities = None
        self._flat = None

    @classmethod
    def _new(cls, d: dict[_Key, _Value]) -> Resources:
        self = object.__new__(cls)
        self._d = d
        self._scalars = None
        self._quantities = None
        self._flat = None
        return self

    # -- construction ------------------------------------------------------

    @classmethod
    def parse(cls, text: str, default_role: str = UNRESERVED) -> Resources:
        """Parse the agent ``--resources`` syntax, or a JSON array of v1 Resources."""
        validate_role(default_role)
        stripped = text.strip()
        if stripped.startswith("["):
            try:
                data = json.loads(stripped)
            except ValueError as exc:
                raise ResourceError(f"resources look like JSON but do not parse: {exc}") from exc
            if not isinstance(data, list):
                raise ResourceError("JSON resources must be an array")
            return cls.from_json(data, default_role=default_role)
        d: dict[_Key, _Value] = {}
        for token in stripped.split(";"):
            if token.strip():
                key, value = _parse_token(token, default_role)
                if value:
                    _merge(d, key, value)
        _check_types(d)
        return cls._new(d)

    @classmethod
    def from_json(
        cls, items: Iterable[Mapping[str, Any]], default_role: str = UNRESERVED
    ) -> Resources:
        """Parse v1 wire Resource objects, validating them the way the master must."""
        if isinstance(items, str | bytes | Mapping):
            raise ResourceError("resources must be a JSON array of Resource objects")
        d: dict[_Key, _Value] = {}
        for item in items:
            key, value = _parse_json_item(item, default_role)
            if value:
                _merge(d, key, value)
        _check_types(d)
        return cls._new(d)

    # -- output ------------------------------------------------------------

    def _sorted(self) -> list[tuple[_Key, _Value]]:
        return sorted(self._d.items(), key=lambda kv: _sort_key(kv[0]))

    def to_json(self) -> list[dict[str, Any]]:
        """v1 Resource objects (``role`` omitted when unreserved)."""
        out: list[dict[str, Any]] = []
        for (name, role, alloc), value in self._sorted():
            item: dict[str, Any] = {"name": name, "type": _type_of(value)}
            if isinstance(value, int):
                item["scalar"] = {"value": _milli_number(value)}
            elif isinstance(value, tuple):
                item["ranges"] = {"range": [{"begin": b, "end": e} for b, e in value]}
            else:
                item["set"] = {"item": sorted(value)}
            if role != UNRESERVED:
                item["role"] = role
                item["reservations"] = [{"type": "STATIC", "role": role}]
            if alloc:
                item["allocation_info"] = {"role": alloc}
            out.append(item)
        return out

    def to_flat(self) -> dict[str, int | float | str]:
        """The flat ``/master/state`` form, summed over roles (a fresh dict each call).

        Computed once per object: tasks share their parsed Resources, so a state
        of 10,000 tasks flattens a handful of them, not 10,000.
        """
        if self._flat is None:
            self._flat = self._flatten()
        return dict(self._flat)

    def _flatten(self) -> dict[str, int | float | str]:
        merged: dict[_Key, _Value] = {}
        for (name, _role, _alloc), value in self._d.items():
            _merge(merged, (name, "", ""), value)
        flat: dict[str, int | float | str] = {name: 0 for name in _FLAT_ALWAYS}
        for key in sorted(merged, key=_sort_key):
            value = merged[key]
            flat[key[0]] = (
                _milli_number(value) if isinstance(value, int) else _value_text(value, ", ")
            )
        return flat

    def __repr__(self) -> str:
        return ";".join(_entry_text(k, v) for k, v in self._sorted())

    # -- algebra -----------------------------------------------------------

    def __bool__(self) -> bool:
        return bool(self._d)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Resources):
            return NotImplemented
        return self._d == other._d

    __hash__ = None  # type: ignore[assignment]

    def __add__(self, other: Resources) -> Resources:
        if not other._d:
            return self
        if not self._d:
            return other
        d = dict(self._d)
        for key, value in other._d.items():
            _merge(d, key, value)
        return Resources._new(d)

    @classmethod
    def total(cls, bags: Iterable[Resources]) -> Resources:
        """The sum of many bags, merged into one dict (``sum`` copies it once per bag)."""
        d: dict[_Key, _Value] = {}
        for bag in bags:
            for key, value in bag._d.items():
                _merge(d, key, value)
        return cls._new(d)

    def __sub__(self, other: Resources) -> Resources:
        if not other._d:
            return self
        if other._d == self._d:
            return Resources()
        d = dict(self._d)
        for key, value in other._d.items():
            mine = d.get(key)
            if mine is None or not _within(mine, value):
                have = "nothing" if mine is None else _value_text(mine)
                raise ResourceError(
                    f"cannot subtract {_entry_text(key, value)}: only {have} available"
                )
            left = _remove(mine, value)
            if left:
                d[key] = left
            else:
                del d[key]
        return Resources._new(d)

    def contains(self, other: Resources) -> bool:
        """True when `other` could be subtracted from this without error."""
        d = self._d
        if d == other._d:
            return True
        for key, value in other._d.items():
            mine = d.get(key)
            if mine is None or not _within(mine, value):
                return False
        return True

    # -- queries -----------------------------------------------------------

    def scalar(self, name: str) -> float:
        """Total of scalar `name` over all roles (0.0 when absent)."""
        return self.scalar_milli().get(name, 0) / 1000

    def scalar_quantities(self) -> dict[str, float]:
        """Scalar totals by name, summed over roles."""
        return {name: milli / 1000 for name, milli in self.scalar_milli().items()}

    def scalar_milli(self) -> Mapping[str, int]:
        """Scalar totals by name in exact thousandths (cached: do not mutate)."""
        if self._scalars is None:
            totals: dict[str, int] = {}
            for (name, _role, _alloc), value in self._d.items():
                if isinstance(value, int):
                    totals[name] = totals.get(name, 0) + value
            self._scalars = totals
        return self._scalars

    def quantities_milli(self) -> Mapping[str, int]:
        """Amount by name in thousandths; ranges and sets count their elements.

        This is how Mesos compares ``--min_allocatable_resources`` (``ports:1``
        means "at least one port").
        """
        if self._quantities is None:
            totals: dict[str, int] = {}
            for (name, _role, _alloc), value in self._d.items():
                amount = value if isinstance(value, int) else _count(value) * 1000
                totals[name] = totals.get(name, 0) + amount
            self._quantities = totals
        return self._quantities

    def names(self) -> frozenset[str]:
        return frozenset(key[0] for key in self._d)

    def ranges(self, name: str) -> list[tuple[int, int]]:
        """Merged ranges of `name` over all roles."""
        found: _Ranges = ()
        for (entry_name, _role, _alloc), value in self._d.items():
            if entry_name == name and isinstance(value, tuple):
                found = _ranges_union(found, value)
        return list(found)

    def set_items(self, name: str) -> frozenset[str]:
        """Union of the items of set `name` over all roles."""
        found: frozenset[str] = frozenset()
        for (entry_name, _role, _alloc), value in self._d.items():
            if entry_name == name and isinstance(value, frozenset):
                found |= value
        return found

    # -- roles -------------------------------------------------------------

    def unreserved(self) -> Resources:
        return Resources._new({k: v for k, v in self._d.items() if k[1] == UNRESERVED})

    def reserved(self, role: str | None = None) -> Resources:
        """Resources reserved to `role`, or to any role when None."""
        if role is None:
            return Resources._new({k: v for k, v in self._d.items() if k[1] != UNRESERVED})
        return Resources._new({k: v for k, v in self._d.items() if k[1] == role})

    def reserved_by_role(self) -> dict[str, Resources]:
        """Reserved resources split by reservation role."""
        parts: dict[str, dict[_Key, _Value]] = {}
        for key, value in self._d.items():
            if key[1] != UNRESERVED:
                parts.setdefault(key[1], {})[key] = value
        return {role: Resources._new(d) for role, d in parts.items()}

    def reservation_roles(self) -> frozenset[str]:
        return frozenset(key[1] for key in self._d if key[1] != UNRESERVED)

    def allocatable_to(self, role: str) -> Resources:
        """What may be offered to `role`: unreserved plus its (or its ancestors') reservations."""
        allowed = _role_and_ancestors(role) | {UNRESERVED}
        return Resources._new({k: v for k, v in self._d.items() if k[1] in allowed})

    def allocation_roles(self) -> frozenset[str]:
        """The ``allocation_info.role`` values present ("" marks unallocated entries)."""
        return frozenset(key[2] for key in self._d)

    def allocated_to(self, role: str) -> Resources:
        """A copy with ``allocation_info.role`` set on every entry, as in an offer."""
        validate_role(role)
        d: dict[_Key, _Value] = {}
        for (name, res_role, _alloc), value in self._d.items():
            _merge(d, (name, res_role, role), value)
        return Resources._new(d)

    def unallocated(self) -> Resources:
        """A copy with ``allocation_info`` stripped from every entry."""
        d: dict[_Key, _Value] = {}
        for (name, res_role, _alloc), value in self._d.items():
            _merge(d, (name, res_role, ""), value)
        return Resources._new(d)

    def allocated_part(self, role: str | None) -> Resources:
        """The entries whose allocation role is `role` (None: the unallocated ones)."""
        want = role or ""
        return Resources._new({k: v for k, v in self._d.items() if k[2] == want})


# -- parsing helpers -------------------------------------------------------


def _parse_token(token: str, default_role: str) -> tuple[_Key, _Value]:
    parts = token.split(":")
    if len(parts) != 2 or not parts[1].strip():
        raise ResourceError(f"bad resource {token.strip()!r}: expected name:value")
    label, raw = parts
    if "(" in label:
        open_at = label.index("(")
        close_at = label.find(")")
        if close_at < open_at or label[close_at + 1 :].strip():
            raise ResourceError(f"bad resource {token.strip()!r}: mismatched parentheses")
        name = label[:open_at].strip()
        role = label[open_at + 1 : close_at].strip()
    elif ")" in label:
        raise ResourceError(f"bad resource {token.strip()!r}: mismatched parentheses")
    else:
        name = label.strip()
        role = default_role
    if not name:
        raise ResourceError(f"bad resource {token.strip()!r}: empty name")
    try:
        validate_role(role)
    except ResourceError as exc:
        raise ResourceError(f"resource {name!r}: {exc}") from None
    return (name, role, ""), _parse_text_value(name, raw.replace(" ", ""))


def _parse_text_value(name: str, raw: str) -> _Value:
    what = f"resource {name!r}"
    if raw.startswith("["):
        if not raw.endswith("]") or "[" in raw[1:-1] or "]" in raw[1:-1]:
            raise ResourceError(f"{what}: malformed ranges {raw!r}")
        pairs = []
        for part in raw[1:-1].split(","):
            if not part:
                continue
            match = _RANGE.fullmatch(part)
            if match is None:
                raise ResourceError(f"{what}: malformed range {part!r} (want begin-end)")
            pairs.append((_range_int(match.group(1), what), _range_int(match.group(2), what)))
        return _normalize_ranges(pairs, what, overlap_ok=True)
    if raw.startswith("{"):
        if not raw.endswith("}") or "{" in raw[1:-1] or "}" in raw[1:-1]:
            raise ResourceError(f"{what}: malformed set {raw!r}")
        items = [item for item in raw[1:-1].split(",") if item]
        if len(set(items)) != len(items):
            raise ResourceError(f"{what}: duplicated set items in {raw!r}")
        return frozenset(items)
    if any(c in raw for c in "[]{}"):
        raise ResourceError(f"{what}: mismatched brackets in {raw!r}")
    return _to_milli(raw, what)


def _parse_json_item(item: Any, default_role: str) -> tuple[_Key, _Value]:
    if not isinstance(item, Mapping):
        raise ResourceError(f"resource {item!r} is not a JSON object")
    name = item.get("name")
    if not isinstance(name, str) or not name:
        raise ResourceError(f"resource {dict(item)!r} has no name")
    what = f"resource {name!r}"
    kind = item.get("type")
    payloads = {k for k in ("scalar", "ranges", "set") if item.get(k) is not None}
    expected = {SCALAR: "scalar", RANGES: "ranges", SET: "set"}.get(str(kind))
    if expected is None:
        raise ResourceError(f"{what}: type must be SCALAR, RANGES or SET, not {kind!r}")
    if payloads != {expected}:
        raise ResourceError(f"{what}: type {kind} needs exactly a {expected!r} field")
    role = _json_role(item, default_role, what)
    alloc = ""
    info = item.get("allocation_info")
    if info is not None:
        if not isinstance(info, Mapping) or not isinstance(info.get("role"), str):
            raise ResourceError(f"{what}: allocation_info must be {{'role': <string>}}")
        alloc = info["role"]
        try:
            validate_role(alloc)
        except ResourceError as exc:
            raise ResourceError(f"{what}: allocation_info: {exc}") from None
    payload = item[expected]
    if not isinstance(payload, Mapping):
        raise ResourceError(f"{what}: {expected!r} must be an object")
    value: _Value
    if kind == SCALAR:
        if "value" not in payload:
            raise ResourceError(f"{what}: scalar has no value")
        value = _to_milli(payload["value"], what)
    elif kind == RANGES:
        ranges = payload.get("range") or []
        if not isinstance(ranges, list):
            raise ResourceError(f"{what}: ranges.range must be an array")
        pairs = []
        for r in ranges:
            if not isinstance(r, Mapping) or "begin" not in r or "end" not in r:
                raise ResourceError(f"{what}: range {r!r} needs begin and end")
            pairs.append((_range_int(r["begin"], what), _range_int(r["end"], what)))
        value = _normalize_ranges(pairs, what, overlap_ok=False)
    else:
        items = payload.get("item") or []
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise ResourceError(f"{what}: set.item must be an array of strings")
        if len(set(items)) != len(items):
            raise ResourceError(f"{what}: duplicated set items")
        value = frozenset(items)
    return (name, role, alloc), value


def _json_role(item: Mapping[str, Any], default_role: str, what: str) -> str:
    role = item.get("role")
    reservations = item.get("reservations")
    if reservations:
        if not isinstance(reservations, list) or not all(
            isinstance(r, Mapping) and isinstance(r.get("role"), str) for r in reservations
        ):
            raise ResourceError(f"{what}: reservations must be objects with a role")
        last = reservations[-1]["role"]
        if role is not None and role != last:
            raise ResourceError(f"{what}: role {role!r} disagrees with reservations ({last!r})")
        role = last
    elif role is None:
        role = default_role
    if not isinstance(role, str):
        raise ResourceError(f"{what}: role must be a string")
    try:
        validate_role(role)
    except ResourceError as exc:
        raise ResourceError(f"{what}: {exc}") from None
    return role
