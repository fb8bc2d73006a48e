"""The master's books in the shapes of the v1 operator API's responses (``master.proto``).

Unlike ``state_json`` (the older ``/master/state`` shapes), these are
protobuf JSON: IDs are ``{"value": ...}``, resources are ``Resource`` lists,
times are ``TimeInfo`` (``{"nanoseconds": ...}``) and empty repeated fields
are left out.
"""

from __future__ import annotations

from typing import Any

from mesos_py.common.identity import BUILD_INFO
from mesos_py.common.protocol import ident
from mesos_py.master import state_json
from mesos_py.master.master import Master
from mesos_py.master.model import AgentRecord, Framework, Task


def _time(seconds: float) -> dict[str, int]:
    return {"nanoseconds": int(seconds * 1_000_000_000)}


def _non_empty(body: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in body.items() if value != []}


def task(item: Task) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": item.name,
        "task_id": ident(item.task_id),
        "framework_id": ident(item.framework_id),
        "agent_id": ident(item.agent_id),
        "state": item.state,
        "resources": item.resources.allocated_to(item.role).to_json(),
        "statuses": [
            {
                **{k: v for k, v in status.items() if v is not None},
                "task_id": ident(item.task_id),
                "agent_id": ident(item.agent_id),
            }
            for status in item.statuses
        ],
    }
    if item.executor_id:
        body["executor_id"] = ident(item.executor_id)
    for key in ("labels", "discovery", "container", "health_check", "kill_policy"):
        if key in item.info:
            body[key] = item.info[key]
    user = item.info.get("command", {}).get("user")
    if user:
        body["user"] = user
    return _non_empty(body)


def agent(master: Master, record: AgentRecord) -> dict[str, Any]:
    body: dict[str, Any] = {
        "agent_info": dict(record.info, id=ident(record.agent_id)),
        "active": record.connected and record.active,
        "deactivated": not record.active,
        "version": record.version,
        "pid": record.pid,
        "registered_time": _time(record.registered_time),
        "total_resources": record.total.to_json(),
        "allocated_resources": state_json.agent_used(master, record).to_json(),
        "offered_resources": state_json.agent_offered(master, record).to_json(),
    }
    if record.reregistered_time is not None:
        body["reregistered_time"] = _time(record.reregistered_time)
    drain_info = master.maintainer.drain_info(record.agent_id)
    if drain_info is not None:
        body["drain_info"] = drain_info
    return _non_empty(body)


def framework(master: Master, item: Framework) -> dict[str, Any]:
    body: dict[str, Any] = {
        "framework_info": item.info,
        "active": item.active,
        "connected": item.connected,
        "recovered": item.recovered,
        "registered_time": _time(item.registered_time),
        "offers": [master.offer_json(o) for o in item.offers.values()],
        "allocated_resources": state_json.framework_used(item).to_json(),
        "offered_resources": state_json.framework_offered(item).to_json(),
    }
    if item.reregistered_time is not None:
        body["reregistered_time"] = _time(item.reregistered_time)
    if item.unregistered_time is not None:
        body["unregistered_time"] = _time(item.unregistered_time)
    return _non_empty(body)


def get_agents(master: Master) -> dict[str, Any]:
    return _non_empty(
        {
            "agents": [agent(master, a) for a in master.agents.values()],
            "recovered_agents": list(master.recovered_agents.values()),
        }
    )


def get_frameworks(master: Master) -> dict[str, Any]:
    return _non_empty(
        {
            "frameworks": [framework(master, f) for f in master.frameworks.values()],
            "completed_frameworks": [framework(master, f) for f in master.completed_frameworks],
        }
    )


def get_tasks(master: Master) -> dict[str, Any]:
    frameworks = list(master.frameworks.values()) + list(master.completed_frameworks)
    return _non_empty(
        {
            "tasks": [task(t) for f in master.frameworks.values() for t in f.tasks.values()],
            "unreachable_tasks": [
                task(t) for f in frameworks for t in f.unreachable_tasks.values()
            ],
            "completed_tasks": [task(t) for f in frameworks for t in f.completed_tasks],
        }
    )


def get_executors(master: Master) -> dict[str, Any]:
    return _non_empty(
        {
            "executors": [
                {"executor_info": info, "agent_id": ident(agent_id)}
                for f in master.frameworks.values()
                for agent_id, executors in f.executors.items()
                for info, _resources in executors.values()
            ]
        }
    )


def get_state(master: Master) -> dict[str, Any]:
    return {
        "get_tasks": get_tasks(master),
        "get_executors": get_executors(master),
        "get_frameworks": get_frameworks(master),
        "get_agents": get_agents(master),
    }


def get_master(master: Master) -> dict[str, Any]:
    body: dict[str, Any] = {"master_info": master.master_info, "start_time": master.start_time}
    if master.elected_time is not None:
        body["elected_time"] = master.elected_time
    return body


def get_version() -> dict[str, Any]:
    return {"version_info": dict(BUILD_INFO)}


def get_flags(master: Master) -> dict[str, Any]:
    return {"flags": [{"name": k, "value": v} for k, v in sorted(master.flags.items())]}


def get_metrics(master: Master) -> dict[str, Any]:
    return {
        "metrics": [{"name": k, "value": v} for k, v in sorted(state_json.metrics(master).items())]
    }
