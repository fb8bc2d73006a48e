"""Operator subcommands of ``mesos-py``: agents, frameworks, tasks, logs, leader, drain, undrain.

Plain blocking HTTP (these are one-shot commands, no reactor needed).  The
master is ``--master`` (or ``MESOS_MASTER``): ``host[:port]``, where a standby
redirects us to the leader, or ``zk://host:port,.../path``, where the leader
is read from ZooKeeper as agents and pymesos read it.

Exit codes (scripts may rely on them):

* 0: done;
* 1: the master answered, but no: unknown task or agent, a refused call, a missing file;
* 2: bad usage (argparse's code), including no master given;
* 3: the master (or the agent holding a sandbox) could not be reached, or no leader is elected.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import sys
import time
import urllib.parse
from collections.abc import Callable, Sequence
from http import HTTPStatus
from typing import Any

from mesos_py.common.protocol import TERMINAL_STATES
from mesos_py.common.zk_layout import decode_master_info, leader_child, master_address, parse_zk_url

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
TIMEOUT = 10.0
ZK_TIMEOUT = 5.0
MAX_REDIRECTS = 3
ZK_READ_ATTEMPTS = 3
READ_CHUNK = 1024 * 1024
FOLLOW_INTERVAL = 0.5


class CommandFailed(Exception):
    """The command cannot do what was asked; ``code`` is the exit code."""

    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code


def unreachable(message: str) -> CommandFailed:
    return CommandFailed(message, EXIT_UNREACHABLE)


# ------------------------------------------------------------------ HTTP


def _request(
    address: str, method: str, path: str, body: Any = None
) -> tuple[int, dict[str, str], bytes]:
    host, _, port = address.rpartition(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=TIMEOUT)
    headers = {"Accept": "application/json"}
    payload = None
    if body is not None:
        payload = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    try:
        connection.request(method, path, payload, headers)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    except (OSError, http.client.HTTPException) as exc:
        raise unreachable(f"cannot reach {address}: {exc}") from None
    finally:
        connection.close()


def _host_port(text: str) -> str:
    host, sep, port = text.rpartition(":")
    if not sep:
        return f"{text}:5050"
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise CommandFailed(f"--master={text}: expected host:port or zk://...", EXIT_USAGE)
    return text


def leader_from_zookeeper(url: str) -> str:
    """``ip:port`` of the leading master registered under a ``zk://`` URL."""
    from kazoo.client import KazooClient
    from kazoo.exceptions import KazooException, NoNodeError
    from kazoo.handlers.threading import KazooTimeoutError

    try:
        zk_url = parse_zk_url(url)
    except ValueError as exc:
        raise CommandFailed(f"--master: {exc}", EXIT_USAGE) from None
    client = KazooClient(hosts=zk_url.hosts, timeout=ZK_TIMEOUT)
    try:
        client.start(timeout=ZK_TIMEOUT)
        if zk_url.credentials:
            client.add_auth("digest", zk_url.credentials)
        for _ in range(ZK_READ_ATTEMPTS):  # the leader's node may vanish between the reads
            try:
                node = leader_child(client.get_children(zk_url.path))
                if node is None:
                    break
                data, _stat = client.get(zk_url.child(node))
            except NoNodeError:
                continue
            try:
                return master_address(decode_master_info(node, data))
            except ValueError as exc:
                raise unreachable(f"the leading master's node is unusable: {exc}") from None
        raise unreachable(f"no leading master registered in ZooKeeper at {url}")
    except (KazooTimeoutError, KazooException) as exc:
        raise unreachable(f"cannot reach ZooKeeper at {zk_url.hosts}: {exc!r}") from None
    finally:
        client.stop()
        client.close()


