"""Names and small helpers of the Mesos v1 wire protocol shared by master and agent."""

from __future__ import annotations

import base64
import binascii
import uuid

TERMINAL_STATES = frozenset(
    {
        "TASK_FINISHED",
        "TASK_FAILED",
        "TASK_KILLED",
        "TASK_ERROR",
        "TASK_LOST",
        "TASK_DROPPED",
        "TASK_GONE",
        "TASK_GONE_BY_OPERATOR",
    }
)
# What a framework takes as the end of a task: the terminal states, and TASK_UNKNOWN,
# the master's reconciliation answer for a task it has no record of.
ENDED_FOR_FRAMEWORKS = TERMINAL_STATES | {"TASK_UNKNOWN"}

TASK_STATES = (
    frozenset(
        {
            "TASK_STAGING",
            "TASK_STARTING",
            "TASK_RUNNING",
            "TASK_KILLING",
            "TASK_UNREACHABLE",
            "TASK_UNKNOWN",
        }
    )
    | TERMINAL_STATES
)

# The task states counted per agent and framework by /master/state-summary.
SUMMARY_STATES = (
    "TASK_STAGING",
    "TASK_STARTING",
    "TASK_RUNNING",
    "TASK_KILLING",
    "TASK_FINISHED",
    "TASK_KILLED",
    "TASK_FAILED",
    "TASK_LOST",
    "TASK_ERROR",
    "TASK_UNREACHABLE",
)

SOURCES = frozenset({"SOURCE_MASTER", "SOURCE_AGENT", "SOURCE_EXECUTOR"})

DEFAULT_HEARTBEAT_INTERVAL = 15.0


def is_terminal(state: str) -> bool:
    return state in TERMINAL_STATES


def new_status_uuid() -> str:
    """A fresh status-update UUID in its wire form: base64 of 16 raw bytes."""
    return base64.b64encode(uuid.uuid4().bytes).decode()


def decode_status_uuid(value: object) -> bytes:
    """The 16 raw bytes of a wire status UUID; ValueError if it is not one."""
    if not isinstance(value, str):
        raise ValueError("uuid must be a base64 string")
    try:
        raw = base64.b64decode(value, validate=True)
    except binascii.Error as exc:
        raise ValueError(f"uuid is not valid base64: {exc}") from None
    if len(raw) != 16:
        raise ValueError(f"uuid must decode to 16 bytes, got {len(raw)}")
    return raw


def id_value(obj: object, field: str) -> str:
    """Read ``obj[field]['value']`` (a Mesos ID wrapper) or raise ValueError."""
    if not isinstance(obj, dict):
        raise ValueError(f"expected an object holding '{field}'")
    wrapper = obj.get(field)
    if not isinstance(wrapper, dict) or not isinstance(wrapper.get("value"), str):
        raise ValueError(f"'{field}' must be an object with a string 'value'")
    if not wrapper["value"]:
        raise ValueError(f"'{field}.value' must not be empty")
    return wrapper["value"]


def ident(value: str) -> dict:
    """The wire form of an ID: ``{"value": ...}``."""
    return {"value": value}
