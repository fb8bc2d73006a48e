"""The pure maintenance model: schedules, machine modes, drain configs."""

from __future__ import annotations

import pytest

from mesos_py.master import registry as reg
from mesos_py.master.maintenance import (
    DOWN,
    DRAINING,
    UP,
    Maintenance,
    MaintenanceError,
    kill_grace_nanoseconds,
    parse_drain_config,
    parse_machine,
    parse_machines,
    parse_schedule,
)

A = {"hostname": "a.example", "ip": "10.0.0.1"}
B = {"hostname": "b.example"}
C = {"ip": "10.0.0.3"}
UNAVAILABLE = {"start": {"nanoseconds": 10**18}, "duration": {"nanoseconds": 3600 * 10**9}}


def window(*machines, unavailability=UNAVAILABLE):
    return {"machine_ids": list(machines), "unavailability": unavailability}


def scheduled(*windows) -> Maintenance:
    return Maintenance().with_schedule(parse_schedule({"windows": list(windows)}))


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ({}, "Both 'hostname' and 'ip' for a machine are empty"),
        ({"hostname": "", "ip": ""}, "Both 'hostname' and 'ip'"),
        ({"hostname": 3}, "strings"),
        ({"ip": "999.1.1.1"}, "Failed to parse IP address '999.1.1.1'"),
        ("a.example", "JSON object"),
    ],
)
def test_bad_machines(value, says):
    with pytest.raises(MaintenanceError, match=says):
        parse_machine(value)


def test_machines_are_lower_cased_hostnames_and_ips():
    assert parse_machine({"hostname": "A.Example", "ip": "10.0.0.1"}) == ("a.example", "10.0.0.1")
    assert parse_machine({"ip": "::1"}) == ("", "::1")


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ([], "List of machines is empty"),
        ([A, dict(A, hostname="A.EXAMPLE")], "appears more than once in list"),
        ({"hostname": "x"}, "JSON array"),
    ],
)
def test_bad_machine_lists(value, says):
    with pytest.raises(MaintenanceError, match=says):
        parse_machines(value)


@pytest.mark.parametrize(
    ("schedule", "says"),
    [
        ({"windows": [window()]}, "List of machines in the maintenance window is empty"),
        ({"windows": [window(A), window(B, A)]}, "appears more than once in the schedule"),
        ({"windows": [{"machine_ids": [A]}]}, "'unavailability' to be present"),
        ({"windows": [window(A, unavailability={})]}, "'start.nanoseconds'"),
        (
            {"windows": [window(A, unavailability={"start": {"nanoseconds": 0}, "duration": {}})]},
            "'duration.nanoseconds'",
        ),
        (
            {
                "windows": [
                    window(
                        A,
                        unavailability={
                            "start": {"nanoseconds": 0},
                            "duration": {"nanoseconds": -1},
                        },
                    )
                ]
            },
            "negative",
        ),
        ({"windows": {}}, "'windows' to be an array"),
        ([], "JSON object"),
    ],
)
def test_bad_schedules(schedule, says):
    with pytest.raises(MaintenanceError, match=says):
        parse_schedule(schedule)


def test_nanoseconds_may_be_strings_as_protobuf_json_allows():
    (parsed,) = parse_schedule(
        {"windows": [window(A, unavailability={"start": {"nanoseconds": "5"}})]}
    )
    assert parsed.unavailability == {"start": {"nanoseconds": 5}}


def test_scheduled_machines_drain_and_offers_carry_their_window():
    maintenance = scheduled(window(A, B), window(C, unavailability={"start": {"nanoseconds": 7}}))
    assert maintenance.schedule_json() == {
        "windows": [window(A, B), window(C, unavailability={"start": {"nanoseconds": 7}})]
    }
    assert maintenance.status_json() == {"draining_machines": [{"id": A}, {"id": B}, {"id": C}]}
    assert maintenance.agent_mode("a.example", "10.0.0.1") == DRAINING
    assert maintenance.agent_mode("a.example", "10.9.9.9") == UP  # both fields must match
    assert maintenance.agent_mode("B.example", "10.9.9.9") == DRAINING  # hostname-only entry
    assert maintenance.agent_mode("anything", "10.0.0.3") == DRAINING  # ip-only entry
    assert maintenance.unavailability("b.example", "1.1.1.1") == UNAVAILABLE
    assert maintenance.unavailability("x", "10.0.0.3") == {"start": {"nanoseconds": 7}}
    assert maintenance.unavailability("x", "1.1.1.1") is None
    assert Maintenance().schedule_json() == {} and Maintenance().status_json() == {}


