"""``POST /internal/agent``: the agents' link to the master (docs/agent-protocol.md)."""

from __future__ import annotations

import uuid

from twisted.web import http, server

from mesos_py.common.http import EventStream, HTTPError, JSONCallResource, read_json_call
from mesos_py.common.protocol import TASK_STATES, id_value
from mesos_py.common.resources import ResourceError
from mesos_py.master.master import CallRefused, Master

CALLS = ("REGISTER", "UPDATE", "PONG", "EXECUTOR_EXITED", "MESSAGE", "UNREGISTER")


def _required(body: dict, key: str) -> dict:
    value = body.get(key)
    if not isinstance(value, dict):
        raise HTTPError(http.BAD_REQUEST, f"Expecting '{key}' to be present")
    return value


def _id(obj: dict, field: str) -> str:
    try:
        return id_value(obj, field)
    except ValueError as exc:
        raise HTTPError(http.BAD_REQUEST, str(exc)) from None


class AgentAPI(JSONCallResource):
    def __init__(self, master: Master, leadership) -> None:
        super().__init__()
        self.master = master
        self.leadership = leadership

    def handle(self, request: server.Request) -> bytes | int:
        self.leadership.require_leader(request)
        call = read_json_call(request)
        call_type = call.get("type")
        if call_type not in CALLS:
            raise HTTPError(http.BAD_REQUEST, f"Unknown agent call type {call_type!r}")
        if call_type == "REGISTER":
            return self._register(request, call)
        stream_id = request.getHeader(b"mesos-stream-id")
        try:
            agent = self.master.agent_for_call(
                _id(call, "agent_id"), stream_id.decode(errors="replace") if stream_id else None
            )
        except CallRefused as exc:
            raise HTTPError(exc.code, exc.message) from None
        if call_type == "UPDATE":
            updates = _required(call, "update").get("updates", [])
            if not isinstance(updates, list):
                raise HTTPError(http.BAD_REQUEST, "'update.updates' must be an array")
            for entry in updates:
                if not isinstance(entry, dict) or not isinstance(entry.get("status"), dict):
                    raise HTTPError(http.BAD_REQUEST, "each update needs a 'status' object")
                _id(entry["status"], "task_id")
                if (
                    entry["status"].get("state") not in TASK_STATES
                    or entry.get("latest_state", "TASK_RUNNING") not in TASK_STATES
                ):
                    raise HTTPError(http.BAD_REQUEST, "update has an unknown task state")
                self.master.status_update(
                    agent, _id(entry, "framework_id"), entry["status"], entry.get("latest_state")
                )
        elif call_type == "PONG":
            self.master.pong(agent)
        elif call_type == "EXECUTOR_EXITED":
            body = _required(call, "executor_exited")
            status = body.get("status", 0)
            if not isinstance(status, int):
                raise HTTPError(http.BAD_REQUEST, "'executor_exited.status' must be an integer")
            self.master.executor_exited(
                agent, _id(body, "framework_id"), _id(body, "executor_id"), status
            )
        elif call_type == "MESSAGE":
            body = _required(call, "message")
            if not isinstance(body.get("data"), str):
                raise HTTPError(http.BAD_REQUEST, "Expecting 'message.data' to be present")
            self.master.executor_message(
                agent, _id(body, "framework_id"), _id(body, "executor_id"), body["data"]
            )
        elif call_type == "UNREGISTER":
            self.master.unregister_agent(agent)
        request.setResponseCode(http.ACCEPTED)
        return b""

    def _register(self, request: server.Request, call: dict) -> int:
        register = _required(call, "register")
        info = _required(register, "agent_info")
        if not isinstance(info.get("hostname"), str):
            raise HTTPError(http.BAD_REQUEST, "'agent_info.hostname' must be a string")
        agent_id = info["id"]["value"] if isinstance(info.get("id"), dict) else None
        if agent_id in self.master.removed_agent_ids:
            raise HTTPError(http.FORBIDDEN, f"Agent {agent_id} was removed; register afresh")
        for key in ("tasks", "frameworks", "executors"):
            if not isinstance(register.get(key, []), list):
                raise HTTPError(http.BAD_REQUEST, f"'register.{key}' must be an array")
        resources = info.get("resources", [])
        try:
            self.master.parse_resources(resources if isinstance(resources, list) else [resources])
        except ResourceError as exc:
            raise HTTPError(http.BAD_REQUEST, f"Invalid 'agent_info.resources': {exc}") from None
        peer_ip = getattr(request.getClientAddress(), "host", "")
        refusal = self.master.maintainer.refusal(info["hostname"], peer_ip)
        if refusal is not None:
            raise HTTPError(http.FORBIDDEN, refusal)
        link = EventStream(request, self.master.clock, stream_id=str(uuid.uuid4()))
        self.master.register_agent(register, link, peer_ip)
        return server.NOT_DONE_YET
