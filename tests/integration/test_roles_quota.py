"""Role weights and quota through the real operator API of a real master.

A master and agents on loopback (``harness.Cluster``), raw v1 schedulers
watching what they are offered, and for persistence a ZooKeeper-backed leader
killed so that another master takes over from the registry.
"""

from __future__ import annotations

import http.client
import json
import time

import pytest

from tests.integration.ha_cluster import running_ha_cluster
from tests.integration.harness import RawScheduler, get_json, running_cluster, wait_for
from tests.integration.test_maintenance import operator
from tests.integration.zookeeper import Ensemble, missing_reason

pytestmark = pytest.mark.integration

# Each agent of the harness has cpus:4;mem:4096;disk:4096;ports:[31000-32000].
DEV_LIMIT = {"role": "dev", "limits": {"cpus": {"value": 2}}}


def send(address: str, method: str, path: str, body=None) -> tuple[int, bytes]:
    host, port = address.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    data = None if body is None else json.dumps(body).encode()
    try:
        connection.request(method, path, data, {"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def weights(address: str) -> list[dict]:
    status, answer = operator(address, "GET_WEIGHTS")
    assert status == 200, answer
    assert answer["type"] == "GET_WEIGHTS"
    return answer["get_weights"]["weight_infos"]


def quota_status(address: str) -> dict:
    status, answer = operator(address, "GET_QUOTA")
    assert status == 200, answer
    return answer["get_quota"]["status"]


def role_framework(address: str, role: str, name: str) -> RawScheduler:
    info = {
        "user": "root",
        "name": name,
        "roles": [role],
        "capabilities": [{"type": "MULTI_ROLE"}],
    }
    return RawScheduler(address, info)


def offered(raw: RawScheduler, seconds: float) -> list[dict]:
    """Every offer made within ``seconds``; none is answered, so all stay outstanding."""
    offers: list[dict] = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            offers += raw.next_event("OFFERS", timeout=left)["offers"]["offers"]
        except TimeoutError:
            break
    return offers


def cpus(offers: list[dict]) -> float:
    return sum(r["scalar"]["value"] for o in offers for r in o["resources"] if r["name"] == "cpus")


@pytest.fixture
def cluster(tmp_path):
    with running_cluster(
        tmp_path / "cluster", "processes", agents=2, master_flags=["--weights=ops=3"]
    ) as running:
        yield running


@pytest.fixture(scope="module")
def shared_cluster(tmp_path_factory):
    """One cluster for the calls it must refuse: none may change it."""
    with running_cluster(
        tmp_path_factory.mktemp("refusals") / "cluster",
        "processes",
        agents=2,
        master_flags=["--weights=ops=3"],
    ) as running:
        yield running


def test_weights_through_the_operator_api_and_the_legacy_endpoint(cluster):
    address = cluster.address
    assert weights(address) == [{"role": "ops", "weight": 3.0}]
    update = {"weight_infos": [{"role": "eng", "weight": 2.5}, {"role": "ops", "weight": 1.5}]}
    assert operator(address, "UPDATE_WEIGHTS", update) == (200, b"")
    expected = [{"role": "eng", "weight": 2.5}, {"role": "ops", "weight": 1.5}]
    assert weights(address) == expected
    assert get_json(address, "/weights") == expected
    assert get_json(address, "/master/weights") == expected

    assert send(address, "PUT", "/weights", [{"role": "eng", "weight": 4}]) == (200, b"")
    assert weights(address)[0] == {"role": "eng", "weight": 4.0}
    status, message = send(address, "PUT", "/master/weights", [{"role": "eng", "weight": -1}])
    assert status == 400 and b"must be positive" in message
    status, _ = send(address, "POST", "/weights", [])
    assert status == 405
    assert weights(address)[0] == {"role": "eng", "weight": 4.0}


def test_a_quota_limit_caps_the_offers_and_leaves_the_rest_to_others(cluster):
    address = cluster.address
    assert operator(address, "UPDATE_QUOTA", {"quota_configs": [DEV_LIMIT]}) == (200, b"")
    assert quota_status(address) == {
        "infos": [{"role": "dev", "guarantee": []}],
        "configs": [{"role": "dev", "limits": {"cpus": {"value": 2.0}}}],
    }
    dev = role_framework(address, "dev", "dev")
    try:
        offers = offered(dev, 1.5)
        assert cpus(offers) == 2.0
        # Declined resources come back and are offered again, still within the limit.
        ids = [o["id"] for o in offers]
        assert dev.call("DECLINE", {"offer_ids": ids, "filters": {"refuse_seconds": 0}})[0] == 202
        again = offered(dev, 1.5)
        assert 0 < cpus(again) <= 2.0
        # The cpus the limit keeps from `dev` go to another role.
        other = role_framework(address, "web", "web")
        try:
            assert cpus(offered(other, 1.5)) == 8.0 - cpus(again)
            roles = {r["name"]: r for r in get_json(address, "/master/roles")["roles"]}
            assert set(roles) == {"dev", "ops", "web"}  # ops: its --weights
            assert roles["dev"]["quota"]["limit"] == {"cpus": 2.0}
            assert roles["dev"]["quota"]["consumed"]["cpus"] == cpus(again)
            assert roles["dev"]["offered"]["cpus"] == cpus(again)
            assert roles["web"]["frameworks"] == [other.framework_id]
        finally:
            other.close()
        # Raising the limit rescinds dev's offers and offers it more.
        bigger = {"role": "dev", "limits": {"cpus": {"value": 5}}}
        assert operator(address, "UPDATE_QUOTA", {"quota_configs": [bigger]}) == (200, b"")
        dev.next_event("RESCIND", timeout=5)
        seen: list[dict] = []

        def more_than_before() -> bool:
            seen.extend(offered(dev, 0.5))
            return 2.0 < cpus(seen) <= 5.0

        wait_for(more_than_before, 10, "more cpus for dev, within the new limit")
    finally:
        dev.close()


def test_guarantees_are_checked_against_capacity_unless_forced(cluster):
    address = cluster.address
    huge = {"role": "big", "guarantees": {"cpus": {"value": 9}}}
    status, message = operator(address, "UPDATE_QUOTA", {"quota_configs": [huge]})
    assert status == 400
    assert b"exceed cluster capacity" in message and b"force" in message
    assert quota_status(address) == {"infos": [], "configs": []}
    forced = {"quota_configs": [huge], "force": True}
    assert operator(address, "UPDATE_QUOTA", forced) == (200, b"")
    assert quota_status(address)["configs"] == [
        {"role": "big", "guarantees": {"cpus": {"value": 9.0}}}
    ]
    # A default config (no guarantee, no limit) removes the quota.
    assert operator(address, "UPDATE_QUOTA", {"quota_configs": [{"role": "big"}]}) == (200, b"")
    assert quota_status(address) == {"infos": [], "configs": []}


def test_the_deprecated_quota_calls_and_endpoint(cluster):
    address = cluster.address
    request = {
        "role": "ops",
        "guarantee": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 1}}],
    }
    assert operator(address, "SET_QUOTA", {"quota_request": request}) == (200, b"")
    one_cpu = {"cpus": {"value": 1.0}}
    expected = {
        "infos": [
            {
                "role": "ops",
                "guarantee": [{"name": "cpus", "type": "SCALAR", "scalar": one_cpu["cpus"]}],
            }
        ],
        "configs": [{"role": "ops", "guarantees": one_cpu, "limits": one_cpu}],
    }
    assert get_json(address, "/quota") == expected
    assert get_json(address, "/master/quota") == expected
    status, message = send(address, "POST", "/quota", request)
    assert status == 400 and b"already has quota" in message
    too_much = {"role": "qa", "guarantee": [{"name": "mem", "scalar": {"value": 10000}}]}
    status, message = send(address, "POST", "/master/quota", too_much)
    assert status == 409 and b"overcommit" in message
    assert operator(address, "REMOVE_QUOTA", {"role": "ops"}) == (200, b"")
    assert send(address, "POST", "/quota", {**too_much, "force": True}) == (200, b"")
    assert send(address, "DELETE", "/quota/qa") == (200, b"")
    status, message = send(address, "DELETE", "/master/quota/qa")
    assert status == 400 and b"has no quota set" in message
    assert get_json(address, "/quota") == {"infos": [], "configs": []}


