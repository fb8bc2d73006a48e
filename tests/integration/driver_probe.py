"""A framework built on mesos_py.framework.driver, run as its own process for tests.

Reads one JSON command per line on stdin and writes one JSON line per
scheduler callback on stdout:

    {"launch": {"task_id": "t", "command": "sleep 600"}}   on the next usable offer
    {"reconcile": []}                                       implicit reconciliation
    {"kill": "t"}
    {"stop": true}

Usage: python -m tests.integration.driver_probe MASTER [FRAMEWORK_ID]
"""

from __future__ import annotations

import json
import sys
import threading
from typing import Any

from twisted.internet import defer, reactor, task

from mesos_py.framework.driver import SchedulerDriver
from tests.integration.pymesos_support import command_task


def emit(**record: Any) -> None:
    print(json.dumps(record), flush=True)


class ProbeScheduler:
    def __init__(self) -> None:
        self.to_launch: list[dict] = []

    def subscribed(self, driver, framework_id, master_info) -> None:
        emit(event="subscribed", framework_id=framework_id, master=driver.master_address)

    def disconnected(self, driver) -> None:
        emit(event="disconnected")

    def offers(self, driver, offers) -> None:
        for offer in offers:
            if self.to_launch:
                wanted = self.to_launch.pop(0)
                info = command_task(offer, wanted["task_id"], wanted["command"])
                driver.launch([offer["id"]["value"]], [info])
            else:
                driver.decline([offer["id"]["value"]], refuse_seconds=1)

    def rescinded(self, driver, offer_id) -> None:
        emit(event="rescinded", offer_id=offer_id)

    def update(self, driver, status) -> defer.Deferred:
        emit(event="update", task_id=status["task_id"]["value"], state=status["state"])
        # Acknowledge only after "persisting": a delay stands for the write.
        return task.deferLater(reactor, 0.05, lambda: None)

    def failure(self, driver, failure) -> None:
        emit(event="failure", failure=failure)

    def error(self, driver, message) -> None:
        emit(event="error", message=message)


def main() -> None:
    master = sys.argv[1]
    info: dict[str, Any] = {
        "user": "root",
        "name": "driver-probe",
        "checkpoint": True,
        "failover_timeout": 3600,
    }
    if len(sys.argv) > 2:
        info["id"] = {"value": sys.argv[2]}
    scheduler = ProbeScheduler()
    driver = SchedulerDriver(reactor, master, info, scheduler, zk_session_timeout=4.0)

    def command(line: str) -> None:
        request = json.loads(line)
        if "launch" in request:
            scheduler.to_launch.append(request["launch"])
            driver.revive()
        elif "reconcile" in request:
            d = driver.reconcile([tuple(each) for each in request["reconcile"]])
            d.addErrback(lambda f: emit(event="call_failed", error=f.getErrorMessage()))
        elif "kill" in request:
            driver.kill(request["kill"])
        elif "stop" in request:
            driver.stopService().addBoth(lambda _: reactor.stop())

    def read_stdin() -> None:
        for line in sys.stdin:
            reactor.callFromThread(command, line)

    threading.Thread(target=read_stdin, daemon=True).start()
    driver.startService()
    reactor.run()


if __name__ == "__main__":
    main()
