"""A framework's own executor: its process, its environment and its event stream.

The process talks back through ``POST /api/v1/executor`` (``executor_api``);
this module holds what the agent needs to drive it: the environment Mesos
gives executors, the open subscription, and shutdown with a grace period.
"""

from __future__ import annotations

from collections.abc import Callable

from twisted.internet import defer
from twisted.internet.interfaces import IDelayedCall, IReactorTime

from mesos_py.agent.launcher import Process
from mesos_py.common.durations import format_duration
from mesos_py.common.http import EventStream

EXECUTOR_HEARTBEAT_INTERVAL = 30 * 60.0
RECOVERY_TIMEOUT = 15 * 60.0
EXECUTOR_REREGISTRATION_TIMEOUT = 2.0


def executor_environment(
    base: dict[str, str],
    *,
    agent_id: str,
    agent_endpoint: str,
    framework_id: str,
    executor_id: str,
    directory: str,
    shutdown_grace_period: float,
    checkpoint: bool,
) -> dict[str, str]:
    """The environment an executor (and a command task) starts with."""
    env = dict(base)
    env.update(
        {
            "MESOS_AGENT_ENDPOINT": agent_endpoint,
            "MESOS_FRAMEWORK_ID": framework_id,
            "MESOS_EXECUTOR_ID": executor_id,
            "MESOS_DIRECTORY": directory,
            "MESOS_SANDBOX": directory,
            "MESOS_SLAVE_ID": agent_id,
            "MESOS_SLAVE_PID": f"slave(1)@{agent_endpoint}",
            "MESOS_HTTP_COMMAND_EXECUTOR": "0",
            "MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD": format_duration(shutdown_grace_period),
            "LIBPROCESS_PORT": "0",
        }
    )
    if checkpoint:
        env["MESOS_CHECKPOINT"] = "1"
        env["MESOS_RECOVERY_TIMEOUT"] = format_duration(RECOVERY_TIMEOUT)
        env["MESOS_SUBSCRIPTION_BACKOFF_MAX"] = format_duration(EXECUTOR_REREGISTRATION_TIMEOUT)
    else:
        # pymesos treats any value, even "0", as "checkpointing": leave it unset so that
        # its executors exit when they lose the agent, as non-checkpointing ones must.
        for name in (
            "MESOS_CHECKPOINT",
            "MESOS_RECOVERY_TIMEOUT",
            "MESOS_SUBSCRIPTION_BACKOFF_MAX",
        ):
            env.pop(name, None)
    return env


class CustomExecutor:
    """The process of a custom executor and its subscription, if any.

    ``registration_timed_out`` is called if the executor has not subscribed
    within ``registration_timeout`` seconds.
    """

    def __init__(
        self,
        clock: IReactorTime,
        process: Process,
        registration_timeout: float,
        registration_timed_out: Callable[[], None],
    ) -> None:
        self.process = process
        self.stream: EventStream | None = None
        self._clock = clock
        self._heartbeat: IDelayedCall | None = None
        self._shutdown_kill: IDelayedCall | None = None
        self._registration: IDelayedCall | None = clock.callLater(
            registration_timeout, registration_timed_out
        )

    def attach(self, stream: EventStream) -> None:
        """Use a new subscription, replacing (and closing) an older one."""
        old, self.stream = self.stream, stream
        if old is not None:
            old.close()
        self.stop_registration_timer()
        self._cancel(self._heartbeat)
        self._heartbeat = self._clock.callLater(
            EXECUTOR_HEARTBEAT_INTERVAL, stream.start_heartbeats, EXECUTOR_HEARTBEAT_INTERVAL
        )

    def detach(self, stream: EventStream) -> bool:
        """Forget ``stream`` if it is the current one (it closed)."""
        if self.stream is not stream:
            return False
        self.stream = None
        self._cancel(self._heartbeat)
        self._heartbeat = None
        return True

    def send(self, event: dict) -> bool:
        if self.stream is None or self.stream.closed:
            return False
        self.stream.send(event)
        return True

    def stop_registration_timer(self) -> None:
        self._cancel(self._registration)
        self._registration = None

    def shutdown(self, grace_period: float) -> None:
        """SHUTDOWN event if subscribed; the process group is killed after the grace period."""
        self.stop_registration_timer()
        if not self.send({"type": "SHUTDOWN"}):
            grace_period = 0
        if self._shutdown_kill is None and self.process.wait_status is None:
            self._shutdown_kill = self._clock.callLater(grace_period, self.destroy)

    def destroy(self) -> defer.Deferred[int]:
        """Kill the process group now; fires with the wait status."""
        self.stop_registration_timer()
        self._cancel(self._shutdown_kill)
        self._shutdown_kill = None
        return self.process.kill(0)

    def exited(self) -> None:
        """The process is gone: end the subscription and the timers."""
        for call in (self._heartbeat, self._shutdown_kill, self._registration):
            self._cancel(call)
        self._heartbeat = self._shutdown_kill = self._registration = None
        stream, self.stream = self.stream, None
        if stream is not None:
            stream.close()

    @staticmethod
    def _cancel(call: IDelayedCall | None) -> None:
        if call is not None and call.active():
            call.cancel()
