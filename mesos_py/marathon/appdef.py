"""Marathon 1.4 app definitions: ids, defaults, partial updates and validation.

An app is kept as the JSON dict Marathon 1.4 would answer with, so the API
can hand it out unchanged.  Type errors become ``InvalidJSON`` (Marathon's
400 "Invalid JSON"), rule violations ``ObjectNotValid`` (its 422); both carry
``details``: ``[{"path": "/cpus", "errors": ["..."]}]``.
"""

from __future__ import annotations

import copy
import math
import re
import time
import uuid
from typing import Any

from mesos_py.marathon import constraints as constraint_rules

SEGMENT = re.compile(
    r"^(([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])\.)*([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])$"
)
SERVICE_PORT_RANGE = (10000, 20000)
HEALTH_PROTOCOLS = ("HTTP", "HTTPS", "TCP", "COMMAND", "MESOS_HTTP", "MESOS_HTTPS", "MESOS_TCP")
KILL_SELECTIONS = ("YOUNGEST_FIRST", "OLDEST_FIRST")

# Keys a client may send back from a GET that describe state, not configuration.
READ_ONLY_KEYS = (
    "tasks",
    "deployments",
    "tasksRunning",
    "tasksStaged",
    "tasksHealthy",
    "tasksUnhealthy",
    "versionInfo",
    "lastTaskFailure",
    "taskStats",
    "readinessCheckResults",
    "version",
)

# What fields changing alone make a scale rather than a restart.
SCALE_ONLY_KEYS = ("instances",)

DEFAULTS: dict[str, Any] = {
    "cmd": None,
    "args": None,
    "user": None,
    "env": {},
    "instances": 1,
    "cpus": 1.0,
    "mem": 128.0,
    "disk": 0.0,
    "gpus": 0,
    "executor": "",
    "constraints": [],
    "uris": [],
    "fetch": [],
    "storeUrls": [],
    "backoffSeconds": 1,
    "backoffFactor": 1.15,
    "maxLaunchDelaySeconds": 3600,
    "container": None,
    "healthChecks": [],
    "readinessChecks": [],
    "dependencies": [],
    "upgradeStrategy": {"minimumHealthCapacity": 1.0, "maximumOverCapacity": 1.0},
    "labels": {},
    "acceptedResourceRoles": None,
    "ipAddress": None,
    "secrets": {},
    "taskKillGracePeriodSeconds": None,
    "portDefinitions": [{"port": 0, "protocol": "tcp", "name": "default", "labels": {}}],
    "requirePorts": False,
    "killSelection": "YOUNGEST_FIRST",
    "unreachableStrategy": {"inactiveAfterSeconds": 0, "expungeAfterSeconds": 0},
}

HEALTH_DEFAULTS: dict[str, Any] = {
    "gracePeriodSeconds": 300,
    "intervalSeconds": 60,
    "timeoutSeconds": 20,
    "maxConsecutiveFailures": 3,
    "delaySeconds": 15,
    "ignoreHttp1xx": False,
}


class AppError(Exception):
    """A request Marathon would refuse; ``status`` and ``body`` are its answer."""

    status = 400
    message = "Invalid JSON"

    def __init__(self, details: list[dict[str, Any]]) -> None:
        super().__init__(details)
        self.details = details

    @property
    def body(self) -> dict[str, Any]:
        return {"message": self.message, "details": self.details}


class InvalidJSON(AppError):
    status = 400
    message = "Invalid JSON"


class ObjectNotValid(AppError):
    status = 422
    message = "Object is not valid"


