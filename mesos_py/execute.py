"""``mesos-py execute``: run one command task and print its states (like mesos-execute)."""

from __future__ import annotations

import argparse
import os
import sys
import uuid
from typing import Any

from twisted.internet import defer, task
from twisted.internet.error import ConnectError

from mesos_py.client.scheduler import SchedulerClient, SchedulerError
from mesos_py.common.protocol import TERMINAL_STATES, ident
from mesos_py.common.resources import ResourceError, Resources


def add_execute_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--master",
        default=os.environ.get("MESOS_MASTER"),
        help="leading master as HOST:PORT, or zk://host:port,.../path (default $MESOS_MASTER)",
    )
    parser.add_argument("--command", required=True, help="shell command to run")
    parser.add_argument("--name", default=None, help="task name (default: a generated one)")
    parser.add_argument("--resources", default="cpus:0.1;mem:32", help="task resources")
    parser.add_argument("--role", default="*", help="role to run the task under")
    parser.add_argument("--user", default=None, help="user to run the task as")
    parser.add_argument(
        "--framework_name", default="mesos-execute", help="name of the one-shot framework"
    )


def run_execute(options: argparse.Namespace) -> int:
    if not options.master:
        print("error: no master: pass --master or set MESOS_MASTER", file=sys.stderr)
        return 2
    if options.master.startswith("zk://"):
        from mesos_py.operator_cli import CommandFailed, leader_from_zookeeper

        try:
            options.master = leader_from_zookeeper(options.master)
        except CommandFailed as failure:
            print(f"error: {failure}", file=sys.stderr)
            return 1
    try:
        wanted = Resources.parse(options.resources)
    except ResourceError as exc:
        print(f"--resources: {exc}", file=sys.stderr)
        return 2
    task.react(_execute, (options, wanted))  # exits the process with _execute's SystemExit code
    return 1


@defer.inlineCallbacks
def _execute(reactor: Any, options: argparse.Namespace, wanted: Resources):
    import getpass

    task_id = options.name or f"execute-{uuid.uuid4().hex[:8]}"
    done: defer.Deferred = defer.Deferred()
    launched = False
    acknowledged: list[defer.Deferred] = []

    def on_event(event: dict[str, Any]) -> None:
        nonlocal launched
        kind = event["type"]
        if kind == "OFFERS":
            for offer in event["offers"]["offers"]:
                have = Resources.from_json(offer["resources"]).unallocated()
                if launched or not have.contains(wanted):
                    client.call("DECLINE", {"offer_ids": [offer["id"]]})
                    continue
                launched = True
                command: dict[str, Any] = {"shell": True, "value": options.command}
                if options.user:
                    command["user"] = options.user
                task_info = {
                    "name": task_id,
                    "task_id": ident(task_id),
                    "agent_id": offer["agent_id"],
                    "command": command,
                    "resources": wanted.allocated_to(offer["allocation_info"]["role"]).to_json(),
                }
                client.call(
                    "ACCEPT",
                    {
                        "offer_ids": [offer["id"]],
                        "operations": [{"type": "LAUNCH", "launch": {"task_infos": [task_info]}}],
                    },
                )
                print(f"Submitted task '{task_id}' to agent '{offer['agent_id']['value']}'")
        elif kind == "UPDATE":
            status = event["update"]["status"]
            line = f"Received status update {status['state']} for task '{task_id}'"
            if status.get("message"):
                line += f"\n  message: '{status['message']}'"
            print(line, flush=True)
            ack = client.acknowledge(status)
            if ack is not None:
                acknowledged.append(ack)
            if status["state"] in TERMINAL_STATES and not done.called:
                done.callback(status["state"])
        elif kind == "ERROR" and not done.called:
            done.errback(SchedulerError(event["error"]["message"]))

    framework = {
        "user": options.user or getpass.getuser(),
        "name": options.framework_name,
        "roles": [options.role],
        "capabilities": [{"type": "MULTI_ROLE"}],
    }
    client = SchedulerClient(reactor, options.master, framework, on_event, auto_acknowledge=False)
    try:
        yield client.subscribe()
        print(f"Subscribed with ID {client.framework_id}", flush=True)
        state = yield done
    except (SchedulerError, ConnectError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    yield defer.gatherResults(acknowledged)
    yield client.call("TEARDOWN").addErrback(lambda _: None)
    client.close()
    raise SystemExit(0 if state == "TASK_FINISHED" else 1)
