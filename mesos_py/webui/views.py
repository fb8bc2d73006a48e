"""What the web UI's pages show, computed from the master's in-memory records.

No I/O and no HTML: each function returns plain values for a template.  The
pages must stay fast with 1,000 agents and 10,000 tasks, so nothing here
serialises the whole state (as ``/master/state`` does): the overview only
counts, and every table is one page of at most ``MAX_PAGE`` rows.
"""

from __future__ import annotations

import collections
import urllib.parse
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from mesos_py.common.protocol import TERMINAL_STATES

SCALARS = ("cpus", "mem", "disk", "gpus")
PAGE = 50
MAX_PAGE = 500
# The order states are listed in (live first), then any other state alphabetically.
STATE_ORDER = (
    "TASK_STAGING",
    "TASK_STARTING",
    "TASK_RUNNING",
    "TASK_KILLING",
    "TASK_UNREACHABLE",
    "TASK_FINISHED",
    "TASK_FAILED",
    "TASK_KILLED",
    "TASK_LOST",
    "TASK_ERROR",
    "TASK_DROPPED",
    "TASK_GONE",
)


@dataclass(frozen=True)
class Page:
    """One slice of a longer list, and what the pager needs."""

    rows: list[Any]
    offset: int
    limit: int
    total: int

    @property
    def previous_offset(self) -> int | None:
        return max(0, self.offset - self.limit) if self.offset > 0 else None

    @property
    def next_offset(self) -> int | None:
        return self.offset + self.limit if self.offset + self.limit < self.total else None


def page_bounds(args: dict[str, str]) -> tuple[int, int]:
    """``offset`` and ``limit`` from query arguments, clamped; ValueError on garbage."""
    offset = int(args.get("offset", 0))
    limit = int(args.get("limit", PAGE))
    if offset < 0 or limit < 1:
        raise ValueError("offset must be >= 0 and limit >= 1")
    return offset, min(limit, MAX_PAGE)


def paginate(items: Iterable[Any], offset: int, limit: int) -> Page:
    items = list(items)
    return Page(items[offset : offset + limit], offset, limit, len(items))


def safe_url(url: str | None) -> str | None:
    """``url`` if it is an http(s) URL a page may link to; a framework's ``javascript:`` is not."""
    if not url:
        return None
    parsed = urllib.parse.urlsplit(url)
    return url if parsed.scheme in ("http", "https") and parsed.netloc else None


def ordered_states(counts: dict[str, int]) -> list[tuple[str, int]]:
    known = [(s, counts.get(s, 0)) for s in STATE_ORDER]
    others = sorted((s, n) for s, n in counts.items() if s not in STATE_ORDER)
    return known + others


def agent_address(agent: Any) -> str:
    """``ip:port`` of an agent's HTTP server."""
    return f"{agent.ip or agent.hostname}:{agent.info.get('port', 5051)}"


def agent_status(agent: Any) -> str:
    if not agent.connected:
        return "disconnected"
    return "active" if agent.active else "deactivated"


def drain_state(master: Any, agent: Any) -> str:
    """ "DRAINING" or "DRAINED" while the operator drains the agent, else ""."""
    drain = master.maintainer.drain_info(agent.agent_id)
    return drain["state"] if drain else ""


def _all_frameworks(master: Any) -> list[Any]:
    return [*master.frameworks.values(), *master.completed_frameworks]


def all_tasks(master: Any) -> Iterator[Any]:
    """Every task the master knows: live ones, then completed ones, framework by framework."""
    for framework in _all_frameworks(master):
        yield from framework.tasks.values()
        yield from framework.unreachable_tasks.values()
        yield from framework.completed_tasks


def _scalars(resources: Any) -> dict[str, float]:
    return {name: resources.scalar(name) for name in SCALARS}


def _zero() -> dict[str, int]:
    return dict.fromkeys(SCALARS, 0)


def _add(into: dict[str, int], resources: Any) -> None:
    """Add exact thousandths: one cached mapping per Resources (four scalar() calls cost 2x)."""
    for name, milli in resources.scalar_milli().items():
        if name in into:
            into[name] += milli


