"""The master's flags, with Mesos' names and defaults."""

from __future__ import annotations

from mesos_py.common.flags import Flag, duration


def registry_kind(text: str) -> str:
    if text not in ("replicated_log", "in_memory"):
        raise ValueError(f"unknown registry {text!r}; expected replicated_log or in_memory")
    return text


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
    Flag("weights", "role weights, e.g. 'eng=2,ops=1'", None),
    Flag("max_body_bytes", "largest accepted request body", 16 * 1024 * 1024, int),
    Flag(
        "zk",
        "ZooKeeper URL for leader election and the registry, "
        "zk://[user:password@]host:port[,host:port...]/path (unset: standalone)",
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
