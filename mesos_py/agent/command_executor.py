"""The built-in executors, run inside the agent process.

Mesos starts a ``mesos-executor`` process per command task; a Python process
per task costs ~0.2 s of CPU here, so the agent plays the executor itself: it
spawns the task's command in its own process group and produces the status
updates the Mesos command executor would.  The same code serves task groups
(Mesos' default executor): each task of a group gets a sandbox under
``tasks/<task_id>``, and a task that fails or is killed takes its group down.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from twisted.internet import defer
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from mesos_py.agent.launcher import (
    UNKNOWN_WAIT_STATUS,
    LaunchError,
    PosixLauncher,
    Process,
    RunAs,
    exit_description,
)
from mesos_py.agent.model import allocation_role
from mesos_py.agent.sandbox import check_id
from mesos_py.common.protocol import ident, new_status_uuid

log = Logger()

DEFAULT_KILL_GRACE_PERIOD = 3.0

UserResolver = Callable[[object], RunAs | None]
# The checkpoint files of a task's wrapper: where it writes its exit code, and
# a callback recording the started process (None: not checkpointed).
StatusPath = Callable[[str], str | None]
Forked = Callable[[str, Process], None]
# A resource limitation that ended the container, as (reason, message, resources).
Limitation = tuple[str, str, list]


def grace_period(kill_policy: object) -> float | None:
    """Seconds of ``kill_policy.grace_period``, None when absent or malformed."""
    if not isinstance(kill_policy, dict):
        return None
    grace = kill_policy.get("grace_period")
    if not isinstance(grace, dict):
        return None
    try:
        return max(0.0, int(grace.get("nanoseconds", 0)) / 1e9)
    except (TypeError, ValueError):
        return None


def command_line(command: object) -> tuple[list[str], str | None]:
    """argv and executable of a CommandInfo; LaunchError if it cannot be run."""
    if not isinstance(command, dict):
        raise LaunchError("Invalid command: 'command' must be an object")
    if command.get("uris"):
        raise LaunchError("Fetching 'command.uris' is not supported by this agent yet")
    value = command.get("value")
    if command.get("shell", True):
        if not isinstance(value, str) or not value:
            raise LaunchError("Invalid command: a shell command needs a 'value'")
        return ["/bin/sh", "-c", value], None
    if not isinstance(value, str) or not value:
        raise LaunchError("Invalid command: 'value' must name the executable")
    arguments = command.get("arguments", [])
    if not isinstance(arguments, list) or not all(isinstance(a, str) for a in arguments):
        raise LaunchError("Invalid command: 'arguments' must be a list of strings")
    return (arguments or [value]), value


def command_environment(base: dict[str, str], command: dict) -> dict[str, str]:
    """``base`` overlaid with ``command.environment.variables`` (applied last)."""
    env = dict(base)
    environment = command.get("environment") or {}
    variables = environment.get("variables", []) if isinstance(environment, dict) else None
    if not isinstance(variables, list):
        raise LaunchError("Invalid command: 'environment.variables' must be a list")
    for variable in variables:
        if not isinstance(variable, dict) or not isinstance(variable.get("name"), str):
            raise LaunchError("Invalid command: every environment variable needs a 'name'")
        if variable.get("type", "VALUE") != "VALUE":
            raise LaunchError(
                f"Environment variable '{variable['name']}': only VALUE variables are supported"
            )
        value = variable.get("value", "")
        if not isinstance(value, str):
            raise LaunchError(f"Environment variable '{variable['name']}' must be a string")
        env[variable["name"]] = value
    return env


def task_directory_name(task: dict) -> str:
    try:
        return check_id(task["task_id"]["value"], "task ID")
    except ValueError as exc:
        raise LaunchError(str(exc)) from None


def check_container(task: dict) -> None:
    container = task.get("container")
    if isinstance(container, dict) and (
        container.get("type") == "DOCKER"
        or "docker" in container
        or (isinstance(container.get("mesos"), dict) and "image" in container["mesos"])
    ):
        raise LaunchError("Container images are not supported by this agent")


@dataclass
class _Run:
    info: dict
    process: Process
    group: set[str]
    killed: bool = False
    grace: float = DEFAULT_KILL_GRACE_PERIOD
    done: bool = False


@dataclass
class CommandExecutor:
    """Runs the commands of one built-in executor's tasks.

    ``emit`` gets each TaskStatus (the agent adds ``agent_id``);
    ``terminated`` is called once, when the executor has no task left.
    """

    launcher: PosixLauncher
    clock: IReactorTime
    executor_id: str
    directory: str
    environment: dict[str, str]
    resolve_user: UserResolver
    emit: Callable[[dict], None]
    terminated: Callable[[], None]
    killing_state: bool = False
    task_groups: bool = False
    cgroups: Sequence[str] = ()
    status_path: StatusPath = lambda task_id: None
    forked: Forked = lambda task_id, process: None
    limitation: Callable[[], Limitation | None] = lambda: None
    _runs: dict[str, _Run] = field(default_factory=dict)
    _finished: bool = False

    def launch(self, tasks: list[dict]) -> None:
        """Start a command task, or a task group (which fails as a whole)."""
        group: set[str] = set()
        failure = None
        for task in tasks:
            task_id = task["task_id"]["value"]
            if failure is not None:
                self._launch_failed(task_id, f"Task group failed to launch: {failure}")
                continue
            try:
                run = self._start(task, group)
            except (LaunchError, OSError) as exc:
                failure = str(exc)
                self._launch_failed(task_id, failure)
                for other in list(group):
                    self.kill(other)
                continue
            group.add(task_id)
            self._runs[task_id] = run
            self._status(task_id, "TASK_RUNNING")
            run.process.when_exited().addCallback(self._exited, task_id)
        self._check_idle()

    def adopt(self, task: dict, process: Process, killed: bool) -> None:
        """Watch a task an earlier agent started (recovery)."""
        task_id = task["task_id"]["value"]
        self._runs[task_id] = _Run(task, process, set(), killed=killed)
        process.when_exited().addCallback(self._exited, task_id)

    def recovered(self) -> None:
        """Recovery is over: an executor with nothing left to watch ends."""
        self._check_idle()

    def kill(self, task_id: str, kill_policy: object = None) -> bool:
        """Kill a task (KILL_TASK's policy, else the task's, else 3 s); False if unknown."""
        run = self._runs.get(task_id)
        if run is None or run.done:
            return False
        grace = grace_period(kill_policy)
        if grace is None:
            grace = grace_period(run.info.get("kill_policy"))
        if grace is None:
            grace = DEFAULT_KILL_GRACE_PERIOD
        if not run.killed:
            run.killed = True
            if self.killing_state:
                self._status(task_id, "TASK_KILLING")
        run.process.kill(grace)
        return True

    def shutdown(self) -> None:
        for task_id in list(self._runs):
            self.kill(task_id)
        self._check_idle()

    def destroy(self) -> defer.Deferred:
        """Kill every process now (agent shutdown); fires when all are gone."""
        exits = []
        for run in self._runs.values():
            run.killed = True
            exits.append(run.process.kill(0))
        self._check_idle()
        return defer.DeferredList(exits, consumeErrors=True)

    def process_groups(self) -> set[int]:
        """The process groups of the running tasks (for posix usage statistics)."""
        return {run.process.pid for run in self._runs.values() if not run.done}

    @property
    def finished(self) -> bool:
        """True once the executor has no task left (it takes no new ones)."""
        return self._finished

    def _start(self, task: dict, group: set[str]) -> _Run:
        command = task.get("command")
        check_container(task)
        argv, executable = command_line(command)
        run_as = self.resolve_user(command.get("user"))
        sandbox = self.directory
        if self.task_groups:
            sandbox = os.path.join(self.directory, "tasks", task_directory_name(task))
            try:
                os.makedirs(sandbox, exist_ok=True)
                if run_as is not None:
                    os.chown(sandbox, run_as.uid, run_as.gid)
            except OSError as exc:
                raise LaunchError(f"Failed to create the task's sandbox: {exc}") from None
        base = dict(self.environment, MESOS_SANDBOX=sandbox)
        role = allocation_role(task)
        if role:
            base["MESOS_ALLOCATION_ROLE"] = role
        env = command_environment(base, command)  # the task's own variables win
        try:
            process = self.launcher.launch(
                argv,
                executable=executable,
                cwd=sandbox,
                env=env,
                stdout=os.path.join(sandbox, "stdout"),
                stderr=os.path.join(sandbox, "stderr"),
                run_as=run_as,
                cgroups=self.cgroups,
                status_path=self.status_path(task["task_id"]["value"]),
            )
        except OSError as exc:  # the sandbox's output files could not be created
            raise LaunchError(f"Failed to prepare the sandbox: {exc}") from None
        self.forked(task["task_id"]["value"], process)
        return _Run(task, process, group)

    def _exited(self, wait_status: int, task_id: str) -> None:
        run = self._runs[task_id]
        run.done = True
        limitation = None if run.killed or wait_status == 0 else self.limitation()
        if wait_status == UNKNOWN_WAIT_STATUS:
            message = "Command ended while the agent was down; its exit status is unknown"
        else:
            message = f"Command {exit_description(wait_status)}"
        if limitation is not None:
            state = "TASK_FAILED"
            reason, message, resources = limitation
            self._status(
                task_id,
                state,
                message,
                reason=reason,
                source="SOURCE_AGENT",
                limitation={"resources": resources},
            )
        else:
            if run.killed:
                state = "TASK_KILLED"
            elif wait_status == 0:
                state = "TASK_FINISHED"
            else:
                state = "TASK_FAILED"
            self._status(task_id, state, message)
        if self.task_groups and state in ("TASK_FAILED", "TASK_KILLED"):
            for other in run.group - {task_id}:
                self.kill(other)
        del self._runs[task_id]
        self._check_idle()

    def _launch_failed(self, task_id: str, message: str) -> None:
        log.warn("Task {id} failed to launch: {error}", id=task_id, error=message)
        self._status(
            task_id,
            "TASK_FAILED",
            message,
            reason="REASON_CONTAINER_LAUNCH_FAILED",
            source="SOURCE_AGENT",
        )

    def _check_idle(self) -> None:
        if not self._runs and not self._finished:
            self._finished = True
            self.clock.callLater(0, self.terminated)

    def _status(
        self,
        task_id: str,
        state: str,
        message: str | None = None,
        reason: str | None = None,
        source: str = "SOURCE_EXECUTOR",
        limitation: dict | None = None,
    ) -> None:
        status = {
            "task_id": ident(task_id),
            "state": state,
            "source": source,
            "executor_id": ident(self.executor_id),
            "timestamp": self.clock.seconds(),
            "uuid": new_status_uuid(),
        }
        if message is not None:
            status["message"] = message
        if reason is not None:
            status["reason"] = reason
        if limitation is not None:
            status["limitation"] = limitation
        self.emit(status)
