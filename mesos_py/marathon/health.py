"""Health of one task under one health check, as Marathon's health check actor keeps it.

Failures within ``gracePeriodSeconds`` of the task starting are ignored until
its first success; ``maxConsecutiveFailures`` failures in a row (when > 0) ask
for the task to be killed.  Times are plain seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mesos_py.marathon.appdef import format_timestamp


@dataclass
class CheckState:
    started_at: float  # when the task was seen running
    alive: bool | None = None  # None: no result counted yet
    consecutive_failures: int = 0
    first_success: float | None = None
    last_success: float | None = None
    last_failure: float | None = None
    last_failure_cause: str | None = None


@dataclass
class Outcome:
    """What one result means: events to send and whether to kill the task."""

    failed: bool = False  # a failure that counts (failed_health_check_event)
    changed: bool = False  # ``alive`` flipped (health_status_changed_event)
    kill: bool = False  # too many failures in a row
    notes: list[str] = field(default_factory=list)


def record(
    state: CheckState, check: dict[str, Any], now: float, ok: bool, cause: str = ""
) -> Outcome:
    """Fold one check result into ``state``."""
    outcome = Outcome()
    before = state.alive
    if ok:
        state.consecutive_failures = 0
        state.last_success = now
        if state.first_success is None:
            state.first_success = now
        state.alive = True
    else:
        in_grace = state.first_success is None and now < state.started_at + float(
            check["gracePeriodSeconds"]
        )
        if in_grace:
            return outcome
        state.consecutive_failures += 1
        state.last_failure = now
        state.last_failure_cause = cause
        state.alive = False
        outcome.failed = True
        limit = int(check["maxConsecutiveFailures"])
        outcome.kill = limit > 0 and state.consecutive_failures >= limit
    outcome.changed = before != state.alive
    return outcome


def result_json(state: CheckState, task_id: str) -> dict[str, Any]:
    """One entry of a task's ``healthCheckResults`` (Marathon 1.4 shape)."""

    def stamp(value: float | None) -> str | None:
        return format_timestamp(value) if value is not None else None

    return {
        "alive": bool(state.alive),
        "consecutiveFailures": state.consecutive_failures,
        "firstSuccess": stamp(state.first_success),
        "lastSuccess": stamp(state.last_success),
        "lastFailure": stamp(state.last_failure),
        "lastFailureCause": state.last_failure_cause,
        "taskId": task_id,
    }


def is_ready(states: list[CheckState], has_checks: bool, running: bool) -> bool:
    """Running, and (when the app has checks) every check's last result alive."""
    if not running:
        return False
    if not has_checks:
        return True
    return bool(states) and all(s.alive for s in states)
