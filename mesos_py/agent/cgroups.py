"""cgroups isolation: limits, accounting and cleanup of one cgroup per container.

A container (one executor run) gets ``<hierarchy>/<subsystem>/<root>/<id>`` on
cgroup v1 (through cgroupspy, plus plain files for ``pids``, which cgroupspy
does not know) or ``<hierarchy>/<root>/<id>`` on cgroup v2, whichever the host
has.  The agent never forks to attach a process: the launcher's wrapper
writes its own pid into each ``cgroup.procs`` before it execs the task, so
everything the task forks is born inside the cgroups (see ``launcher.py``).

The arithmetic (shares, quota, limits, v2 weight) is pure and at the top.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import time
from dataclasses import dataclass

from cgroupspy.nodes import Node
from twisted.logger import Logger

log = Logger()

MB = 1024 * 1024
CPU_SHARES_PER_CPU = 1024
MIN_CPU_SHARES = 2
CFS_PERIOD_US = 100_000
MIN_CFS_QUOTA_US = 1_000
MIN_MEMORY_BYTES = 32 * MB
USER_HZ = os.sysconf("SC_CLK_TCK")

# Isolator names (Mesos') and the v1 subsystems each needs.
CGROUP_ISOLATORS = {
    "cgroups/cpu": ("cpu", "cpuacct"),
    "cgroups/mem": ("memory",),
    "cgroups/pids": ("pids",),
}
POSIX_ISOLATORS = ("posix/cpu", "posix/mem")


class CgroupError(Exception):
    """A cgroup could not be created or configured; the message says which."""


@dataclass(frozen=True)
class Limits:
    """What a container may use: from its resources and the agent's flags."""

    cpus: float
    mem_mb: float
    cfs: bool = False
    pids_max: int | None = None

    @property
    def cpu_shares(self) -> int:
        return max(int(CPU_SHARES_PER_CPU * self.cpus), MIN_CPU_SHARES)

    @property
    def cfs_quota_us(self) -> int:
        return max(int(CFS_PERIOD_US * self.cpus), MIN_CFS_QUOTA_US)

    @property
    def mem_bytes(self) -> int:
        return max(int(self.mem_mb * MB), MIN_MEMORY_BYTES)

    @property
    def cpu_weight(self) -> int:
        """cgroup v2 ``cpu.weight`` [1, 10000] for the v1 shares [2, 262144]."""
        shares = min(self.cpu_shares, 262_144)
        return 1 + ((shares - 2) * 9_999) // 262_142


def memory_message(limit_bytes: int, max_used_bytes: int, stat: str) -> str:
    return (
        f"Memory limit exceeded: Requested: {limit_bytes // MB}MB "
        f"Maximum Used: {max_used_bytes // MB}MB\n\nMEMORY STATISTICS: \n{stat}"
    )


def parse_flat(text: str) -> dict[str, int]:
    """``key value`` lines (memory.stat, cpu.stat, cpuacct.stat) as a dict; junk skipped."""
    result = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        with contextlib.suppress(ValueError):
            result[key] = int(value)
    return result


def _read(path: str) -> str:
    with open(path) as f:
        return f.read()


def _write(path: str, value: object) -> None:
    with open(path, "w") as f:
        f.write(str(value))


def _kill_and_remove(path: str, attempts: int = 50) -> None:
    """SIGKILL whatever is left in a cgroup directory, then remove it."""
    procs = os.path.join(path, "cgroup.procs")
    for _ in range(attempts):
        try:
            pids = [int(p) for p in _read(procs).split()]
        except FileNotFoundError:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        try:
            os.rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError as exc:
            if exc.errno != errno.EBUSY:
                raise
        time.sleep(0.01)
    raise CgroupError(f"cgroup {path} still busy after killing its processes")


