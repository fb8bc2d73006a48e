"""Real mesos-py processes on loopback for integration tests and benchmarks."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

MESOS_PY = [sys.executable, "-m", "mesos_py.cli"]

# Short timers so that failures surface in seconds, not Mesos' production minutes.
FAST_AGENT_FLAGS = [
    "--registration_backoff_factor=100ms",
    "--status_update_retry_interval_min=500ms",
]
FAST_MASTER_FLAGS = ["--allocation_interval=100ms"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(predicate: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = predicate()
        except (OSError, http.client.HTTPException, ValueError):
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


def get_json(address: str, path: str) -> Any:
    host, port = address.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise ValueError(f"GET {path}: {response.status} {body[:200]!r}")
        return json.loads(body)
    finally:
        connection.close()


def wait_active_agents(state: Callable[[], dict], count: int, timeout: float = 30.0) -> list[dict]:
    """Wait until the master's ``state()`` lists ``count`` active agents; returns them."""

    def registered() -> list[dict] | None:
        slaves = [s for s in state()["slaves"] if s["active"]]
        return slaves if len(slaves) >= count else None

    return wait_for(registered, timeout, what=f"{count} agent(s) to register")


def healthy(address: str) -> bool:
    host, port = address.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        connection.request("GET", "/health")
        return connection.getresponse().status == 200
    finally:
        connection.close()


class Daemon:
    """One mesos-py process in its own process group, logging to a file."""

    def __init__(self, argv: list[str], log_path: Path) -> None:
        self.argv = argv
        # An agent stopped with SIGTERM leaves its tasks running (for the next agent to
        # recover); tests end theirs with SIGUSR1 so that no task outlives its test.
        self.stop_signal = signal.SIGUSR1 if argv[0] == "agent" else signal.SIGTERM
        self.log_path = log_path
        self.log = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            MESOS_PY + argv,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.alive():
            os.killpg(self.process.pid, sig)
            self.process.wait(timeout=20)

    def stop(self) -> None:
        if self.alive():
            self.kill(self.stop_signal)
        self.log.close()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


class Cluster:
    """A master and agents, either as one ``mesos-py local`` process or as separate ones."""

    def __init__(
        self,
        work_dir: Path,
        mode: str,
        agents: int = 1,
        agent_resources: str = "cpus:4;mem:4096;disk:4096;ports:[31000-32000]",
        master_flags: list[str] | None = None,
        agent_flags: list[str] | None = None,
    ) -> None:
        self.work_dir = work_dir
        self.mode = mode
        self.agent_count = agents
        self.agent_resources = agent_resources
        self.master_flags = FAST_MASTER_FLAGS + (master_flags or [])
        self.agent_flags = FAST_AGENT_FLAGS if agent_flags is None else agent_flags
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.master: Daemon | None = None
        self.agents: list[Daemon] = []

    def start(self) -> Cluster:
        if self.mode == "local":
            self.master = Daemon(
                [
                    "local",
                    "--agents",
                    str(self.agent_count),
                    "--port",
                    str(self.port),
                    "--work_dir",
                    str(self.work_dir),
                    "--agent_resources",
                    self.agent_resources,
                ],
                self.work_dir.with_suffix(".local.log"),
            )
        else:
            self.master = Daemon(
                ["master", "--ip=127.0.0.1", f"--port={self.port}", *self.master_flags],
                self.work_dir.with_suffix(".master.log"),
            )
            wait_for(lambda: healthy(self.address), what="master to serve /health")
            for index in range(self.agent_count):
                self.start_agent(index)
        if self.agent_count:
            self.wait_agents(self.agent_count)
        return self

    def restart_master(self) -> None:
        """Kill the master outright and start a new one on the same address."""
        self.master.kill()
        self.master.stop()
        self.master = Daemon(self.master.argv, self.master.log_path)
        wait_for(lambda: healthy(self.address), what="the new master to serve /health")

    def start_agent(self, index: int, extra: list[str] | None = None) -> Daemon:
        work_dir = self.work_dir / f"agent-{index}"
        agent = Daemon(
            [
                "agent",
                f"--master={self.address}",
                "--ip=127.0.0.1",
                f"--port={free_port()}",
                f"--work_dir={work_dir}",
                f"--resources={self.agent_resources}",
                *self.agent_flags,
                *(extra or []),
            ],
            self.work_dir.with_suffix(f".agent-{index}.log"),
        )
        self.agents.append(agent)
        return agent

    def restart_agent(self, index: int, sig: int = signal.SIGKILL) -> Daemon:
        """Kill an agent process (only it: its tasks have their own sessions) and rerun it."""
        old = self.agents[index]
        old.kill(sig)
        old.log.close()
        self.agents[index] = Daemon(old.argv, old.log_path)
        return self.agents[index]

    def agent_address(self, index: int) -> str:
        port = next(a for a in self.agents[index].argv if a.startswith("--port="))
        return f"127.0.0.1:{port.split('=', 1)[1]}"

    def state(self) -> dict:
        return get_json(self.address, "/master/state")

    def wait_agents(self, count: int, timeout: float = 30.0) -> list[dict]:
        return wait_active_agents(self.state, count, timeout)

    def logs(self) -> str:
        daemons = [d for d in [self.master, *self.agents] if d is not None]
        return "\n".join(f"--- {d.argv[0]} ---\n{d.output()[-4000:]}" for d in daemons)

    def stop(self) -> None:
        for daemon in reversed([d for d in [self.master, *self.agents] if d is not None]):
            daemon.stop()


