"""Resources: parsing, wire forms, exact arithmetic."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mesos_py.common.resources import ResourceError, Resources, validate_role

P = Resources.parse


# -- parsing ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected_repr"),
    [
        ("cpus:8;mem:16384", "cpus:8;mem:16384"),
        ("mem:16384;cpus:8", "cpus:8;mem:16384"),
        ("cpus:1.5", "cpus:1.5"),
        ("cpus:0.01", "cpus:0.01"),
        ("cpus:1.0005", "cpus:1.001"),  # fixed 3-decimal precision, rounded half up
        ("cpus:1;cpus:2", "cpus:3"),  # repeated entries add up
        ("cpus:1;", "cpus:1"),
        (" cpus : 2 ; mem: 3 ", "cpus:2;mem:3"),
        ("disk:0;cpus:1", "cpus:1"),  # empty entries vanish
        ("disk(eng):1000", "disk(eng):1000"),
        ("disk( eng ):1000", "disk(eng):1000"),
        ("cpus:1;cpus(eng):2", "cpus:1;cpus(eng):2"),
        ("ports:[31000-32000]", "ports:[31000-32000]"),
        ("ports:[40000-40010, 31000-32000]", "ports:[31000-32000,40000-40010]"),
        ("ports:[1-2,3-4]", "ports:[1-4]"),  # adjacent ranges coalesce
        ("ports:[1-5,3-8]", "ports:[1-8]"),  # text form coalesces overlaps
        ("ports:[]", ""),
        ("bugs:{b,a}", "bugs:{a,b}"),
        ("bugs:{ a , b }", "bugs:{a,b}"),
        ("bugs:{}", ""),
        ("", ""),
        (
            "gpus:1;mem:1;disk:1;ports:[1-1];cpus:1;zz:1;aa:{x}",
            "cpus:1;gpus:1;mem:1;disk:1;ports:[1-1];aa:{x};zz:1",
        ),
        ("a/b:1", "a/b:1"),
        ("cpus(eng/dev):1", "cpus(eng/dev):1"),
    ],
)
def test_parse_text(text: str, expected_repr: str) -> None:
    assert repr(P(text)) == expected_repr


def test_parse_example_from_flag_docs() -> None:
    r = P("cpus:8;mem:16384;disk(eng):1000;ports:[31000-32000,40000-40010];bugs:{a,b}")
    assert r.scalar("cpus") == 8.0
    assert r.scalar("disk") == 1000.0
    assert r.scalar("gpus") == 0.0
    assert r.ranges("ports") == [(31000, 32000), (40000, 40010)]
    assert r.set_items("bugs") == {"a", "b"}
    assert r.names() == {"cpus", "mem", "disk", "ports", "bugs"}
    assert r.reserved("eng") == P("disk(eng):1000")
    assert r.unreserved() == P("cpus:8;mem:16384;ports:[31000-32000,40000-40010];bugs:{a,b}")


def test_default_role_applies_to_unqualified_entries() -> None:
    r = P("cpus:2;mem(*):10;disk(ops):5", default_role="eng")
    assert r == P("cpus(eng):2;mem:10;disk(ops):5")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("cpus:-1", "negative"),
        ("cpus:abc", "'cpus'"),
        ("cpus:nan", "'cpus'"),
        ("cpus:inf", "'cpus'"),
        ("cpus:0.0001", "precision"),
        ("cpus", "name:value"),
        ("cpus:1:2", "name:value"),
        ("cpus:", "name:value"),
        (":1", "empty name"),
        ("(eng):1", "empty name"),
        ("cpus(eng:1", "parentheses"),
        ("cpus)eng(:1", "parentheses"),
        ("cpus(eng)x:1", "parentheses"),
        ("cpus():1", "role"),
        ("cpus(-x):1", "role"),
        ("cpus(a//b):1", "role"),
        ("cpus(a/./b):1", "role"),
        ("ports:[32000-31000]", "begin > end"),
        ("ports:[31000-]", "malformed"),
        ("ports:[80]", "malformed"),
        ("ports:[a-b]", "malformed"),
        ("ports:[1-2", "malformed"),
        ("ports:[-1-2]", "malformed"),
        ("ports:[1-2]]", "malformed"),
        ("bugs:{a,b", "malformed"),
        ("bugs:{a,a}", "duplicated"),
        ("cpus:1]", "brackets"),
        ("cpus:1;cpus:[1-2]", "both"),
        ("cpus:1;cpus(eng):{a}", "both"),
        ("[not json", "JSON"),
        ('[{"name": "cpus"}]', "'cpus'"),
    ],
)
def test_parse_rejects(text: str, fragment: str) -> None:
    with pytest.raises(ResourceError) as info:
        P(text)
    assert fragment in str(info.value)


def test_bad_default_role_is_rejected() -> None:
    with pytest.raises(ResourceError):
        P("cpus:1", default_role="")


def test_parse_accepts_json_array_text() -> None:
    text = json.dumps(
        [
            {"name": "cpus", "type": "SCALAR", "scalar": {"value": 4}},
            {"name": "ports", "type": "RANGES", "ranges": {"range": [{"begin": 1, "end": 9}]}},
        ]
    )
    assert P(text) == P("cpus:4;ports:[1-9]")
    assert P(text, default_role="eng") == P("cpus(eng):4;ports(eng):[1-9]")


@pytest.mark.parametrize(
    "role",
    ["*", "eng", "eng/dev", "a.b", "a-b", "x*"],
)
def test_valid_roles(role: str) -> None:
    validate_role(role)


@pytest.mark.parametrize(
    "role",
    ["", "/eng", "eng/", "a//b", ".", "..", "a/../b", "-eng", "a b", "a\tb", "a/*", "a\bb"],
)
def test_invalid_roles(role: str) -> None:
    with pytest.raises(ResourceError):
        validate_role(role)


# -- JSON ---------------------------------------------------------------------

WIRE_EXAMPLE = [
    {
        "name": "cpus",
        "type": "SCALAR",
        "scalar": {"value": 4},
        "role": "*",
        "allocation_info": {"role": "*"},
    },
    {"name": "mem", "type": "SCALAR", "scalar": {"value": 7168}},
    {"name": "ports", "type": "RANGES", "ranges": {"range": [{"begin": 31000, "end": 32000}]}},
    {"name": "zones", "type": "SET", "set": {"item": ["a", "b"]}},
    {
        "name": "cpus",
        "type": "SCALAR",
        "scalar": {"value": 1},
        "reservations": [{"type": "DYNAMIC", "role": "eng", "principal": "ops"}],
    },
]


def test_from_json_reference_example() -> None:
    r = Resources.from_json(WIRE_EXAMPLE)
    assert r.scalar("cpus") == 5.0
    assert r.reserved("eng") == P("cpus(eng):1")
    assert r.allocation_roles() == {"*", ""}
    assert r.allocated_part("*") == P("cpus:4").allocated_to("*")
    assert r.allocated_part(None) == P("mem:7168;ports:[31000-32000];zones:{a,b};cpus(eng):1")


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ({"name": "cpus", "type": "SCALAR", "scalar": {"value": "1.5"}}, "cpus:1.5"),
        ({"name": "cpus", "type": "SCALAR", "scalar": {"value": 0}}, ""),
        ({"name": "cpus", "type": "SCALAR", "scalar": {"value": 2}, "unknown": 1}, "cpus:2"),
        (
            {"name": "p", "type": "RANGES", "ranges": {"range": [{"begin": "5", "end": "6"}]}},
            "p:[5-6]",
        ),
        (
            {"name": "p", "type": "RANGES", "ranges": {"range": [{"begin": 5.0, "end": 6}]}},
            "p:[5-6]",
        ),
        ({"name": "p", "type": "RANGES", "ranges": {}}, ""),
        (
            {
                "name": "p",
                "type": "RANGES",
                "ranges": {"range": [{"begin": 3, "end": 4}, {"begin": 1, "end": 2}]},
            },
            "p:[1-4]",
        ),
        ({"name": "s", "type": "SET", "set": {}}, ""),
        ({"name": "d", "type": "SCALAR", "scalar": {"value": 1}, "role": "eng"}, "d(eng):1"),
        (
            {
                "name": "d",
                "type": "SCALAR",
                "scalar": {"value": 1},
                "role": "eng",
                "reservations": [{"type": "STATIC", "role": "eng"}],
            },
            "d(eng):1",
        ),
        (
            {
                "name": "d",
                "type": "SCALAR",
                "scalar": {"value": 1},
                "reservations": [{"role": "a"}, {"role": "a/b"}],
            },
            "d(a/b):1",
        ),
    ],
)
def test_from_json_accepts(item: dict, expected: str) -> None:
    assert Resources.from_json([item]) == P(expected)


@pytest.mark.parametrize(
    ("item", "fragment"),
    [
        ({"name": "cpus", "type": "SCALAR", "scalar": {"value": -1}}, "negative"),
        ({"name": "cpus", "type": "SCALAR", "scalar": {"value": float("nan")}}, "finite"),
        ({"name": "cpus", "type": "SCALAR", "scalar": {"value": float("inf")}}, "finite"),
        ({"name": "cpus", "type": "SCALAR", "scalar": {"value": "NaN"}}, "finite"),
        ({"name": "cpus", "type": "SCALAR", "scalar": {"value": "Infinity"}}, "finite"),
        ({"name": "cpus", "type": "SCALAR", "scalar": {"value": "lots"}}, "finite"),
        ({"name": "cpus", "type": "SCALAR", "scalar": {"value": True}}, "not a number"),
        ({"name": "cpus", "type": "SCALAR", "scalar": {"value": None}}, "not a number"),
        ({"name": "cpus", "type": "SCALAR", "scalar": {}}, "no value"),
        ({"name": "cpus", "type": "SCALAR", "scalar": 3}, "object"),
        ({"name": "cpus", "type": "SCALAR"}, "exactly"),
        (
            {"name": "cpus", "type": "SCALAR", "scalar": {"value": 1}, "set": {"item": []}},
            "exactly",
        ),
        ({"name": "cpus", "type": "RANGES", "scalar": {"value": 1}}, "exactly"),
        ({"name": "cpus", "type": "TEXT", "text": {"value": "x"}}, "type"),
        ({"name": "cpus", "scalar": {"value": 1}}, "type"),
        ({"name": "", "type": "SCALAR", "scalar": {"value": 1}}, "no name"),
        ({"type": "SCALAR", "scalar": {"value": 1}}, "no name"),
        (
            {"name": "p", "type": "RANGES", "ranges": {"range": [{"begin": 9, "end": 1}]}},
            "begin > end",
        ),
        (
            {
                "name": "p",
                "type": "RANGES",
                "ranges": {"range": [{"begin": 1, "end": 5}, {"begin": 3, "end": 8}]},
            },
            "overlapping",
        ),
        (
            {"name": "p", "type": "RANGES", "ranges": {"range": [{"begin": -1, "end": 1}]}},
            "0..2^64-1",
        ),
        (
            {"name": "p", "type": "RANGES", "ranges": {"range": [{"begin": 1.5, "end": 2}]}},
            "integer",
        ),
        ({"name": "p", "type": "RANGES", "ranges": {"range": [{"begin": 1}]}}, "begin and end"),
        ({"name": "p", "type": "RANGES", "ranges": {"range": "1-2"}}, "array"),
        ({"name": "s", "type": "SET", "set": {"item": ["a", "a"]}}, "duplicated"),
        ({"name": "s", "type": "SET", "set": {"item": [1]}}, "strings"),
        ({"name": "d", "type": "SCALAR", "scalar": {"value": 1}, "role": ""}, "role"),
        ({"name": "d", "type": "SCALAR", "scalar": {"value": 1}, "role": 5}, "string"),
        (
            {
                "name": "d",
                "type": "SCALAR",
                "scalar": {"value": 1},
                "role": "a",
                "reservations": [{"role": "b"}],
            },
            "disagrees",
        ),
        (
            {"name": "d", "type": "SCALAR", "scalar": {"value": 1}, "reservations": [{}]},
            "reservations",
        ),
        (
            {"name": "d", "type": "SCALAR", "scalar": {"value": 1}, "allocation_info": {}},
            "allocation_info",
        ),
        (
            {
                "name": "d",
                "type": "SCALAR",
                "scalar": {"value": 1},
                "allocation_info": {"role": "a b"},
            },
            "allocation_info",
        ),
    ],
)
def test_from_json_rejects(item: dict, fragment: str) -> None:
    with pytest.raises(ResourceError) as info:
        Resources.from_json([item])
    assert fragment in str(info.value)


@pytest.mark.parametrize("bad", ["cpus:1", {"name": "cpus"}, [1], ["cpus"]])
def test_from_json_rejects_non_arrays(bad: object) -> None:
    with pytest.raises(ResourceError):
        Resources.from_json(bad)  # type: ignore[arg-type]


def test_from_json_rejects_mixed_types_for_one_name() -> None:
    with pytest.raises(ResourceError, match="both"):
        Resources.from_json(
            [
                {"name": "x", "type": "SCALAR", "scalar": {"value": 1}},
                {"name": "x", "type": "SET", "set": {"item": ["a"]}, "role": "eng"},
            ]
        )


def test_to_json_shape() -> None:
    r = P("cpus:1.5;disk(eng):10;ports:[5-6,1-2];bugs:{b,a}").allocated_to("eng")
    assert r.to_json() == [
        {
            "name": "cpus",
            "type": "SCALAR",
            "scalar": {"value": 1.5},
            "allocation_info": {"role": "eng"},
        },
        {
            "name": "disk",
            "type": "SCALAR",
            "scalar": {"value": 10},
            "role": "eng",
            "reservations": [{"type": "STATIC", "role": "eng"}],
            "allocation_info": {"role": "eng"},
        },
        {
            "name": "ports",
            "type": "RANGES",
            "ranges": {"range": [{"begin": 1, "end": 2}, {"begin": 5, "end": 6}]},
            "allocation_info": {"role": "eng"},
        },
        {
            "name": "bugs",
            "type": "SET",
            "set": {"item": ["a", "b"]},
            "allocation_info": {"role": "eng"},
        },
    ]
    assert P("cpus:1").to_json() == [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 1}}]


@pytest.mark.parametrize(
    ("text", "flat"),
    [
        ("", {"cpus": 0, "gpus": 0, "mem": 0, "disk": 0}),
        (
            "cpus:1.5;mem:1024;ports:[31010-31010,31000-31005];bugs:{b,a}",
            {
                "cpus": 1.5,
                "gpus": 0,
                "mem": 1024,
                "disk": 0,
                "ports": "[31000-31005, 31010-31010]",
                "bugs": "{a, b}",
            },
        ),
        (
            "cpus:1;cpus(eng):0.5;ports:[1-2];ports(eng):[3-4]",
            {"cpus": 1.5, "gpus": 0, "mem": 0, "disk": 0, "ports": "[1-4]"},
        ),
    ],
)
def test_to_flat(text: str, flat: dict) -> None:
    assert P(text).to_flat() == flat
    assert list(P(text).to_flat())[:4] == ["cpus", "gpus", "mem", "disk"]


def test_to_flat_sums_allocation_roles() -> None:
    r = P("cpus:1").allocated_to("a") + P("cpus:2").allocated_to("b")
    assert r.to_flat()["cpus"] == 3


# -- arithmetic ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "total"),
    [
        ("cpus:1", "cpus:2", "cpus:3"),
        ("cpus:0.1", "cpus:0.2", "cpus:0.3"),  # no float drift
        ("cpus:1", "mem:2", "cpus:1;mem:2"),
        ("cpus:1", "cpus(eng):2", "cpus:1;cpus(eng):2"),
        ("ports:[1-5]", "ports:[6-9]", "ports:[1-9]"),
        ("ports:[1-5]", "ports:[3-9]", "ports:[1-9]"),
        ("bugs:{a}", "bugs:{b}", "bugs:{a,b}"),
        ("", "cpus:1", "cpus:1"),
    ],
)
def test_add(a: str, b: str, total: str) -> None:
    assert P(a) + P(b) == P(total)
    assert P(b) + P(a) == P(total)


def test_total_is_the_sum_and_leaves_its_bags_alone() -> None:
    bags = [P("cpus:0.001;ports:[1-5]"), P("cpus:0.001;mem:16;ports:[6-9]")] * 500
    assert Resources.total(bags) == sum(bags, Resources())
    assert Resources.total(bags) == P("cpus:1;mem:8000;ports:[1-9]")
    assert bags[0] == P("cpus:0.001;ports:[1-5]")
    assert Resources.total([]) == Resources()


def test_add_keeps_exact_thousandths() -> None:
    total = Resources()
    for _ in range(1000):
        total = total + P("cpus:0.001")
    assert total == P("cpus:1")
    assert total.scalar("cpus") == 1.0


@pytest.mark.parametrize(
    ("a", "b", "left"),
    [
        ("cpus:3", "cpus:1", "cpus:2"),
        ("cpus:3", "cpus:3", ""),
        ("cpus:0.3", "cpus:0.1", "cpus:0.2"),
        ("cpus:1;mem:2", "mem:2", "cpus:1"),
        ("ports:[1-9]", "ports:[3-4]", "ports:[1-2,5-9]"),
        ("ports:[1-9]", "ports:[1-1,9-9]", "ports:[2-8]"),
        ("ports:[1-5,10-20]", "ports:[2-3,11-11,20-20]", "ports:[1-1,4-5,10-10,12-19]"),
        ("bugs:{a,b}", "bugs:{a}", "bugs:{b}"),
        ("cpus:1", "", "cpus:1"),
    ],
)
def test_sub(a: str, b: str, left: str) -> None:
    assert P(a) - P(b) == P(left)
    assert P(a).contains(P(b))


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("cpus:1", "cpus:2"),
        ("cpus:1", "mem:1"),
        ("cpus:1", "cpus(eng):1"),
        ("cpus(eng):1", "cpus:1"),
        ("ports:[1-5]", "ports:[5-6]"),
        ("ports:[1-5,7-9]", "ports:[5-7]"),
        ("bugs:{a}", "bugs:{b}"),
        ("x:1", "x:[1-1]"),
    ],
)
def test_sub_not_contained(a: str, b: str) -> None:
    assert not P(a).contains(P(b))
    with pytest.raises(ResourceError) as info:
        P(a) - P(b)
    assert P(b).names() <= set(str(info.value).replace("(", ":").replace(":", " ").split())


def test_allocation_info_is_part_of_identity() -> None:
    plain = P("cpus:1")
    offered = plain.allocated_to("eng")
    assert offered != plain
    assert not plain.contains(offered)
    assert offered.unallocated() == plain
    assert offered.allocated_to("ops") == plain.allocated_to("ops")
    assert (offered + plain.allocated_to("ops")).unallocated() == P("cpus:2")
    with pytest.raises(ResourceError):
        plain.allocated_to("bad role")


def test_allocatable_to_includes_ancestor_reservations() -> None:
    r = P("cpus:1;cpus(eng):2;cpus(eng/dev):3;cpus(ops):4")
    assert r.allocatable_to("eng/dev") == P("cpus:1;cpus(eng):2;cpus(eng/dev):3")
    assert r.allocatable_to("eng") == P("cpus:1;cpus(eng):2")
    assert r.allocatable_to("*") == P("cpus:1")
    assert r.reservation_roles() == {"eng", "eng/dev", "ops"}
    assert r.reserved_by_role() == {
        "eng": P("cpus(eng):2"),
        "eng/dev": P("cpus(eng/dev):3"),
        "ops": P("cpus(ops):4"),
    }
    assert r.reserved() == P("cpus(eng):2;cpus(eng/dev):3;cpus(ops):4")


def test_quantities() -> None:
    r = P("cpus:1.5;cpus(eng):1;ports:[1-10,20-29];bugs:{a,b}")
    assert r.scalar_quantities() == {"cpus": 2.5}
    assert dict(r.scalar_milli()) == {"cpus": 2500}
    assert dict(r.quantities_milli()) == {"cpus": 2500, "ports": 20000, "bugs": 2000}


def test_bool_and_eq() -> None:
    assert not Resources()
    assert not P("cpus:0")
    assert P("cpus:1")
    assert Resources() == P("")
    assert P("cpus:1") != "cpus:1"
    with pytest.raises(TypeError):
        hash(P("cpus:1"))


def test_repr_of_allocated_resources_names_the_role() -> None:
    assert repr(P("cpus(eng):1").allocated_to("eng")) == "cpus(eng)(allocated: eng):1"


# -- properties ---------------------------------------------------------------

_names = st.sampled_from(["cpus", "mem", "disk", "gpus", "foo"])
_range_names = st.sampled_from(["ports", "ephemeral"])
_set_names = st.sampled_from(["bugs", "zones"])
_roles = st.sampled_from(["*", "*", "eng", "eng/dev", "ops"])


@st.composite
def resources(draw: st.DrawFn, side: int = 0) -> Resources:
    """Random resources; different `side`s never share a port or a set item.

    Ranges and sets add as unions, so ``(a + b) - b == a`` needs them disjoint.
    """
    base = side * 1000
    ranges = st.lists(
        st.tuples(st.integers(base, base + 200), st.integers(0, 20)).map(
            lambda t: (t[0], t[0] + t[1])
        ),
        max_size=4,
    )
    letters = "abc" if side == 0 else "xyz"
    parts = []
    for name in draw(st.sets(_names, max_size=3)):
        value = draw(st.integers(0, 100_000)) / 1000
        parts.append(f"{name}({draw(_roles)}):{value}")
    for name in draw(st.sets(_range_names, max_size=2)):
        text = ",".join(f"{b}-{e}" for b, e in draw(ranges))
        parts.append(f"{name}({draw(_roles)}):[{text}]")
    for name in draw(st.sets(_set_names, max_size=2)):
        items = draw(st.sets(st.text(letters, min_size=1, max_size=3), max_size=4))
        parts.append(f"{name}({draw(_roles)}):{{{','.join(items)}}}")
    return P(";".join(parts))


@given(resources(), resources(side=1))
def test_prop_add_then_sub(a: Resources, b: Resources) -> None:
    assert (a + b) - b == a
    assert (a + b).contains(a)
    assert (a + b).contains(b)


@given(resources())
def test_prop_contains_self(a: Resources) -> None:
    assert a.contains(a)
    assert a.contains(Resources())
    assert not a - a


@given(resources())
def test_prop_text_round_trip(a: Resources) -> None:
    assert P(repr(a)) == a


@given(resources(), st.sampled_from(["*", "eng", "ops"]))
def test_prop_json_round_trip(a: Resources, alloc: str) -> None:
    assert Resources.from_json(a.to_json()) == a
    assert Resources.from_json(json.loads(json.dumps(a.to_json()))) == a
    offered = a.allocated_to(alloc)
    assert Resources.from_json(offered.to_json()) == offered
    assert offered.unallocated() == a


@given(resources(), resources(side=1))
def test_prop_scalar_totals_are_exact(a: Resources, b: Resources) -> None:
    total = a + b
    for name in total.scalar_milli():
        assert math.isclose(total.scalar(name), a.scalar(name) + b.scalar(name))
        assert total.scalar_milli()[name] == a.scalar_milli().get(name, 0) + b.scalar_milli().get(
            name, 0
        )


@given(resources(), resources())
def test_prop_contains_agrees_with_sub(a: Resources, b: Resources) -> None:
    if a.contains(b):
        assert (a - b) + b == a
    else:
        with pytest.raises(ResourceError):
            a - b
