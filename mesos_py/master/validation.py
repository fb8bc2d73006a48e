"""Validation of scheduler calls and of the tasks they launch.

Pure functions over the decoded JSON: a call that breaks a rule raises
``CallError`` (the HTTP layer answers 400, or 501 for an unknown type); a
task that breaks one gets a message for its TASK_ERROR.
"""

from __future__ import annotations

from mesos_py.common.protocol import decode_status_uuid, id_value
from mesos_py.common.resources import ResourceError, Resources

# Call type -> the sub-object it must carry (None: no sub-object needed).
CALL_BODIES: dict[str, str | None] = {
    "SUBSCRIBE": "subscribe",
    "TEARDOWN": None,
    "ACCEPT": "accept",
    "DECLINE": "decline",
    "ACCEPT_INVERSE_OFFERS": "accept_inverse_offers",
    "DECLINE_INVERSE_OFFERS": "decline_inverse_offers",
    "REVIVE": None,
    "KILL": "kill",
    "SHUTDOWN": "shutdown",
    "ACKNOWLEDGE": "acknowledge",
    "ACKNOWLEDGE_OPERATION_STATUS": "acknowledge_operation_status",
    "RECONCILE": "reconcile",
    "RECONCILE_OPERATIONS": "reconcile_operations",
    "MESSAGE": "message",
    "REQUEST": "request",
    "SUPPRESS": None,
    "UPDATE_FRAMEWORK": "update_framework",
}


class CallError(ValueError):
    """The call is malformed; ``code`` is the HTTP status Mesos answers with."""

    def __init__(self, message: str, code: int = 400) -> None:
        super().__init__(message)
        self.code = code


def _object(container: dict, key: str, what: str) -> dict:
    value = container.get(key)
    if not isinstance(value, dict):
        raise CallError(f"Expecting '{what}' to be present")
    return value


def _list(container: dict, key: str) -> list:
    value = container.get(key, [])
    if not isinstance(value, list):
        raise CallError(f"'{key}' must be an array")
    return value


def _id(obj: dict, field: str) -> str:
    try:
        return id_value(obj, field)
    except ValueError as exc:
        raise CallError(str(exc)) from None


def validate_framework_info(info: dict) -> None:
    for field in ("user", "name"):
        if not isinstance(info.get(field), str):
            raise CallError(f"'framework_info.{field}' must be a string")
    timeout = info.get("failover_timeout", 0)
    if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or timeout < 0:
        raise CallError("'framework_info.failover_timeout' must be a non-negative number")
    roles = info.get("roles", [])
    if not isinstance(roles, list) or not all(isinstance(r, str) and r for r in roles):
        raise CallError("'framework_info.roles' must be an array of non-empty strings")
    if "role" in info and not (isinstance(info["role"], str) and info["role"]):
        raise CallError("'framework_info.role' must be a non-empty string")
    capabilities = info.get("capabilities", [])
    if not isinstance(capabilities, list) or not all(isinstance(c, dict) for c in capabilities):
        raise CallError("'framework_info.capabilities' must be an array of objects")


def validate_call(call: dict) -> str:
    """Check the envelope and the sub-object of a scheduler call; return its type."""
    call_type = call.get("type")
    if call_type is None:
        raise CallError("Expecting 'type' to be present")
    if call_type == "UNKNOWN":
        raise CallError("Received an Unknown call", code=501)
    if not isinstance(call_type, str) or call_type not in CALL_BODIES:
        raise CallError(f"Failed to convert JSON into Call: unknown call type {call_type!r}")
    body_key = CALL_BODIES[call_type]
    body = _object(call, body_key, body_key) if body_key else call.get(call_type.lower(), {})
    if not isinstance(body, dict):
        raise CallError(f"'{call_type.lower()}' must be an object")

    if call_type == "SUBSCRIBE":
        info = _object(body, "framework_info", "subscribe.framework_info")
        validate_framework_info(info)
        top = call.get("framework_id")
        inner = info.get("id")
        if (top is not None or inner is not None) and (
            top is None or inner is None or _id(call, "framework_id") != _id(info, "id")
        ):
            raise CallError("'framework_id' differs from 'subscribe.framework_info.id'")
        return call_type

    _id(call, "framework_id")
    if call_type in ("ACCEPT", "DECLINE"):
        for offer_id in _list(body, "offer_ids"):
            _id({"offer_id": offer_id}, "offer_id")
        _filters(body)
        if call_type == "ACCEPT":
            operations = _list(body, "operations")
            if not all(isinstance(op, dict) for op in operations):
                raise CallError("'accept.operations' must be an array of objects")
    elif call_type == "KILL":
        _id(body, "task_id")
        if "agent_id" in body:
            _id(body, "agent_id")
    elif call_type == "SHUTDOWN":
        _id(body, "executor_id")
        _id(body, "agent_id")
    elif call_type == "ACKNOWLEDGE":
        _id(body, "agent_id")
        _id(body, "task_id")
        try:
            decode_status_uuid(body.get("uuid"))
        except ValueError as exc:
            raise CallError(f"Invalid 'acknowledge.uuid': {exc}") from None
    elif call_type == "RECONCILE":
        for task in _list(body, "tasks"):
            if not isinstance(task, dict):
                raise CallError("'reconcile.tasks' must be an array of objects")
            _id(task, "task_id")
            if "agent_id" in task:
                _id(task, "agent_id")
    elif call_type == "MESSAGE":
        _id(body, "agent_id")
        _id(body, "executor_id")
        if not isinstance(body.get("data"), str):
            raise CallError("Expecting 'message.data' to be present")
    elif call_type in ("REVIVE", "SUPPRESS"):
        roles = body.get("roles", [])
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise CallError(f"'{call_type.lower()}.roles' must be an array of strings")
    elif call_type == "UPDATE_FRAMEWORK":
        info = _object(body, "framework_info", "update_framework.framework_info")
        validate_framework_info(info)
        if _id(info, "id") != _id(call, "framework_id"):
            raise CallError("'framework_id' differs from 'update_framework.framework_info.id'")
    return call_type


