"""Health checks run by the framework against each running task.

HTTP(S) and TCP checks (and their MESOS_* names) probe ``host:port`` from the
framework, as Marathon-level checks do.  COMMAND checks run the command with
``/bin/sh -c`` on the framework's host, with the task's ``HOST``, ``PORT``,
``PORT0..n``, ``PORTS`` and ``MESOS_TASK_ID`` in its environment: the agent
runs no per-task health checker, and a probe run from here sees the task the
way its clients do.  Results feed ``health.record``.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

from twisted.internet import defer, error, protocol, task
from twisted.internet.endpoints import HostnameEndpoint
from twisted.logger import Logger
from twisted.web.client import Agent, HTTPConnectionPool

from mesos_py.marathon import health

log = Logger()


class _Exit(protocol.ProcessProtocol):
    def __init__(self, done: defer.Deferred) -> None:
        self.done = done

    def processEnded(self, reason: Any) -> None:
        self.done.callback(getattr(reason.value, "exitCode", 1))


class HealthChecker:
    """Probes per (task, check), on the reactor; the Marathon's books hold the results."""

    def __init__(self, reactor: Any, marathon: Any) -> None:
        self.reactor = reactor
        self.marathon = marathon
        pool = HTTPConnectionPool(reactor, persistent=False)
        self.agent = Agent(reactor, pool=pool, connectTimeout=5)
        self._loops: dict[str, list[task.LoopingCall]] = {}

    def watch(self, record: Any) -> None:
        """Start probing a task that runs (once; later calls do nothing)."""
        app = self.marathon.apps.get(record.app_id)
        if app is None or not app.definition["healthChecks"] or record.task_id in self._loops:
            return
        checks = app.definition["healthChecks"]
        states = [health.CheckState(started_at=record.started_at or 0.0) for _ in checks]
        self.marathon.health[record.task_id] = states
        loops = []
        for check, check_state in zip(checks, states, strict=True):
            loop = task.LoopingCall(self._probe, record, check, check_state)
            loop.clock = self.reactor
            loop.start(float(check["intervalSeconds"]) or 1.0, now=True)
            loops.append(loop)
        self._loops[record.task_id] = loops

    def forget(self, task_id: str) -> None:
        for loop in self._loops.pop(task_id, []):
            if loop.running:
                loop.stop()

    def stop(self) -> None:
        for task_id in list(self._loops):
            self.forget(task_id)

    def _port(self, record: Any, check: dict) -> int | None:
        if check.get("port"):
            return int(check["port"])
        index = check.get("portIndex", 0)
        return record.ports[index] if index < len(record.ports) else None

    def _probe(self, record: Any, check: dict, state: health.CheckState) -> defer.Deferred:
        protocol_name = check["protocol"].removeprefix("MESOS_")
        timeout = float(check["timeoutSeconds"]) or 1.0
        if protocol_name == "COMMAND":
            attempt = self._command(record, check, timeout)
        else:
            port = self._port(record, check)
            if port is None:
                attempt = defer.succeed((False, "no port to probe"))
            elif protocol_name == "TCP":
                attempt = self._tcp(record.host, port)
            else:
                scheme = "https" if protocol_name == "HTTPS" else "http"
                url = f"{scheme}://{record.host}:{port}{check.get('path', '/')}"
                attempt = self._http(url, check.get("ignoreHttp1xx", False))
        attempt.addTimeout(timeout, self.reactor)
        attempt.addErrback(lambda f: (False, f.getErrorMessage() or f.type.__name__))
        attempt.addCallback(lambda result: self._result(record, check, state, *result))
        return attempt

    def _http(self, url: str, ignore_1xx: bool) -> defer.Deferred:
        def judge(response: Any) -> tuple[bool, str]:
            response.deliverBody(_Discard())
            code = response.code
            if 200 <= code < 400 or (ignore_1xx and 100 <= code < 200):
                return True, ""
            return False, f"HTTP {code}"

        return self.agent.request(b"GET", url.encode()).addCallback(judge)

    def _tcp(self, host: str, port: int) -> defer.Deferred:
        endpoint = HostnameEndpoint(self.reactor, host, port, timeout=5)

        def opened(proto: Any) -> tuple[bool, str]:
            proto.transport.loseConnection()
            return True, ""

        return endpoint.connect(protocol.Factory.forProtocol(protocol.Protocol)).addCallback(opened)

    def _command(self, record: Any, check: dict, timeout: float) -> defer.Deferred:
        done: defer.Deferred = defer.Deferred()
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOST": record.host,
            "MESOS_TASK_ID": record.task_id,
            "PORTS": ",".join(str(p) for p in record.ports),
        }
        if record.ports:
            env["PORT"] = str(record.ports[0])
        for index, port in enumerate(record.ports):
            env[f"PORT{index}"] = str(port)
        transport = self.reactor.spawnProcess(
            _Exit(done), "/bin/sh", ["/bin/sh", "-c", check["command"]["value"]], env=env
        )

        def timed_out(failure: Any) -> Any:
            failure.trap(defer.TimeoutError, defer.CancelledError)
            with contextlib.suppress(error.ProcessExitedAlready):
                transport.signalProcess("KILL")
            return failure

        done.addTimeout(timeout, self.reactor)
        done.addErrback(timed_out)
        return done.addCallback(lambda code: (code == 0, "" if code == 0 else f"exit code {code}"))

    def _result(
        self, record: Any, check: dict, state: health.CheckState, ok: bool, cause: str
    ) -> None:
        if record.task_id not in self._loops:
            return  # the task ended while the probe ran
        marathon = self.marathon
        outcome = health.record(state, check, self.reactor.seconds(), ok, cause)
        if outcome.failed:
            marathon.health_check_failures_total += 1
            marathon.events.publish(
                "failed_health_check_event",
                appId=record.app_id,
                taskId=record.task_id,
                instanceId=record.task_id,
                healthCheck=check,
            )
        if outcome.changed:
            marathon.events.publish(
                "health_status_changed_event",
                appId=record.app_id,
                taskId=record.task_id,
                instanceId=record.task_id,
                version=record.version,
                alive=bool(state.alive),
            )
            marathon.converge_soon()
        if outcome.kill and not record.killing:
            log.info("killing unhealthy task {t}: {cause}", t=record.task_id, cause=cause)
            marathon.events.publish(
                "unhealthy_instance_kill_event",
                appId=record.app_id,
                taskId=record.task_id,
                instanceId=record.task_id,
                version=record.version,
                reason=cause,
                host=record.host,
                slaveId=record.agent_id,
            )
            marathon.kill_task(record)


class _Discard(protocol.Protocol):
    def connectionLost(self, reason: Any = None) -> None:
        pass
