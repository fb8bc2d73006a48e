"""The Chronos job: its JSON, validation with Chronos' status codes, and its run state; pure.

A ``Job`` holds the definition a client posted, the counters Chronos reports,
and what the scheduler must not lose across a failover: the current
schedule (rewritten past every claimed instant), runs claimed and not yet
finished, queued manual or dependency runs, and the parents that succeeded
since the job last ran.  ``to_doc``/``from_doc`` are what goes to ZooKeeper.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

import aniso8601

from mesos_py.chronos.schedule import Schedule, ScheduleError, parse_schedule

NAME = re.compile(r"[A-Za-z0-9_.-]+")
CONSTRAINT_OPERATORS = ("EQUALS", "LIKE", "UNLIKE")


class ApiError(Exception):
    """Answered as Chronos' ApiResult ``{"message", "status"}`` with ``code``."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def bad_request(message: str) -> ApiError:
    return ApiError(400, message)


@dataclass(frozen=True)
class Defaults:
    """Server-side defaults (Chronos' flags) for what a job leaves out or sets to 0."""

    cpus: float = 0.1
    mem: float = 128.0
    disk: float = 256.0
    epsilon: dt.timedelta = dt.timedelta(seconds=60)
    run_as_user: str = ""


@dataclass
class Run:
    """One claimed instant of a job: persisted before its task is launched."""

    due_millis: int  # the instant it stands for (scheduled, or when it was queued)
    kind: str  # "scheduled", "manual" or "dependency"
    attempt: int = 0
    state: str = "claimed"  # claimed -> launched -> (removed when it ends)
    agent_id: str | None = None
    started: float | None = None  # reactor seconds when launched (this leader only)
    confirmed: bool = False  # a status was seen for it (this leader only)

    @property
    def key(self) -> str:
        """Its key in ``Job.runs``: the same for every attempt."""
        return str(self.due_millis)

    def task_id(self, name: str) -> str:
        """Chronos' ``ct:<dueMillis>:<attempt>:<job>:<args>``: one per instant and attempt."""
        return f"ct:{self.due_millis}:{self.attempt}:{name}:"


@dataclass
class Job:
    name: str
    command: str
    schedule: str | None = None  # the current schedule: next instant and repetitions left
    schedule_time_zone: str = ""
    parents: list[str] | None = None
    epsilon: str = ""  # ISO 8601 duration; "" means the server default
    shell: bool = True
    arguments: list[str] = field(default_factory=list)
    retries: int = 2
    owner: str = ""
    owner_name: str = ""
    description: str = ""
    cpus: float = 0.0
    mem: float = 0.0
    disk: float = 0.0
    disabled: bool = False
    concurrent: bool = False
    soft_error: bool = False
    high_priority: bool = False
    data_processing_job_type: bool = False
    max_completion_time: int = 0
    run_as_user: str = ""
    environment_variables: list[dict[str, str]] = field(default_factory=list)
    constraints: list[list[str]] = field(default_factory=list)
    success_count: int = 0
    error_count: int = 0
    last_success: str = ""
    last_error: str = ""
    errors_since_last_success: int = 0
    # run state (not part of the definition a client posts)
    runs: dict[str, Run] = field(default_factory=dict)  # Run.key -> run
    queued: list[dict[str, Any]] = field(default_factory=list)  # [{"due": millis, "kind": k}]
    last_instant: int = 0  # millis of the latest scheduled instant claimed: never again
    parent_successes: list[str] = field(default_factory=list)

    @property
    def scheduled(self) -> bool:
        return self.parents is None

    def parsed_schedule(self, now: dt.datetime) -> Schedule:
        return parse_schedule(self.schedule or "", self.schedule_time_zone, now)

    def epsilon_delta(self, defaults: Defaults) -> dt.timedelta:
        return _parse_epsilon(self.epsilon) if self.epsilon else defaults.epsilon

    def running(self) -> list[Run]:
        return [run for run in self.runs.values() if run.state == "launched"]

    # --------------------------------------------------------------- JSON

    def to_json(self, defaults: Defaults) -> dict[str, Any]:
        """The Chronos 3 response shape (every field, in Chronos' order) plus 2.x's extras."""
        body: dict[str, Any] = {
            "name": self.name,
            "command": self.command,
            "shell": self.shell,
            "executor": "",
            "executorFlags": "",
            "taskInfoData": "",
            "retries": self.retries,
            "owner": self.owner,
            "ownerName": self.owner_name,
            "description": self.description,
            "successCount": self.success_count,
            "errorCount": self.error_count,
            "lastSuccess": self.last_success,
            "lastError": self.last_error,
            "cpus": self.cpus or defaults.cpus,
            "disk": self.disk or defaults.disk,
            "mem": self.mem or defaults.mem,
            "disabled": self.disabled,
            "softError": self.soft_error,
            "dataProcessingJobType": self.data_processing_job_type,
            "errorsSinceLastSuccess": self.errors_since_last_success,
            "fetch": [],
            "uris": [],
            "environmentVariables": [dict(v) for v in self.environment_variables],
            "arguments": list(self.arguments),
            "highPriority": self.high_priority,
            "runAsUser": self.run_as_user or defaults.run_as_user,
            "concurrent": self.concurrent,
            "maxCompletionTime": self.max_completion_time,
            "constraints": [list(c) for c in self.constraints],
        }
        if self.parents is not None:
            body["parents"] = list(self.parents)
        else:
            body["schedule"] = self.schedule
            body["scheduleTimeZone"] = self.schedule_time_zone
        body["epsilon"] = self.epsilon or format_seconds(defaults.epsilon)
        body["async"] = False
        return body

    def to_doc(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["runs"] = {key: asdict(run) for key, run in self.runs.items()}
        return doc

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Job:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in doc.items() if k in known}
        values["runs"] = {key: Run(**run) for key, run in doc.get("runs", {}).items()}
        return cls(**values)


