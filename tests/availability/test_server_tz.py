"""Results never depend on the server's own time zone (``TZ``)."""

from __future__ import annotations

import os
import time as systime
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
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


@settings(max_examples=25, deadline=None)
@given(
    st.sampled_from(ZONES),
    st.dates(date(2026, 1, 1), date(2027, 12, 24)),
    st.integers(0, 22),
    st.integers(1, 6),
)
@pytest.mark.usefixtures("restore_tz")
def test_engine_answers_the_same_under_any_server_tz(
    name: str, first: date, begin_hour: int, hours: int
) -> None:
    begin, end = time(begin_hour), time(min(begin_hour + hours, 23), 30)
    answers = []
    for server in SERVER_ZONES:
        use_server_tz(server)
        answers.append(search(name, first, begin, end))
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
