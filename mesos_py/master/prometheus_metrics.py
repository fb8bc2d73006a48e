"""The master's ``/metrics`` (Prometheus), from the same books as ``/metrics/snapshot``.

Names follow Prometheus conventions (``mesos_master_`` prefix, base units,
``_total`` counters); docs/operator.md lists them with their snapshot twins.
"""

from __future__ import annotations

from typing import Any

from mesos_py.common import zookeeper
from mesos_py.common.prometheus import Metric, counter, gauge, state_set
from mesos_py.master import state_json
from mesos_py.master.master import Master

RESOURCES = ("cpus", "mem", "disk", "gpus")
LIVE_STATES = ("staging", "starting", "running", "killing", "unreachable")
TERMINAL_STATES = ("finished", "failed", "killed", "lost", "error", "dropped", "gone")
SESSION_STATES = (zookeeper.CONNECTED, zookeeper.SUSPENDED, zookeeper.LOST)


def _by(label: str, values: dict[str, float]) -> dict[tuple[str, str], float]:
    return {(label, key): value for key, value in values.items()}


def master_metrics(master: Master, zk: Any = None) -> list[Metric]:
    snapshot = state_json.metrics(master)
    offered = {
        name: sum(o.resources.scalar(name) for o in master.offers.values()) for name in RESOURCES
    }
    families = [
        gauge("mesos_master_elected", "1 when this master leads.", snapshot["master/elected"]),
        gauge(
            "mesos_master_uptime_seconds",
            "Seconds since this master started.",
            snapshot["master/uptime_secs"],
        ),
        gauge(
            "mesos_master_agents",
            "Registered agents by state (inactive: deactivated, e.g. drained), and unreachable "
            "ones.",
            _by(
                "state",
                {
                    state: snapshot[f"master/slaves_{state}"]
                    for state in ("active", "inactive", "disconnected", "unreachable")
                },
            ),
        ),
        gauge(
            "mesos_master_frameworks",
            "Frameworks by state.",
            _by(
                "state",
                {
                    state: snapshot[f"master/frameworks_{state}"]
                    for state in ("active", "inactive", "connected", "disconnected")
                },
            ),
        ),
        gauge(
            "mesos_master_tasks",
            "Tasks in a non-terminal state, by state.",
            _by("state", {f"TASK_{s.upper()}": snapshot[f"master/tasks_{s}"] for s in LIVE_STATES}),
        ),
        counter(
            "mesos_master_task_terminations_total",
            "Tasks that reached a terminal state, by state.",
            _by(
                "state",
                {f"TASK_{s.upper()}": snapshot[f"master/tasks_{s}"] for s in TERMINAL_STATES},
            ),
        ),
    ]
    for kind, help_text in (
        ("capacity", "Resources of the registered agents."),
        ("used", "Resources held by tasks and executors."),
    ):
        key = "total" if kind == "capacity" else kind
        families.append(
            gauge(
                f"mesos_master_resources_{kind}",
                help_text + " (cpus; mem and disk in MB)",
                _by("resource", {n: snapshot[f"master/{n}_{key}"] for n in RESOURCES}),
            )
        )
    families += [
        gauge(
            "mesos_master_resources_offered",
            "Resources in outstanding offers (cpus; mem and disk in MB)",
            _by("resource", offered),
        ),
        gauge("mesos_master_offers_outstanding", "Offers not yet answered.", len(master.offers)),
        counter(
            "mesos_master_offers_sent_total", "Offers sent.", master.metrics["master/offers_sent"]
        ),
        counter(
            "mesos_master_offer_declines_total",
            "DECLINE calls received.",
            master.metrics["master/messages_decline_offers"],
        ),
        counter(
            "mesos_master_allocation_runs_total",
            "Allocation runs.",
            master.metrics["allocator/mesos/allocation_runs"],
        ),
        master.allocation_run_seconds.metric(
            "mesos_master_allocation_run_seconds", "Duration of one allocation run."
        ),
        counter(
            "mesos_master_status_updates_total",
            "Status updates received from agents, by validity (valid: of a known framework).",
            {
                ("valid", "true"): master.metrics["master/valid_status_updates"],
                ("valid", "false"): master.metrics["master/invalid_status_updates"],
            },
        ),
        master.status_update_latency.metric(
            "mesos_master_status_update_latency_seconds",
            "From a status update's creation on its agent to the master relaying it "
            "(first delivery of each update).",
        ),
        gauge(
            "mesos_master_registry_size_bytes",
            "Size of the registry.",
            snapshot["registrar/registry_size_bytes"],
        ),
    ]
    if zk is not None:
        families.append(
            state_set(
                "mesos_master_zookeeper_session",
                "1 for the current state of this master's ZooKeeper session.",
                "state",
                SESSION_STATES,
                zk.state,
            )
        )
    return families
