"""The Marathon scheduler: apps, tasks and deployments, kept converging on the reactor.

``Marathon`` is the framework's brain and the driver's ``Scheduler``.  What a
new leader could not learn from the master is written to the store before it
is acted on: a task record before its launch, a kill before it is sent, a
task's end before its terminal update is acknowledged (intermediate states
are answered again by reconciliation).  After every
(re)subscription it first reconciles the stored tasks with the master, adopts
what still runs, and only then launches what is missing, so a leader change
(of the framework or of the master) kills or duplicates nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from twisted.internet import defer, task
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from mesos_py.common.protocol import ENDED_FOR_FRAMEWORKS
from mesos_py.framework.store import fenced_out
from mesos_py.marathon import appdef, constraints, deployment, health, matching
from mesos_py.marathon.backoff import FAILED_STATES, LaunchBackoff
from mesos_py.marathon.events import EventBus
from mesos_py.marathon.state import MarathonState, Snapshot, trim_versions

log = Logger()

RECONCILE_TIMEOUT = 10.0  # seconds to wait for answers before launching anyway
DECLINE_SECONDS = 5.0
CONVERGE_DELAY = 0.2  # coalesces the converging asked for by bursts of status updates


class Conflict(Exception):
    """The app is locked by running deployments (Marathon's 409)."""

    def __init__(self, deployment_ids: list[str]) -> None:
        super().__init__(deployment_ids)
        self.deployment_ids = deployment_ids


class NotFound(Exception):
    pass


@dataclass
class TaskRecord:
    task_id: str
    app_id: str
    agent_id: str
    host: str
    ports: list[int]
    generation: str
    version: str
    attributes: dict[str, str] = field(default_factory=dict)
    state: str = "TASK_STAGING"
    staged_at: float = 0.0
    started_at: float | None = None
    killing: bool = False

    def stored(self) -> dict[str, Any]:
        """The record as stored (``dataclasses.asdict`` is several times slower)."""
        body = dict(vars(self))
        body["ports"] = list(self.ports)
        body["attributes"] = dict(self.attributes)
        return body

    def api_json(self, app: dict | None, checks: list[health.CheckState] | None) -> dict:
        body: dict[str, Any] = {
            "id": self.task_id,
            "appId": self.app_id,
            "host": self.host,
            "ipAddresses": [],
            "ports": self.ports,
            "slaveId": self.agent_id,
            "stagedAt": appdef.format_timestamp(self.staged_at),
            "startedAt": (
                appdef.format_timestamp(self.started_at) if self.started_at is not None else None
            ),
            "state": "TASK_KILLING"
            if self.killing and self.state == "TASK_RUNNING"
            else self.state,
            "version": self.version,
        }
        service_ports = (app or {}).get("ports", [])
        if service_ports:
            # The client pairs each port with a service port: never send fewer.
            body["servicePorts"] = (service_ports + [0] * len(self.ports))[
                : max(len(self.ports), len(service_ports))
            ]
        if checks:
            body["healthCheckResults"] = [health.result_json(c, self.task_id) for c in checks]
        return body


@dataclass
class Deployment:
    deployment_id: str
    version: str
    app_id: str
    steps: list[list[dict]]
    original: dict | None  # the definition before the change (None: the app is new)
    target: dict | None  # None: the app is being removed

    def api_json(self) -> dict:
        return {
            "id": self.deployment_id,
            "version": self.version,
            "affectedApps": [self.app_id],
            "affectedPods": [],
            "steps": [{"actions": actions} for actions in self.steps],
            "currentActions": [
                {"action": a["action"], "app": a["app"], "readinessCheckResults": []}
                for a in self.steps[-1]
            ],
            "currentStep": len(self.steps),
            "totalSteps": len(self.steps),
        }

    def plan_json(self) -> dict:
        def group(app: dict | None) -> dict:
            return {"id": "/", "apps": [app] if app else [], "groups": [], "dependencies": []}

        return {
            "id": self.deployment_id,
            "version": self.version,
            "original": group(self.original),
            "target": group(self.target),
            "steps": [{"actions": actions} for actions in self.steps],
        }


@dataclass
class AppRecord:
    definition: dict
    generation: str  # changes on config changes and restarts, not on scaling
    last_failure: dict | None = None


class Marathon:
    """Apps, tasks and deployments; the driver's scheduler callbacks."""

    def __init__(
        self,
        clock: IReactorTime,
        state: MarathonState,
        events: EventBus,
        reconciliation_interval: float = 600.0,
        converge_interval: float = 1.0,
    ) -> None:
        self.clock = clock
        self.state = state
        self.events = events
        self.reconciliation_interval = reconciliation_interval
        self.converge_interval = converge_interval
        self.apps: dict[str, AppRecord] = {}
        self.versions: dict[str, dict[str, dict]] = {}
        self.tasks: dict[str, TaskRecord] = {}
        self._by_app: dict[str, dict[str, TaskRecord]] = {}  # the same records, by app
        self.deployments: dict[str, Deployment] = {}
        self.health: dict[str, list[health.CheckState]] = {}
        self.backoff = LaunchBackoff()
        self.framework_id: str | None = None
        self.driver: Any = None
        self.reconciled = False
        self._awaiting: set[str] = set()
        self._reconcile_timeout: Any = None
        self._loops: list[task.LoopingCall] = []
        self._last_version = 0.0
        self._wants_offers = True
        self._soon: Any = None
        self.health_checker: Any = None  # set by the service: starts/stops probes
        self.launched_total = 0
        self.ended_total: dict[str, int] = {}  # terminal task state -> tasks that ended in it
        self.health_check_failures_total = 0

    # -- life cycle ---------------------------------------------------------------

    def restore(self, snapshot: Snapshot) -> None:
        """Take over the stored state (a new leader, before subscribing)."""
        self.framework_id = snapshot.framework_id
        for app_id, record in snapshot.apps.items():
            self.apps[app_id] = AppRecord(record["app"], record["generation"])
        self.versions = snapshot.versions
        for record in snapshot.tasks.values():
            self._add_task(TaskRecord(**record))
        for deployment_id, record in snapshot.deployments.items():
            self.deployments[deployment_id] = Deployment(**record)

    def start(self) -> None:
        converge = task.LoopingCall(self.converge)
        converge.clock = self.clock
        converge.start(self.converge_interval, now=False)
        reconcile = task.LoopingCall(self._reconcile_all)
        reconcile.clock = self.clock
        reconcile.start(self.reconciliation_interval, now=False)
        self._loops = [converge, reconcile]

    def stop(self) -> None:
        for loop in self._loops:
            if loop.running:
                loop.stop()
        self._loops = []
        if self._soon is not None and self._soon.active():
            self._soon.cancel()
        if self._reconcile_timeout is not None and self._reconcile_timeout.active():
            self._reconcile_timeout.cancel()

    # -- driver callbacks -----------------------------------------------------------

    def subscribed(self, driver: Any, framework_id: str, master_info: dict) -> None:
        self.driver = driver
        if framework_id != self.framework_id:
            self.framework_id = framework_id
            self.state.save_framework_id(framework_id)
        self.reconciled = False
        self._wants_offers = True
        self._reconcile_all()
        self._reconcile_timeout = self.clock.callLater(RECONCILE_TIMEOUT, self._reconcile_done)
        if not self._awaiting:
            self._reconcile_done()

    def disconnected(self, driver: Any) -> None:
        self.reconciled = False

    def _reconcile_all(self) -> None:
        if self.driver is None:
            return
        known = [(t.task_id, t.agent_id or None) for t in self.tasks.values()]
        self._awaiting = {t for t, _ in known}
        if known:
            self.driver.reconcile(known).addErrback(self._log_call, "reconcile")
        self.driver.reconcile([]).addErrback(self._log_call, "reconcile")

    def _reconcile_done(self) -> None:
        if self._reconcile_timeout is not None and self._reconcile_timeout.active():
            self._reconcile_timeout.cancel()
        self._reconcile_timeout = None
        if not self.reconciled:
            self.reconciled = True
            log.info("reconciliation done: {n} task(s) known", n=len(self.tasks))
            self.converge()

    def _log_call(self, failure: Any, what: str) -> None:
        log.warn("{what} failed: {error}", what=what, error=failure.getErrorMessage())

    def rescinded(self, driver: Any, offer_id: str) -> None:
        pass

    def failure(self, driver: Any, failure: dict) -> None:
        log.info("failure event: {failure}", failure=failure)

    def error(self, driver: Any, message: str) -> None:
        log.error("framework error from the master: {message}", message=message)

    def update(self, driver: Any, status: dict) -> defer.Deferred | None:
        task_id = status["task_id"]["value"]
        state = status["state"]
        self._awaiting.discard(task_id)
        if self._awaiting == set() and not self.reconciled and self._reconcile_timeout:
            self.clock.callLater(0, self._reconcile_done)
        record = self.tasks.get(task_id)
        if record is None:
            return self._unknown_task(status)
        terminal = state in ENDED_FOR_FRAMEWORKS
        self._publish_status(record, status)
        if terminal:
            return self._task_ended(record, status)
        changed = record.state != state
        record.state = state
        if state == "TASK_RUNNING" and record.started_at is None:
            record.started_at = self.clock.seconds()
            changed = True
        if state == "TASK_RUNNING" and self.health_checker is not None:
            self.health_checker.watch(record)
        if record.killing and record.state != "TASK_KILLING":
            self._send_kill(record)  # a kill lost in a failover: send it again
        if changed:
            # Not written: after a failover the master's reconciliation answers the
            # state again. What it cannot answer (the task exists, a kill was meant)
            # is stored at launch and at kill time.
            self.converge_soon()
        return None

    def _unknown_task(self, status: dict) -> defer.Deferred | None:
        """A task the books do not know: adopt it if its app exists, else kill it."""
        task_id = status["task_id"]["value"]
        state = status["state"]
        if state in ENDED_FOR_FRAMEWORKS:
            return None
        app_id = appdef.app_id_of_task(task_id)
        app = self.apps.get(app_id) if app_id else None
        agent_id = status.get("agent_id", {}).get("value", "")
        if app is None:
            log.info("killing task {t} of no known app", t=task_id)
            self.driver.kill(task_id, agent_id or None).addErrback(self._log_call, "kill")
            return None
        host = next((t.host for t in self.tasks.values() if t.agent_id == agent_id), "")
        record = TaskRecord(
            task_id=task_id,
            app_id=app_id,
            agent_id=agent_id,
            host=host,
            ports=[],
            generation=app.generation,
            version=app.definition["version"],
            state=state,
            staged_at=float(status.get("timestamp", self.clock.seconds())),
            started_at=self.clock.seconds() if state == "TASK_RUNNING" else None,
        )
        self._add_task(record)
        log.info("adopted running task {t} of {a}", t=task_id, a=app_id)
        return self.state.save_task(task_id, record.stored())

    def _task_ended(self, record: TaskRecord, status: dict) -> defer.Deferred:
        state = status["state"]
        self.ended_total[state] = self.ended_total.get(state, 0) + 1
        del self.tasks[record.task_id]
        del self._by_app[record.app_id][record.task_id]
        self.health.pop(record.task_id, None)
        if self.health_checker is not None:
            self.health_checker.forget(record.task_id)
        app = self.apps.get(record.app_id)
        if app is not None and state in FAILED_STATES | {"TASK_LOST"} and not record.killing:
            if state in FAILED_STATES:
                self.backoff.failed(app.definition, self.clock.seconds())
            app.last_failure = {
                "appId": record.app_id,
                "host": record.host,
                "message": status.get("message", ""),
                "state": state,
                "taskId": record.task_id,
                "timestamp": appdef.format_timestamp(self.clock.seconds()),
                "version": record.version,
                "slaveId": record.agent_id,
            }
        done = self.state.delete_task(record.task_id)
        self.converge_soon()
        return done

    def _publish_status(self, record: TaskRecord, status: dict) -> None:
        self.events.publish(
            "status_update_event",
            slaveId=record.agent_id,
            taskId=record.task_id,
            taskStatus=status["state"],
            message=status.get("message", ""),
            appId=record.app_id,
            host=record.host,
            ipAddresses=[],
            ports=record.ports,
            version=record.version,
        )

    # -- offers and launching -------------------------------------------------------

    def offers(self, driver: Any, offers: list[dict]) -> None:
        self.driver = driver
        if not self.reconciled:
            driver.decline([o["id"]["value"] for o in offers], 1.0).addErrback(
                self._log_call, "decline"
            )
            return
        wanted = self._launch_demand()
        now = self.clock.seconds()
        for offer in offers:
            offer_id = offer["id"]["value"]
            infos = self._fill_offer(offer, wanted, now) if wanted else []
            if infos:
                self._launch(driver, offer_id, infos)
            else:
                driver.decline([offer_id], DECLINE_SECONDS).addErrback(self._log_call, "decline")
        if not any(wanted.values()):
            self._wants_offers = False

    def _launch_demand(self) -> dict[str, int]:
        demand = {}
        for app_id, app in self.apps.items():
            decision = self._decide(app)
            if decision.launch:
                demand[app_id] = decision.launch
        return demand

    def _fill_offer(self, offer: dict, wanted: dict[str, int], now: float) -> list[tuple]:
        budget = matching.OfferBudget.of(offer)
        hostname, attributes = constraints.offer_fields(offer)
        launches = []
        for app_id, count in wanted.items():
            app = self.apps[app_id]
            definition = app.definition
            if self.backoff.launch_at(definition) > now:
                continue
            roles = definition.get("acceptedResourceRoles")
            if roles and "*" not in roles:
                continue
            rules = definition["constraints"]
            placed = (
                [
                    constraints.placement_values(rules, t.host, t.attributes)
                    for t in self.tasks.values()
                    if t.app_id == app_id
                ]
                if rules
                else []
            )
            while count > 0:
                if rules and not constraints.satisfied(rules, hostname, attributes, placed):
                    break
                claim = budget.claim(definition)
                if claim is None:
                    break
                task_id = appdef.new_task_id(app_id)
                record = TaskRecord(
                    task_id=task_id,
                    app_id=app_id,
                    agent_id=offer["agent_id"]["value"],
                    host=hostname,
                    ports=claim.host_ports,
                    generation=app.generation,
                    version=definition["version"],
                    attributes=attributes,
                    staged_at=now,
                )
                self._add_task(record)
                launches.append((record, matching.task_info(definition, task_id, offer, claim)))
                if rules:
                    placed.append(constraints.placement_values(rules, hostname, attributes))
                count -= 1
            wanted[app_id] = count
        return launches

    def _launch(self, driver: Any, offer_id: str, launches: list[tuple]) -> None:
        """Write the task records, then launch: a new leader knows what may be running."""
        saved = [self.state.save_task(r.task_id, r.stored()) for r, _ in launches]

        def launch(_: Any) -> defer.Deferred:
            self.launched_total += len(launches)
            return driver.launch([offer_id], [info for _, info in launches], DECLINE_SECONDS)

        def failed(failure: Any) -> None:
            log.warn("launch on {o} failed: {e}", o=offer_id, e=failure.getErrorMessage())
            for record, _ in launches:
                if self.tasks.get(record.task_id) is record and record.state == "TASK_STAGING":
                    self._task_ended(record, {"state": "TASK_DROPPED", "message": "launch failed"})

        defer.gatherResults(saved, consumeErrors=True).addCallback(launch).addErrback(failed)

    # -- converging -----------------------------------------------------------------

    def _add_task(self, record: TaskRecord) -> None:
        self.tasks[record.task_id] = record
        self._by_app.setdefault(record.app_id, {})[record.task_id] = record

    def app_tasks(self, app_id: str) -> list[TaskRecord]:
        return list(self._by_app.get(app_id, {}).values())

    def live_tasks(self, app: AppRecord) -> list[deployment.LiveTask]:
        """The app's tasks as ``converge`` sees them (ready: running, and healthy if checked)."""
        has_checks = bool(app.definition["healthChecks"])
        live = []
        for t in self.app_tasks(app.definition["id"]):
            running = t.state == "TASK_RUNNING"
            ready = running and (
                not has_checks or health.is_ready(self.health.get(t.task_id, []), True, True)
            )
            live.append(deployment.LiveTask(t.task_id, t.generation, ready, t.killing, t.staged_at))
        return live

    def _decide(self, app: AppRecord, live: list[deployment.LiveTask] | None = None):
        definition = app.definition
        strategy = definition["upgradeStrategy"]
        return deployment.converge(
            definition["instances"],
            app.generation,
            self.live_tasks(app) if live is None else live,
            strategy["minimumHealthCapacity"],
            strategy["maximumOverCapacity"],
            definition["killSelection"] == "YOUNGEST_FIRST",
        )

    def converge_soon(self) -> None:
        """Converge once shortly, however many events ask for it meanwhile."""
        if self._soon is None or not self._soon.active():
            self._soon = self.clock.callLater(CONVERGE_DELAY, self.converge)

    def converge(self) -> None:
        """Kill what must go, ask for offers when something is missing, end deployments."""
        if not self.reconciled or self.driver is None:
            return
        missing = False
        live_by_app = {}
        for app_id, app in list(self.apps.items()):
            live = live_by_app[app_id] = self.live_tasks(app)
            decision = self._decide(app, live)
            for task_id in decision.kill:
                self.kill_task(self.tasks[task_id])
            missing = missing or decision.launch > 0
        for dep in list(self.deployments.values()):
            self._maybe_finish(dep, live_by_app.get(dep.app_id, []))
        if missing and not self._wants_offers:
            self._wants_offers = True
            self.driver.revive().addErrback(self._log_call, "revive")

    def kill_task(self, record: TaskRecord) -> defer.Deferred:
        if record.killing:
            return defer.succeed(None)
        record.killing = True
        saved = self.state.save_task(record.task_id, record.stored())

        def send(result: Any) -> Any:
            # Even if the write failed, the kill is wanted now; but not when it was
            # fenced out: this instance no longer leads, and its view may be stale.
            if not (isinstance(result, Failure) and fenced_out(result)):
                self._send_kill(record)
            return result

        return saved.addBoth(send)

    def _send_kill(self, record: TaskRecord) -> None:
        if self.driver is not None:
            self.driver.kill(record.task_id, record.agent_id or None).addErrback(
                self._log_call, "kill"
            )

    def _maybe_finish(self, dep: Deployment, live: list[deployment.LiveTask]) -> None:
        """End ``dep`` when its app reached the target (``live``: as converging saw it)."""
        app = self.apps.get(dep.app_id)
        if dep.target is None:
            done = not self.app_tasks(dep.app_id)
            if done:
                self.apps.pop(dep.app_id, None)
                self.versions.pop(dep.app_id, None)
                self.backoff.reset(dep.app_id)
                self.state.delete_app(dep.app_id)
                self.events.publish("app_terminated_event", appId=dep.app_id)
        else:
            done = app is not None and deployment.is_complete(
                app.definition["instances"], app.generation, live
            )
        if done:
            self._end_deployment(dep, "deployment_success")

    def _end_deployment(self, dep: Deployment, event: str) -> None:
        self.deployments.pop(dep.deployment_id, None)
        self.state.delete_deployment(dep.deployment_id)
        if event == "deployment_success":
            self.events.publish(
                "deployment_step_success", plan=dep.plan_json(), currentStep=len(dep.steps)
            )
        self.events.publish(event, id=dep.deployment_id, plan=dep.plan_json())

    # -- changes (the REST API calls these) ---------------------------------------------

    def _next_version(self) -> str:
        now = max(self.clock.seconds(), self._last_version + 0.001)
        self._last_version = now
        return appdef.format_timestamp(now)

    def locks(self, app_id: str) -> list[str]:
        return [d.deployment_id for d in self.deployments.values() if d.app_id == app_id]

    def _unlock(self, app_id: str, force: bool) -> None:
        locked = self.locks(app_id)
        if locked and not force:
            raise Conflict(locked)
        for deployment_id in locked:
            dep = self.deployments[deployment_id]
            self._end_deployment(dep, "deployment_failed")

    def _service_ports_taken(self, except_app: str) -> set[int]:
        return {
            port
            for app_id, app in self.apps.items()
            if app_id != except_app
            for port in app.definition.get("ports", [])
        }

    @defer.inlineCallbacks
    def put_app(self, definition: dict, force: bool = False, restart: bool = False):
        """Create or change an app; returns its Deployment once the change is stored."""
        app_id = definition["id"]
        self._unlock(app_id, force)
        old = self.apps.get(app_id)
        version = self._next_version()
        new = dict(definition)
        new["version"] = version
        if old is not None:
            for index, port in enumerate(new["ports"]):
                if port == 0 and index < len(old.definition["ports"]):
                    new["portDefinitions"][index]["port"] = old.definition["ports"][index]
        appdef.assign_service_ports(new, self._service_ports_taken(app_id))
        scale_only = old is not None and not restart and appdef.is_scale_only(old.definition, new)
        if old is None or not (scale_only or restart):
            info = {"lastScalingAt": version, "lastConfigChangeAt": version}
        else:
            info = {**old.definition["versionInfo"], "lastScalingAt": version}
        new["versionInfo"] = info
        generation = old.generation if scale_only else version
        record = AppRecord(new, generation, old.last_failure if old else None)
        dep = Deployment(
            str(uuid.uuid4()),
            version,
            app_id,
            deployment.plan_steps(old.definition if old else None, new, scale_only),
            old.definition if old else None,
            new,
        )
        versions = trim_versions({**self.versions.get(app_id, {}), version: new})
        yield self.state.save_app(app_id, {"app": new, "generation": generation})
        yield self.state.save_versions(app_id, versions)
        yield self.state.save_deployment(dep.deployment_id, asdict(dep))
        self.apps[app_id] = record
        self.versions[app_id] = versions
        self.deployments[dep.deployment_id] = dep
        self.events.publish(
            "api_post_event", clientIp=None, uri=f"/v2/apps{app_id}", appDefinition=new
        )
        self.events.publish("deployment_info", plan=dep.plan_json(), currentStep=1)
        self.converge_soon()
        return dep

    @defer.inlineCallbacks
    def remove_app(self, app_id: str, force: bool = False):
        app = self.apps.get(app_id)
        if app is None:
            raise NotFound(app_id)
        self._unlock(app_id, force)
        version = self._next_version()
        dep = Deployment(
            str(uuid.uuid4()),
            version,
            app_id,
            deployment.plan_steps(app.definition, None, False),
            app.definition,
            None,
        )
        app.definition = {**app.definition, "instances": 0}
        yield self.state.save_app(app_id, {"app": app.definition, "generation": app.generation})
        yield self.state.save_deployment(dep.deployment_id, asdict(dep))
        self.deployments[dep.deployment_id] = dep
        self.events.publish("deployment_info", plan=dep.plan_json(), currentStep=1)
        for record in self.app_tasks(app_id):
            self.kill_task(record)
        self.converge_soon()
        return dep

    @defer.inlineCallbacks
    def kill_tasks(self, records: list[TaskRecord], scale: bool, force: bool = False):
        """Kill tasks; with ``scale`` the apps shrink by as many (a deployment each).

        The tasks are marked first, so that converging on the smaller count
        kills these and no others.
        """
        yield defer.gatherResults([self.kill_task(r) for r in records], consumeErrors=True)
        deployments = []
        if scale:
            by_app: dict[str, int] = {}
            for record in records:
                by_app[record.app_id] = by_app.get(record.app_id, 0) + 1
            for app_id, count in by_app.items():
                app = self.apps[app_id].definition
                target = {**app, "instances": max(0, app["instances"] - count)}
                dep = yield self.put_app(target, force=True)
                deployments.append(dep)
        return deployments

    @defer.inlineCallbacks
    def cancel_deployment(self, deployment_id: str, force: bool):
        dep = self.deployments.get(deployment_id)
        if dep is None:
            raise NotFound(deployment_id)
        self._end_deployment(dep, "deployment_failed")
        if force:
            return None
        if dep.original is None:
            result = yield self.remove_app(dep.app_id, force=True)
        else:
            original = {k: v for k, v in dep.original.items() if k not in appdef.READ_ONLY_KEYS}
            result = yield self.put_app(original, force=True)
        return result

    # -- read side ------------------------------------------------------------------------

    def queue(self) -> list[dict]:
        now = self.clock.seconds()
        items = []
        for app in self.apps.values():
            decision = self._decide(app)
            if decision.launch:
                left = self.backoff.time_left(app.definition, now)
                items.append(
                    {
                        "app": app.definition,
                        "count": decision.launch,
                        "delay": {"timeLeftSeconds": round(left), "overdue": left <= 0},
                        "since": app.definition["version"],
                    }
                )
        return items

    def counts(self, app_id: str) -> dict[str, int]:
        app = self.apps[app_id]
        staged = running = healthy = unhealthy = 0
        for record in self.app_tasks(app_id):
            if record.state == "TASK_RUNNING":
                running += 1
            elif record.state in ("TASK_STAGING", "TASK_STARTING"):
                staged += 1
            checks = self.health.get(record.task_id, [])
            if checks and all(c.alive is not None for c in checks):
                if all(c.alive for c in checks):
                    healthy += 1
                else:
                    unhealthy += 1
        if not app.definition["healthChecks"]:
            healthy = unhealthy = 0
        return {
            "tasksStaged": staged,
            "tasksRunning": running,
            "tasksHealthy": healthy,
            "tasksUnhealthy": unhealthy,
        }

    def task_json(self, record: TaskRecord) -> dict:
        app = self.apps.get(record.app_id)
        return record.api_json(app.definition if app else None, self.health.get(record.task_id))

    def reset_delay(self, app_id: str) -> None:
        self.backoff.reset(app_id)
        self.converge_soon()
