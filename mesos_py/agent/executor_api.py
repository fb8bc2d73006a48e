"""``POST /api/v1/executor``: the Executor HTTP API v1 (JSON), checked as Mesos does.

SUBSCRIBE opens a chunked RecordIO stream (no ``Mesos-Stream-Id``); UPDATE,
MESSAGE and HEARTBEAT answer 202.  Errors: 400 for a malformed or invalid
call or an unknown framework/executor, 403 for a call before SUBSCRIBE, and
405/406/415 for method, ``Accept`` and ``Content-Type``.
"""

from __future__ import annotations

import base64
import binascii

from twisted.web import http, server

from mesos_py.agent.agent import Agent, ExecutorLookupError
from mesos_py.agent.model import ExecutorState
from mesos_py.common.http import (
    EventStream,
    HTTPError,
    JSONCallResource,
    accepts_json,
    read_json_call,
)
from mesos_py.common.protocol import TASK_STATES, decode_status_uuid, id_value

CALLS = ("SUBSCRIBE", "UPDATE", "MESSAGE", "HEARTBEAT")


def _bad(message: str) -> HTTPError:
    return HTTPError(http.BAD_REQUEST, message)


def _id(obj: dict, field: str) -> str:
    try:
        return id_value(obj, field)
    except ValueError as exc:
        raise _bad(f"Failed to validate executor::Call: {exc}") from None


def _object(body: dict, key: str) -> dict:
    value = body.get(key)
    if not isinstance(value, dict):
        raise _bad(f"Failed to validate executor::Call: Expecting '{key}' to be present")
    return value


def validate_status(status: dict, executor_id: str) -> None:
    """The checks Mesos makes on an executor's TaskStatus (HTTPError 400 if one fails)."""
    _id(status, "task_id")
    state = status.get("state")
    if state not in TASK_STATES:
        raise _bad(f"Failed to validate executor::Call: unknown task state {state!r}")
    if state == "TASK_STAGING":
        raise _bad(
            "Failed to validate executor::Call: Executor is not allowed to send TASK_STAGING"
        )
    if status.get("source") != "SOURCE_EXECUTOR":
        raise _bad(
            "Failed to validate executor::Call: Received Call from executor with invalid source"
        )
    try:
        decode_status_uuid(status.get("uuid"))
    except ValueError as exc:
        raise _bad(f"Failed to validate executor::Call: 'status.uuid': {exc}") from None
    if "executor_id" in status and _id(status, "executor_id") != executor_id:
        raise _bad(
            "Failed to validate executor::Call: ExecutorID in Call does not match ExecutorID "
            "in TaskStatus"
        )
    timestamp = status.get("timestamp")
    if timestamp is not None and (
        isinstance(timestamp, bool) or not isinstance(timestamp, int | float)
    ):
        raise _bad("Failed to validate executor::Call: 'status.timestamp' must be a number")
    for key, kind, name in (
        ("message", str, "a string"),
        ("reason", str, "a string"),
        ("data", str, "a string"),
        ("healthy", bool, "a boolean"),
        ("labels", dict, "an object"),
        ("check_status", dict, "an object"),
        ("container_status", dict, "an object"),
        ("limitation", dict, "an object"),
    ):
        if key in status and not isinstance(status[key], kind):
            raise _bad(f"Failed to validate executor::Call: 'status.{key}' must be {name}")
    if "data" in status:
        _check_base64(status["data"], "status.data")


def _check_base64(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise _bad(f"Failed to validate executor::Call: Expecting '{what}' to be present")
    try:
        base64.b64decode(value, validate=True)
    except binascii.Error as exc:
        raise _bad(f"Failed to convert JSON into Call: '{what}' is not base64: {exc}") from None
    return value


class ExecutorAPI(JSONCallResource):
    def __init__(self, agent: Agent) -> None:
        super().__init__()
        self.agent = agent

    def handle(self, request: server.Request) -> bytes | int:
        call = read_json_call(request)
        call_type = call.get("type")
        if call_type not in CALLS:
            raise _bad(f"Failed to convert JSON into Call: unknown call type {call_type!r}")
        framework_id = _id(call, "framework_id")
        executor_id = _id(call, "executor_id")
        if call_type == "SUBSCRIBE":
            _object(call, "subscribe")
            if not accepts_json(request):
                raise HTTPError(
                    http.NOT_ACCEPTABLE, "Expecting 'Accept' to allow 'application/json'"
                )
        elif call_type == "UPDATE":
            validate_status(_object(_object(call, "update"), "status"), executor_id)
        elif call_type == "MESSAGE":
            _check_base64(_object(call, "message").get("data"), "message.data")
        try:
            executor = self.agent.executor_for_call(framework_id, executor_id)
        except ExecutorLookupError as exc:
            raise _bad(str(exc)) from None
        if call_type == "SUBSCRIBE":
            stream = EventStream(
                request,
                self.agent.clock,
                on_close=lambda s: self.agent.executor_stream_closed(executor, s),
            )
            self.agent.subscribe_executor(executor, stream)
            return server.NOT_DONE_YET
        if executor.state is ExecutorState.REGISTERING:
            raise HTTPError(http.FORBIDDEN, "Executor is not subscribed")
        if call_type == "UPDATE":
            self.agent.executor_update(executor, dict(call["update"]["status"]))
        elif call_type == "MESSAGE":
            self.agent.executor_message(executor, call["message"]["data"])
        request.setResponseCode(http.ACCEPTED)
        return b""
