"""Marathon placement constraints, judged against an offer's hostname and attributes.

A constraint is ``[field, OPERATOR]`` or ``[field, OPERATOR, value]``; the
field ``hostname`` (or ``@hostname``) is the agent's host, anything else an
agent attribute.  ``placed`` is what the app already runs (or is about to):
the field values of its active tasks, one ``{field: value}`` per task.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

OPERATORS = ("UNIQUE", "CLUSTER", "GROUP_BY", "LIKE", "UNLIKE", "MAX_PER", "IS")
_NEEDS_VALUE = ("LIKE", "UNLIKE", "MAX_PER", "IS")


def constraint_error(raw: Any) -> str | None:
    """Why ``raw`` is not a valid constraint, or None."""
    if not isinstance(raw, list) or len(raw) not in (2, 3):
        return "Each constraint must have either 2 or 3 fields"
    field, operator = raw[0], raw[1]
    value = raw[2] if len(raw) == 3 else None
    if not isinstance(field, str) or not field:
        return "Constraint field must be a non-empty string"
    if operator not in OPERATORS:
        return f"Constraint operator must be one of {', '.join(OPERATORS)}"
    if value is not None and not isinstance(value, (str, int)):
        return "Constraint value must be a string or a number"
    if operator in _NEEDS_VALUE and value is None:
        return f"Value is required for {operator}"
    if operator == "UNIQUE" and value is not None:
        return "UNIQUE does not take a value"
    if operator in ("LIKE", "UNLIKE"):
        try:
            re.compile(str(value))
        except re.error:
            return f"'{value}' is not a valid regular expression"
    if operator in ("MAX_PER", "GROUP_BY") and value is not None:
        try:
            if int(str(value)) < (1 if operator == "MAX_PER" else 0):
                raise ValueError
        except ValueError:
            return f"{operator} needs a positive integer value"
    return None


def field_value(field: str, hostname: str, attributes: Mapping[str, str]) -> str | None:
    if field in ("hostname", "@hostname"):
        return hostname
    return attributes.get(field)


def offer_fields(offer: Mapping[str, Any]) -> tuple[str, dict[str, str]]:
    """An offer's hostname and its attributes as strings (what constraints compare)."""
    attributes: dict[str, str] = {}
    for attr in offer.get("attributes", []):
        kind = attr.get("type")
        if kind == "TEXT":
            attributes[attr["name"]] = str(attr["text"]["value"])
        elif kind == "SCALAR":
            number = float(attr["scalar"]["value"])
            attributes[attr["name"]] = str(int(number)) if number.is_integer() else str(number)
        elif kind == "RANGES":
            ranges = attr["ranges"].get("range", [])
            attributes[attr["name"]] = ",".join(f"[{r['begin']}-{r['end']}]" for r in ranges)
        elif kind == "SET":
            attributes[attr["name"]] = ",".join(attr["set"].get("item", []))
    return offer.get("hostname", ""), attributes


def placement_values(constraints: Iterable[list], hostname: str, attributes: Mapping[str, str]):
    """The field values a task placed on this host would contribute to ``placed``."""
    return {c[0]: field_value(c[0], hostname, attributes) for c in constraints}


def satisfied(
    constraints: Iterable[list],
    hostname: str,
    attributes: Mapping[str, str],
    placed: list[Mapping[str, str | None]],
) -> bool:
    """Whether a new task of the app may go on this host."""
    return all(_one(c, hostname, attributes, placed) for c in constraints)


def _one(
    constraint: list, hostname: str, attributes: Mapping[str, str], placed: list[Mapping]
) -> bool:
    field, operator = constraint[0], constraint[1]
    value = str(constraint[2]) if len(constraint) == 3 else None
    mine = field_value(field, hostname, attributes)
    if mine is None:
        return operator == "UNLIKE"
    others = [p.get(field) for p in placed if p.get(field) is not None]
    counts = Counter(others)
    if operator == "UNIQUE":
        return counts[mine] == 0
    if operator == "CLUSTER":
        if value is not None:
            return mine == value
        return all(other == mine for other in others)
    if operator == "GROUP_BY":
        if counts[mine] == 0:
            return True
        expected = int(value) if value is not None else 0
        if len(counts) < expected:  # groups not used yet come first
            return False
        return counts[mine] <= min(counts.values())
    if operator == "LIKE":
        return re.fullmatch(value, mine) is not None
    if operator == "UNLIKE":
        return re.fullmatch(value, mine) is None
    if operator == "MAX_PER":
        return counts[mine] < int(value)
    if operator == "IS":
        return mine == value
    return False
