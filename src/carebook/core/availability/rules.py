"""Working-hour rules: local wall-clock ``HH:MM`` to ``HH:MM`` on a rule of days, and how they
become UTC instants.

A rule occurs on a local date when its weekday is listed (``days``), when the date is its
``specific_date``, or when its custom recurrence hits the date. Each occurrence is turned into
instants with :func:`carebook.core.time.local_datetime`, so 09:00 stays 09:00 across a DST change,
and a wall time on a change day follows the one documented rule of ``core/time.py``: a skipped
time moves forward by the gap, a repeated time means its first occurrence. An occurrence whose end
does not come after its start once so resolved (possible only inside a gap) is empty.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, time, timedelta, tzinfo
from functools import lru_cache
from typing import Literal

from carebook.core.availability.intervals import Interval
from carebook.core.time import day_bounds, local_datetime

DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_DAY_INDEX = {name.lower(): index for index, name in enumerate(DAY_NAMES)}
_HHMM = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")

RecurrenceUnit = Literal["day", "week", "month"]
RECURRENCE_UNITS: tuple[RecurrenceUnit, ...] = ("day", "week", "month")


@lru_cache(maxsize=1024)  # a clinic's hours use a handful of distinct times, read on every booking
def parse_hhmm(text: str) -> time | None:
    """``"09:30"`` → 09:30; anything else (``"9:30"``, ``"24:00"``, ``"09:30:00"``) → None."""
    match = _HHMM.fullmatch(text)
    if match is None:
        return None
    return time(int(match.group(1)), int(match.group(2)))


def day_index(name: str) -> int | None:
    """``"Monday"`` (any case) → 0 … ``"Sunday"`` → 6; None for anything else."""
    return _DAY_INDEX.get(name.strip().lower())


@dataclass(frozen=True)
class Recurrence:
    """Every ``num`` days, weeks or months from ``ref`` (never before it). A monthly rule on the
    31st skips months without one."""

    num: int
    unit: RecurrenceUnit
    ref: date

    def hits(self, day: date) -> bool:
        if day < self.ref:
            return False
        if self.unit == "day":
            return (day - self.ref).days % self.num == 0
        if self.unit == "week":
            return (day - self.ref).days % (7 * self.num) == 0
        months = (day.year - self.ref.year) * 12 + day.month - self.ref.month
        return day.day == self.ref.day and months % self.num == 0


@dataclass(frozen=True)
class HoursRule:
    """One working-hour record, reduced to what the slot engine needs."""

    begin: time
    end: time
    weekdays: frozenset[int] = frozenset()
    specific_date: date | None = None
    recurrence: Recurrence | None = None

    def occurs_on(self, day: date) -> bool:
        if self.specific_date is not None:
            return day == self.specific_date
        if self.recurrence is not None:
            return self.recurrence.hits(day)
        return day.weekday() in self.weekdays

    def interval_on(self, day: date, tz: tzinfo) -> Interval | None:
        """The instants this rule covers on local ``day`` (which it must occur on), or None."""
        start = local_datetime(day, self.begin, tz)
        end = local_datetime(day, self.end, tz)
        return (start, end) if start < end else None


def dates(first: date, last: date) -> Iterator[date]:
    """Every date from ``first`` to ``last``, both included."""
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def expand(rule: HoursRule, first: date, last: date, tz: tzinfo) -> list[Interval]:
    """The rule's occurrences on local dates ``first`` … ``last`` (inclusive), in UTC order."""
    result: list[Interval] = []
    for day in dates(first, last):
        if rule.occurs_on(day):
            interval = rule.interval_on(day, tz)
            if interval is not None:
                result.append(interval)
    return result


def closed_intervals(
    closures: Iterable[tuple[date, date]], first: date, last: date, tz: tzinfo
) -> list[Interval]:
    """The instants of the whole local days ``closures`` cover (inclusive ranges), clipped to the
    dates ``first`` … ``last``."""
    result: list[Interval] = []
    for start_date, end_date in closures:
        lo, hi = max(start_date, first), min(end_date, last)
        if lo <= hi:
            result.append((day_bounds(lo, tz)[0], day_bounds(hi, tz)[1]))
    return result
