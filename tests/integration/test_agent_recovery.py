"""Agent restarts with checkpointing: kill -9 the agent, tasks live on, nothing is lost.

A pymesos framework (``checkpoint: True``) runs tasks that each block on
their own FIFO (opened read-write, so no writer's close ends the read) until
the test writes the exit code they should end with, so the test decides which
tasks end while the agent is down.
"""

from __future__ import annotations

import errno
import glob
import json
import os
import queue
import signal
import time

import pytest

from tests.integration.harness import FAST_AGENT_FLAGS, get_json, running_cluster, wait_for
from tests.integration.prometheus_support import scrape
from tests.integration.pymesos_support import PymesosFramework, command_task, executor_task

ACKS_RECEIVED = ("mesos_agent_status_update_ack_latency_seconds_count", ())

pytestmark = [pytest.mark.integration, pytest.mark.pymesos]

TERMINAL = {"TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_LOST", "TASK_ERROR"}


def release(fifo: str, code: int) -> None:
    """Tell a task to exit with ``code`` (its reader must be there: ENXIO otherwise)."""
    fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    try:
        os.write(fd, f"{code}\n".encode())
    finally:
        os.close(fd)


def reader_ready(fifo: str) -> bool:
    try:
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    except OSError as exc:
        if exc.errno == errno.ENXIO:
            return False
        raise
    return True


def exit_files(meta: str) -> set[str]:
    """Exit codes the wrappers recorded (``slaves/latest`` is a link: count each once)."""
    found = glob.glob(f"{meta}/**/exit.status", recursive=True)
    return {os.path.realpath(path) for path in found}


