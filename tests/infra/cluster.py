"""The deployed cluster as the infra tests see it: its inventory and small probes.

Everything here reads the Ansible inventory (the local machines' generated one, or any
other given in MESOS_PY_INVENTORY) and talks to the cluster from the control machine
over the cluster addresses, as an operator would.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message
from typing import Any, TypeVar

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LOCAL_INVENTORY = os.path.join(REPO, "inventory", "local", "hosts.yml")
INVENTORY = os.environ.get("MESOS_PY_INVENTORY", LOCAL_INVENTORY)
# Set by `make infra-test`: a missing cluster is then an error, never a skip.
REQUIRED = os.environ.get("MESOS_PY_INFRA") == "required"

ZOOKEEPER_PORT = 2181
ZOOKEEPER_ELECTION_PORT = 3888
MASTER_PORT = 5050
AGENT_PORT = 5051
MARATHON_PORT = 8080
CHRONOS_PORT = 4400
# A freshly deployed cluster converges asynchronously (elections, registrations).
CONVERGE_SECONDS = 60.0

T = TypeVar("T")


def unavailable_reason() -> str | None:
    """Why the suite cannot run here, or None when a cluster inventory is usable."""
    if not os.path.exists(INVENTORY):
        return (
            f"no cluster inventory at {INVENTORY}: start the local cluster with "
            f"'make cluster' (as root) or point MESOS_PY_INVENTORY at a deployed one"
        )
    if INVENTORY == LOCAL_INVENTORY and os.geteuid() != 0:
        return "the local machines are reached with root's generated ssh key: run as root"
    return None


def _ansible_on_path() -> None:
    """testinfra runs `ansible-inventory`: make the one next to this Python findable."""
    bin_dir = os.path.dirname(sys.executable)
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")


class Inventory:
    """Groups and host variables, read once through `ansible-inventory`."""

    def __init__(self, path: str) -> None:
        from testinfra.utils.ansible_runner import AnsibleRunner

        _ansible_on_path()
        self.path = path
        self._runner = AnsibleRunner(path)

    def hosts(self, group: str) -> list[str]:
        return sorted(self._runner.get_hosts(group))

    def variables(self, name: str) -> dict[str, Any]:
        return self._runner.get_variables(name)

    def address(self, name: str) -> str:
        return self.variables(name)["cluster_address"]

    def addresses(self, group: str) -> list[str]:
        return [self.address(name) for name in self.hosts(group)]

    def member(self, name: str) -> Member:
        """The host with its variables and testinfra connection (the inventory's ssh)."""
        return Member(name, self.variables(name), self._runner.get_host(name))


@dataclass(frozen=True)
class Member:
    """One cluster host: inventory name, inventory variables, testinfra host."""

    name: str
    variables: dict[str, Any]
    host: Any

    @property
    def address(self) -> str:
        return self.variables["cluster_address"]

    def listening(self) -> list[str]:
        """Listening TCP sockets as testinfra spells them (``tcp://ADDRESS:PORT``), an
        IPv4-mapped IPv6 address (Java binds those) written as the IPv4 address."""
        return [
            s.replace("tcp://::ffff:", "tcp://", 1)
            for s in self.host.socket.get_listening_sockets()
        ]


def assert_enabled_and_running(member: Member, service: str) -> None:
    unit = member.host.service(service)
    assert unit.is_enabled, f"{service} is not enabled on {member.name}"
    assert unit.is_running, f"{service} is not running on {member.name}"


def assert_listens_on_cluster_address_only(member: Member, port: int) -> None:
    listening = [s for s in member.listening() if s.rsplit(":", 1)[-1] == str(port)]
    assert listening == [f"tcp://{member.address}:{port}"], member.name


def eventually(probe: Callable[[], T], timeout: float = CONVERGE_SECONDS, every: float = 1.0) -> T:
    """``probe()``'s first result that does not raise AssertionError, within ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return probe()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
        time.sleep(every)


def four_letter_word(address: str, word: str, port: int = ZOOKEEPER_PORT) -> str:
    """ZooKeeper's reply to a four-letter word (``srvr``, ``mntr``, ...)."""
    with socket.create_connection((address, port), timeout=5) as connection:
        connection.sendall(word.encode())
        chunks = []
        while chunk := connection.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks).decode()


def zookeeper_mode(address: str) -> str:
    """``leader``, ``follower``, ``standalone``... or what went wrong, as text."""
    try:
        reply = four_letter_word(address, "srvr")
    except OSError as exc:
        return f"unreachable ({exc})"
    for line in reply.splitlines():
        if line.startswith("Mode:"):
            return line.split(":", 1)[1].strip()
    return f"no mode in {reply!r}"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def http_get(address: str, port: int, path: str) -> tuple[int, Message, bytes]:
    """Status, headers and body of a GET, redirects not followed."""
    return http_request(address, port, "GET", path)


def http_request(
    address: str, port: int, method: str, path: str, body: Any = None
) -> tuple[int, Message, bytes]:
    """Status, headers and body of a request (``body`` sent as JSON), redirects not followed."""
    opener = urllib.request.build_opener(NoRedirect)
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"http://{address}:{port}{path}",
        data=data,
        method=method,
        headers={"Content-Type": "application/json"} if data is not None else {},
    )
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


def get_json(address: str, port: int, path: str) -> Any:
    status, _, body = http_get(address, port, path)
    assert status == 200, f"GET {address}:{port}{path} -> {status}: {body[:200]!r}"
    return json.loads(body)


def venv_tool(name: str) -> str:
    """A console script next to this Python (``ansible-playbook`` of the venv)."""
    return os.path.join(os.path.dirname(sys.executable), name)


def ansible_environment() -> dict[str, str]:
    """The environment to run Ansible from the repository in: plain output, venv on PATH."""
    _ansible_on_path()
    return {**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0"}
