"""Chronos instances (``mesos-py chronos`` processes) and the real chronos-python client.

chronos-python 1.2.1 works unpatched on Python 3.11.  One trap (see the
reference notes): a client made with ``scheduler_api_version=None`` appends
``"async"`` to the class-wide list of required fields, so every job dict here
carries ``"async": False``.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
from pathlib import Path
from typing import Any

import chronos

from tests.integration.harness import Daemon, free_port, wait_for

# Short timers so that tests take seconds.
FAST_CHRONOS_FLAGS = ["--failure_retry=500ms", "--zk_session_timeout=4secs"]


class ChronosInstance:
    def __init__(
        self, log_path: Path, master: str, zk: str | None, extra: list[str] | None = None
    ) -> None:
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        argv = [
            "chronos",
            f"--master={master}",
            f"--http_port={self.port}",
            "--http_address=127.0.0.1",
            "--hostname=127.0.0.1",
            *FAST_CHRONOS_FLAGS,
            *(extra or []),
        ]
        if zk is not None:
            argv.append(f"--zk={zk}")
        self.daemon = Daemon(argv, log_path)

    def client(self, api_version: str | None = "v1") -> chronos.ChronosClient:
        return chronos.connect(self.address, scheduler_api_version=api_version)

    def leader(self) -> str | None:
        """The leader this instance names (None while there is none)."""
        status, body = request(self.address, "GET", "/v1/scheduler/leader")
        return body["leader"] if status == 200 else None

    def wait_serving(self, timeout: float = 30.0) -> None:
        wait_for(
            lambda: request(self.address, "GET", "/v1/scheduler/jobs")[0] == 200,
            timeout,
            what=f"chronos at {self.address} to serve",
        )

    def stop(self) -> None:
        self.daemon.stop()


def request(address: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """One raw HTTP call; returns (status, parsed JSON or text or None)."""
    host, port = address.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if data is not None else {}
        connection.request(method, path, data, headers)
        response = connection.getresponse()
        raw = response.read()
        if not raw:
            return response.status, None
        if response.getheader("content-type", "").startswith("application/json"):
            return response.status, json.loads(raw)
        return response.status, raw.decode()
    finally:
        connection.close()


def iso(instant: dt.datetime) -> str:
    return instant.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def in_seconds(seconds: float) -> dt.datetime:
    """A whole-second instant ``seconds`` or a little more from now."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    return now + dt.timedelta(seconds=seconds + 1)


def job(
    name: str,
    command: str,
    schedule: str | None = None,
    parents: list[str] | None = None,
    **extra: Any,
) -> dict:
    body: dict[str, Any] = {
        "name": name,
        "command": command,
        "owner": "tests@example.com",
        "disabled": False,
        "async": False,
        "cpus": 0.1,
        "mem": 32,
        "disk": 0,
        **extra,
    }
    if parents is not None:
        body["parents"] = parents
    else:
        body["schedule"] = schedule
    return body


def record_command(path: Path) -> str:
    """A command that appends its task id and start time (epoch seconds) to ``path``."""
    return f'echo "$mesos_task_id $(date +%s.%N)" >> {path}'


def read_records(path: Path) -> list[tuple[str, float]]:
    """(task id, start time) per run recorded by ``record_command``."""
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        task_id, started = line.split()
        rows.append((task_id, float(started)))
    return rows


def due_seconds(task_id: str) -> float:
    """The instant a task id ``ct:<dueMillis>:<attempt>:<job>:`` stands for."""
    return int(task_id.split(":")[1]) / 1000.0


def find(client: chronos.ChronosClient, name: str) -> dict | None:
    return next((j for j in client.list() if j["name"] == name), None)
