"""Shared pieces of the agent tests: a scripted master, a stdlib executor, polling.

The fake master stands in for the master side of docs/agent-protocol.md so the
agent's reactions can be driven and observed event by event; the agent, its
HTTP server, its processes and the executor are all real.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import sys
import tempfile
import uuid

from twisted.internet import defer, reactor, task
from twisted.web import resource, server

from mesos_py.agent.service import add_agent_arguments, make_agent_service
from mesos_py.common.http import EventStream, make_site

# A custom executor using only the standard library.  It logs every event to
# ./events; a task's base64 ``data`` says what to do: "finish" (RUNNING then
# FINISHED), "exitN" (RUNNING then exit N), anything else: RUNNING only.
EXECUTOR_SCRIPT = r"""
import base64, http.client, json, os, sys, time, uuid
host, port = os.environ["MESOS_AGENT_ENDPOINT"].rsplit(":", 1)
ids = {"framework_id": {"value": os.environ["MESOS_FRAMEWORK_ID"]},
       "executor_id": {"value": os.environ["MESOS_EXECUTOR_ID"]}}
events = open("events", "a")
def log(line):
    events.write(line + "\n"); events.flush()
def call(body):
    c = http.client.HTTPConnection(host, int(port), timeout=10)
    c.request("POST", "/api/v1/executor", json.dumps(dict(body, **ids)),
              {"Content-Type": "application/json"})
    r = c.getresponse(); r.read(); c.close()
    log(f"CALL {body['type']} {r.status}")
def update(task_id, state):
    call({"type": "UPDATE", "update": {"status": {
        "task_id": task_id, "state": state, "source": "SOURCE_EXECUTOR",
        "uuid": base64.b64encode(uuid.uuid4().bytes).decode(), "timestamp": time.time()}}})
def started(task):
    update(task["task_id"], "TASK_RUNNING")
    action = base64.b64decode(task.get("data", "")).decode()
    if action == "finish":
        update(task["task_id"], "TASK_FINISHED")
    elif action.startswith("exit"):
        sys.exit(int(action[4:] or 0))
log("ENV " + json.dumps({k: v for k, v in os.environ.items() if k.startswith("MESOS_")}))
log(f"PGID {os.getpgid(0)} PID {os.getpid()}")
conn = http.client.HTTPConnection(host, int(port))
conn.request("POST", "/api/v1/executor", json.dumps(dict({"type": "SUBSCRIBE",
    "subscribe": {"unacknowledged_tasks": [], "unacknowledged_updates": []}}, **ids)),
    {"Content-Type": "application/json", "Accept": "application/json"})
resp = conn.getresponse()
log(f"SUBSCRIBE {resp.status} {resp.getheader('Mesos-Stream-Id')} "
    f"{resp.getheader('Transfer-Encoding')}")
buf = b""
while True:
    chunk = resp.read1(65536)
    if not chunk:
        log("CLOSED")
        break
    buf += chunk
    while b"\n" in buf:
        size, rest = buf.split(b"\n", 1)
        if len(rest) < int(size):
            break
        event, buf = json.loads(rest[: int(size)]), rest[int(size):]
        log(json.dumps(event))
        kind = event["type"]
        if kind == "LAUNCH":
            started(event["launch"]["task"])
        elif kind == "LAUNCH_GROUP":
            for task in event["launch_group"]["task_group"]["tasks"]:
                started(task)
        elif kind == "KILL":
            update(event["kill"]["task_id"], "TASK_KILLED")
        elif kind == "MESSAGE":
            call({"type": "MESSAGE", "message": {"data": event["message"]["data"]}})
        elif kind == "SHUTDOWN":
            sys.exit(0)
