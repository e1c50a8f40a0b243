"""``carebook.core.time``: zones, the DST rule, formatting and parsing (pure; fully covered)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone

import pytest

from carebook.core import time as t

NEW_YORK = t.zone("America/New_York")
KOLKATA = t.zone("Asia/Kolkata")


@pytest.mark.parametrize(
    "name",
    [
        "",
        " America/New_York",
        "/etc/passwd",
        "../x",
        "Mars/Olympus",
        "America/New_York/x",
        # In the machine's /usr/share/zoneinfo, but not IANA zones: the server's own zone, the
        # POSIX default rules, a leap-second variant, the tables.
        "localtime",
        "posixrules",
        "right/America/New_York",
        "posix/America/New_York",
        "zone1970.tab",
        "tzdata.zi",
    ],
)
def test_unknown_zones_are_refused(name: str) -> None:
    with pytest.raises(t.UnknownTimeZone):
        t.zone(name)
    assert t.is_valid_zone(name) is False


KOLKATA_OFFSET = timezone(timedelta(hours=5, minutes=30))


def test_known_zone() -> None:
    assert t.is_valid_zone("Europe/Berlin") is True
    assert t.zone("Europe/Berlin") is t.zone("Europe/Berlin")
    assert t.is_valid_zone("US/Eastern") is True  # IANA's backward-compatible links too


def test_zones_come_from_the_pinned_tzdata_package_only() -> None:
    import zoneinfo
    from importlib.metadata import version

    assert zoneinfo.TZPATH == ()
    assert "America/New_York" in t.IANA_ZONES
    assert len(t.IANA_ZONES) > 500
    assert version("tzdata")  # installed: the rules every machine uses
    for name in t.IANA_ZONES:  # every name listed loads
        assert t.zone(name).key == name


def test_skipped_wall_time_moves_forward_by_the_gap() -> None:
    # 2026-03-08: New York jumps from 02:00 EST to 03:00 EDT.
    assert t.localize(datetime(2026, 3, 8, 2, 30), NEW_YORK) == datetime(
        2026, 3, 8, 7, 30, tzinfo=UTC
    )  # = 03:30 EDT


def test_repeated_wall_time_is_its_first_occurrence() -> None:
    # 2026-11-01: 01:00-02:00 happens twice; the first is EDT (-4).
    assert t.localize(datetime(2026, 11, 1, 1, 30), NEW_YORK) == datetime(
        2026, 11, 1, 5, 30, tzinfo=UTC
    )


def test_ordinary_wall_time() -> None:
    assert t.local_datetime(date(2026, 7, 1), time(9, 0), NEW_YORK) == datetime(
        2026, 7, 1, 13, 0, tzinfo=UTC
    )


def test_to_utc_keeps_offsets_and_localizes_naive_values() -> None:
    aware = datetime(2026, 7, 1, 9, 0, tzinfo=timezone(timedelta(hours=2)))
    assert t.to_utc(aware, NEW_YORK) == datetime(2026, 7, 1, 7, 0, tzinfo=UTC)
    assert t.to_utc(datetime(2026, 7, 1, 9, 0), NEW_YORK) == datetime(2026, 7, 1, 13, 0, tzinfo=UTC)


def test_utc_now_is_aware() -> None:
    assert t.utc_now().tzinfo is UTC


def test_formats() -> None:
    instant = datetime(2026, 3, 2, 15, 0, 0, 123456, tzinfo=UTC)
    assert t.format_utc(instant) == "2026-03-02T15:00:00.123Z"
    assert t.format_local(instant, NEW_YORK) == "2026-03-02T10:00:00.123-05:00"
    assert t.format_local(instant, KOLKATA) == "2026-03-02T20:30:00.123+05:30"
    assert t.format_offset(instant, NEW_YORK) == "-5:00"
    assert t.format_offset(instant, KOLKATA) == "+5:30"
    assert t.format_offset(instant, UTC) == "+0:00"
    assert t.offset_minutes(datetime(2026, 7, 1, tzinfo=UTC), NEW_YORK) == -240
    assert t.local_date(datetime(2026, 7, 1, 2, 0, tzinfo=UTC), NEW_YORK) == date(2026, 6, 30)


def test_day_bounds_on_a_23_hour_day() -> None:
    start, end = t.day_bounds(date(2026, 3, 8), NEW_YORK)
    assert start == datetime(2026, 3, 8, 5, 0, tzinfo=UTC)
    assert end - start == timedelta(hours=23)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-02T10:00:00Z", datetime(2026, 3, 2, 10, 0, tzinfo=UTC)),
        ("2026-03-02T10:00:00+0000", datetime(2026, 3, 2, 10, 0, tzinfo=UTC)),
        (
            "2026-02-03T21:03:34.4822474-06:00",
            datetime(2026, 2, 3, 21, 3, 34, 482247, tzinfo=timezone(timedelta(hours=-6))),
        ),
        (" 2026-03-02 10:00 ", datetime(2026, 3, 2, 10, 0)),
        ("2026-03-02t10:00:00z", datetime(2026, 3, 2, 10, 0, tzinfo=UTC)),
        ("2026-03-02T10:00:00,25Z", datetime(2026, 3, 2, 10, 0, 0, 250000, tzinfo=UTC)),
        ("20260302T1000Z", datetime(2026, 3, 2, 10, 0, tzinfo=UTC)),
        ("2026-03-02T10+05:30", datetime(2026, 3, 2, 10, 0, tzinfo=KOLKATA_OFFSET)),
    ],
)
def test_parse_datetime(text: str, expected: datetime) -> None:
    assert t.parse_datetime(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "2026-03-02",
        "2026-13-02T10:00:00",
        "tomorrow at ten",
        "",
        "2026-03-02T",
        # Fractions of an hour or a minute (Python alone reads them as fractions of a second).
        "2026-03-02T10.5",
        "2026-03-02T10,5Z",
        "2026-03-02T10:15.75+01:00",
        # An empty fraction, an offset with seconds, a space before the offset.
        "2026-03-02T10:00:00.Z",
        "2026-03-02T10:00:00+05:30:00",
        "2026-03-02 10:00:00 +05:00",
    ],
)
def test_parse_datetime_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="must be an ISO 8601 date-time"):
        t.parse_datetime(text)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (date(1899, 12, 31), False),
        (date(1900, 1, 1), True),
        (date(8999, 12, 31), True),
        (date(9000, 1, 1), False),
        (datetime(1899, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=-12))), False),
        (datetime(1900, 1, 1, 0, 0, tzinfo=timezone(timedelta(hours=14))), True),
        (datetime(8999, 12, 31, 23, 59), True),
        (datetime(9000, 1, 1, 0, 0, tzinfo=timezone(timedelta(hours=-14))), False),
        (datetime(1, 1, 1, tzinfo=UTC), False),
        (datetime(9999, 12, 31, 23, 59), False),
    ],
)
def test_in_range(value: date, expected: bool) -> None:
    assert t.in_range(value) is expected


@pytest.mark.parametrize(
    "wall",
    [
        datetime(1900, 1, 1, 0, 0),
        datetime(8999, 12, 31, 23, 59, 59, 999999),
    ],
)
@pytest.mark.parametrize("offset_hours", [-23.99, -12, 0, 14, 23.99])
@pytest.mark.parametrize("zone_name", ["Pacific/Kiritimati", "Etc/GMT+12", "America/New_York"])
def test_values_in_range_leave_room_for_the_cores_arithmetic(
    wall: datetime, offset_hours: float, zone_name: str
) -> None:
    """The bound's point: from any value it lets in, naive or with any offset Python parses,
    the instant in any zone and a few days either side of it are still representable."""
    tz = t.zone(zone_name)
    for value in (wall, wall.replace(tzinfo=timezone(timedelta(hours=offset_hours)))):
        assert t.in_range(value)
        instant = t.to_utc(value, tz)
        local = t.local_date(instant, tz)
        assert t.day_bounds(local - timedelta(days=3), tz)[0] < instant
        assert instant < t.day_bounds(local + timedelta(days=365), tz)[1]
