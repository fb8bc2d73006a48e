"""Placement constraints (mesos_py.marathon.constraints), pure."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mesos_py.marathon.constraints import (
    constraint_error,
    offer_fields,
    placement_values,
    satisfied,
)


def placed(field: str, *values: str) -> list[dict]:
    return [{field: v} for v in values]


@pytest.mark.parametrize(
    "raw",
    [
        ["hostname", "UNIQUE"],
        ["rack", "CLUSTER", "r1"],
        ["rack", "GROUP_BY", 3],
        ["rack", "GROUP_BY"],
        ["h", "LIKE", "a.*"],
        ["h", "UNLIKE", "b"],
        ["hostname", "MAX_PER", "2"],
        ["os", "IS", "linux"],
    ],
)
def test_valid_constraints(raw):
    assert constraint_error(raw) is None


@pytest.mark.parametrize(
    "raw",
    [
        ["hostname"],
        ["hostname", "UNIQUE", "x", "y"],
        ["hostname", "NEAR"],
        ["", "UNIQUE"],
        ["h", "LIKE"],
        ["h", "LIKE", "("],
        ["h", "MAX_PER", "0"],
        ["h", "MAX_PER", "many"],
        ["h", "UNIQUE", "x"],
        "hostname:UNIQUE",
        ["h", "CLUSTER", ["x"]],
    ],
)
def test_invalid_constraints(raw):
    assert constraint_error(raw)


def test_unique():
    rules = [["hostname", "UNIQUE"]]
    assert satisfied(rules, "a", {}, placed("hostname", "b"))
    assert not satisfied(rules, "a", {}, placed("hostname", "b", "a"))


def test_cluster_with_and_without_value():
    assert satisfied([["rack", "CLUSTER", "r1"]], "h", {"rack": "r1"}, [])
    assert not satisfied([["rack", "CLUSTER", "r1"]], "h", {"rack": "r2"}, [])
    assert satisfied([["rack", "CLUSTER"]], "h", {"rack": "r2"}, [])
    assert not satisfied([["rack", "CLUSTER"]], "h", {"rack": "r2"}, placed("rack", "r1"))


def test_group_by_spreads_evenly():
    rule = [["rack", "GROUP_BY", 2]]
    assert satisfied(rule, "h", {"rack": "r1"}, [])
    # r2 unused while r1 has one: r1 must wait for r2.
    assert not satisfied(rule, "h", {"rack": "r1"}, placed("rack", "r1"))
    assert satisfied(rule, "h", {"rack": "r2"}, placed("rack", "r1"))
    assert satisfied(rule, "h", {"rack": "r1"}, placed("rack", "r1", "r2"))
    assert not satisfied(rule, "h", {"rack": "r1"}, placed("rack", "r1", "r2", "r1"))


def test_like_unlike_and_missing_attributes():
    assert satisfied([["rack", "LIKE", "r[12]"]], "h", {"rack": "r1"}, [])
    assert not satisfied([["rack", "LIKE", "r[12]"]], "h", {"rack": "r10"}, [])
    assert satisfied([["rack", "UNLIKE", "r1"]], "h", {"rack": "r2"}, [])
    assert satisfied([["rack", "UNLIKE", "r1"]], "h", {}, [])
    for op in (["UNIQUE"], ["CLUSTER", "x"], ["LIKE", ".*"], ["MAX_PER", 1], ["GROUP_BY"]):
        assert not satisfied([["rack", *op]], "h", {}, [])


def test_max_per_and_is():
    rule = [["hostname", "MAX_PER", "2"]]
    assert satisfied(rule, "a", {}, placed("hostname", "a"))
    assert not satisfied(rule, "a", {}, placed("hostname", "a", "a"))
    assert satisfied([["os", "IS", "linux"]], "a", {"os": "linux"}, [])
    assert satisfied([["@hostname", "IS", "a"]], "a", {}, [])


def test_offer_fields_read_every_attribute_type():
    offer = {
        "hostname": "n1",
        "attributes": [
            {"name": "rack", "type": "TEXT", "text": {"value": "r1"}},
            {"name": "level", "type": "SCALAR", "scalar": {"value": 3.0}},
            {"name": "weight", "type": "SCALAR", "scalar": {"value": 2.5}},
            {"name": "zone", "type": "RANGES", "ranges": {"range": [{"begin": 1, "end": 2}]}},
            {"name": "tags", "type": "SET", "set": {"item": ["a", "b"]}},
        ],
    }
    assert offer_fields(offer) == (
        "n1",
        {"rack": "r1", "level": "3", "weight": "2.5", "zone": "[1-2]", "tags": "a,b"},
    )
    assert placement_values([["rack", "UNIQUE"], ["hostname", "UNIQUE"]], "n1", {"rack": "r1"}) == {
        "rack": "r1",
        "hostname": "n1",
    }


@given(st.lists(st.sampled_from(["a", "b", "c"]), max_size=20), st.sampled_from(["a", "b", "c"]))
def test_unique_and_max_per_agree_with_counting(hosts, host):
    already = placed("hostname", *hosts)
    assert satisfied([["hostname", "UNIQUE"]], host, {}, already) == (host not in hosts)
    assert satisfied([["hostname", "MAX_PER", 3]], host, {}, already) == (hosts.count(host) < 3)