@pytest.mark.parametrize(
    ("call_type", "body", "says"),
    [
        ("UPDATE_WEIGHTS", None, "Expecting 'update_weights'"),
        ("UPDATE_WEIGHTS", {"weight_infos": [{"role": "x", "weight": 0}]}, "must be positive"),
        ("UPDATE_WEIGHTS", {"weight_infos": [{"role": "..", "weight": 1}]}, "Invalid role"),
        ("UPDATE_WEIGHTS", {"weight_infos": {"role": "x"}}, "JSON array"),
        ("UPDATE_QUOTA", {"quota_configs": [{"role": "*"}]}, "default role"),
        (
            "UPDATE_QUOTA",
            {"quota_configs": [{"role": "dev", "limits": {"ports": {"value": 5}}}]},
            "scalar resources, not 'ports'",
        ),
        (
            "UPDATE_QUOTA",
            {
                "quota_configs": [
                    DEV_LIMIT,
                    {
                        "role": "qa",
                        "guarantees": {"cpus": {"value": 3}},
                        "limits": {"cpus": {"value": 1}},
                    },
                ]
            },
            "above its limit",
        ),
        ("UPDATE_QUOTA", {"quota_configs": [DEV_LIMIT], "force": "yes"}, "boolean"),
        ("SET_QUOTA", {"quota_request": {"role": "dev", "guarantee": []}}, "empty"),
        ("REMOVE_QUOTA", {"role": "nobody"}, "has no quota set"),
    ],
)
def test_malformed_calls_are_refused_and_change_nothing(shared_cluster, call_type, body, says):
    address = shared_cluster.address
    status, message = operator(address, call_type, body)
    assert status == 400, message
    assert says.encode() in message
    assert weights(address) == [{"role": "ops", "weight": 3.0}]
    assert quota_status(address) == {"infos": [], "configs": []}


