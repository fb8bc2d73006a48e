"""Weights and quota: validation, the allocator's limits and guarantees, the master's books."""

from __future__ import annotations

import collections

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twisted.internet.task import Clock

from mesos_py.allocator import AllocatorError, DRFAllocator
from mesos_py.allocator.quota import Quota, cap, required_headroom, role_caps, unmet_guarantee
from mesos_py.common.resources import Resources
from mesos_py.master import registry as reg
from mesos_py.master.master import Master, MasterConfig
from mesos_py.master.model import CallRefused
from mesos_py.master.quota import (
    QuotaConfig,
    overcommit_error,
    parse_quota_configs,
    parse_quota_request,
    parse_weight_infos,
    quota_status_json,
)
from mesos_py.master.registrar import MemoryStore, Registrar
from tests.unit.test_master_books import MemoryStream

P = Resources.parse


def scalar(value: float) -> dict:
    return {"value": value}


# -- weight infos ---------------------------------------------------------------


def test_weight_infos_are_read():
    infos = [{"role": "eng", "weight": 2}, {"role": "a/b", "weight": 0.5}]
    assert parse_weight_infos(infos) == (("eng", 2.0), ("a/b", 0.5))


@pytest.mark.parametrize(
    ("infos", "says"),
    [
        ({"role": "eng", "weight": 2}, "JSON array"),
        (["eng"], "JSON object"),
        ([{"weight": 2}], "'role'"),
        ([{"role": "-x", "weight": 2}], "Invalid role '-x'"),
        ([{"role": "a b", "weight": 2}], "Invalid role 'a b'"),
        ([{"role": "eng"}], "number"),
        ([{"role": "eng", "weight": "2"}], "number"),
        ([{"role": "eng", "weight": True}], "number"),
        ([{"role": "eng", "weight": 0}], "must be positive"),
        ([{"role": "eng", "weight": -1.5}], "must be positive"),
        ([{"role": "eng", "weight": float("inf")}], "must be positive"),
        ([{"role": "eng", "weight": float("nan")}], "must be positive"),
    ],
)
def test_bad_weight_infos_are_refused(infos, says):
    with pytest.raises(ValueError, match=says):
        parse_weight_infos(infos)


# -- quota configs --------------------------------------------------------------


def test_quota_config_round_trip():
    body = {
        "role": "dev",
        "guarantees": {"cpus": scalar(1.5)},
        "limits": {"cpus": scalar(4), "mem": scalar(1024)},
    }
    (config,) = parse_quota_configs([body])
    assert config == QuotaConfig("dev", {"cpus": 1500}, {"cpus": 4000, "mem": 1024000})
    assert config.to_json() == {
        "role": "dev",
        "guarantees": {"cpus": {"value": 1.5}},
        "limits": {"cpus": {"value": 4.0}, "mem": {"value": 1024.0}},
    }
    assert QuotaConfig.from_json(config.to_json()) == config
    assert not config.is_default
    assert QuotaConfig.from_json({"role": "dev"}).is_default


@pytest.mark.parametrize(
    ("configs", "says"),
    [
        ({"role": "dev"}, "JSON array"),
        ([{"guarantees": {}}], "'role'"),
        ([{"role": "*"}], "default role"),
        ([{"role": "a/b"}], "nested role"),
        ([{"role": "-dev"}], "invalid role"),
        ([{"role": "dev", "limits": {"ports": scalar(10)}}], "scalar resources, not 'ports'"),
        ([{"role": "dev", "limits": {"cpus": 2}}], "value"),
        ([{"role": "dev", "limits": {"cpus": scalar(-1)}}], ">= 0"),
        ([{"role": "dev", "limits": {"cpus": scalar(float("inf"))}}], ">= 0"),
        ([{"role": "dev", "guarantees": []}], "must map"),
        (
            [{"role": "dev", "guarantees": {"cpus": scalar(3)}, "limits": {"cpus": scalar(2)}}],
            "guarantee of 3 cpus above its limit of 2",
        ),
        ([{"role": "dev"}, {"role": "dev"}], "more than once"),
    ],
)
def test_bad_quota_configs_are_refused(configs, says):
    with pytest.raises(ValueError, match=says):
        parse_quota_configs(configs)