def _units(milli: dict[str, int]) -> dict[str, float]:
    return {name: value / 1000 for name, value in milli.items()}


def _agent_used(master: Any, agent: Any) -> dict[str, float]:
    used = _zero()
    for task in agent.tasks.values():
        if not task.terminal:
            _add(used, task.resources)
    for framework in master.frameworks.values():
        for _info, resources in framework.executors.get(agent.agent_id, {}).values():
            _add(used, resources)
    return _units(used)


def overview(master: Any) -> dict[str, Any]:
    """Counts and totals of the whole cluster (no per-agent or per-task rows)."""
    total, used, offered = _zero(), _zero(), _zero()
    agents = collections.Counter()
    for agent in master.agents.values():
        agents[agent_status(agent)] += 1
        _add(total, agent.total)
    for framework in master.frameworks.values():
        for task in framework.tasks.values():
            if not task.terminal:
                _add(used, task.resources)
        for executors in framework.executors.values():
            for _info, resources in executors.values():
                _add(used, resources)
    states = collections.Counter(task.state for task in all_tasks(master))
    for offer in master.offers.values():
        _add(offered, offer.resources)
    frameworks = sorted(master.frameworks.values(), key=lambda f: f.info.get("name", ""))
    return {
        "resources": [
            {
                "name": n,
                "total": total[n] / 1000,
                "used": used[n] / 1000,
                "offered": offered[n] / 1000,
            }
            for n in SCALARS
        ],
        "agents": {
            "active": agents["active"],
            "deactivated": agents["deactivated"],
            "disconnected": agents["disconnected"],
            "unreachable": len(master.unreachable_agents),
            "total": len(master.agents),
        },
        "frameworks": {
            "active": sum(1 for f in frameworks if f.active),
            "inactive": sum(1 for f in frameworks if not f.active),
            "completed": len(master.completed_frameworks),
            "rows": [framework_row(f) for f in frameworks[:PAGE]],
            "more": max(0, len(frameworks) - PAGE),
        },
        "tasks": {
            "states": [(s, n) for s, n in ordered_states(states) if n],
            "live": sum(n for s, n in states.items() if s not in TERMINAL_STATES),
            "total": sum(states.values()),
        },
        "offers": len(master.offers),
    }


def framework_row(framework: Any) -> dict[str, Any]:
    info = framework.info
    states = collections.Counter(t.state for t in framework.tasks.values())
    return {
        "id": framework.framework_id,
        "name": info.get("name", ""),
        "user": info.get("user", ""),
        "hostname": info.get("hostname", ""),
        "roles": framework.roles,
        "webui_url": safe_url(info.get("webui_url")),
        "active": framework.active,
        "connected": framework.connected,
        "live_tasks": sum(n for s, n in states.items() if s not in TERMINAL_STATES),
        "completed_tasks": len(framework.completed_tasks),
        "registered_time": framework.registered_time,
    }


def agent_row(master: Any, agent: Any) -> dict[str, Any]:
    return {
        "id": agent.agent_id,
        "hostname": agent.hostname,
        "address": agent_address(agent),
        "status": agent_status(agent),
        "drain": drain_state(master, agent),
        "total": _scalars(agent.total),
        "used": _agent_used(master, agent),
        "tasks": sum(1 for t in agent.tasks.values() if not t.terminal),
        "registered_time": agent.registered_time,
    }


def agents_page(master: Any, args: dict[str, str]) -> dict[str, Any]:
    """Agents sorted by hostname, optionally those whose hostname or ID contains ``q``."""
    offset, limit = page_bounds(args)
    wanted = args.get("q", "").strip().lower()
    agents = sorted(master.agents.values(), key=lambda a: (a.hostname, a.agent_id))
    if wanted:
        agents = [a for a in agents if wanted in a.hostname.lower() or wanted in a.agent_id]
    page = paginate(agents, offset, limit)
    rows = [agent_row(master, a) for a in page.rows]
    return {
        "page": Page(rows, page.offset, page.limit, page.total),
        "q": wanted,
        "unreachable": sorted(master.unreachable_agents),
    }