def test_down_and_up():
    maintenance = scheduled(window(A, B))
    a, b = parse_machine(A), parse_machine(B)
    with pytest.raises(MaintenanceError, match="is not in DOWN mode and cannot be brought up"):
        maintenance.stop([a])
    with pytest.raises(MaintenanceError, match="is not part of a maintenance schedule"):
        maintenance.start([parse_machine(C)])
    down = maintenance.start([a])
    assert (down.mode(a), down.mode(b)) == (DOWN, DRAINING)
    assert down.unavailability("a.example", "10.0.0.1") is None
    assert down.status_json() == {"draining_machines": [{"id": B}], "down_machines": [A]}
    with pytest.raises(MaintenanceError, match="is not in DRAINING mode"):
        down.start([a])
    with pytest.raises(MaintenanceError, match="cannot be removed from the schedule"):
        down.with_schedule(parse_schedule({"windows": [window(B)]}))
    assert down.with_schedule(parse_schedule({"windows": [window(A)]})).mode(b) == UP
    up = down.stop([a])
    assert (up.mode(a), up.mode(b)) == (UP, DRAINING)
    assert up.schedule_json() == {"windows": [window(B)]}
    assert up.start([b]).stop([b]) == Maintenance()  # an emptied window disappears


def test_registry_round_trip():
    maintenance = scheduled(window(A), window(B, C)).start([parse_machine(C)])
    document = maintenance.to_registry()
    assert Maintenance.from_registry(document) == maintenance
    stored = reg.Registry(maintenance=document)
    assert Maintenance.from_registry(reg.decode(reg.encode(stored)).maintenance) == maintenance
    assert Maintenance.from_registry({}) == Maintenance()


def test_drain_configs():
    assert parse_drain_config({}) == {"mark_gone": False}
    config = parse_drain_config({"max_grace_period": {"nanoseconds": 5}, "mark_gone": True})
    assert config == {"max_grace_period": {"nanoseconds": 5}, "mark_gone": True}
    with pytest.raises(MaintenanceError, match="must not be negative"):
        parse_drain_config({"max_grace_period": {"nanoseconds": -1}})
    with pytest.raises(MaintenanceError, match="'mark_gone' to be a boolean"):
        parse_drain_config({"mark_gone": "yes"})


@pytest.mark.parametrize(
    ("own", "limit", "expected"),
    [(None, None, None), (9, None, 9), (None, 4, 4), (9, 4, 4), (2, 4, 2)],
)
def test_kill_grace_is_the_smaller_of_the_tasks_and_the_drains(own, limit, expected):
    task = {"kill_policy": {"grace_period": {"nanoseconds": own}}} if own is not None else {}
    config = {"max_grace_period": {"nanoseconds": limit}} if limit is not None else {}
    assert kill_grace_nanoseconds(task, config) == expected


def test_registry_keeps_deactivated_agents_until_gone():
    registry = reg.Registry()
    drain = {"state": "DRAINING", "config": {"mark_gone": False}}
    assert reg.DeactivateAgent("a1").apply(registry)
    assert not reg.DeactivateAgent("a1").apply(registry)
    assert reg.DeactivateAgent("a1", drain).apply(registry)
    assert registry.deactivated == {"a1": {"drain_info": drain}}
    assert reg.decode(reg.encode(registry)).deactivated == registry.deactivated
    assert reg.ReactivateAgent("a1").apply(registry)
    assert not reg.ReactivateAgent("a1").apply(registry)
    reg.DeactivateAgent("a2").apply(registry)
    assert reg.MarkGone("a2", 1.0).apply(registry)
    assert registry.deactivated == {}
