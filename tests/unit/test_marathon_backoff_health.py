"""Launch backoff (mesos_py.marathon.backoff) and health state (mesos_py.marathon.health), pure."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from mesos_py.marathon.backoff import LaunchBackoff, config_version
from mesos_py.marathon.health import CheckState, is_ready, record, result_json


def app(version="v1", backoff=1.0, factor=2.0, cap=10.0):
    return {
        "id": "/a",
        "version": version,
        "versionInfo": {"lastConfigChangeAt": version, "lastScalingAt": version},
        "backoffSeconds": backoff,
        "backoffFactor": factor,
        "maxLaunchDelaySeconds": cap,
    }


def test_delays_grow_by_the_factor_up_to_the_cap():
    backoff = LaunchBackoff()
    definition = app()
    assert backoff.launch_at(definition) == 0.0
    deadlines = []
    for now in (100.0, 101.0, 103.0, 107.0, 115.0, 125.0):
        backoff.failed(definition, now)
        deadlines.append(backoff.launch_at(definition) - now)
    assert deadlines == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    assert backoff.time_left(definition, 130.0) == 5.0


def test_a_new_configuration_starts_without_delay_but_a_scale_keeps_it():
    backoff = LaunchBackoff()
    backoff.failed(app("v1"), 0.0)
    scaled = {**app("v2"), "versionInfo": {"lastConfigChangeAt": "v1", "lastScalingAt": "v2"}}
    assert config_version(scaled) == "v1"
    assert backoff.launch_at(scaled) == 1.0
    assert backoff.launch_at(app("v3")) == 0.0


def test_reset_and_expiry():
    backoff = LaunchBackoff()
    backoff.failed(app(), 0.0)
    backoff.reset("/a")
    assert backoff.launch_at(app()) == 0.0
    backoff.failed(app(), 0.0)
    backoff.expire(5.0, {"/a": 10.0})
    assert backoff.launch_at(app()) == 1.0
    backoff.expire(20.0, {"/a": 10.0})
    assert backoff.launch_at(app()) == 0.0
    backoff.failed(app(), 0.0)
    backoff.expire(0.0, {})  # the app is gone
    assert backoff.launch_at(app()) == 0.0


def test_a_failure_long_after_the_last_starts_over():
    backoff = LaunchBackoff()
    backoff.failed(app(), 0.0)
    backoff.failed(app(), 1.0)
    backoff.failed(app(), 1000.0)
    assert backoff.launch_at(app()) == 1001.0


@given(st.lists(st.floats(0, 100), min_size=1, max_size=30))
def test_the_delay_never_exceeds_the_cap(gaps):
    backoff = LaunchBackoff()
    now = 0.0
    for gap in gaps:
        now += gap
        backoff.failed(app(), now)
        assert 0 < backoff.launch_at(app()) - now <= 10.0 + 1e-9


CHECK = {"gracePeriodSeconds": 10, "maxConsecutiveFailures": 3}


def test_failures_in_the_grace_period_are_ignored_until_a_success():
    state = CheckState(started_at=100.0)
    assert not record(state, CHECK, 105.0, False).failed
    assert state.alive is None
    outcome = record(state, CHECK, 106.0, True)
    assert outcome.changed and state.alive
    assert record(state, CHECK, 107.0, False).failed  # after a success, failures count


def test_consecutive_failures_ask_for_a_kill():
    state = CheckState(started_at=0.0)
    outcomes = [record(state, CHECK, 20.0 + i, False, "HTTP 500") for i in range(3)]
    assert [o.kill for o in outcomes] == [False, False, True]
    assert [o.changed for o in outcomes] == [True, False, False]
    assert state.consecutive_failures == 3 and state.last_failure_cause == "HTTP 500"
    record(state, CHECK, 30.0, True)
    assert state.consecutive_failures == 0


def test_zero_max_failures_never_kills():
    state = CheckState(started_at=0.0)
    never = {"gracePeriodSeconds": 0, "maxConsecutiveFailures": 0}
    assert not any(record(state, never, 1.0 + i, False).kill for i in range(10))


def test_results_and_readiness():
    state = CheckState(started_at=0.0)
    record(state, CHECK, 1.0, True)
    body = result_json(state, "t1")
    assert body["alive"] and body["firstSuccess"] == "1970-01-01T00:00:01.000Z"
    assert body["lastFailure"] is None and body["taskId"] == "t1"
    assert is_ready([state], True, True)
    assert not is_ready([state], True, False)
    assert not is_ready([], True, True)
    assert is_ready([], False, True)
    assert not is_ready([state, CheckState(started_at=0.0)], True, True)
