"""Booting, reaching and removing the machines: systemd-nspawn, a bridge, overlay roots.

Each machine lives in ``<cache>/run/<name>/``: ``root/`` is an overlay of the shared
image (``upper/`` holds what the machine changed), ``nspawn.pid`` the systemd-nspawn
process, ``console.log`` its boot console, ``machine.json`` its name and address.
"""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable

from tools.machines import topology
from tools.machines.topology import Machine

BOOTED_STATES = ("running", "degraded")
HOST_CGROUP_MOUNT = "/sys/fs/cgroup"
BOOT_TIMEOUT = 120.0
STOP_TIMEOUT = 30.0
SSH_OPTIONS = (*topology.SSH_OPTIONS, "BatchMode=yes", "ConnectTimeout=3")


class MachineError(RuntimeError):
    """A machine could not be started, reached or stopped; the message says which."""


def _run(*command: str) -> None:
    subprocess.run(command, check=True)


def _pid_alive_as(pid: int, comm: str) -> bool:
    try:
        with open(f"/proc/{pid}/comm", encoding="utf-8") as handle:
            return handle.read().strip() == comm
    except (FileNotFoundError, ProcessLookupError):
        return False


def _mounts_under(path: str) -> list[str]:
    """Mount points at or below ``path``, deepest first."""
    prefix = os.path.realpath(path)
    points = []
    with open("/proc/self/mountinfo", encoding="utf-8") as handle:
        for line in handle:
            point = line.split()[4].replace("\\040", " ")
            if point == prefix or point.startswith(prefix + "/"):
                points.append(point)
    return sorted(points, key=len, reverse=True)


def _remove_cgroups(root: str) -> None:
    """Remove what an agent machine left in the host's cgroup controllers.

    Its tasks died with the machine's PID namespace; an emptied cgroup can stay busy for
    a moment, hence the retries.
    """
    for controller in topology.CGROUP_CONTROLLERS:
        top = os.path.join(HOST_CGROUP_MOUNT, controller, root)
        if not os.path.isdir(top):
            continue
        for directory, _, _ in sorted(os.walk(top), key=lambda entry: -len(entry[0])):
            for _attempt in range(50):
                try:
                    os.rmdir(directory)
                    break
                except FileNotFoundError:
                    break
                except OSError as exc:
                    if exc.errno != errno.EBUSY:
                        raise MachineError(f"cannot remove cgroup {directory}: {exc}") from exc
                    time.sleep(0.1)
            else:
                raise MachineError(f"cgroup {directory} stays busy; remove it by hand")


class Bridge:
    """The private bridge the machines are plugged into; the host is its .1 address."""

    name = topology.BRIDGE

    def exists(self) -> bool:
        return os.path.exists(f"/sys/class/net/{self.name}")

    def up(self) -> None:
        if not self.exists():
            _run("ip", "link", "add", self.name, "type", "bridge")
            address = f"{topology.BRIDGE_ADDRESS}/{topology.NETWORK.prefixlen}"
            _run("ip", "addr", "add", address, "dev", self.name)
        _run("ip", "link", "set", self.name, "up")

    def down(self) -> None:
        if self.exists():
            _run("ip", "link", "del", self.name)


