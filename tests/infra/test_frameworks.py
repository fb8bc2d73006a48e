"""Marathon and Chronos as deployed by their roles: units, ports, one agreed leader each,
registered with the master, and each doing its job on the agents (an app of two
instances runs then goes; a job due in a few seconds runs and succeeds)."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest

from tests.infra import cluster
from tests.infra.test_mesos import elected_master

FRAMEWORKS = {
    "marathon": ("mesos-py-marathon", cluster.MARATHON_PORT),
    "chronos": ("mesos-py-chronos", cluster.CHRONOS_PORT),
}


def test_marathon_is_enabled_and_running(marathon_host):
    cluster.assert_enabled_and_running(marathon_host, "mesos-py-marathon")


def test_chronos_is_enabled_and_running(chronos_host):
    cluster.assert_enabled_and_running(chronos_host, "mesos-py-chronos")


def test_marathon_listens_on_the_cluster_address_only(marathon_host):
    cluster.assert_listens_on_cluster_address_only(marathon_host, cluster.MARATHON_PORT)


def test_chronos_listens_on_the_cluster_address_only(chronos_host):
    cluster.assert_listens_on_cluster_address_only(chronos_host, cluster.CHRONOS_PORT)


@pytest.mark.parametrize("unit", ["mesos-py-marathon", "mesos-py-chronos"])
def test_framework_units_always_restart_and_run_unprivileged(master_host, inventory, unit):
    group = unit.removeprefix("mesos-py-")
    if master_host.name not in inventory.hosts(group):
        pytest.skip(f"{master_host.name} runs no {group}")
    properties = master_host.host.service(unit).systemd_properties
    # An instance exits 1 when it loses leadership: it must come back whatever the exit.
    assert properties["Restart"] == "always"
    assert properties["User"] not in ("", "root"), properties["User"]


@pytest.mark.parametrize("group", sorted(FRAMEWORKS))
def test_every_instance_answers_ping(inventory, group):
    _, port = FRAMEWORKS[group]
    for address in inventory.addresses(group):

        def pong(address: str = address) -> None:
            status, _, body = cluster.http_get(address, port, "/ping")
            assert (status, body.strip()) == (200, b"pong"), (address, status, body[:100])

        cluster.eventually(pong)


def marathon_leader(inventory: cluster.Inventory) -> str:
    """``address:port`` of the one Marathon leader, once every instance agrees on it."""
    instances = inventory.addresses("marathon")

    def agreed() -> str:
        named = {
            a: cluster.get_json(a, cluster.MARATHON_PORT, "/v2/leader")["leader"] for a in instances
        }
        assert len(set(named.values())) == 1, f"Marathon instances disagree: {named}"
        leader = named[instances[0]]
        assert leader in {f"{a}:{cluster.MARATHON_PORT}" for a in instances}, leader
        elected = {
            a: cluster.get_json(a, cluster.MARATHON_PORT, "/v2/info")["elected"] for a in instances
        }
        assert [a for a, e in elected.items() if e] == [leader.rsplit(":", 1)[0]], elected
        return leader

    return cluster.eventually(agreed)


def chronos_leader(inventory: cluster.Inventory) -> str:
    instances = inventory.addresses("chronos")

    def agreed() -> str:
        named = {
            a: cluster.get_json(a, cluster.CHRONOS_PORT, "/v1/scheduler/leader")["leader"]
            for a in instances
        }
        assert len(set(named.values())) == 1, f"Chronos instances disagree: {named}"
        leader = named[instances[0]]
        assert leader in {f"{a}:{cluster.CHRONOS_PORT}" for a in instances}, leader
        return leader

    return cluster.eventually(agreed)


def test_marathon_has_exactly_one_leader_every_instance_names(inventory):
    assert marathon_leader(inventory)


def test_chronos_has_exactly_one_leader_every_instance_names(inventory):
    assert chronos_leader(inventory)


@pytest.mark.parametrize("name", sorted(FRAMEWORKS))
def test_framework_is_registered_and_active_at_the_master(inventory, name):
    def registered() -> None:
        master = elected_master(inventory)
        frameworks = cluster.get_json(master, cluster.MASTER_PORT, "/master/frameworks")
        active = [f for f in frameworks["frameworks"] if f["name"] == name and f["active"]]
        assert len(active) == 1, [
            (f["name"], f["id"], f["active"]) for f in frameworks["frameworks"]
        ]

    cluster.eventually(registered)


def _request(authority: str, method: str, path: str, body: object = None) -> tuple[int, object]:
    address, port = authority.rsplit(":", 1)
    status, _, raw = cluster.http_request(address, int(port), method, path, body)
    return status, json.loads(raw) if raw.strip() else None


def _agent_names(inventory: cluster.Inventory) -> set[str]:
    agents = inventory.hosts("mesos_agents")
    return set(agents) | {inventory.address(name) for name in agents}


def active_framework_ids(inventory: cluster.Inventory) -> dict[str, list[str]]:
    """The IDs of the frameworks the elected master lists active, by framework name."""
    master = elected_master(inventory)
    ids: dict[str, list[str]] = {}
    for framework in cluster.get_json(master, cluster.MASTER_PORT, "/master/frameworks")[
        "frameworks"
    ]:
        if framework["active"]:
            ids.setdefault(framework["name"], []).append(framework["id"])
    return ids


def marathon_running_tasks(inventory: cluster.Inventory, app_id: str, count: int) -> list[dict]:
    """The app's tasks as the Marathon leader lists them, once ``count`` run on the agents."""

    def running() -> list[dict]:
        status, body = _request(marathon_leader(inventory), "GET", f"/v2/apps{app_id}/tasks")
        assert status == 200, (status, body)
        tasks = [t for t in body["tasks"] if t.get("state", "TASK_RUNNING") == "TASK_RUNNING"]
        assert len(tasks) == count, body["tasks"]
        assert {t["host"] for t in tasks} <= _agent_names(inventory), tasks
        return tasks

    return cluster.eventually(running, timeout=120)


