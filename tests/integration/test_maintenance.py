"""Maintenance schedules, machine down/up, agent draining and the v1 operator API.

Real master and agent processes on loopback (``harness.Cluster``), a raw v1
scheduler watching what frameworks are told, and for persistence a master
restarted on its ``--work_dir`` registry and a ZooKeeper-backed leader killed.
"""

from __future__ import annotations

import http.client
import json
import time

import pytest

from tests.integration.ha_cluster import HACluster
from tests.integration.harness import Cluster, RawScheduler, get_json, running_cluster, wait_for
from tests.integration.pymesos_support import command_task
from tests.integration.test_faults import collect, launch
from tests.integration.zookeeper import Ensemble, missing_reason

pytestmark = pytest.mark.integration

SECOND = 1_000_000_000
HOSTS = ("maint-0", "maint-1")


def post(address: str, path: str, body, headers: dict | None = None):
    """POST ``body`` (JSON-encoded unless bytes); returns (status, decoded or raw body)."""
    host, port = address.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    try:
        connection.request(
            "POST", path, data, {"Content-Type": "application/json", **(headers or {})}
        )
        response = connection.getresponse()
        raw = response.read()
        if response.getheader("Content-Type", "").startswith("application/json"):
            return response.status, json.loads(raw)
        return response.status, raw
    finally:
        connection.close()


def operator(address: str, call_type: str, body: dict | None = None, path: str = "/api/v1"):
    call = {"type": call_type}
    if body is not None:
        call[call_type.lower()] = body
    return post(address, path, call, {"Accept": "application/json"})


def machine(index: int) -> dict:
    return {"hostname": HOSTS[index], "ip": "127.0.0.1"}


def schedule(*indexes: int, start: int = 0) -> dict:
    return {
        "windows": [
            {
                "machine_ids": [machine(i) for i in indexes],
                "unavailability": {
                    "start": {"nanoseconds": start},
                    "duration": {"nanoseconds": 3600 * SECOND},
                },
            }
        ]
    }


def agent_ids(address: str) -> dict[str, str]:
    """hostname -> agent ID of the registered agents."""
    return {s["hostname"]: s["id"] for s in get_json(address, "/master/state")["slaves"]}


def start_cluster(work_dir, agents: int = 2, master_flags: list[str] | None = None) -> Cluster:
    cluster = Cluster(work_dir, "processes", agents=0, master_flags=master_flags)
    cluster.start()
    for index in range(agents):
        cluster.start_agent(index, [f"--hostname={HOSTS[index]}"])
    cluster.wait_agents(agents)
    return cluster


@pytest.fixture
def two_hosts(tmp_path):
    cluster = start_cluster(tmp_path / "cluster")
    try:
        yield cluster
    except BaseException:
        print(cluster.logs())
        raise
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def shared_cluster(tmp_path_factory):
    """One cluster for the tests that only send calls it must refuse."""
    with running_cluster(tmp_path_factory.mktemp("refusals") / "cluster", "processes") as running:
        yield running


def offers_by_host(raw: RawScheduler, want: set[str], timeout: float = 20.0) -> dict[str, dict]:
    """Collect offers until one from every host in ``want`` came; declines nothing."""
    seen: dict[str, dict] = {}
    deadline = time.monotonic() + timeout
    while not want <= set(seen):
        event = raw.next_event("OFFERS", timeout=max(0.1, deadline - time.monotonic()))
        for offer in event["offers"]["offers"]:
            seen[offer["hostname"]] = offer
    return seen


def no_offer_from(raw: RawScheduler, agent_id: str, seconds: float) -> bool:
    """Revive and watch ``seconds`` of offers: none may come from ``agent_id``."""
    assert raw.call("REVIVE", {})[0] == 202
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            event = raw.next_event("OFFERS", timeout=max(0.05, deadline - time.monotonic()))
        except TimeoutError:
            return True
        offers = event["offers"]["offers"]
        if any(o["agent_id"]["value"] == agent_id for o in offers):
            return False
        raw.call(
            "DECLINE",
            {"offer_ids": [o["id"] for o in offers], "filters": {"refuse_seconds": 0.2}},
        )
    return True


