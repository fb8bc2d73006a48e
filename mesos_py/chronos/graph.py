"""The job dependency graph: checks, readiness, re-parenting and ``graph/csv``; pure.

The graph is read off the jobs themselves (each dependent job lists its
parents), so there is nothing to keep in sync.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from mesos_py.chronos.jobs import Job, bad_request


def children_of(jobs: Mapping[str, Job], name: str) -> list[str]:
    return children_index(jobs).get(name, [])


def children_index(jobs: Mapping[str, Job]) -> dict[str, list[str]]:
    """Each parent's children, sorted: built once, not scanned for per success."""
    index: dict[str, list[str]] = {}
    for job in sorted(jobs.values(), key=lambda j: j.name):
        for parent in job.parents or []:
            index.setdefault(parent, []).append(job.name)
    return index


def check_parents(jobs: Mapping[str, Job], job: Job) -> None:
    """Raise 400 when ``job`` (about to be stored) names unknown parents or closes a cycle."""
    if job.parents is None:
        return
    unknown = [p for p in job.parents if p not in jobs]
    if unknown:
        raise bad_request(f"Job '{job.name}': unknown parent job(s): {', '.join(unknown)}")
    # A cycle through ``job`` exists if ``job`` is an ancestor of one of its new parents.
    stack, seen = list(job.parents), set()
    while stack:
        current = stack.pop()
        if current == job.name:
            raise bad_request(
                f"Job '{job.name}': parents {', '.join(job.parents)} would make a dependency cycle"
            )
        if current in seen:
            continue
        seen.add(current)
        parent = jobs.get(current)
        if parent is not None and parent.parents:
            stack.extend(parent.parents)


def reparent_after_delete(jobs: Mapping[str, Job], deleted: Job) -> list[Job]:
    """The children of ``deleted``, changed as Chronos does when it goes.

    A child keeps its other parents and inherits ``deleted``'s; a child left
    without parents takes ``deleted``'s schedule.  Returns the changed children.
    """
    changed = []
    for name in children_of(jobs, deleted.name):
        child = jobs[name]
        parents = [p for p in child.parents or [] if p != deleted.name]
        for inherited in deleted.parents or []:
            if inherited not in parents and inherited != child.name:
                parents.append(inherited)
        child.parent_successes = [p for p in child.parent_successes if p in parents]
        if parents:
            child.parents = parents
        else:
            child.parents = None
            child.schedule = deleted.schedule
            child.schedule_time_zone = deleted.schedule_time_zone
            child.parent_successes = []
        changed.append(child)
    return changed


def graph_csv(jobs: Iterable[Job]) -> str:
    """Chronos' ``graph/csv``: ``node,<job>,<fresh|success|failure>,<idle|queued|N running>``
    lines, then ``link,<parent>,<child>`` lines."""
    lines = []
    ordered = sorted(jobs, key=lambda j: j.name)
    for job in ordered:
        if not job.last_success and not job.last_error:
            result = "fresh"
        elif job.last_success >= job.last_error:
            result = "success"
        else:
            result = "failure"
        running = len(job.running())
        if running:
            activity = f"{running} running"
        elif job.queued or job.runs:
            activity = "queued"
        else:
            activity = "idle"
        lines.append(f"node,{job.name},{result},{activity}")
    for job in ordered:
        for parent in job.parents or []:
            lines.append(f"link,{parent},{job.name}")
    return "".join(line + "\n" for line in lines)