@contextlib.contextmanager
def running_cluster(work_dir: Path, mode: str, **kwargs: Any) -> Iterator[Cluster]:
    cluster = Cluster(work_dir, mode, **kwargs)
    try:
        cluster.start()
        yield cluster
    except BaseException:
        print(cluster.logs(), file=sys.stderr)
        raise
    finally:
        cluster.stop()


class RawScheduler:
    """A bare-bones v1 scheduler over http.client, for poking at the wire directly."""

    def __init__(self, address: str, framework_info: dict | None = None, **call: Any) -> None:

        self.address = address
        host, port = address.split(":")
        self.connection = http.client.HTTPConnection(host, int(port), timeout=20)
        info = framework_info or {"user": "root", "name": "raw"}
        body = {"type": "SUBSCRIBE", "subscribe": {"framework_info": info}, **call}
        self.connection.request(
            "POST",
            "/api/v1/scheduler",
            json.dumps(body),
            {"Content-Type": "application/json", "Accept": "application/json"},
        )
        self.response = self.connection.getresponse()
        self.stream_id = self.response.getheader("Mesos-Stream-Id")
        # A reader thread feeds a queue, so that waiting for an event can time out
        # without touching the socket (a timed-out socket file cannot be read again).
        self._events: queue.Queue = queue.Queue()
        self._pending: list[dict] = []
        self.framework_id = None
        if self.response.status == 200:
            threading.Thread(target=self._read, daemon=True).start()
            first = self.next_event()
            if first["type"] == "SUBSCRIBED":
                self.framework_id = first["subscribed"]["framework_id"]["value"]
            else:  # e.g. ERROR for a refused subscription: leave it for the test to read
                self._pending.insert(0, first)

    def _read(self) -> None:
        from mesos_py.common.recordio import Decoder

        decoder = Decoder()
        try:
            while chunk := self.response.read1(65536):
                for event in decoder.feed_json(chunk):
                    self._events.put(event)
        except Exception:  # closed under us: http.client then fails in many ways
            pass
        self._events.put(None)  # the stream ended

    def next_event(self, wanted: str | None = None, timeout: float = 20.0) -> dict:
        """The next event (of type ``wanted``, skipping others and heartbeats)."""
        deadline = time.monotonic() + timeout
        while True:
            if self._pending:
                event = self._pending.pop(0)
            else:
                try:
                    event = self._events.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    raise TimeoutError(f"no {wanted or 'event'} within {timeout}s") from None
            if event is None:
                self._events.put(None)
                raise EOFError("event stream closed")
            if event["type"] == "HEARTBEAT" and wanted != "HEARTBEAT":
                continue
            if wanted is None or event["type"] == wanted:
                return event

    def post(self, call: dict | bytes, headers: dict | None = None, stream_id: bool = True):
        """POST a call on a fresh connection; returns (status, body bytes)."""
        host, port = self.address.split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=20)
        all_headers = {"Content-Type": "application/json"}
        if stream_id and self.stream_id:
            all_headers["Mesos-Stream-Id"] = self.stream_id
        all_headers.update(headers or {})
        body = call if isinstance(call, bytes) else json.dumps(call).encode()
        try:
            connection.request("POST", "/api/v1/scheduler", body, all_headers)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def call(self, call_type: str, body: dict | None = None) -> tuple[int, bytes]:
        call: dict[str, Any] = {"type": call_type, "framework_id": {"value": self.framework_id}}
        if body is not None:
            call[call_type.lower()] = body
        return self.post(call)

    def close(self) -> None:
        """Drop the subscription as a dying framework would (FIN), waking the reader."""
        if self.connection.sock is not None:
            with contextlib.suppress(OSError):
                self.connection.sock.shutdown(socket.SHUT_RDWR)
        self.connection.close()
