"""The Mesos work_dir layout of sandboxes.

``<work_dir>/slaves/<agent_id>/frameworks/<framework_id>/executors/<executor_id>/runs/<container_id>/``
holds an executor run's ``stdout`` and ``stderr``; ``runs/latest`` points at
the newest run and ``slaves/latest`` at the current agent ID.  IDs come from
frameworks, so each is checked to be a single, harmless path component.
"""

from __future__ import annotations

import contextlib
import os

LATEST = "latest"


def check_id(value: str, what: str) -> str:
    """``value`` if it is safe as one path component; ValueError otherwise."""
    if (
        not value
        or value in (".", "..", LATEST)
        or "/" in value
        or "\0" in value
        or len(value.encode()) > 255
    ):
        raise ValueError(f"{what} {value!r} cannot be used as a directory name")
    return value


def sandboxes_root(work_dir: str) -> str:
    """Everything the /files endpoints may show lives below this directory."""
    return os.path.join(work_dir, "slaves")


def agent_dir(work_dir: str, agent_id: str) -> str:
    return os.path.join(sandboxes_root(work_dir), check_id(agent_id, "agent ID"))


def executor_dir(work_dir: str, agent_id: str, framework_id: str, executor_id: str) -> str:
    return os.path.join(
        agent_dir(work_dir, agent_id),
        "frameworks",
        check_id(framework_id, "framework ID"),
        "executors",
        check_id(executor_id, "executor ID"),
    )


def point_link(link: str, target: str, durable: bool = False) -> None:
    """Make ``link`` a symlink to ``target``, replacing any old one atomically."""
    temporary = f"{link}.{os.getpid()}.tmp"
    with contextlib.suppress(FileNotFoundError):
        os.unlink(temporary)
    os.symlink(target, temporary)
    os.replace(temporary, link)
    if durable:
        fsync_dir(os.path.dirname(link))


def fsync_dir(directory: str) -> None:
    """Make a rename in ``directory`` durable."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def create_run_dir(
    work_dir: str, agent_id: str, framework_id: str, executor_id: str, container_id: str
) -> str:
    """Create a new run directory, point ``runs/latest`` at it, return its path."""
    runs = os.path.join(executor_dir(work_dir, agent_id, framework_id, executor_id), "runs")
    path = os.path.join(runs, check_id(container_id, "container ID"))
    os.makedirs(path, exist_ok=True)
    point_link(os.path.join(runs, LATEST), container_id)
    return path


def mark_current_agent(work_dir: str, agent_id: str) -> None:
    """Create ``slaves/<agent_id>`` and point ``slaves/latest`` at it."""
    os.makedirs(agent_dir(work_dir, agent_id), exist_ok=True)
    point_link(os.path.join(sandboxes_root(work_dir), LATEST), agent_id)