def test_names_an_agent_advertises_as_ranges_are_refused():
    with pytest.raises(ValueError, match="'vlans'"):
        parse_quota_configs([{"role": "dev", "limits": {"vlans": scalar(1)}}], {"vlans"})


def test_quota_request_sets_guarantee_and_limit():
    body = {
        "role": "ops",
        "force": True,
        "guarantee": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 2}}],
    }
    config, force = parse_quota_request(body)
    assert force is True
    assert config == QuotaConfig("ops", {"cpus": 2000}, {"cpus": 2000})


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"guarantee": []}, "'role'"),
        ({"role": "ops", "guarantee": []}, "empty"),
        ({"role": "ops", "force": "yes", "guarantee": []}, "boolean"),
        ({"role": "ops", "guarantee": [{"name": "ports", "type": "RANGES"}]}, "scalar"),
        (
            {
                "role": "ops",
                "guarantee": [
                    {"name": "cpus", "scalar": {"value": 1}},
                    {"name": "cpus", "scalar": {"value": 2}},
                ],
            },
            "more than once",
        ),
    ],
)
def test_bad_quota_requests_are_refused(body, says):
    with pytest.raises(ValueError, match=says):
        parse_quota_request(body)


def test_overcommit_counts_every_guarantee_against_capacity():
    quotas = [QuotaConfig("a", {"cpus": 2000}), QuotaConfig("b", {"cpus": 1500, "mem": 10})]
    assert overcommit_error(quotas, {"cpus": 4000, "mem": 64000}) is None
    error = overcommit_error(quotas, {"cpus": 3000, "mem": 64000})
    assert error == (
        "total quota guarantees 'cpus:3.5; mem:0.01' exceed cluster capacity 'cpus:3; mem:64'"
    )
    assert overcommit_error([QuotaConfig("a", {"gpus": 1000})], {"cpus": 1000}) is not None


def test_quota_status_has_the_deprecated_infos_and_the_configs():
    status = quota_status_json(
        [QuotaConfig("b", {}, {"mem": 512000}), QuotaConfig("a", {"cpus": 1000}, {})]
    )
    assert status == {
        "infos": [
            {
                "role": "a",
                "guarantee": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 1.0}}],
            },
            {"role": "b", "guarantee": []},
        ],
        "configs": [
            {"role": "a", "guarantees": {"cpus": {"value": 1.0}}},
            {"role": "b", "limits": {"mem": {"value": 512.0}}},
        ],
    }


# -- quota arithmetic -------------------------------------------------------------


def test_caps_follow_limits_and_headroom():
    quota = Quota(guarantees={"cpus": 2000}, limits={"cpus": 3000, "mem": 100})
    consumed = {"cpus": 500, "mem": 40}
    unmet = unmet_guarantee(quota, consumed)
    assert unmet == {"cpus": 1500}
    required = required_headroom([unmet, {"cpus": 1000, "gpus": 1000}])
    assert required == {"cpus": 2500, "gpus": 1000}
    available = {"cpus": 3000, "mem": 4000}
    # cpus: its own 1.5 plus 0.5 spare, and the limit leaves 2.5; mem: 60 below the limit.
    assert role_caps(quota, consumed, unmet, available, required) == {
        "cpus": 2000,
        "mem": 60,
        "gpus": 0,
    }
    # In the first stage a guaranteed name only goes up to the guarantee.
    assert role_caps(quota, consumed, unmet, available, required, first_stage=True) == {
        "cpus": 1500,
        "mem": 60,
        "gpus": 0,
    }
    # A role without quota only gets what the headroom leaves spare.
    assert role_caps(None, {}, {}, available, required) == {"cpus": 500, "gpus": 0}
    assert role_caps(None, {}, {}, available, {}) == {}


