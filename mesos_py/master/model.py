"""The master's in-memory records of frameworks, agents, tasks and offers.

Plain data: the behaviour lives in ``mesos_py.master.master``.  As in Mesos,
none of this is persisted; after a failover it is rebuilt from re-registering
agents and re-subscribing frameworks.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field
from typing import Any

from mesos_py.common.http import EventStream
from mesos_py.common.protocol import TERMINAL_STATES
from mesos_py.common.resources import Resources


class CallRefused(Exception):
    """A call the master cannot take: ``code`` is the HTTP status to answer."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(eq=False)
class Task:
    task_id: str
    framework_id: str
    agent_id: str
    name: str
    resources: Resources
    role: str
    executor_id: str  # empty for command tasks, as /master/state shows them
    info: dict[str, Any]
    state: str = "TASK_STAGING"
    # The status most recently forwarded to the framework (reconciliation answers with it).
    last_status: dict[str, Any] | None = None
    # The uuid the framework still has to acknowledge, if any.
    pending_uuid: str | None = None
    statuses: list[dict[str, Any]] = field(default_factory=list)

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL_STATES


@dataclass(eq=False)
class Offer:
    offer_id: str
    framework_id: str
    agent_id: str
    role: str
    resources: Resources
    timeout_call: Any = None


@dataclass(eq=False)
class Framework:
    framework_id: str
    info: dict[str, Any]
    registered_time: float
    stream: EventStream | None = None
    connected: bool = False
    active: bool = False
    # Known only from agents' reports (master failover) and not yet re-subscribed.
    recovered: bool = False
    reregistered_time: float | None = None
    unregistered_time: float | None = None
    failover_call: Any = None
    tasks: dict[str, Task] = field(default_factory=dict)
    completed_tasks: collections.deque = field(
        default_factory=lambda: collections.deque(maxlen=1000)
    )
    # Tasks of unreachable agents, oldest first (bounded by the master).
    unreachable_tasks: dict[str, Task] = field(default_factory=dict)
    offers: dict[str, Offer] = field(default_factory=dict)
    # agent_id -> executor_id -> (ExecutorInfo, resources it holds)
    executors: dict[str, dict[str, tuple[dict, Resources]]] = field(default_factory=dict)
    suppressed_roles: set[str] = field(default_factory=set)
    counters: collections.Counter = field(default_factory=collections.Counter)

    @property
    def roles(self) -> list[str]:
        if "roles" in self.info and self.has_capability("MULTI_ROLE"):
            return list(self.info["roles"])
        return [self.info.get("role", "*")]

    def has_capability(self, name: str) -> bool:
        return any(c.get("type") == name for c in self.info.get("capabilities", []))

    @property
    def partition_aware(self) -> bool:
        return self.has_capability("PARTITION_AWARE")

    def send(self, event: dict[str, Any]) -> bool:
        """Send an event if the framework is connected; say whether it was."""
        if self.stream is None or self.stream.closed:
            return False
        self.stream.send(event)
        self.counters["events/" + event["type"].lower()] += 1
        return True


@dataclass(eq=False)
class AgentRecord:
    agent_id: str
    info: dict[str, Any]
    total: Resources
    registered_time: float
    version: str
    ip: str = ""
    link: EventStream | None = None
    connected: bool = False
    active: bool = True
    reregistered_time: float | None = None
    pings_missed: int = 0
    ping_call: Any = None
    disconnect_call: Any = None
    # (framework_id, task_id) -> Task
    tasks: dict[tuple[str, str], Task] = field(default_factory=dict)
    offers: set[str] = field(default_factory=set)

    @property
    def hostname(self) -> str:
        return self.info.get("hostname", "")

    @property
    def pid(self) -> str:
        return f"slave(1)@{self.ip or self.hostname}:{self.info.get('port', 5051)}"

    def send(self, event: dict[str, Any]) -> bool:
        if self.link is None or self.link.closed:
            return False
        self.link.send(event)
        return True
