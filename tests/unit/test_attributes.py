"""Agent attributes: ``--attributes`` parsing and the flat state form."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mesos_py.common.attributes import AttributeSyntaxError, attributes_flat, parse_attributes


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("rack:2", [{"name": "rack", "type": "SCALAR", "scalar": {"value": 2}}]),
        ("load:0.5", [{"name": "load", "type": "SCALAR", "scalar": {"value": 0.5}}]),
        ("os:ubuntu", [{"name": "os", "type": "TEXT", "text": {"value": "ubuntu"}}]),
        ("zone:us-east-1a", [{"name": "zone", "type": "TEXT", "text": {"value": "us-east-1a"}}]),
        # Mesos reads negative numbers, NaN and infinities as text, not scalars.
        ("t:-5", [{"name": "t", "type": "TEXT", "text": {"value": "-5"}}]),
        ("t:nan", [{"name": "t", "type": "TEXT", "text": {"value": "nan"}}]),
        ("t:1e999", [{"name": "t", "type": "TEXT", "text": {"value": "1e999"}}]),
        # Spaces inside values are dropped, as Mesos does.
        ("os:ubuntu 22", [{"name": "os", "type": "TEXT", "text": {"value": "ubuntu22"}}]),
        # Only the first ':' separates name from value.
        ("url:http://x", [{"name": "url", "type": "TEXT", "text": {"value": "http://x"}}]),
        (
            "zone:[1-10]",
            [{"name": "zone", "type": "RANGES", "ranges": {"range": [{"begin": 1, "end": 10}]}}],
        ),
        (
            "z:[5-6,1-2,3-4]",
            [{"name": "z", "type": "RANGES", "ranges": {"range": [{"begin": 1, "end": 6}]}}],
        ),
        ("tags:{b,a}", [{"name": "tags", "type": "SET", "set": {"item": ["a", "b"]}}]),
        ("", []),
        (";;", []),
        (
            "rack:2;os:ubuntu\nzone:[1-10];tags:{a,b}",
            [
                {"name": "rack", "type": "SCALAR", "scalar": {"value": 2}},
                {"name": "os", "type": "TEXT", "text": {"value": "ubuntu"}},
                {"name": "zone", "type": "RANGES", "ranges": {"range": [{"begin": 1, "end": 10}]}},
                {"name": "tags", "type": "SET", "set": {"item": ["a", "b"]}},
            ],
        ),
    ],
)
def test_parse(text: str, expected: list) -> None:
    assert parse_attributes(text) == expected


@pytest.mark.parametrize(
    "text",
    ["rack", "rack:", ":2", " :2", "z:[10-1]", "z:[1-]", "z:[1-2", "z:[x-y]", "t:{a", "t:a]"],
)
def test_parse_rejects(text: str) -> None:
    with pytest.raises(AttributeSyntaxError):
        parse_attributes(text)


def test_flat_form() -> None:
    attrs = parse_attributes("rack:2;load:0.5;os:ubuntu;zone:[1-10,20-30];tags:{b,a}")
    assert attributes_flat(attrs) == {
        "rack": 2,
        "load": 0.5,
        "os": "ubuntu",
        "zone": "[1-10, 20-30]",
        "tags": "{a, b}",
    }


def test_flat_form_of_wire_attributes_and_repeats() -> None:
    attrs = [
        {"name": "rack", "type": "SCALAR", "scalar": {"value": 1}},
        {"name": "rack", "type": "SCALAR", "scalar": {"value": 3.0}},
        {"name": "r", "type": "RANGES", "ranges": {"range": [{"begin": 3, "end": 4}]}},
    ]
    assert attributes_flat(attrs) == {"rack": 3, "r": "[3-4]"}
    with pytest.raises(AttributeSyntaxError):
        attributes_flat([{"name": "x", "type": "BLOB"}])


_word = st.text("abcdefgh-_.", min_size=1, max_size=8).filter(lambda w: not w[0].isdigit())


@given(st.dictionaries(st.text("abcdefgh", min_size=1, max_size=5), _word, max_size=5))
def test_prop_text_values_round_trip_through_flat(values: dict[str, str]) -> None:
    text = ";".join(f"{k}:{v}" for k, v in values.items())
    flat = attributes_flat(parse_attributes(text))
    assert set(flat) == set(values)
    for name, value in values.items():
        assert str(flat[name]) == value or float(flat[name]) == float(value)
