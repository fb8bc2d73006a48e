"""The agent's total resources: ``--resources`` plus Mesos' detection rules.

Only names missing from ``--resources`` are detected: cpus are the online
CPUs, mem leaves 1 GB to the host (half of it below 2 GB), disk leaves 5 GB of
the work_dir's filesystem (half below 10 GB), ports are always
``[31000-32000]``.  ``detected_amounts`` is the pure rule; ``host_facts``
reads the machine.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from mesos_py.common.resources import Resources

MB = 1024 * 1024
GB = 1024 * MB
DEFAULT_PORTS = "[31000-32000]"

# What Mesos assumes when a quantity cannot be read from the host.
FALLBACK_CPUS = 1
FALLBACK_MEM_MB = 1024
FALLBACK_DISK_MB = 10 * 1024


@dataclass(frozen=True)
class HostFacts:
    cpus: int | None
    mem_bytes: int | None
    disk_bytes: int | None


def detected_amounts(facts: HostFacts) -> dict[str, float]:
    """cpus, mem (MB) and disk (MB) by Mesos' rules."""
    cpus = facts.cpus if facts.cpus and facts.cpus > 0 else FALLBACK_CPUS
    if facts.mem_bytes and facts.mem_bytes > 0:
        mem = facts.mem_bytes - GB if facts.mem_bytes >= 2 * GB else facts.mem_bytes / 2
        mem_mb = float(mem // MB)
    else:
        mem_mb = FALLBACK_MEM_MB
    if facts.disk_bytes and facts.disk_bytes > 0:
        disk = facts.disk_bytes - 5 * GB if facts.disk_bytes >= 10 * GB else facts.disk_bytes / 2
        disk_mb = float(disk // MB)
    else:
        disk_mb = FALLBACK_DISK_MB
    return {"cpus": float(cpus), "mem": mem_mb, "disk": disk_mb}


def host_facts(work_dir: str) -> HostFacts:
    """Online CPUs, physical memory and the size of the work_dir's filesystem."""
    try:
        cpus = os.sysconf("SC_NPROCESSORS_ONLN")
    except (OSError, ValueError):
        cpus = None
    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (OSError, ValueError):
        mem = None
    path = work_dir
    while not os.path.exists(path) and os.path.dirname(path) != path:
        path = os.path.dirname(path)  # the work_dir may not exist yet
    try:
        stat = os.statvfs(path)
        disk = stat.f_blocks * stat.f_frsize
    except OSError:
        disk = None
    return HostFacts(cpus, mem, disk)


def read_resources_flag(text: str) -> str:
    """The ``--resources`` text, reading ``file:///path`` (JSON) if given so."""
    if text.startswith("file://"):
        with open(text[len("file://") :]) as f:
            return f.read()
    return text


def total_resources(flag: str | None, default_role: str, facts: HostFacts) -> Resources:
    """``--resources`` completed with whatever it does not name.

    Raises ValueError (ResourceError) for malformed resources and OSError for
    an unreadable ``file://``.
    """
    given = Resources.parse(read_resources_flag(flag), default_role) if flag else Resources()
    names = given.names()
    amounts = detected_amounts(facts)
    missing = [f"{name}:{amounts[name]:g}" for name in ("cpus", "mem", "disk") if name not in names]
    if "ports" not in names:
        missing.append(f"ports:{DEFAULT_PORTS}")
    if not missing:
        return given
    return given + Resources.parse(";".join(missing), default_role)