# ------------------------------------------------------------- operator API v1


def test_operator_api_read_calls(process_cluster):
    address = process_cluster.address
    raw = RawScheduler(address, {"user": "root", "name": "ops"})
    offer = raw.next_event("OFFERS")["offers"]["offers"][0]
    launch(raw, offer, [command_task(offer, "sleeper", "sleep 1000")])
    collect(raw, ["sleeper"], {"TASK_RUNNING"})
    try:
        assert operator(address, "GET_HEALTH") == (
            200,
            {"type": "GET_HEALTH", "get_health": {"healthy": True}},
        )
        status, version = operator(address, "GET_VERSION")
        assert status == 200 and version["get_version"]["version_info"]["version"]
        flags = operator(address, "GET_FLAGS")[1]["get_flags"]["flags"]
        assert {"name": "allocation_interval", "value": "0.1"} in flags
        got = operator(address, "GET_MASTER")[1]["get_master"]
        assert got["master_info"]["port"] == process_cluster.port and got["start_time"] > 0
        agents = operator(address, "GET_AGENTS")[1]["get_agents"]["agents"]
        assert len(agents) == 1
        assert agents[0]["agent_info"]["id"] == offer["agent_id"]
        assert agents[0]["active"] is True and agents[0]["deactivated"] is False
        assert agents[0]["registered_time"]["nanoseconds"] > 0
        assert any(r["name"] == "cpus" for r in agents[0]["allocated_resources"])
        frameworks = operator(address, "GET_FRAMEWORKS")[1]["get_frameworks"]["frameworks"]
        assert [f["framework_info"]["id"]["value"] for f in frameworks] == [raw.framework_id]
        tasks = operator(address, "GET_TASKS")[1]["get_tasks"]["tasks"]
        assert [(t["task_id"]["value"], t["state"]) for t in tasks] == [("sleeper", "TASK_RUNNING")]
        state = operator(address, "GET_STATE")[1]["get_state"]
        assert state["get_tasks"]["tasks"] == tasks
        assert state["get_agents"]["agents"][0]["agent_info"]["id"] == offer["agent_id"]
        assert state["get_frameworks"]["frameworks"][0]["framework_info"]["name"] == "ops"
        # pymesos' operator driver posts to /api/v1/operator
        assert operator(address, "GET_HEALTH", path="/api/v1/operator")[0] == 200
        assert operator(address, "GET_MAINTENANCE_SCHEDULE")[1] == {
            "type": "GET_MAINTENANCE_SCHEDULE",
            "get_maintenance_schedule": {"schedule": {}},
        }
        assert operator(address, "GET_MAINTENANCE_STATUS")[1]["get_maintenance_status"] == {
            "status": {}
        }
        metrics = operator(address, "GET_METRICS")[1]["get_metrics"]["metrics"]
        assert {"name": "master/tasks_running", "value": 1.0} in metrics
        assert operator(address, "GET_EXECUTORS")[1] == {
            "type": "GET_EXECUTORS",
            "get_executors": {},
        }
        teardown = {"framework_id": {"value": raw.framework_id}}
        assert operator(address, "TEARDOWN", teardown) == (200, b"")
        frameworks = operator(address, "GET_FRAMEWORKS")[1]["get_frameworks"]
        assert "frameworks" not in frameworks
        (done,) = frameworks["completed_frameworks"]
        assert done["framework_info"]["id"]["value"] == raw.framework_id
        completed = operator(address, "GET_TASKS")[1]["get_tasks"]["completed_tasks"]
        assert [(t["task_id"]["value"], t["state"]) for t in completed] == [
            ("sleeper", "TASK_KILLED")
        ]
    finally:
        raw.close()


