"""What the agent writes under ``<work_dir>/meta`` to survive its own restart.

Layout (Mesos' nesting; JSON where Mesos writes protobuf)::

    meta/boot_id                                   the host's boot when last written
    meta/slaves/latest -> <agent_id>
    meta/slaves/<aid>/slave.info                   AgentInfo
      frameworks/<fid>/framework.info              FrameworkInfo (checkpointing ones only)
        executors/<eid>/executor.info              ExecutorInfo + kind
          runs/<cid>/run.info                      sandbox directory
            pids/forked.pid                        {"pid", "started"} of a custom executor
            exit.status                            its exit code, written by the wrapper
            tasks/<tid>/task.info                  TaskInfo
            tasks/<tid>/forked.pid, exit.status    the same for a built-in executor's task
            tasks/<tid>/task.updates               status updates and acknowledgements

Whole files are replaced atomically (temp file, rename), so a crash or a
full disk leaves the old version or the new one, never a mix.
``task.updates`` is append-only, one JSON record per line; a torn last line
(crash mid-append) is ignored when read, and an append that fails (ENOSPC)
is truncated back so later appends stay readable.

Only the agent's identity (``slave.info``, ``boot_id``, ``latest``) is
fsynced, as Mesos does (its ``checkpoint(..., sync=false)`` default): the
per-task files exist to survive a restart of the agent *process*, which the
page cache does; after a host crash the tasks are gone anyway (a new boot
ID), and the master reports what the agent no longer knows as lost.  An
fsync per task file cost about 14 fsyncs per task, a seven-fold slowdown of
launches.

The record codec, the replay of an update log, and recovery planning are
pure; the rest reads and writes files.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from dataclasses import dataclass, field

from mesos_py.agent.sandbox import check_id, fsync_dir
from mesos_py.common.protocol import TERMINAL_STATES

BOOT_ID_FILE = "/proc/sys/kernel/random/boot_id"


# ------------------------------------------------------------------ codec


def encode_record(record: dict) -> bytes:
    return json.dumps(record, separators=(",", ":"), sort_keys=True).encode() + b"\n"


def decode_records(data: bytes) -> list[dict]:
    """Complete, well-formed records; a torn tail or a garbled line is skipped."""
    records = []
    for line in data.split(b"\n")[:-1]:  # the part after the last newline is torn
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def update_record(status: dict) -> dict:
    return {"update": status}


def ack_record(status_uuid: str) -> dict:
    return {"ack": status_uuid}


@dataclass
class UpdateLog:
    """A task's update stream replayed: every status, and those still unacknowledged."""

    statuses: list[dict] = field(default_factory=list)
    pending: list[dict] = field(default_factory=list)

    @property
    def state(self) -> str | None:
        return self.statuses[-1]["state"] if self.statuses else None

    @property
    def terminal(self) -> bool:
        return any(s["state"] in TERMINAL_STATES for s in self.statuses)


def replay(records: list[dict]) -> UpdateLog:
    log = UpdateLog()
    for record in records:
        status = record.get("update")
        if isinstance(status, dict) and isinstance(status.get("state"), str):
            if not any(s.get("uuid") == status.get("uuid") for s in log.statuses):
                log.statuses.append(status)
                log.pending.append(status)
        elif isinstance(record.get("ack"), str):
            log.pending = [s for s in log.pending if s.get("uuid") != record["ack"]]
    return log


# ------------------------------------------------------------- file I/O


def atomic_write(path: str, data: bytes, durable: bool = False) -> None:
    """Replace ``path`` with ``data`` all or nothing (OSError leaves the old file).

    ``durable`` also survives a host crash (fsync of the file and the directory).
    """
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    temporary = f"{path}.tmp"
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    if durable:
        fsync_dir(directory)


def write_json(path: str, value: object, durable: bool = False) -> None:
    atomic_write(path, json.dumps(value, sort_keys=True).encode(), durable)


