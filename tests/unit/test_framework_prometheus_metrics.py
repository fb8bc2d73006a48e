"""The Marathon and Chronos Prometheus families (pure building functions), parsed back."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families
from twisted.internet import task

from mesos_py.chronos.jobs import Defaults, Job, Run
from mesos_py.chronos.prometheus_metrics import chronos_metrics
from mesos_py.chronos.scheduler import ChronosScheduler, Settings
from mesos_py.common import zookeeper
from mesos_py.common.prometheus import encode
from mesos_py.framework.store import MemoryStore
from mesos_py.marathon import appdef
from mesos_py.marathon.events import EventBus
from mesos_py.marathon.prometheus_metrics import marathon_metrics
from mesos_py.marathon.scheduler import Marathon, TaskRecord
from mesos_py.marathon.state import MarathonState


def samples(families) -> dict[tuple, float]:
    """``{(sample name, sorted labels): value}`` of the encoded text, as Prometheus reads it."""
    text = encode(families).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def marathon_with_app(app_id: str, instances: int) -> tuple[Marathon, task.Clock]:
    clock = task.Clock()
    clock.advance(1_000_000)
    marathon = Marathon(clock, MarathonState(MemoryStore()), EventBus(clock))
    definition = appdef.parse_app({"id": app_id, "cmd": "sleep 100", "instances": instances})
    marathon.put_app(definition)
    return marathon, clock


def task_of(app_id: str, n: int, state: str) -> TaskRecord:
    return TaskRecord(f"{app_id}-{n}", app_id, "agent-1", "host", [], "g", "v", state=state)


def test_marathon_families_count_apps_instances_tasks_and_ends():
    marathon, _ = marathon_with_app("/prod/web.api", 3)
    app_id = "/prod/web.api"
    marathon.framework_id = "fw-1"
    for n, state in enumerate(["TASK_RUNNING", "TASK_RUNNING", "TASK_STAGING"]):
        marathon._add_task(task_of(app_id, n, state))
    marathon.tasks[f"{app_id}-0"].killing = True
    marathon.launched_total = 5
    marathon.ended_total = {"TASK_KILLED": 2, "TASK_FAILED": 1, "TASK_FINISHED": 1}
    marathon.health_check_failures_total = 4

    got = samples(marathon_metrics(marathon, True, True, zookeeper.CONNECTED))

    app = (("app", app_id),)
    assert got[("marathon_leader", ())] == 1
    assert got[("marathon_mesos_subscribed", ())] == 1
    assert got[("marathon_framework_info", (("framework_id", "fw-1"),))] == 1
    assert got[("marathon_apps", ())] == 1
    assert got[("marathon_app_instances_wanted", app)] == 3
    assert got[("marathon_app_instances_running", app)] == 2
    assert got[("marathon_tasks", (("state", "TASK_RUNNING"),))] == 1
    assert got[("marathon_tasks", (("state", "TASK_KILLING"),))] == 1
    assert got[("marathon_tasks", (("state", "TASK_STAGING"),))] == 1
    assert got[("marathon_tasks_launched_total", ())] == 5
    assert got[("marathon_tasks_killed_total", ())] == 2
    assert got[("marathon_tasks_failed_total", ())] == 2  # an app's task that exits fails it
    assert got[("marathon_deployments", ())] == 1
    assert got[("marathon_health_check_failures_total", ())] == 4
    assert got[("marathon_zookeeper_session", (("state", zookeeper.CONNECTED),))] == 1
    assert got[("marathon_zookeeper_session", (("state", zookeeper.LOST),))] == 0


def test_marathon_launch_queue_reports_missing_instances_and_the_backoff_left():
    marathon, clock = marathon_with_app("/a", 2)
    marathon.backoff.failed(marathon.apps["/a"].definition, clock.seconds())
    clock.advance(0.25)

    got = samples(marathon_metrics(marathon, False, False))

    assert got[("marathon_leader", ())] == 0
    assert got[("marathon_mesos_subscribed", ())] == 0
    assert got[("marathon_framework_info", (("framework_id", ""),))] == 1
    assert got[("marathon_launch_queue_instances", ())] == 2
    backoff = marathon.apps["/a"].definition["backoffSeconds"]
    assert got[("marathon_launch_queue_delay_seconds", (("app", "/a"),))] == backoff - 0.25
    assert not any(name == "marathon_zookeeper_session" for name, _ in got)


def scheduler_with_jobs() -> tuple[ChronosScheduler, task.Clock]:
    clock = task.Clock()
    clock.advance(1_000_000)
    scheduler = ChronosScheduler(clock, MemoryStore(), Settings(Defaults()))
    scheduler.framework_id = "fw-c"
    due = int((clock.seconds() - 7) * 1000)
    scheduler.jobs = {
        "waits": Job("waits", "true", runs={str(due): Run(due, "scheduled")}),
        "runs": Job("runs", "true", runs={"1": Run(1, "manual", state="launched")}),
        "off": Job("off", "true", disabled=True),
    }
    scheduler.metrics.update(succeeded=3, failed=5, retried=2, skipped=1, launched=9)
    for lateness in (0.05, 0.4, 20.0):
        scheduler.start_lateness.observe(lateness)
    return scheduler, clock


def test_chronos_families_count_jobs_runs_lateness_and_lag():
    scheduler, _ = scheduler_with_jobs()

    got = samples(chronos_metrics(scheduler, True, True, zookeeper.SUSPENDED))

    assert got[("chronos_leader", ())] == 1
    assert got[("chronos_mesos_subscribed", ())] == 1
    assert got[("chronos_framework_info", (("framework_id", "fw-c"),))] == 1
    assert got[("chronos_jobs", (("disabled", "false"),))] == 2
    assert got[("chronos_jobs", (("disabled", "true"),))] == 1
    outcome = {
        o: got[("chronos_job_runs_total", (("outcome", o),))]
        for o in ("success", "error", "retry", "skipped")
    }
    assert outcome == {"success": 3, "error": 3, "retry": 2, "skipped": 1}
    assert got[("chronos_tasks_launched_total", ())] == 9
    assert got[("chronos_tasks_running", ())] == 1
    assert got[("chronos_job_start_lateness_seconds_count", ())] == 3
    assert got[("chronos_job_start_lateness_seconds_bucket", (("le", "0.5"),))] == 2
    assert got[("chronos_job_start_lateness_seconds_bucket", (("le", "+Inf"),))] == 3
    assert got[("chronos_next_due_lag_seconds", ())] == 7
    assert got[("chronos_zookeeper_session", (("state", zookeeper.SUSPENDED),))] == 1


def test_a_chronos_standby_reports_only_its_own_instance_families():
    got = samples(chronos_metrics(None, False, False, zookeeper.CONNECTED))

    assert {name for name, _ in got} == {
        "chronos_leader",
        "chronos_mesos_subscribed",
        "chronos_zookeeper_session",
    }
    assert got[("chronos_leader", ())] == 0


def test_no_run_waiting_means_no_lag():
    scheduler, _ = scheduler_with_jobs()
    del scheduler.jobs["waits"]

    got = samples(chronos_metrics(scheduler, True, True))

    assert got[("chronos_next_due_lag_seconds", ())] == 0
