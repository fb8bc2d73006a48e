"""The operator's HTTP front: ``POST /api/v1`` and Mesos' older JSON endpoints.

``OperatorAPI`` is the v1 operator API (``{"type": T, "<lower(T)>": ...}``
calls, answered 200 with ``{"type": T, "<lower(T)>": ...}`` or an empty
body); ``/api/v1/operator`` is an alias because pymesos' operator driver
posts there.  The ``/master/maintenance/*``, ``/master/machine/*``,
``/master/weights`` and ``/master/quota`` endpoints are Mesos' older JSON
ones.  All are thin: the maintenance and drain behaviour is ``Maintainer``'s,
weights and quota ``RoleSettings``', the response shapes ``operator_json``'s
and ``quota``'s.  Standby masters answer 307 to the leader, as for the
scheduler API.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from twisted.web import http, resource, server

from mesos_py.common.http import (
    HTTPError,
    JSONCallResource,
    accepts_json,
    read_json_call,
    write_error,
    write_json,
)
from mesos_py.master import operator_json
from mesos_py.master.master import Master
from mesos_py.master.model import CallRefused
from mesos_py.master.quota import quota_status_json, weights_json

# Every master call type of Mesos' v1 operator API (master.proto); those without a
# handler below are answered 501.
MESOS_CALL_TYPES = frozenset(
    {
        "GET_HEALTH",
        "GET_FLAGS",
        "GET_VERSION",
        "GET_METRICS",
        "GET_LOGGING_LEVEL",
        "SET_LOGGING_LEVEL",
        "LIST_FILES",
        "READ_FILE",
        "GET_STATE",
        "GET_AGENTS",
        "GET_FRAMEWORKS",
        "GET_EXECUTORS",
        "GET_OPERATIONS",
        "GET_TASKS",
        "GET_ROLES",
        "GET_WEIGHTS",
        "UPDATE_WEIGHTS",
        "GET_MASTER",
        "SUBSCRIBE",
        "RESERVE_RESOURCES",
        "UNRESERVE_RESOURCES",
        "CREATE_VOLUMES",
        "DESTROY_VOLUMES",
        "GROW_VOLUME",
        "SHRINK_VOLUME",
        "GET_MAINTENANCE_STATUS",
        "GET_MAINTENANCE_SCHEDULE",
        "UPDATE_MAINTENANCE_SCHEDULE",
        "START_MAINTENANCE",
        "STOP_MAINTENANCE",
        "DRAIN_AGENT",
        "DEACTIVATE_AGENT",
        "REACTIVATE_AGENT",
        "GET_QUOTA",
        "UPDATE_QUOTA",
        "SET_QUOTA",
        "REMOVE_QUOTA",
        "TEARDOWN",
        "MARK_AGENT_GONE",
    }
)


def _body(call: dict, call_type: str) -> dict:
    """The call's ``<lower(type)>`` object (400 when it is missing)."""
    key = call_type.lower()
    value = call.get(key)
    if not isinstance(value, dict):
        raise HTTPError(http.BAD_REQUEST, f"Expecting '{key}' to be present")
    return value


def _agent_id(body: dict) -> Any:
    agent_id = body.get("agent_id")
    if not isinstance(agent_id, dict) or not isinstance(agent_id.get("value"), str):
        raise HTTPError(http.BAD_REQUEST, "Expecting 'agent_id.value' to be present")
    return agent_id["value"]