@pytest.mark.parametrize(
    ("body", "headers", "code", "says"),
    [
        (b"{not json", {}, 400, "Failed to parse body into JSON"),
        (b"{}", {}, 400, "Expecting 'type' to be present"),
        (b'{"type": "NO_SUCH_CALL"}', {}, 400, "Unknown call type 'NO_SUCH_CALL'"),
        (b'{"type": "GET_HEALTH"}', {"Content-Type": "text/plain"}, 415, "application/json"),
        (b'{"type": "GET_HEALTH"}', {"Content-Type": "application/x-protobuf"}, 415, "json"),
        (b'{"type": "GET_HEALTH"}', {"Accept": "text/html"}, 406, "Accept"),
        (b'{"type": "RESERVE_RESOURCES"}', {}, 501, "RESERVE_RESOURCES"),
        (b'{"type": "DRAIN_AGENT"}', {}, 400, "Expecting 'drain_agent' to be present"),
        (
            b'{"type": "UPDATE_MAINTENANCE_SCHEDULE", "update_maintenance_schedule": {}}',
            {},
            400,
            "Expecting 'schedule' to be present",
        ),
        (
            b'{"type": "START_MAINTENANCE", "start_maintenance": {"machines": []}}',
            {},
            400,
            "List of machines is empty",
        ),
        (b'{"type": "DRAIN_AGENT", "drain_agent": {}}', {}, 400, "agent_id"),
        (
            b'{"type": "DRAIN_AGENT", "drain_agent": {"agent_id": {"value": "nope"}}}',
            {},
            400,
            "Unknown agent nope",
        ),
        (
            b'{"type": "DEACTIVATE_AGENT", "deactivate_agent": {"agent_id": {"value": "x"}}}',
            {},
            400,
            "Unknown agent x",
        ),
        (
            b'{"type": "TEARDOWN", "teardown": {"framework_id": {"value": "x"}}}',
            {},
            400,
            "No framework found",
        ),
    ],
)
def test_operator_api_refuses_bad_calls(shared_cluster, body, headers, code, says):
    status, answer = post(shared_cluster.address, "/api/v1", body, headers)
    assert status == code, answer
    assert says.encode() in answer


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/master/machine/down"),
        ("GET", "/master/machine/up"),
        ("POST", "/master/maintenance/status"),
        ("DELETE", "/master/maintenance/schedule"),
    ],
)
def test_maintenance_endpoints_check_the_method(shared_cluster, method, path):
    host, port = shared_cluster.address.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    connection.request(method, path, b"[]")
    response = connection.getresponse()
    assert response.status == 405 and response.getheader("Allow")
    connection.close()


def test_operator_api_needs_post_and_a_content_type(shared_cluster):
    host, port = shared_cluster.address.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    connection.request("GET", "/api/v1")
    assert connection.getresponse().status == 405
    connection.close()
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    connection.request("POST", "/api/v1", b'{"type": "GET_HEALTH"}')
    response = connection.getresponse()
    assert response.status == 400 and b"Content-Type" in response.read()
    connection.close()


# ---------------------------------------------------------------- maintenance


