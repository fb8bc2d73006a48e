"""DRF allocator: semantics table by table, then against a from-scratch model."""

from __future__ import annotations

import collections
import random
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mesos_py.allocator import (
    DEFAULT_REFUSE_SECONDS,
    MAX_REFUSE_SECONDS,
    Allocation,
    AllocatorError,
    DRFAllocator,
    effective_refuse_seconds,
    parse_min_allocatable,
)
from mesos_py.common.resources import ResourceError, Resources

P = Resources.parse


def offers_by_framework(allocations: list[Allocation]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = collections.defaultdict(list)
    for a in allocations:
        out[a.framework_id].append(a.agent_id)
    return {k: sorted(v) for k, v in out.items()}


def decline_all(alloc: DRFAllocator, offers: list[Allocation], now: float, refuse: float | None):
    for o in offers:
        alloc.recover(o.framework_id, o.agent_id, o.resources, now=now, refuse_seconds=refuse)


# -- refuse_seconds rules -----------------------------------------------------


@pytest.mark.parametrize(
    ("given_value", "expected"),
    [
        (None, DEFAULT_REFUSE_SECONDS),
        (-1.0, DEFAULT_REFUSE_SECONDS),
        (float("nan"), DEFAULT_REFUSE_SECONDS),
        (0.0, 0.0),
        (0.5, 0.5),
        (30.0, 30.0),
        (MAX_REFUSE_SECONDS, MAX_REFUSE_SECONDS),
        (MAX_REFUSE_SECONDS + 1, MAX_REFUSE_SECONDS),
        (2**31 - 1, MAX_REFUSE_SECONDS),
        (float("inf"), MAX_REFUSE_SECONDS),
    ],
)
def test_effective_refuse_seconds(given_value: float | None, expected: float) -> None:
    assert effective_refuse_seconds(given_value) == expected


@pytest.mark.parametrize(
    ("refuse", "offered_again_at"),
    [
        (None, 1.5),  # no filter at all
        (0.0, 1.5),  # zero: no filter
        (0.3, 2.5),  # shorter than the allocation interval: lasts one interval
        (-4.0, 6.5),  # negative: the 5 s default
        (10.0, 11.5),
        (2**31 - 1, 1.5 + MAX_REFUSE_SECONDS),  # capped at 365 days
    ],
)
def test_filter_lifetime(refuse: float | None, offered_again_at: float) -> None:
    alloc = DRFAllocator(seed=0)
    alloc.add_framework("f", ["r"])
    alloc.add_agent("a", P("cpus:1;mem:64"))
    [offer] = alloc.allocate(1.0)
    decline_all(alloc, [offer], 1.5, refuse)
    times = [1.5, 2.49, 2.5, 6.49, 6.5, 11.49, 11.5, MAX_REFUSE_SECONDS, 1.5 + MAX_REFUSE_SECONDS]
    for t in times:
        got = alloc.allocate(t)
        if t < offered_again_at:
            assert got == [], t
        else:
            assert [o.framework_id for o in got] == ["f"], t
            return
    pytest.fail("never offered again")


def test_filter_applies_only_while_available_fits_in_refused() -> None:
    alloc = DRFAllocator(seed=0)
    alloc.add_framework("f", ["r"])
    alloc.add_agent("a", P("cpus:4;mem:256"))
    [offer] = alloc.allocate(0)
    task = P("cpus:1;mem:64").allocated_to("r")
    # The framework launches a task and refuses the rest for a long time.
    alloc.recover("f", "a", offer.resources - task, now=0, refuse_seconds=1000)
    assert alloc.allocate(1) == []
    # The task ends: the agent now has more than was refused, so it is offered again.
    alloc.recover("f", "a", task, now=2)
    [again] = alloc.allocate(3)
    assert again.resources == P("cpus:4;mem:256").allocated_to("r")


@pytest.mark.parametrize(
    ("first_refusal", "second_refusal", "offered_again_at"),
    [
        (100.0, 10.0, 12.0),  # the newer, wider filter expires; the older one no longer fits
        (5.0, 100.0, 102.0),  # the older, narrower one expires first; the newer still blocks
    ],
)
def test_several_filters_on_one_agent(
    first_refusal: float, second_refusal: float, offered_again_at: float
) -> None:
    alloc = DRFAllocator(seed=0)
    alloc.add_framework("f", ["r"])
    alloc.add_agent("a", P("cpus:4;mem:256"))
    [offer] = alloc.allocate(0)
    task = P("cpus:1;mem:64").allocated_to("r")
    alloc.recover("f", "a", offer.resources - task, now=0, refuse_seconds=first_refusal)
    alloc.recover("f", "a", task, now=1)  # the task ends: more than was refused is free
    [offer] = alloc.allocate(1)
    alloc.recover("f", "a", offer.resources, now=2, refuse_seconds=second_refusal)
    for t in (3.0, 7.0, 11.9, offered_again_at - 0.1):
        assert alloc.allocate(t) == [], t
    assert len(alloc.allocate(offered_again_at)) == 1


def test_filter_is_per_framework_and_agent() -> None:
    alloc = DRFAllocator(seed=0)
    alloc.add_framework("f1", ["r"])
    alloc.add_framework("f2", ["r"])
    alloc.add_agent("a1", P("cpus:1;mem:64"))
    offers = alloc.allocate(0)
    assert offers_by_framework(offers) == {"f1": ["a1"]}
    decline_all(alloc, offers, 0, 100)
    assert offers_by_framework(alloc.allocate(1)) == {"f2": ["a1"]}
    alloc.add_agent("a2", P("cpus:1;mem:64"))
    # f1 is filtered on a1 only; f2 holds a1, so f1 has the lower share for a2.
    assert offers_by_framework(alloc.allocate(2)) == {"f1": ["a2"]}


# -- DRF ordering -------------------------------------------------------------


def test_drf_across_roles_and_within_a_role() -> None:
    """Each new agent goes wholly to the lowest share (role first, then framework)."""
    alloc = DRFAllocator(seed=0)
    steps = [
        # (frameworks to add, agent to add, who gets it)
        ([("f1", "r1")], "cpus:2;mem:1024", "f1"),
        ([("f2", "r2")], "cpus:1;mem:512", "f2"),  # r2 has nothing yet
        ([], "cpus:3;mem:2048", "f2"),  # r2 (1/6) is below r1 (2/6)
        ([("f3", "r1")], "cpus:4;mem:4096", "f3"),  # r1 0.2 < r2 0.4; f3 holds nothing
        ([("f4", "r1")], "cpus:1;mem:512", "f2"),  # r2 0.36 < r1 0.63, f4's zero is irrelevant
    ]
    for i, (frameworks, agent, winner) in enumerate(steps):
        for fid, role in frameworks:
            alloc.add_framework(fid, [role])
        alloc.add_agent(f"a{i}", P(agent))
        [offer] = alloc.allocate(float(i))
        assert (offer.framework_id, offer.agent_id) == (winner, f"a{i}")
        assert offer.resources == P(agent).allocated_to(offer.role)


@pytest.mark.parametrize(
    ("weights", "expected"),
    [
        ({}, {"f1": 4, "f2": 4}),
        ({"r1": 3.0}, {"f1": 6, "f2": 2}),
        ({"r2": 3.0}, {"f1": 2, "f2": 6}),
        ({"r1": 0.5, "r2": 1.5}, {"f1": 2, "f2": 6}),
    ],
)
def test_weights(weights: dict[str, float], expected: dict[str, int]) -> None:
    alloc = DRFAllocator(seed=1)
    alloc.set_weights(weights)
    alloc.add_framework("f1", ["r1"])
    alloc.add_framework("f2", ["r2"])
    for i in range(8):
        alloc.add_agent(f"a{i}", P("cpus:1;mem:128"))
    got = collections.Counter(o.framework_id for o in alloc.allocate(0))
    assert dict(got) == expected


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf")])
def test_bad_weights_are_rejected(bad: float) -> None:
    with pytest.raises(AllocatorError):
        DRFAllocator().set_weights({"r": bad})


def test_ties_go_to_fewer_allocations_then_name() -> None:
    alloc = DRFAllocator(seed=3)
    for fid in ("fb", "fa", "fc"):
        alloc.add_framework(fid, ["r"])
    alloc.add_agent("a", P("cpus:1;mem:64"))
    [first] = alloc.allocate(0)
    assert first.framework_id == "fa"
    decline_all(alloc, [first], 0, None)
    # Shares are equal again; "fa" has been chosen once, so "fb" is next.
    assert [o.framework_id for o in alloc.allocate(1)] == ["fb"]


def test_shares_update_within_a_round() -> None:
    alloc = DRFAllocator(seed=5)
    alloc.add_framework("f1", ["r"])
    alloc.add_framework("f2", ["r"])
    for i in range(6):
        alloc.add_agent(f"a{i}", P("cpus:1;mem:128"))
    got = collections.Counter(o.framework_id for o in alloc.allocate(0))
    assert got == {"f1": 3, "f2": 3}


def test_multi_role_framework_is_considered_once_per_role() -> None:
    alloc = DRFAllocator(seed=0)
    alloc.add_framework("f", ["r1", "r2"])
    alloc.add_framework("g", ["r1"])
    alloc.add_agent("a1", P("cpus:1;mem:64"))
    alloc.add_agent("a2", P("cpus:1;mem:64"))
    alloc.add_agent("a3", P("cpus:1;mem:64"))
    offers = alloc.allocate(0)
    roles = sorted((o.framework_id, o.role) for o in offers)
    # r1 and r2 start level; r2's only framework is f, r1's are f and g.
    assert roles == [("f", "r1"), ("f", "r2"), ("g", "r1")]
    for o in offers:
        assert o.resources.allocation_roles() == {o.role}
    assert alloc.allocated("f") == sum(
        (o.resources for o in offers if o.framework_id == "f"), Resources()
    )


# -- eligibility --------------------------------------------------------------


def test_suppress_and_revive() -> None:
    alloc = DRFAllocator(seed=0)
    alloc.add_framework("f", ["r1", "r2"], suppressed_roles=["r2"])
    alloc.add_agent("a", P("cpus:1;mem:64"))
    [offer] = alloc.allocate(0)
    assert offer.role == "r1"
    alloc.recover("f", "a", offer.resources, now=0, refuse_seconds=100)
    alloc.suppress("f")
    assert alloc.allocate(1) == []
    alloc.revive("f", ["r2"])
    [offer] = alloc.allocate(2)
    assert offer.role == "r2"
    alloc.recover("f", "a", offer.resources, now=2)
    alloc.suppress("f", ["r2", "not-mine"])
    assert alloc.allocate(3) == []
    alloc.revive("f")  # also drops the r1 filter
    [offer] = alloc.allocate(4)
    assert offer.role == "r1"


def test_inactive_frameworks_and_agents_get_nothing() -> None:
    alloc = DRFAllocator(seed=0)
    alloc.add_framework("f", ["r"], active=False)
    alloc.add_agent("a", P("cpus:1;mem:64"))
    assert alloc.allocate(0) == []
    alloc.activate_framework("f")
    alloc.deactivate_agent("a")
    assert alloc.allocate(1) == []
    alloc.activate_agent("a")
    [offer] = alloc.allocate(2)
    alloc.recover("f", "a", offer.resources, now=2, refuse_seconds=100)
    assert alloc.allocate(3) == []
    alloc.deactivate_framework("f")  # drops its filters, as Mesos does
    assert alloc.allocate(4) == []
    alloc.activate_framework("f")
    assert len(alloc.allocate(5)) == 1


def test_update_framework_roles_and_suppression() -> None:
    alloc = DRFAllocator(seed=0)
    alloc.add_framework("f", ["r1"])
    alloc.add_agent("a", P("cpus:1;mem:64"))
    [offer] = alloc.allocate(0)
    alloc.recover("f", "a", offer.resources, now=0, refuse_seconds=100)
    alloc.update_framework("f", ["r2"], suppressed_roles=["r2"])
    assert alloc.allocate(1) == []
    alloc.update_framework("f", ["r1", "r2"])  # r1's old filter went with the role
    assert {o.role for o in alloc.allocate(2)} == {"r1"}


def test_unknown_framework_and_agent() -> None:
    alloc = DRFAllocator()
    with pytest.raises(AllocatorError):
        alloc.suppress("nope")
    with pytest.raises(AllocatorError):
        alloc.available("nope")
    with pytest.raises(AllocatorError):
        alloc.add_framework("f", "r")  # a string is not a list of roles
    with pytest.raises(ResourceError):
        alloc.add_framework("f", ["bad role"])
    alloc.add_framework("f", ["r"])
    with pytest.raises(AllocatorError):
        alloc.add_framework("f", ["r"])
    alloc.add_agent("a", P("cpus:1;mem:64"))
    with pytest.raises(AllocatorError):
        alloc.add_agent("a", P("cpus:1"))
    alloc.remove_agent("nope")
    alloc.remove_framework("nope")
    alloc.recover("f", "nope", P("cpus:1"), now=0)


# -- what gets offered --------------------------------------------------------


def test_parse_min_allocatable() -> None:
    assert parse_min_allocatable("cpus:0.01|mem:32") == [P("cpus:0.01"), P("mem:32")]
    assert parse_min_allocatable("cpus:1;mem:64|disk:5") == [P("cpus:1;mem:64"), P("disk:5")]
    with pytest.raises(AllocatorError):
        parse_min_allocatable(" | ")
    with pytest.raises(ResourceError):
        parse_min_allocatable("cpus:-1")


@pytest.mark.parametrize(
    ("min_allocatable", "agent", "offered"),
    [
        (None, "cpus:0.009;mem:31", False),
        (None, "cpus:0.01;mem:1", True),
        (None, "cpus:0.001;mem:32", True),
        (None, "disk:100", False),
        ([], "disk:100", True),
        (["ports:2"], "ports:[1-1]", False),
        (["ports:2"], "ports:[1-2]", True),
        (["cpus:1;mem:64"], "cpus:1;mem:63", False),
        (["cpus:1;mem:64", "disk:5"], "cpus:1;mem:63;disk:5", True),
    ],
)
def test_min_allocatable(min_allocatable: list[str] | None, agent: str, offered: bool) -> None:
    mins = None if min_allocatable is None else [P(m) for m in min_allocatable]
    alloc = DRFAllocator(min_allocatable=mins, seed=0)
    alloc.add_framework("f", ["r"])
    alloc.add_agent("a", P(agent))
    assert bool(alloc.allocate(0)) == offered


def test_reserved_resources_go_only_to_their_role() -> None:
    alloc = DRFAllocator(seed=0)
    alloc.add_framework("ops", ["ops"])
    alloc.add_framework("eng", ["eng"])
    alloc.add_agent("a", P("cpus:1;mem:64;cpus(eng):2;mem(eng):128"))
    offers = {o.framework_id: o.resources for o in alloc.allocate(0)}
    # Both roles start at zero; "eng" sorts first and takes everything it may.
    assert offers == {"eng": P("cpus:1;mem:64;cpus(eng):2;mem(eng):128").allocated_to("eng")}
    alloc.recover("eng", "a", offers["eng"], now=0)
    alloc.suppress("eng")
    offers = {o.framework_id: o.resources for o in alloc.allocate(1)}
    assert offers == {"ops": P("cpus:1;mem:64").allocated_to("ops")}
    assert alloc.available("a") == P("cpus(eng):2;mem(eng):128")


def test_reservations_are_offered_after_another_role_took_the_unreserved_part() -> None:
    alloc = DRFAllocator(seed=0)
    alloc.add_framework("ops", ["ops"])
    alloc.add_framework("eng", ["eng"])
    alloc.add_agent("busy", P("cpus:8;mem:4096"), allocated={"eng": P("cpus:8;mem:4096")})
    alloc.add_agent("a", P("cpus:1;mem:64;cpus(eng):2;mem(eng):128"))
    offers = {o.framework_id: o.resources for o in alloc.allocate(0)}
    assert offers == {
        "ops": P("cpus:1;mem:64").allocated_to("ops"),
        "eng": P("cpus(eng):2;mem(eng):128").allocated_to("eng"),
    }


def test_hierarchical_role_may_use_its_parents_reservation() -> None:
    alloc = DRFAllocator(seed=0)
    alloc.add_framework("dev", ["eng/dev"])
    alloc.add_agent("a", P("cpus(eng):1;mem(eng):64"))
    [offer] = alloc.allocate(0)
    assert offer.role == "eng/dev"


@pytest.mark.parametrize(
    ("filter_gpu", "gpu_aware", "gets_gpu_agent"),
    [(True, False, False), (True, True, True), (False, False, True)],
)
def test_gpu_agents(filter_gpu: bool, gpu_aware: bool, gets_gpu_agent: bool) -> None:
    alloc = DRFAllocator(filter_gpu_resources=filter_gpu, seed=0)
    alloc.add_framework("f", ["r"], gpu_aware=gpu_aware)
    alloc.add_agent("gpu", P("cpus:4;mem:1024;gpus:1"))
    alloc.add_agent("plain", P("cpus:4;mem:1024"))
    got = sorted(o.agent_id for o in alloc.allocate(0))
    assert got == (["gpu", "plain"] if gets_gpu_agent else ["plain"])


def test_gpu_agent_goes_to_the_gpu_aware_framework_even_if_it_is_not_first() -> None:
    alloc = DRFAllocator(seed=0)
    alloc.add_framework("a-plain", ["r"])
    alloc.add_framework("b-gpu", ["r"], gpu_aware=True)
    alloc.add_agent("gpu", P("cpus:4;mem:1024;gpus:1"))
    assert [o.framework_id for o in alloc.allocate(0)] == ["b-gpu"]


# -- bookkeeping --------------------------------------------------------------


def test_agent_with_running_tasks() -> None:
    alloc = DRFAllocator(seed=0)
    alloc.add_framework("f1", ["r"])
    alloc.add_framework("f2", ["r"])
    used = P("cpus:3;mem:100;ports:[10-19]")
    alloc.add_agent("a1", P("cpus:4;mem:512;ports:[10-99]"), allocated={"f1": used})
    assert alloc.available("a1") == P("cpus:1;mem:412;ports:[20-99]")
    assert alloc.allocated("f1") == used.allocated_to("r")
    # f1 already has a share, so the free part goes to f2.
    assert offers_by_framework(alloc.allocate(0)) == {"f2": ["a1"]}


def test_allocations_beyond_the_agent_are_rejected() -> None:
    alloc = DRFAllocator(seed=0)
    alloc.add_framework("f1", ["r"])
    alloc.add_framework("f2", ["r"])
    with pytest.raises(AllocatorError):
        alloc.add_agent("a", P("cpus:1"), allocated={"f1": P("cpus:2")})
    with pytest.raises(AllocatorError):
        alloc.add_agent(
            "a", P("ports:[1-10]"), allocated={"f1": P("ports:[1-5]"), "f2": P("ports:[5-6]")}
        )
    with pytest.raises(AllocatorError):
        alloc.add_agent("a", P("cpus:1"), allocated={"ghost": P("cpus:1")})  # role unknown
    alloc.add_agent("a", P("cpus:2;mem:64"))
    with pytest.raises(AllocatorError):
        alloc.add_allocation("f1", "a", P("cpus:3"))
    alloc.add_allocation("f1", "a", P("cpus:2"))
    with pytest.raises(AllocatorError):
        alloc.update_agent_total("a", P("cpus:1;mem:64"))


def test_add_allocation_and_recover_round_trip() -> None:
    alloc = DRFAllocator(seed=0)
    alloc.add_framework("f", ["r1", "r2"])
    alloc.add_agent("a", P("cpus:4;mem:256;ports:[1-10]"))
    alloc.add_allocation("f", "a", P("cpus:1;ports:[1-2]"))  # first role by default
    alloc.add_allocation("f", "a", P("cpus:1"), role="r2")
    assert alloc.allocated("f") == P("cpus:1;ports:[1-2]").allocated_to("r1") + P(
        "cpus:1"
    ).allocated_to("r2")
    assert alloc.available("a") == P("cpus:2;mem:256;ports:[3-10]")
    # Untagged resources are matched to the role that holds them.
    alloc.recover("f", "a", P("cpus:1"), now=0, role="r2")
    alloc.recover("f", "a", P("ports:[1-2]"), now=0)
    with pytest.raises(AllocatorError):
        alloc.recover("f", "a", P("cpus:5"), now=0)
    with pytest.raises(AllocatorError):
        alloc.recover("f", "a", P("cpus:1").allocated_to("r2"), now=0)
    alloc.recover("f", "a", P("cpus:1").allocated_to("r1"), now=0)
    assert not alloc.allocated("f")
    assert alloc.available("a") == P("cpus:4;mem:256;ports:[1-10]")


def test_recover_returns_offered_resources() -> None:
    alloc = DRFAllocator(seed=0)
    alloc.add_framework("f", ["r"])
    alloc.add_agent("a", P("cpus:4;mem:256"))
    [offer] = alloc.allocate(0)
    assert not alloc.available("a")
    assert alloc.allocated("f") == offer.resources
    alloc.recover("f", "a", offer.resources.unallocated(), now=0)  # untagged works too
    assert alloc.available("a") == P("cpus:4;mem:256")
    assert not alloc.allocated("f")


def test_remove_framework_leaves_its_resources_until_recovered() -> None:
    alloc = DRFAllocator(seed=0)
    alloc.add_framework("f", ["r"])
    alloc.add_framework("g", ["r"])
    alloc.add_agent("a", P("cpus:4;mem:256"))
    [offer] = alloc.allocate(0)
    assert offer.framework_id == "f"
    alloc.remove_framework(offer.framework_id)
    assert alloc.allocate(1) == []  # still in use
    alloc.recover("f", "a", offer.resources, now=1, refuse_seconds=100)
    assert offers_by_framework(alloc.allocate(2)) == {"g": ["a"]}


def test_remove_agent_drops_its_allocations_and_filters() -> None:
    alloc = DRFAllocator(seed=0)
    alloc.add_framework("f", ["r"])
    alloc.add_agent("a", P("cpus:4;mem:256"))
    alloc.add_agent("b", P("cpus:4;mem:256"))
    offers = alloc.allocate(0)
    decline_all(alloc, [o for o in offers if o.agent_id == "b"], 0, 100)
    alloc.remove_agent("a")
    alloc.remove_agent("b")
    assert not alloc.allocated("f")
    assert not alloc.total()
    alloc.add_agent("b", P("cpus:1;mem:64"))
    assert offers_by_framework(alloc.allocate(1)) == {"f": ["b"]}


def test_update_agent_total() -> None:
    alloc = DRFAllocator(seed=0)
    alloc.add_framework("f", ["r"])
    alloc.add_agent("a", P("cpus:4;mem:256"))
    [offer] = alloc.allocate(0)
    alloc.recover("f", "a", offer.resources, now=0, refuse_seconds=100)
    alloc.update_agent_total("a", P("cpus:8;mem:256"))
    assert alloc.total() == P("cpus:8;mem:256")
    [offer] = alloc.allocate(1)  # more than was refused
    assert offer.resources == P("cpus:8;mem:256").allocated_to("r")
    alloc.update_agent_total("a", P("cpus:8;mem:256;gpus:1"))
    alloc.recover("f", "a", offer.resources, now=1)
    assert alloc.allocate(2) == []  # now a GPU agent, and f is not GPU-aware


def test_stats_count_rounds_and_offers() -> None:
    alloc = DRFAllocator(seed=0)
    alloc.add_framework("f", ["r"])
    alloc.add_agent("a", P("cpus:1;mem:64"))
    alloc.allocate(0)
    alloc.allocate(1)
    assert (alloc.stats.allocation_runs, alloc.stats.allocations_made) == (2, 1)


def test_many_filtered_frameworks_pick_from_the_few_left() -> None:
    """Past the point where only a handful of frameworks have not refused an agent."""
    alloc = DRFAllocator(seed=7)
    n = 40
    for i in range(n):
        alloc.add_framework(f"f{i:02d}", ["r"])
    alloc.add_agent("a", P("cpus:1;mem:64"))
    seen = []
    for t in range(n + 2):
        offers = alloc.allocate(float(t))
        seen += [o.framework_id for o in offers]
        decline_all(alloc, offers, float(t), 1000)
    # Shares are level again after every refusal, so the tie-breaks decide:
    # fewest allocations first, then the name.
    assert seen == [f"f{i:02d}" for i in range(n)]
    alloc.revive("f07")
    assert [o.framework_id for o in alloc.allocate(100)] == ["f07"]


# -- the model ----------------------------------------------------------------


@dataclass
class _Fw:
    roles: list[str]
    suppressed: set[str]
    gpu: bool
    active: bool = True


@dataclass
class _Ag:
    total: Resources
    available: Resources
    active: bool = True
    held: dict[str, Resources] = field(default_factory=dict)


class NaiveDRF:
    """The same semantics, recomputed from scratch at every step."""

    def __init__(self, seed: int, interval: float = 1.0) -> None:
        self.rng = random.Random(seed)
        self.interval = interval
        self.mins = [dict(P(m).quantities_milli()) for m in ("cpus:0.01", "mem:32")]
        self.weights: dict[str, float] = {}
        self.fws: dict[str, _Fw] = {}
        self.agents: dict[str, _Ag] = {}
        self.removed: set[str] = set()
        self.counts: collections.Counter = collections.Counter()
        self.filters: list[tuple[str, str, str, Resources, float]] = []

    def set_weights(self, weights: dict[str, float]) -> None:
        self.weights = dict(weights)

    def add_framework(self, fid, roles, *, suppressed_roles=(), gpu_aware=False, active=True):
        self.fws[fid] = _Fw(list(roles), set(suppressed_roles) & set(roles), gpu_aware, active)

    def remove_framework(self, fid: str) -> None:
        del self.fws[fid]
        self.filters = [f for f in self.filters if f[0] != fid]
        if any(fid in a.held for a in self.agents.values()):
            self.removed.add(fid)

    def activate_framework(self, fid: str) -> None:
        self.fws[fid].active = True

    def deactivate_framework(self, fid: str) -> None:
        self.fws[fid].active = False
        self.filters = [f for f in self.filters if f[0] != fid]

    def suppress(self, fid: str, roles=None) -> None:
        fw = self.fws[fid]
        fw.suppressed |= set(fw.roles) if roles is None else set(roles) & set(fw.roles)

    def revive(self, fid: str, roles=None) -> None:
        fw = self.fws[fid]
        chosen = set(fw.roles) if roles is None else set(roles) & set(fw.roles)
        fw.suppressed -= chosen
        self.filters = [f for f in self.filters if not (f[0] == fid and f[1] in chosen)]

    def _tag(self, fid: str, res: Resources, role: str | None = None) -> Resources:
        plain = res.allocated_part(None)
        return (res - plain) + plain.allocated_to(role or self.fws[fid].roles[0])

    def _count_new(self, fid: str, tagged: Resources) -> None:
        for role in tagged.allocation_roles():
            self.counts[role] += 1
            self.counts[(role, fid)] += 1

    def add_agent(self, aid: str, total: Resources, *, allocated=None) -> None:
        held = {fid: self._tag(fid, r) for fid, r in (allocated or {}).items()}
        free = total
        for r in held.values():
            free = free - r.unallocated()
        self.agents[aid] = _Ag(total, free, held=held)
        for fid, r in held.items():
            self._count_new(fid, r)

    def remove_agent(self, aid: str) -> None:
        del self.agents[aid]
        self.filters = [f for f in self.filters if f[2] != aid]
        self.removed = {f for f in self.removed if any(f in a.held for a in self.agents.values())}

    def activate_agent(self, aid: str) -> None:
        self.agents[aid].active = True

    def deactivate_agent(self, aid: str) -> None:
        self.agents[aid].active = False

    def update_agent_total(self, aid: str, total: Resources) -> None:
        agent = self.agents[aid]
        free = total
        for r in agent.held.values():
            free = free - r.unallocated()
        agent.total, agent.available = total, free

    def add_allocation(self, fid: str, aid: str, res: Resources, *, role=None) -> None:
        agent = self.agents[aid]
        tagged = self._tag(fid, res, role)
        agent.available = agent.available - tagged.unallocated()
        agent.held[fid] = agent.held.get(fid, Resources()) + tagged
        self._count_new(fid, tagged)

    def recover(self, fid, aid, res, *, now, refuse_seconds=None, role=None) -> None:
        agent = self.agents.get(aid)
        if agent is None or not res:
            return
        assert not res.allocated_part(None), "the model only takes tagged resources"
        parts = [(r, res.allocated_part(r)) for r in sorted(res.allocation_roles())]
        held = agent.held[fid]
        for _, tagged in parts:
            held = held - tagged
            agent.available = agent.available + tagged.unallocated()
        if held:
            agent.held[fid] = held
        else:
            del agent.held[fid]
            if all(fid not in a.held for a in self.agents.values()):
                self.removed.discard(fid)
        if refuse_seconds is None or fid not in self.fws:
            return
        timeout = effective_refuse_seconds(refuse_seconds)
        if timeout:
            for r, tagged in parts:
                if r in self.fws[fid].roles:
                    when = now + max(timeout, self.interval)
                    self.filters.append((fid, r, aid, tagged.unallocated(), when))

    def forget_idle_counts(self) -> None:
        """Mesos drops a sorter client that neither subscribes nor holds (scalar)
        resources, and a role with no clients left; their tie-break counts go too."""
        keep = set()
        for role, fid in [k for k in self.counts if isinstance(k, tuple)]:
            fw = self.fws.get(fid)
            if (fw and role in fw.roles) or self._held(role, fid).scalar_milli():
                keep.add((role, fid))
        for fid, fw in self.fws.items():
            keep.update((role, fid) for role in fw.roles)
        roles = {role for role, _ in keep}
        for key in list(self.counts):
            if key not in keep and key not in roles:
                del self.counts[key]

    def allocated(self, fid: str) -> Resources:
        return sum((a.held[fid] for a in self.agents.values() if fid in a.held), Resources())

    def available(self, aid: str) -> Resources:
        return self.agents[aid].available

    def _share(self, held: Resources, weight: float = 1.0) -> float:
        total: collections.Counter = collections.Counter()
        for a in self.agents.values():
            total.update(a.total.scalar_milli())
        amounts = held.scalar_milli()
        return max((v / total[n] for n, v in amounts.items() if total[n]), default=0.0) / weight

    def _held(self, role: str, fid: str | None = None) -> Resources:
        out = Resources()
        for a in self.agents.values():
            for holder, r in a.held.items():
                if holder not in self.removed and fid in (None, holder):
                    out = out + r.allocated_part(role)
        return out

    def _eligible(self, role: str) -> list[str]:
        return [
            fid
            for fid, fw in self.fws.items()
            if fw.active and role in fw.roles and role not in fw.suppressed
        ]

    def _role_order(self) -> list[str]:
        roles = {r for fw in self.fws.values() for r in fw.roles if self._eligible(r)}
        return sorted(
            roles,
            key=lambda r: (
                self._share(self._held(r), self.weights.get(r, 1.0)),
                self.counts[r],
                r,
            ),
        )

    def _fw_order(self, role: str) -> list[str]:
        return sorted(
            self._eligible(role),
            key=lambda f: (self._share(self._held(role, f)), self.counts[(role, f)], f),
        )

    def allocate(self, now: float) -> list[Allocation]:
        self.filters = [f for f in self.filters if f[4] > now]
        if not self._role_order():
            return []  # nobody to offer to: the agents are not even shuffled
        agents = [(aid, a) for aid, a in self.agents.items() if a.active and a.available]
        self.rng.shuffle(agents)
        out = []
        for aid, agent in agents:
            gpu_agent = agent.total.scalar("gpus") > 0
            for role in self._role_order():
                offerable = agent.available.allocatable_to(role)
                have = offerable.quantities_milli()
                if not offerable or not any(
                    all(have.get(n, 0) >= v for n, v in m.items()) for m in self.mins
                ):
                    continue
                for fid in self._fw_order(role):
                    if gpu_agent and not self.fws[fid].gpu:
                        continue
                    if any(
                        f[:3] == (fid, role, aid) and f[3].contains(offerable) for f in self.filters
                    ):
                        continue
                    tagged = offerable.allocated_to(role)
                    agent.available = agent.available - offerable
                    agent.held[fid] = agent.held.get(fid, Resources()) + tagged
                    self._count_new(fid, tagged)
                    out.append(Allocation(fid, aid, role, tagged))
                    break
        return out


AGENTS = [
    "cpus:4;mem:1024;ports:[31000-31010]",
    "cpus:2;mem:512;cpus(a):1;mem(a):64",
    "cpus:1;mem:256;gpus:1",
    "cpus:0.005;mem:16",
    "cpus(b):2;mem(b):128",
    "cpus:8;mem:64;disk:100",
]
ROLE_SETS = [["*"], ["a"], ["b"], ["a", "b"], ["*", "a"]]
REFUSALS = [None, None, 0.0, 0.4, 2.0, -1.0, 30.0, 1e12]


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.data())
def test_matches_the_model(data: st.DataObject) -> None:
    seed = data.draw(st.integers(0, 1000), label="seed")
    fast, slow = DRFAllocator(seed=seed), NaiveDRF(seed=seed)

    def both(method: str, *args, **kwargs) -> None:
        getattr(fast, method)(*args, **kwargs)
        getattr(slow, method)(*args, **kwargs)
        slow.forget_idle_counts()

    now = 0.0
    outstanding: list[Allocation] = []
    n_fw = n_ag = 0
    for _ in range(data.draw(st.integers(5, 60), label="steps")):
        fws, ags = list(slow.fws), list(slow.agents)
        op = data.draw(
            st.sampled_from(
                [
                    "framework",
                    "crowd",
                    "agent",
                    "allocate",
                    "allocate",
                    "recover",
                    "recover",
                    "decline_round",
                    "decline_round",
                    "decline_round",
                    "tick",
                    "tick",
                    "suppress",
                    "revive",
                    "toggle_fw",
                    "toggle_agent",
                    "weights",
                    "remove_fw",
                    "remove_agent",
                    "add_allocation",
                    "update_total",
                ]
            )
        )
        if op == "framework":
            roles = data.draw(st.sampled_from(ROLE_SETS))
            suppressed = data.draw(st.sets(st.sampled_from(roles)))
            gpu = data.draw(st.booleans())
            both("add_framework", f"f{n_fw}", roles, suppressed_roles=suppressed, gpu_aware=gpu)
            n_fw += 1
        elif op == "crowd":
            # Enough frameworks in one role to reach the "few left unfiltered" path,
            # refusing long enough that only a few are left for some agents.
            roles = data.draw(st.sampled_from(ROLE_SETS))
            for _ in range(20):
                both("add_framework", f"f{n_fw}", roles, gpu_aware=n_fw % 3 == 0)
                n_fw += 1
            for _ in range(data.draw(st.integers(0, 8))):
                got = fast.allocate(now)
                assert got == slow.allocate(now)
                for o in got:
                    both(
                        "recover",
                        o.framework_id,
                        o.agent_id,
                        o.resources,
                        now=now,
                        refuse_seconds=1e12,
                    )
                now += 1.0
        elif op == "agent":
            total = P(data.draw(st.sampled_from(AGENTS)))
            allocated = {}
            if fws and data.draw(st.booleans()) and total.contains(P("cpus:1")):
                allocated = {data.draw(st.sampled_from(fws)): P("cpus:1")}
            both("add_agent", f"a{n_ag}", total, allocated=allocated)
            n_ag += 1
        elif op == "allocate":
            got = fast.allocate(now)
            assert got == slow.allocate(now)
            outstanding += got
        elif op == "decline_round":
            # What DeclineOffers does: every new offer is refused at once.
            got = fast.allocate(now)
            assert got == slow.allocate(now)
            refuse = data.draw(st.sampled_from(REFUSALS))
            for o in got:
                both(
                    "recover",
                    o.framework_id,
                    o.agent_id,
                    o.resources,
                    now=now,
                    refuse_seconds=refuse,
                )
            now += 1.0
        elif op == "recover" and outstanding:
            offer = outstanding.pop(data.draw(st.integers(0, len(outstanding) - 1)))
            if offer.agent_id not in slow.agents:
                continue
            refuse = data.draw(st.sampled_from(REFUSALS))
            cpus = offer.resources.allocated_part(offer.role).reserved(None)
            if data.draw(st.booleans()) and offer.resources != cpus and cpus:
                # A "task" keeps the reserved part for a while; the rest is declined.
                both(
                    "recover",
                    offer.framework_id,
                    offer.agent_id,
                    offer.resources - cpus,
                    now=now,
                    refuse_seconds=refuse,
                )
                outstanding.append(Allocation(offer.framework_id, offer.agent_id, offer.role, cpus))
            else:
                both(
                    "recover",
                    offer.framework_id,
                    offer.agent_id,
                    offer.resources,
                    now=now,
                    refuse_seconds=refuse,
                )
        elif op == "tick":
            now += data.draw(st.sampled_from([0.5, 1.0, 3.0, 31.0]))
        elif op in ("suppress", "revive") and fws:
            fid = data.draw(st.sampled_from(fws))
            roles = data.draw(st.none() | st.sets(st.sampled_from(["*", "a", "b"])))
            both(op, fid, roles)
        elif op == "toggle_fw" and fws:
            fid = data.draw(st.sampled_from(fws))
            both("deactivate_framework" if slow.fws[fid].active else "activate_framework", fid)
        elif op == "toggle_agent" and ags:
            aid = data.draw(st.sampled_from(ags))
            both("deactivate_agent" if slow.agents[aid].active else "activate_agent", aid)
        elif op == "weights":
            weights = data.draw(
                st.dictionaries(st.sampled_from(["*", "a", "b"]), st.sampled_from([0.5, 2.0, 3.0]))
            )
            both("set_weights", weights)
        elif op == "remove_fw" and fws:
            both("remove_framework", data.draw(st.sampled_from(fws)))
        elif op == "remove_agent" and ags:
            aid = data.draw(st.sampled_from(ags))
            both("remove_agent", aid)
            outstanding = [o for o in outstanding if o.agent_id != aid]
        elif op == "add_allocation" and fws and ags:
            fid, aid = data.draw(st.sampled_from(fws)), data.draw(st.sampled_from(ags))
            task = P("cpus:0.5;mem:8")
            if slow.agents[aid].available.contains(task):
                role = data.draw(st.sampled_from(slow.fws[fid].roles))
                both("add_allocation", fid, aid, task, role=role)
                outstanding.append(Allocation(fid, aid, role, task.allocated_to(role)))
        elif op == "update_total" and ags:
            aid = data.draw(st.sampled_from(ags))
            both("update_agent_total", aid, slow.agents[aid].total + P("cpus:1;mem:32"))
        for aid in slow.agents:
            assert fast.available(aid) == slow.available(aid)
        for fid in set(slow.fws) | {o.framework_id for o in outstanding}:
            assert fast.allocated(fid) == slow.allocated(fid)
    got = fast.allocate(now + 1)
    assert got == slow.allocate(now + 1)