def test_weights_and_quota_survive_a_master_restart(tmp_path):
    """Standalone master with a --work_dir: weights and quota come back from its file registry."""
    master_dir = tmp_path / "master"
    with running_cluster(
        tmp_path / "cluster", "processes", agents=1, master_flags=[f"--work_dir={master_dir}"]
    ) as cluster:
        address = cluster.address
        update = {"weight_infos": [{"role": "eng", "weight": 2.0}]}
        assert operator(address, "UPDATE_WEIGHTS", update) == (200, b"")
        assert operator(address, "UPDATE_QUOTA", {"quota_configs": [DEV_LIMIT]}) == (200, b"")
        time.sleep(0.5)  # registry writes are batched
        cluster.restart_master()
        assert weights(address) == [{"role": "eng", "weight": 2.0}]
        assert quota_status(address)["configs"] == [
            {"role": "dev", "limits": {"cpus": {"value": 2.0}}}
        ]


@pytest.mark.skipif(missing_reason() is not None, reason=str(missing_reason()))
def test_weights_and_quota_survive_a_leader_failover(tmp_path):
    ensemble = Ensemble(tmp_path / "zk")
    ensemble.start()
    try:
        ensemble.wait_serving()
        with running_ha_cluster(
            tmp_path / "ha", ensemble, agents=2, master_flags=["--weights=ops=3"]
        ) as cluster:
            leader = cluster.leader
            assert weights(leader) == [{"role": "ops", "weight": 3.0}]  # seeded by the flag
            infos = [{"role": "eng", "weight": 2.0}, {"role": "ops", "weight": 1.0}]
            assert operator(leader, "UPDATE_WEIGHTS", {"weight_infos": infos}) == (200, b"")
            assert operator(leader, "UPDATE_QUOTA", {"quota_configs": [DEV_LIMIT]}) == (200, b"")
            # A standby sends operator calls to the leader.
            standby = next(a for a in cluster.addresses if a != leader)
            assert operator(standby, "GET_QUOTA")[0] == 307
            time.sleep(0.5)  # registry writes are batched

            old = cluster.addresses.index(leader)
            cluster.kill_master(old)
            new = cluster.addresses[cluster.wait_leader(timeout=30, other_than=old)]
            # The registry's weights win over the new leader's --weights flag.
            assert weights(new) == infos
            assert quota_status(new)["configs"] == [
                {"role": "dev", "limits": {"cpus": {"value": 2.0}}}
            ]
            wait_for(
                lambda: len(get_json(new, "/master/state")["slaves"]) == 2,
                30,
                "both agents to re-register",
            )
            dev = role_framework(new, "dev", "dev")
            try:
                assert cpus(offered(dev, 1.5)) == 2.0
            finally:
                dev.close()
    finally:
        ensemble.stop()
