"""The agent: runs what the master sends it and reports back reliably.

Master events arrive on the link (``master_link``); tasks run under one of
three executors (``model.ExecutorKind``): the built-in command executor and
default executor, both in this process (``command_executor``), or a
framework's own executor process speaking the executor API
(``custom_executor``, ``executor_api``).  Every status update, whoever made
it, goes through ``_record`` into the status update manager, which re-sends
it until the master relays the framework's acknowledgement.

Frameworks with ``checkpoint: true`` have their tasks, executors and update
streams written under ``<work_dir>/meta`` (``checkpoint``) and their
processes run under the launcher's supervising wrapper, so that an agent
killed outright finds them again when it restarts (``recover``).  With
cgroups isolators every container gets its cgroups (``cgroups``).
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from twisted.internet import defer
from twisted.internet.interfaces import IDelayedCall
from twisted.logger import Logger

from mesos_py import MESOS_API_VERSION
from mesos_py.agent import checkpoint, sandbox
from mesos_py.agent.cgroups import Backend, CgroupError, Limits
from mesos_py.agent.command_executor import (
    CommandExecutor,
    Limitation,
    UserResolver,
    command_environment,
    command_line,
    grace_period,
)
from mesos_py.agent.custom_executor import (
    EXECUTOR_REREGISTRATION_TIMEOUT,
    CustomExecutor,
    executor_environment,
)
from mesos_py.agent.gc import GarbageCollector
from mesos_py.agent.launcher import (
    LaunchError,
    PosixLauncher,
    Process,
    RunAs,
    lookup_user,
    process_statistics,
    start_time,
)
from mesos_py.agent.master_link import MasterLink
from mesos_py.agent.model import (
    MAX_COMPLETED_FRAMEWORKS,
    Executor,
    ExecutorKind,
    ExecutorState,
    Framework,
    Task,
    parse_resources,
)
from mesos_py.agent.status_updates import StatusUpdateManager
from mesos_py.common.durations import format_duration
from mesos_py.common.http import EventStream
from mesos_py.common.prometheus import Histogram
from mesos_py.common.protocol import TERMINAL_STATES, id_value, ident, new_status_uuid
from mesos_py.common.resources import Resources

log = Logger()

# Ended executors whose exit status is unknown (never started) report this.
UNKNOWN_EXIT_STATUS = -1

_COUNTED_TERMINAL_STATES = {
    "TASK_FINISHED": "slave/tasks_finished",
    "TASK_FAILED": "slave/tasks_failed",
    "TASK_KILLED": "slave/tasks_killed",
    "TASK_LOST": "slave/tasks_lost",
    "TASK_DROPPED": "slave/tasks_dropped",
    "TASK_GONE": "slave/tasks_gone",
}


@dataclass
class AgentConfig:
    master: str
    work_dir: str
    hostname: str
    advertise_ip: str
    port: int
    resources: Resources
    attributes: list[dict] = field(default_factory=list)
    flags: dict[str, str] = field(default_factory=dict)
    switch_user: bool = True
    executor_registration_timeout: float = 60.0
    executor_shutdown_grace_period: float = 5.0
    registration_backoff_factor: float = 1.0
    status_update_retry_interval_min: float = 10.0
    executor_environment: dict[str, str] | None = None
    recover: str = "reconnect"
    executor_reregistration_timeout: float = EXECUTOR_REREGISTRATION_TIMEOUT
    cgroups_enable_cfs: bool = False
    cgroups_pids_max: int | None = None
    gc_delay: float = 7 * 24 * 3600.0
    gc_disk_headroom: float = 0.1
    disk_watch_interval: float = 60.0


class ExecutorLookupError(LookupError):
    """An executor API call names a framework or executor this agent does not run."""


class Agent:
    def __init__(
        self,
        config: AgentConfig,
        reactor,
        launcher: PosixLauncher | None = None,
        isolator: Backend | None = None,
    ):
        self.config = config
        self.clock = reactor
        self.launcher = launcher or PosixLauncher(reactor)
        self.isolator = isolator
        self.recovery_seconds = 0.0
        self.gc = GarbageCollector(reactor, config.gc_delay, _remove_sandbox)
        self._disk_watch: IDelayedCall | None = None
        self.agent_id: str | None = None
        self.start_time = time.time()
        self.frameworks: dict[str, Framework] = {}
        self.completed_frameworks: deque[Framework] = deque(maxlen=MAX_COMPLETED_FRAMEWORKS)
        self.counters: Counter[str] = Counter()
        # From a status's creation to the framework's acknowledgement reaching this agent.
        self.status_update_ack_latency = Histogram()
        self.updates = StatusUpdateManager(
            reactor, self._forward_update, config.status_update_retry_interval_min
        )
        self.link = MasterLink(reactor, config.master, self, config.registration_backoff_factor)
        self._tasks: dict[tuple[str, str], tuple[Executor, Task]] = {}
        self._stopping = False
        self._warned_not_root = False
        self._handlers: dict[str, Callable[[dict], None]] = {
            "RUN_TASK": self._run_task,
            "RUN_TASK_GROUP": self._run_task_group,
            "KILL_TASK": self._kill_task,
            "ACKNOWLEDGE": self._acknowledge,
            "SHUTDOWN_EXECUTOR": self._shutdown_executor_event,
            "SHUTDOWN_FRAMEWORK": self._shutdown_framework,
            "MESSAGE": self._framework_message,
            "UPDATE_FRAMEWORK": self._update_framework,
        }

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self.start_time = time.time()
        started = time.monotonic()
        self._recover()
        self.recovery_seconds = time.monotonic() - started
        self._schedule_old_sandboxes()
        self._watch_disk()
        self.link.start()

    @defer.inlineCallbacks
    def stop(self):
        """Stop serving and leave everything running, checkpointed (Mesos' SIGTERM).

        The next agent on this work_dir recovers the tasks, so restarting or
        upgrading an agent loses none; frameworks that do not checkpoint lose
        theirs at that recovery, as in Mesos.
        """
        self._stop_timers()
        yield self.link.stop()

    def _stop_timers(self) -> None:
        self._stopping = True
        self.updates.pause()
        if self._disk_watch is not None and self._disk_watch.active():
            self._disk_watch.cancel()

    @defer.inlineCallbacks
    def shutdown(self):
        """Kill everything this agent runs, unregister and forget it (Mesos' SIGUSR1).

        For taking a machine out of the cluster, and for ``mesos-py local``,
        whose agents must not leave orphans behind.
        """
        self._stop_timers()
        exits = [self._destroy(e) for f in self.frameworks.values() for e in f.executors.values()]
        if self.link.registered:
            try:
                yield self.link.call_and_wait("UNREGISTER").addTimeout(5, self.clock)
            except Exception as exc:
                log.info("UNREGISTER failed: {error}", error=exc)
        yield defer.DeferredList(exits, consumeErrors=True)
        self.updates.forget_all()
        checkpoint.remove_tree(checkpoint.Paths(self.config.work_dir).slaves)
        yield self.link.stop()

    # ------------------------------------------------------------- recovery

    def _recover(self) -> None:
        """Rebuild what a killed agent ran from its checkpoint, then clean up the rest.

        Recovered update streams wait, paused, for the re-registration; live
        processes are re-attached by pidfd; tasks whose process ended while
        the agent was down get their terminal update from the recorded exit
        code on the next reactor turn.  Cgroups under our root that belong to
        no recovered container are leftovers: their processes are killed and
        the cgroups removed.
        """
        found = checkpoint.read_checkpoint(self.config.work_dir)
        plan = checkpoint.plan_recovery(found, checkpoint.current_boot_id(), self.config.recover)
        log.info("Recovery: {reason}", reason=plan.reason)
        for record in plan.kill:
            if start_time(record.pid) == record.started:
                with contextlib.suppress(OSError):
                    os.killpg(record.pid, signal.SIGKILL)
        if plan.agent_id is None:
            checkpoint.remove_tree(checkpoint.Paths(self.config.work_dir).slaves)
        else:
            self.agent_id = self.link.agent_id = plan.agent_id
            for framework_checkpoint in plan.frameworks.values():
                try:
                    self._recover_framework(framework_checkpoint)
                except (KeyError, TypeError, ValueError, AttributeError) as exc:
                    log.error("Skipping an unreadable checkpoint: {error!r}", error=exc)
                    self.counters["slave/recovery_errors"] += 1
        if self.isolator is not None:
            live = {e.container_id for f in self.frameworks.values() for e in f.executors.values()}
            for container_id in self.isolator.containers() - live:
                log.info("Removing the leftover cgroups of {id}", id=container_id)
                try:
                    self.isolator.destroy(container_id)
                except (CgroupError, OSError) as exc:
                    log.error("Failed to remove cgroups {id}: {error}", id=container_id, error=exc)

    def _recover_framework(self, found: checkpoint.FrameworkCheckpoint) -> None:
        framework_id = id_value(found.info, "id")
        framework = self.frameworks[framework_id] = Framework(dict(found.info))
        for executor_id, found_executor in found.executors.items():
            run = found_executor.run
            if run is None:
                continue
            kind = ExecutorKind(found_executor.kind)
            info = dict(found_executor.info, executor_id=ident(executor_id))
            executor = Executor(
                framework_id,
                info,
                kind,
                run.container_id,
                run.directory,
                resources=parse_resources(info.get("resources")),
            )
            for task_id, found_task in run.tasks.items():
                if id_value(found_task.info, "task_id") != task_id:
                    continue
                task = Task(
                    found_task.info,
                    framework_id,
                    executor_id,
                    resources=parse_resources(found_task.info.get("resources")),
                )
                for status in found_task.log.statuses:
                    task.record(status)
                executor.tasks[task_id] = task
                self._tasks[(framework_id, task_id)] = (executor, task)
                for status in found_task.log.pending:
                    self.updates.update(framework_id, status)
            framework.executors[executor_id] = executor
            if kind is ExecutorKind.CUSTOM:
                self._recover_custom_executor(framework, executor, run)
            else:
                self._recover_builtin_executor(framework, executor, run)
        self._maybe_remove_framework(framework)

    def _recover_builtin_executor(
        self, framework: Framework, executor: Executor, run: checkpoint.RunCheckpoint
    ) -> None:
        executor.state = ExecutorState.RUNNING
        try:
            cgroups = self._isolate(executor, [t.info for t in executor.live_tasks()])
        except LaunchError as exc:
            log.error("Recovered container {id}: {error}", id=executor.container_id, error=exc)
            cgroups = []
        self._builtin_runner(framework, executor, cgroups)
        for task in executor.live_tasks():
            process = run.tasks[task.task_id].process
            if process is None:  # the agent died between checkpointing the task and starting it
                self._agent_status(
                    framework,
                    executor,
                    task.task_id,
                    self._lost_state(framework),
                    "REASON_AGENT_RESTARTED",
                    "The agent restarted before the task was started",
                )
                continue
            adopted = self.launcher.adopt(process.pid, process.started, process.status_path)
            executor.runner.adopt(task.info, adopted, killed=task.state == "TASK_KILLING")
        executor.runner.recovered()

    def _recover_custom_executor(
        self, framework: Framework, executor: Executor, run: checkpoint.RunCheckpoint
    ) -> None:
        record = run.process
        if record is None:
            executor.state = ExecutorState.TERMINATED
            for task in executor.live_tasks():
                self._agent_status(
                    framework,
                    executor,
                    task.task_id,
                    "TASK_FAILED",
                    "REASON_EXECUTOR_TERMINATED",
                    "The agent restarted before the executor was started",
                )
            return
        process = self.launcher.adopt(record.pid, record.started, record.status_path)
        executor.runner = CustomExecutor(
            self.clock,
            process,
            self.config.executor_reregistration_timeout,
            lambda: self._registration_timed_out(executor),
        )
        process.when_exited().addCallback(lambda status: self._executor_exited(executor, status))

    # -------------------------------------------------------- sandbox GC

    def _schedule_old_sandboxes(self) -> None:
        """Run directories no live executor uses (from earlier runs) age from their mtime."""
        live = {e.directory for f in self.frameworks.values() for e in f.executors.values()}
        root = sandbox.sandboxes_root(self.config.work_dir)
        now = time.time()
        for path in glob.glob(
            os.path.join(root, "*", "frameworks", "*", "executors", "*", "runs", "*")
        ):
            if os.path.basename(path) == sandbox.LATEST or path in live or os.path.islink(path):
                continue
            with contextlib.suppress(OSError):
                self.gc.schedule(path, age=now - os.stat(path).st_mtime)

    def _watch_disk(self) -> None:
        """Collect due sandboxes, sooner the fuller the work_dir's disk is."""
        try:
            fs = os.statvfs(self.config.work_dir)
            usage = 1.0 - fs.f_bavail / fs.f_blocks if fs.f_blocks else 0.0
        except OSError:
            usage = 0.0
        for path in self.gc.collect(usage, self.config.gc_disk_headroom):
            log.debug("Removed sandbox {path}", path=path)
        self._disk_watch = self.clock.callLater(self.config.disk_watch_interval, self._watch_disk)

    @property
    def port(self) -> int:
        """The HTTP port (the bound one once the service listens)."""
        return self.config.port

    @property
    def endpoint(self) -> str:
        return f"{self.config.advertise_ip}:{self.config.port}"

    @property
    def pid(self) -> str:
        return f"slave(1)@{self.endpoint}"

    def agent_info(self) -> dict:
        info = {
            "hostname": self.config.hostname,
            "port": self.config.port,
            "resources": self.config.resources.to_json(),
            "attributes": self.config.attributes,
        }
        if self.agent_id:
            info["id"] = ident(self.agent_id)
        return info

    # ------------------------------------------------- the link (LinkOwner)

    def register_call(self) -> dict:
        agent_id = self.link.agent_id
        self.agent_id = agent_id
        frameworks: dict[str, dict] = {}
        tasks, executors = [], []
        for executor, task in self._tasks.values():
            framework = self.frameworks.get(executor.framework_id)
            if framework is None or framework.terminating:
                continue
            frameworks[framework.framework_id] = framework.info
            tasks.append(task.wire_json(agent_id or "", executor.kind is ExecutorKind.COMMAND))
        for framework in self.frameworks.values():
            for executor in framework.executors.values():
                if (
                    not framework.terminating
                    and executor.kind is not ExecutorKind.COMMAND
                    and executor.state is not ExecutorState.TERMINATED
                ):
                    executors.append(
                        dict(executor.info, framework_id=ident(framework.framework_id))
                    )
                    frameworks[framework.framework_id] = framework.info
        call = {
            "type": "REGISTER",
            "register": {
                "agent_info": self.agent_info(),
                "tasks": tasks,
                "executors": executors,
                "frameworks": list(frameworks.values()),
                "version": MESOS_API_VERSION,
            },
        }
        if agent_id:
            call["agent_id"] = ident(agent_id)
        return call

    def registered(self, body: dict) -> None:
        agent_id = body["agent_id"]["value"]
        if self.agent_id and agent_id != self.agent_id:
            self._wipe(f"the master gave this agent a new ID {agent_id}")
        self.agent_id = agent_id
        try:
            sandbox.mark_current_agent(self.config.work_dir, agent_id)
            self._checkpoint_agent()
        except (OSError, ValueError) as exc:
            log.error("Cannot create the agent's work directory: {error}", error=exc)
        log.info(
            "{what} with the master as agent {id}",
            what="Re-registered" if body.get("reregistered") else "Registered",
            id=agent_id,
        )
        self.updates.resume()

    def disconnected(self) -> None:
        self.updates.pause()

    def refused(self, message: str) -> None:
        self._wipe(f"the master refused this agent: {message}")
        self.agent_id = None

    def handle_event(self, event: dict) -> None:
        kind = event.get("type")
        handler = self._handlers.get(kind) if isinstance(kind, str) else None
        body = event.get(str(kind).lower())
        if handler is None or not isinstance(body, dict):
            log.warn("Ignoring unknown or malformed master event {type}", type=kind)
            return
        try:
            handler(body)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            log.warn("Ignoring malformed {type} event: {error!r}", type=kind, error=exc)

    # --------------------------------------------------------- master events

    def _run_task(self, body: dict) -> None:
        task = body["task"]
        task_id = id_value(task, "task_id")
        executor_info = task.get("executor")
        if isinstance(executor_info, dict):
            id_value(executor_info, "executor_id")
        framework = self._framework(body["framework_info"])
        if framework is None or not self._new_task_id(framework, task_id):
            return
        if isinstance(executor_info, dict):
            self._launch_on_executor(framework, executor_info, [task], group=False)
        else:
            self._launch_command_task(framework, task)
        self._maybe_remove_framework(framework)  # nothing may have started

    def _run_task_group(self, body: dict) -> None:
        executor_info = body["executor"]
        id_value(executor_info, "executor_id")
        tasks = body["task_group"]["tasks"]
        if not isinstance(tasks, list) or not tasks:
            raise ValueError("a task group needs tasks")
        for task in tasks:
            id_value(task, "task_id")
        framework = self._framework(body["framework_info"])
        if framework is None:
            return
        tasks = [t for t in tasks if self._new_task_id(framework, t["task_id"]["value"])]
        if tasks:
            self._launch_on_executor(framework, executor_info, tasks, group=True)
        self._maybe_remove_framework(framework)  # nothing may have started

    def _kill_task(self, body: dict) -> None:
        framework_id, task_id = id_value(body, "framework_id"), id_value(body, "task_id")
        kill_policy = body.get("kill_policy")
        framework = self.frameworks.get(framework_id)
        if framework is None or framework.terminating:
            log.warn("Ignoring kill of task {t}: unknown framework {f}", t=task_id, f=framework_id)
            return
        entry = self._tasks.get((framework_id, task_id))
        if entry is None:
            self._agent_status(
                framework,
                None,
                task_id,
                self._lost_state(framework),
                "REASON_EXECUTOR_TERMINATED",
                "Cannot find executor",
            )
            return
        executor, task = entry
        if task.terminal:
            return
        if task_id in executor.queued:
            self._agent_status(
                framework,
                executor,
                task_id,
                "TASK_KILLED",
                "REASON_TASK_KILLED_DURING_LAUNCH",
                "Task killed before it was delivered to the executor",
            )
            if not executor.live_tasks():
                self._shutdown_executor(executor)
            return
        if executor.kind is ExecutorKind.CUSTOM:
            kill = {"task_id": ident(task_id)}
            if isinstance(kill_policy, dict):
                kill["kill_policy"] = kill_policy
            if not executor.runner.send({"type": "KILL", "kill": kill}):
                log.warn("Executor of task {id} is not connected; kill not delivered", id=task_id)
        else:
            executor.runner.kill(task_id, kill_policy)

    def _acknowledge(self, body: dict) -> None:
        framework_id, task_id = id_value(body, "framework_id"), id_value(body, "task_id")
        status_uuid = body["uuid"]
        acknowledged = self.updates.acknowledge(framework_id, task_id, status_uuid)
        if acknowledged is None:
            log.debug("Ignoring stale acknowledgement for task {id}", id=task_id)
            return
        if acknowledged.get("timestamp"):
            waited = time.time() - acknowledged["timestamp"]
            self.status_update_ack_latency.observe(max(0.0, waited))
        entry = self._tasks.get((framework_id, task_id))
        if entry is None:
            return
        executor, task = entry
        self._checkpoint_task_record(executor, task, checkpoint.ack_record(status_uuid))
        if executor.kind is ExecutorKind.CUSTOM and acknowledged.get("source") == "SOURCE_EXECUTOR":
            executor.runner.send(
                {
                    "type": "ACKNOWLEDGED",
                    "acknowledged": {"task_id": ident(task_id), "uuid": status_uuid},
                }
            )
        if acknowledged["state"] in TERMINAL_STATES:
            self._complete_task(executor, task)
            self._maybe_remove_executor(executor)

    def _shutdown_executor_event(self, body: dict) -> None:
        framework = self.frameworks.get(id_value(body, "framework_id"))
        executor_id = id_value(body, "executor_id")
        executor = framework.executors.get(executor_id) if framework else None
        if executor is None:
            log.warn("Ignoring shutdown of unknown executor {id}", id=executor_id)
            return
        self._shutdown_executor(executor)

    def _shutdown_framework(self, body: dict) -> None:
        framework = self.frameworks.get(id_value(body, "framework_id"))
        if framework is None:
            return
        log.info("Shutting down framework {id}", id=framework.framework_id)
        framework.terminating = True
        self.updates.forget_framework(framework.framework_id)
        for executor in list(framework.executors.values()):
            self._shutdown_executor(executor)
            self._maybe_remove_executor(executor)
        self._maybe_remove_framework(framework)

    def _framework_message(self, body: dict) -> None:
        framework = self.frameworks.get(id_value(body, "framework_id"))
        executor = framework.executors.get(id_value(body, "executor_id")) if framework else None
        data = body.get("data")
        if (
            executor is not None
            and executor.kind is ExecutorKind.CUSTOM
            and isinstance(data, str)
            and executor.runner.send({"type": "MESSAGE", "message": {"data": data}})
        ):
            self.counters["slave/valid_framework_messages"] += 1
        else:
            self.counters["slave/invalid_framework_messages"] += 1

    def _update_framework(self, body: dict) -> None:
        info = body["framework_info"]
        framework = self.frameworks.get(id_value(info, "id"))
        if framework is not None and isinstance(info.get("capabilities", []), list):
            framework.info = dict(info)

    # ------------------------------------------------------------ launching

    def _framework(self, info: dict) -> Framework | None:
        framework_id = id_value(info, "id")
        if not isinstance(info.get("capabilities", []), list):
            raise ValueError("'framework_info.capabilities' must be a list")
        framework = self.frameworks.get(framework_id)
        if framework is None:
            framework = self.frameworks[framework_id] = Framework(dict(info))
        elif framework.terminating:
            log.warn("Dropping task of terminating framework {id}", id=framework_id)
            return None
        else:
            framework.info = dict(info)
        return framework

    def _new_task_id(self, framework: Framework, task_id: str) -> bool:
        if (framework.framework_id, task_id) in self._tasks:
            log.warn("Ignoring a second launch of task {id}", id=task_id)
            return False
        return True

    def _resolver(self, framework: Framework) -> UserResolver:
        """Which user a command runs as: its own, else the framework's (if switching)."""

        def resolve(command_user: object) -> RunAs | None:
            name = command_user or framework.info.get("user")
            if not self.config.switch_user or not name:
                return None
            if not isinstance(name, str):
                raise LaunchError(f"Invalid user {name!r}: not a string")
            if os.geteuid() != 0:
                if not self._warned_not_root:
                    self._warned_not_root = True
                    log.warn("The agent is not root: tasks run as the agent's own user")
                return None
            run_as = lookup_user(name)
            return None if run_as.uid == os.geteuid() else run_as

        return resolve

    def _base_environment(self) -> dict[str, str]:
        if self.config.executor_environment is not None:
            return dict(self.config.executor_environment)
        return dict(os.environ)

    def _executor_environment(
        self, framework: Framework, executor_id: str, directory: str, grace: float
    ) -> dict[str, str]:
        return executor_environment(
            self._base_environment(),
            agent_id=self.agent_id or "",
            agent_endpoint=self.endpoint,
            framework_id=framework.framework_id,
            executor_id=executor_id,
            directory=directory,
            shutdown_grace_period=grace,
            checkpoint=bool(framework.info.get("checkpoint")),
        )

    def _new_executor(
        self, framework: Framework, info: dict, kind: ExecutorKind, run_as: RunAs | None
    ) -> Executor:
        """An executor record with a fresh run directory (LaunchError if it cannot be made)."""
        executor_id = id_value(info, "executor_id")
        container_id = str(uuid.uuid4())
        try:
            directory = sandbox.create_run_dir(
                self.config.work_dir,
                self.agent_id or "",
                framework.framework_id,
                executor_id,
                container_id,
            )
            if run_as is not None:
                os.chown(directory, run_as.uid, run_as.gid)
        except (OSError, ValueError) as exc:
            raise LaunchError(f"Failed to create the sandbox: {exc}") from None
        info = dict(
            info, executor_id=ident(executor_id), framework_id=ident(framework.framework_id)
        )
        executor = Executor(
            framework.framework_id,
            info,
            kind,
            container_id,
            directory,
            resources=parse_resources(info.get("resources")),
        )
        if self._checkpointing(framework):
            paths = self._paths()
            try:
                checkpoint.write_json(
                    os.path.join(paths.framework(framework.framework_id), "framework.info"),
                    dict(framework.info, id=ident(framework.framework_id)),
                )
                executor_dir = paths.executor(framework.framework_id, executor_id)
                checkpoint.write_json(
                    os.path.join(executor_dir, "executor.info"),
                    {"info": info, "kind": kind.value},
                )
                run_dir = paths.run(framework.framework_id, executor_id, container_id)
                checkpoint.write_json(os.path.join(run_dir, "run.info"), {"directory": directory})
            except (OSError, ValueError) as exc:
                raise LaunchError(f"Failed to checkpoint the executor: {exc}") from None
        return executor

    # ------------------------------------------------- isolation, checkpoints

    def _isolate(self, executor: Executor, tasks: list[dict]) -> list[str]:
        """Create (or resize) the executor's cgroups; the ``cgroup.procs`` files to join."""
        if self.isolator is None:
            return []
        resources = executor.resources
        for task in tasks:
            resources = resources + parse_resources(task.get("resources"))
        limits = Limits(
            resources.scalar("cpus"),
            resources.scalar("mem"),
            self.config.cgroups_enable_cfs,
            self.config.cgroups_pids_max,
        )
        try:
            return self.isolator.create(executor.container_id, limits)
        except (CgroupError, OSError) as exc:
            raise LaunchError(str(exc)) from None

    def _limitation(self, executor: Executor) -> Limitation | None:
        """The memory limitation that ended the container, if the kernel OOM-killed in it."""
        if self.isolator is None:
            return None
        message = self.isolator.memory_limitation(executor.container_id)
        if message is None:
            return None
        mem = executor.used_resources().scalar("mem")
        resource = {"name": "mem", "type": "SCALAR", "scalar": {"value": mem}}
        return "REASON_CONTAINER_LIMITATION_MEMORY", message, [resource]

    def _release(self, executor: Executor) -> None:
        """The container has ended: remove its cgroups."""
        if self.isolator is None:
            return
        try:
            self.isolator.destroy(executor.container_id)
        except (CgroupError, OSError) as exc:
            log.error(
                "Failed to remove the cgroups of {id}: {error}", id=executor.container_id, error=exc
            )
            self.counters["containerizer/mesos/container_destroy_errors"] += 1

    def _paths(self) -> checkpoint.Paths:
        return checkpoint.Paths(self.config.work_dir, self.agent_id or "")

    @staticmethod
    def _checkpointing(framework: Framework | None) -> bool:
        return framework is not None and bool(framework.info.get("checkpoint"))

    def _checkpoint_agent(self) -> None:
        paths = self._paths()
        checkpoint.write_json(
            os.path.join(paths.agent(), "slave.info"), self.agent_info(), durable=True
        )
        checkpoint.atomic_write(paths.boot_id, checkpoint.current_boot_id().encode(), durable=True)
        sandbox.point_link(paths.latest, self.agent_id or "", durable=True)

    def _task_dir(self, executor: Executor, task_id: str) -> str:
        return self._paths().task(
            executor.framework_id, executor.executor_id, executor.container_id, task_id
        )

    def _checkpoint_task_record(self, executor: Executor, task: Task, record: dict) -> None:
        if not self._checkpointing(self.frameworks.get(executor.framework_id)):
            return
        path = os.path.join(self._task_dir(executor, task.task_id), "task.updates")
        try:
            checkpoint.append_record(path, record)
        except (OSError, ValueError) as exc:
            log.error("Failed to checkpoint an update of {id}: {error}", id=task.task_id, error=exc)
            self.counters["slave/checkpoint_errors"] += 1

    def _status_path(self, executor: Executor, task_id: str | None) -> str | None:
        """Where a checkpointed process's wrapper writes its exit code (None: no wrapper)."""
        if not self._checkpointing(self.frameworks.get(executor.framework_id)):
            return None
        if task_id is None:
            directory = self._paths().run(
                executor.framework_id, executor.executor_id, executor.container_id
            )
        else:
            directory = self._task_dir(executor, task_id)
        return os.path.join(directory, "exit.status")

    def _forked(self, executor: Executor, task_id: str | None, process: Process) -> None:
        """Record a checkpointed process so that a restarted agent can find it again."""
        status_path = self._status_path(executor, task_id)
        if status_path is None:
            return
        directory = os.path.dirname(status_path)
        if task_id is None:
            directory = os.path.join(directory, "pids")
        try:
            checkpoint.write_json(
                os.path.join(directory, "forked.pid"),
                {"pid": process.pid, "started": start_time(process.pid)},
            )
        except OSError as exc:
            log.error("Failed to checkpoint pid {pid}: {error}", pid=process.pid, error=exc)
            self.counters["slave/checkpoint_errors"] += 1

    def _forget_checkpoint(self, framework: Framework, executor: Executor | None) -> None:
        if not self._checkpointing(framework) or not self.agent_id:
            return
        paths = self._paths()
        if executor is None:
            checkpoint.remove_tree(paths.framework(framework.framework_id))
        else:
            checkpoint.remove_tree(paths.executor(framework.framework_id, executor.executor_id))

    def _add_tasks(self, executor: Executor, tasks: list[dict], queued: bool) -> None:
        for info in tasks:
            task = Task(
                info,
                executor.framework_id,
                executor.executor_id,
                resources=parse_resources(info.get("resources")),
            )
            (executor.queued if queued else executor.tasks)[task.task_id] = task
            self._tasks[(executor.framework_id, task.task_id)] = (executor, task)
            if self._checkpointing(self.frameworks.get(executor.framework_id)):
                path = os.path.join(self._task_dir(executor, task.task_id), "task.info")
                try:
                    checkpoint.write_json(path, info)
                except OSError as exc:
                    log.error("Failed to checkpoint task {id}: {error}", id=task.task_id, error=exc)
                    self.counters["slave/checkpoint_errors"] += 1

    def _launch_command_task(self, framework: Framework, task: dict) -> None:
        task_id = task["task_id"]["value"]
        if not isinstance(task.get("command"), dict):
            self._launch_failed(framework, None, task_id, "Task has neither command nor executor")
            return
        info = {
            "executor_id": ident(task_id),
            "framework_id": ident(framework.framework_id),
            "name": f"Command Executor (Task: {task_id}) (Command: {_describe(task['command'])})",
            "source": task_id,
            "command": task["command"],
        }
        if task_id in framework.executors:
            self._launch_failed(framework, None, task_id, f"Executor '{task_id}' already exists")
            return
        self._start_builtin(framework, info, ExecutorKind.COMMAND, [task])

    def _start_builtin(
        self, framework: Framework, info: dict, kind: ExecutorKind, tasks: list[dict]
    ) -> None:
        resolve = self._resolver(framework)
        # A command task's sandbox belongs to the user the command runs as.
        command = tasks[0].get("command") if kind is ExecutorKind.COMMAND else None
        try:
            owner = resolve(command.get("user") if isinstance(command, dict) else None)
            executor = self._new_executor(framework, info, kind, owner)
        except LaunchError as exc:
            executor = None
            failure = str(exc)
        else:
            try:
                cgroups = self._isolate(executor, tasks)
                failure = None
            except LaunchError as exc:
                self._forget_checkpoint(framework, executor)
                failure = str(exc)
        if failure is not None:
            for task in tasks:
                self._launch_failed(framework, None, task["task_id"]["value"], failure)
            if kind is not ExecutorKind.COMMAND:
                self._report_executor_exit(framework, info, UNKNOWN_EXIT_STATUS)
            return
        executor.state = ExecutorState.RUNNING
        framework.executors[executor.executor_id] = executor
        self._builtin_runner(framework, executor, cgroups)
        self._add_tasks(executor, tasks, queued=False)
        executor.runner.launch(tasks)

    def _builtin_runner(self, framework: Framework, executor: Executor, cgroups: list[str]) -> None:
        resolve = self._resolver(framework)
        kind = executor.kind
        executor.runner = CommandExecutor(
            launcher=self.launcher,
            clock=self.clock,
            executor_id=executor.executor_id,
            directory=executor.directory,
            environment=self._executor_environment(
                framework,
                executor.executor_id,
                executor.directory,
                self._shutdown_grace(executor.info),
            ),
            resolve_user=resolve,
            emit=lambda status: self.executor_update(executor, status),
            terminated=lambda: self._executor_exited(executor, 0),
            killing_state=framework.has_capability("TASK_KILLING_STATE"),
            task_groups=kind is ExecutorKind.DEFAULT,
            cgroups=cgroups,
            status_path=lambda task_id: self._status_path(executor, task_id),
            forked=lambda task_id, process: self._forked(executor, task_id, process),
            limitation=lambda: self._limitation(executor),
        )

    def _launch_on_executor(
        self, framework: Framework, info: dict, tasks: list[dict], group: bool
    ) -> None:
        executor_id = id_value(info, "executor_id")
        # Mesos' default executor has no command of its own: the agent plays it.
        builtin = info.get("type") == "DEFAULT" or not isinstance(info.get("command"), dict)
        kind = ExecutorKind.DEFAULT if builtin else ExecutorKind.CUSTOM
        executor = framework.executors.get(executor_id)
        if executor is None:
            if kind is ExecutorKind.DEFAULT:
                self._start_builtin(framework, info, kind, tasks)
                return
            executor = self._start_custom_executor(framework, info, tasks)
            if executor is None:
                return
        if (
            executor.kind is not kind
            or executor.state
            in (
                ExecutorState.TERMINATING,
                ExecutorState.TERMINATED,
            )
            or (kind is ExecutorKind.DEFAULT and executor.runner.finished)
        ):
            for task in tasks:
                self._agent_status(
                    framework,
                    None,
                    task["task_id"]["value"],
                    self._lost_state(framework),
                    "REASON_EXECUTOR_TERMINATED",
                    f"Executor '{executor_id}' is terminating or of another type",
                )
            return
        try:
            self._isolate(executor, [t.info for t in executor.live_tasks()] + tasks)
        except LaunchError as exc:
            for task in tasks:
                self._launch_failed(framework, executor, task["task_id"]["value"], str(exc))
            return
        if kind is ExecutorKind.DEFAULT:
            self._add_tasks(executor, tasks, queued=False)
            executor.runner.launch(tasks)
            return
        if executor.state is ExecutorState.RUNNING and executor.runner.stream is not None:
            self._add_tasks(executor, tasks, queued=False)
            self._send_launch(executor, group, tasks)
        else:
            self._add_tasks(executor, tasks, queued=True)
            executor.pending_launches.append((group, [t["task_id"]["value"] for t in tasks]))

    def _start_custom_executor(
        self, framework: Framework, info: dict, tasks: list[dict]
    ) -> Executor | None:
        executor_id = id_value(info, "executor_id")
        grace = self._shutdown_grace(info)
        executor = None
        try:
            command = info.get("command")
            argv, executable = command_line(command)
            run_as = self._resolver(framework)(command.get("user"))
            executor = self._new_executor(framework, info, ExecutorKind.CUSTOM, run_as)
            cgroups = self._isolate(executor, tasks)
            env = command_environment(
                self._executor_environment(framework, executor_id, executor.directory, grace),
                command,
            )
            process = self.launcher.launch(
                argv,
                executable=executable,
                cwd=executor.directory,
                env=env,
                stdout=os.path.join(executor.directory, "stdout"),
                stderr=os.path.join(executor.directory, "stderr"),
                run_as=run_as,
                cgroups=cgroups,
                status_path=self._status_path(executor, None),
            )
            self._forked(executor, None, process)
        except (LaunchError, OSError) as exc:
            log.warn("Executor {id} failed to launch: {error}", id=executor_id, error=str(exc))
            if executor is not None:
                self._release(executor)
                self._forget_checkpoint(framework, executor)
            for task in tasks:
                self._launch_failed(framework, None, task["task_id"]["value"], str(exc))
            self._report_executor_exit(framework, info, UNKNOWN_EXIT_STATUS)
            return None
        executor.runner = CustomExecutor(
            self.clock,
            process,
            self.config.executor_registration_timeout,
            lambda: self._registration_timed_out(executor),
        )
        framework.executors[executor_id] = executor
        process.when_exited().addCallback(lambda status: self._executor_exited(executor, status))
        log.info("Launched executor {id} (pid {pid})", id=executor_id, pid=process.pid)
        return executor

    def _send_launch(self, executor: Executor, group: bool, tasks: list[dict]) -> None:
        if group:
            executor.runner.send(
                {"type": "LAUNCH_GROUP", "launch_group": {"task_group": {"tasks": tasks}}}
            )
        else:
            for task in tasks:
                executor.runner.send({"type": "LAUNCH", "launch": {"task": task}})

    def _shutdown_grace(self, info: dict) -> float:
        grace = grace_period({"grace_period": info.get("shutdown_grace_period")})
        return self.config.executor_shutdown_grace_period if grace is None else grace

    def _registration_timed_out(self, executor: Executor) -> None:
        if executor.state is not ExecutorState.REGISTERING:
            return
        timeout = format_duration(self.config.executor_registration_timeout)
        log.warn(
            "Executor {id} did not subscribe within {timeout}; killing it",
            id=executor.executor_id,
            timeout=timeout,
        )
        framework = self.frameworks[executor.framework_id]
        for task in executor.live_tasks():
            self._agent_status(
                framework,
                executor,
                task.task_id,
                "TASK_FAILED",
                "REASON_EXECUTOR_REGISTRATION_TIMEOUT",
                f"Executor did not register within {timeout}",
            )
        executor.state = ExecutorState.TERMINATING
        executor.runner.destroy()

    def _shutdown_executor(self, executor: Executor) -> None:
        if executor.state in (ExecutorState.TERMINATING, ExecutorState.TERMINATED):
            return
        was_running = executor.state is ExecutorState.RUNNING
        executor.state = ExecutorState.TERMINATING
        if executor.kind is ExecutorKind.CUSTOM:
            executor.runner.shutdown(self._shutdown_grace(executor.info) if was_running else 0)
        else:
            executor.runner.shutdown()

    def _destroy(self, executor: Executor) -> defer.Deferred:
        """Kill an executor's processes now; fires when they are gone."""
        if executor.state is not ExecutorState.TERMINATED:
            executor.state = ExecutorState.TERMINATING
        if executor.runner is None:  # recovered without a process
            return defer.succeed(None)
        return executor.runner.destroy()

    # ------------------------------------------------------ executors ending

    def _executor_exited(self, executor: Executor, wait_status: int) -> None:
        if executor.state is ExecutorState.TERMINATED:
            return
        executor.state = ExecutorState.TERMINATED
        if executor.kind is ExecutorKind.CUSTOM:
            executor.runner.exited()
            log.info(
                "Executor {id} exited with wait status {status}",
                id=executor.executor_id,
                status=wait_status,
            )
        self.counters["slave/executors_terminated"] += 1
        limitation = self._limitation(executor) if executor.live_tasks() else None
        self._release(executor)
        framework = self.frameworks.get(executor.framework_id)
        if framework is None:
            return
        for task in executor.live_tasks():
            reason, message = "REASON_EXECUTOR_TERMINATED", "Executor terminated"
            if limitation is not None:
                reason, message, _ = limitation
            self._agent_status(framework, executor, task.task_id, "TASK_FAILED", reason, message)
        if executor.kind is not ExecutorKind.COMMAND:
            self._report_executor_exit(framework, executor.info, wait_status)
        self._maybe_remove_executor(executor)

    def _report_executor_exit(self, framework: Framework, info: dict, wait_status: int) -> None:
        """EXECUTOR_EXITED, for executors the master knows (not command executors)."""
        if framework.terminating or self._stopping:
            return
        self.link.call(
            "EXECUTOR_EXITED",
            {
                "framework_id": ident(framework.framework_id),
                "executor_id": ident(id_value(info, "executor_id")),
                "status": wait_status,
            },
        )

    def _complete_task(self, executor: Executor, task: Task) -> None:
        executor.tasks.pop(task.task_id, None)
        executor.queued.pop(task.task_id, None)
        executor.completed_tasks.append(task)
        self._tasks.pop((executor.framework_id, task.task_id), None)

    def _maybe_remove_executor(self, executor: Executor) -> None:
        """Forget a terminated executor once its tasks' last updates are acknowledged."""
        if executor.state is not ExecutorState.TERMINATED:
            return
        framework = self.frameworks.get(executor.framework_id)
        if framework is None:
            return
        if framework.terminating or self._stopping:
            for task in [*executor.queued.values(), *executor.tasks.values()]:
                self._complete_task(executor, task)
        if executor.tasks or executor.queued:
            return
        if framework.executors.get(executor.executor_id) is executor:
            del framework.executors[executor.executor_id]
            framework.completed_executors.append(executor)
            self._forget_checkpoint(framework, executor)
            self.gc.schedule(executor.directory)
        self._maybe_remove_framework(framework)

    def _maybe_remove_framework(self, framework: Framework) -> None:
        if framework.executors:
            return
        if self.frameworks.get(framework.framework_id) is framework:
            del self.frameworks[framework.framework_id]
            self.completed_frameworks.append(framework)
            self._forget_checkpoint(framework, None)

    def _wipe(self, why: str) -> None:
        """Forget every framework and kill everything: the master no longer knows us."""
        log.warn("Killing all tasks: {why}", why=why)
        self.updates.forget_all()
        checkpoint.remove_tree(checkpoint.Paths(self.config.work_dir).slaves)
        for framework in list(self.frameworks.values()):
            framework.terminating = True
            for executor in list(framework.executors.values()):
                if executor.state is not ExecutorState.TERMINATED:
                    self._destroy(executor)
                self._maybe_remove_executor(executor)
            self._maybe_remove_framework(framework)

    # --------------------------------------------------------------- status

    def _lost_state(self, framework: Framework) -> str:
        return "TASK_DROPPED" if framework.has_capability("PARTITION_AWARE") else "TASK_LOST"

    def _launch_failed(
        self, framework: Framework, executor: Executor | None, task_id: str, message: str
    ) -> None:
        self._agent_status(
            framework, executor, task_id, "TASK_FAILED", "REASON_CONTAINER_LAUNCH_FAILED", message
        )

    def _agent_status(
        self,
        framework: Framework,
        executor: Executor | None,
        task_id: str,
        state: str,
        reason: str,
        message: str,
    ) -> None:
        """A status update the agent itself makes about a task."""
        status = {
            "task_id": ident(task_id),
            "state": state,
            "source": "SOURCE_AGENT",
            "reason": reason,
            "message": message,
            "agent_id": ident(self.agent_id or ""),
            "timestamp": self.clock.seconds(),
            "uuid": new_status_uuid(),
        }
        if executor is not None:
            status["executor_id"] = ident(executor.executor_id)
        entry = self._tasks.get((framework.framework_id, task_id))
        self._record(framework, entry[1] if entry else None, status)

    def executor_update(self, executor: Executor, status: dict) -> None:
        """A status update from an executor (built in or through the executor API)."""
        framework = self.frameworks.get(executor.framework_id)
        task = executor.find(status["task_id"]["value"])
        if framework is None or task is None or task.terminal:
            self.counters["slave/invalid_status_updates"] += 1
            log.warn(
                "Dropping {state} for unknown or terminated task {id}",
                state=status.get("state"),
                id=status["task_id"]["value"],
            )
            return
        status.setdefault("agent_id", ident(self.agent_id or ""))
        status.setdefault("executor_id", ident(executor.executor_id))
        status.setdefault("timestamp", self.clock.seconds())
        self._record(framework, task, status)

    def _record(self, framework: Framework, task: Task | None, status: dict) -> None:
        if self._stopping:
            return
        if task is not None:
            if any(s["uuid"] == status["uuid"] for s in task.statuses):
                self.counters["slave/invalid_status_updates"] += 1
                return
            task.record(status)
            entry = self._tasks.get((framework.framework_id, task.task_id))
            if entry is not None:  # written before it is sent: a sent update is never lost
                self._checkpoint_task_record(entry[0], task, checkpoint.update_record(status))
        if not framework.terminating:
            self.updates.update(framework.framework_id, status)
        self.counters["slave/valid_status_updates"] += 1
        metric = _COUNTED_TERMINAL_STATES.get(status["state"])
        if metric:
            self.counters[metric] += 1
        if status.get("reason") == "REASON_CONTAINER_LAUNCH_FAILED":
            self.counters["slave/container_launch_errors"] += 1

    def _forward_update(self, framework_id: str, status: dict) -> None:
        """Send (or re-send) a stream head to the master."""
        entry = {"framework_id": ident(framework_id), "status": status}
        known = self._tasks.get((framework_id, status["task_id"]["value"]))
        if known is not None and known[1].state != status["state"]:
            entry["latest_state"] = known[1].state
        self.link.call("UPDATE", entry)

    # ------------------------------------------------ executor API (HTTP)

    def executor_for_call(self, framework_id: str, executor_id: str) -> Executor:
        framework = self.frameworks.get(framework_id)
        if framework is None:
            raise ExecutorLookupError("Framework cannot be found")
        executor = framework.executors.get(executor_id)
        if executor is None or executor.kind is not ExecutorKind.CUSTOM:
            raise ExecutorLookupError("Executor cannot be found")
        return executor

    def subscribe_executor(self, executor: Executor, stream: EventStream) -> None:
        if executor.state in (ExecutorState.TERMINATING, ExecutorState.TERMINATED):
            stream.send({"type": "SHUTDOWN"})
            stream.close()
            return
        executor.runner.attach(stream)
        executor.state = ExecutorState.RUNNING
        framework = self.frameworks[executor.framework_id]
        stream.send(
            {
                "type": "SUBSCRIBED",
                "subscribed": {
                    "executor_info": executor.info,
                    "framework_info": dict(framework.info, id=ident(framework.framework_id)),
                    "agent_info": self.agent_info(),
                    "container_id": ident(executor.container_id),
                },
            }
        )
        pending, executor.pending_launches = executor.pending_launches, []
        for group, task_ids in pending:
            tasks = []
            for task_id in task_ids:
                task = executor.queued.get(task_id)
                if task is not None and not task.terminal:
                    del executor.queued[task_id]
                    executor.tasks[task_id] = task
                    tasks.append(task.info)
            if tasks:
                self._send_launch(executor, group, tasks)

    def executor_stream_closed(self, executor: Executor, stream: EventStream) -> None:
        if executor.runner.detach(stream):
            log.info("Executor {id} disconnected", id=executor.executor_id)

    def executor_message(self, executor: Executor, data: str) -> None:
        self.link.call(
            "MESSAGE",
            {
                "framework_id": ident(executor.framework_id),
                "executor_id": ident(executor.executor_id),
                "data": data,
            },
        )

    # ------------------------------------------------------------- metrics

    def used_resources(self) -> Resources:
        used = Resources()
        for framework in self.frameworks.values():
            for executor in framework.executors.values():
                if executor.state is not ExecutorState.TERMINATED:
                    used = used + executor.used_resources()
        return used

    def metrics(self) -> dict[str, float]:
        total, used = self.config.resources, self.used_resources()
        snapshot: dict[str, float] = {
            "slave/registered": 1 if self.link.registered else 0,
            "slave/uptime_secs": time.time() - self.start_time,
        }
        for name in ("cpus", "mem", "disk", "gpus"):
            have, using = total.scalar(name), used.scalar(name)
            snapshot[f"slave/{name}_total"] = have
            snapshot[f"slave/{name}_used"] = using
            snapshot[f"slave/{name}_percent"] = using / have if have else 0
        states: Counter[str] = Counter()
        executors: Counter[ExecutorState] = Counter()
        for framework in self.frameworks.values():
            for executor in framework.executors.values():
                executors[executor.state] += 1
                for task in executor.live_tasks():
                    states[task.state] += 1
        for state in ("staging", "starting", "running", "killing"):
            snapshot[f"slave/tasks_{state}"] = states[f"TASK_{state.upper()}"]
        for metric in _COUNTED_TERMINAL_STATES.values():
            snapshot[metric] = self.counters[metric]
        for state in (ExecutorState.REGISTERING, ExecutorState.RUNNING, ExecutorState.TERMINATING):
            snapshot[f"slave/executors_{state.value.lower()}"] = executors[state]
        snapshot["slave/executors_terminated"] = self.counters["slave/executors_terminated"]
        snapshot["slave/executors_preempted"] = 0
        snapshot["slave/frameworks_active"] = sum(
            1 for f in self.frameworks.values() if not f.terminating
        )
        for name in (
            "slave/valid_status_updates",
            "slave/invalid_status_updates",
            "slave/valid_framework_messages",
            "slave/invalid_framework_messages",
            "slave/container_launch_errors",
        ):
            snapshot[name] = self.counters[name]
        snapshot["slave/recovery_errors"] = self.counters["slave/recovery_errors"]
        snapshot["slave/executor_directory_max_allowed_age_secs"] = self.gc.allowed_age
        snapshot["gc/path_removals_succeeded"] = self.gc.succeeded
        snapshot["gc/path_removals_failed"] = self.gc.failed
        snapshot["gc/path_removals_pending"] = self.gc.pending
        snapshot["slave/recovery_time_secs"] = self.recovery_seconds
        snapshot["containerizer/mesos/container_destroy_errors"] = self.counters[
            "containerizer/mesos/container_destroy_errors"
        ]
        return snapshot

    def statistics(self) -> list[dict]:
        """``/monitor/statistics``: usage of every live executor's container."""
        entries = []
        now = time.time()
        for framework in self.frameworks.values():
            for executor in framework.executors.values():
                if executor.state is ExecutorState.TERMINATED:
                    continue
                allocated = executor.used_resources()
                stats: dict[str, float] = {
                    "timestamp": now,
                    "cpus_limit": allocated.scalar("cpus"),
                    "mem_limit_bytes": int(allocated.scalar("mem") * 1024 * 1024),
                }
                if self.isolator is not None:
                    stats.update(self.isolator.statistics(executor.container_id))
                else:
                    stats.update(process_statistics(self._process_groups(executor)))
                entries.append(
                    {
                        "executor_id": executor.executor_id,
                        "executor_name": executor.info.get("name", ""),
                        "framework_id": framework.framework_id,
                        "source": executor.info.get("source", ""),
                        "statistics": stats,
                    }
                )
        return entries

    @staticmethod
    def _process_groups(executor: Executor) -> set[int]:
        runner = executor.runner
        if isinstance(runner, CustomExecutor):
            return {runner.process.pid}
        if isinstance(runner, CommandExecutor):
            return runner.process_groups()
        return set()


def _remove_sandbox(path: str) -> None:
    """Remove a run directory, and its executor's directory once no run is left."""
    shutil.rmtree(path)
    runs = os.path.dirname(path)
    with contextlib.suppress(OSError):
        if set(os.listdir(runs)) <= {sandbox.LATEST}:
            shutil.rmtree(os.path.dirname(runs))


def _describe(command: dict) -> str:
    if command.get("shell", True):
        return f"sh -c '{command.get('value', '')}'"
    return " ".join(command.get("arguments") or [str(command.get("value", ""))])