def format_timestamp(seconds: float) -> str:
    """Marathon's timestamp form, which the client insists on: ``...T..:..:...mmmZ``."""
    millis = round(seconds * 1000)
    whole, ms = divmod(millis, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{ms:03d}Z"


def path_errors(raw: str) -> list[str]:
    """Why ``raw`` is not a valid absolute or relative Marathon path (empty: it is)."""
    segments = [s for s in raw.split("/") if s]
    if not segments:
        return ["path must not be empty"]
    bad = [s for s in segments if s not in (".", "..") and not SEGMENT.match(s)]
    if bad:
        return [
            "must fully match regular expression "
            "'^(([a-z0-9]|[a-z0-9][a-z0-9\\-]*[a-z0-9])\\.)*([a-z0-9]|[a-z0-9][a-z0-9\\-]*[a-z0-9])|"
            "(\\.|\\.\\.)$'"
        ]
    return []


def canonical_path(raw: str, base: str = "/") -> str:
    """``raw`` (relative to ``base`` unless it starts with ``/``) as an absolute path."""
    parts: list[str] = [] if raw.startswith("/") else [s for s in base.split("/") if s]
    for segment in raw.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if parts:
                parts.pop()
        else:
            parts.append(segment)
    return "/" + "/".join(parts)


def new_task_id(app_id: str) -> str:
    """Marathon's task id: the app path with ``/`` as ``_``, a dot and a UUID."""
    return f"{app_id.strip('/').replace('/', '_')}.{uuid.uuid4()}"


def app_id_of_task(task_id: str) -> str | None:
    """The app a task id belongs to, or None if it is not a Marathon task id."""
    head, sep, tail = task_id.partition(".")
    if not sep or not head or not tail:
        return None
    if ".instance-" in task_id:
        head = task_id.split(".instance-", 1)[0]
    app_id = "/" + head.replace("_", "/")
    return app_id if not path_errors(app_id) else None


def _expect(errors: list, path: str, value: Any, kind: str, check: Any) -> None:
    if not check(value):
        errors.append({"path": path, "errors": [f"error.expected.{kind}"]})


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_str_map(value: Any) -> bool:
    return isinstance(value, dict) and all(isinstance(v, str) for v in value.values())


def _is_list_of(kind: type) -> Any:
    return lambda value: isinstance(value, list) and all(isinstance(v, kind) for v in value)


_TYPES: dict[str, tuple[str, Any]] = {
    "id": ("jsstring", lambda v: isinstance(v, str)),
    "cmd": ("jsstring", lambda v: v is None or isinstance(v, str)),
    "args": ("jsarray", lambda v: v is None or _is_list_of(str)(v)),
    "user": ("jsstring", lambda v: v is None or isinstance(v, str)),
    "env": ("jsobject", _is_str_map),
    "instances": ("jsnumber", _is_int),
    "cpus": ("jsnumber", _is_number),
    "mem": ("jsnumber", _is_number),
    "disk": ("jsnumber", _is_number),
    "gpus": ("jsnumber", _is_int),
    "executor": ("jsstring", lambda v: isinstance(v, str)),
    "constraints": ("jsarray", _is_list_of(list)),
    "uris": ("jsarray", _is_list_of(str)),
    "fetch": ("jsarray", _is_list_of(dict)),
    "storeUrls": ("jsarray", _is_list_of(str)),
    "backoffSeconds": ("jsnumber", _is_number),
    "backoffFactor": ("jsnumber", _is_number),
    "maxLaunchDelaySeconds": ("jsnumber", _is_number),
    "container": ("jsobject", lambda v: v is None or isinstance(v, dict)),
    "healthChecks": ("jsarray", _is_list_of(dict)),
    "readinessChecks": ("jsarray", _is_list_of(dict)),
    "dependencies": ("jsarray", _is_list_of(str)),
    "upgradeStrategy": ("jsobject", lambda v: isinstance(v, dict)),
    "labels": ("jsobject", _is_str_map),
    "acceptedResourceRoles": ("jsarray", lambda v: v is None or _is_list_of(str)(v)),
    "ipAddress": ("jsobject", lambda v: v is None or isinstance(v, dict)),
    "secrets": ("jsobject", lambda v: isinstance(v, dict)),
    "taskKillGracePeriodSeconds": ("jsnumber", lambda v: v is None or _is_number(v)),
    "ports": ("jsarray", _is_list_of(int)),
    "portDefinitions": ("jsarray", _is_list_of(dict)),
    "requirePorts": ("jsboolean", lambda v: isinstance(v, bool)),
    "killSelection": ("jsstring", lambda v: isinstance(v, str)),
    "unreachableStrategy": ("jsobject", lambda v: isinstance(v, (dict, str))),
}


def _check_types(body: dict[str, Any]) -> None:
    errors: list[dict[str, Any]] = []
    for key, value in body.items():
        if key in _TYPES:
            kind, check = _TYPES[key]
            _expect(errors, f"/{key}", value, kind, check)
    if errors:
        raise InvalidJSON(errors)


def _normalize_health_check(check: dict[str, Any]) -> dict[str, Any]:
    protocol = check.get("protocol", "HTTP")
    normalized = {**HEALTH_DEFAULTS, **check, "protocol": protocol}
    if protocol in ("HTTP", "HTTPS", "MESOS_HTTP", "MESOS_HTTPS"):
        normalized.setdefault("path", "/")
    if protocol != "COMMAND" and "port" not in normalized:
        normalized.setdefault("portIndex", 0)
    if isinstance(normalized.get("command"), str):
        normalized["command"] = {"value": normalized["command"]}
    return normalized


def _normalize_ports(app: dict[str, Any], body: dict[str, Any]) -> None:
    if "ports" in body and "portDefinitions" not in body:
        app["portDefinitions"] = [
            {"port": port, "protocol": "tcp", "labels": {}} for port in body["ports"]
        ]
    app["portDefinitions"] = [
        {"protocol": "tcp", "labels": {}, **definition} for definition in app["portDefinitions"]
    ]
    app["ports"] = [d.get("port", 0) for d in app["portDefinitions"]]


def _validate(app: dict[str, Any]) -> None:
    errors: list[dict[str, Any]] = []

    def fail(path: str, message: str) -> None:
        errors.append({"path": path, "errors": [message]})

    id_problems = path_errors(app["id"])
    if id_problems:
        fail("/id", id_problems[0])
    if app.get("cmd") is not None and app.get("args") is not None:
        fail("/", "AppDefinition must either contain one of 'cmd' or 'args', and/or a 'container'.")
    if app.get("cmd") is None and app.get("args") is None and app.get("container") is None:
        fail("/", "AppDefinition must either contain one of 'cmd' or 'args', and/or a 'container'.")
    for key in ("cpus", "mem", "disk", "gpus", "instances"):
        if app[key] < 0:
            fail(f"/{key}", f"got {app[key]}, expected 0 or more")
    strategy = app["upgradeStrategy"]
    for key in ("minimumHealthCapacity", "maximumOverCapacity"):
        value = strategy.get(key)
        if not _is_number(value):
            fail(f"/upgradeStrategy/{key}", "error.expected.jsnumber")
        elif value < 0:
            fail(f"/upgradeStrategy/{key}", "is less than 0")
        elif value > 1:
            fail(f"/upgradeStrategy/{key}", "is greater than 1")
    if app["backoffSeconds"] < 0:
        fail("/backoffSeconds", "got a negative value, expected 0 or more")
    if app["backoffFactor"] < 1:
        fail("/backoffFactor", "got a value below 1.0, expected 1.0 or more")
    if app["maxLaunchDelaySeconds"] < 0:
        fail("/maxLaunchDelaySeconds", "got a negative value, expected 0 or more")
    if app["killSelection"] not in KILL_SELECTIONS:
        fail("/killSelection", f"must be one of {', '.join(KILL_SELECTIONS)}")
    for index, raw in enumerate(app["constraints"]):
        problem = constraint_rules.constraint_error(raw)
        if problem:
            fail(f"/constraints({index})", problem)
    ports = app["ports"]
    for index, port in enumerate(ports):
        if not _is_int(port) or not 0 <= port <= 65535:
            fail(f"/portDefinitions({index})/port", "must be between 0 and 65535")
    fixed = [p for p in ports if _is_int(p) and p]
    if len(set(fixed)) != len(fixed):
        fail("/portDefinitions", "Ports must be unique.")
    for index, check in enumerate(app["healthChecks"]):
        where = f"/healthChecks({index})"
        protocol = check["protocol"]
        if protocol not in HEALTH_PROTOCOLS:
            fail(f"{where}/protocol", f"must be one of {', '.join(HEALTH_PROTOCOLS)}")
            continue
        for key in ("gracePeriodSeconds", "intervalSeconds", "timeoutSeconds"):
            value = check.get(key)
            if not _is_number(value) or value < 0:
                fail(f"{where}/{key}", "must be a number, 0 or more")
        if not _is_int(check.get("maxConsecutiveFailures")) or check["maxConsecutiveFailures"] < 0:
            fail(f"{where}/maxConsecutiveFailures", "must be an integer, 0 or more")
        if protocol == "COMMAND":
            command = check.get("command")
            if not isinstance(command, dict) or not isinstance(command.get("value"), str):
                fail(f"{where}/command", "COMMAND health checks need a command")
        elif "port" not in check:
            port_index = check.get("portIndex")
            if not _is_int(port_index) or not 0 <= port_index < len(ports):
                fail(f"{where}/portIndex", "must select one of the app's ports")
    container = app.get("container")
    if container is not None and container.get("type", "MESOS") != "MESOS":
        fail("/container/type", "only MESOS containers without an image are supported")
    if isinstance(app["unreachableStrategy"], str) and app["unreachableStrategy"] != "disabled":
        fail("/unreachableStrategy", "must be an object or 'disabled'")
    if errors:
        raise ObjectNotValid(errors)


def parse_app(body: Any, app_id: str | None = None, base: dict[str, Any] | None = None) -> dict:
    """A complete, valid app definition from a request body.

    ``app_id`` (from the URL) wins over the body's ``id``; ``base`` is the
    current definition for a partial update (keys left out keep their value).
    Raises ``InvalidJSON`` or ``ObjectNotValid``.
    """
    if not isinstance(body, dict):
        raise InvalidJSON([{"path": "/", "errors": ["error.expected.jsobject"]}])
    # Unknown keys are ignored, as Marathon does (echoing them would break its client).
    body = {k: v for k, v in body.items() if k in _TYPES}
    _check_types(body)
    raw_id = app_id if app_id is not None else body.get("id")
    if raw_id is None:
        raise ObjectNotValid([{"path": "/id", "errors": ["error.path.missing"]}])
    if base is None:
        app = copy.deepcopy(DEFAULTS)
    else:
        app = {k: copy.deepcopy(v) for k, v in base.items() if k not in READ_ONLY_KEYS}
        if "cmd" in body and body["cmd"] is not None:
            app["args"] = None
        if "args" in body and body["args"] is not None:
            app["cmd"] = None
        if "ports" in body and "portDefinitions" not in body:
            app.pop("portDefinitions", None)
    app.update(copy.deepcopy(body))
    if "portDefinitions" not in app:
        app["portDefinitions"] = copy.deepcopy(DEFAULTS["portDefinitions"])
    app["id"] = canonical_path(raw_id) if not path_errors(raw_id) else raw_id
    strategy = {**DEFAULTS["upgradeStrategy"], **app["upgradeStrategy"]}
    app["upgradeStrategy"] = {k: strategy[k] for k in DEFAULTS["upgradeStrategy"]}
    app["portDefinitions"] = [
        {k: v for k, v in d.items() if k in ("port", "protocol", "name", "labels")}
        for d in app["portDefinitions"]
    ]
    app["healthChecks"] = [_normalize_health_check(c) for c in app["healthChecks"]]
    app["constraints"] = [list(c) for c in app["constraints"]]
    for key in ("cpus", "mem", "disk"):
        app[key] = float(app[key])
    _normalize_ports(app, body)
    _validate(app)
    return app


def is_scale_only(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Whether ``new`` differs from ``old`` in the instance count alone."""
    keys = (set(old) | set(new)) - set(READ_ONLY_KEYS) - set(SCALE_ONLY_KEYS)
    return all(old.get(k) == new.get(k) for k in keys)


def assign_service_ports(app: dict[str, Any], taken: set[int]) -> dict[str, Any]:
    """Give each port-0 definition a free service port (Marathon's 10000..20000)."""
    candidates = (p for p in range(*SERVICE_PORT_RANGE) if p not in taken)
    for definition in app["portDefinitions"]:
        if not definition.get("port"):
            definition["port"] = next(candidates)
    app["ports"] = [d["port"] for d in app["portDefinitions"]]
    return app


def parse_bool(value: bytes | str | None, default: bool = False) -> bool:
    """A query flag the way Java's ``Boolean.valueOf`` reads it (``True``, ``true``...)."""
    if value is None:
        return default
    if isinstance(value, bytes):
        value = value.decode(errors="replace")
    return value.strip().lower() == "true"
