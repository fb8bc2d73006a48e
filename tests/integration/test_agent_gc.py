"""Sandbox garbage collection in a running agent, with short timers."""

from __future__ import annotations

import os

from tests.integration.harness import (
    FAST_AGENT_FLAGS,
    RawScheduler,
    get_json,
    running_cluster,
    wait_for,
)
from tests.integration.pymesos_support import command_task
from tests.integration.test_faults import collect, launch

GC_FLAGS = [*FAST_AGENT_FLAGS, "--gc_delay=1secs", "--disk_watch_interval=300ms"]


def sandbox_of(agent: str, task_id: str) -> str:
    state = get_json(agent, "/state")
    for framework in state["frameworks"] + state["completed_frameworks"]:
        for executor in framework["executors"] + framework["completed_executors"]:
            if executor["id"] == task_id:
                return executor["directory"]
    raise AssertionError(f"no executor for {task_id} in /state")


def test_finished_sandboxes_are_removed_after_gc_delay_and_running_ones_kept(tmp_path):
    with running_cluster(tmp_path / "c", "processes", agent_flags=GC_FLAGS) as cluster:
        raw = RawScheduler(cluster.address)
        offer = raw.next_event("OFFERS")["offers"]["offers"][0]
        address = offer["url"]["address"]
        agent = f"{address['ip']}:{address['port']}"
        launch(
            raw,
            offer,
            [command_task(offer, "done", "true"), command_task(offer, "busy", "sleep 30")],
        )
        collect(raw, ["done"], {"TASK_FINISHED"})
        finished, running = sandbox_of(agent, "done"), sandbox_of(agent, "busy")
        assert os.path.isdir(finished)

        wait_for(
            lambda: not os.path.exists(finished),
            timeout=10,
            what="the finished sandbox to be collected",
        )
        metrics = get_json(agent, "/metrics/snapshot")
        assert metrics["gc/path_removals_succeeded"] >= 1
        assert os.path.isdir(running)
        raw.close()
