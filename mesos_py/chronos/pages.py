"""What Chronos' status pages show, from the leader's jobs and run history.

No I/O and no HTML: plain values for the ``chronos*.html`` templates, one
page of jobs at a time (``webui.views.paginate``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from mesos_py.chronos.jobs import Defaults, Job
from mesos_py.chronos.schedule import ScheduleError, format_instant, next_due
from mesos_py.chronos.scheduler import ChronosScheduler
from mesos_py.common.zk_layout import master_address
from mesos_py.webui import views
from mesos_py.webui.framework_site import PageNotFound


def next_run(job: Job, now: dt.datetime, defaults: Defaults) -> str:
    """When the schedule runs the job next ("" for a dependent, disabled or finished job)."""
    if job.parents is not None or job.disabled or not job.schedule:
        return ""
    try:
        due = next_due(job.parsed_schedule(now), now, job.epsilon_delta(defaults))
    except (ScheduleError, ValueError):
        return ""
    return format_instant(due.instant) if due is not None else ""


def job_row(job: Job, now: dt.datetime, defaults: Defaults) -> dict[str, Any]:
    return {
        "name": job.name,
        "command": job.command,
        "schedule": job.schedule or "",
        "parents": job.parents or [],
        "disabled": job.disabled,
        "success_count": job.success_count,
        "error_count": job.error_count,
        "last_success": job.last_success,
        "last_error": job.last_error,
        "next_run": next_run(job, now, defaults),
        "running": [run.task_id(job.name) for run in job.running()],
    }


def subscription(scheduler: ChronosScheduler) -> dict[str, Any]:
    """The framework ID and the master the driver is subscribed to (if it is)."""
    driver = scheduler.driver
    info = getattr(driver, "master_info", None) if driver is not None else None
    connected = driver is not None and driver.connected
    return {
        "framework_id": scheduler.framework_id,
        "master": master_address(info) if info and connected else None,
    }


def jobs_page(
    scheduler: ChronosScheduler, leader: str | None, args: dict[str, str]
) -> dict[str, Any]:
    offset, limit = views.page_bounds(args)
    page = views.paginate(sorted(scheduler.jobs), offset, limit)
    now = scheduler.now()
    rows = [job_row(scheduler.jobs[name], now, scheduler.defaults) for name in page.rows]
    return {
        "leader": leader,
        **subscription(scheduler),
        "jobs": views.Page(rows, page.offset, page.limit, page.total),
    }


def job_page(scheduler: ChronosScheduler, name: str) -> dict[str, Any]:
    job = scheduler.jobs.get(name)
    if job is None:
        raise PageNotFound(f"No job {name!r}")
    return {
        "job": job_row(job, scheduler.now(), scheduler.defaults),
        "description": job.description,
        "owner": job.owner,
        "history": list(reversed(scheduler.history.get(name, ()))),
    }


def route(
    scheduler: ChronosScheduler, leader: str | None, segments: list[str], args: dict[str, str]
) -> tuple[str, dict[str, Any]]:
    """The page for ``/ui/<segments>``: the jobs (``/``), or one job (``/ui/job?name=``)."""
    match segments:
        case []:
            return "chronos.html", jobs_page(scheduler, leader, args)
        case ["job"]:
            if "name" not in args:
                raise ValueError("name is required")
            return "chronos_job.html", job_page(scheduler, args["name"])
    raise PageNotFound("No such page")
