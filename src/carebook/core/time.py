"""Time: UTC instants, IANA zones, wall-clock times and the one rule for DST edges.

The rule for a wall-clock time on a change day ("compatible" disambiguation, as in RFC 5545 and
JavaScript's Temporal): a time that does not exist (skipped by spring-forward) moves forward by
the length of the gap, so 02:30 on a day that jumps 02:00→03:00 means 03:30; a time that occurs
twice (fall-back) means its first occurrence, the earlier instant.
"""

from __future__ import annotations

import re
import zoneinfo
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo

# Zones come from the pinned tzdata package only, never from the machine's own tz database
# (/usr/share/zoneinfo): the same rules on every machine give the same answers, and names that
# directory holds besides IANA zones are unknown: "localtime" (the server's own zone),
# "posixrules", the "right/" leap-second variants.
zoneinfo.reset_tzpath(to=())
ZoneInfo.clear_cache()
IANA_ZONES = frozenset(zoneinfo.available_timezones())


class UnknownTimeZone(ValueError):
    pass


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    """The IANA zone called ``name``; raises :class:`UnknownTimeZone` for anything else."""
    if name not in IANA_ZONES:  # tzdata's own list: every name in it loads
        raise UnknownTimeZone(name)
    return ZoneInfo(name)


def is_valid_zone(name: str) -> bool:
    try:
        zone(name)
    except UnknownTimeZone:
        return False
    return True


def localize(wall: datetime, tz: tzinfo) -> datetime:
    """The UTC instant of the naive wall-clock time ``wall`` in ``tz``, by the module's rule."""
    assert wall.tzinfo is None, "localize takes a naive wall-clock time"
    first = wall.replace(tzinfo=tz, fold=0)
    second = wall.replace(tzinfo=tz, fold=1)
    first_utc = first.astimezone(UTC)
    second_utc = second.astimezone(UTC)
    if first_utc.astimezone(tz).replace(tzinfo=None) == wall:
        # The wall time exists; if it occurs twice, fold=0 is its first occurrence.
        return first_utc
    # A gap: fold=0 uses the offset before the change, which lands past the gap by its length.
    return max(first_utc, second_utc)


def local_datetime(day: date, at: time, tz: tzinfo) -> datetime:
    """The UTC instant of wall-clock ``at`` on local ``day`` in ``tz``."""
    return localize(datetime.combine(day, at), tz)


def to_utc(value: datetime, tz: tzinfo) -> datetime:
    """An instant from input: aware values keep their offset, naive ones are local to ``tz``."""
    if value.tzinfo is None or value.utcoffset() is None:
        return localize(value, tz)
    return value.astimezone(UTC)


def utc_now() -> datetime:
    return datetime.now(UTC)


# The dates and date-times the APIs take for scheduling lie in the years 1900 to 8999, as written
# (a date-time's own date, in its own offset or, without one, in local time). Python's datetime
# ends at years 1 and 9999, and the core computes around what it is given: a zone's offset, a few
# days either side for closures and working hours, months ahead in a slot search. Centuries of
# margin keep every such step in range, whatever zone or offset is involved, while any real
# appointment, check-in or search lies well inside; and from 1900 every zone keeps a standard
# time, not its local mean time.
EARLIEST_YEAR = 1900
LATEST_YEAR = 8999
OUT_OF_RANGE = f"must lie in the years {EARLIEST_YEAR} to {LATEST_YEAR}"


def in_range(value: date) -> bool:
    """Whether ``value`` (a date, or a date-time as written) lies in the years the APIs take."""
    return EARLIEST_YEAR <= value.year <= LATEST_YEAR


# %-formatting rather than strftime: it is on every instant of every answer, and several times
# faster.
_UTC_FORMAT = "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ"


def format_utc(value: datetime) -> str:
    """``2026-03-02T15:00:00.000Z``: UTC with milliseconds, as NexHealth writes instants."""
    v = value.astimezone(UTC)
    return _UTC_FORMAT % (v.year, v.month, v.day, v.hour, v.minute, v.second, v.microsecond // 1000)


def format_local(value: datetime, tz: tzinfo) -> str:
    """``2026-03-02T10:00:00.000-05:00``: local wall time with the offset in force then."""
    local = value.astimezone(tz)
    offset = local.strftime("%z")
    return (
        local.strftime("%Y-%m-%dT%H:%M:%S.")
        + f"{local.microsecond // 1000:03d}"
        + f"{offset[:3]}:{offset[3:]}"
    )


def offset_minutes(value: datetime, tz: tzinfo) -> int:
    """The UTC offset of ``tz`` at instant ``value``, in minutes (east positive)."""
    delta = value.astimezone(tz).utcoffset()
    assert delta is not None
    return int(delta.total_seconds() // 60)


def format_offset(value: datetime, tz: tzinfo) -> str:
    """NexHealth's ``timezone_offset``: ``-4:00``, ``+5:30``, ``+0:00``."""
    minutes = offset_minutes(value, tz)
    sign = "-" if minutes < 0 else "+"
    hours, mins = divmod(abs(minutes), 60)
    return f"{sign}{hours}:{mins:02d}"


def local_date(value: datetime, tz: tzinfo) -> date:
    return value.astimezone(tz).date()


def day_bounds(day: date, tz: tzinfo) -> tuple[datetime, datetime]:
    """The UTC instants at which local ``day`` starts and the next day starts."""
    return local_datetime(day, time(0), tz), local_datetime(day + timedelta(days=1), time(0), tz)


_NOT_A_DATETIME = "must be an ISO 8601 date-time, e.g. 2026-03-02T10:00:00-05:00"
# The time of day after the date: hours, minutes, seconds (extended or basic form), a fraction
# only after the seconds, then an offset or none. ``datetime.fromisoformat`` alone is laxer in
# ways that misread: it takes "10.5" (half past ten in ISO 8601) as ten o'clock and half a
# second, and lets through offsets with seconds and spaces before the offset.
_TIME_OF_DAY = re.compile(
    r"\d{2}(?::\d{2}(?::\d{2}(?:[.,]\d+)?)?|\d{2}(?:\d{2}(?:[.,]\d+)?)?)?"
    r"(?:[Zz]|[+-]\d{2}(?::?\d{2})?)?"
)


def parse_datetime(text: str) -> datetime:
    """Any ISO 8601 date-time (``Z``, ``+00:00``, ``+0000``, any fraction digits after the
    seconds, or no offset).

    A bare date is refused: a booking needs a time; so is a fraction of an hour or a minute,
    which Python would read as a fraction of a second. The result is naive when the text has no
    offset; the caller decides whose local time that is.
    """
    value = text.strip()
    at = next((i for i in range(8, len(value)) if value[i] in "Tt "), None)
    if at is None or _TIME_OF_DAY.fullmatch(value, at + 1) is None:
        raise ValueError(_NOT_A_DATETIME)
    if value[-1] == "z":
        value = value[:-1] + "Z"
    try:
        return datetime.fromisoformat(value)
    except ValueError as error:
        raise ValueError(_NOT_A_DATETIME) from error
