"""What Marathon's status pages show, from the leader's in-memory books.

No I/O and no HTML: plain values for the ``marathon*.html`` templates.  Tables
are one page at a time (``webui.views.paginate``) and only the rows shown are
built, so an app with 1,000 instances stays cheap.
"""

from __future__ import annotations

from typing import Any

from mesos_py.common.zk_layout import master_address
from mesos_py.marathon.health import CheckState
from mesos_py.marathon.scheduler import Marathon, TaskRecord
from mesos_py.webui import views
from mesos_py.webui.framework_site import PageNotFound


def app_health(definition: dict, counts: dict[str, int]) -> str:
    """ "n healthy, m unhealthy", or "" for an app without health checks."""
    if not definition.get("healthChecks"):
        return ""
    return f"{counts['tasksHealthy']} healthy, {counts['tasksUnhealthy']} unhealthy"


def failure_summary(last_failure: dict | None) -> str:
    if not last_failure:
        return ""
    message = last_failure.get("message") or ""
    summary = f"{last_failure['state']} of {last_failure['taskId']} at {last_failure['timestamp']}"
    return f"{summary}: {message}" if message else summary


def app_row(
    definition: dict, counts: dict[str, int], deployments: list[str], last_failure: dict | None
) -> dict[str, Any]:
    return {
        "id": definition["id"],
        "cmd": definition.get("cmd") or " ".join(definition.get("args") or []),
        "running": counts["tasksRunning"],
        "staged": counts["tasksStaged"],
        "wanted": definition["instances"],
        "health": app_health(definition, counts),
        "deployments": deployments,
        "last_failure": failure_summary(last_failure),
    }


def task_health(checks: list[CheckState] | None) -> str:
    if not checks:
        return ""
    if any(c.alive is None for c in checks):
        return "unknown"
    return "healthy" if all(c.alive for c in checks) else "unhealthy"


def task_row(record: TaskRecord, checks: list[CheckState] | None) -> dict[str, Any]:
    killing = record.killing and record.state == "TASK_RUNNING"
    return {
        "id": record.task_id,
        "host": record.host,
        "ports": record.ports,
        "state": "TASK_KILLING" if killing else record.state,
        "health": task_health(checks),
        "started": record.started_at,
    }


def subscription(marathon: Marathon) -> dict[str, Any]:
    """The framework ID and the master the driver is subscribed to (if it is)."""
    driver = marathon.driver
    info = getattr(driver, "master_info", None) if driver is not None else None
    connected = driver is not None and driver.connected
    return {
        "framework_id": marathon.framework_id,
        "master": master_address(info) if info and connected else None,
    }


def apps_page(marathon: Marathon, leader: str | None, args: dict[str, str]) -> dict[str, Any]:
    offset, limit = views.page_bounds(args)
    page = views.paginate(sorted(marathon.apps), offset, limit)
    rows = [
        app_row(
            marathon.apps[app_id].definition,
            marathon.counts(app_id),
            marathon.locks(app_id),
            marathon.apps[app_id].last_failure,
        )
        for app_id in page.rows
    ]
    page = views.Page(rows, page.offset, page.limit, page.total)
    return {"leader": leader, **subscription(marathon), "apps": page}


def app_page(marathon: Marathon, app_id: str, args: dict[str, str]) -> dict[str, Any]:
    app = marathon.apps.get(app_id)
    if app is None:
        raise PageNotFound(f"No app {app_id!r}")
    offset, limit = views.page_bounds(args)
    tasks = sorted(marathon.app_tasks(app_id), key=lambda record: record.task_id)
    page = views.paginate(tasks, offset, limit)
    rows = [task_row(record, marathon.health.get(record.task_id)) for record in page.rows]
    row = app_row(app.definition, marathon.counts(app_id), marathon.locks(app_id), app.last_failure)
    return {"app": row, "tasks": views.Page(rows, page.offset, page.limit, page.total)}


def route(
    marathon: Marathon, leader: str | None, segments: list[str], args: dict[str, str]
) -> tuple[str, dict[str, Any]]:
    """The page for ``/ui/<segments>``: the apps (``/``), or one app (``/ui/app?id=``)."""
    match segments:
        case []:
            return "marathon.html", apps_page(marathon, leader, args)
        case ["app"]:
            if "id" not in args:
                raise ValueError("id is required")
            return "marathon_app.html", app_page(marathon, args["id"], args)
    raise PageNotFound("No such page")
