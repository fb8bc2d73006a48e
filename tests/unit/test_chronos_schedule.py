"""Chronos schedule math with a fake clock: ISO 8601 repeating intervals, zones, epsilon."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mesos_py.chronos.schedule import (
    UTC,
    ScheduleError,
    last_at_or_before,
    next_due,
    parse_schedule,
)

NOW = dt.datetime(2024, 6, 1, 12, 0, 0, tzinfo=UTC)
EPS = dt.timedelta(seconds=60)


def utc(*fields: int) -> dt.datetime:
    return dt.datetime(*fields, tzinfo=UTC)


def test_parse_forever_count_and_start():
    s = parse_schedule("R/2024-01-01T00:00:00Z/PT10S", "", NOW)
    assert s.repetitions is None
    assert s.start == utc(2024, 1, 1)
    assert s.occurrence(3) == utc(2024, 1, 1, 0, 0, 30)
    assert parse_schedule("R5/2024-01-01T00:00:00Z/PT10S", "", NOW).repetitions == 5
    assert parse_schedule("R0/2024-01-01T00:00:00Z/PT10S", "", NOW).repetitions == 0


def test_empty_start_is_one_second_ago():
    assert parse_schedule("R//PT1M", "", NOW).start == NOW - dt.timedelta(seconds=1)


def test_format_round_trips():
    s = parse_schedule("R3/2024-01-01T00:00:00.250Z/P1DT2H", "", NOW)
    assert s.format() == "R3/2024-01-01T00:00:00.250Z/P1DT2H"
    assert parse_schedule(s.format(), "", NOW) == s


@pytest.mark.parametrize(
    "text, why",
    [
        ("garbage", "expected R[n]"),
        ("R/notadate/PT1S", "start"),
        ("R/2024-01-01T00:00:00Z/1S", "expected R[n]"),
        ("R/2024-01-01T00:00:00Z/PXYZ", "Cannot parse period"),
        ("R/2024-01-01T00:00:00Z/PT0S", "must be positive"),
        ("R/1969-12-31T00:00:00Z/PT1S", "before 1970"),
        ("Rx/2024-01-01T00:00:00Z/PT1S", "expected R[n]"),
    ],
)
def test_malformed_schedules_say_why(text, why):
    with pytest.raises(ScheduleError) as info:
        parse_schedule(text, "", NOW)
    assert why in str(info.value)


def test_unknown_zone():
    with pytest.raises(ScheduleError, match="Unknown scheduleTimeZone 'Mars/Olympus'"):
        parse_schedule("R/2024-01-01T00:00:00Z/P1D", "Mars/Olympus", NOW)


def test_zone_keeps_the_wall_clock_and_overrides_the_offset():
    s = parse_schedule("R/2024-01-01T09:00:00+05:00/P1D", "America/New_York", NOW)
    assert s.start.astimezone(UTC) == utc(2024, 1, 1, 14)  # 09:00 EST


def test_calendar_days_keep_local_time_across_dst():
    # New York moves to EDT on 2024-03-10: 09:00 local is 14:00 UTC before, 13:00 after.
    s = parse_schedule("R/2024-03-09T09:00:00/P1D", "America/New_York", NOW)
    assert [s.occurrence(i).astimezone(UTC).hour for i in range(3)] == [14, 13, 13]
    assert all(s.occurrence(i).hour == 9 for i in range(3))


def test_hours_are_elapsed_time_across_dst():
    s = parse_schedule("R/2024-03-09T09:00:00/PT24H", "America/New_York", NOW)
    assert s.occurrence(1).astimezone(UTC) == utc(2024, 3, 10, 14)  # 10:00 EDT
    assert s.occurrence(1).hour == 10


def test_months_do_not_drift():
    s = parse_schedule("R/2024-01-31T00:00:00Z/P1M", "", NOW)
    assert [s.occurrence(i).date() for i in range(4)] == [
        dt.date(2024, 1, 31),
        dt.date(2024, 2, 29),
        dt.date(2024, 3, 31),
        dt.date(2024, 4, 30),
    ]


def test_due_within_epsilon_runs_late_older_ones_are_skipped():
    s = parse_schedule("R/2024-06-01T11:00:00Z/PT10M", "", NOW)
    due = next_due(s, NOW + dt.timedelta(seconds=30), EPS)
    assert due.instant == NOW and due.index == 6


def test_every_instant_within_epsilon_runs_in_turn():
    s = parse_schedule("R/2024-06-01T11:59:00Z/PT10S", "", NOW)
    due = next_due(s, NOW + dt.timedelta(seconds=5), EPS)  # 11:59:05 is 60 s late
    assert due.instant == utc(2024, 6, 1, 11, 59, 10)
    after = next_due(s.advanced_past(due.index), NOW + dt.timedelta(seconds=5), EPS)
    assert after.instant == utc(2024, 6, 1, 11, 59, 20)


def test_missed_by_more_than_epsilon_is_skipped():
    s = parse_schedule("R/2024-06-01T11:00:00Z/PT10M", "", NOW)
    due = next_due(s, NOW + dt.timedelta(seconds=61), EPS)
    assert due.instant == NOW + dt.timedelta(minutes=10) and due.index == 7


def test_future_start_waits():
    s = parse_schedule("R/2024-06-02T00:00:00Z/PT1H", "", NOW)
    due = next_due(s, NOW, EPS)
    assert due.index == 0 and due.instant == utc(2024, 6, 2)


def test_repetitions_run_out():
    s = parse_schedule("R3/2024-06-01T11:59:00Z/PT20S", "", NOW)
    assert next_due(s, NOW, EPS).index == 0  # exactly epsilon late: still runs
    assert next_due(s, NOW + dt.timedelta(seconds=1), EPS).index == 1
    assert next_due(s, NOW + dt.timedelta(seconds=21), EPS).index == 2
    assert next_due(s, NOW + dt.timedelta(seconds=41), EPS) is None  # all three missed
    advanced = s.advanced_past(2)
    assert advanced.repetitions == 0
    assert next_due(advanced, NOW, EPS) is None


def test_r0_never_runs():
    assert next_due(parse_schedule("R0/2024-06-01T12:00:00Z/PT1S", "", NOW), NOW, EPS) is None


def test_advancing_counts_down_and_moves_the_start():
    s = parse_schedule("R5/2024-06-01T12:00:00Z/PT1M", "", NOW)
    a = s.advanced_past(1)
    assert a.repetitions == 3 and a.start == utc(2024, 6, 1, 12, 2)
    assert a.format() == "R3/2024-06-01T12:02:00.000Z/PT1M"


def test_far_future_overflow_is_exhausted():
    s = parse_schedule("R/9999-01-01T00:00:00Z/P1Y", "", NOW)
    assert next_due(s, utc(9999, 6, 1), EPS) is None


periods = st.sampled_from(["PT1S", "PT7S", "PT1M", "PT90M", "P1D", "PT24H", "P1W", "P1M", "P1Y"])
zones = st.sampled_from(["", "UTC", "America/New_York", "Europe/Berlin", "Australia/Lord_Howe"])


@settings(max_examples=300, deadline=None)
@given(
    period=periods,
    zone=zones,
    start=st.datetimes(dt.datetime(2000, 1, 1), dt.datetime(2030, 1, 1)),
    offset=st.floats(0, 3 * 365 * 86400),
    eps=st.integers(0, 7200),
)
def test_next_due_is_the_right_occurrence(period, zone, start, offset, eps):
    s = parse_schedule(f"R/{start.isoformat()}/{period}", zone, NOW)
    now = s.start.astimezone(UTC) + dt.timedelta(seconds=offset)
    epsilon = dt.timedelta(seconds=eps)
    due = next_due(s, now, epsilon)
    assert due.instant == s.occurrence(due.index)
    latest = last_at_or_before(s, now)
    assert s.occurrence(latest) <= now < s.occurrence(latest + 1)
    if due.instant <= now:  # runs now: at most epsilon late, the earliest such
        assert due.index <= latest and now - due.instant <= epsilon
        assert due.index == 0 or now - s.occurrence(due.index - 1) > epsilon
    else:  # waits: every past one was missed by more than epsilon
        assert due.index == latest + 1 and now - s.occurrence(latest) > epsilon


@settings(max_examples=200, deadline=None)
@given(
    period=periods, zone=zones, start=st.datetimes(dt.datetime(2000, 1, 1), dt.datetime(2030, 1, 1))
)
def test_occurrences_strictly_increase(period, zone, start):
    s = parse_schedule(f"R/{start.isoformat()}/{period}", zone, NOW)
    instants = [s.occurrence(i).astimezone(UTC) for i in range(30)]
    assert instants == sorted(set(instants))