def task_row(task: Any) -> dict[str, Any]:
    return {
        "id": task.task_id,
        "name": task.name,
        "framework_id": task.framework_id,
        "agent_id": task.agent_id,
        "state": task.state,
        "cpus": task.resources.scalar("cpus"),
        "mem": task.resources.scalar("mem"),
        "started": task.statuses[0].get("timestamp") if task.statuses else None,
    }


def tasks_page(tasks: Iterable[Any], args: dict[str, str]) -> dict[str, Any]:
    """A page of tasks, filtered by ``state`` (e.g. TASK_RUNNING) when given."""
    offset, limit = page_bounds(args)
    state = args.get("state", "")
    if state:
        tasks = (t for t in tasks if t.state == state)
    page = paginate(tasks, offset, limit)
    return {
        "page": Page([task_row(t) for t in page.rows], offset, limit, page.total),
        "state": state,
    }


def agent_detail(master: Any, agent_id: str, args: dict[str, str]) -> dict[str, Any] | None:
    agent = master.agents.get(agent_id)
    if agent is None:
        return None
    live = list(agent.tasks.values())
    completed = [
        t for f in _all_frameworks(master) for t in f.completed_tasks if t.agent_id == agent_id
    ]
    return {
        "agent": agent_row(master, agent),
        "resources": agent.total.to_flat(),
        "attributes": sorted(_attributes(agent.info).items()),
        "version": agent.version,
        "tasks": tasks_page([*live, *completed], args),
    }


def _attributes(info: dict[str, Any]) -> dict[str, Any]:
    from mesos_py.common.attributes import attributes_flat

    return attributes_flat(info.get("attributes", []))


def find_framework(master: Any, framework_id: str) -> Any | None:
    framework = master.frameworks.get(framework_id)
    if framework is not None:
        return framework
    return next((f for f in master.completed_frameworks if f.framework_id == framework_id), None)


def frameworks_page(master: Any) -> dict[str, Any]:
    live = sorted(master.frameworks.values(), key=lambda f: f.info.get("name", ""))
    return {
        "frameworks": [framework_row(f) for f in live],
        "completed": [framework_row(f) for f in list(master.completed_frameworks)[-PAGE:]],
    }


def framework_detail(master: Any, framework_id: str, args: dict[str, str]) -> dict[str, Any] | None:
    framework = find_framework(master, framework_id)
    if framework is None:
        return None
    tasks = [
        *framework.tasks.values(),
        *framework.unreachable_tasks.values(),
        *reversed(framework.completed_tasks),
    ]
    return {"framework": framework_row(framework), "tasks": tasks_page(tasks, args)}


def find_task(master: Any, framework_id: str, task_id: str) -> Any | None:
    framework = find_framework(master, framework_id)
    if framework is None:
        return None
    task = framework.tasks.get(task_id) or framework.unreachable_tasks.get(task_id)
    if task is not None:
        return task
    return next((t for t in framework.completed_tasks if t.task_id == task_id), None)


def sandbox_path(task: Any) -> str:
    """The agent's virtual path of a task's sandbox (its executor's latest run).

    A command task's executor has the task's ID, as in Mesos.
    """
    executor = task.executor_id or task.task_id
    return f"/frameworks/{task.framework_id}/executors/{executor}/runs/latest"


def task_detail(master: Any, framework_id: str, task_id: str) -> dict[str, Any] | None:
    task = find_task(master, framework_id, task_id)
    if task is None:
        return None
    framework = find_framework(master, framework_id)
    agent = master.agents.get(task.agent_id)
    return {
        "task": task_row(task),
        "framework": framework_row(framework),
        "statuses": task.statuses,
        "message": (task.last_status or {}).get("message", ""),
        "resources": task.resources.to_flat(),
        "agent": agent_row(master, agent) if agent is not None else None,
        "sandbox": sandbox_path(task),
        "command": task.info.get("command", {}).get("value", ""),
    }
