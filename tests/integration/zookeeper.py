"""A real ZooKeeper ensemble (Debian's package) on loopback, for HA tests and benchmarks.

Each server is a ``QuorumPeerMain`` java process with its own config and data
directory, in its own process group so a test can kill it outright.  Tests
skip (saying why) only when java or the ZooKeeper jar is missing.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from twisted.trial import unittest

ZOOKEEPER_JAR = Path("/usr/share/java/zookeeper.jar")
CONF_DIR = Path("/etc/zookeeper/conf")  # log configuration only


def missing_reason() -> str | None:
    """Why an ensemble cannot start here, or None when it can."""
    if shutil.which("java") is None:
        return "java is not installed (scripts/install-system-deps.sh installs it)"
    if not ZOOKEEPER_JAR.exists():
        return f"{ZOOKEEPER_JAR} is missing (install the Debian 'zookeeper' package)"
    return None


def _free_ports(count: int) -> list[int]:
    probes = [socket.socket() for _ in range(count)]
    try:
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [p.getsockname()[1] for p in probes]
    finally:
        for probe in probes:
            probe.close()


def four_letter(port: int, word: bytes = b"ruok", timeout: float = 1.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(word)
        chunks = []
        while chunk := sock.recv(4096):
            chunks.append(chunk)
        return b"".join(chunks)


class Ensemble:
    """``size`` ZooKeeper servers forming one ensemble; ``hosts`` is the connect string."""

    def __init__(self, base: Path, size: int = 3, tick_ms: int = 500) -> None:
        self.base = base
        self.size = size
        ports = _free_ports(3 * size)
        self.client_ports = ports[:size]
        self.peer_ports = ports[size : 2 * size]
        self.election_ports = ports[2 * size :]
        self.processes: list[subprocess.Popen | None] = [None] * size
        servers = "\n".join(
            f"server.{i + 1}=127.0.0.1:{self.peer_ports[i]}:{self.election_ports[i]}"
            for i in range(size)
        )
        for i in range(size):
            data = base / f"zk{i + 1}"
            data.mkdir(parents=True, exist_ok=True)
            (data / "myid").write_text(f"{i + 1}\n")
            lines = [
                f"tickTime={tick_ms}",
                "initLimit=20",
                "syncLimit=10",
                f"dataDir={data}",
                f"clientPort={self.client_ports[i]}",
                "clientPortAddress=127.0.0.1",
                "4lw.commands.whitelist=*",
                "admin.enableServer=false",
                # Let tests use sessions as short as 2 s (min is 2 ticks by default).
                "minSessionTimeout=1000",
                "maxSessionTimeout=60000",
            ]
            if size > 1:
                lines.append(servers)
            (data / "zoo.cfg").write_text("\n".join(lines) + "\n")

    @property
    def hosts(self) -> str:
        return ",".join(f"127.0.0.1:{p}" for p in self.client_ports)

    def url(self, path: str) -> str:
        return f"zk://{self.hosts}{path}"

    def start(self, index: int | None = None) -> None:
        for i in range(self.size) if index is None else [index]:
            if self.processes[i] is not None and self.processes[i].poll() is None:
                continue
            data = self.base / f"zk{i + 1}"
            log = open(data / "server.log", "ab")  # noqa: SIM115 - the child keeps it
            self.processes[i] = subprocess.Popen(
                [
                    "java",
                    "-Xmx256m",
                    f"-Dzookeeper.log.dir={data}",
                    "-cp",
                    f"{CONF_DIR}:{ZOOKEEPER_JAR}",
                    "org.apache.zookeeper.server.quorum.QuorumPeerMain",
                    str(data / "zoo.cfg"),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            log.close()

    def serving(self, index: int) -> bool:
        """The server answers and is part of a quorum (leader, follower or standalone)."""
        try:
            return b"Mode:" in four_letter(self.client_ports[index], b"srvr")
        except OSError:
            return False

    def wait_serving(self, count: int | None = None, timeout: float = 60.0) -> None:
        wanted = self.size if count is None else count
        deadline = time.monotonic() + timeout
        while sum(self.serving(i) for i in range(self.size)) < wanted:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"ZooKeeper: fewer than {wanted} servers serving\n" + self.logs()
                )
            time.sleep(0.1)

    def kill(self, index: int) -> None:
        process = self.processes[index]
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=20)
        self.processes[index] = None

    def stop(self) -> None:
        for i in range(self.size):
            self.kill(i)

    def logs(self) -> str:
        parts = []
        for i in range(self.size):
            log = self.base / f"zk{i + 1}" / "server.log"
            if log.exists():
                parts.append(f"--- zk{i + 1} ---\n" + log.read_text(errors="replace")[-3000:])
        return "\n".join(parts)


class EnsembleTestCase(unittest.TestCase):
    """Trial tests against one real ZooKeeper server, started once per class."""

    timeout = 120
    ensemble: Ensemble

    @classmethod
    def setUpClass(cls) -> None:
        cls.ensemble = Ensemble(Path(tempfile.mkdtemp(prefix="zk-trial-")), size=1)
        cls.ensemble.start()
        cls.ensemble.wait_serving()

    @classmethod
    def tearDownClass(cls) -> None:
        cls.ensemble.stop()
        shutil.rmtree(cls.ensemble.base, ignore_errors=True)