def read_json(path: str) -> dict | None:
    """A JSON object file, None when missing or not a JSON object."""
    try:
        with open(path, "rb") as f:
            value = json.loads(f.read())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def append_record(path: str, record: dict) -> None:
    """Append one record; on failure the file is cut back to its old length."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
    try:
        size = os.fstat(fd).st_size
        try:
            data = encode_record(record)
            if os.write(fd, data) != len(data):
                raise OSError("short write")
        except OSError:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, size)
            raise
    finally:
        os.close(fd)


def current_boot_id() -> str:
    try:
        with open(BOOT_ID_FILE) as f:
            return f.read().strip()
    except OSError:
        return ""


# ---------------------------------------------------------------- paths


class Paths:
    """The checkpoint paths of one agent ID under ``<work_dir>/meta``."""

    def __init__(self, work_dir: str, agent_id: str = "") -> None:
        self.meta = os.path.join(work_dir, "meta")
        self.slaves = os.path.join(self.meta, "slaves")
        self.agent_id = agent_id

    @property
    def boot_id(self) -> str:
        return os.path.join(self.meta, "boot_id")

    @property
    def latest(self) -> str:
        return os.path.join(self.slaves, "latest")

    def agent(self) -> str:
        return os.path.join(self.slaves, check_id(self.agent_id, "agent ID"))

    def framework(self, framework_id: str) -> str:
        return os.path.join(self.agent(), "frameworks", check_id(framework_id, "framework ID"))

    def executor(self, framework_id: str, executor_id: str) -> str:
        return os.path.join(
            self.framework(framework_id), "executors", check_id(executor_id, "executor ID")
        )

    def run(self, framework_id: str, executor_id: str, container_id: str) -> str:
        return os.path.join(
            self.executor(framework_id, executor_id),
            "runs",
            check_id(container_id, "container ID"),
        )

    def task(self, framework_id: str, executor_id: str, container_id: str, task_id: str) -> str:
        return os.path.join(
            self.run(framework_id, executor_id, container_id),
            "tasks",
            check_id(task_id, "task ID"),
        )


# -------------------------------------------------------- reading a tree


@dataclass
class ProcessRecord:
    """A wrapper process: where to find it again and where it writes its exit code."""

    pid: int
    started: int | None
    status_path: str


@dataclass
class TaskCheckpoint:
    info: dict
    log: UpdateLog
    process: ProcessRecord | None = None


@dataclass
class RunCheckpoint:
    container_id: str
    directory: str
    tasks: dict[str, TaskCheckpoint] = field(default_factory=dict)
    process: ProcessRecord | None = None


@dataclass
class ExecutorCheckpoint:
    info: dict
    kind: str
    run: RunCheckpoint | None = None


@dataclass
class FrameworkCheckpoint:
    info: dict
    executors: dict[str, ExecutorCheckpoint] = field(default_factory=dict)


@dataclass
class AgentCheckpoint:
    agent_id: str
    boot_id: str
    agent_info: dict | None
    frameworks: dict[str, FrameworkCheckpoint] = field(default_factory=dict)


def _subdirs(path: str) -> list[str]:
    with contextlib.suppress(FileNotFoundError, NotADirectoryError):
        return sorted(e.name for e in os.scandir(path) if e.is_dir(follow_symlinks=False))
    return []


def _process(pid_file: str, status_path: str) -> ProcessRecord | None:
    record = read_json(pid_file)
    if record is None or not isinstance(record.get("pid"), int):
        return None
    started = record.get("started")
    return ProcessRecord(record["pid"], started if isinstance(started, int) else None, status_path)


def read_checkpoint(work_dir: str) -> AgentCheckpoint | None:
    """The latest agent's checkpoint, None when there is none; unreadable parts are skipped."""
    paths = Paths(work_dir)
    try:
        agent_id = os.readlink(paths.latest)
        check_id(agent_id, "agent ID")
    except (OSError, ValueError):
        return None
    paths.agent_id = agent_id
    try:
        with open(paths.boot_id) as f:
            boot_id = f.read().strip()
    except OSError:
        boot_id = ""
    checkpoint = AgentCheckpoint(
        agent_id, boot_id, read_json(os.path.join(paths.agent(), "slave.info"))
    )
    for framework_id in _subdirs(os.path.join(paths.agent(), "frameworks")):
        info = read_json(os.path.join(paths.framework(framework_id), "framework.info"))
        if info is None:
            continue
        framework = checkpoint.frameworks[framework_id] = FrameworkCheckpoint(info)
        for executor_id in _subdirs(os.path.join(paths.framework(framework_id), "executors")):
            directory = paths.executor(framework_id, executor_id)
            executor_info = read_json(os.path.join(directory, "executor.info"))
            if executor_info is None or not isinstance(executor_info.get("info"), dict):
                continue
            executor = ExecutorCheckpoint(executor_info["info"], str(executor_info.get("kind")))
            framework.executors[executor_id] = executor
            for container_id in _subdirs(os.path.join(directory, "runs")):
                run_dir = paths.run(framework_id, executor_id, container_id)
                run_info = read_json(os.path.join(run_dir, "run.info"))
                if run_info is None or not isinstance(run_info.get("directory"), str):
                    continue
                run = RunCheckpoint(
                    container_id,
                    run_info["directory"],
                    process=_process(
                        os.path.join(run_dir, "pids", "forked.pid"),
                        os.path.join(run_dir, "exit.status"),
                    ),
                )
                executor.run = run  # one run per executor is live at a time
                for task_id in _subdirs(os.path.join(run_dir, "tasks")):
                    task_dir = os.path.join(run_dir, "tasks", task_id)
                    task_info = read_json(os.path.join(task_dir, "task.info"))
                    if task_info is None:
                        continue
                    try:
                        with open(os.path.join(task_dir, "task.updates"), "rb") as f:
                            records = decode_records(f.read())
                    except OSError:
                        records = []
                    process = _process(
                        os.path.join(task_dir, "forked.pid"),
                        os.path.join(task_dir, "exit.status"),
                    )
                    run.tasks[task_id] = TaskCheckpoint(task_info, replay(records), process)
    return checkpoint