"""


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@defer.inlineCallbacks
def wait_for(predicate, timeout=10.0, what="condition"):
    """Poll ``predicate`` on the real reactor until it returns something truthy."""
    for _ in range(int(timeout / 0.01)):
        value = predicate()
        if value:
            return value
        yield task.deferLater(reactor, 0.01, lambda: None)
    raise AssertionError(f"timed out waiting for {what}")


class FakeMaster(resource.Resource):
    """``/internal/agent`` scripted by the test: records calls, pushes events."""

    isLeaf = True

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[dict] = []
        self.stream_ids: list[str | None] = []
        self.links: list[EventStream] = []
        self.register_code: int | None = None  # answer REGISTER with this error
        self.ping_interval = 15.0
        self.auto_ack = False
        self.hold_calls = False  # leave non-REGISTER calls unanswered
        self.held: list[server.Request] = []
        self.next_id = 0

    @property
    def link(self) -> EventStream:
        return self.links[-1]

    def render_POST(self, request: server.Request):
        call = json.loads(request.content.read())
        self.calls.append(call)
        stream_id = request.getHeader(b"mesos-stream-id")
        self.stream_ids.append(stream_id.decode() if stream_id else None)
        if call["type"] == "REGISTER":
            if self.register_code is not None:
                request.setResponseCode(self.register_code)
                return b"refused by the test"
            link = EventStream(request, reactor, stream_id=str(uuid.uuid4()))
            self.links.append(link)
            agent_id = call.get("agent_id", {}).get("value")
            if agent_id is None:
                agent_id = f"M-S{self.next_id}"
                self.next_id += 1
            link.send(
                {
                    "type": "REGISTERED",
                    "registered": {
                        "agent_id": {"value": agent_id},
                        "master_info": {"id": "M", "ip": 16777343, "port": 5050},
                        "ping_interval_seconds": self.ping_interval,
                        "reregistered": "agent_id" in call,
                    },
                }
            )
            return server.NOT_DONE_YET
        if call["type"] == "UPDATE" and self.auto_ack:
            for update in call["update"]["updates"]:
                self.ack(update)
        if self.hold_calls:
            self.held.append(request)
            return server.NOT_DONE_YET
        request.setResponseCode(202)
        return b""

    def release(self) -> None:
        held, self.held = self.held, []
        for request in held:
            request.setResponseCode(202)
            request.finish()

    def send(self, event_type: str, body: dict | None = None) -> None:
        event = {"type": event_type}
        if body is not None:
            event[event_type.lower()] = body
        self.link.send(event)

    def ack(self, update: dict) -> None:
        status = update["status"]
        self.send(
            "ACKNOWLEDGE",
            {
                "framework_id": update["framework_id"],
                "task_id": status["task_id"],
                "uuid": status["uuid"],
            },
        )

    def of_type(self, call_type: str) -> list[dict]:
        return [c for c in self.calls if c["type"] == call_type]

    def updates(self) -> list[dict]:
        """Every status the agent sent, in order (re-sends included)."""
        return [u["status"] for c in self.of_type("UPDATE") for u in c["update"]["updates"]]

    def states(self, task_id: str) -> list[str]:
        return [s["state"] for s in self.updates() if s["task_id"]["value"] == task_id]


FRAMEWORK_INFO = {
    "id": {"value": "F1"},
    "user": "root",
    "name": "test",
    "capabilities": [{"type": "TASK_KILLING_STATE"}],
}


def command_task(task_id: str, command: dict, **extra) -> dict:
    task = {
        "name": task_id,
        "task_id": {"value": task_id},
        "agent_id": {"value": "M-S0"},
        "command": command,
        "resources": [
            {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}},
            {"name": "mem", "type": "SCALAR", "scalar": {"value": 32}},
        ],
    }
    task.update(extra)
    return task


class AgentHarness:
    """A real agent service on 127.0.0.1:0 talking to a FakeMaster on 127.0.0.1:0."""

    def __init__(self, testcase, *flags: str) -> None:
        self.work_dir = tempfile.mkdtemp(prefix="agent-test-")
        testcase.addCleanup(shutil.rmtree, self.work_dir, True)
        self.master = FakeMaster()
        self._master_port = reactor.listenTCP(0, make_site(self.master), interface="127.0.0.1")
        parser = argparse.ArgumentParser()
        add_agent_arguments(parser)
        argv = [
            "--master",
            f"127.0.0.1:{self._master_port.getHost().port}",
            "--ip",
            "127.0.0.1",
            "--port",
            "0",
            "--work_dir",
            self.work_dir,
            "--registration_backoff_factor",
            "10ms",
            "--resources",
            "cpus:4;mem:1024;disk:2048",
            *flags,
        ]
        self.service = make_agent_service(parser.parse_args(argv), reactor)
        self.agent = self.service.agent
        self.executor_script = os.path.join(self.work_dir, "executor.py")
        with open(self.executor_script, "w") as f:
            f.write(EXECUTOR_SCRIPT)
        self.service.startService()
        testcase.addCleanup(self.stop)

    @defer.inlineCallbacks
    def stop(self):
        if self.service.running:
            self.service.shut_down_on_stop = True  # no task outlives its test
            yield self.service.stopService()
        for link in self.master.links:
            link.close()
        self.master.release()
        yield self._master_port.stopListening()
        # let the closed connections' last events run
        yield task.deferLater(reactor, 0.05, lambda: None)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.service.port}"

    def registered(self):
        return wait_for(lambda: self.agent.link.registered, what="registration")

    def run_task(self, task: dict, framework_info: dict | None = None) -> None:
        self.master.send(
            "RUN_TASK", {"framework_info": framework_info or FRAMEWORK_INFO, "task": task}
        )

    def executor_task(self, task_id: str, data: str = "", executor_id: str = "E1", **extra):
        executor = {
            "executor_id": {"value": executor_id},
            "type": "CUSTOM",
            "command": {"value": f"exec {sys.executable} {self.executor_script}"},
        }
        executor.update(extra)
        task = command_task(task_id, {}, executor=executor, data=b64(data))
        del task["command"]
        return task

    def wait_states(self, task_id: str, *states: str, timeout: float = 10.0):
        return wait_for(
            lambda: (
                self.master.states(task_id)[: len(states)] == list(states)
                and self.master.states(task_id)
            ),
            timeout,
            what=f"{task_id} to go through {states} (got {self.master.states(task_id)})",
        )

    def sandbox(self, executor_id: str, framework_id: str = "F1") -> str:
        return os.path.join(
            self.work_dir,
            "slaves",
            "latest",
            "frameworks",
            framework_id,
            "executors",
            executor_id,
            "runs",
            "latest",
        )

    def executor_events(self, executor_id: str = "E1") -> list:
        path = os.path.join(self.sandbox(executor_id), "events")
        if not os.path.exists(path):
            return []
        with open(path) as f:
            return [json.loads(line) if line.startswith("{") else line.strip() for line in f]
