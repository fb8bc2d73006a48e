"""A custom executor on the unmodified pymesos MesosExecutorDriver.

Each task's data says what to do: ``finish``, ``fail``, or ``sleep`` (until
killed).  Framework messages are echoed back.
"""

from pymesos import Executor, MesosExecutorDriver, decode_data


class TestExecutor(Executor):
    def launchTask(self, driver, task):
        mode = decode_data(task["data"]).decode() if "data" in task else "finish"
        driver.sendStatusUpdate({"task_id": task["task_id"], "state": "TASK_RUNNING"})
        if mode == "finish":
            driver.sendStatusUpdate({"task_id": task["task_id"], "state": "TASK_FINISHED"})
        elif mode == "fail":
            driver.sendStatusUpdate(
                {"task_id": task["task_id"], "state": "TASK_FAILED", "message": "asked to fail"}
            )

    def killTask(self, driver, task_id):
        driver.sendStatusUpdate({"task_id": task_id, "state": "TASK_KILLED"})

    def frameworkMessage(self, driver, message):
        driver.sendFrameworkMessage(message)


if __name__ == "__main__":
    MesosExecutorDriver(TestExecutor(), use_addict=False).run()
