"""The unmodified pymesos 0.3.15 drivers against real master and agent processes.

Every test runs twice: against ``mesos-py local`` and against separate master
and agent processes (the ``cluster`` fixture).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pymesos import encode_data

from tests.integration.harness import get_json, wait_for
from tests.integration.pymesos_support import (
    PymesosFramework,
    command_task,
    executor_task,
)

NO_FILTER = {"refuse_seconds": 0}
SCHEDULER_PROCESS = Path(__file__).with_name("pymesos_scheduler_process.py")


@pytest.fixture
def framework(cluster):
    running = PymesosFramework(cluster.address)
    yield running
    running.stop()


def test_command_tasks_finish_fail_and_are_killed(framework):
    sched = framework.scheduler
    offer = sched.next_offer()
    tasks = [
        command_task(offer, "ok", "echo hello"),
        command_task(offer, "bad", "exit 3"),
        command_task(offer, "long", "sleep 1000"),
    ]
    framework.driver.launchTasks([offer["id"]], tasks, NO_FILTER)

    finished = sched.wait_update("ok", "TASK_FINISHED")
    assert finished["source"] == "SOURCE_EXECUTOR"
    failed = sched.wait_update("bad", "TASK_FAILED")
    assert "3" in failed["message"]
    sched.wait_update("long", "TASK_RUNNING")
    framework.driver.killTask({"value": "long"})
    killed = sched.wait_update("long", "TASK_KILLED")
    assert killed["agent_id"] == offer["agent_id"]
    assert sched.states_of("ok")[0] == "TASK_RUNNING"


def test_tasks_on_a_pymesos_custom_executor(framework):
    sched = framework.scheduler
    offer = sched.next_offer()
    framework.driver.launchTasks(
        [offer["id"]],
        [executor_task(offer, "e-finish", "finish"), executor_task(offer, "e-sleep", "sleep")],
        NO_FILTER,
    )
    sched.wait_update("e-finish", "TASK_RUNNING")
    sched.wait_update("e-finish", "TASK_FINISHED")
    sched.wait_update("e-sleep", "TASK_RUNNING")

    framework.driver.sendFrameworkMessage(
        {"value": "pyexec"}, offer["agent_id"], encode_data(b"ping")
    )
    assert sched.messages.get(timeout=20) == encode_data(b"ping")

    framework.driver.killTask({"value": "e-sleep"})
    sched.wait_update("e-sleep", "TASK_KILLED")

    # A later task on a new offer reuses the running executor.
    offer = sched.next_offer()
    assert {"value": "pyexec"} in offer.get("executor_ids", [])
    framework.driver.launchTasks([offer["id"]], [executor_task(offer, "e-fail", "fail")], NO_FILTER)
    failed = sched.wait_update("e-fail", "TASK_FAILED")
    assert failed["message"] == "asked to fail"


def test_reconciliation_explicit_and_implicit(framework):
    sched = framework.scheduler
    offer = sched.next_offer()
    framework.driver.launchTasks(
        [offer["id"]], [command_task(offer, "r1", "sleep 1000")], NO_FILTER
    )
    sched.wait_update("r1", "TASK_RUNNING")

    framework.driver.reconcileTasks([{"task_id": {"value": "r1"}}, {"task_id": {"value": "ghost"}}])
    known = sched.wait_update("r1", "TASK_RUNNING")
    assert known["reason"] == "REASON_RECONCILIATION" and "uuid" not in known
    unknown = sched.wait_update("ghost", "TASK_LOST")
    assert unknown["source"] == "SOURCE_MASTER"

    framework.driver.reconcileTasks([])
    assert sched.wait_update("r1", "TASK_RUNNING")["reason"] == "REASON_RECONCILIATION"
    framework.driver.killTask({"value": "r1"})
    sched.wait_update("r1", "TASK_KILLED")


def test_declined_offers_stay_filtered_until_revive(framework, cluster):
    sched = framework.scheduler
    offer = sched.next_offer()
    framework.driver.declineOffer([offer["id"]], {"refuse_seconds": 3600})
    # Several allocation rounds pass (1 s in local mode, 100 ms otherwise) without a new offer.
    assert sched.no_offer_within(3.0)
    framework.driver.reviveOffers()
    again = sched.next_offer(timeout=10)
    assert again["agent_id"] == offer["agent_id"]


def test_short_filters_expire_on_their_own(framework):
    sched = framework.scheduler
    offer = sched.next_offer()
    framework.driver.declineOffer([offer["id"]], {"refuse_seconds": 1})
    declined_at = time.monotonic()
    sched.next_offer(timeout=10)
    assert time.monotonic() - declined_at >= 0.9


def test_resubscribe_with_same_framework_id_after_scheduler_restart(cluster, tmp_path):
    first = subprocess.Popen(
        [sys.executable, str(SCHEDULER_PROCESS), cluster.address, "survivor"],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
    )
    try:
        report = json.loads(first.stdout.readline())
        assert report["state"] == "TASK_RUNNING"
    finally:
        first.kill()
        first.wait()
    framework_id = report["framework_id"]

    def disconnected():
        frameworks = get_json(cluster.address, "/master/frameworks")["frameworks"]
        return [f for f in frameworks if f["id"] == framework_id and not f["connected"]]

    wait_for(disconnected, what="the killed scheduler to be seen as disconnected")

    second = PymesosFramework(cluster.address, id={"value": framework_id}, failover_timeout=3600)
    try:
        assert second.framework_id == ("reregistered", framework_id)
        second.driver.reconcileTasks([{"task_id": {"value": "survivor"}}])
        assert second.scheduler.wait_update("survivor", "TASK_RUNNING")["reason"] == (
            "REASON_RECONCILIATION"
        )
        frameworks = get_json(cluster.address, "/master/frameworks")["frameworks"]
        (entry,) = [f for f in frameworks if f["id"] == framework_id]
        assert entry["active"] and [t["id"] for t in entry["tasks"]] == ["survivor"]
        second.driver.killTask({"value": "survivor"})
        second.scheduler.wait_update("survivor", "TASK_KILLED")
    finally:
        second.stop()