def master_task_states(inventory: cluster.Inventory) -> dict[str, str]:
    master = elected_master(inventory)
    known = cluster.get_json(master, cluster.MASTER_PORT, "/master/tasks")["tasks"]
    return {t["id"]: t["state"] for t in known}


@dataclass(frozen=True)
class MarathonApp:
    app_id: str
    tasks: list[dict]


@contextmanager
def marathon_app(inventory: cluster.Inventory, instances: int) -> Iterator[MarathonApp]:
    """A ``sleep`` app deployed through the Marathon leader, its instances running; deleted
    afterwards (through whichever instance leads then) and waited for until its tasks
    are gone from the master."""
    app_id = f"/infra-{uuid.uuid4().hex[:8]}"
    app = {"id": app_id, "cmd": "sleep 3600", "cpus": 0.1, "mem": 16, "instances": instances}
    status, body = _request(marathon_leader(inventory), "POST", "/v2/apps", app)
    assert status == 201, (status, body)
    tasks: list[dict] = []
    try:
        tasks = marathon_running_tasks(inventory, app_id, instances)
        yield MarathonApp(app_id, tasks)
    finally:
        status, body = _request(marathon_leader(inventory), "DELETE", f"/v2/apps{app_id}")
    assert status == 200, (status, body)

    def gone() -> None:
        status, _ = _request(marathon_leader(inventory), "GET", f"/v2/apps{app_id}")
        assert status == 404, status
        states = master_task_states(inventory)
        left = [t["id"] for t in tasks if states.get(t["id"]) == "TASK_RUNNING"]
        assert left == [], left

    cluster.eventually(gone, timeout=120)


def test_a_marathon_app_of_two_instances_runs_on_the_agents_then_goes(inventory):
    with marathon_app(inventory, instances=2) as app:
        states = master_task_states(inventory)
        assert all(states.get(t["id"]) == "TASK_RUNNING" for t in app.tasks), (app.tasks, states)


def test_a_chronos_job_due_in_a_few_seconds_runs_and_succeeds(inventory):
    instance = f"{inventory.addresses('chronos')[0]}:{cluster.CHRONOS_PORT}"  # a standby proxies
    name = f"infra-{uuid.uuid4().hex[:8]}"
    start = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5)
    job = {
        "name": name,
        "command": "echo infra-test",
        "schedule": f"R1/{start.strftime('%Y-%m-%dT%H:%M:%SZ')}/PT1M",
        "epsilon": "PT60S",
        "owner": "infra@example.org",
        "cpus": 0.1,
        "mem": 16,
    }
    status, body = _request(instance, "POST", "/v1/scheduler/iso8601", job)
    assert status == 204, (status, body)
    try:

        def succeeded() -> dict:
            status, body = _request(instance, "GET", f"/v1/scheduler/job/{name}")
            assert status == 200, (status, body)
            assert body["successCount"] >= 1, body
            assert body["errorCount"] == 0, body
            return body

        cluster.eventually(succeeded, timeout=120)
    finally:
        status, body = _request(instance, "DELETE", f"/v1/scheduler/job/{name}")
    assert status == 204, (status, body)
    status, _ = _request(instance, "GET", f"/v1/scheduler/job/{name}")
    assert status in (400, 404), status
