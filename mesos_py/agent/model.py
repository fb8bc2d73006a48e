"""What the agent knows about frameworks, executors and tasks (plain records).

The records are shared by the agent's logic and its endpoints; they also
know how to render themselves for ``/state`` and for the master's
``REGISTER`` call.  No I/O here.
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from mesos_py.common.protocol import TERMINAL_STATES, ident
from mesos_py.common.resources import ResourceError, Resources

MAX_COMPLETED_TASKS_PER_EXECUTOR = 200
MAX_COMPLETED_EXECUTORS_PER_FRAMEWORK = 150
MAX_COMPLETED_FRAMEWORKS = 50


class ExecutorKind(enum.Enum):
    COMMAND = "command"  # built in, one command task, runs in the agent
    DEFAULT = "default"  # built in, task groups, runs in the agent
    CUSTOM = "custom"  # the framework's own process, speaks the executor API


class ExecutorState(enum.Enum):
    REGISTERING = "REGISTERING"
    RUNNING = "RUNNING"
    TERMINATING = "TERMINATING"
    TERMINATED = "TERMINATED"


def parse_resources(items: Any) -> Resources:
    """Resources of a TaskInfo/ExecutorInfo; what the master accepted, so best effort."""
    try:
        return Resources.from_json(items if isinstance(items, list) else [])
    except ResourceError:
        return Resources()


def allocation_role(task_info: dict) -> str | None:
    """The role a task's resources were allocated to, if the master said."""
    for item in task_info.get("resources", []):
        if isinstance(item, dict) and isinstance(item.get("allocation_info"), dict):
            role = item["allocation_info"].get("role")
            if isinstance(role, str):
                return role
    return None


def _copy_keys(source: dict, target: dict, keys: tuple[str, ...]) -> None:
    for key in keys:
        if key in source:
            target[key] = source[key]


@dataclass
class Task:
    info: dict
    framework_id: str
    executor_id: str
    state: str = "TASK_STAGING"
    statuses: list[dict] = field(default_factory=list)
    resources: Resources = field(default_factory=Resources)

    @property
    def task_id(self) -> str:
        return self.info["task_id"]["value"]

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL_STATES

    def record(self, status: dict) -> None:
        self.state = status["state"]
        self.statuses.append({k: v for k, v in status.items() if k != "data"})

    def role(self) -> str | None:
        return allocation_role(self.info)

    def wire_json(self, agent_id: str, command_task: bool) -> dict:
        """A v1 ``Task``, as the REGISTER call reports it."""
        task = {
            "name": self.info.get("name", ""),
            "task_id": ident(self.task_id),
            "framework_id": ident(self.framework_id),
            "agent_id": ident(agent_id),
            "state": self.state,
            "resources": self.info.get("resources", []),
            "statuses": self.statuses,
        }
        if not command_task:
            task["executor_id"] = ident(self.executor_id)
        role = self.role()
        if role:
            task["role"] = role
        _copy_keys(self.info, task, ("labels", "discovery", "container", "health_check"))
        return task

    def state_json(self, agent_id: str, command_task: bool) -> dict:
        """A task of ``/state`` (``tasks`` and ``completed_tasks``)."""
        task = {
            "id": self.task_id,
            "name": self.info.get("name", ""),
            "framework_id": self.framework_id,
            "executor_id": "" if command_task else self.executor_id,
            "slave_id": agent_id,
            "state": self.state,
            "resources": self.resources.to_flat(),
            "statuses": [
                {k: s[k] for k in ("state", "timestamp", "container_status") if k in s}
                for s in self.statuses
            ],
        }
        role = self.role()
        if role:
            task["role"] = role
        _copy_keys(self.info, task, ("labels", "discovery", "container", "health_check"))
        return task

    def queued_json(self, agent_id: str) -> dict:
        """A ``queued_tasks`` entry of ``/state`` (TaskInfo-like)."""
        task = {
            "id": self.task_id,
            "name": self.info.get("name", ""),
            "slave_id": agent_id,
            "resources": self.resources.to_flat(),
            "executor_id": self.executor_id,
        }
        role = self.role()
        if role:
            task["role"] = role
        _copy_keys(self.info, task, ("command", "discovery"))
        return task


@dataclass
class Executor:
    framework_id: str
    info: dict
    kind: ExecutorKind
    container_id: str
    directory: str
    state: ExecutorState = ExecutorState.REGISTERING
    queued: dict[str, Task] = field(default_factory=dict)
    # Launches waiting for the executor to subscribe: (is a task group, task IDs).
    pending_launches: list[tuple[bool, list[str]]] = field(default_factory=list)
    tasks: dict[str, Task] = field(default_factory=dict)
    completed_tasks: deque[Task] = field(
        default_factory=lambda: deque(maxlen=MAX_COMPLETED_TASKS_PER_EXECUTOR)
    )
    resources: Resources = field(default_factory=Resources)
    runner: Any = None  # CommandExecutor or CustomExecutor

    @property
    def executor_id(self) -> str:
        return self.info["executor_id"]["value"]

    def live_tasks(self) -> list[Task]:
        """Queued and launched tasks that are not terminal yet."""
        return [t for t in (*self.queued.values(), *self.tasks.values()) if not t.terminal]

    def find(self, task_id: str) -> Task | None:
        return self.tasks.get(task_id) or self.queued.get(task_id)

    def used_resources(self) -> Resources:
        total = self.resources
        for task in self.live_tasks():
            total = total + task.resources
        return total

    def state_json(self, agent_id: str) -> dict:
        command = self.kind is ExecutorKind.COMMAND
        executor = {
            "id": self.executor_id,
            "name": self.info.get("name", ""),
            "source": self.info.get("source", ""),
            "container": self.container_id,
            "directory": self.directory,
            "resources": self.used_resources().to_flat(),
            "tasks": [t.state_json(agent_id, command) for t in self.tasks.values()],
            "queued_tasks": [t.queued_json(agent_id) for t in self.queued.values()],
            "completed_tasks": [t.state_json(agent_id, command) for t in self.completed_tasks],
        }
        _copy_keys(self.info, executor, ("labels", "type"))
        return executor


@dataclass
class Framework:
    info: dict
    executors: dict[str, Executor] = field(default_factory=dict)
    completed_executors: deque[Executor] = field(
        default_factory=lambda: deque(maxlen=MAX_COMPLETED_EXECUTORS_PER_FRAMEWORK)
    )
    terminating: bool = False

    @property
    def framework_id(self) -> str:
        return self.info["id"]["value"]

    def has_capability(self, name: str) -> bool:
        return any(
            isinstance(c, dict) and c.get("type") == name for c in self.info.get("capabilities", [])
        )

    def state_json(self, agent_id: str) -> dict:
        info = self.info
        framework = {
            "id": self.framework_id,
            "name": info.get("name", ""),
            "user": info.get("user", ""),
            "failover_timeout": info.get("failover_timeout", 0),
            "checkpoint": bool(info.get("checkpoint", False)),
            "hostname": info.get("hostname", ""),
            "executors": [e.state_json(agent_id) for e in self.executors.values()],
            "completed_executors": [e.state_json(agent_id) for e in self.completed_executors],
        }
        if info.get("principal"):
            framework["principal"] = info["principal"]
        if self.has_capability("MULTI_ROLE"):
            framework["roles"] = list(info.get("roles", []))
        else:
            framework["role"] = info.get("role", "*")
        if info.get("capabilities"):
            framework["capabilities"] = [c.get("type") for c in info["capabilities"]]
        return framework
