"""``POST /api/v1/scheduler``: the Mesos v1 scheduler HTTP API."""

from __future__ import annotations

import uuid

from twisted.logger import Logger
from twisted.web import http, server

from mesos_py.common.http import (
    EventStream,
    HTTPError,
    JSONCallResource,
    accepts_json,
    read_json_call,
)
from mesos_py.master.master import CallRefused, Master
from mesos_py.master.validation import CallError, validate_call

log = Logger()


class SchedulerAPI(JSONCallResource):
    def __init__(self, master: Master, leadership) -> None:
        super().__init__()
        self.master = master
        self.leadership = leadership

    def handle(self, request: server.Request) -> bytes | int:
        self.leadership.require_leader(request)
        call = read_json_call(request)
        try:
            call_type = validate_call(call)
        except CallError as exc:
            raise HTTPError(exc.code, f"Failed to validate scheduler::Call: {exc}") from None
        stream_id = request.getHeader(b"mesos-stream-id")
        if call_type == "SUBSCRIBE":
            if stream_id is not None:
                raise HTTPError(
                    http.BAD_REQUEST,
                    "Expecting 'Mesos-Stream-Id' header to be absent for SUBSCRIBE",
                )
            if not accepts_json(request):
                raise HTTPError(http.NOT_ACCEPTABLE, "Expecting 'Accept' to allow application/json")
            stream = EventStream(request, self.master.clock, stream_id=str(uuid.uuid4()))
            self.master.subscribe(call, stream)
            return server.NOT_DONE_YET
        try:
            framework = self.master.framework_for_call(
                call, stream_id.decode(errors="replace") if stream_id is not None else None
            )
            body = self.master.handle_call(framework, call_type, call)
        except CallRefused as exc:
            raise HTTPError(exc.code, exc.message) from None
        if body is not None:
            request.setResponseCode(http.OK)
            return body
        request.setResponseCode(http.ACCEPTED)
        return b""
