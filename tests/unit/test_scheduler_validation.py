"""Validation of scheduler calls and task infos (pure)."""

import pytest

from mesos_py.master.validation import CallError, validate_call, validate_task

FID = {"value": "F"}
UUID16 = "AAAAAAAAAAAAAAAAAAAAAA=="  # base64 of 16 zero bytes


def subscribe(**info):
    framework_info = {"user": "u", "name": "n", **info}
    return {"type": "SUBSCRIBE", "subscribe": {"framework_info": framework_info}}


@pytest.mark.parametrize(
    ("call", "code", "fragment"),
    [
        ({}, 400, "'type'"),
        ({"type": "UNKNOWN"}, 501, "Unknown"),
        ({"type": "BOGUS"}, 400, "unknown call type"),
        ({"type": "SUBSCRIBE"}, 400, "'subscribe'"),
        (subscribe(name=7), 400, "framework_info.name"),
        (subscribe(failover_timeout=-1), 400, "failover_timeout"),
        ({**subscribe(), "framework_id": FID}, 400, "differs"),
        ({"type": "DECLINE", "decline": {}}, 400, "framework_id"),
        ({"type": "ACCEPT", "framework_id": FID}, 400, "'accept'"),
        ({"type": "KILL", "framework_id": FID, "kill": {}}, 400, "task_id"),
        (
            {"type": "SHUTDOWN", "framework_id": FID, "shutdown": {"executor_id": FID}},
            400,
            "agent_id",
        ),
        (
            {
                "type": "ACKNOWLEDGE",
                "framework_id": FID,
                "acknowledge": {"agent_id": FID, "task_id": FID, "uuid": "AAAA"},
            },
            400,
            "16 bytes",
        ),
        (
            {
                "type": "DECLINE",
                "framework_id": FID,
                "decline": {"filters": {"refuse_seconds": "x"}},
            },
            400,
            "refuse_seconds",
        ),
        ({"type": "RECONCILE", "framework_id": FID, "reconcile": {"tasks": [{}]}}, 400, "task_id"),
        (
            {"type": "MESSAGE", "framework_id": FID, "message": {"agent_id": FID}},
            400,
            "executor_id",
        ),
    ],
)
def test_malformed_calls_are_refused_with_mesos_codes(call, code, fragment):
    with pytest.raises(CallError) as caught:
        validate_call(call)
    assert caught.value.code == code
    assert fragment in str(caught.value)


@pytest.mark.parametrize(
    "call",
    [
        subscribe(),
        {**subscribe(id=FID), "framework_id": FID},
        {"type": "TEARDOWN", "framework_id": FID},
        {"type": "REVIVE", "framework_id": FID},
        {"type": "SUPPRESS", "framework_id": FID, "suppress": {"roles": ["a"]}},
        {"type": "DECLINE", "framework_id": FID, "decline": {"offer_ids": [{"value": "O"}]}},
        {
            "type": "ACKNOWLEDGE",
            "framework_id": FID,
            "acknowledge": {"agent_id": FID, "task_id": FID, "uuid": UUID16},
        },
        {"type": "RECONCILE", "framework_id": FID, "reconcile": {"tasks": []}},
    ],
)
def test_well_formed_calls_pass(call):
    assert validate_call(call) == call["type"]


def task(**fields):
    return {"name": "t", "task_id": {"value": "t"}, "agent_id": {"value": "A"}, **fields}


@pytest.mark.parametrize(
    ("info", "fragment"),
    [
        ("not a dict", "object"),
        (task(), "at least one (but not both)"),
        (task(command={"value": "x"}, executor={"executor_id": {"value": "e"}}), "not both"),
        (task(command={"value": ""}), "non-empty"),
        (task(command={"value": "x", "shell": "yes"}), "boolean"),
        (task(command={"value": "x", "arguments": [1]}), "arguments"),
        (task(agent_id={"value": "B"}, command={"value": "x"}), "offer is for"),
        (task(executor={"executor_id": {"value": "e"}}), "no CommandInfo"),
        (
            task(executor={"executor_id": {"value": "e"}, "type": "DEFAULT", "command": {}}),
            "CUSTOM",
        ),
        (
            task(
                executor={
                    "executor_id": {"value": "e"},
                    "command": {"value": "x"},
                    "framework_id": {"value": "other"},
                }
            ),
            "FrameworkID",
        ),
    ],
)
def test_invalid_tasks_get_a_reason(info, fragment):
    problem = validate_task(info, "A", "F")
    assert problem is not None and fragment in problem


def test_valid_command_and_executor_tasks_pass():
    assert validate_task(task(command={"value": "true"}), "A", "F") is None
    executor = {"executor_id": {"value": "e"}, "command": {"value": "./run"}}
    assert validate_task(task(executor=executor), "A", "F") is None
