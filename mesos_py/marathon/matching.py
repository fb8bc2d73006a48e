"""Fitting app instances into an offer and writing their TaskInfo.

``OfferBudget`` is what is left of one offer while several tasks are packed
into it; ``task_info`` is the v1 TaskInfo with Marathon's environment
(``HOST``, ``PORT0..n``, ``PORT``, ``PORTS``, ``PORT_<NAME>``,
``MARATHON_APP_*``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

SCALARS = ("cpus", "mem", "disk", "gpus")


@dataclass
class Claim:
    """What one task takes from an offer."""

    resources: list[dict[str, Any]]
    host_ports: list[int]


@dataclass
class OfferBudget:
    """The unclaimed part of an offer, and what each resource item looked like."""

    scalars: dict[str, float] = field(default_factory=dict)
    ports: list[list[int]] = field(default_factory=list)  # [[begin, end], ...]
    templates: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def of(cls, offer: dict[str, Any], roles: list[str] | None = None) -> OfferBudget:
        budget = cls()
        for item in offer.get("resources", []):
            if item.get("reservations") or item.get("reservation"):
                continue  # reserved resources need a matching reservation: not used
            role = item.get("allocation_info", {}).get("role", item.get("role", "*"))
            if roles is not None and role not in roles:
                continue
            name = item.get("name")
            template = {
                k: v for k, v in item.items() if k in ("allocation_info", "role") and v is not None
            }
            if name in SCALARS and item.get("type") == "SCALAR":
                budget.scalars[name] = budget.scalars.get(name, 0.0) + item["scalar"]["value"]
                budget.templates.setdefault(name, template)
            elif name == "ports" and item.get("type") == "RANGES":
                for r in item["ranges"].get("range", []):
                    budget.ports.append([int(r["begin"]), int(r["end"])])
                budget.templates.setdefault(name, template)
        budget.ports.sort()
        return budget

    def claim(self, app: dict[str, Any]) -> Claim | None:
        """Take what one instance of ``app`` needs, or None (leaving the budget as it was)."""
        needs = {name: float(app.get(name) or 0) for name in SCALARS}
        if any(self.scalars.get(n, 0.0) + 1e-9 < amount for n, amount in needs.items() if amount):
            return None
        host_ports = self._pick_ports(app)
        if host_ports is None:
            return None
        resources = []
        for name, amount in needs.items():
            if amount:
                self.scalars[name] -= amount
                resources.append(
                    {
                        "name": name,
                        "type": "SCALAR",
                        "scalar": {"value": amount},
                        **self.templates.get(name, {}),
                    }
                )
        for port in host_ports:
            self._remove_port(port)
        if host_ports:
            resources.append(
                {
                    "name": "ports",
                    "type": "RANGES",
                    "ranges": {"range": [{"begin": p, "end": p} for p in host_ports]},
                    **self.templates.get("ports", {}),
                }
            )
        return Claim(resources, host_ports)

    def _pick_ports(self, app: dict[str, Any]) -> list[int] | None:
        wanted = [d.get("port", 0) for d in app.get("portDefinitions", [])]
        if app.get("requirePorts"):
            return wanted if all(self._has_port(p) for p in wanted) else None
        chosen: list[int] = []
        for begin, end in self.ports:
            port = begin
            while port <= end and len(chosen) < len(wanted):
                chosen.append(port)
                port += 1
            if len(chosen) == len(wanted):
                return chosen
        return chosen if len(chosen) == len(wanted) else None

    def _has_port(self, port: int) -> bool:
        return any(begin <= port <= end for begin, end in self.ports)

    def _remove_port(self, port: int) -> None:
        for index, (begin, end) in enumerate(self.ports):
            if begin <= port <= end:
                pieces = [[begin, port - 1], [port + 1, end]]
                self.ports[index : index + 1] = [p for p in pieces if p[0] <= p[1]]
                return


def _env_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", text).upper()


def task_environment(app: dict[str, Any], task_id: str, host: str, ports: list[int]) -> dict:
    env: dict[str, str] = {
        "MESOS_TASK_ID": task_id,
        "MARATHON_APP_ID": app["id"],
        "MARATHON_APP_VERSION": app.get("version", ""),
        "MARATHON_APP_RESOURCE_CPUS": str(app["cpus"]),
        "MARATHON_APP_RESOURCE_MEM": str(app["mem"]),
        "MARATHON_APP_RESOURCE_DISK": str(app["disk"]),
        "MARATHON_APP_RESOURCE_GPUS": str(app.get("gpus", 0)),
        "MARATHON_APP_LABELS": " ".join(_env_name(k) for k in sorted(app.get("labels", {}))),
        "HOST": host,
    }
    for key, value in app.get("labels", {}).items():
        env[f"MARATHON_APP_LABEL_{_env_name(key)}"] = value
    if ports:
        env["PORT"] = str(ports[0])
        env["PORTS"] = ",".join(str(p) for p in ports)
    for index, port in enumerate(ports):
        env[f"PORT{index}"] = str(port)
        definitions = app.get("portDefinitions", [])
        if index < len(definitions) and definitions[index].get("name"):
            env[f"PORT_{_env_name(definitions[index]['name'])}"] = str(port)
    env.update(app.get("env", {}))
    return env


def task_info(app: dict[str, Any], task_id: str, offer: dict[str, Any], claim: Claim) -> dict:
    """The v1 TaskInfo launching one instance of ``app`` with ``claim`` from ``offer``."""
    env = task_environment(app, task_id, offer.get("hostname", ""), claim.host_ports)
    command: dict[str, Any] = {
        "environment": {"variables": [{"name": k, "value": v} for k, v in env.items()]}
    }
    if app.get("args"):
        command.update(shell=False, value=app["args"][0], arguments=list(app["args"]))
    else:
        command.update(shell=True, value=app.get("cmd") or "")
    uris = [{"value": u} for u in app.get("uris", [])]
    uris += [
        {
            "value": f["uri"],
            "executable": bool(f.get("executable", False)),
            "extract": bool(f.get("extract", True)),
            "cache": bool(f.get("cache", False)),
        }
        for f in app.get("fetch", [])
    ]
    if uris:
        command["uris"] = uris
    if app.get("user"):
        command["user"] = app["user"]
    info: dict[str, Any] = {
        "name": app["id"].strip("/").replace("/", "."),
        "task_id": {"value": task_id},
        "agent_id": offer["agent_id"],
        "resources": claim.resources,
        "command": command,
    }
    if app.get("labels"):
        info["labels"] = {"labels": [{"key": k, "value": v} for k, v in app["labels"].items()]}
    if app.get("taskKillGracePeriodSeconds"):
        nanos = int(app["taskKillGracePeriodSeconds"] * 1e9)
        info["kill_policy"] = {"grace_period": {"nanoseconds": nanos}}
    return info
