"""Chronos' ``/metrics/prometheus``, from the scheduler's books.

Every instance answers with its own view: a standby (no scheduler) gives
only the instance families (leadership, ZooKeeper session, subscription).
Names use the ``chronos_`` prefix, base units and ``_total`` counters;
docs/operator.md lists them.
"""

from __future__ import annotations

from mesos_py.chronos.scheduler import ChronosScheduler
from mesos_py.common import zookeeper
from mesos_py.common.prometheus import Metric, counter, gauge, state_set

SESSION_STATES = (zookeeper.CONNECTED, zookeeper.SUSPENDED, zookeeper.LOST)


def chronos_metrics(
    scheduler: ChronosScheduler | None,
    elected: bool,
    subscribed: bool,
    zk_state: str | None = None,
) -> list[Metric]:
    """The families of one scrape; ``zk_state`` is None without ZooKeeper (standalone)."""
    families = [
        gauge("chronos_leader", "1 when this instance leads.", int(elected)),
        gauge(
            "chronos_mesos_subscribed",
            "1 while this instance is subscribed to a Mesos master.",
            int(subscribed),
        ),
    ]
    if zk_state is not None:
        families.append(
            state_set(
                "chronos_zookeeper_session",
                "1 for the current state of this instance's ZooKeeper session.",
                "state",
                SESSION_STATES,
                zk_state,
            )
        )
    if scheduler is not None:
        families += _scheduler_families(scheduler)
    return families


def _scheduler_families(scheduler: ChronosScheduler) -> list[Metric]:
    jobs = scheduler.jobs.values()
    counts = scheduler.metrics
    now = scheduler.reactor.seconds()
    waiting_since = [
        run.due_millis / 1000.0
        for job in jobs
        for run in job.runs.values()
        if run.state == "claimed" and run.attempt == 0
    ]
    return [
        gauge(
            "chronos_framework_info",
            "The Mesos framework ID this instance knows (empty before the first subscription).",
            {("framework_id", scheduler.framework_id or ""): 1},
        ),
        gauge(
            "chronos_jobs",
            "Jobs defined, by whether they are disabled.",
            {
                ("disabled", "false"): sum(1 for j in jobs if not j.disabled),
                ("disabled", "true"): sum(1 for j in jobs if j.disabled),
            },
        ),
        counter(
            "chronos_job_runs_total",
            "Ended attempts by outcome (retry: failed, tried again; error: failed for good), "
            "and instants skipped (missed by more than epsilon).",
            {
                ("outcome", "success"): counts["succeeded"],
                ("outcome", "error"): counts["failed"] - counts["retried"],
                ("outcome", "retry"): counts["retried"],
                ("outcome", "skipped"): counts["skipped"],
            },
        ),
        counter(
            "chronos_tasks_launched_total", "Tasks sent to Mesos to launch.", counts["launched"]
        ),
        gauge(
            "chronos_tasks_running",
            "Runs launched and not ended.",
            sum(len(job.running()) for job in jobs),
        ),
        scheduler.start_lateness.metric(
            "chronos_job_start_lateness_seconds",
            "From a run's due instant to its first attempt's launch.",
        ),
        gauge(
            "chronos_next_due_lag_seconds",
            "How long the most overdue run has waited past its due instant to start "
            "(0: none waits).",
            max((now - due for due in waiting_since), default=0.0),
        ),
    ]
