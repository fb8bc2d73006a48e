"""Agent attributes: the ``--attributes`` flag and its two output forms.

Values follow Mesos' rules: all spaces are dropped, ``[a-b,...]`` is RANGES,
a finite non-negative number is SCALAR, and anything else (including ``-5``,
which Mesos does not read as a number) is TEXT. ``{a,b}`` gives a SET, which
Mesos itself rejects for attributes; it is accepted here because operators
asked for tag lists.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["AttributeSyntaxError", "attributes_flat", "parse_attributes"]

_NUMBER = re.compile(r"\+?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_RANGE = re.compile(r"(\d+)-(\d+)")


class AttributeSyntaxError(ValueError):
    """A malformed ``--attributes`` entry."""


def parse_attributes(text: str) -> list[dict[str, Any]]:
    """Parse ``rack:2;os:ubuntu;zone:[1-10];tags:{a,b}`` into v1 Attribute dicts."""
    attributes = []
    for token in text.replace("\n", ";").split(";"):
        if not token.strip():
            continue
        name, sep, raw = token.partition(":")
        name = name.strip()
        value = raw.replace(" ", "")
        if not sep or not name or not value:
            raise AttributeSyntaxError(
                f"bad attribute {token.strip()!r}: expected a non-empty name:value"
            )
        attributes.append(_parse_value(name, value))
    return attributes


def _parse_value(name: str, value: str) -> dict[str, Any]:
    if value.startswith("["):
        if not value.endswith("]") or "[" in value[1:-1] or "]" in value[1:-1]:
            raise AttributeSyntaxError(f"attribute {name!r}: malformed ranges {value!r}")
        pairs = []
        for part in value[1:-1].split(","):
            if not part:
                continue
            match = _RANGE.fullmatch(part)
            if match is None:
                raise AttributeSyntaxError(
                    f"attribute {name!r}: malformed range {part!r} (want begin-end)"
                )
            begin, end = int(match.group(1)), int(match.group(2))
            if begin > end:
                raise AttributeSyntaxError(f"attribute {name!r}: range {part!r} has begin > end")
            pairs.append((begin, end))
        return {
            "name": name,
            "type": "RANGES",
            "ranges": {"range": [{"begin": b, "end": e} for b, e in _coalesce(pairs)]},
        }
    if value.startswith("{"):
        if not value.endswith("}") or "{" in value[1:-1] or "}" in value[1:-1]:
            raise AttributeSyntaxError(f"attribute {name!r}: malformed set {value!r}")
        items = sorted({item for item in value[1:-1].split(",") if item})
        return {"name": name, "type": "SET", "set": {"item": items}}
    if any(c in value for c in "[]{}"):
        raise AttributeSyntaxError(f"attribute {name!r}: mismatched brackets in {value!r}")
    if _NUMBER.fullmatch(value):
        number = float(value)
        if math.isfinite(number):
            return {"name": name, "type": "SCALAR", "scalar": {"value": _plain(number)}}
    return {"name": name, "type": "TEXT", "text": {"value": value}}


def _plain(number: float) -> int | float:
    return int(number) if number.is_integer() and abs(number) < 2**53 else number


def _coalesce(pairs: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for begin, end in sorted(pairs):
        if out and begin <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((begin, end))
    return out


def attributes_flat(attrs: Iterable[Mapping[str, Any]]) -> dict[str, int | float | str]:
    """The ``/master/state`` form: ``{name: number | "text" | "[1-10]" | "{a, b}"}``.

    A repeated name keeps its last value, as Mesos' JSON writer does.
    """
    flat: dict[str, int | float | str] = {}
    for attr in attrs:
        kind = attr.get("type")
        if kind == "SCALAR":
            flat[attr["name"]] = _plain(float(attr["scalar"]["value"]))
        elif kind == "RANGES":
            ranges = [(int(r["begin"]), int(r["end"])) for r in attr["ranges"].get("range", [])]
            flat[attr["name"]] = "[" + ", ".join(f"{b}-{e}" for b, e in _coalesce(ranges)) + "]"
        elif kind == "SET":
            flat[attr["name"]] = "{" + ", ".join(sorted(attr["set"].get("item", []))) + "}"
        elif kind == "TEXT":
            flat[attr["name"]] = attr["text"]["value"]
        else:
            raise AttributeSyntaxError(f"attribute {attr.get('name')!r} has unknown type {kind!r}")
    return flat
