"""Deployment planning: what a change does, and the next kills and launches of an app.

``plan_steps`` names the steps Marathon shows for a change.  ``converge`` is
the rule every deployment (and the steady state) follows: given the target
instance count, the app's current launch generation and its live tasks, it
says how many tasks to launch and which to kill, honouring
``upgradeStrategy`` while tasks of an older generation remain:

* minHealthy = ceil(n x minimumHealthCapacity): ready tasks never drop below it
  (unless fewer were ready to begin with);
* maxCapacity = floor(n x (1 + maximumOverCapacity)): live tasks never exceed
  it (one more when it equals minHealthy, or nothing could move).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import NamedTuple


class LiveTask(NamedTuple):
    """A task that is not terminal yet, as ``converge`` sees it (a tuple: cheap to make)."""

    task_id: str
    generation: str
    ready: bool  # running, and healthy when the app has health checks
    killing: bool = False  # a kill was already sent
    started: float = 0.0  # stage time, for killSelection


@dataclass
class Decision:
    launch: int = 0
    kill: list[str] = field(default_factory=list)


def plan_steps(old: dict | None, new: dict | None, scale_only: bool) -> list[list[dict]]:
    """Marathon's steps for a change of one app: ``[[{"action", "app"}], ...]``."""
    if new is None:
        return [[{"action": "StopApplication", "app": old["id"]}]] if old else []
    if old is None:
        return [
            [{"action": "StartApplication", "app": new["id"]}],
            [{"action": "ScaleApplication", "app": new["id"]}],
        ]
    action = "ScaleApplication" if scale_only else "RestartApplication"
    return [[{"action": action, "app": new["id"]}]]


def restart_bounds(instances: int, min_health: float, max_over: float) -> tuple[int, int]:
    """(minHealthy, maxCapacity) of a rolling replacement of ``instances`` tasks."""
    min_healthy = math.ceil(instances * min_health - 1e-9)
    max_capacity = math.floor(instances * (1 + max_over) + 1e-9)
    if max_capacity <= min_healthy:
        max_capacity = min_healthy + 1
    return min_healthy, max_capacity


def _kill_order(tasks: list[LiveTask], youngest_first: bool) -> list[LiveTask]:
    """Not-ready tasks go first, then by age as ``killSelection`` says."""
    return sorted(
        tasks,
        key=lambda t: (t.ready, -t.started if youngest_first else t.started),
    )


def converge(
    instances: int,
    generation: str,
    tasks: list[LiveTask],
    min_health: float = 1.0,
    max_over: float = 1.0,
    youngest_first: bool = True,
) -> Decision:
    """The launches and kills that move the app's tasks towards its target."""
    alive = [t for t in tasks if not t.killing]
    current = [t for t in alive if t.generation == generation]
    old = [t for t in alive if t.generation != generation]
    decision = Decision()
    if not any(t.generation != generation for t in tasks):
        if len(current) < instances:
            decision.launch = instances - len(current)
        elif len(current) > instances:
            surplus = _kill_order(current, youngest_first)[: len(current) - instances]
            decision.kill = [t.task_id for t in surplus]
        return decision
    min_healthy, max_capacity = restart_bounds(instances, min_health, max_over)
    ready = sum(1 for t in alive if t.ready)
    # Old tasks may go as long as the ready ones left stay at minHealthy.
    old_in_order = _kill_order(old, youngest_first)
    surplus_current = max(0, len(current) - instances)
    for task in old_in_order:
        if ready - (1 if task.ready else 0) >= min_healthy or not task.ready:
            decision.kill.append(task.task_id)
            ready -= 1 if task.ready else 0
    if surplus_current:
        extra = _kill_order(current, youngest_first)[:surplus_current]
        decision.kill += [t.task_id for t in extra]
    # Tasks being killed hold their resources until they end: all count against capacity.
    occupied = len(tasks)
    wanted = instances - min(len(current), instances)
    decision.launch = max(0, min(wanted, max_capacity - occupied))
    return decision


def is_complete(instances: int, generation: str, tasks: list[LiveTask]) -> bool:
    """A deployment is done when exactly the target number of current tasks are ready."""
    current_ready = [t for t in tasks if t.generation == generation and t.ready and not t.killing]
    return len(current_ready) == instances and len(tasks) == instances