@settings(max_examples=100, deadline=None)
@given(
    st.integers(0, 10_000),
    st.lists(st.sampled_from(AGENTS), min_size=1, max_size=8),
    st.lists(st.sampled_from(ROLE_SETS), min_size=1, max_size=5),
    st.lists(st.sampled_from([*REFUSALS, "keep"]), min_size=1, max_size=30),
)
def test_never_over_allocates(
    seed: int, agents: list[str], role_sets: list[list[str]], actions: list
) -> None:
    """Whatever happens, no agent gives out more than it has, and nothing twice."""
    alloc = DRFAllocator(seed=seed)
    for i, roles in enumerate(role_sets):
        alloc.add_framework(f"f{i}", roles, gpu_aware=i % 2 == 0)
    for i, text in enumerate(agents):
        alloc.add_agent(f"a{i}", P(text))
    outstanding: list[Allocation] = []
    for t, action in enumerate(actions):
        offers = alloc.allocate(float(t))
        per_agent: dict[str, Resources] = {}
        for o in offers:
            plain = o.resources.unallocated()
            per_agent[o.agent_id] = per_agent.get(o.agent_id, Resources()) + plain
            # Ranges add as unions, so compare counts to catch a port given twice.
            seen = per_agent[o.agent_id].quantities_milli()
            assert all(
                seen[n] <= P(agents[int(o.agent_id[1:])]).quantities_milli()[n] for n in seen
            )
        outstanding += offers
        if outstanding and action != "keep":
            o = outstanding.pop(0)
            alloc.recover(
                o.framework_id, o.agent_id, o.resources, now=float(t), refuse_seconds=action
            )
        for i, text in enumerate(agents):
            total = P(text)
            held = [o.resources.unallocated() for o in outstanding if o.agent_id == f"a{i}"]
            counted = dict(alloc.available(f"a{i}").quantities_milli())
            for h in held:
                for name, amount in h.quantities_milli().items():
                    counted[name] = counted.get(name, 0) + amount
            assert counted == dict(total.quantities_milli())