class CgroupsV1:
    """One directory per container in each mounted v1 subsystem."""

    version = 1

    def __init__(self, hierarchy: str, root: str, subsystems: tuple[str, ...], cfs: bool) -> None:
        self.hierarchy = hierarchy
        self.root = root.strip("/")
        self.subsystems = subsystems
        self.cfs = cfs
        top = Node(hierarchy.encode())
        # cgroupspy nodes for the controllers it knows; pids is read as plain files.
        self._nodes = {}
        for subsystem in subsystems:
            node = Node(subsystem.encode(), parent=top)
            for part in self.root.split("/"):
                node = Node(part.encode(), parent=node)
            self._nodes[subsystem] = node

    def _dir(self, subsystem: str, container_id: str = "") -> str:
        return os.path.join(self.hierarchy, subsystem, self.root, container_id)

    def _file(self, subsystem: str, container_id: str, name: str) -> str:
        return os.path.join(self.hierarchy, subsystem, self.root, container_id, name)

    def _node(self, subsystem: str, container_id: str) -> Node:
        return Node(container_id.encode(), parent=self._nodes[subsystem])

    def check(self) -> None:
        """Fail early (at agent start) when a subsystem is not mounted or writable."""
        for subsystem in self.subsystems:
            path = os.path.join(self.hierarchy, subsystem)
            if not os.path.exists(os.path.join(path, "cgroup.procs")):
                raise CgroupError(f"cgroup v1 subsystem '{subsystem}' is not mounted at {path}")
            os.makedirs(self._dir(subsystem), exist_ok=True)

    def create(self, container_id: str, limits: Limits) -> list[str]:
        """Create and configure the container's cgroups; their ``cgroup.procs`` files."""
        procs = []
        try:
            for subsystem in self.subsystems:
                os.makedirs(self._dir(subsystem, container_id), exist_ok=True)
                procs.append(os.path.join(self._dir(subsystem, container_id), "cgroup.procs"))
            self.update(container_id, limits)
        except OSError as exc:
            self.destroy(container_id)
            raise CgroupError(f"Failed to prepare cgroups: {exc}") from None
        return procs

    def update(self, container_id: str, limits: Limits) -> None:
        if "cpu" in self.subsystems:
            cpu = self._node("cpu", container_id).controller
            cpu.shares = limits.cpu_shares
            if self.cfs:
                cpu.cfs_period_us = CFS_PERIOD_US
                cpu.cfs_quota_us = limits.cfs_quota_us
        if "memory" in self.subsystems:
            memory = self._node("memory", container_id).controller
            # Raise the soft limit after the hard one may have been lowered, and vice versa.
            if limits.mem_bytes >= memory.limit_in_bytes:
                memory.limit_in_bytes = limits.mem_bytes
                memory.soft_limit_in_bytes = limits.mem_bytes
            else:
                memory.soft_limit_in_bytes = limits.mem_bytes
                memory.limit_in_bytes = limits.mem_bytes
        if "pids" in self.subsystems:
            value = "max" if limits.pids_max is None else limits.pids_max
            _write(self._file("pids", container_id, "pids.max"), value)

    def memory_limitation(self, container_id: str) -> str | None:
        """The OOM message if the kernel killed a process of this container for memory."""
        if "memory" not in self.subsystems:
            return None
        try:
            memory = self._node("memory", container_id).controller
            oom = parse_flat(_read(self._file("memory", container_id, "memory.oom_control")))
            if oom.get("oom_kill", 0) == 0 and oom.get("under_oom", 0) == 0:
                return None
            stat = _read(self._file("memory", container_id, "memory.stat"))
            return memory_message(memory.limit_in_bytes, memory.max_usage_in_bytes, stat)
        except (OSError, ValueError):
            return None

    def statistics(self, container_id: str) -> dict[str, float]:
        stats: dict[str, float] = {}
        with contextlib.suppress(OSError, ValueError):
            if "cpu" in self.subsystems:
                cpuacct = parse_flat(_read(self._file("cpuacct", container_id, "cpuacct.stat")))
                stats["cpus_user_time_secs"] = cpuacct.get("user", 0) / USER_HZ
                stats["cpus_system_time_secs"] = cpuacct.get("system", 0) / USER_HZ
                cpu = self._node("cpu", container_id).controller
                stats["cpus_limit"] = cpu.shares / CPU_SHARES_PER_CPU
                cpu_stat = parse_flat(_read(self._file("cpu", container_id, "cpu.stat")))
                stats["cpus_nr_periods"] = cpu_stat.get("nr_periods", 0)
                stats["cpus_nr_throttled"] = cpu_stat.get("nr_throttled", 0)
                stats["cpus_throttled_time_secs"] = cpu_stat.get("throttled_time", 0) / 1e9
                if self.cfs:
                    stats["cpus_quota"] = cpu.cfs_quota_us / 1e6
            if "memory" in self.subsystems:
                memory = self._node("memory", container_id).controller
                stat = parse_flat(_read(self._file("memory", container_id, "memory.stat")))
                stats["mem_total_bytes"] = memory.usage_in_bytes
                stats["mem_limit_bytes"] = memory.limit_in_bytes
                stats["mem_soft_limit_bytes"] = memory.soft_limit_in_bytes
                stats["mem_rss_bytes"] = stat.get("total_rss", stat.get("rss", 0))
                stats["mem_cache_bytes"] = stat.get("total_cache", 0)
                stats["mem_mapped_file_bytes"] = stat.get("total_mapped_file", 0)
                stats["mem_swap_bytes"] = stat.get("total_swap", 0)
                stats["mem_unevictable_bytes"] = stat.get("total_unevictable", 0)
                stats["mem_anon_bytes"] = stat.get("total_active_anon", 0) + stat.get(
                    "total_inactive_anon", 0
                )
                stats["mem_file_bytes"] = stat.get("total_active_file", 0) + stat.get(
                    "total_inactive_file", 0
                )
            if "pids" in self.subsystems:
                stats["processes"] = int(_read(self._file("pids", container_id, "pids.current")))
        return stats

    def containers(self) -> set[str]:
        """Container IDs that have a cgroup under our root in any subsystem."""
        found: set[str] = set()
        for subsystem in self.subsystems:
            with contextlib.suppress(FileNotFoundError, NotADirectoryError):
                found.update(e.name for e in os.scandir(self._dir(subsystem)) if e.is_dir())
        return found

    def destroy(self, container_id: str) -> None:
        """Kill what is left and remove the container's cgroups (missing ones are fine)."""
        for subsystem in self.subsystems:
            _kill_and_remove(self._dir(subsystem, container_id))


