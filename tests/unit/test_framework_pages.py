"""The view-building functions of the Marathon and Chronos status pages."""

from __future__ import annotations

import datetime as dt

import pytest
from twisted.internet.task import Clock

from mesos_py.chronos import pages as chronos_pages
from mesos_py.chronos.jobs import Defaults, Job, Run
from mesos_py.chronos.schedule import UTC
from mesos_py.framework.store import MemoryStore
from mesos_py.marathon import pages as marathon_pages
from mesos_py.marathon.events import EventBus
from mesos_py.marathon.health import CheckState
from mesos_py.marathon.scheduler import AppRecord, Marathon, TaskRecord
from mesos_py.marathon.state import MarathonState
from mesos_py.webui.framework_site import PageNotFound

NOW = dt.datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


def definition(app_id: str, instances: int = 2, checks: list | None = None) -> dict:
    return {"id": app_id, "cmd": "sleep 10", "instances": instances, "healthChecks": checks or []}


def counts(running: int = 0, staged: int = 0, healthy: int = 0, unhealthy: int = 0) -> dict:
    return {
        "tasksRunning": running,
        "tasksStaged": staged,
        "tasksHealthy": healthy,
        "tasksUnhealthy": unhealthy,
    }


def test_app_row_counts_health_deployment_and_last_failure():
    failure = {"state": "TASK_FAILED", "taskId": "t1", "timestamp": "T", "message": "exit 1"}
    row = marathon_pages.app_row(
        definition("/a", 3, [{"protocol": "COMMAND"}]), counts(2, 1, 1, 1), ["d1"], failure
    )
    assert (row["running"], row["staged"], row["wanted"]) == (2, 1, 3)
    assert row["health"] == "1 healthy, 1 unhealthy"
    assert row["deployments"] == ["d1"]
    assert row["last_failure"] == "TASK_FAILED of t1 at T: exit 1"


def test_app_row_without_health_checks_or_failures_leaves_them_blank():
    row = marathon_pages.app_row(definition("/a"), counts(2), [], None)
    assert row["health"] == "" and row["last_failure"] == ""


def test_an_app_of_args_shows_them_as_its_command():
    app = {**definition("/a"), "cmd": None, "args": ["echo", "hi"]}
    assert marathon_pages.app_row(app, counts(), [], None)["cmd"] == "echo hi"


@pytest.mark.parametrize(
    ("alive", "expected"),
    [([], ""), ([None], "unknown"), ([True, True], "healthy"), ([True, False], "unhealthy")],
)
def test_task_health(alive, expected):
    checks = [CheckState(started_at=0.0, alive=a) for a in alive]
    assert marathon_pages.task_health(checks) == expected


def test_a_running_task_being_killed_shows_as_killing():
    record = TaskRecord("t", "/a", "agent", "h", [31000], "g", "v", state="TASK_RUNNING")
    record.killing = True
    row = marathon_pages.task_row(record, None)
    assert row["state"] == "TASK_KILLING" and row["ports"] == [31000]


def marathon_with_apps(app_ids: list[str]) -> Marathon:
    clock = Clock()
    marathon = Marathon(clock, MarathonState(MemoryStore()), EventBus(clock))
    for app_id in app_ids:
        marathon.apps[app_id] = AppRecord(definition(app_id), "g")
    return marathon


def test_apps_page_builds_only_the_rows_of_the_page_in_id_order():
    marathon = marathon_with_apps([f"/app-{i:02}" for i in range(30, 0, -1)])
    page = marathon_pages.apps_page(marathon, "me:1", {"offset": "10", "limit": "5"})
    assert [row["id"] for row in page["apps"].rows] == [f"/app-{i:02}" for i in range(11, 16)]
    assert page["apps"].total == 30 and page["leader"] == "me:1"
    assert page["framework_id"] is None and page["master"] is None


def test_unknown_app_and_page_are_not_found_and_bad_bounds_invalid():
    marathon = marathon_with_apps(["/a"])
    with pytest.raises(PageNotFound):
        marathon_pages.route(marathon, None, ["app"], {"id": "/b"})
    with pytest.raises(PageNotFound):
        marathon_pages.route(marathon, None, ["nothing"], {})
    with pytest.raises(ValueError):
        marathon_pages.route(marathon, None, [], {"limit": "0"})
    with pytest.raises(ValueError):
        marathon_pages.route(marathon, None, ["app"], {})


def test_next_run_of_a_scheduled_job():
    job = Job("j", "true", schedule="R/2026-01-01T12:30:00.000Z/PT1H")
    assert chronos_pages.next_run(job, NOW, Defaults()) == "2026-01-01T12:30:00.000Z"


def test_no_next_run_for_disabled_dependent_or_finished_jobs():
    defaults = Defaults()
    disabled = Job("j", "true", schedule="R/2026-01-01T12:30:00.000Z/PT1H", disabled=True)
    dependent = Job("k", "true", parents=["j"])
    finished = Job("l", "true", schedule="R0/2026-01-01T12:30:00.000Z/PT1H")
    for job in (disabled, dependent, finished):
        assert chronos_pages.next_run(job, NOW, defaults) == ""


def test_job_row_counters_parents_and_running_task():
    job = Job("k", "true", parents=["a", "b"], success_count=3, error_count=1)
    run = Run(due_millis=5, kind="dependency", state="launched")
    job.runs[run.key] = run
    row = chronos_pages.job_row(job, NOW, Defaults())
    assert (row["success_count"], row["error_count"]) == (3, 1)
    assert row["parents"] == ["a", "b"] and row["next_run"] == ""
    assert row["running"] == [run.task_id("k")]
