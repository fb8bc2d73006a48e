"""Mesos duration strings (``5secs``, ``15mins``, ``100ms``, ``1weeks``)."""

from __future__ import annotations

import re

_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "ms": 1e-3,
    "secs": 1.0,
    "mins": 60.0,
    "hrs": 3600.0,
    "days": 86400.0,
    "weeks": 604800.0,
}
_DURATION = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*([a-z]+)\s*$")


def parse_duration(text: str) -> float:
    """Seconds in a Mesos duration; a bare number counts as seconds."""
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    match = _DURATION.match(text)
    if not match or match.group(2) not in _UNITS:
        raise ValueError(f"invalid duration {text!r} (use e.g. 5secs, 100ms, 15mins)")
    return float(match.group(1)) * _UNITS[match.group(2)]


def format_duration(seconds: float) -> str:
    """The Mesos spelling of a duration, as executors expect it in their environment."""
    for unit, size in (("weeks", 604800.0), ("days", 86400.0), ("hrs", 3600.0), ("mins", 60.0)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    if seconds >= 1 or seconds == 0:
        return f"{seconds:g}secs"
    return f"{seconds * 1000:g}ms"
