"""Chronos schedules: ISO 8601 repeating intervals ``R[n]/start/period``, pure.

The datetime and duration grammars are aniso8601's; only Chronos' own wrapper
(``R`` count, an empty start meaning "now - 1 s", ``scheduleTimeZone``) is
handled here.  Times are aware ``datetime`` values; ``now`` is always passed
in, so everything here is driven by plain values and a fake clock in tests.

Arithmetic follows the calendar the way Joda did for Chronos: the years,
months, weeks and days of a period move the wall clock of the schedule's
zone (``P1D`` stays at 09:00 across a DST change), the hours, minutes and
seconds are elapsed time (``PT24H`` is 24 real hours).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, replace
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import aniso8601
from aniso8601.builders import TupleBuilder

UTC = dt.UTC
# Chronos rejects starts before this instant.
EARLIEST_START = dt.datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC)
_SCHEDULE = re.compile(r"R([0-9]*)/(.*)/(P.*)")
# Rough lengths used only to guess an occurrence index before checking it exactly.
_APPROX_MONTH = 30.436875 * 86400
_APPROX_YEAR = 365.2425 * 86400


class ScheduleError(ValueError):
    """A schedule (or its time zone) that cannot be used; the message says why."""


@dataclass(frozen=True)
class Period:
    """An ISO 8601 duration split into calendar and elapsed parts."""

    text: str
    years: int
    months: int
    days: int
    elapsed: dt.timedelta  # hours, minutes, seconds

    def approx_seconds(self) -> float:
        return (
            self.years * _APPROX_YEAR
            + self.months * _APPROX_MONTH
            + self.days * 86400
            + self.elapsed.total_seconds()
        )


@dataclass(frozen=True)
class Schedule:
    """``repetitions`` None repeats for ever; 0 means no run is left."""

    repetitions: int | None
    start: dt.datetime  # aware, in ``zone`` when one is set
    period: Period
    zone: dt.tzinfo | None = None

    def occurrence(self, index: int) -> dt.datetime:
        """The ``index``-th instant (0 is ``start``), computed from ``start`` (no drift)."""
        p = self.period
        wall = self.start.replace(tzinfo=None)
        months = wall.month - 1 + (p.years * 12 + p.months) * index
        year, month = wall.year + months // 12, months % 12 + 1
        day = min(wall.day, _days_in_month(year, month))
        wall = wall.replace(year=year, month=month, day=day) + dt.timedelta(days=p.days * index)
        local = wall.replace(tzinfo=self.start.tzinfo)
        return (local.astimezone(UTC) + p.elapsed * index).astimezone(self.start.tzinfo)

    def remaining_after(self, index: int) -> int | None:
        """The repetition count once occurrences 0..index are used or skipped."""
        if self.repetitions is None:
            return None
        return max(0, self.repetitions - index - 1)

    def advanced_past(self, index: int) -> Schedule:
        """The schedule whose first instant is the one after occurrence ``index``."""
        return replace(
            self, repetitions=self.remaining_after(index), start=self.occurrence(index + 1)
        )

    def format(self) -> str:
        count = "" if self.repetitions is None else str(self.repetitions)
        return f"R{count}/{format_instant(self.start)}/{self.period.text}"


def _days_in_month(year: int, month: int) -> int:
    if month == 12:
        return 31
    return (dt.date(year, month + 1, 1) - dt.date(year, month, 1)).days


def format_instant(instant: dt.datetime) -> str:
    """Joda's ISO form with milliseconds; UTC as ``Z``."""
    text = instant.isoformat(timespec="milliseconds")
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def parse_zone(name: str) -> dt.tzinfo | None:
    """A ``scheduleTimeZone`` (IANA name such as America/New_York, or UTC); "" is none."""
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(f"Unknown scheduleTimeZone '{name}'") from None


def _whole(value: str | None, what: str, text: str) -> int:
    if value is None:
        return 0
    try:
        return int(value)
    except ValueError:
        raise ScheduleError(f"Period '{text}': {what} must be a whole number") from None


