"""The Chronos scheduler on the reactor: jobs, timers, offers, status updates.

One timer per scheduled job, armed at its next instant (no polling).  When
it fires the instant is *claimed*: the job document, with its schedule moved
past the instant and the run recorded, is written to the store, and only
then is the task launched, with a task id derived from the instant.  Status
updates are acknowledged after their effect is stored.  A new leader loads
the documents, reconciles the runs it inherited by task id, and relaunches
only runs the master has never seen.  docs/chronos.md has the argument.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import deque
from dataclasses import dataclass
from typing import Any

from twisted.internet import defer
from twisted.logger import Logger

from mesos_py.chronos import graph, runs
from mesos_py.chronos.jobs import ApiError, Defaults, Job, Run, matches_constraints, merged_update
from mesos_py.chronos.schedule import UTC, format_instant
from mesos_py.common.attributes import attributes_flat
from mesos_py.common.prometheus import Histogram
from mesos_py.common.resources import Resources
from mesos_py.framework.store import fenced_out, first_failure

log = Logger()

JOB_PREFIX = "job:"
FRAMEWORK_ID_KEY = "framework-id"
ACTIVE_STATES = frozenset({"TASK_STAGING", "TASK_STARTING", "TASK_RUNNING", "TASK_KILLING"})
# Offers we cannot use are refused for this long while nothing waits for resources.
IDLE_REFUSE_SECONDS = 30.0
# ... and for this long while runs wait (they did not fit): soon offered again.
BUSY_REFUSE_SECONDS = 1.0
# Inherited runs the master has not answered for yet are asked about again this often.
RECONCILE_INTERVAL = 15.0
HISTORY_PER_JOB = 100
# Seconds a first attempt starts after its due instant: offers come within a second or
# so; minutes mean the cluster had no room (a run past epsilon is skipped instead).
LATENESS_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900)


@dataclass(frozen=True)
class Settings:
    defaults: Defaults
    failure_retry: float = 60.0  # seconds before a failed attempt is retried
    role: str = "*"


def _scalar(resources: list[dict], name: str) -> float:
    return sum(
        r.get("scalar", {}).get("value", 0.0)
        for r in resources
        if r.get("name") == name and r.get("type", "SCALAR") == "SCALAR"
    )


class ChronosScheduler:
    """Owns the jobs while this instance leads; the driver calls it back."""

    def __init__(self, reactor: Any, store: Any, settings: Settings) -> None:
        self.reactor = reactor
        self.store = store
        self.settings = settings
        self.defaults = settings.defaults
        self.driver: Any = None
        self.jobs: dict[str, Job] = {}
        self.framework_id: str | None = None
        self._timers: dict[str, Any] = {}
        self._pending: deque[tuple[str, str]] = deque()  # (job, run key) waiting for offers
        self._offers: dict[str, dict] = {}
        # Runs launched (or inherited) that no status has been seen for since: the
        # master may never have got them.  Reconciled after every subscription.
        self._unresolved: set[tuple[str, str]] = set()
        self._reconcile_call: Any = None
        self._revive_call: Any = None
        self._children: dict[str, list[str]] | None = None  # rebuilt after jobs change
        self.history: dict[str, deque] = {}
        # "failed" counts failed attempts, "retried" those of them retried later.
        self.metrics = {"launched": 0, "succeeded": 0, "failed": 0, "retried": 0, "skipped": 0}
        self.start_lateness = Histogram(LATENESS_BUCKETS)
        self.on_fatal: Any = None  # called with a reason when this instance must stop

    def now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.reactor.seconds(), UTC)

    # ------------------------------------------------------------ lifecycle

    @defer.inlineCallbacks
    def load(self):
        """Read the jobs and the framework id (a new leader, before it serves)."""
        self.framework_id = yield self.store.get(FRAMEWORK_ID_KEY)
        keys = [key for key in (yield self.store.keys()) if key.startswith(JOB_PREFIX)]
        docs = yield defer.gatherResults([self.store.get(key) for key in keys], consumeErrors=True)
        for doc in docs:
            if doc is not None:
                job = Job.from_doc(doc)
                self.jobs[job.name] = job
        for job in self.jobs.values():
            for run in job.runs.values():
                run.started, run.confirmed = None, False
                self._unresolved.add((job.name, run.key))
        log.info(
            "Loaded {jobs} job(s), {runs} run(s) to reconcile",
            jobs=len(self.jobs),
            runs=len(self._unresolved),
        )

    def start(self, driver: Any) -> None:
        self.driver = driver
        for name in list(self.jobs):
            self._rearm(name)

    def stop(self) -> None:
        for call in [*self._timers.values(), self._reconcile_call, self._revive_call]:
            if call is not None and call.active():
                call.cancel()
        self._timers.clear()

    # ------------------------------------------------------------- persisting

    def _persist(self, *jobs: Job) -> defer.Deferred:
        puts = [self.store.put(JOB_PREFIX + job.name, job.to_doc()) for job in jobs]
        return defer.gatherResults(puts, consumeErrors=True).addCallback(lambda _: None)

    # ------------------------------------------------------------- schedules

    def _look_at(self, name: str) -> None:
        """Claim what is due for ``name`` now, and arm its timer for the next instant."""
        self._timers.pop(name, None)
        job = self.jobs.get(name)
        if job is None:
            return
        now = self.now()
        claim = runs.claim_scheduled(job, now, self.defaults)
        queued = runs.claim_queued(job) if job.queued else []
        if claim.skipped:
            self.metrics["skipped"] += claim.skipped
            log.info(
                "{job}: {n} instant(s) missed by more than epsilon skipped",
                job=name,
                n=claim.skipped,
            )
        claimed = [claim.run] if claim.run else []
        claimed += queued
        if claimed:
            self._store_then_enqueue(name, [r.key for r in claimed])
        if claim.wake_at is not None:
            delay = max(0.0, (claim.wake_at - now).total_seconds())
            self._timers[name] = self.reactor.callLater(delay, self._look_at, name)

    def _store_then_enqueue(self, name: str, keys: list[str]) -> None:
        """Launch claimed runs only once their claim is stored; retry storing until it is."""
        job = self.jobs.get(name)
        if job is None:
            return

        def failed(failure: Any) -> None:
            if fenced_out(failure):
                return  # deposed: the instance stops leading (the store reported it)
            log.warn(
                "Could not store the claim of {job}: {error}; retrying",
                job=name,
                error=first_failure(failure).getErrorMessage() or failure.type.__name__,
            )
            self.reactor.callLater(1.0, self._store_then_enqueue, name, keys)

        self._persist(job).addCallbacks(lambda _: self._enqueue(name, keys), failed)

    def _ended(self, _: Any, name: str) -> None:
        """A run ended (and that is stored): a waiting instant or queued run may go now."""
        if name in self.jobs:
            self._rearm(name)

    def _rearm(self, name: str) -> None:
        timer = self._timers.pop(name, None)
        if timer is not None and timer.active():
            timer.cancel()
        self._look_at(name)

    # ---------------------------------------------------------------- offers

    def _enqueue(self, name: str, keys: list[str]) -> None:
        for key in keys:
            self._pending.append((name, key))
        if keys:
            self._match()

    def _want_offers(self) -> None:
        """Ask for offers at once (REVIVE clears our filters), at most once per turn."""
        if self._revive_call is None and self.driver is not None and self.driver.connected:

            def revive() -> None:
                self._revive_call = None
                self.driver.revive().addErrback(lambda f: None)

            self._revive_call = self.reactor.callLater(0, revive)

    def offers(self, driver: Any, offers: list[dict]) -> None:
        for offer in offers:
            self._offers[offer["id"]["value"]] = offer
        self._match()

    def rescinded(self, driver: Any, offer_id: str) -> None:
        self._offers.pop(offer_id, None)

    def _match(self) -> None:
        if not self._pending:
            self._decline_all(IDLE_REFUSE_SECONDS)
            return
        if not self._offers:
            self._want_offers()
            return
        room = {
            offer_id: {n: _scalar(offer.get("resources", []), n) for n in ("cpus", "mem", "disk")}
            for offer_id, offer in self._offers.items()
        }
        launches: dict[str, list[dict]] = {}
        waiting: deque[tuple[str, str]] = deque()
        while self._pending:
            name, key = self._pending.popleft()
            job = self.jobs.get(name)
            run = job.runs.get(key) if job is not None else None
            if run is None or run.state != "claimed":
                continue
            need = self._resources(job)
            offer_id = next(
                (
                    oid
                    for oid, free in room.items()
                    if all(free[n] + 1e-9 >= need[n] for n in need)
                    and self._offer_fits(job, self._offers[oid])
                ),
                None,
            )
            if offer_id is None:
                waiting.append((name, key))
                continue
            for n in need:
                room[offer_id][n] -= need[n]
            offer = self._offers[offer_id]
            run.state = "launched"
            run.agent_id = offer["agent_id"]["value"]
            run.started = self.reactor.seconds()
            if run.attempt == 0:
                self.start_lateness.observe(max(0.0, run.started - run.due_millis / 1000.0))
            launches.setdefault(offer_id, []).append(self._task_info(job, run, offer, need))
        self._pending = waiting
        for offer_id, tasks in launches.items():
            del self._offers[offer_id]
            self.metrics["launched"] += len(tasks)
            self.driver.launch([offer_id], tasks, refuse_seconds=0).addErrback(
                self._launch_failed, [t["task_id"]["value"] for t in tasks]
            )
        self._decline_all(BUSY_REFUSE_SECONDS if self._pending else IDLE_REFUSE_SECONDS)

    def _launch_failed(self, failure: Any, task_ids: list[str]) -> None:
        """The ACCEPT may or may not have reached the master: ask it after the next
        subscription (and now, if still subscribed)."""
        log.warn("Launch failed: {error}", error=failure.getErrorMessage())
        for task_id in task_ids:
            _due, _attempt, name = runs.parse_task_id(task_id)
            self._unresolved.add((name, str(_due)))
        if self.driver.connected:
            self._reconcile()

    def _decline_all(self, refuse_seconds: float) -> None:
        if self._offers and self.driver is not None:
            offer_ids, self._offers = list(self._offers), {}
            self.driver.decline(offer_ids, refuse_seconds).addErrback(lambda f: None)

    def _resources(self, job: Job) -> dict[str, float]:
        d = self.defaults
        return {"cpus": job.cpus or d.cpus, "mem": job.mem or d.mem, "disk": job.disk or d.disk}

    @staticmethod
    def _offer_fits(job: Job, offer: dict) -> bool:
        if not job.constraints:
            return True
        return matches_constraints(
            job, offer.get("hostname", ""), attributes_flat(offer.get("attributes", []))
        )

    def _task_info(self, job: Job, run: Run, offer: dict, need: dict[str, float]) -> dict:
        task_id = run.task_id(job.name)
        variables = [
            {"name": "mesos_task_id", "value": task_id},
            {"name": "CHRONOS_JOB_OWNER", "value": job.owner},
            {"name": "CHRONOS_JOB_NAME", "value": job.name},
            {"name": "CHRONOS_JOB_RUN_ATTEMPT", "value": str(run.attempt)},
            {"name": "HOST", "value": offer.get("hostname", "")},
            *job.environment_variables,
        ]
        command: dict[str, Any] = {
            "value": job.command,
            "shell": job.shell,
            "environment": {"variables": variables},
        }
        if not job.shell:
            command["arguments"] = [job.command, *job.arguments]
        user = job.run_as_user or self.defaults.run_as_user
        if user:
            command["user"] = user
        wanted = Resources.parse(";".join(f"{n}:{v:.6g}" for n, v in need.items()))
        role = offer.get("allocation_info", {}).get("role", self.settings.role)
        return {
            "name": f"ChronosTask:{job.name}",
            "task_id": {"value": task_id},
            "agent_id": offer["agent_id"],
            "resources": wanted.allocated_to(role).to_json(),
            "command": command,
        }

    # ---------------------------------------------------------- the driver

    def subscribed(self, driver: Any, framework_id: str, master_info: dict) -> None:
        self._offers.clear()
        # After a master failover, launches sent to the old master may be lost.
        for job in self.jobs.values():
            for run in job.runs.values():
                if run.state == "launched" and not run.confirmed:
                    self._unresolved.add((job.name, run.key))
        if framework_id != self.framework_id:
            self.framework_id = framework_id
            self.store.put(FRAMEWORK_ID_KEY, framework_id).addErrback(
                log.failure, "Could not store the framework id"
            )
        self._reconcile()
        if self._pending:
            self._want_offers()

    def _reconcile(self) -> None:
        """Ask the master about inherited runs; again later for those it cannot answer yet."""
        if self._reconcile_call is not None and self._reconcile_call.active():
            self._reconcile_call.cancel()
        self._reconcile_call = None
        tasks = []
        for name, key in sorted(self._unresolved):
            run = self.jobs[name].runs.get(key) if name in self.jobs else None
            if run is None:
                self._unresolved.discard((name, key))
                continue
            tasks.append((run.task_id(name), run.agent_id))
        if not tasks or self.driver is None:
            return
        self.driver.reconcile(tasks).addErrback(lambda f: None)
        self._reconcile_call = self.reactor.callLater(RECONCILE_INTERVAL, self._reconcile)

    def disconnected(self, driver: Any) -> None:
        self._offers.clear()

    def failure(self, driver: Any, failure: dict) -> None:
        log.info("Agent or executor lost: {failure}", failure=failure)

    def error(self, driver: Any, message: str) -> None:
        """The master removed the framework: forget its id (the next leader registers
        anew) and stop this instance."""
        log.error("The master ended the framework: {message}", message=message)
        d = self.store.delete(FRAMEWORK_ID_KEY)
        if self.on_fatal is not None:
            d.addBoth(lambda _: self.on_fatal(f"the master ended the framework: {message}"))

    def update(self, driver: Any, status: dict) -> defer.Deferred | None:
        task_id = status.get("task_id", {}).get("value", "")
        state = status.get("state", "")
        parsed = runs.parse_task_id(task_id)
        if parsed is None:
            return None
        due, attempt, name = parsed
        job = self.jobs.get(name)
        run = job.runs.get(str(due)) if job is not None else None
        if run is None or run.attempt != attempt:
            if state in ACTIVE_STATES:  # a task no job wants any more (job deleted)
                agent = status.get("agent_id", {}).get("value")
                self.driver.kill(task_id, agent).addErrback(lambda f: None)
            return None
        key = run.key
        unresolved = (name, key) in self._unresolved
        self._unresolved.discard((name, key))
        run.confirmed = True
        if state in ACTIVE_STATES:
            run.state = "launched"
            run.agent_id = status.get("agent_id", {}).get("value", run.agent_id)
            if run.started is None:
                run.started = self.reactor.seconds()
            return None
        if (
            unresolved
            and status.get("reason") == "REASON_RECONCILIATION"
            and state in (runs.FAILURE_STATES)
        ):
            return self._never_launched(job, run)
        now = self.now()
        self._record_history(job, run, task_id, state, status)
        if state in runs.SUCCESS_STATES:
            return self._succeeded(job, key, now)
        if state in runs.KILLED_STATES:
            runs.record_killed(job, key)
            return self._persist(job).addCallback(self._ended, name)
        self.metrics["failed"] += 1
        retry = runs.record_failure(job, key, now)
        d = self._persist(job)
        if retry is not None:
            self.metrics["retried"] += 1
            log.info(
                "{task} ended {state}: retrying as attempt {attempt} in {delay:g}s",
                task=task_id,
                state=state,
                attempt=retry.attempt,
                delay=self.settings.failure_retry,
            )
            d.addCallback(
                lambda _: self.reactor.callLater(
                    self.settings.failure_retry, self._enqueue, name, [key]
                )
            )
        else:
            d.addCallback(self._ended, name)
        return d

    def _never_launched(self, job: Job, run: Run) -> defer.Deferred | None:
        """A run no status was ever seen for, unknown to the master: claimed, but its
        launch never reached the master.  Launch it now (same task id) unless too late."""
        late = self.now() - runs.from_millis(run.due_millis)
        if run.kind == "scheduled" and late > job.epsilon_delta(self.defaults):
            log.info(
                "{job}: the instant claimed by the previous leader is past epsilon", job=job.name
            )
            runs.record_killed(job, run.key)
            self.metrics["skipped"] += 1
            return self._persist(job).addCallback(self._ended, job.name)
        log.info("{job}: launching again a run the master never got", job=job.name)
        run.state = "claimed"
        run.confirmed = False
        self._enqueue(job.name, [run.key])
        return None

    def _succeeded(self, job: Job, key: str, now: dt.datetime) -> defer.Deferred:
        self.metrics["succeeded"] += 1
        runs.record_success(job, key, now)
        changed = [job]
        ready = []
        if self._children is None:
            self._children = graph.children_index(self.jobs)
        for child_name in self._children.get(job.name, []):
            child = self.jobs[child_name]
            if runs.record_parent_success(child, job.name, now):
                ready.append(child_name)
            changed.append(child)
        # Children first: an update lost with a crash then only re-adds a parent
        # already noted, instead of forgetting it.
        d = self._persist(*changed[1:]) if len(changed) > 1 else defer.succeed(None)
        d.addCallback(lambda _: self._persist(job))
        d.addCallback(self._ended, job.name)
        for child_name in ready:
            d.addCallback(lambda _, n=child_name: self._rearm(n))
        return d

    def _record_history(self, job: Job, run: Run, task_id: str, state: str, status: dict) -> None:
        end = self.reactor.seconds()
        start = run.started if run.started is not None else end
        entry = {
            "taskId": task_id,
            "jobName": job.name,
            "slaveId": status.get("agent_id", {}).get("value", run.agent_id or ""),
            "startTime": _iso(start),
            "endTime": _iso(end),
            "duration": round(end - start, 3),
            "status": "success" if state in runs.SUCCESS_STATES else "failure",
        }
        self.history.setdefault(job.name, deque(maxlen=HISTORY_PER_JOB)).append(entry)

    # ------------------------------------------------------------ the REST API

    def job(self, name: str) -> Job:
        job = self.jobs.get(name)
        if job is None:
            raise ApiError(400, f"Job '{name}' not found")
        return job

    def put_job(self, posted: Job, given: set[str]) -> defer.Deferred:
        """Add or replace a job (Chronos' POST is an upsert); fires once it is stored."""
        graph.check_parents(self.jobs, posted)
        stored = self.jobs.get(posted.name)
        job = merged_update(stored, posted, given) if stored is not None else posted
        self.jobs[job.name] = job
        self._children = None
        d = self._persist(job)
        d.addCallback(lambda _: self._rearm(job.name))
        return d

    def run_now(self, name: str) -> defer.Deferred:
        job = self.job(name)
        if job.disabled:
            return defer.succeed(None)  # Chronos drops runs of disabled jobs
        runs.queue_run(job, self.now(), "manual")
        return self._persist(job).addCallback(lambda _: self._rearm(name))

    def kill_tasks(self, name: str) -> defer.Deferred:
        job = self.job(name)
        self._kill_runs(job)
        return self._persist(job)

    def _kill_runs(self, job: Job) -> None:
        """Kill launched tasks (their TASK_KILLED ends them); forget runs not launched."""
        name = job.name
        for run in list(job.runs.values()):
            if run.state == "launched" or (name, run.key) in self._unresolved:
                self.driver.kill(run.task_id(name), run.agent_id).addErrback(lambda f: None)
            else:
                runs.record_killed(job, run.key)  # claimed, not launched: just forget it
        job.queued = []

    def delete_job(self, name: str) -> defer.Deferred:
        job = self.job(name)
        self._kill_runs(job)
        timer = self._timers.pop(name, None)
        if timer is not None and timer.active():
            timer.cancel()
        del self.jobs[name]
        self._children = None
        self.history.pop(name, None)
        children = graph.reparent_after_delete(self.jobs, job)
        d = self._persist(*children) if children else defer.succeed(None)
        d.addCallback(lambda _: self.store.delete(JOB_PREFIX + name))
        for child in children:
            d.addCallback(lambda _, n=child.name: self._rearm(n))
        return d

    def stat(self, name: str) -> dict:
        self.job(name)
        history = list(self.history.get(name, ()))
        durations = sorted(h["duration"] for h in history if h["status"] == "success")
        return {"histogram": histogram(durations), "taskStatHistory": history}

    def percentile_by_job(self, which: str) -> list[dict]:
        rows = []
        for name, history in self.history.items():
            durations = sorted(h["duration"] for h in history if h["status"] == "success")
            if durations:
                rows.append({"jobNameLabel": name, "time": histogram(durations)[which]})
        return sorted(rows, key=lambda row: -row["time"])


PERCENTILES = {
    "75thPercentile": 0.75,
    "95thPercentile": 0.95,
    "98thPercentile": 0.98,
    "99thPercentile": 0.99,
    "median": 0.5,
}


def histogram(durations: list[float]) -> dict:
    """Chronos' job histogram over run durations (seconds); zeros when none."""
    result: dict[str, float] = {"count": len(durations)}
    for label, q in PERCENTILES.items():
        result[label] = (
            durations[min(len(durations) - 1, int(q * len(durations)))] if durations else 0.0
        )
    result["mean"] = statistics.fmean(durations) if durations else 0.0
    return result


def _iso(seconds: float) -> str:
    return format_instant(dt.datetime.fromtimestamp(seconds, UTC))
