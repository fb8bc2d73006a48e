"""The master's flags, with Mesos' names and defaults."""

from __future__ import annotations

from mesos_py.common.flags import Flag, duration


def registry_kind(text: str) -> str:
    if text not in ("replicated_log", "in_memory"):
        raise ValueError(f"unknown registry {text!r}; expected replicated_log or in_memory")
    return text


class Percentage(float):
    """A share from 0 to 1 that prints as Mesos spells it (``100%``) in ``/master/flags``."""

    def __str__(self) -> str:
        return f"{self * 100:g}%"


def percentage(text: str) -> Percentage:
    """``N%`` with N from 0 to 100; the ``%`` is required, as in Mesos."""
    stripped = text.strip()
    if not stripped.endswith("%"):
        raise ValueError(f"invalid percentage {text!r}: missing '%'")
    try:
        value = float(stripped[:-1])
    except ValueError:
        raise ValueError(f"invalid percentage {text!r}") from None
    if not 0.0 <= value <= 100.0:  # NaN fails this too
        raise ValueError(f"percentage {text!r} must be within [0%-100%]")
    return Percentage(value / 100)


def positive_duration(text: str) -> float:
    seconds = duration(text)
    if not seconds > 0:
        raise ValueError(f"duration {text!r} must be positive")
    return seconds


def count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError(f"{text!r} must not be negative")
    return value


MASTER_FLAGS = [
    Flag("ip", "IP address to listen on", "0.0.0.0"),
    Flag("port", "port to listen on", 5050, int),
    Flag("advertise_ip", "IP address advertised to frameworks and agents", None),
    Flag("hostname", "hostname advertised in MasterInfo", None),
    Flag("work_dir", "directory for the master's registry in standalone mode", None),
    Flag("cluster", "human-readable name of the cluster", None),
    Flag("allocation_interval", "how often resources are allocated", 1.0, duration),
    Flag("offer_timeout", "rescind offers not used for this long (unset: never)", None, duration),
    Flag("agent_ping_timeout", "how long to wait for an agent's PONG", 15.0, duration),
    Flag("max_agent_ping_timeouts", "missed pings after which an agent is unreachable", 5, int),
    Flag("max_completed_frameworks", "completed frameworks kept for the endpoints", 50, int),
    Flag("max_completed_tasks_per_framework", "completed tasks kept per framework", 1000, int),
    Flag(
        "max_unreachable_tasks_per_framework",
        "tasks of unreachable agents kept per framework",
        1000,
        count,
    ),
    Flag("weights", "role weights, e.g. 'eng=2,ops=1'", None),
    Flag("max_body_bytes", "largest accepted request body", 16 * 1024 * 1024, int),
    Flag(
        "zk",
        "ZooKeeper URL for leader election and the registry, "
        "zk://[user:password@]host:port[,host:port...]/path, or file:///path of a file "
        "holding it (unset: standalone)",
        None,
    ),
    Flag("zk_session_timeout", "ZooKeeper session timeout", 10.0, duration),
    Flag(
        "agent_reregister_timeout",
        "how long agents have to re-register after a failover before they are marked unreachable",
        600.0,
        duration,
    ),
    Flag(
        "recovery_agent_removal_limit",
        "after a failover, the largest share of recovered agents that may fail to "
        "re-register and be marked unreachable; beyond it the master exits for an "
        "operator to investigate (0%-100%)",
        Percentage(1.0),
        percentage,
    ),
    Flag(
        "registry_gc_interval",
        "how often the leader prunes old unreachable and gone agents from the registry",
        15 * 60.0,
        positive_duration,
    ),
    Flag(
        "registry_max_agent_age",
        "unreachable and gone agents are kept in the registry at most this long",
        14 * 86400.0,
        duration,
    ),
    Flag(
        "registry_max_agent_count",
        "unreachable (and, separately, gone) agents kept in the registry at most",
        102400,
        count,
    ),
    Flag(
        "registry",
        "where the registry is kept: 'replicated_log' (durable: ZooKeeper with "
        "--zk, else a file in --work_dir) or 'in_memory'",
        "replicated_log",
        registry_kind,
    ),
    Flag("quorum", "accepted for compatibility: ZooKeeper's own quorum keeps the registry", None),
]


def parse_weights(text: str | None) -> tuple[tuple[str, float], ...]:
    """``role=weight,...`` as Mesos' --weights takes it."""
    if not text:
        return ()
    weights = []
    for item in text.split(","):
        role, sep, value = item.partition("=")
        if not sep or not role.strip():
            raise ValueError(f"invalid weight {item!r}; expected role=weight")
        weight = float(value)
        if weight <= 0:
            raise ValueError(f"weight of role {role!r} must be positive")
        weights.append((role.strip(), weight))
    return tuple(weights)
