"""Marathon's ``/metrics/prometheus``, from the scheduler's books.

Every instance answers with its own view (a standby's books are empty until
it leads), like Marathon 1.7+.  Names use the ``marathon_`` prefix, base
units and ``_total`` counters; docs/operator.md lists them.
"""

from __future__ import annotations

from mesos_py.common import zookeeper
from mesos_py.common.prometheus import Metric, counter, gauge, state_set
from mesos_py.marathon.backoff import FAILED_STATES
from mesos_py.marathon.scheduler import Marathon

SESSION_STATES = (zookeeper.CONNECTED, zookeeper.SUSPENDED, zookeeper.LOST)
TASK_STATES = ("TASK_STAGING", "TASK_STARTING", "TASK_RUNNING", "TASK_KILLING")


def marathon_metrics(
    marathon: Marathon, elected: bool, subscribed: bool, zk_state: str | None = None
) -> list[Metric]:
    """The families of one scrape; ``zk_state`` is None without ZooKeeper (standalone)."""
    tasks_by_state = dict.fromkeys(TASK_STATES, 0)
    for record in marathon.tasks.values():
        state = (
            "TASK_KILLING" if record.killing and record.state == "TASK_RUNNING" else record.state
        )
        tasks_by_state[state] = tasks_by_state.get(state, 0) + 1
    wanted = {}
    running = {}
    for app_id, app in marathon.apps.items():
        wanted[("app", app_id)] = app.definition["instances"]
        running[("app", app_id)] = sum(
            1 for t in marathon.app_tasks(app_id) if t.state == "TASK_RUNNING"
        )
    queue = marathon.queue()
    now = marathon.clock.seconds()
    families = [
        gauge("marathon_leader", "1 when this instance leads.", int(elected)),
        gauge(
            "marathon_mesos_subscribed",
            "1 while this instance is subscribed to a Mesos master.",
            int(subscribed),
        ),
        gauge(
            "marathon_framework_info",
            "The Mesos framework ID this instance knows (empty before the first subscription).",
            {("framework_id", marathon.framework_id or ""): 1},
        ),
        gauge("marathon_apps", "Apps defined.", len(marathon.apps)),
        gauge("marathon_app_instances_wanted", "Instances an app asks for, by app.", wanted),
        gauge(
            "marathon_app_instances_running", "Tasks of an app in TASK_RUNNING, by app.", running
        ),
        gauge(
            "marathon_tasks",
            "Known tasks by state (TASK_KILLING: a kill was sent).",
            {("state", state): count for state, count in tasks_by_state.items()},
        ),
        counter(
            "marathon_tasks_launched_total",
            "Tasks sent to Mesos to launch.",
            marathon.launched_total,
        ),
        counter(
            "marathon_tasks_killed_total",
            "Tasks that ended TASK_KILLED.",
            marathon.ended_total.get("TASK_KILLED", 0),
        ),
        counter(
            "marathon_tasks_failed_total",
            "Tasks that ended in a failed state (those that count for the launch backoff).",
            sum(n for state, n in marathon.ended_total.items() if state in FAILED_STATES),
        ),
        gauge("marathon_deployments", "Deployments in progress.", len(marathon.deployments)),
        counter(
            "marathon_health_check_failures_total",
            "Failed health check probes past the grace period (failed_health_check_event).",
            marathon.health_check_failures_total,
        ),
        gauge(
            "marathon_launch_queue_instances",
            "Instances waiting to be launched.",
            sum(item["count"] for item in queue),
        ),
        gauge(
            "marathon_launch_queue_delay_seconds",
            "Seconds left of the launch backoff of a queued app, by app.",
            {
                ("app", item["app"]["id"]): marathon.backoff.time_left(item["app"], now)
                for item in queue
            },
        ),
    ]
    if zk_state is not None:
        families.append(
            state_set(
                "marathon_zookeeper_session",
                "1 for the current state of this instance's ZooKeeper session.",
                "state",
                SESSION_STATES,
                zk_state,
            )
        )
    return families
