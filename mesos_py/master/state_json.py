"""The master's state in the JSON shapes of Mesos' operator endpoints."""

from __future__ import annotations

import collections
import itertools
import os
from typing import Any

from mesos_py.common.identity import BUILD_INFO
from mesos_py.common.protocol import SUMMARY_STATES
from mesos_py.common.resources import Resources
from mesos_py.master.master import Master
from mesos_py.master.model import AgentRecord, Framework, Task


def task_json(task: Task) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": task.task_id,
        "name": task.name,
        "framework_id": task.framework_id,
        "executor_id": task.executor_id,
        "slave_id": task.agent_id,
        "state": task.state,
        "resources": task.resources.to_flat(),
        "role": task.role,
        "statuses": task.statuses,
    }
    for key in ("labels", "discovery", "container", "health_check"):
        if key in task.info:
            body[key] = task.info[key]
    user = task.info.get("command", {}).get("user")
    if user:
        body["user"] = user
    return body


def known_tasks(framework: Framework) -> list[Task]:
    """Live, unreachable, then completed tasks: what ``/master/tasks`` lists."""
    return [
        *framework.tasks.values(),
        *framework.unreachable_tasks.values(),
        *framework.completed_tasks,
    ]


def framework_summary(framework: Framework) -> dict[str, Any]:
    info = framework.info
    used = framework_used(framework)
    offered = framework_offered(framework)
    body = {
        "id": framework.framework_id,
        "name": info.get("name", ""),
        "hostname": info.get("hostname", ""),
        "webui_url": info.get("webui_url", ""),
        "capabilities": [c.get("type") for c in info.get("capabilities", [])],
        "active": framework.active,
        "connected": framework.connected,
        "recovered": framework.recovered,
        "user": info.get("user", ""),
        "failover_timeout": info.get("failover_timeout", 0),
        "checkpoint": info.get("checkpoint", False),
        "registered_time": framework.registered_time,
        "unregistered_time": framework.unregistered_time or 0,
        "used_resources": used.to_flat(),
        "offered_resources": offered.to_flat(),
        "resources": (used + offered).to_flat(),
    }
    if framework.reregistered_time is not None:
        body["reregistered_time"] = framework.reregistered_time
    if "principal" in info:
        body["principal"] = info["principal"]
    if framework.has_capability("MULTI_ROLE"):
        body["roles"] = framework.roles
    else:
        body["role"] = framework.roles[0]
    return body


def framework_json(framework: Framework) -> dict[str, Any]:
    body = framework_summary(framework)
    body["tasks"] = [task_json(t) for t in framework.tasks.values()]
    body["unreachable_tasks"] = [task_json(t) for t in framework.unreachable_tasks.values()]
    body["completed_tasks"] = [task_json(t) for t in framework.completed_tasks]
    body["offers"] = [
        {
            "id": o.offer_id,
            "framework_id": o.framework_id,
            "slave_id": o.agent_id,
            "allocation_info": {"role": o.role},
            "resources": o.resources.to_flat(),
        }
        for o in framework.offers.values()
    ]
    body["executors"] = [
        {
            "executor_id": executor_id,
            "name": info.get("name", ""),
            "framework_id": framework.framework_id,
            "command": info.get("command", {}),
            "resources": resources.to_flat(),
            "slave_id": agent_id,
            "type": info.get("type", "CUSTOM"),
        }
        for agent_id, executors in framework.executors.items()
        for executor_id, (info, resources) in executors.items()
    ]
    if "labels" in framework.info:
        body["labels"] = framework.info["labels"]
    return body


def _attributes_flat(info: dict[str, Any]) -> dict[str, Any]:
    from mesos_py.common.attributes import attributes_flat

    return attributes_flat(info.get("attributes", []))


def agent_used(master: Master, agent: AgentRecord) -> Resources:
    """What the agent's live tasks and executors hold."""
    tasks = (t.resources for t in agent.tasks.values() if not t.terminal)
    executors = (
        r
        for framework in master.frameworks.values()
        for _, r in framework.executors.get(agent.agent_id, {}).values()
    )
    return Resources.total(itertools.chain(tasks, executors))


def agent_offered(master: Master, agent: AgentRecord) -> Resources:
    return Resources.total(master.offers[o].resources for o in agent.offers)


def framework_used(framework: Framework) -> Resources:
    """What the framework's live tasks and executors hold."""
    tasks = (t.resources for t in framework.tasks.values() if not t.terminal)
    executors = (r for running in framework.executors.values() for _, r in running.values())
    return Resources.total(itertools.chain(tasks, executors))