def test_schedule_down_and_up(two_hosts):
    address = two_hosts.address
    ids = agent_ids(address)
    assert get_json(address, "/master/maintenance/schedule") == {}
    assert post(address, "/master/maintenance/schedule", schedule(0)) == (200, b"")
    raw = RawScheduler(address, {"user": "root", "name": "maint"})
    try:
        assert get_json(address, "/master/maintenance/schedule") == schedule(0)
        assert get_json(address, "/master/maintenance/status") == {
            "draining_machines": [{"id": machine(0)}]
        }
        # Offers from the DRAINING machine carry its unavailability, the others none.
        offers = offers_by_host(raw, set(HOSTS))
        assert offers[HOSTS[0]]["unavailability"] == schedule(0)["windows"][0]["unavailability"]
        assert "unavailability" not in offers[HOSTS[1]]
        launch(raw, offers[HOSTS[0]], [command_task(offers[HOSTS[0]], "doomed", "sleep 1000")])
        collect(raw, ["doomed"], {"TASK_RUNNING"})

        # Bad requests: Mesos' 400s.
        for path, body, says in [
            ("/master/machine/down", [], "List of machines is empty"),
            ("/master/machine/down", [machine(0), machine(0)], "appears more than once"),
            ("/master/machine/down", [{"hostname": "", "ip": ""}], "Both 'hostname' and 'ip'"),
            ("/master/machine/down", [machine(1)], "is not part of a maintenance schedule"),
            ("/master/machine/down", {"hostname": "x"}, "JSON array"),
            ("/master/machine/up", [machine(0)], "is not in DOWN mode"),
            ("/master/machine/down", b"[{", "Failed to parse the request body as JSON"),
            ("/master/maintenance/schedule", b"{", "Failed to parse the request body as JSON"),
            ("/master/maintenance/schedule", {"windows": [{"machine_ids": []}]}, "is empty"),
            (
                "/master/maintenance/schedule",
                {"windows": [{"machine_ids": [machine(0)]}]},
                "'unavailability'",
            ),
        ]:
            status, answer = post(address, path, body)
            assert (status, says in answer.decode()) == (400, True), (path, body, answer)
        assert get_json(address, "/master/maintenance/schedule") == schedule(0)

        # DOWN: the agent is removed, its task LOST, and it may not come back.
        assert post(address, "/master/machine/down", [machine(0)]) == (200, b"")
        assert collect(raw, ["doomed"], {"TASK_LOST"}) == {"doomed": "TASK_LOST"}
        assert raw.next_event("FAILURE")["failure"]["agent_id"]["value"] == ids[HOSTS[0]]
        assert get_json(address, "/master/maintenance/status") == {"down_machines": [machine(0)]}
        assert HOSTS[0] not in agent_ids(address)
        status, answer = post(address, "/master/maintenance/schedule", schedule(1))
        assert status == 400 and b"cannot be removed from the schedule" in answer
        time.sleep(1.5)  # the agent retries (100 ms backoff factor) and is refused
        assert HOSTS[0] not in agent_ids(address)
        assert "DOWN for maintenance" in two_hosts.agents[0].output()

        # UP: out of the schedule, and the agent registers again (afresh).
        assert post(address, "/master/machine/up", [machine(0)]) == (200, b"")
        assert get_json(address, "/master/maintenance/schedule") == {}
        assert get_json(address, "/master/maintenance/status") == {}
        back = wait_for(lambda: agent_ids(address).get(HOSTS[0]), 30, "the agent to come back")
        assert back != ids[HOSTS[0]]
    finally:
        raw.close()


def test_maintenance_through_the_operator_api(two_hosts):
    address = two_hosts.address
    assert operator(address, "UPDATE_MAINTENANCE_SCHEDULE", {"schedule": schedule(1)}) == (200, b"")
    assert operator(address, "GET_MAINTENANCE_SCHEDULE")[1]["get_maintenance_schedule"] == {
        "schedule": schedule(1)
    }
    status, answer = operator(address, "STOP_MAINTENANCE", {"machines": [machine(1)]})
    assert status == 400 and b"not in DOWN mode" in answer
    assert operator(address, "START_MAINTENANCE", {"machines": [machine(1)]}) == (200, b"")
    assert operator(address, "GET_MAINTENANCE_STATUS")[1]["get_maintenance_status"] == {
        "status": {"down_machines": [machine(1)]}
    }
    wait_for(lambda: HOSTS[1] not in agent_ids(address), 10, "the agent to be removed")
    assert operator(address, "STOP_MAINTENANCE", {"machines": [machine(1)]}) == (200, b"")
    assert operator(address, "GET_MAINTENANCE_SCHEDULE")[1]["get_maintenance_schedule"] == {
        "schedule": {}
    }
    wait_for(lambda: HOSTS[1] in agent_ids(address), 30, "the agent to come back")


# ------------------------------------------------------------------- draining


def agent_entry(address: str, agent_id: str) -> dict:
    agents = operator(address, "GET_AGENTS")[1]["get_agents"]["agents"]
    return next(a for a in agents if a["agent_info"]["id"]["value"] == agent_id)