def test_cap_cuts_scalars_only():
    free = P("cpus:4;mem:1024;ports:[31000-31009]")
    assert cap(free, {"cpus": 1500, "mem": 2000000}) == P("cpus:1.5;mem:1024;ports:[31000-31009]")
    assert cap(free, {"gpus": 0}) is free


# -- the allocator ----------------------------------------------------------------


def test_a_limit_caps_what_a_role_is_offered():
    alloc = DRFAllocator(seed=1)
    alloc.set_quota("dev", limits={"cpus": 3})
    alloc.add_framework("f", ["dev"])
    alloc.add_agent("a1", P("cpus:2;mem:1024"))
    alloc.add_agent("a2", P("cpus:2;mem:1024"))
    offers = alloc.allocate(0)
    assert sum(o.resources.scalar("cpus") for o in offers) == 3
    assert sum(o.resources.scalar("mem") for o in offers) == 2048  # mem is not limited
    assert alloc.consumed("dev") == {"cpus": 3.0, "mem": 2048.0}
    assert alloc.allocate(1) == []  # at its limit: nothing more, even after a round
    # Resources that come back may be offered again, still within the limit.
    first = offers[0]
    alloc.recover("f", first.agent_id, first.resources, now=1)
    again = alloc.allocate(2)
    assert sum(o.resources.scalar("cpus") for o in again) == first.resources.scalar("cpus")


def test_a_limit_below_consumption_offers_none_of_that_resource():
    alloc = DRFAllocator(seed=1)
    alloc.add_framework("f", ["dev"])
    alloc.add_agent("a1", P("cpus:4;mem:1024"), allocated={"f": P("cpus:3;mem:32")})
    alloc.set_quota("dev", limits={"cpus": 2})
    (offer,) = alloc.allocate(0)
    assert offer.resources.unallocated() == P("mem:992")


def test_removing_a_quota_lifts_the_limit():
    alloc = DRFAllocator(seed=1)
    alloc.set_quota("dev", limits={"cpus": 1})
    alloc.add_framework("f", ["dev"])
    alloc.add_agent("a1", P("cpus:4;mem:1024"))
    (offer,) = alloc.allocate(0)
    assert offer.resources.scalar("cpus") == 1
    alloc.set_quota("dev")
    (more,) = alloc.allocate(1)
    assert more.resources.unallocated() == P("cpus:3")


def test_headroom_keeps_unmet_guarantees_from_other_roles():
    """`prod` is guaranteed 4 cpus and has no framework yet: `dev` may not take them."""
    alloc = DRFAllocator(seed=2)
    alloc.set_quota("prod", guarantees={"cpus": 4})
    alloc.add_framework("greedy", ["dev"])
    for i in range(3):
        alloc.add_agent(f"a{i}", P("cpus:2;mem:512"))
    offers = alloc.allocate(0)
    assert sum(o.resources.scalar("cpus") for o in offers) == 2
    assert sum(o.resources.scalar("mem") for o in offers) == 1536
    assert alloc.allocate(1) == []
    # The guaranteed role arrives and gets its 4 cpus at once.
    alloc.add_framework("prod-fw", ["prod"])
    prod = alloc.allocate(2)
    assert {o.framework_id for o in prod} == {"prod-fw"}
    assert sum(o.resources.scalar("cpus") for o in prod) == 4


def test_roles_short_of_their_guarantee_are_served_first():
    """`dev` weighs much more, but `prod` below its guarantee still goes first."""
    alloc = DRFAllocator(seed=3)
    alloc.set_weights({"dev": 100.0})
    alloc.set_quota("prod", guarantees={"cpus": 1})
    alloc.add_framework("d", ["dev"])
    alloc.add_framework("p", ["prod"])
    alloc.add_agent("a", P("cpus:4;mem:1024"))
    offers = {o.framework_id: o.resources.unallocated() for o in alloc.allocate(0)}
    assert offers["p"].scalar("cpus") >= 1
    assert offers["p"].scalar("cpus") + offers["d"].scalar("cpus") == 4
    assert alloc.consumed("prod")["cpus"] >= 1