def framework_offered(framework: Framework) -> Resources:
    return Resources.total(o.resources for o in framework.offers.values())


def agent_json(master: Master, agent: AgentRecord) -> dict[str, Any]:
    used = agent_used(master, agent)
    offered = agent_offered(master, agent)
    body = {
        "id": agent.agent_id,
        "pid": agent.pid,
        "hostname": agent.hostname,
        "port": agent.info.get("port", 5051),
        "registered_time": agent.registered_time,
        "resources": agent.total.to_flat(),
        "used_resources": used.to_flat(),
        "offered_resources": offered.to_flat(),
        "reserved_resources": {
            role: resources.to_flat() for role, resources in agent.total.reserved_by_role().items()
        },
        "unreserved_resources": agent.total.unreserved().to_flat(),
        "attributes": _attributes_flat(agent.info),
        "active": agent.connected and agent.active,
        "deactivated": not agent.active,
        "version": agent.version,
        "capabilities": [],
    }
    if agent.reregistered_time is not None:
        body["reregistered_time"] = agent.reregistered_time
    drain_info = master.maintainer.drain_info(agent.agent_id)
    if drain_info is not None:
        body["drain_info"] = drain_info
    return body


def _build_and_identity(master: Master) -> dict[str, Any]:
    body = dict(BUILD_INFO)
    body.update(
        {
            "start_time": master.start_time,
            "id": master.master_id,
            "pid": master.pid,
            "hostname": master.config.hostname,
            "capabilities": ["AGENT_UPDATE"],
        }
    )
    if master.config.cluster:
        body["cluster"] = master.config.cluster
    return body


def state(master: Master, leader: dict[str, Any] | None) -> dict[str, Any]:
    body = _build_and_identity(master)
    if master.elected_time is not None:
        body["elected_time"] = master.elected_time
    if leader is not None:
        body["leader"] = leader["pid"]
        body["leader_info"] = {
            key: leader[key] for key in ("id", "pid", "port", "hostname") if key in leader
        }
    agents = list(master.agents.values())
    body.update(
        {
            "activated_slaves": sum(1 for a in agents if a.connected and a.active),
            "deactivated_slaves": sum(1 for a in agents if not (a.connected and a.active)),
            "unreachable_slaves": len(master.unreachable_agents),
            "flags": master.flags,
            "slaves": [agent_json(master, a) for a in agents],
            "recovered_slaves": list(master.recovered_agents.values()),
            "frameworks": [framework_json(f) for f in master.frameworks.values()],
            "completed_frameworks": [framework_json(f) for f in master.completed_frameworks],
            "orphan_tasks": [],
            "unregistered_frameworks": [],
        }
    )
    return body


def state_summary(master: Master) -> dict[str, Any]:
    agent_counts: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    agent_frameworks: dict[str, set] = collections.defaultdict(set)
    framework_counts: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    framework_agents: dict[str, set] = collections.defaultdict(set)
    for framework in master.frameworks.values():
        for task in known_tasks(framework):
            agent_counts[task.agent_id][task.state] += 1
            framework_counts[framework.framework_id][task.state] += 1
            agent_frameworks[task.agent_id].add(framework.framework_id)
            framework_agents[framework.framework_id].add(task.agent_id)
    slaves = []
    for agent in master.agents.values():
        entry = agent_json(master, agent)
        entry.update({s: agent_counts[agent.agent_id][s] for s in SUMMARY_STATES})
        entry["framework_ids"] = sorted(agent_frameworks[agent.agent_id])
        slaves.append(entry)
    frameworks = []
    for framework in master.frameworks.values():
        entry = framework_summary(framework)
        entry.update({s: framework_counts[framework.framework_id][s] for s in SUMMARY_STATES})
        entry["slave_ids"] = sorted(framework_agents[framework.framework_id])
        frameworks.append(entry)
    body = {"hostname": master.config.hostname, "slaves": slaves, "frameworks": frameworks}
    if master.config.cluster:
        body["cluster"] = master.config.cluster
    return body