def gone(pid: int) -> bool:
    """No such process, or only its zombie (this machine's init may not reap)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


class Updates:
    """Every update the framework saw, by task."""

    def __init__(self, framework: PymesosFramework) -> None:
        self.source = framework.scheduler.updates
        self.by_task: dict[str, list[dict]] = {}

    def drain(self, timeout: float = 0.1) -> None:
        while True:
            try:
                update = self.source.get(timeout=timeout)
            except queue.Empty:
                return
            self.by_task.setdefault(update["task_id"]["value"], []).append(update)

    def terminal(self, task_id: str) -> list[dict]:
        return [u for u in self.by_task.get(task_id, []) if u["state"] in TERMINAL]

    def wait(self, predicate, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out waiting for {what}")
            self.drain()


def test_fifty_tasks_survive_a_killed_agent(tmp_path):
    fifos = tmp_path / "fifos"
    fifos.mkdir()
    count, ended_while_down = 50, 10
    with running_cluster(
        tmp_path / "c",
        "processes",
        agent_resources="cpus:8;mem:8192;disk:4096;ports:[31000-32000]",
        agent_flags=[*FAST_AGENT_FLAGS, "--recover=reconnect"],
    ) as cluster:
        framework = PymesosFramework(
            cluster.address, name="recovery", checkpoint=True, failover_timeout=3600.0
        )
        try:
            updates = Updates(framework)
            offer = framework.scheduler.next_offer()
            tasks = []
            for index in range(count):
                fifo = str(fifos / f"t{index}")
                os.mkfifo(fifo)
                tasks.append(
                    command_task(
                        offer,
                        f"t{index}",
                        f"exec 3<>{fifo}; read code <&3; exit $code",
                        cpus=0.05,
                        mem=32,
                    )
                )
            framework.driver.launchTasks([offer["id"]], tasks, {"refuse_seconds": 3600})
            updates.wait(
                lambda: all(
                    any(u["state"] == "TASK_RUNNING" for u in updates.by_task.get(f"t{i}", []))
                    for i in range(count)
                ),
                60,
                "50 TASK_RUNNING",
            )
            wait_for(lambda: all(reader_ready(str(fifos / f"t{i}")) for i in range(count)))

            cluster.agents[0].kill()  # SIGKILL: no chance to clean up
            expected = {}
            for index in range(ended_while_down):
                code = 0 if index % 2 == 0 else 3
                release(str(fifos / f"t{index}"), code)
                expected[f"t{index}"] = "TASK_FINISHED" if code == 0 else "TASK_FAILED"
            meta = str(tmp_path / "c" / "agent-0" / "meta")
            wait_for(
                lambda: len(exit_files(meta)) == ended_while_down,
                what="the tasks released while the agent is down to end",
            )

            started = time.monotonic()
            cluster.restart_agent(0)
            address = cluster.agent_address(0)
            wait_for(
                lambda: get_json(address, "/metrics/snapshot")["slave/registered"] == 1,
                timeout=10,
                what="the restarted agent to re-register",
            )
            reattach = time.monotonic() - started
            agent_state = get_json(address, "/state")
            print(f"re-registered {reattach:.2f}s after the restart")
            running = [
                t["id"]
                for f in agent_state["frameworks"]
                for e in f["executors"]
                for t in e["tasks"]
                if t["state"] == "TASK_RUNNING"
            ]
            assert len(running) == count - ended_while_down
            slaves = cluster.state()["slaves"]
            assert [s["id"] for s in slaves] == [offer["agent_id"]["value"]]

            updates.wait(
                lambda: all(updates.terminal(t) for t in expected),
                30,
                "the tasks that ended while the agent was down",
            )
            for index in range(ended_while_down, count):
                release(str(fifos / f"t{index}"), 0)
                expected[f"t{index}"] = "TASK_FINISHED"
            updates.wait(
                lambda: all(updates.terminal(t) for t in expected), 60, "every task to end"
            )
            updates.drain(timeout=1.0)  # anything re-sent late would show up here
            for task_id, state in expected.items():
                ends = {u["uuid"]: u["state"] for u in updates.terminal(task_id)}
                assert list(ends.values()) == [state], (task_id, updates.by_task[task_id])
            assert not glob.glob(f"{meta}/slaves/*/frameworks/*/executors/*")
        finally:
            framework.stop()


def test_recover_cleanup_kills_old_tasks_and_starts_afresh(tmp_path):
    with running_cluster(tmp_path / "c", "processes") as cluster:
        framework = PymesosFramework(
            cluster.address, name="cleanup", checkpoint=True, failover_timeout=3600.0
        )
        try:
            offer = framework.scheduler.next_offer()
            marker = tmp_path / "alive"
            framework.driver.launchTasks(
                [offer["id"]],
                [command_task(offer, "long", f"touch {marker}; exec sleep 1000")],
                {"refuse_seconds": 3600},
            )
            framework.scheduler.wait_update("long", "TASK_RUNNING")
            wait_for(marker.exists)
            meta = str(tmp_path / "c" / "agent-0" / "meta")
            (pid_file,) = {
                os.path.realpath(p) for p in glob.glob(f"{meta}/**/forked.pid", recursive=True)
            }
            with open(pid_file) as f:
                pid = json.load(f)["pid"]
            cluster.agents[0].kill()
            cluster.agents[0].argv.append("--recover=cleanup")
            cluster.restart_agent(0)
            wait_for(lambda: gone(pid), what="the old task to die")
            address = cluster.agent_address(0)
            wait_for(lambda: get_json(address, "/metrics/snapshot")["slave/registered"] == 1)
            new_id = get_json(address, "/state")["id"]
            assert new_id != offer["agent_id"]["value"]
        finally:
            framework.stop()


def test_a_pymesos_executor_reconnects_to_the_restarted_agent(tmp_path):
    flags = [*FAST_AGENT_FLAGS, "--executor_reregistration_timeout=30secs"]
    with running_cluster(tmp_path / "c", "processes", agent_flags=flags) as cluster:
        framework = PymesosFramework(
            cluster.address, name="executor", checkpoint=True, failover_timeout=3600.0
        )
        try:
            sched = framework.scheduler
            offer = sched.next_offer()
            framework.driver.launchTasks(
                [offer["id"]], [executor_task(offer, "e1", "sleep")], {"refuse_seconds": 3600}
            )
            sched.wait_update("e1", "TASK_RUNNING")
            cluster.restart_agent(0)
            address = cluster.agent_address(0)

            def resubscribed() -> bool:
                state = get_json(address, "/state")
                return (
                    any(
                        e["id"] == "pyexec" and e["tasks"]
                        for f in state["frameworks"]
                        for e in f["executors"]
                    )
                    and get_json(address, "/metrics/snapshot")["slave/executors_running"] == 1
                )

            wait_for(resubscribed, timeout=40, what="the executor to subscribe again")
            framework.driver.killTask({"value": "e1"})
            sched.wait_update("e1", "TASK_KILLED")
            assert "TASK_FAILED" not in sched.states_of("e1")
        finally:
            framework.stop()


def test_sigterm_leaves_tasks_to_the_next_agent_and_sigusr1_ends_them(tmp_path):
    """Mesos' signals: ``systemctl restart`` (SIGTERM) loses no task; SIGUSR1 shuts down."""
    with running_cluster(tmp_path / "c", "processes") as cluster:
        framework = PymesosFramework(
            cluster.address, name="signals", checkpoint=True, failover_timeout=3600.0
        )
        try:
            offer = framework.scheduler.next_offer()
            framework.driver.launchTasks(
                [offer["id"]], [command_task(offer, "long", "exec sleep 1000")]
            )
            framework.scheduler.wait_update("long", "TASK_RUNNING")
            # Updates are delivered at least once: an acknowledgement still on its way
            # when the agent stops makes the next agent send TASK_RUNNING again.
            wait_for(
                lambda: scrape(cluster.agent_address(0))[ACKS_RECEIVED] == 1,
                what="the agent to have the framework's acknowledgement",
            )
            meta = str(tmp_path / "c" / "agent-0" / "meta")
            (pid_file,) = {
                os.path.realpath(p) for p in glob.glob(f"{meta}/**/forked.pid", recursive=True)
            }
            with open(pid_file) as f:
                pid = json.load(f)["pid"]

            cluster.restart_agent(0, signal.SIGTERM)
            assert not gone(pid)
            address = cluster.agent_address(0)
            wait_for(lambda: get_json(address, "/metrics/snapshot")["slave/registered"] == 1)
            assert get_json(address, "/state")["id"] == offer["agent_id"]["value"]
            assert cluster.state()["frameworks"][0]["tasks"][0]["state"] == "TASK_RUNNING"
            assert framework.scheduler.states_of("long") == []  # no update since RUNNING

            cluster.agents[0].kill(signal.SIGUSR1)
            assert gone(pid)
            # The agent unregisters: a framework that is not partition-aware hears TASK_LOST.
            framework.scheduler.wait_update("long", "TASK_LOST")
            assert not glob.glob(f"{meta}/slaves/*")
        finally:
            framework.stop()