def test_the_first_stage_only_visits_agents_with_what_a_role_misses():
    """`prod` misses a gpu: it takes the gpu agent first, not the cpu-only one."""
    alloc = DRFAllocator(seed=5)
    alloc.set_quota("prod", guarantees={"gpus": 1})
    alloc.add_framework("p", ["prod"], gpu_aware=True)
    alloc.add_framework("d", ["dev"])
    alloc.add_agent("cpu-only", P("cpus:4;mem:1024"))
    alloc.add_agent("gpu", P("gpus:1;cpus:1;mem:1024"))
    offers = {(o.framework_id, o.agent_id) for o in alloc.allocate(0)}
    assert offers == {("p", "gpu"), ("d", "cpu-only")}


def test_a_met_guarantee_sets_nothing_aside():
    alloc = DRFAllocator(seed=4)
    alloc.set_quota("prod", guarantees={"cpus": 1})
    alloc.add_framework("p", ["prod"])
    alloc.add_agent("a1", P("cpus:1;mem:256"))
    (first,) = alloc.allocate(0)
    assert first.framework_id == "p"
    alloc.add_framework("d", ["dev"])
    alloc.add_agent("a2", P("cpus:2;mem:256"))
    offers = collections.Counter()
    for o in alloc.allocate(1):
        offers[o.framework_id] += o.resources.scalar("cpus")
    assert offers == {"d": 2}  # the lowest share, as without quota


def test_reservations_are_offered_beyond_the_limit():
    alloc = DRFAllocator(seed=1)
    alloc.set_quota("dev", limits={"cpus": 0})
    alloc.add_framework("f", ["dev"])
    alloc.add_agent("a", P("cpus:2;mem:256;cpus(dev):1"))
    (offer,) = alloc.allocate(0)
    assert offer.resources.unallocated() == P("mem:256;cpus(dev):1")


def test_one_offer_per_framework_agent_and_role():
    """Stage one and stage two may both give to a role: its pieces make one offer."""
    alloc = DRFAllocator(seed=1)
    alloc.set_quota("prod", guarantees={"cpus": 1})
    alloc.add_framework("p", ["prod"])
    alloc.add_agent("a", P("cpus:4;mem:1024"))
    (offer,) = alloc.allocate(0)
    assert offer.resources.unallocated() == P("cpus:4;mem:1024")


def test_refused_resources_stay_refused_under_quota():
    alloc = DRFAllocator(seed=1)
    alloc.set_quota("dev", limits={"cpus": 1})
    alloc.add_framework("f", ["dev"])
    alloc.add_agent("a", P("cpus:4;mem:1024"))
    (offer,) = alloc.allocate(0)
    alloc.recover("f", "a", offer.resources, now=0, refuse_seconds=10)
    assert alloc.allocate(1) == []
    assert alloc.allocate(11) != []


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        ({"limits": {"cpus": -1}}, ">= 0"),
        ({"guarantees": {"cpus": float("nan")}}, ">= 0"),
        ({"guarantees": {"cpus": 2}, "limits": {"cpus": 1}}, "above its limit"),
    ],
)
def test_bad_allocator_quotas_are_rejected(kwargs, says):
    with pytest.raises(AllocatorError, match=says):
        DRFAllocator().set_quota("r", **kwargs)
    with pytest.raises(AllocatorError):
        DRFAllocator().set_quota("*", limits={"cpus": 1})


# -- the master's books -------------------------------------------------------------


def new_master(recovered: reg.Registry | None = None, weights=()):
    clock = Clock()
    store = MemoryStore()
    master = Master(MasterConfig(weights=weights), clock, {}, Registrar(store, lambda reason: None))
    master.recover(recovered or reg.Registry())
    master.start()
    return master, clock, store


