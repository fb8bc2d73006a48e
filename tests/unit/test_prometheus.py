"""The Prometheus text encoder, checked with prometheus_client's own parser."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from mesos_py.common.prometheus import (
    Histogram,
    Metric,
    counter,
    encode,
    gauge,
    state_set,
)


def parse(metrics):
    return {f.name: f for f in text_string_to_metric_families(encode(metrics).decode())}


def samples(family):
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for s in family.samples}


def test_gauges_counters_and_labels_round_trip():
    parsed = parse(
        [
            gauge("up", "Whether it is up.", 1),
            gauge("tasks", "Tasks by state.", {("state", "TASK_RUNNING"): 3, ("state", "X"): 0}),
            counter("offers_total", "Offers.", 12),
            gauge("pairs", "Two labels.", {(("a", "1"), ("b", "2")): 0.25}),
        ]
    )
    assert samples(parsed["up"]) == {("up", ()): 1.0}
    assert parsed["tasks"].type == "gauge"
    assert samples(parsed["tasks"]) == {
        ("tasks", (("state", "TASK_RUNNING"),)): 3.0,
        ("tasks", (("state", "X"),)): 0.0,
    }
    assert parsed["offers"].type == "counter"  # the parser drops _total from the family
    assert samples(parsed["offers"]) == {("offers_total", ()): 12.0}
    assert samples(parsed["pairs"]) == {("pairs", (("a", "1"), ("b", "2"))): 0.25}


# Parsers trim HELP text (and split it on a bare CR), so help texts are generated without those.
HELP_TEXTS = st.text(max_size=40).filter(lambda t: t == t.strip() and "\r" not in t)


@given(st.text(max_size=40), HELP_TEXTS)
def test_any_label_value_and_help_text_survive_escaping(value, help_text):
    parsed = parse([gauge("g", help_text, {("name", value): 1})])
    assert parsed["g"].documentation == help_text
    assert samples(parsed["g"]) == {("g", (("name", value),)): 1.0}


@given(st.floats(allow_nan=False) | st.integers(-(2**60), 2**60).map(float))
def test_values_round_trip(value):
    (sample,) = parse([gauge("g", "v", value)])["g"].samples
    assert sample.value == value


def test_nan_and_infinities():
    parsed = parse([gauge("g", "v", {("k", "nan"): math.nan, ("k", "inf"): math.inf})])
    values = {s.labels["k"]: s.value for s in parsed["g"].samples}
    assert math.isnan(values["nan"]) and values["inf"] == math.inf


def test_histogram_buckets_are_cumulative_with_sum_and_count():
    histogram = Histogram([0.1, 1, 10])
    for value in (0.05, 0.1, 0.5, 3, 30):
        histogram.observe(value)
    family = parse([histogram.metric("latency_seconds", "Latency.")])["latency_seconds"]
    assert family.type == "histogram"
    values = samples(family)
    assert values[("latency_seconds_bucket", (("le", "0.1"),))] == 2  # le is inclusive
    assert values[("latency_seconds_bucket", (("le", "1"),))] == 3
    assert values[("latency_seconds_bucket", (("le", "10"),))] == 4
    assert values[("latency_seconds_bucket", (("le", "+Inf"),))] == 5
    assert values[("latency_seconds_count", ())] == 5
    assert values[("latency_seconds_sum", ())] == pytest.approx(33.65)


def test_state_set_marks_only_the_current_state():
    family = parse([state_set("zk", "Session.", "state", ["CONNECTED", "LOST"], "LOST")])["zk"]
    assert {s.labels["state"]: s.value for s in family.samples} == {"CONNECTED": 0, "LOST": 1}


@pytest.mark.parametrize(
    "build",
    [
        lambda: Metric("bad-name", "gauge", "x"),
        lambda: Metric("ok", "nonsense", "x"),
        lambda: encode([gauge("g", "x", {("bad-label", "v"): 1})]),
        lambda: encode([gauge("g", "x", 1), gauge("g", "y", 2)]),
        lambda: Histogram([1, 0.5]),
    ],
)
def test_malformed_families_are_refused(build):
    with pytest.raises(ValueError):
        build()


def test_nothing_encodes_to_an_empty_body():
    assert encode([]) == b""
