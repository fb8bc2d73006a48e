"""The v1 scheduler endpoint on the wire: framing, status codes, bad input."""

from __future__ import annotations

import http.client
import json
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.harness import RawScheduler, get_json, healthy
from tests.integration.pymesos_support import command_task


@pytest.fixture
def raw(process_cluster):
    scheduler = RawScheduler(process_cluster.address)
    yield scheduler
    scheduler.close()


def post_raw(address, body, headers, method="POST"):
    host, port = address.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=20)
    try:
        connection.request(method, "/api/v1/scheduler", body, headers)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def test_subscription_is_chunked_recordio_with_a_stream_id(raw):
    assert raw.response.status == 200
    assert raw.response.getheader("Transfer-Encoding") == "chunked"
    assert raw.response.getheader("Content-Type") == "application/json"
    assert len(raw.stream_id) == 36
    assert raw.framework_id.endswith("-0000")
    assert raw.next_event("HEARTBEAT")  # the first heartbeat follows SUBSCRIBED at once
    offer = raw.next_event("OFFERS")["offers"]["offers"][0]
    assert offer["framework_id"]["value"] == raw.framework_id
    assert offer["allocation_info"] == {"role": "*"}


JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize(
    ("body", "headers", "code", "fragment"),
    [
        (b"{}", {}, 400, b"Content-Type"),
        (b"{}", {"Content-Type": "text/plain"}, 415, b"application/json"),
        (b"{not json", JSON, 400, b"JSON"),
        (b"[1, 2]", JSON, 400, b"not an object"),
        (b'{"type": "BOGUS"}', JSON, 400, b"unknown call type"),
        (b'{"type": "UNKNOWN"}', JSON, 501, b"Unknown"),
        (b'{"type": "SUBSCRIBE"}', JSON, 400, b"subscribe"),
        (
            b'{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"u","name":"n"}}}',
            {**JSON, "Mesos-Stream-Id": "x"},
            400,
            b"absent",
        ),
        (
            b'{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"u","name":"n"}}}',
            {**JSON, "Accept": "text/html"},
            406,
            b"Accept",
        ),
        (b'{"type": "REVIVE", "framework_id": {"value": "nope"}}', JSON, 400, b"cannot be found"),
    ],
)
def test_bad_calls_get_mesos_status_codes(process_cluster, body, headers, code, fragment):
    status, _, reply = post_raw(process_cluster.address, body, headers)
    assert status == code
    assert fragment in reply


def test_only_post_is_allowed(process_cluster):
    status, headers, _ = post_raw(process_cluster.address, None, {}, method="GET")
    assert status == 405
    assert headers.get("Allow") == "POST"


def test_oversized_bodies_are_refused_and_the_master_keeps_serving(process_cluster):
    body = b'{"type": "REVIVE", "pad": "' + b"x" * (17 * 1024 * 1024) + b'"}'
    status, _, reply = post_raw(process_cluster.address, body, JSON)
    assert status == 413 and b"exceeds" in reply
    assert healthy(process_cluster.address)


def test_stream_id_must_be_present_and_match(raw):
    revive = {"type": "REVIVE", "framework_id": {"value": raw.framework_id}}
    status, reply = raw.post(revive, stream_id=False)
    assert status == 400 and b"Mesos-Stream-Id" in reply
    status, reply = raw.post(revive, {"Mesos-Stream-Id": "another"})
    assert status == 400 and b"didn't match" in reply
    assert raw.post(revive)[0] == 202


def test_calls_from_a_disconnected_framework_get_403(process_cluster):
    raw = RawScheduler(
        process_cluster.address, {"user": "root", "name": "gone", "failover_timeout": 60}
    )
    raw.close()

    def disconnected():
        frameworks = get_json(process_cluster.address, "/master/frameworks")["frameworks"]
        return any(f["id"] == raw.framework_id and not f["connected"] for f in frameworks)

    from tests.integration.harness import wait_for

    wait_for(disconnected, what="disconnection")
    status, reply = raw.call("REVIVE")
    assert status == 403 and b"not subscribed" in reply


def test_failover_tells_the_old_stream_and_teardown_is_final(process_cluster):
    first = RawScheduler(
        process_cluster.address, {"user": "root", "name": "f", "failover_timeout": 60}
    )
    framework_id = first.framework_id
    info = {"user": "root", "name": "f", "failover_timeout": 60, "id": {"value": framework_id}}
    second = RawScheduler(process_cluster.address, info, framework_id={"value": framework_id})
    assert second.framework_id == framework_id
    assert first.next_event("ERROR")["error"]["message"] == "Framework failed over"
    assert second.call("TEARDOWN")[0] == 202
    third = RawScheduler(process_cluster.address, info, framework_id={"value": framework_id})
    assert third.next_event("ERROR")["error"]["message"] == "Framework has been removed"
    for scheduler in (first, second, third):
        scheduler.close()


def accept(raw, offer, tasks, refuse=0):
    return raw.call(
        "ACCEPT",
        {
            "offer_ids": [offer["id"]],
            "operations": [{"type": "LAUNCH", "launch": {"task_infos": tasks}}],
            "filters": {"refuse_seconds": refuse},
        },
    )


