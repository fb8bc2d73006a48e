"""The unmodified pymesos scheduler driver, recording what it is told."""

from __future__ import annotations

import getpass
import queue
import socket
import sys
import time
from pathlib import Path
from typing import Any

from pymesos import MesosSchedulerDriver, Scheduler, encode_data

EXECUTOR_SCRIPT = Path(__file__).with_name("pymesos_executor.py")


def scalar(name: str, value: float) -> dict:
    return {"name": name, "type": "SCALAR", "scalar": {"value": value}}


def command_task(
    offer: dict, task_id: str, command: str, cpus: float = 0.1, mem: float = 32, **extra: Any
) -> dict:
    return {
        "name": task_id,
        "task_id": {"value": task_id},
        "agent_id": offer["agent_id"],
        "command": {"value": command},
        "resources": [scalar("cpus", cpus), scalar("mem", mem)],
        **extra,
    }


def executor_task(offer: dict, task_id: str, mode: str, executor_id: str = "pyexec") -> dict:
    """A task for the pymesos test executor; ``mode`` says what the executor does with it."""
    return {
        "name": task_id,
        "task_id": {"value": task_id},
        "agent_id": offer["agent_id"],
        "data": encode_data(mode.encode()),
        "executor": {
            "executor_id": {"value": executor_id},
            "name": "pymesos test executor",
            "command": {"value": f"{sys.executable} {EXECUTOR_SCRIPT}"},
            "resources": [scalar("cpus", 0.1), scalar("mem", 32)],
        },
        "resources": [scalar("cpus", 0.1), scalar("mem", 32)],
    }


def framework_info(name: str = "pymesos-test", **extra: Any) -> dict:
    return {"user": getpass.getuser(), "name": name, "hostname": socket.gethostname(), **extra}


class RecordingScheduler(Scheduler):
    """Queues every callback so a test can wait for what it expects."""

    def __init__(self) -> None:
        self.registrations: queue.Queue = queue.Queue()
        self.offers: queue.Queue = queue.Queue()
        self.updates: queue.Queue = queue.Queue()
        self.messages: queue.Queue = queue.Queue()
        self.executors_lost: queue.Queue = queue.Queue()
        self.errors: list[str] = []
        self.seen: list[dict] = []

    def registered(self, driver, framework_id, master_info):
        self.registrations.put(framework_id["value"])

    def reregistered(self, driver, master_info):
        # pymesos reports a re-subscription with a known ID this way; record the ID it kept.
        self.registrations.put(("reregistered", driver.framework_id))

    def resourceOffers(self, driver, offers):
        for offer in offers:
            self.offers.put(offer)

    def statusUpdate(self, driver, update):
        self.updates.put(update)

    def frameworkMessage(self, driver, executor_id, agent_id, data):
        self.messages.put(data)

    def executorLost(self, driver, executor_id, agent_id, status):
        self.executors_lost.put((executor_id["value"], status))

    def error(self, driver, message):
        self.errors.append(message)

    def next_offer(self, timeout: float = 20.0) -> dict:
        return self.offers.get(timeout=timeout)

    def no_offer_within(self, seconds: float) -> bool:
        try:
            self.offers.get(timeout=seconds)
        except queue.Empty:
            return True
        return False

    def wait_update(self, task_id: str, state: str, timeout: float = 30.0) -> dict:
        """The first update for ``task_id`` in ``state`` (earlier ones stay in ``seen``)."""
        for update in self.seen:
            if update["task_id"]["value"] == task_id and update["state"] == state:
                self.seen.remove(update)
                return update
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                states = [(u["task_id"]["value"], u["state"]) for u in self.seen]
                raise TimeoutError(f"no {state} for {task_id}; seen {states}")
            try:
                update = self.updates.get(timeout=remaining)
            except queue.Empty:
                continue
            if update["task_id"]["value"] == task_id and update["state"] == state:
                return update
            self.seen.append(update)

    def states_of(self, task_id: str) -> list[str]:
        while True:
            try:
                self.seen.append(self.updates.get_nowait())
            except queue.Empty:
                break
        return [u["state"] for u in self.seen if u["task_id"]["value"] == task_id]


class PymesosFramework:
    """A running MesosSchedulerDriver plus its recording scheduler."""

    def __init__(self, master: str, **info: Any) -> None:
        self.scheduler = RecordingScheduler()
        self.driver = MesosSchedulerDriver(
            self.scheduler, framework_info(**info), master, use_addict=False
        )
        self.driver.start()
        self.framework_id = self.scheduler.registrations.get(timeout=20)

    def stop(self, failover: bool = False) -> None:
        self.driver.stop(failover=failover)
        self.driver.join()
