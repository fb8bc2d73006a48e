"""The agent's flags, with Mesos' names and defaults.

Values are checked when parsed, so a bad flag fails at the command line with
its name in the message rather than later inside the daemon.
"""

from __future__ import annotations

import argparse
import json

from mesos_py.agent.cgroups import CGROUP_ISOLATORS, POSIX_ISOLATORS
from mesos_py.common.durations import format_duration
from mesos_py.common.flags import Flag, boolean, duration, redacted

KNOWN_ISOLATORS = (*POSIX_ISOLATORS, *CGROUP_ISOLATORS)


def isolation(text: str) -> str:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in KNOWN_ISOLATORS]
    if unknown:
        raise ValueError(
            f"unknown isolator(s) {', '.join(unknown)}; supported: {', '.join(KNOWN_ISOLATORS)}"
        )
    return ",".join(names)


def pids_max(text: str) -> int | None:
    """A positive number of processes, or ``max`` for no limit."""
    if text.strip() == "max":
        return None
    number = int(text)
    if number <= 0:
        raise ValueError("must be positive (or 'max')")
    return number


def fraction(text: str) -> float:
    number = float(text)
    if not 0.0 <= number <= 1.0:
        raise ValueError("must be between 0 and 1")
    return number


def recover_mode(text: str) -> str:
    if text not in ("reconnect", "cleanup"):
        raise ValueError(f"must be 'reconnect' or 'cleanup', not {text!r}")
    return text


def environment_variables(text: str) -> dict[str, str]:
    """A JSON object of strings (``--executor_environment_variables``); ``file://`` too."""
    if text.startswith("file://"):
        with open(text[len("file://") :]) as f:
            text = f.read()
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"not a JSON object: {exc}") from None
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ValueError("must be a JSON object mapping names to string values")
    return value


def port(text: str) -> int:
    number = int(text)
    if not 0 <= number <= 65535:
        raise ValueError(f"port {number} out of range")
    return number


def positive_duration(text: str) -> float:
    seconds = duration(text)
    if seconds <= 0:
        raise ValueError("must be positive")
    return seconds


def non_negative_duration(text: str) -> float:
    seconds = duration(text)
    if seconds < 0:
        raise ValueError("must not be negative")
    return seconds


AGENT_FLAGS = [
    Flag(
        "master",
        "the master: host:port, zk://host:port[,...]/path to follow the leader, or "
        "file:///path of a file holding either",
    ),
    Flag("work_dir", "directory for sandboxes and agent state (required)"),
    Flag("ip", "IP address to listen on", "0.0.0.0"),
    Flag("advertise_ip", "IP address advertised to the master and executors", None),
    Flag("port", "port to listen on (0: any free port)", 5051, port),
    Flag("hostname", "hostname advertised in AgentInfo (default: this host's name)", None),
    Flag("resources", "total resources, e.g. 'cpus:4;mem:2048', JSON, or file:///path", None),
    Flag("attributes", "attributes, e.g. 'rack:2;os:ubuntu'", None),
    Flag("isolation", "isolators, comma separated", "posix/cpu,posix/mem", isolation),
    Flag("cgroups_hierarchy", "where the cgroup hierarchies are mounted", "/sys/fs/cgroup"),
    Flag("cgroups_root", "name of the agent's cgroup under each hierarchy", "mesos"),
    Flag("cgroups_enable_cfs", "cap CPU time with CFS quota, not only shares", False, boolean),
    Flag(
        "cgroups_pids_max",
        "most processes a container may have with cgroups/pids ('max': no limit)",
        None,
        pids_max,
    ),
    Flag("switch_user", "run tasks as their user (needs root)", True, boolean),
    Flag(
        "executor_registration_timeout",
        "how long an executor may take to subscribe",
        60.0,
        positive_duration,
    ),
    Flag(
        "executor_shutdown_grace_period",
        "how long an executor gets between SHUTDOWN and being killed",
        5.0,
        non_negative_duration,
    ),
    Flag(
        "registration_backoff_factor",
        "initial bound of the random delay before (re-)registering",
        1.0,
        non_negative_duration,
    ),
    Flag(
        "status_update_retry_interval_min",
        "first interval between re-sends of an unacknowledged status update",
        10.0,
        positive_duration,
    ),
    Flag(
        "executor_environment_variables",
        "JSON object: the whole environment of executors (default: the agent's)",
        None,
        environment_variables,
    ),
    Flag("default_role", "role of resources given without one", "*"),
    Flag("recover", "what to do with old executors on restart", "reconnect", recover_mode),
    Flag(
        "executor_reregistration_timeout",
        "how long a recovered executor has to subscribe again",
        2.0,
        positive_duration,
    ),
    Flag("gc_delay", "how long finished sandboxes are kept", 604800.0, non_negative_duration),
    Flag(
        "gc_disk_headroom",
        "disk fraction to keep free; sandboxes are removed sooner as the disk fills",
        0.1,
        fraction,
    ),
    Flag(
        "disk_watch_interval",
        "how often disk usage is checked for sandbox GC",
        60.0,
        positive_duration,
    ),
    Flag("zk_session_timeout", "ZooKeeper session timeout (with zk://)", 10.0, positive_duration),
]

_DURATION_TYPES = (duration, positive_duration, non_negative_duration)


def flags_for_state(options: argparse.Namespace) -> dict[str, str]:
    """The effective flags as strings, durations in Mesos syntax (``/flags``, ``/state``)."""
    result = {}
    for flag in AGENT_FLAGS:
        value = getattr(options, flag.name, None)
        if value is None:
            continue
        if flag.type in _DURATION_TYPES:
            result[flag.name] = format_duration(value)
        elif isinstance(value, bool):
            result[flag.name] = str(value).lower()
        elif isinstance(value, dict):
            result[flag.name] = json.dumps(value, sort_keys=True)
        else:
            result[flag.name] = redacted(str(value))  # a zk:// --master password
    return result