def test_drain_kills_the_tasks_and_reactivate_brings_offers_back(process_cluster):
    address = process_cluster.address
    raw = RawScheduler(address, {"user": "root", "name": "drained"})
    try:
        offer = raw.next_event("OFFERS")["offers"]["offers"][0]
        agent_id = offer["agent_id"]["value"]
        launch(raw, offer, [command_task(offer, "victim", "sleep 1000")])
        collect(raw, ["victim"], {"TASK_RUNNING"})

        drain = {"agent_id": {"value": agent_id}, "max_grace_period": {"nanoseconds": SECOND}}
        assert operator(address, "DRAIN_AGENT", drain) == (200, b"")
        update = raw.next_event("UPDATE")["update"]["status"]
        while update["state"] != "TASK_KILLED":
            assert update["state"] == "TASK_KILLING", update
            update = raw.next_event("UPDATE")["update"]["status"]
        assert update["reason"] == "REASON_AGENT_DRAINING"
        raw.call(
            "ACKNOWLEDGE",
            {"agent_id": update["agent_id"], "task_id": update["task_id"], "uuid": update["uuid"]},
        )
        entry = wait_for(
            lambda: (e := agent_entry(address, agent_id))["drain_info"]["state"] == "DRAINED" and e,
            15,
            "the agent to be DRAINED",
        )
        assert entry["deactivated"] is True and entry["active"] is False
        assert entry["drain_info"]["config"] == {
            "max_grace_period": {"nanoseconds": SECOND},
            "mark_gone": False,
        }
        slave = get_json(address, "/master/state")["slaves"][0]
        assert slave["deactivated"] is True and slave["drain_info"]["state"] == "DRAINED"
        assert no_offer_from(raw, agent_id, 1.5)

        status, answer = operator(address, "REACTIVATE_AGENT", {"agent_id": {"value": agent_id}})
        assert status == 200, answer
        assert not no_offer_from(raw, agent_id, 10)
        entry = agent_entry(address, agent_id)
        assert entry["deactivated"] is False and "drain_info" not in entry
        status, answer = operator(address, "REACTIVATE_AGENT", {"agent_id": {"value": agent_id}})
        assert status == 400 and b"is not deactivated" in answer
    finally:
        raw.close()


def test_deactivate_stops_offers_but_not_tasks(process_cluster):
    address = process_cluster.address
    raw = RawScheduler(address, {"user": "root", "name": "quiet"})
    try:
        offer = raw.next_event("OFFERS")["offers"]["offers"][0]
        agent_id = offer["agent_id"]["value"]
        launch(raw, offer, [command_task(offer, "stays", "sleep 1000")])
        collect(raw, ["stays"], {"TASK_RUNNING"})
        body = {"agent_id": {"value": agent_id}}
        assert operator(address, "DEACTIVATE_AGENT", body) == (200, b"")
        assert no_offer_from(raw, agent_id, 1.5)
        entry = agent_entry(address, agent_id)
        assert entry["deactivated"] is True and "drain_info" not in entry
        tasks = operator(address, "GET_TASKS")[1]["get_tasks"]["tasks"]
        assert [t["state"] for t in tasks] == ["TASK_RUNNING"]
        assert operator(address, "REACTIVATE_AGENT", body) == (200, b"")
        assert not no_offer_from(raw, agent_id, 10)
    finally:
        raw.close()


# ---------------------------------------------------------------- persistence


