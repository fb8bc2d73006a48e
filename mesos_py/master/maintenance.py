"""Maintenance schedules, machine modes and drain configs (pure, no I/O).

Mesos' maintenance model (docs/maintenance.md): an operator posts a schedule
of windows, each a list of machines and an unavailability (start, optional
duration).  A scheduled machine is DRAINING: its agents' offers carry the
unavailability.  ``machine/down`` moves DRAINING machines to DOWN (their
agents are removed and may not come back), ``machine/up`` moves DOWN machines
back to UP and out of the schedule.  Everything here works on plain JSON
values and raises ``MaintenanceError`` with Mesos' messages for bad input.

A machine is ``(hostname, ip)``, the hostname lower-cased as Mesos does.  A
machine given with only one of the two matches every agent with that one.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

UP, DRAINING, DOWN = "UP", "DRAINING", "DOWN"
DRAIN_STATES = ("DRAINING", "DRAINED")

Machine = tuple[str, str]  # (hostname, ip); either may be "", not both


class MaintenanceError(ValueError):
    """Input Mesos would answer 400 Bad Request to; the message says why."""


def machine_json(machine: Machine) -> dict[str, str]:
    """A MachineID as Mesos writes it: only the fields that are set."""
    hostname, ip = machine
    body = {}
    if hostname:
        body["hostname"] = hostname
    if ip:
        body["ip"] = ip
    return body


def _describe(machine: Machine) -> str:
    return json.dumps(machine_json(machine), separators=(",", ":"))


def parse_machine(value: Any) -> Machine:
    if not isinstance(value, dict):
        raise MaintenanceError("Expecting a machine to be a JSON object")
    hostname, ip = value.get("hostname", ""), value.get("ip", "")
    if not isinstance(hostname, str) or not isinstance(ip, str):
        raise MaintenanceError("Expecting 'hostname' and 'ip' of a machine to be strings")
    if not hostname and not ip:
        raise MaintenanceError("Both 'hostname' and 'ip' for a machine are empty")
    if ip:
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            raise MaintenanceError(f"Failed to parse IP address '{ip}'") from None
    return hostname.lower(), ip


def parse_machines(value: Any, what: str = "list") -> tuple[Machine, ...]:
    """A non-empty list of distinct machines (``/machine/down``, ``/machine/up``, a window)."""
    if not isinstance(value, list):
        raise MaintenanceError("Expecting a JSON array of machines")
    if not value:
        raise MaintenanceError(
            "List of machines is empty"
            if what == "list"
            else "List of machines in the maintenance window is empty"
        )
    machines = tuple(parse_machine(item) for item in value)
    seen: set[Machine] = set()
    for machine in machines:
        if machine in seen:
            raise MaintenanceError(
                f"Machine '{_describe(machine)}' appears more than once in {what}"
            )
        seen.add(machine)
    return machines


def _nanoseconds(value: Any, what: str) -> int:
    nanos = value.get("nanoseconds") if isinstance(value, dict) else None
    if isinstance(nanos, str):  # protobuf JSON also takes 64-bit integers as strings
        try:
            nanos = int(nanos)
        except ValueError:
            nanos = None
    if not isinstance(nanos, int) or isinstance(nanos, bool):
        raise MaintenanceError(f"Expecting '{what}.nanoseconds' to be an integer")
    return nanos


def parse_unavailability(value: Any) -> dict[str, Any]:
    """An Unavailability, normalised: ``start`` required, ``duration`` >= 0 if given."""
    if not isinstance(value, dict):
        raise MaintenanceError("Expecting 'unavailability' to be present in a window")
    body: dict[str, Any] = {"start": {"nanoseconds": _nanoseconds(value.get("start"), "start")}}
    if "duration" in value:
        duration = _nanoseconds(value["duration"], "duration")
        if duration < 0:
            raise MaintenanceError("Unavailability 'duration' is negative")
        body["duration"] = {"nanoseconds": duration}
    return body


@dataclass(frozen=True)
class Window:
    machines: tuple[Machine, ...]
    unavailability: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "machine_ids": [machine_json(m) for m in self.machines],
            "unavailability": self.unavailability,
        }


def parse_schedule(value: Any) -> tuple[Window, ...]:
    """A maintenance Schedule ``{"windows": [...]}``; a machine may be in one window only."""
    if not isinstance(value, dict):
        raise MaintenanceError("Expecting the schedule to be a JSON object")
    raw_windows = value.get("windows", [])
    if not isinstance(raw_windows, list):
        raise MaintenanceError("Expecting 'windows' to be an array")
    windows = []
    seen: set[Machine] = set()
    for raw in raw_windows:
        if not isinstance(raw, dict):
            raise MaintenanceError("Expecting each window to be a JSON object")
        machines = parse_machines(raw.get("machine_ids", []), "the window")
        for machine in machines:
            if machine in seen:
                raise MaintenanceError(
                    f"Machine '{_describe(machine)}' appears more than once in the schedule"
                )
            seen.add(machine)
        windows.append(Window(machines, parse_unavailability(raw.get("unavailability"))))
    return tuple(windows)


@dataclass(frozen=True)
class Maintenance:
    """The schedule and which scheduled machines are DOWN; immutable, changes return anew."""

    windows: tuple[Window, ...] = ()
    down: frozenset[Machine] = frozenset()

    # ------------------------------------------------------------- queries

    def _window_of(self, machine: Machine) -> Window | None:
        return next((w for w in self.windows if machine in w.machines), None)

    def mode(self, machine: Machine) -> str:
        if machine in self.down:
            return DOWN
        return DRAINING if self._window_of(machine) is not None else UP

    def machine_of(self, hostname: str, ip: str) -> Machine | None:
        """The scheduled machine an agent at ``hostname``/``ip`` is on, if any."""
        hostname = hostname.lower()
        for candidate in ((hostname, ip), (hostname, ""), ("", ip)):
            if any(candidate) and self._window_of(candidate) is not None:
                return candidate
        return None

    def agent_mode(self, hostname: str, ip: str) -> str:
        machine = self.machine_of(hostname, ip)
        return UP if machine is None else self.mode(machine)

    def unavailability(self, hostname: str, ip: str) -> dict[str, Any] | None:
        """What offers of an agent on a DRAINING machine carry (Offer.unavailability)."""
        machine = self.machine_of(hostname, ip)
        if machine is None or machine in self.down:
            return None
        window = self._window_of(machine)
        return window.unavailability if window is not None else None

    def schedule_json(self) -> dict[str, Any]:
        """The Schedule as ``GET /master/maintenance/schedule`` answers (``{}`` when empty)."""
        return {"windows": [w.to_json() for w in self.windows]} if self.windows else {}

    def status_json(self) -> dict[str, Any]:
        """The ClusterStatus of ``GET /master/maintenance/status`` (empty lists omitted)."""
        draining = [
            {"id": machine_json(m)} for w in self.windows for m in w.machines if m not in self.down
        ]
        down = [machine_json(m) for w in self.windows for m in w.machines if m in self.down]
        body: dict[str, Any] = {}
        if draining:
            body["draining_machines"] = draining
        if down:
            body["down_machines"] = down
        return body

    # ------------------------------------------------------------- changes

    def with_schedule(self, windows: tuple[Window, ...]) -> Maintenance:
        scheduled = {m for w in windows for m in w.machines}
        for machine in sorted(self.down):
            if machine not in scheduled:
                raise MaintenanceError(
                    f"Machine '{_describe(machine)}' is deactivated and cannot be removed "
                    "from the schedule"
                )
        return Maintenance(windows, self.down)

    def start(self, machines: Iterable[Machine]) -> Maintenance:
        """``machine/down``: every machine must be scheduled and DRAINING."""
        machines = tuple(machines)
        for machine in machines:
            if self._window_of(machine) is None:
                raise MaintenanceError(
                    f"Machine '{_describe(machine)}' is not part of a maintenance schedule"
                )
            if machine in self.down:
                raise MaintenanceError(
                    f"Machine '{_describe(machine)}' is not in DRAINING mode and cannot be "
                    "brought down"
                )
        return Maintenance(self.windows, self.down | set(machines))

    def stop(self, machines: Iterable[Machine]) -> Maintenance:
        """``machine/up``: every machine must be DOWN; it leaves the schedule (mode UP)."""
        machines = frozenset(machines)
        for machine in sorted(machines):
            if self._window_of(machine) is None:
                raise MaintenanceError(
                    f"Machine '{_describe(machine)}' is not part of a maintenance schedule"
                )
            if machine not in self.down:
                raise MaintenanceError(
                    f"Machine '{_describe(machine)}' is not in DOWN mode and cannot be brought up"
                )
        windows = []
        for window in self.windows:
            remaining = tuple(m for m in window.machines if m not in machines)
            if remaining:
                windows.append(Window(remaining, window.unavailability))
        return Maintenance(tuple(windows), self.down - machines)

    # ------------------------------------------------------------ registry

    def to_registry(self) -> dict[str, Any]:
        body = self.schedule_json()
        if self.down:
            body["down_machines"] = [machine_json(m) for m in sorted(self.down)]
        return body

    @classmethod
    def from_registry(cls, document: dict[str, Any]) -> Maintenance:
        """What ``to_registry`` wrote (raises MaintenanceError if it is not that)."""
        windows = parse_schedule({"windows": document.get("windows", [])})
        down = document.get("down_machines", [])
        return cls(windows, frozenset(parse_machines(down)) if down else frozenset())


# -------------------------------------------------------------------- draining


def parse_drain_config(body: Any) -> dict[str, Any]:
    """DRAIN_AGENT's DrainConfig: ``max_grace_period`` (>= 0) and ``mark_gone``, normalised."""
    config: dict[str, Any] = {"mark_gone": False}
    if "max_grace_period" in body:
        grace = _nanoseconds(body["max_grace_period"], "max_grace_period")
        if grace < 0:
            raise MaintenanceError("'max_grace_period' must not be negative")
        config["max_grace_period"] = {"nanoseconds": grace}
    mark_gone = body.get("mark_gone", False)
    if not isinstance(mark_gone, bool):
        raise MaintenanceError("Expecting 'mark_gone' to be a boolean")
    config["mark_gone"] = mark_gone
    return config


def kill_grace_nanoseconds(task_info: dict[str, Any], config: dict[str, Any]) -> int | None:
    """The grace period a draining agent's task is killed with: min(its own, the maximum)."""
    limit = config.get("max_grace_period", {}).get("nanoseconds")
    policy = task_info.get("kill_policy")
    own = None
    if isinstance(policy, dict) and isinstance(policy.get("grace_period"), dict):
        value = policy["grace_period"].get("nanoseconds")
        own = value if isinstance(value, int) and not isinstance(value, bool) else None
    if limit is None:
        return own
    return limit if own is None else min(own, limit)