def add_agent(master, clock, resources="cpus:4;mem:1024"):
    link = MemoryStream("link")
    master.register_agent(
        {"agent_info": {"hostname": "h", "resources": P(resources).to_json()}}, link
    )
    clock.advance(0)


def subscribe(master, clock, role):
    stream = MemoryStream("fw")
    info = {"user": "u", "name": "n", "roles": [role], "capabilities": [{"type": "MULTI_ROLE"}]}
    master.subscribe({"type": "SUBSCRIBE", "subscribe": {"framework_info": info}}, stream)
    clock.advance(0)
    return stream


def stored(store) -> reg.Registry:
    return reg.decode(store.data)


def test_weights_flag_seeds_an_empty_registry():
    master, clock, store = new_master(weights=(("a", 2.0),))
    clock.advance(1)
    assert stored(store).weights == {"a": 2.0}
    assert master.role_settings.weights == {"a": 2.0}


def test_registry_weights_win_over_the_flag():
    master, clock, store = new_master(reg.Registry(weights={"a": 3.0}), weights=(("a", 2.0),))
    clock.advance(1)
    assert master.role_settings.weights == {"a": 3.0}
    assert stored(store).weights == {}  # the flag is not written over the registry's


def test_updated_weights_are_stored_and_kept():
    master, clock, store = new_master()
    master.role_settings.update_weights([{"role": "eng", "weight": 2.5}])
    clock.advance(1)
    assert stored(store).weights == {"eng": 2.5}
    with pytest.raises(CallRefused) as refused:
        master.role_settings.update_weights([{"role": "eng", "weight": 0}])
    assert refused.value.code == 400
    assert master.role_settings.weights == {"eng": 2.5}


def test_quota_update_is_checked_against_capacity_unless_forced():
    master, clock, store = new_master()
    add_agent(master, clock, "cpus:4;mem:1024")
    too_much = {"quota_configs": [{"role": "dev", "guarantees": {"cpus": scalar(5)}}]}
    with pytest.raises(CallRefused) as refused:
        master.role_settings.update_quota(too_much)
    assert refused.value.code == 400
    assert "exceed cluster capacity" in refused.value.message
    assert "force" in refused.value.message
    assert master.role_settings.quotas == {}
    master.role_settings.update_quota({**too_much, "force": True})
    clock.advance(1)
    assert stored(store).quotas == {"dev": {"role": "dev", "guarantees": {"cpus": {"value": 5.0}}}}


def test_all_or_nothing():
    master, clock, store = new_master()
    body = {
        "quota_configs": [
            {"role": "ok", "limits": {"cpus": scalar(1)}},
            {"role": "bad", "limits": {"ports": scalar(1)}},
        ]
    }
    with pytest.raises(CallRefused):
        master.role_settings.update_quota(body)
    clock.advance(1)
    assert master.role_settings.quotas == {}
    assert stored(store).quotas == {}


def test_a_new_limit_rescinds_the_roles_offers_and_reoffers_within_it():
    master, clock, _ = new_master()
    add_agent(master, clock, "cpus:4;mem:1024")
    stream = subscribe(master, clock, "dev")
    (offer,) = stream.of_type("OFFERS")[-1]["offers"]["offers"]
    master.role_settings.update_quota(
        {"quota_configs": [{"role": "dev", "limits": {"cpus": scalar(1)}}]}
    )
    clock.advance(0)
    assert stream.of_type("RESCIND")[-1]["rescind"]["offer_id"] == offer["id"]
    (again,) = stream.of_type("OFFERS")[-1]["offers"]["offers"]
    cpus = [r for r in again["resources"] if r["name"] == "cpus"]
    assert cpus[0]["scalar"]["value"] == 1
    (entry,) = master.role_settings.roles_json()["roles"]
    assert entry["name"] == "dev" and entry["weight"] == 1.0
    assert entry["frameworks"] == list(master.frameworks)
    assert entry["quota"] == {
        "role": "dev",
        "guarantee": {},
        "limit": {"cpus": 1.0},
        "consumed": {"cpus": 1.0, "mem": 1024.0},
    }
    assert (entry["offered"]["cpus"], entry["allocated"]["cpus"]) == (1, 0)
    assert entry["resources"] == entry["offered"]


