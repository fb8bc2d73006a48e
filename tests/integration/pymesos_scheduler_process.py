"""A pymesos scheduler in its own process: launches one long task, reports, then idles.

Usage: pymesos_scheduler_process.py MASTER TASK_ID.  Prints one JSON line
``{"framework_id", "state"}`` once the task runs; the test then kills it.
"""

import json
import sys
import threading

from pymesos import MesosSchedulerDriver, Scheduler

from tests.integration.pymesos_support import command_task, framework_info


class LaunchOnce(Scheduler):
    def __init__(self, task_id):
        self.task_id = task_id
        self.framework_id = None
        self.launched = False

    def registered(self, driver, framework_id, master_info):
        self.framework_id = framework_id["value"]

    def resourceOffers(self, driver, offers):
        for offer in offers:
            if self.launched:
                driver.declineOffer([offer["id"]], {"refuse_seconds": 3600})
                continue
            self.launched = True
            driver.launchTasks([offer["id"]], [command_task(offer, self.task_id, "sleep 1000")])

    def statusUpdate(self, driver, update):
        if update["task_id"]["value"] == self.task_id and update["state"] == "TASK_RUNNING":
            print(
                json.dumps({"framework_id": self.framework_id, "state": update["state"]}),
                flush=True,
            )


if __name__ == "__main__":
    master, task_id = sys.argv[1:3]
    driver = MesosSchedulerDriver(
        LaunchOnce(task_id), framework_info(failover_timeout=3600), master, use_addict=False
    )
    driver.start()
    threading.Event().wait()