def _filters(body: dict) -> None:
    filters = body.get("filters")
    if filters is None:
        return
    if not isinstance(filters, dict):
        raise CallError("'filters' must be an object")
    refuse = filters.get("refuse_seconds")
    if refuse is not None and (isinstance(refuse, bool) or not isinstance(refuse, (int, float))):
        raise CallError("'filters.refuse_seconds' must be a number")


def refuse_seconds(body: dict) -> float | None:
    """The ``refuse_seconds`` a decline/accept asked for (None: not given)."""
    filters = body.get("filters")
    if isinstance(filters, dict) and filters.get("refuse_seconds") is not None:
        return float(filters["refuse_seconds"])
    return None


def task_resources(task: dict) -> Resources:
    """The resources a TaskInfo asks for; ResourceError when they are malformed."""
    resources = task.get("resources", [])
    if not isinstance(resources, list):
        raise ResourceError("'resources' must be an array")
    return Resources.from_json(resources)


def validate_task(task: object, agent_id: str, framework_id: str) -> str | None:
    """Why a TaskInfo is invalid, or None; resources are checked by the caller."""
    if not isinstance(task, dict):
        return "TaskInfo must be an object"
    try:
        id_value(task, "task_id")
        if id_value(task, "agent_id") != agent_id:
            return (
                f"Task uses agent {task['agent_id']['value']!r} but the offer is for {agent_id!r}"
            )
    except ValueError as exc:
        return f"Invalid TaskInfo: {exc}"
    if not isinstance(task.get("name"), str):
        return "Invalid TaskInfo: 'name' must be a string"
    has_command = "command" in task
    has_executor = "executor" in task
    if has_command == has_executor:
        return "Task should have at least one (but not both) of CommandInfo or ExecutorInfo present"
    if has_command:
        problem = validate_command(task["command"])
        if problem:
            return problem
    else:
        problem = validate_executor(task["executor"], framework_id)
        if problem:
            return problem
    kill_policy = task.get("kill_policy")
    if kill_policy is not None and not isinstance(kill_policy, dict):
        return "Invalid TaskInfo: 'kill_policy' must be an object"
    return None


def validate_command(command: object) -> str | None:
    if not isinstance(command, dict):
        return "CommandInfo must be an object"
    shell = command.get("shell", True)
    if not isinstance(shell, bool):
        return "CommandInfo.shell must be a boolean"
    if not isinstance(command.get("value"), str) or (shell and not command["value"]):
        return "CommandInfo.value must be a non-empty string"
    arguments = command.get("arguments", [])
    if not isinstance(arguments, list) or not all(isinstance(a, str) for a in arguments):
        return "CommandInfo.arguments must be an array of strings"
    user = command.get("user")
    if user is not None and not isinstance(user, str):
        return "CommandInfo.user must be a string"
    environment = command.get("environment", {})
    variables = environment.get("variables", []) if isinstance(environment, dict) else None
    if not isinstance(variables, list) or not all(
        isinstance(v, dict) and isinstance(v.get("name"), str) for v in variables
    ):
        return "CommandInfo.environment.variables must be an array of {name, value}"
    return None


def validate_executor(executor: object, framework_id: str) -> str | None:
    if not isinstance(executor, dict):
        return "ExecutorInfo must be an object"
    try:
        id_value(executor, "executor_id")
    except ValueError as exc:
        return f"Invalid ExecutorInfo: {exc}"
    if executor.get("type", "CUSTOM") != "CUSTOM":
        return "ExecutorInfo.type must be CUSTOM for a LAUNCH operation"
    if "command" not in executor:
        return "Executor has no CommandInfo"
    if "framework_id" in executor:
        try:
            if id_value(executor, "framework_id") != framework_id:
                return "ExecutorInfo has an invalid FrameworkID"
        except ValueError as exc:
            return f"Invalid ExecutorInfo: {exc}"
    return validate_command(executor["command"])