class Runtime:
    """The machines under ``<cache_dir>/run`` and the ssh key that reaches them."""

    def __init__(self, cache_dir: str) -> None:
        self.cache_dir = os.path.abspath(cache_dir)
        self.run_dir = os.path.join(self.cache_dir, "run")
        self.private_key = os.path.join(self.cache_dir, "ssh", "id_ed25519")

    # ssh key -----------------------------------------------------------------------

    def ensure_key(self) -> str:
        """The public half of the (generated once) key that logs in as root."""
        if not os.path.exists(self.private_key):
            os.makedirs(os.path.dirname(self.private_key), mode=0o700, exist_ok=True)
            _run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "mesos-py-machines",
                 "-f", self.private_key)  # fmt: skip
        with open(self.private_key + ".pub", encoding="utf-8") as handle:
            return handle.read()

    def ssh_command(self, address: str, *command: str) -> list[str]:
        options = [word for option in SSH_OPTIONS for word in ("-o", option)]
        return ["ssh", "-i", self.private_key, *options, f"root@{address}", *command]

    # one machine ---------------------------------------------------------------------

    def _dir(self, name: str) -> str:
        return os.path.join(self.run_dir, name)

    def nspawn_pid(self, name: str) -> int | None:
        """The machine's systemd-nspawn process, or None when it is not running."""
        try:
            with open(os.path.join(self._dir(name), "nspawn.pid"), encoding="utf-8") as f:
                pid = int(f.read())
        except (FileNotFoundError, ValueError):
            return None
        return pid if _pid_alive_as(pid, "systemd-nspawn") else None

    def leader_pid(self, name: str) -> int | None:
        """PID (on the host) of the machine's own init, the child of systemd-nspawn."""
        pid = self.nspawn_pid(name)
        if pid is None:
            return None
        try:
            with open(f"/proc/{pid}/task/{pid}/children", encoding="utf-8") as handle:
                children = handle.read().split()
        except FileNotFoundError:
            return None
        return int(children[0]) if children else None

    def names(self) -> list[str]:
        """Every machine with a directory, running or not."""
        return sorted(os.listdir(self.run_dir)) if os.path.isdir(self.run_dir) else []

    def machine(self, name: str) -> Machine | None:
        """The machine as it was started (from its ``machine.json``)."""
        try:
            with open(os.path.join(self._dir(name), "machine.json"), encoding="utf-8") as f:
                fields = json.load(f)
        except FileNotFoundError:
            return None
        return Machine(**{**fields, "groups": tuple(fields["groups"])})

    def start(self, machine: Machine, machines: list[Machine], image_root: str, key: str) -> None:
        """Create the machine's root (if new) and boot it in the background."""
        if self.nspawn_pid(machine.name) is not None:
            return
        self.remove(machine.name)  # leftovers of a machine that died
        base = self._dir(machine.name)
        root = os.path.join(base, "root")
        for sub in ("upper", "work", "root"):
            os.makedirs(os.path.join(base, sub))
        lower, upper, work = image_root, os.path.join(base, "upper"), os.path.join(base, "work")
        _run("mount", "-t", "overlay", "overlay",
             "-o", f"lowerdir={lower},upperdir={upper},workdir={work}", root)  # fmt: skip
        self._personalise(root, machine, machines, key)
        with open(os.path.join(base, "machine.json"), "w", encoding="utf-8") as handle:
            json.dump(dataclasses.asdict(machine), handle)
        command = [
            "systemd-nspawn",
            f"--directory={root}",
            f"--machine={machine.name}",
            "--boot",
            "--register=no",
            "--keep-unit",
            "--console=read-only",
            f"--network-bridge={topology.BRIDGE}",
        ]
        if machine.is_agent:
            command += [
                f"--bind={HOST_CGROUP_MOUNT}/{c}:{topology.HOST_CGROUP_DIR}/{c}"
                for c in topology.CGROUP_CONTROLLERS
            ]
        with (
            open(os.path.join(base, "console.log"), "wb") as console,
            open(os.devnull, "rb") as nothing,
        ):
            process = subprocess.Popen(
                command, stdin=nothing, stdout=console, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        with open(os.path.join(base, "nspawn.pid"), "w", encoding="utf-8") as handle:
            handle.write(str(process.pid))

    @staticmethod
    def _personalise(root: str, machine: Machine, machines: list[Machine], key: str) -> None:
        """Identity and access of one machine, written into its overlay before boot."""

        def write(relative: str, text: str, mode: int = 0o644) -> None:
            path = os.path.join(root, relative)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.chmod(path, mode)

        write("etc/hostname", machine.name + "\n")
        write("etc/hosts", topology.etc_hosts(machines))
        write("etc/systemd/network/10-host0.network", topology.network_file(machine))
        os.makedirs(os.path.join(root, "root/.ssh"), mode=0o700, exist_ok=True)
        write("root/.ssh/authorized_keys", key, 0o600)
        subprocess.run(["ssh-keygen", "-A", "-f", root], check=True, stdout=subprocess.DEVNULL)

    def state(self, name: str) -> str:
        """``systemctl is-system-running`` inside the machine, or ``stopped``."""
        leader = self.leader_pid(name)
        if leader is None:
            return "stopped"
        result = subprocess.run(
            ["nsenter", "-t", str(leader), "-a", "systemctl", "is-system-running"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        return result.stdout.strip() or "unknown"

    def ssh_works(self, address: str) -> bool:
        # stdin from /dev/null: ssh makes the descriptor it is given non-blocking, and a
        # shared one would then make later ansible-playbook runs refuse to start.
        result = subprocess.run(
            self.ssh_command(address, "true"),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            check=False,
            timeout=30,
        )
        return result.returncode == 0

    def wait_ready(self, machines: list[Machine], log: Callable[[str], None]) -> None:
        """Wait until every machine has booted (running/degraded) and answers ssh."""
        deadline = time.monotonic() + BOOT_TIMEOUT
        waiting = {m.name: m for m in machines}
        while waiting:
            for name, machine in list(waiting.items()):
                if self.nspawn_pid(name) is None:
                    raise MachineError(
                        f"{name} exited while booting; see {self._dir(name)}/console.log"
                    )
                if self.state(name) in BOOTED_STATES and self.ssh_works(machine.address):
                    log(f"machines: {name} ready at {machine.address}")
                    del waiting[name]
            if waiting and time.monotonic() > deadline:
                states = ", ".join(f"{n}: {self.state(n)}" for n in waiting)
                raise MachineError(f"not ready after {BOOT_TIMEOUT:.0f} s ({states})")
            if waiting:
                time.sleep(0.5)

    def stop(self, names: list[str]) -> None:
        """Shut the machines down (orderly, then by force) and remove their directories."""
        running = {}
        for name in names:
            pid = self.nspawn_pid(name)
            if pid is not None:
                running[name] = (pid, self.leader_pid(name))
                # systemd-nspawn turns SIGTERM into an orderly shutdown of the machine.
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        for pid, leader in running.values():
            while _pid_alive_as(pid, "systemd-nspawn") and time.monotonic() < deadline:
                time.sleep(0.2)
            if _pid_alive_as(pid, "systemd-nspawn"):
                # Killing the machine's init kills everything in its PID namespace.
                if leader is not None:
                    os.kill(leader, signal.SIGKILL)
                os.kill(pid, signal.SIGKILL)
                while _pid_alive_as(pid, "systemd-nspawn"):
                    time.sleep(0.1)
        for name in names:
            machine = self.machine(name)
            self.remove(name)
            if machine is not None and machine.is_agent:
                _remove_cgroups(machine.cgroups_root)

    def leftovers(self, machines: list[Machine]) -> list[str]:
        """What of ``machines`` is still on the host: processes, mounts, directories,
        cgroups.  Empty after a clean ``stop``."""
        found = [f"{n}: systemd-nspawn running" for n in self.names() if self.nspawn_pid(n)]
        found += [f"mount {point}" for point in _mounts_under(self.run_dir)]
        found += [f"directory {self._dir(n)}" for n in self.names()]
        found += [
            f"cgroup {HOST_CGROUP_MOUNT}/{c}/{m.cgroups_root}"
            for m in machines
            if m.is_agent
            for c in topology.CGROUP_CONTROLLERS
            if os.path.isdir(os.path.join(HOST_CGROUP_MOUNT, c, m.cgroups_root))
        ]
        return found

    def remove(self, name: str) -> None:
        """Unmount and delete a stopped machine's directory (no-op when there is none)."""
        base = self._dir(name)
        for point in _mounts_under(base):
            _run("umount", point)
        shutil.rmtree(base, ignore_errors=True)