def remove_tree(path: str) -> None:
    shutil.rmtree(path, ignore_errors=True)


# ------------------------------------------------------------- planning


@dataclass(frozen=True)
class RecoveryPlan:
    """What a starting agent does with what it found.

    ``agent_id`` is kept (and ``frameworks`` restored) only when the
    checkpoint is from this boot and the mode is ``reconnect``; ``kill``
    lists the processes of an older run to end (``cleanup``).
    """

    agent_id: str | None
    frameworks: dict[str, FrameworkCheckpoint]
    kill: list[ProcessRecord]
    reason: str


def processes_of(checkpoint: AgentCheckpoint) -> list[ProcessRecord]:
    found = []
    for framework in checkpoint.frameworks.values():
        for executor in framework.executors.values():
            if executor.run is None:
                continue
            if executor.run.process is not None:
                found.append(executor.run.process)
            found.extend(t.process for t in executor.run.tasks.values() if t.process)
    return found


def plan_recovery(checkpoint: AgentCheckpoint | None, boot_id: str, mode: str) -> RecoveryPlan:
    if checkpoint is None:
        return RecoveryPlan(None, {}, [], "no checkpoint: a new agent")
    if checkpoint.boot_id != boot_id:
        return RecoveryPlan(None, {}, [], "the host rebooted: a new agent")
    if mode == "cleanup":
        return RecoveryPlan(
            None, {}, processes_of(checkpoint), "--recover=cleanup: old tasks killed"
        )
    return RecoveryPlan(
        checkpoint.agent_id,
        checkpoint.frameworks,
        [],
        f"recovering agent {checkpoint.agent_id}",
    )
