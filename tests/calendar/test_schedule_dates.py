"""The Schedule's date strings, checked against the straightforward strftime formulation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from carebook.api.calendar.schedule import aspnet_local, aspnet_utc

ZONES = [
    ZoneInfo(name)
    for name in (
        "America/New_York",
        "Asia/Kolkata",
        "Australia/Lord_Howe",  # a half-hour DST shift
        "America/St_Johns",  # -03:30 / -02:30
        "Pacific/Chatham",  # +12:45 / +13:45
        "UTC",
    )
]

instants = st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2200, 1, 1)).map(
    lambda naive: naive.replace(tzinfo=UTC)
)


def reference_stamp(value: datetime) -> str:
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    if value.microsecond:
        text += f".{value.microsecond:06d}".rstrip("0")
    return text


def reference_local(value: datetime, tz: ZoneInfo) -> str:
    local = value.astimezone(tz)
    offset = local.strftime("%z")
    return reference_stamp(local) + f"{offset[:3]}:{offset[3:]}"


@given(value=instants, tz=st.sampled_from(ZONES))
def test_local_dates_as_json_net_writes_them(value: datetime, tz: ZoneInfo) -> None:
    assert aspnet_local(value, tz) == reference_local(value, tz)


@given(value=instants)
def test_utc_dates(value: datetime) -> None:
    assert aspnet_utc(value) == reference_stamp(value) + "Z"


def test_examples() -> None:
    chicago = ZoneInfo("America/Chicago")
    instant = datetime(2026, 2, 4, 3, 3, 34, tzinfo=UTC)
    assert aspnet_local(instant, chicago) == "2026-02-03T21:03:34-06:00"
    assert aspnet_local(instant + timedelta(microseconds=120_000), chicago) == (
        "2026-02-03T21:03:34.12-06:00"
    )
    assert aspnet_utc(instant) == "2026-02-04T03:03:34Z"
    assert aspnet_local(None, chicago) is None
    assert aspnet_utc(None) is None
