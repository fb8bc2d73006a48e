"""The agent's ``/metrics`` (Prometheus), from the same books as ``/metrics/snapshot``."""

from __future__ import annotations

from collections.abc import Callable

from mesos_py.agent.agent import Agent
from mesos_py.common import zookeeper
from mesos_py.common.prometheus import Metric, counter, gauge, state_set

RESOURCES = ("cpus", "mem", "disk", "gpus")
LIVE_STATES = ("staging", "starting", "running", "killing")
TERMINAL_STATES = ("finished", "failed", "killed", "lost", "dropped", "gone")
EXECUTOR_STATES = ("registering", "running", "terminating")
SESSION_STATES = (zookeeper.CONNECTED, zookeeper.SUSPENDED, zookeeper.LOST)


def agent_metrics(agent: Agent, zk_state: Callable[[], str | None]) -> list[Metric]:
    """``zk_state()`` is the ZooKeeper session's state, None when the agent uses no ZooKeeper."""
    snapshot = agent.metrics()
    families = [
        gauge(
            "mesos_agent_registered",
            "1 when registered with a master.",
            snapshot["slave/registered"],
        ),
        gauge(
            "mesos_agent_uptime_seconds",
            "Seconds since this agent started.",
            snapshot["slave/uptime_secs"],
        ),
        gauge(
            "mesos_agent_resources_capacity",
            "Resources this agent offers (cpus; mem and disk in MB).",
            {("resource", n): snapshot[f"slave/{n}_total"] for n in RESOURCES},
        ),
        gauge(
            "mesos_agent_resources_used",
            "Resources held by tasks and executors (cpus; mem and disk in MB).",
            {("resource", n): snapshot[f"slave/{n}_used"] for n in RESOURCES},
        ),
        gauge(
            "mesos_agent_tasks",
            "Tasks in a non-terminal state, by state.",
            {("state", f"TASK_{s.upper()}"): snapshot[f"slave/tasks_{s}"] for s in LIVE_STATES},
        ),
        counter(
            "mesos_agent_task_terminations_total",
            "Tasks that reached a terminal state, by state.",
            {("state", f"TASK_{s.upper()}"): snapshot[f"slave/tasks_{s}"] for s in TERMINAL_STATES},
        ),
        gauge(
            "mesos_agent_executors",
            "Executors by state.",
            {("state", s): snapshot[f"slave/executors_{s}"] for s in EXECUTOR_STATES},
        ),
        counter(
            "mesos_agent_executors_terminated_total",
            "Executors that terminated.",
            snapshot["slave/executors_terminated"],
        ),
        gauge(
            "mesos_agent_frameworks_active",
            "Frameworks with executors here.",
            snapshot["slave/frameworks_active"],
        ),
        counter(
            "mesos_agent_status_updates_total",
            "Status updates from executors, by validity.",
            {
                ("valid", "true"): snapshot["slave/valid_status_updates"],
                ("valid", "false"): snapshot["slave/invalid_status_updates"],
            },
        ),
        agent.status_update_ack_latency.metric(
            "mesos_agent_status_update_ack_latency_seconds",
            "From a status update's creation to the framework's acknowledgement reaching "
            "this agent (the full round trip through the master).",
        ),
        counter(
            "mesos_agent_container_launch_errors_total",
            "Containers that failed to launch.",
            snapshot["slave/container_launch_errors"],
        ),
        counter(
            "mesos_agent_gc_path_removals_total",
            "Sandbox directories garbage-collected, by result.",
            {
                ("result", "succeeded"): snapshot["gc/path_removals_succeeded"],
                ("result", "failed"): snapshot["gc/path_removals_failed"],
            },
        ),
    ]
    state = zk_state()
    if state is not None:
        families.append(
            state_set(
                "mesos_agent_zookeeper_session",
                "1 for the current state of this agent's ZooKeeper session (leader detection).",
                "state",
                SESSION_STATES,
                state,
            )
        )
    return families
