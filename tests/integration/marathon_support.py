"""``mesos-py marathon`` processes and the real ``marathon`` client, for tests and benchmarks."""

from __future__ import annotations

import collections
import collections.abc
import http.client
import json
from pathlib import Path
from typing import Any

from tests.integration.harness import Daemon, free_port, wait_for

# marathon 0.13.0 still uses collections.Iterable, gone since Python 3.10.
collections.Iterable = collections.abc.Iterable  # type: ignore[attr-defined]

from marathon import MarathonClient  # noqa: E402


class MarathonInstance:
    """One ``mesos-py marathon`` process on loopback."""

    def __init__(self, log_path: Path, master: str, zk: str | None = None, *extra: str) -> None:
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        argv = [
            "marathon",
            f"--master={master}",
            f"--http_port={self.port}",
            "--http_address=127.0.0.1",
            "--hostname=127.0.0.1",
            "--zk_session_timeout=4000",
            *extra,
        ]
        if zk:
            argv.append(f"--zk={zk}")
        self.daemon = Daemon(argv, log_path)
        self.client = MarathonClient(f"http://{self.address}", timeout=20)
        wait_for(self._pings, what=f"marathon on {self.address} to answer /ping")

    def _pings(self) -> bool:
        return request(self.address, "GET", "/ping")[0] == 200

    def info(self) -> dict:
        return request(self.address, "GET", "/v2/info")[1]

    def stop(self) -> None:
        self.daemon.stop()


def request(address: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """A raw HTTP call (no redirects followed); the body is parsed as JSON when it can be."""
    host, port = address.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=20)
    try:
        payload = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        connection.request(method, path, payload, headers)
        response = connection.getresponse()
        raw = response.read()
        try:
            return response.status, json.loads(raw)
        except ValueError:
            return response.status, raw
    finally:
        connection.close()


def wait_deployed(client: MarathonClient, app_id: str, running: int, timeout: float = 60.0):
    """Wait until the app has ``running`` running tasks and no deployment; returns the app."""

    def done() -> Any:
        app = client.get_app(app_id)
        return app if app.tasks_running == running and not app.deployments else None

    return wait_for(done, timeout, what=f"{app_id} to run {running} task(s)")


def running_task_ids(master_state: dict, framework_name: str = "marathon") -> set[str]:
    """The ids of the tasks the master knows as running, of one framework."""
    ids = set()
    for framework in master_state["frameworks"]:
        if framework["name"] == framework_name:
            ids |= {t["id"] for t in framework["tasks"] if t["state"] == "TASK_RUNNING"}
    return ids