def parse_period(text: str) -> Period:
    """An ISO 8601 duration, keeping ``PT24H`` (elapsed) apart from ``P1D`` (calendar)."""
    try:
        parts = aniso8601.parse_duration(text, builder=TupleBuilder)
        elapsed = dt.timedelta(
            hours=float(parts.TnH or 0),
            minutes=float(parts.TnM or 0),
            seconds=float(parts.TnS or 0),
        )
    except ValueError as exc:  # aniso8601's ISOFormatError is a ValueError
        raise ScheduleError(f"Cannot parse period '{text}': {exc}") from None
    period = Period(
        text,
        years=_whole(parts.PnY, "years", text),
        months=_whole(parts.PnM, "months", text),
        days=_whole(parts.PnW, "weeks", text) * 7 + _whole(parts.PnD, "days", text),
        elapsed=elapsed,
    )
    if min(period.years, period.months, period.days) < 0 or elapsed < dt.timedelta(0):
        raise ScheduleError(f"Period '{text}' must be positive")
    if period.approx_seconds() <= 0:
        raise ScheduleError(f"Period '{text}' must be positive")
    return period


def parse_schedule(text: str, time_zone: str, now: dt.datetime) -> Schedule:
    """Parse ``R[n]/start/period``; an empty start is ``now - 1 s`` (as in Chronos)."""
    match = _SCHEDULE.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise ScheduleError(
            f"Cannot parse schedule '{text}': expected R[n]/<ISO 8601 start>/<ISO 8601 period>"
        )
    count, start_text, period_text = match.groups()
    zone = parse_zone(time_zone)
    if start_text:
        try:
            start = aniso8601.parse_datetime(start_text)
        except ValueError as exc:
            raise ScheduleError(f"Cannot parse schedule '{text}': start: {exc}") from None
    else:
        start = now - dt.timedelta(seconds=1)
    if zone is not None:
        start = start.replace(tzinfo=zone)  # keep the wall clock, swap in the zone
    elif start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    if start.tzinfo is not None and start.tzinfo is not zone:
        start = start.astimezone(UTC)  # aniso8601's fixed offsets, as plain UTC
    if start < EARLIEST_START:
        raise ScheduleError(f"Schedule '{text}' starts before 1970-01-01T00:00:01Z")
    return Schedule(int(count) if count else None, start, parse_period(period_text), zone)


@dataclass(frozen=True)
class Due:
    """The next instant to run; ``index`` instants before it were run or skipped."""

    index: int  # occurrence index in the schedule it was computed from
    instant: dt.datetime


def last_at_or_before(schedule: Schedule, now: dt.datetime) -> int:
    """The largest index whose occurrence is <= now (-1 when the first is still ahead)."""
    if schedule.start > now:
        return -1
    guess = int((now - schedule.start).total_seconds() // schedule.period.approx_seconds())
    index = max(0, guess)
    while index > 0 and schedule.occurrence(index) > now:
        index -= 1
    while schedule.occurrence(index + 1) <= now:
        index += 1
    return index


def next_due(schedule: Schedule, now: dt.datetime, epsilon: dt.timedelta) -> Due | None:
    """The instant to run next: the earliest one at most ``epsilon`` before ``now``
    (it runs late), else the first one after ``now``.  Instants missed by more
    than epsilon are skipped.  None when the repetitions are used up.
    """
    if schedule.repetitions == 0:
        return None
    try:
        latest = last_at_or_before(schedule, now)
        if schedule.repetitions is not None:
            latest = min(latest, schedule.repetitions - 1)  # the last one there is
        # The first instant not older than now - epsilon.
        oldest = last_at_or_before(schedule, now - epsilon)
        if oldest < 0 or schedule.occurrence(oldest) < now - epsilon:
            oldest += 1
        index = oldest if oldest <= latest else latest + 1
        if schedule.repetitions is not None and index >= schedule.repetitions:
            return None
        return Due(index, schedule.occurrence(index))
    except (OverflowError, ValueError):  # the next instant is past year 9999
        return None