@pytest.mark.parametrize(
    ("task", "fragment"),
    [
        ("NO_AGENT", "agent_id"),
        ("BROKEN", "must be an object"),
        ("NO_COMMAND", "at least one (but not both)"),
        ("TOO_BIG", "more resources"),
        ("NEGATIVE", "invalid resources"),
    ],
)
def test_invalid_task_infos_get_task_error(raw, task, fragment):
    offer = raw.next_event("OFFERS")["offers"]["offers"][0]
    valid = command_task(offer, "t", "true")
    task = {
        "NO_AGENT": {"name": "t", "task_id": {"value": "t"}, "command": {"value": "true"}},
        "BROKEN": "not a task",
        "NO_COMMAND": {k: v for k, v in valid.items() if k != "command"},
        "TOO_BIG": command_task(offer, "t", "true", cpus=1000),
        "NEGATIVE": command_task(offer, "t", "true", cpus=-1),
    }[task]
    assert accept(raw, offer, [task])[0] == 202
    status = raw.next_event("UPDATE")["update"]["status"]
    assert status["state"] == "TASK_ERROR"
    assert status["reason"] == "REASON_TASK_INVALID"
    assert status["source"] == "SOURCE_MASTER"
    assert fragment in status["message"]
    assert "uuid" not in status
    # The offer's resources are not lost: they come back in a later offer.
    again = raw.next_event("OFFERS")["offers"]["offers"][0]
    assert again["resources"] == offer["resources"]


def test_an_offer_used_twice_loses_the_second_launch(raw):
    offer = raw.next_event("OFFERS")["offers"]["offers"][0]
    assert accept(raw, offer, [command_task(offer, "first", "sleep 5")])[0] == 202
    assert accept(raw, offer, [command_task(offer, "second", "true")])[0] == 202
    statuses = {}
    while "second" not in statuses or "first" not in statuses:
        status = raw.next_event("UPDATE")["update"]["status"]
        statuses.setdefault(status["task_id"]["value"], status)
    assert statuses["second"]["state"] == "TASK_LOST"
    assert statuses["second"]["reason"] == "REASON_INVALID_OFFERS"
    assert "no longer valid" in statuses["second"]["message"]
    assert statuses["first"]["state"] == "TASK_RUNNING"


def test_duplicate_task_ids_are_refused(raw):
    offer = raw.next_event("OFFERS")["offers"]["offers"][0]
    tasks = [command_task(offer, "dup", "sleep 5"), command_task(offer, "dup", "sleep 5")]
    accept(raw, offer, tasks)
    states = []
    while len(states) < 2:
        status = raw.next_event("UPDATE")["update"]["status"]
        states.append((status["state"], status.get("message", "")))
    assert ("TASK_ERROR", "Task has duplicate ID: dup") in states


def test_acknowledge_needs_a_16_byte_uuid(raw):
    body = {"agent_id": {"value": "a"}, "task_id": {"value": "t"}, "uuid": "c2hvcnQ="}
    status, reply = raw.call("ACKNOWLEDGE", body)
    assert status == 400 and b"16 bytes" in reply


call_types = st.sampled_from(
    [
        "SUBSCRIBE",
        "TEARDOWN",
        "ACCEPT",
        "DECLINE",
        "REVIVE",
        "KILL",
        "SHUTDOWN",
        "ACKNOWLEDGE",
        "RECONCILE",
        "MESSAGE",
        "SUPPRESS",
        "REQUEST",
        "UNKNOWN",
        "UPDATE_FRAMEWORK",
        "BOGUS",
    ]
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(string.ascii_lowercase + "_", max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
random_calls = st.fixed_dictionaries(
    {"type": call_types},
    optional={
        "framework_id": st.one_of(json_values, st.just({"value": "FRAMEWORK"})),
        "accept": json_values,
        "decline": json_values,
        "kill": json_values,
        "acknowledge": json_values,
        "reconcile": json_values,
        "message": json_values,
        "subscribe": json_values,
        "shutdown": json_values,
    },
)


def test_random_calls_never_break_the_master(raw, process_cluster):
    real_id = raw.framework_id

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(random_calls)
    def throw(call):
        if call.get("framework_id") == {"value": "FRAMEWORK"} and call["type"] != "TEARDOWN":
            call["framework_id"] = {"value": real_id}
        if call["type"] == "SUBSCRIBE" and isinstance(call.get("subscribe"), dict):
            # A valid subscription would open a stream; only malformed ones are thrown.
            call["subscribe"].pop("framework_info", None)
        status, _ = raw.post(json.dumps(call).encode())
        assert status in (200, 202, 400, 403, 406, 415, 501), (status, call)

    throw()
    assert healthy(process_cluster.address)
    assert process_cluster.master.alive()
    # Still serving the real framework: a revive is accepted and offers keep coming.
    assert raw.call("REVIVE")[0] == 202
    assert raw.next_event("OFFERS")