class OperatorAPI(JSONCallResource):
    """``POST /api/v1``: synchronous operator calls (no SUBSCRIBE stream yet).

    Not a leaf: the scheduler API lives below it (``/api/v1/scheduler``).
    """

    isLeaf = False

    def getChild(self, path: bytes, request: server.Request) -> resource.Resource:
        return self if path == b"" else resource.NoResource()

    def __init__(self, master: Master, leadership: Any) -> None:
        super().__init__()
        self.master = master
        self.leadership = leadership
        m = master
        self._answers: dict[str, Callable[[], dict]] = {
            "GET_HEALTH": lambda: {"healthy": True},
            "GET_VERSION": operator_json.get_version,
            "GET_FLAGS": lambda: operator_json.get_flags(m),
            "GET_METRICS": lambda: operator_json.get_metrics(m),
            "GET_MASTER": lambda: operator_json.get_master(m),
            "GET_AGENTS": lambda: operator_json.get_agents(m),
            "GET_FRAMEWORKS": lambda: operator_json.get_frameworks(m),
            "GET_EXECUTORS": lambda: operator_json.get_executors(m),
            "GET_TASKS": lambda: operator_json.get_tasks(m),
            "GET_STATE": lambda: operator_json.get_state(m),
            "GET_MAINTENANCE_SCHEDULE": lambda: {
                "schedule": m.maintainer.maintenance.schedule_json()
            },
            "GET_MAINTENANCE_STATUS": lambda: {"status": m.maintainer.maintenance.status_json()},
            "GET_WEIGHTS": lambda: {"weight_infos": weights_json(m.role_settings.weights)},
            "GET_QUOTA": lambda: {"status": quota_status_json(m.role_settings.quotas.values())},
        }
        self._actions: dict[str, Callable[[dict], None]] = {
            "UPDATE_MAINTENANCE_SCHEDULE": lambda b: m.maintainer.update_schedule(
                _body(b, "schedule")
            ),
            "START_MAINTENANCE": lambda b: m.maintainer.machines_down(b.get("machines")),
            "STOP_MAINTENANCE": lambda b: m.maintainer.machines_up(b.get("machines")),
            "DRAIN_AGENT": lambda b: m.maintainer.drain(_agent_id(b), b),
            "DEACTIVATE_AGENT": lambda b: m.maintainer.deactivate(_agent_id(b)),
            "REACTIVATE_AGENT": lambda b: m.maintainer.reactivate(_agent_id(b)),
            "TEARDOWN": self._teardown,
            "MARK_AGENT_GONE": lambda b: m.mark_agent_gone(_agent_id(b)),
            "UPDATE_WEIGHTS": lambda b: m.role_settings.update_weights(b.get("weight_infos")),
            "UPDATE_QUOTA": m.role_settings.update_quota,
            "SET_QUOTA": lambda b: m.role_settings.set_quota(b.get("quota_request")),
            "REMOVE_QUOTA": lambda b: m.role_settings.remove_quota(b.get("role")),
        }

    def handle(self, request: server.Request) -> bytes:
        self.leadership.require_leader(request)
        call = read_json_call(request)
        if not accepts_json(request):
            raise HTTPError(http.NOT_ACCEPTABLE, "Expecting 'Accept' to allow application/json")
        call_type = call.get("type")
        if not isinstance(call_type, str) or not call_type:
            raise HTTPError(
                http.BAD_REQUEST, "Failed to validate master::Call: Expecting 'type' to be present"
            )
        if call_type not in MESOS_CALL_TYPES:
            raise HTTPError(
                http.BAD_REQUEST,
                f"Failed to validate master::Call: Unknown call type '{call_type}'",
            )
        try:
            if call_type in self._answers:
                answer = {"type": call_type, call_type.lower(): self._answers[call_type]()}
                return write_json(request, answer)
            if call_type in self._actions:
                self._actions[call_type](_body(call, call_type))
                request.setResponseCode(http.OK)
                return b""
        except CallRefused as exc:
            raise HTTPError(exc.code, exc.message) from None
        raise HTTPError(
            http.NOT_IMPLEMENTED, f"Operator call {call_type} is not implemented by this master"
        )

    def _teardown(self, body: dict) -> None:
        framework_id = body.get("framework_id")
        value = framework_id.get("value") if isinstance(framework_id, dict) else None
        framework = self.master.frameworks.get(value) if isinstance(value, str) else None
        if framework is None:
            raise CallRefused(400, f"No framework found with ID {value}")
        self.master.remove_framework(framework)


