"""Results never depend on the server's own time zone (``TZ``)."""

from __future__ import annotations

import os
import time as systime
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from carebook.core.availability.intervals import normalize
from carebook.core.availability.rules import HoursRule, expand
from carebook.core.availability.slots import Resource, find_slots
from carebook.core.time import zone
from tests.availability.helpers import add_appointment, add_hours, next_weekday, slots
from tests.support import Api

SERVER_ZONES = ["UTC", "America/New_York", "Asia/Kolkata", "Pacific/Chatham", "America/St_Johns"]
ZONES = ["America/New_York", "Europe/Berlin", "Australia/Sydney", "Pacific/Auckland"]


def use_server_tz(name: str) -> None:
    os.environ["TZ"] = name
    systime.tzset()


@pytest.fixture
def restore_tz() -> Iterator[None]:
    saved = os.environ.get("TZ")
    yield
    if saved is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = saved
    systime.tzset()


def search(name: str, first: date, begin: time, end: time) -> list[Any]:
    tz = zone(name)
    hours = normalize(
        expand(HoursRule(begin, end, weekdays=frozenset(range(7))), first, first + timedelta(7), tz)
    )
    busy = normalize([(hours[0][0], hours[0][0] + timedelta(minutes=20))]) if hours else []
    found = find_slots(
        [Resource(None, hours, busy)],
        blocked=[],
        length=timedelta(minutes=15),
        interval=timedelta(minutes=15),
        not_before=datetime(2026, 1, 1, tzinfo=UTC),
    )
    return [(s.start.astimezone(tz).isoformat(), s.end.isoformat()) for s in found]


def first_slot(name: str, first: date, begin: time, end: time) -> tuple[str, str]:
    """What :func:`search` must offer first, worked out with the standard library: the hours of
    ``first`` (``fold=0`` reads a wall time skipped by DST with the offset before the gap, which
    moves it forward by the gap: the house rule) less their first 20 busy minutes leave the
    15-minute grid's third start; if that slot does not fit before the end (hours shortened by a
    gap), the next day's hours begin with a free slot."""
    tz = ZoneInfo(name)
    slot = timedelta(minutes=15)
    for days in range(2):
        day = first + timedelta(days=days)
        low = datetime.combine(day, begin, tzinfo=tz).astimezone(UTC)
        high = datetime.combine(day, end, tzinfo=tz).astimezone(UTC)
        start = low + 2 * slot if days == 0 else low
        if start + slot <= high:
            return start.astimezone(tz).isoformat(), (start + slot).isoformat()
    raise AssertionError("hours of at least 90 wall-clock minutes hold a slot on the second day")


@settings(max_examples=25, deadline=None)
@given(
    st.sampled_from(ZONES),
    # From January 2: every local day then starts after ``search``'s ``not_before``.
    st.dates(date(2026, 1, 2), date(2027, 12, 24)),
    st.integers(0, 22),
    st.integers(1, 6),
)
# DST change days: New York and Berlin spring forward at 02:00 (hours from 02:00 to 03:30 are
# one wall-clock half hour: no slot after the busy 20 minutes) and fall back.
@example("America/New_York", date(2026, 3, 8), 2, 1)
@example("Europe/Berlin", date(2026, 3, 29), 2, 1)
@example("America/New_York", date(2026, 11, 1), 1, 1)
@example("Pacific/Auckland", date(2026, 4, 5), 2, 2)
@pytest.mark.usefixtures("restore_tz")
def test_engine_answers_the_same_under_any_server_tz(
    name: str, first: date, begin_hour: int, hours: int
) -> None:
    begin, end = time(begin_hour), time(min(begin_hour + hours, 23), 30)
    answers = []
    for server in SERVER_ZONES:
        use_server_tz(server)
        answers.append(search(name, first, begin, end))
    assert answers[0][0] == first_slot(name, first, begin, end)
    assert all(answer == answers[0] for answer in answers)


@pytest.mark.anyio
@pytest.mark.usefixtures("restore_tz")
async def test_http_search_answers_the_same_under_any_server_tz(api: Api) -> None:
    clinic = await api.clinic()
    p0 = clinic.provider_ids[0]
    monday = next_weekday(0)
    await add_hours(api, clinic, location_id=clinic.op_location_id, provider_id=p0, end="12:00")
    await add_appointment(
        api,
        clinic,
        location_id=clinic.op_location_id,
        provider_id=p0,
        operatory_id=clinic.operatory_ids[0],
        patient_id=clinic.patient_ids[0],
        start=datetime.combine(monday, time(9), tzinfo=zone("Europe/Berlin")),
        minutes=45,
    )
    answers = []
    for server in SERVER_ZONES:
        use_server_tz(server)
        response = await slots(
            api,
            clinic,
            start_date=monday.isoformat(),
            days=3,
            **{"lids[]": clinic.op_location_id, "pids[]": p0},
        )
        assert response.status_code == 200
        answers.append(response.json())
    first = datetime.combine(monday, time(9, 45), tzinfo=zone("Europe/Berlin"))
    assert answers[0]["data"][0]["slots"][0]["time"] == first.isoformat(timespec="milliseconds")
    assert all(answer == answers[0] for answer in answers)