class CgroupsV2:
    """One directory per container under ``<hierarchy>/<root>`` of the unified hierarchy."""

    version = 2
    _CONTROLLERS = {"cpu": "cpu", "cpuacct": "cpu", "memory": "memory", "pids": "pids"}

    def __init__(self, hierarchy: str, root: str, subsystems: tuple[str, ...], cfs: bool) -> None:
        self.hierarchy = hierarchy
        self.root = root.strip("/")
        self.controllers = sorted({self._CONTROLLERS[s] for s in subsystems})
        self.cfs = cfs

    def _dir(self, container_id: str = "") -> str:
        return os.path.join(self.hierarchy, self.root, container_id)

    def _file(self, container_id: str, name: str) -> str:
        return os.path.join(self._dir(container_id), name)

    def check(self) -> None:
        """Create our root and delegate the controllers down to it from the hierarchy."""
        available = _read(os.path.join(self.hierarchy, "cgroup.controllers")).split()
        missing = [c for c in self.controllers if c not in available]
        if missing:
            raise CgroupError(
                f"cgroup v2 controller(s) {', '.join(missing)} not available at {self.hierarchy}"
            )
        path = self.hierarchy
        enable = " ".join(f"+{c}" for c in self.controllers)
        for part in self.root.split("/"):
            if enable:
                _write(os.path.join(path, "cgroup.subtree_control"), enable)
            path = os.path.join(path, part)
            os.makedirs(path, exist_ok=True)
        if enable:
            _write(os.path.join(path, "cgroup.subtree_control"), enable)

    def create(self, container_id: str, limits: Limits) -> list[str]:
        try:
            os.makedirs(self._dir(container_id), exist_ok=True)
            self.update(container_id, limits)
        except OSError as exc:
            self.destroy(container_id)
            raise CgroupError(f"Failed to prepare cgroups: {exc}") from None
        return [self._file(container_id, "cgroup.procs")]

    def update(self, container_id: str, limits: Limits) -> None:
        if "cpu" in self.controllers:
            _write(self._file(container_id, "cpu.weight"), limits.cpu_weight)
            if self.cfs:
                _write(
                    self._file(container_id, "cpu.max"), f"{limits.cfs_quota_us} {CFS_PERIOD_US}"
                )
        if "memory" in self.controllers:
            _write(self._file(container_id, "memory.max"), limits.mem_bytes)
            _write(self._file(container_id, "memory.high"), "max")
        if "pids" in self.controllers:
            value = "max" if limits.pids_max is None else limits.pids_max
            _write(self._file(container_id, "pids.max"), value)

    def memory_limitation(self, container_id: str) -> str | None:
        if "memory" not in self.controllers:
            return None
        try:
            events = parse_flat(_read(self._file(container_id, "memory.events")))
            if events.get("oom_kill", 0) == 0:
                return None
            limit = int(_read(self._file(container_id, "memory.max")))
            peak_file = self._file(container_id, "memory.peak")
            peak = int(_read(peak_file)) if os.path.exists(peak_file) else limit
            return memory_message(limit, peak, _read(self._file(container_id, "memory.stat")))
        except (OSError, ValueError):
            return None

    def statistics(self, container_id: str) -> dict[str, float]:
        stats: dict[str, float] = {}
        with contextlib.suppress(OSError, ValueError):
            if "cpu" in self.controllers:
                cpu = parse_flat(_read(self._file(container_id, "cpu.stat")))
                stats["cpus_user_time_secs"] = cpu.get("user_usec", 0) / 1e6
                stats["cpus_system_time_secs"] = cpu.get("system_usec", 0) / 1e6
                stats["cpus_nr_periods"] = cpu.get("nr_periods", 0)
                stats["cpus_nr_throttled"] = cpu.get("nr_throttled", 0)
                stats["cpus_throttled_time_secs"] = cpu.get("throttled_usec", 0) / 1e6
            if "memory" in self.controllers:
                stat = parse_flat(_read(self._file(container_id, "memory.stat")))
                stats["mem_total_bytes"] = int(_read(self._file(container_id, "memory.current")))
                limit = _read(self._file(container_id, "memory.max")).strip()
                if limit != "max":
                    stats["mem_limit_bytes"] = int(limit)
                stats["mem_rss_bytes"] = stat.get("anon", 0)
                stats["mem_anon_bytes"] = stat.get("anon", 0)
                stats["mem_file_bytes"] = stat.get("file", 0)
                stats["mem_cache_bytes"] = stat.get("file", 0)
                stats["mem_mapped_file_bytes"] = stat.get("file_mapped", 0)
                stats["mem_unevictable_bytes"] = stat.get("unevictable", 0)
            if "pids" in self.controllers:
                stats["processes"] = int(_read(self._file(container_id, "pids.current")))
        return stats

    def containers(self) -> set[str]:
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            return {e.name for e in os.scandir(self._dir()) if e.is_dir()}
        return set()

    def destroy(self, container_id: str) -> None:
        path = self._dir(container_id)
        kill = os.path.join(path, "cgroup.kill")
        if os.path.exists(kill):
            with contextlib.suppress(OSError):
                _write(kill, 1)
        _kill_and_remove(path)


