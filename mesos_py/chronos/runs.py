"""What happens to a job's runs: claiming instants, queueing, outcomes; pure.

Every function changes a ``Job`` (plain values) given ``now``; the scheduler
persists the job before it acts on the change (launching a claimed run,
acknowledging a status).  See docs/chronos.md for why this gives one run
per scheduled instant across failovers.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from mesos_py.chronos.jobs import Defaults, Job, Run
from mesos_py.chronos.schedule import UTC, format_instant, next_due
from mesos_py.common.protocol import ENDED_FOR_FRAMEWORKS

SUCCESS_STATES = frozenset({"TASK_FINISHED"})
KILLED_STATES = frozenset({"TASK_KILLED"})
FAILURE_STATES = ENDED_FOR_FRAMEWORKS - SUCCESS_STATES - KILLED_STATES


def to_millis(instant: dt.datetime) -> int:
    return round(instant.timestamp() * 1000)


def from_millis(millis: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(millis / 1000, UTC)


def parse_task_id(task_id: str) -> tuple[int, int, str] | None:
    """``ct:<dueMillis>:<attempt>:<job>:<args>`` -> (due, attempt, job); None if not ours."""
    parts = task_id.split(":")
    if len(parts) < 4 or parts[0] != "ct":
        return None
    try:
        return int(parts[1]), int(parts[2]), parts[3]
    except ValueError:
        return None


@dataclass(frozen=True)
class Claim:
    """The result of looking at a scheduled job at ``now``."""

    run: Run | None  # a new run to launch (already added to the job)
    wake_at: dt.datetime | None  # when to look again (None: when a run ends, or never)
    skipped: int = 0  # instants passed over for this run: missed by more than epsilon


def claim_scheduled(job: Job, now: dt.datetime, defaults: Defaults) -> Claim:
    """Claim the instant due at ``now``, if any: the schedule moves past it and the
    run is recorded, in the same job document, before anything is launched.

    A job that is not ``concurrent`` claims nothing while a run is under way:
    its next instant waits, and runs late when that run ends, or is skipped
    once it is more than epsilon late.
    """
    if job.parents is not None or job.disabled or not job.schedule:
        return Claim(None, None)
    if job.runs and not job.concurrent:
        return Claim(None, None)
    schedule = job.parsed_schedule(now)
    epsilon = job.epsilon_delta(defaults)
    due = next_due(schedule, now, epsilon)
    # An update may post a schedule that starts earlier: instants already claimed
    # are passed over, not run twice.
    while due is not None and to_millis(due.instant) <= job.last_instant:
        schedule = schedule.advanced_past(due.index)
        due = next_due(schedule, now, epsilon)
    if due is None:
        return Claim(None, None)
    if due.instant > now:
        return Claim(None, due.instant)
    advanced = schedule.advanced_past(due.index)
    job.schedule = advanced.format()
    run = Run(due_millis=to_millis(due.instant), kind="scheduled")
    job.last_instant = run.due_millis
    job.runs[run.key] = run
    wake = next_due(advanced, now, epsilon) if job.concurrent else None
    return Claim(run, wake.instant if wake is not None else None, skipped=due.index)


def queue_run(job: Job, now: dt.datetime, kind: str) -> None:
    """Queue a manual or dependency run at ``now`` (a unique due time for this job)."""
    taken = {q["due"] for q in job.queued} | {r.due_millis for r in job.runs.values()}
    due = to_millis(now)
    while due in taken:
        due += 1
    job.queued.append({"due": due, "kind": kind})


def claim_queued(job: Job) -> list[Run]:
    """Turn queued runs into claimed ones.  Disabled jobs drop them, as Chronos
    does; a job that is not concurrent keeps them queued while a run is under way."""
    if job.disabled:
        job.queued = []
        return []
    claimed = []
    while job.queued and (job.concurrent or not job.runs):
        item = job.queued.pop(0)
        run = Run(due_millis=item["due"], kind=item["kind"])
        job.runs[run.key] = run
        claimed.append(run)
    return claimed


def record_parent_success(child: Job, parent: str, now: dt.datetime) -> bool:
    """Note ``parent``'s success; queue the child once all its parents succeeded."""
    if parent not in child.parent_successes:
        child.parent_successes.append(parent)
    if child.parents is None or not set(child.parents) <= set(child.parent_successes):
        return False
    child.parent_successes = []
    if child.disabled:
        return False
    queue_run(child, now, "dependency")
    return True


def record_success(job: Job, key: str, now: dt.datetime) -> None:
    job.runs.pop(key, None)
    job.success_count += 1
    job.errors_since_last_success = 0
    job.last_success = format_instant(now.astimezone(UTC))


def record_failure(job: Job, key: str, now: dt.datetime) -> Run | None:
    """A failed attempt: the run to retry (next attempt), or None once it counts as an error.

    As in Chronos, a job whose last result was an error is not retried.
    """
    run = job.runs.get(key)
    if run is None:
        return None
    if run.attempt < job.retries and (not job.last_error or job.last_success >= job.last_error):
        run.attempt += 1
        run.state = "claimed"
        run.agent_id = None
        return run
    job.runs.pop(key, None)
    job.error_count += 1
    job.errors_since_last_success += 1
    job.last_error = format_instant(now.astimezone(UTC))
    return None


def record_killed(job: Job, key: str) -> None:
    """A killed task changes no counter (Chronos only notifies)."""
    job.runs.pop(key, None)