def _parse_epsilon(text: str) -> dt.timedelta:
    if not isinstance(text, str) or re.search(r"P[^T]*[YM]", text):
        raise ValueError("epsilon must be a string without years or months")
    return aniso8601.parse_duration(text)


def format_seconds(delta: dt.timedelta) -> str:
    """An ISO 8601 duration in seconds (``PT60S``)."""
    return f"PT{delta.total_seconds():g}S"


# JSON key -> (attribute, expected type(s), what the type is called in messages)
_SIMPLE_FIELDS: dict[str, tuple[str, tuple[type, ...], str]] = {
    "shell": ("shell", (bool,), "a boolean"),
    "disabled": ("disabled", (bool,), "a boolean"),
    "concurrent": ("concurrent", (bool,), "a boolean"),
    "softError": ("soft_error", (bool,), "a boolean"),
    "highPriority": ("high_priority", (bool,), "a boolean"),
    "dataProcessingJobType": ("data_processing_job_type", (bool,), "a boolean"),
    "owner": ("owner", (str,), "a string"),
    "ownerName": ("owner_name", (str,), "a string"),
    "description": ("description", (str,), "a string"),
    "runAsUser": ("run_as_user", (str,), "a string"),
    "scheduleTimeZone": ("schedule_time_zone", (str,), "a string"),
    "lastSuccess": ("last_success", (str,), "a string"),
    "lastError": ("last_error", (str,), "a string"),
}
_COUNT_FIELDS = {
    "retries": "retries",
    "maxCompletionTime": "max_completion_time",
    "successCount": "success_count",
    "errorCount": "error_count",
    "errorsSinceLastSuccess": "errors_since_last_success",
}
_RESOURCE_FIELDS = ("cpus", "mem", "disk")
# Counters a client may leave out of an update: the stored values are kept then.
COUNTERS = (
    "success_count",
    "error_count",
    "last_success",
    "last_error",
    "errors_since_last_success",
)


def parse_job(body: Any, kind: str, now: dt.datetime) -> tuple[Job, set[str]]:
    """Validate a posted job (``kind`` "scheduled" or "dependent").

    Returns the job and the attribute names the body set (so that an update
    keeps the stored counters it left out).  Raises ApiError(400) saying what
    is wrong.  Parents' existence and cycles are the graph's business.
    """
    if not isinstance(body, dict):
        raise bad_request("Job must be a JSON object")
    name = body.get("name")
    if not isinstance(name, str) or not NAME.fullmatch(name) or name in (".", ".."):
        raise bad_request(f"Invalid job name {name!r}: use letters, digits, '_', '.' and '-' only")
    command = body.get("command")
    if not isinstance(command, str) or not command.strip():
        raise bad_request(f"Job '{name}': 'command' is required and must be a non-empty string")
    job = Job(name=name, command=command)
    given: set[str] = set()
    for key, (attribute, types, what) in _SIMPLE_FIELDS.items():
        if key in body and body[key] is not None:
            if not isinstance(body[key], types):
                raise bad_request(f"Job '{name}': '{key}' must be {what}")
            setattr(job, attribute, body[key])
            given.add(attribute)
    for key, attribute in _COUNT_FIELDS.items():
        if key in body and body[key] is not None:
            value = body[key]
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise bad_request(f"Job '{name}': '{key}' must be a non-negative integer")
            setattr(job, attribute, value)
            given.add(attribute)
    for key in _RESOURCE_FIELDS:
        value = body.get(key)
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise bad_request(f"Job '{name}': '{key}' must be a non-negative number")
            setattr(job, key, float(value))
    _parse_lists(body, job)
    _reject_unsupported(body, name)
    epsilon = body.get("epsilon")
    if epsilon not in (None, ""):
        try:
            _parse_epsilon(epsilon)
        except ValueError as exc:
            raise bad_request(
                f"Job '{name}': cannot parse epsilon {epsilon!r} (an ISO 8601 duration "
                f"such as PT30S): {exc}"
            ) from None
        job.epsilon = epsilon
    _parse_schedule_or_parents(body, job, kind, now)
    return job, given