Backend = CgroupsV1 | CgroupsV2


def host_cgroup_version(hierarchy: str, subsystems: tuple[str, ...]) -> int:
    """1 when the v1 subsystems are mounted under ``hierarchy``, 2 for a unified mount."""
    if all(os.path.exists(os.path.join(hierarchy, s, "cgroup.procs")) for s in subsystems):
        return 1
    if os.path.exists(os.path.join(hierarchy, "cgroup.controllers")):
        return 2
    raise CgroupError(f"no cgroup hierarchy with {', '.join(subsystems)} at {hierarchy}")


def make_backend(isolation: str, hierarchy: str, root: str, cfs: bool) -> Backend | None:
    """The cgroups backend for ``--isolation``, or None when no cgroups isolator is asked for."""
    subsystems: list[str] = []
    for name in isolation.split(","):
        for subsystem in CGROUP_ISOLATORS.get(name.strip(), ()):
            if subsystem not in subsystems:
                subsystems.append(subsystem)
    if not subsystems:
        return None
    parts = root.strip("/").split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise CgroupError(f"--cgroups_root={root!r} must name a cgroup below the hierarchy")
    version = host_cgroup_version(hierarchy, tuple(subsystems))
    backend_class = CgroupsV1 if version == 1 else CgroupsV2
    backend = backend_class(hierarchy, root, tuple(subsystems), cfs)
    backend.check()
    return backend
