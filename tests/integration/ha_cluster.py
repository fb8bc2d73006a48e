"""Several masters on a ZooKeeper ensemble, agents following them through zk://.

A small supervisor thread plays systemd's ``Restart=always``: a master that
exits (a leader that lost its ZooKeeper session exits on purpose) is started
again, and its exit codes are kept for the tests to check.
"""

from __future__ import annotations

import contextlib
import http.client
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from tests.integration.harness import (
    FAST_AGENT_FLAGS,
    FAST_MASTER_FLAGS,
    Daemon,
    free_port,
    get_json,
    wait_active_agents,
    wait_for,
)
from tests.integration.zookeeper import Ensemble


def redirect_target(address: str) -> str | None:
    """Where ``/master/redirect`` on ``address`` points (host:port), None on 503."""
    host, port = address.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        connection.request("GET", "/master/redirect")
        response = connection.getresponse()
        response.read()
        if response.status != 307:
            return None
        return response.getheader("Location").lstrip("/")
    finally:
        connection.close()


class HACluster:
    def __init__(
        self,
        work_dir: Path,
        ensemble: Ensemble,
        masters: int = 3,
        agents: int = 2,
        session_timeout: str = "4secs",
        master_flags: list[str] | None = None,
        agent_flags: list[str] | None = None,
        agent_resources: str = "cpus:4;mem:4096;disk:4096;ports:[31000-32000]",
        credentials: str | None = None,
    ) -> None:
        self.work_dir = work_dir
        self.ensemble = ensemble
        self.path = f"/mesos-{uuid.uuid4().hex[:8]}"
        # Masters write with the credentials; agents and frameworks only read.
        self.zk_url = f"zk://{ensemble.hosts}{self.path}"
        self.masters_zk_url = self.zk_url
        if credentials:
            # As an operator would: in a file only its owner reads, named by --zk=file://.
            work_dir.mkdir(parents=True, exist_ok=True)
            secret = work_dir / "zk-url"
            secret.write_text(f"zk://{credentials}@{ensemble.hosts}{self.path}\n")
            secret.chmod(0o600)
            self.masters_zk_url = f"file://{secret}"
        self.session_timeout = session_timeout
        self.master_flags = [*FAST_MASTER_FLAGS, *(master_flags or [])]
        self.agent_flags = [*FAST_AGENT_FLAGS, *(agent_flags or [])]
        self.agent_resources = agent_resources
        self.master_ports = [free_port() for _ in range(masters)]
        self.masters: list[Daemon | None] = [None] * masters
        self.exit_codes: list[list[int]] = [[] for _ in range(masters)]
        self.agents: list[Daemon] = []
        self.agent_count = agents
        self._stopping = False
        self._supervisor = threading.Thread(target=self._supervise, daemon=True)

    @property
    def addresses(self) -> list[str]:
        return [f"127.0.0.1:{port}" for port in self.master_ports]

    # ------------------------------------------------------------- processes

    def _start_master(self, index: int) -> None:
        port = self.master_ports[index]
        self.masters[index] = Daemon(
            [
                "master",
                "--ip=127.0.0.1",
                f"--port={port}",
                f"--zk={self.masters_zk_url}",
                f"--zk_session_timeout={self.session_timeout}",
                f"--work_dir={self.work_dir / f'master-{index}'}",
                *self.master_flags,
            ],
            self.work_dir.with_name(f"{self.work_dir.name}.master-{index}.log"),
        )

    def _supervise(self) -> None:
        while not self._stopping:
            for index, daemon in enumerate(self.masters):
                if daemon is not None and not daemon.alive() and not self._stopping:
                    self.exit_codes[index].append(daemon.process.returncode)
                    daemon.log.close()
                    self._start_master(index)
            time.sleep(0.1)

    def start_agent(self, index: int, extra: list[str] | None = None) -> Daemon:
        agent = Daemon(
            [
                "agent",
                f"--master={self.zk_url}",
                "--ip=127.0.0.1",
                f"--port={free_port()}",
                f"--work_dir={self.work_dir / f'agent-{index}'}",
                f"--resources={self.agent_resources}",
                f"--zk_session_timeout={self.session_timeout}",
                *self.agent_flags,
                *(extra or []),
            ],
            self.work_dir.with_name(f"{self.work_dir.name}.agent-{index}.log"),
        )
        self.agents.append(agent)
        return agent

    def start(self) -> HACluster:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        for index in range(len(self.masters)):
            self._start_master(index)
        self._supervisor.start()
        self.wait_leader()
        for index in range(self.agent_count):
            self.start_agent(index)
        if self.agent_count:
            self.wait_agents(self.agent_count)
        return self

    def kill_master(self, index: int) -> None:
        """``kill -9``; the supervisor starts it again, as systemd would."""
        self.masters[index].kill()

    def stop(self) -> None:
        self._stopping = True
        if self._supervisor.is_alive():
            self._supervisor.join(timeout=5)
        for daemon in [*self.agents, *self.masters]:
            if daemon is not None:
                daemon.stop()

    # --------------------------------------------------------------- queries

    def leader_index(self, among: list[int] | None = None) -> int | None:
        """The master that every running master (of ``among``) names as leader, if they agree."""
        views = set()
        for index, address in enumerate(self.addresses):
            if among is not None and index not in among:
                continue
            try:
                views.add(redirect_target(address))
            except OSError:
                continue
        if len(views) != 1 or None in views:
            return None
        (leader,) = views
        if leader not in self.addresses:
            return None
        index = self.addresses.index(leader)
        # Elected and done recovering: it serves its own state.
        get_json(leader, "/master/state")
        return index

    def wait_leader(
        self, timeout: float = 30.0, other_than: int | None = None, among: list[int] | None = None
    ) -> int:
        def found() -> int | None:
            index = self.leader_index(among)
            return None if index is None or index == other_than else index + 1

        return wait_for(found, timeout, what="one leader all masters agree on") - 1

    @property
    def leader(self) -> str:
        return self.addresses[self.wait_leader()]

    def state(self) -> dict:
        return get_json(self.leader, "/master/state")

    def wait_agents(self, count: int, timeout: float = 30.0) -> list[dict]:
        return wait_active_agents(self.state, count, timeout)

    def logs(self) -> str:
        daemons = [d for d in [*self.masters, *self.agents] if d is not None]
        return "\n".join(f"--- {d.log_path.name} ---\n{d.output()[-5000:]}" for d in daemons)


@contextlib.contextmanager
def running_ha_cluster(work_dir: Path, ensemble: Ensemble, **options) -> Iterator[HACluster]:
    """An started HACluster, stopped afterwards; its logs are printed when the test fails."""
    cluster = HACluster(work_dir, ensemble, **options)
    try:
        cluster.start()
        yield cluster
    except BaseException:
        print(cluster.logs())
        raise
    finally:
        cluster.stop()
