"""Marathon app definitions (mesos_py.marathon.appdef), pure."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mesos_py.marathon.appdef import (
    InvalidJSON,
    ObjectNotValid,
    app_id_of_task,
    assign_service_ports,
    canonical_path,
    format_timestamp,
    is_scale_only,
    new_task_id,
    parse_app,
    parse_bool,
    path_errors,
)


def details(error: pytest.ExceptionInfo) -> dict[str, list[str]]:
    return {d["path"]: d["errors"] for d in error.value.details}


def test_defaults_are_marathons():
    app = parse_app({"id": "web", "cmd": "serve"})
    assert app["id"] == "/web"
    assert (app["cpus"], app["mem"], app["disk"], app["instances"]) == (1.0, 128.0, 0.0, 1)
    assert app["upgradeStrategy"] == {"minimumHealthCapacity": 1.0, "maximumOverCapacity": 1.0}
    assert (app["backoffSeconds"], app["backoffFactor"], app["maxLaunchDelaySeconds"]) == (
        1,
        1.15,
        3600,
    )
    assert app["portDefinitions"] == [
        {"port": 0, "protocol": "tcp", "name": "default", "labels": {}}
    ]
    assert app["ports"] == [0]


def test_read_only_and_unknown_keys_are_ignored():
    app = parse_app(
        {"id": "/a", "cmd": "x", "tasks": [], "tasksRunning": 3, "version": "v", "bogus": 1}
    )
    assert "tasks" not in app and "bogus" not in app and "version" not in app


def test_partial_update_keeps_what_is_left_out():
    base = parse_app({"id": "/a", "cmd": "x", "cpus": 0.5, "env": {"A": "1"}})
    updated = parse_app({"instances": 4}, "/a", base)
    assert updated["cpus"] == 0.5 and updated["env"] == {"A": "1"} and updated["instances"] == 4
    assert is_scale_only(base, updated)
    switched = parse_app({"args": ["run"]}, "/a", base)
    assert switched["cmd"] is None and switched["args"] == ["run"]
    assert not is_scale_only(base, switched)


def test_health_checks_get_defaults_and_commands_become_objects():
    app = parse_app(
        {
            "id": "/a",
            "cmd": "x",
            "healthChecks": [{"protocol": "TCP"}, {"protocol": "COMMAND", "command": "true"}],
        }
    )
    tcp, command = app["healthChecks"]
    assert tcp["portIndex"] == 0 and tcp["gracePeriodSeconds"] == 300 and "path" not in tcp
    assert command["command"] == {"value": "true"} and "portIndex" not in command
    assert (
        parse_app({"id": "/a", "cmd": "x", "healthChecks": [{}]})["healthChecks"][0]["path"] == "/"
    )


@pytest.mark.parametrize(
    "body, path",
    [
        ({"id": "/a", "cmd": 3}, "/cmd"),
        ({"id": "/a", "cmd": "x", "cpus": "1"}, "/cpus"),
        ({"id": "/a", "cmd": "x", "instances": 1.5}, "/instances"),
        ({"id": "/a", "cmd": "x", "env": {"A": 1}}, "/env"),
        ({"id": "/a", "cmd": "x", "constraints": "hostname"}, "/constraints"),
        ({"id": "/a", "cmd": "x", "requirePorts": "yes"}, "/requirePorts"),
    ],
)
def test_wrong_types_are_invalid_json(body, path):
    with pytest.raises(InvalidJSON) as error:
        parse_app(body)
    assert path in details(error)
    assert error.value.status == 400 and error.value.body["message"] == "Invalid JSON"


@pytest.mark.parametrize(
    "body, path",
    [
        ({"cmd": "x"}, "/id"),
        ({"id": "/My_App", "cmd": "x"}, "/id"),
        ({"id": "/a", "cmd": "x", "args": ["y"]}, "/"),
        ({"id": "/a"}, "/"),
        ({"id": "/a", "cmd": "x", "cpus": -1}, "/cpus"),
        ({"id": "/a", "cmd": "x", "instances": -1}, "/instances"),
        (
            {"id": "/a", "cmd": "x", "upgradeStrategy": {"maximumOverCapacity": 1.5}},
            "/upgradeStrategy/maximumOverCapacity",
        ),
        ({"id": "/a", "cmd": "x", "backoffFactor": 0.5}, "/backoffFactor"),
        ({"id": "/a", "cmd": "x", "constraints": [["rack", "SPREAD"]]}, "/constraints(0)"),
        ({"id": "/a", "cmd": "x", "constraints": [["rack", "LIKE"]]}, "/constraints(0)"),
        ({"id": "/a", "cmd": "x", "ports": [80, 80]}, "/portDefinitions"),
        (
            {"id": "/a", "cmd": "x", "healthChecks": [{"portIndex": 3}]},
            "/healthChecks(0)/portIndex",
        ),
        (
            {"id": "/a", "cmd": "x", "healthChecks": [{"protocol": "UDP"}]},
            "/healthChecks(0)/protocol",
        ),
        (
            {"id": "/a", "cmd": "x", "healthChecks": [{"protocol": "COMMAND"}]},
            "/healthChecks(0)/command",
        ),
        ({"id": "/a", "cmd": "x", "killSelection": "RANDOM"}, "/killSelection"),
        ({"id": "/a", "cmd": "x", "container": {"type": "DOCKER"}}, "/container/type"),
    ],
)
def test_rule_violations_are_not_valid(body, path):
    with pytest.raises(ObjectNotValid) as error:
        parse_app(body)
    assert path in details(error)
    assert error.value.status == 422 and error.value.body["message"] == "Object is not valid"


def test_not_an_object():
    with pytest.raises(InvalidJSON):
        parse_app([1, 2])


def test_paths():
    assert canonical_path("b", "/a") == "/a/b"
    assert canonical_path("/x//y/./z/..") == "/x/y"
    assert canonical_path("../c", "/a/b") == "/a/c"
    assert path_errors("/grp/web-1/v1.2") == []
    assert path_errors("/Web") and path_errors("/-a") and path_errors("/a_b") and path_errors("/")


@given(
    st.lists(
        st.from_regex(r"[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?", fullmatch=True), min_size=1, max_size=4
    )
)
def test_task_ids_name_their_app(segments):
    app_id = "/" + "/".join(segments)
    task_id = new_task_id(app_id)
    if not any("_" in s for s in segments):
        assert app_id_of_task(task_id) == app_id


def test_task_id_forms():
    assert app_id_of_task("grp_web.instance-1234._app.1") == "/grp/web"
    assert app_id_of_task("nodot") is None
    assert app_id_of_task("BAD.1") is None


def test_timestamps_end_in_z_with_milliseconds():
    assert format_timestamp(0) == "1970-01-01T00:00:00.000Z"
    assert format_timestamp(1.2345) == "1970-01-01T00:00:01.234Z"
    assert format_timestamp(59.9999) == "1970-01-01T00:01:00.000Z"


def test_service_ports_are_unique_and_kept():
    app = parse_app(
        {"id": "/a", "cmd": "x", "portDefinitions": [{"port": 0}, {"port": 0}, {"port": 9000}]}
    )
    assign_service_ports(app, {10000, 10002})
    assert app["ports"] == [10001, 10003, 9000]


def test_query_booleans_as_java_reads_them():
    assert parse_bool(b"True") and parse_bool("true") and not parse_bool(b"False")
    assert not parse_bool(None) and parse_bool(None, True) and not parse_bool("yes")