class _LegacyEndpoint(resource.Resource):
    """A leader-only endpoint of Mesos' older operator API: JSON in, JSON (or nothing) out.

    POST and PUT handlers take the decoded body; a DELETE handler takes the
    rest of the path (``/master/quota/<role>``), which other methods refuse.
    """

    isLeaf = True

    def __init__(
        self,
        leadership: Any,
        get: Callable[[], Any] | None = None,
        post: Callable[[Any], None] | None = None,
        put: Callable[[Any], None] | None = None,
        delete: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__()
        self.leadership = leadership
        self._handlers = {
            method: handler
            for method, handler in (
                (b"GET", get),
                (b"POST", post),
                (b"PUT", put),
                (b"DELETE", delete),
            )
            if handler is not None
        }

    def render(self, request: server.Request) -> bytes:
        allowed = list(self._handlers)
        rest = "/".join(p.decode(errors="replace") for p in request.postpath)
        try:
            if request.method not in allowed:
                raise HTTPError(
                    http.NOT_ALLOWED,
                    f"Expecting one of {{ {', '.join(m.decode() for m in allowed)} }}, "
                    f"received '{request.method.decode(errors='replace')}'",
                    {b"allow": b", ".join(allowed)},
                )
            if request.method == b"DELETE" and not rest:
                raise HTTPError(http.BAD_REQUEST, "Expecting a role at the end of the path")
            if rest and request.method != b"DELETE":
                raise HTTPError(http.NOT_FOUND, f"No such endpoint: {request.path.decode()}")
            self.leadership.require_leader(request)
            handler = self._handlers[request.method]
            if request.method == b"GET":
                return write_json(request, handler())
            if request.method == b"DELETE":
                argument: Any = rest
            else:
                try:
                    argument = json.loads(request.content.read())
                except (ValueError, UnicodeDecodeError) as exc:
                    raise HTTPError(
                        http.BAD_REQUEST, f"Failed to parse the request body as JSON: {exc}"
                    ) from None
            try:
                handler(argument)
            except CallRefused as exc:
                raise HTTPError(exc.code, exc.message) from None
        except HTTPError as error:
            return write_error(request, error)
        request.setResponseCode(http.OK)
        return b""


def add_maintenance_endpoints(master_tree: resource.Resource, master: Master, leadership: Any):
    """``/master/maintenance/{schedule,status}`` and ``/master/machine/{down,up}``."""
    maintainer = master.maintainer
    maintenance = resource.Resource()
    maintenance.putChild(
        b"schedule",
        _LegacyEndpoint(
            leadership,
            get=lambda: maintainer.maintenance.schedule_json(),
            post=maintainer.update_schedule,
        ),
    )
    maintenance.putChild(
        b"status",
        _LegacyEndpoint(leadership, get=lambda: maintainer.maintenance.status_json()),
    )
    machine = resource.Resource()
    machine.putChild(b"down", _LegacyEndpoint(leadership, post=maintainer.machines_down))
    machine.putChild(b"up", _LegacyEndpoint(leadership, post=maintainer.machines_up))
    master_tree.putChild(b"maintenance", maintenance)
    master_tree.putChild(b"machine", machine)


def add_role_endpoints(master_tree: resource.Resource, master: Master, leadership: Any):
    """``/master/roles`` (GET), ``/master/weights`` (GET, PUT) and ``/master/quota``
    (GET, POST, DELETE ``/<role>``)."""
    settings = master.role_settings
    master_tree.putChild(b"roles", _LegacyEndpoint(leadership, get=settings.roles_json))
    master_tree.putChild(
        b"weights",
        _LegacyEndpoint(
            leadership, get=lambda: weights_json(settings.weights), put=settings.update_weights
        ),
    )
    master_tree.putChild(
        b"quota",
        _LegacyEndpoint(
            leadership,
            get=lambda: quota_status_json(settings.quotas.values()),
            post=settings.set_quota,
            delete=settings.remove_quota,
        ),
    )