def _parse_lists(body: dict, job: Job) -> None:
    name = job.name
    arguments = body.get("arguments")
    if arguments is not None:
        if not isinstance(arguments, list) or not all(isinstance(a, str) for a in arguments):
            raise bad_request(f"Job '{name}': 'arguments' must be a list of strings")
        job.arguments = list(arguments)
    variables = body.get("environmentVariables")
    if variables is not None:
        if not isinstance(variables, list) or not all(
            isinstance(v, dict)
            and isinstance(v.get("name"), str)
            and isinstance(v.get("value"), str)
            for v in variables
        ):
            raise bad_request(
                f"Job '{name}': 'environmentVariables' must be a list of "
                '{"name": string, "value": string}'
            )
        job.environment_variables = [{"name": v["name"], "value": v["value"]} for v in variables]
    constraints = body.get("constraints")
    if constraints is not None:
        if not isinstance(constraints, list) or not all(
            isinstance(c, list)
            and len(c) == 3
            and all(isinstance(part, str) for part in c)
            and c[1] in CONSTRAINT_OPERATORS
            for c in constraints
        ):
            raise bad_request(
                f"Job '{name}': 'constraints' must be a list of [attribute, "
                f"{'|'.join(CONSTRAINT_OPERATORS)}, value]"
            )
        for attribute, operator, value in constraints:
            if operator != "EQUALS":
                try:
                    re.compile(value)
                except re.error as exc:
                    raise bad_request(
                        f"Job '{name}': constraint {attribute} {operator} {value!r}: {exc}"
                    ) from None
        job.constraints = [list(c) for c in constraints]


def _reject_unsupported(body: dict, name: str) -> None:
    """Fields whose feature this cluster lacks: refused, rather than silently ignored."""
    if body.get("uris") and body.get("fetch"):
        raise bad_request(f"Job '{name}': set either 'uris' or 'fetch', not both")
    for key, why in (
        ("uris", "the agents do not fetch URIs"),
        ("fetch", "the agents do not fetch URIs"),
        ("container", "the agents run command tasks only (no container images)"),
        ("executor", "custom executors are not supported for jobs"),
    ):
        if body.get(key):
            raise bad_request(f"Job '{name}': '{key}' is not supported: {why}")


def _parse_schedule_or_parents(body: dict, job: Job, kind: str, now: dt.datetime) -> None:
    name = job.name
    schedule, parents = body.get("schedule"), body.get("parents")
    if kind == "scheduled":
        if parents is not None:
            raise bad_request(
                f"Job '{name}' has 'parents': post dependent jobs to /scheduler/dependency"
            )
        if not isinstance(schedule, str) or not schedule:
            raise bad_request(f"Job '{name}': 'schedule' is required (R[n]/start/period)")
        try:
            parsed = parse_schedule(schedule, job.schedule_time_zone, now)
        except ScheduleError as exc:
            raise bad_request(f"Job '{name}': {exc}") from None
        job.schedule = parsed.format()  # an empty start becomes a fixed instant
        return
    if schedule is not None:
        raise bad_request(
            f"Job '{name}' has a 'schedule': post scheduled jobs to /scheduler/iso8601"
        )
    if (
        not isinstance(parents, list)
        or not parents
        or not all(isinstance(p, str) and p for p in parents)
    ):
        raise bad_request(f"Job '{name}': 'parents' must be a non-empty list of job names")
    if name in parents:
        raise bad_request(f"Job '{name}' cannot be its own parent")
    job.parents = list(dict.fromkeys(parents))


def merged_update(stored: Job, posted: Job, given: set[str]) -> Job:
    """``posted`` replacing ``stored``: counters the body left out and the run state carry over."""
    carried = {name: getattr(stored, name) for name in COUNTERS if name not in given}
    job = replace(
        posted,
        runs=stored.runs,
        queued=stored.queued,
        last_instant=stored.last_instant,
        parent_successes=[p for p in stored.parent_successes if p in (posted.parents or [])],
        **carried,
    )
    return job


def matches_constraints(job: Job, hostname: str, attributes: dict[str, Any]) -> bool:
    """Chronos' constraints against an offer's hostname and (flattened) attributes."""
    for attribute, operator, value in job.constraints:
        actual = hostname if attribute == "hostname" else attributes.get(attribute)
        text = None if actual is None else str(actual)
        if operator == "EQUALS" and text != value:
            return False
        if operator == "LIKE" and (text is None or not re.fullmatch(value, text)):
            return False
        if operator == "UNLIKE" and text is not None and re.fullmatch(value, text):
            return False
    return True