def test_maintenance_and_deactivation_survive_a_master_restart(tmp_path):
    cluster = start_cluster(
        tmp_path / "cluster", master_flags=[f"--work_dir={tmp_path / 'master'}"]
    )
    try:
        address = cluster.address
        ids = agent_ids(address)
        assert post(address, "/master/maintenance/schedule", schedule(0, 1)) == (200, b"")
        assert post(address, "/master/machine/down", [machine(1)]) == (200, b"")
        body = {"agent_id": {"value": ids[HOSTS[0]]}}
        assert operator(address, "DEACTIVATE_AGENT", body) == (200, b"")
        time.sleep(0.5)  # registry writes are batched (50 ms)

        cluster.restart_master()
        assert get_json(address, "/master/maintenance/schedule") == schedule(0, 1)
        assert get_json(address, "/master/maintenance/status") == {
            "draining_machines": [{"id": machine(0)}],
            "down_machines": [machine(1)],
        }
        wait_for(lambda: HOSTS[0] in agent_ids(address), 30, "the agent to re-register")
        assert agent_ids(address)[HOSTS[0]] == ids[HOSTS[0]]
        assert agent_entry(address, ids[HOSTS[0]])["deactivated"] is True
        time.sleep(1.0)  # the DOWN machine's agent keeps being refused by the new master
        assert HOSTS[1] not in agent_ids(address)
    except BaseException:
        print(cluster.logs())
        raise
    finally:
        cluster.stop()


@pytest.mark.skipif(missing_reason() is not None, reason=str(missing_reason()))
def test_maintenance_and_drains_survive_a_leader_failover(tmp_path):
    ensemble = Ensemble(tmp_path / "zk")
    ensemble.start()
    cluster = HACluster(tmp_path / "ha", ensemble, agents=0, session_timeout="4secs")
    try:
        ensemble.wait_serving()
        cluster.start()
        for index in range(2):
            cluster.start_agent(index, [f"--hostname={HOSTS[index]}"])
        cluster.wait_agents(2)
        leader = cluster.leader
        ids = agent_ids(leader)
        assert post(leader, "/master/maintenance/schedule", schedule(1)) == (200, b"")
        drain = {"agent_id": {"value": ids[HOSTS[0]]}}
        assert operator(leader, "DRAIN_AGENT", drain) == (200, b"")
        # A standby redirects operator calls to the leader.
        standby = next(a for a in cluster.addresses if a != leader)
        host, port = standby.split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        connection.request(
            "POST", "/api/v1", b'{"type": "GET_HEALTH"}', {"Content-Type": "application/json"}
        )
        response = connection.getresponse()
        assert response.status == 307
        assert response.getheader("Location") == f"//{leader}/api/v1"
        connection.close()
        status, _ = post(standby, "/master/machine/down", [machine(1)])
        assert status == 307
        time.sleep(0.5)  # registry writes are batched

        old = cluster.addresses.index(leader)
        cluster.kill_master(old)
        new = cluster.addresses[cluster.wait_leader(timeout=30, other_than=old)]
        assert get_json(new, "/master/maintenance/schedule") == schedule(1)
        wait_for(lambda: len(agent_ids(new)) == 2, 30, "both agents to re-register")
        entry = agent_entry(new, ids[HOSTS[0]])
        assert entry["deactivated"] is True and entry["drain_info"]["state"] == "DRAINED"
    except BaseException:
        print(cluster.logs())
        raise
    finally:
        cluster.stop()
        ensemble.stop()


def test_pymesos_operator_driver(two_hosts):
    """pymesos' own operator driver (it posts to /api/v1/operator, no Accept header)."""
    from pymesos import MesosOperatorMasterDriver

    driver = MesosOperatorMasterDriver(two_hosts.address)
    assert driver.getHealth() == {"type": "GET_HEALTH", "get_health": {"healthy": True}}
    agents = driver.getAgents()["get_agents"]["agents"]
    assert sorted(a["agent_info"]["hostname"] for a in agents) == list(HOSTS)
    driver.updateMaintenanceSchedule(schedule(1)["windows"])
    assert driver.getMaintenanceSchedule()["get_maintenance_schedule"]["schedule"] == schedule(1)
    driver.startMaintenance([machine(1)])
    status = driver.getMaintenanceStatus()["get_maintenance_status"]["status"]
    assert status == {"down_machines": [machine(1)]}
    driver.stopMaintenance([machine(1)])
    assert driver.getMaintenanceStatus()["get_maintenance_status"]["status"] == {}