def test_quotas_are_recovered_by_a_new_leader():
    config = {"role": "dev", "limits": {"cpus": {"value": 1.0}}}
    master, clock, _ = new_master(reg.Registry(quotas={"dev": config, "bad": {"role": 3}}))
    assert list(master.role_settings.quotas) == ["dev"]
    add_agent(master, clock)
    stream = subscribe(master, clock, "dev")
    (offer,) = stream.of_type("OFFERS")[-1]["offers"]["offers"]
    assert Resources.from_json(offer["resources"]).scalar("cpus") == 1


def test_legacy_set_and_remove_quota():
    master, clock, store = new_master()
    add_agent(master, clock, "cpus:4;mem:1024")
    request = {"role": "ops", "guarantee": [{"name": "cpus", "scalar": {"value": 2}}]}
    master.role_settings.set_quota(request)
    with pytest.raises(CallRefused, match="already has quota") as again:
        master.role_settings.set_quota(request)
    assert again.value.code == 400
    with pytest.raises(CallRefused) as conflict:
        master.role_settings.set_quota(
            {"role": "big", "guarantee": [{"name": "cpus", "scalar": {"value": 3}}]}
        )
    assert conflict.value.code == 409
    master.role_settings.remove_quota("ops")
    with pytest.raises(CallRefused, match="has no quota set"):
        master.role_settings.remove_quota("ops")
    clock.advance(1)
    assert stored(store).quotas == {}


# -- properties -------------------------------------------------------------------

ROLES = ("r0", "r1", "r2")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    agents=st.lists(st.tuples(st.integers(1, 8), st.integers(64, 2048)), min_size=1, max_size=5),
    limits=st.dictionaries(st.sampled_from(ROLES), st.integers(0, 12)),
    guarantees=st.dictionaries(st.sampled_from(("g0", "g1")), st.integers(1, 12)),
    subscribed=st.lists(st.sampled_from(ROLES), min_size=1, max_size=4),
    returns=st.lists(st.booleans(), min_size=1, max_size=6),
    seed=st.integers(0, 2**16),
)
def test_limits_and_headroom_hold_in_every_round(
    agents, limits, guarantees, subscribed, returns, seed
):
    """Limits are never crossed by an offer; guarantees of roles without frameworks
    keep their headroom free of everyone else's offers."""
    alloc = DRFAllocator(seed=seed)
    for role, limit in limits.items():
        alloc.set_quota(role, limits={"cpus": limit})
    for role, guarantee in guarantees.items():
        alloc.set_quota(role, guarantees={"cpus": guarantee})
    for i, role in enumerate(subscribed):
        alloc.add_framework(f"f{i}", [role])
    for i, (cpus, mem) in enumerate(agents):
        alloc.add_agent(f"a{i}", P(f"cpus:{cpus};mem:{mem}"))
    total = sum(cpus for cpus, _mem in agents)
    required = sum(guarantees.values())
    held: list = []
    for now, give_back in enumerate(returns):
        before = {r: alloc.consumed(r).get("cpus", 0.0) for r in ROLES}
        offers = alloc.allocate(float(now))
        held += offers
        for role in ROLES:
            after = alloc.consumed(role).get("cpus", 0.0)
            if role in limits:
                assert after <= max(limits[role], before[role])
        free = total - sum(alloc.consumed(r).get("cpus", 0.0) for r in ROLES)
        free_before = total - sum(before.values())
        assert free >= min(required, free_before)
        if give_back and held:
            o = held.pop(0)
            alloc.recover(o.framework_id, o.agent_id, o.resources, now=float(now))