class Master:
    """The leading master: found once, then asked for JSON."""

    def __init__(self, spec: str) -> None:
        self.spec = spec
        self._address: str | None = None

    @property
    def address(self) -> str:
        if self._address is None:
            if self.spec.startswith("zk://"):
                self._address = leader_from_zookeeper(self.spec)
            else:
                self._address = _host_port(self.spec)
        return self._address

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
        """One request, following a standby's redirects to the leader."""
        for _ in range(MAX_REDIRECTS + 1):
            status, headers, payload = _request(self.address, method, path, body)
            if status != HTTPStatus.TEMPORARY_REDIRECT:
                break
            location = urllib.parse.urlsplit(headers.get("location", ""))
            self._address = _host_port(location.netloc)
        if status == HTTPStatus.SERVICE_UNAVAILABLE:
            raise unreachable(f"master {self.address}: {payload.decode(errors='replace')}")
        return status, payload

    def get(self, path: str) -> Any:
        status, payload = self.call("GET", path)
        if status != HTTPStatus.OK:
            raise CommandFailed(
                f"GET {path} on {self.address}: {status} {payload.decode(errors='replace')}"
            )
        return json.loads(payload)


# ---------------------------------------------------------------- output


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Left-aligned columns separated by two spaces."""
    cells = [[str(h) for h in headers], *[["" if c is None else str(c) for c in r] for r in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in cells
    )


def amount(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _emit(options: argparse.Namespace, data: Any, render: Callable[[], str]) -> None:
    print(json.dumps(data, indent=2) if options.json else render())


def _agent_status(agent: dict[str, Any]) -> str:
    """active, deactivated, disconnected, or draining / drained during a drain."""
    if "drain_info" in agent:
        return agent["drain_info"]["state"].lower()
    if agent["active"]:
        return "active"
    return "deactivated" if agent["deactivated"] else "disconnected"


def _agent_address(agent: dict[str, Any]) -> str:
    """``ip:port`` of an agent from its ``pid`` (``slave(1)@ip:port``)."""
    return agent["pid"].rpartition("@")[2]


# --------------------------------------------------------------- commands


def cmd_agents(master: Master, options: argparse.Namespace) -> int:
    agents = master.get("/master/state-summary")["slaves"]
    agents.sort(key=lambda a: (a["hostname"], a["id"]))

    def render() -> str:
        rows = []
        for a in agents:
            total, used = a["resources"], a["used_resources"]
            rows.append(
                [
                    a["id"],
                    a["hostname"],
                    _agent_address(a),
                    _agent_status(a),
                    f"{amount(used.get('cpus', 0))}/{amount(total.get('cpus', 0))}",
                    f"{amount(used.get('mem', 0))}/{amount(total.get('mem', 0))}",
                    a.get("TASK_RUNNING", 0),
                ]
            )
        headers = ["ID", "HOSTNAME", "ADDRESS", "STATUS", "CPUS", "MEM (MB)", "RUNNING"]
        return table(headers, rows)

    _emit(options, agents, render)
    return EXIT_OK


def cmd_frameworks(master: Master, options: argparse.Namespace) -> int:
    frameworks = master.get("/master/state-summary")["frameworks"]
    frameworks.sort(key=lambda f: (f["name"], f["id"]))

    def render() -> str:
        rows = [
            [
                f["id"],
                f["name"],
                "active" if f["active"] else "inactive",
                f.get("TASK_RUNNING", 0),
                amount(f["used_resources"].get("cpus", 0)),
                amount(f["used_resources"].get("mem", 0)),
                f.get("webui_url", ""),
            ]
            for f in frameworks
        ]
        return table(["ID", "NAME", "STATUS", "RUNNING", "CPUS", "MEM (MB)", "WEB UI"], rows)

    _emit(options, frameworks, render)
    return EXIT_OK


def _tasks(master: Master, **query: str) -> list[dict[str, Any]]:
    query = {"limit": "1000000", "order": "asc", **query}
    return master.get("/master/tasks?" + urllib.parse.urlencode(query))["tasks"]


def cmd_tasks(master: Master, options: argparse.Namespace) -> int:
    query = {"framework_id": options.framework} if options.framework else {}
    tasks = _tasks(master, **query)
    if options.state:
        wanted = options.state.upper()
        wanted = wanted if wanted.startswith("TASK_") else f"TASK_{wanted}"
        tasks = [t for t in tasks if t["state"] == wanted]
    elif not options.all:
        tasks = [t for t in tasks if t["state"] not in TERMINAL_STATES]
    if options.agent:
        tasks = [t for t in tasks if t["slave_id"] == options.agent]

    def render() -> str:
        rows = [
            [
                t["id"],
                t["name"],
                t["state"],
                t["framework_id"],
                t["slave_id"],
                amount(t["resources"].get("cpus", 0)),
                amount(t["resources"].get("mem", 0)),
            ]
            for t in tasks
        ]
        return table(["ID", "NAME", "STATE", "FRAMEWORK", "AGENT", "CPUS", "MEM (MB)"], rows)

    _emit(options, tasks, render)
    return EXIT_OK


def find_task(master: Master, task_id: str, framework_id: str | None) -> dict[str, Any]:
    query = {"task_id": task_id}
    if framework_id:
        query["framework_id"] = framework_id
    found = _tasks(master, **query)
    if not found:
        raise CommandFailed(f"no task '{task_id}' known to the master at {master.address}")
    if len({t["framework_id"] for t in found}) > 1:
        frameworks = ", ".join(sorted({t["framework_id"] for t in found}))
        raise CommandFailed(
            f"task '{task_id}' exists in several frameworks ({frameworks}): "
            "pick one with --framework"
        )
    return found[-1]


def cmd_logs(master: Master, options: argparse.Namespace) -> int:
    task = find_task(master, options.task, options.framework)
    agents = master.get("/master/slaves?slave_id=" + urllib.parse.quote(task["slave_id"]))
    if not agents["slaves"]:
        raise CommandFailed(f"task '{options.task}' ran on agent {task['slave_id']}, which is gone")
    agent = _agent_address(agents["slaves"][0])
    executor = task["executor_id"] or task["id"]
    name = "stderr" if options.stderr else "stdout"
    path = f"/frameworks/{task['framework_id']}/executors/{executor}/runs/latest/{name}"
    offset = 0
    next_check = time.monotonic()
    while True:
        offset, data = _read(agent, path, offset)
        if data:
            sys.stdout.write(data)
            sys.stdout.flush()
            continue  # there may be more right away
        if not options.follow:
            return EXIT_OK
        if time.monotonic() >= next_check:
            # Stop following once the task ended and everything was read.
            if find_task(master, task["id"], task["framework_id"])["state"] in TERMINAL_STATES:
                while data := _read(agent, path, offset)[1]:
                    offset += len(data.encode())
                    sys.stdout.write(data)
                return EXIT_OK
            next_check = time.monotonic() + 2.0
        time.sleep(FOLLOW_INTERVAL)


def _read(agent: str, path: str, offset: int) -> tuple[int, str]:
    query = urllib.parse.urlencode({"path": path, "offset": offset, "length": READ_CHUNK})
    status, _, payload = _request(agent, "GET", f"/files/read?{query}")
    if status == HTTPStatus.NOT_FOUND:
        raise CommandFailed(
            f"no {path.rsplit('/', 1)[1]} in the task's sandbox on {agent} "
            "(not created yet, or garbage-collected)"
        )
    if status != HTTPStatus.OK:
        raise CommandFailed(f"agent {agent}: {status} {payload.decode(errors='replace')}")
    data = json.loads(payload)["data"]
    return offset + len(data.encode()), data


def cmd_leader(master: Master, options: argparse.Namespace) -> int:
    address = master.address
    if not master.spec.startswith("zk://"):
        status, headers, payload = _request(address, "GET", "/master/redirect")
        if status == HTTPStatus.SERVICE_UNAVAILABLE:
            raise unreachable(f"master {address}: {payload.decode(errors='replace')}")
        address = urllib.parse.urlsplit(headers.get("location", "")).netloc or address
    _request(address, "GET", "/health")  # it must answer, too
    _emit(options, {"leader": address}, lambda: address)
    return EXIT_OK


def _operator_call(master: Master, call: dict[str, Any], done: str) -> int:
    status, payload = master.call("POST", "/api/v1", call)
    if status in (HTTPStatus.OK, HTTPStatus.ACCEPTED):
        print(done)
        return EXIT_OK
    if status in (HTTPStatus.NOT_FOUND, HTTPStatus.METHOD_NOT_ALLOWED):
        raise CommandFailed(f"the master at {master.address} has no operator API (POST /api/v1)")
    raise CommandFailed(
        f"{call['type']} refused by {master.address}: {status} "
        f"{payload.decode(errors='replace').strip()}"
    )


def cmd_drain(master: Master, options: argparse.Namespace) -> int:
    call = {"type": "DRAIN_AGENT", "drain_agent": {"agent_id": {"value": options.agent}}}
    return _operator_call(master, call, f"Draining agent {options.agent}")


def cmd_undrain(master: Master, options: argparse.Namespace) -> int:
    call = {"type": "REACTIVATE_AGENT", "reactivate_agent": {"agent_id": {"value": options.agent}}}
    return _operator_call(master, call, f"Reactivated agent {options.agent}")


COMMANDS: dict[str, tuple[Callable[[Master, argparse.Namespace], int], str]] = {
    "agents": (cmd_agents, "list the agents"),
    "frameworks": (cmd_frameworks, "list the frameworks"),
    "tasks": (cmd_tasks, "list tasks (live ones unless --all or --state)"),
    "logs": (cmd_logs, "print a task's stdout (or --stderr) from its sandbox"),
    "leader": (cmd_leader, "print the leading master's host:port"),
    "drain": (cmd_drain, "drain an agent (operator API DRAIN_AGENT)"),
    "undrain": (cmd_undrain, "reactivate a drained agent (operator API REACTIVATE_AGENT)"),
}


def add_operator_commands(commands: argparse._SubParsersAction) -> None:
    """Register every operator subcommand on ``mesos-py``'s subparsers."""
    epilog = "exit codes: 0 done, 1 refused or not found, 2 usage, 3 master unreachable"
    parsers = {}
    for name, (_run, help_text) in COMMANDS.items():
        parser = commands.add_parser(name, help=help_text, description=help_text, epilog=epilog)
        parser.add_argument(
            "--master",
            default=os.environ.get("MESOS_MASTER"),
            help="leading master: host[:port] or zk://host:port,.../path (default $MESOS_MASTER)",
        )
        parsers[name] = parser
    for name in ("agents", "frameworks", "tasks", "leader"):
        parsers[name].add_argument("--json", action="store_true", help="print JSON")
    tasks = parsers["tasks"]
    tasks.add_argument("--state", help="only tasks in this state (e.g. running, TASK_FAILED)")
    tasks.add_argument("--framework", help="only tasks of this framework ID")
    tasks.add_argument("--agent", help="only tasks on this agent ID")
    tasks.add_argument("--all", action="store_true", help="include completed tasks")
    logs = parsers["logs"]
    logs.add_argument("task", help="task ID")
    logs.add_argument("--framework", help="framework ID (when several have this task ID)")
    logs.add_argument("--stderr", action="store_true", help="print stderr instead of stdout")
    logs.add_argument(
        "--follow", "-f", action="store_true", help="keep printing until the task ends"
    )
    for name in ("drain", "undrain"):
        parsers[name].add_argument("agent", help="agent ID")


def operator_main(argv: Sequence[str]) -> int:
    """``mesos-py <operator command> ...`` (``argv`` without the program name)."""
    parser = argparse.ArgumentParser(prog="mesos-py")
    add_operator_commands(parser.add_subparsers(dest="subcommand", required=True))
    return run_operator_command(parser.parse_args(argv))


def run_operator_command(options: argparse.Namespace) -> int:
    if not options.master:
        print("error: no master: pass --master or set MESOS_MASTER", file=sys.stderr)
        return EXIT_USAGE
    run = COMMANDS[options.subcommand][0]
    try:
        return run(Master(options.master), options)
    except CommandFailed as failure:
        print(f"error: {failure}", file=sys.stderr)
        return failure.code
    except KeyboardInterrupt:
        return 130