def tasks(master: Master, args: dict[str, str]) -> dict[str, Any]:
    """``/master/tasks`` with Mesos' limit/offset/order/framework_id/task_id parameters."""
    limit = int(args.get("limit", 100))
    offset = int(args.get("offset", 0))
    order = args.get("order", "des")
    if limit < 0 or offset < 0 or order not in ("asc", "des"):
        raise ValueError("limit and offset must be >= 0 and order 'asc' or 'des'")
    selected = []
    for framework in list(master.frameworks.values()) + list(master.completed_frameworks):
        if args.get("framework_id") not in (None, framework.framework_id):
            continue
        for task in known_tasks(framework):
            if args.get("task_id") not in (None, task.task_id):
                continue
            selected.append(task)

    def started(task: Task) -> float:
        return (task.statuses[0].get("timestamp") or 0) if task.statuses else 0

    selected.sort(key=started, reverse=order == "des")
    return {"tasks": [task_json(t) for t in selected[offset : offset + limit]]}


def metrics(master: Master) -> dict[str, float]:
    """``/metrics/snapshot``: Mesos' master metric names."""
    agents = list(master.agents.values())
    frameworks = list(master.frameworks.values())
    total = Resources.total(a.total for a in agents)
    used = Resources.total(
        t.resources for f in frameworks for t in f.tasks.values() if not t.terminal
    )
    states = collections.Counter(t.state for f in frameworks for t in f.tasks.values())
    body: dict[str, float] = {
        "master/elected": 1.0 if master.elected_time is not None else 0.0,
        "master/uptime_secs": max(0.0, master.clock.seconds() - master.start_time)
        if master.clock.seconds() > 1e9
        else 0.0,
        "master/slaves_active": float(sum(1 for a in agents if a.connected and a.active)),
        "master/slaves_connected": float(sum(1 for a in agents if a.connected)),
        "master/slaves_disconnected": float(sum(1 for a in agents if not a.connected)),
        "master/slaves_inactive": float(sum(1 for a in agents if not a.active)),
        "master/slaves_unreachable": float(len(master.unreachable_agents)),
        "registrar/registry_size_bytes": float(master.registrar.size),
        "master/frameworks_active": float(sum(1 for f in frameworks if f.active)),
        "master/frameworks_inactive": float(sum(1 for f in frameworks if not f.active)),
        "master/frameworks_connected": float(sum(1 for f in frameworks if f.connected)),
        "master/frameworks_disconnected": float(sum(1 for f in frameworks if not f.connected)),
        "master/outstanding_offers": float(len(master.offers)),
        "allocator/mesos/allocation_runs": float(master.metrics["allocator/mesos/allocation_runs"]),
    }
    for name in ("cpus", "mem", "disk", "gpus"):
        t, u = total.scalar(name), used.scalar(name)
        body[f"master/{name}_total"] = t
        body[f"master/{name}_used"] = u
        body[f"master/{name}_percent"] = u / t if t else 0.0
    for state_name in ("staging", "starting", "running", "killing"):
        body[f"master/tasks_{state_name}"] = float(states[f"TASK_{state_name.upper()}"])
    for state_name in ("finished", "failed", "killed", "lost", "error", "dropped", "gone"):
        body[f"master/tasks_{state_name}"] = float(master.metrics[f"master/tasks_{state_name}"])
    body["master/tasks_unreachable"] = float(
        sum(
            1
            for f in frameworks
            for t in f.unreachable_tasks.values()
            if t.state == "TASK_UNREACHABLE"
        )
    )
    for key, value in master.metrics.items():
        if key.startswith("master/") and key not in body and not key.startswith("master/tasks_"):
            body[key] = float(value)
    if master.registrar.fetch_ms is not None:
        body["registrar/state_fetch_ms"] = master.registrar.fetch_ms
    if master.allocation_run_ms:
        runs = sorted(master.allocation_run_ms)
        body["allocator/mesos/allocation_run_ms"] = master.allocation_run_ms[-1]
        body["allocator/mesos/allocation_run_ms/count"] = float(len(runs))
        body["allocator/mesos/allocation_run_ms/min"] = runs[0]
        body["allocator/mesos/allocation_run_ms/max"] = runs[-1]
        body["allocator/mesos/allocation_run_ms/p50"] = runs[len(runs) // 2]
        body["allocator/mesos/allocation_run_ms/p99"] = runs[
            min(len(runs) - 1, len(runs) * 99 // 100)
        ]
    for framework in frameworks:
        prefix = f"master/frameworks/{framework.info.get('name', '')}/{framework.framework_id}"
        body[f"{prefix}/subscribed"] = 1.0 if framework.connected else 0.0
        for key, value in framework.counters.items():
            body[f"{prefix}/{key}"] = float(value)
    load = os.getloadavg()
    body.update(
        {
            "system/cpus_total": float(os.cpu_count() or 1),
            "system/load_1min": load[0],
            "system/load_5min": load[1],
            "system/load_15min": load[2],
        }
    )
    return body
