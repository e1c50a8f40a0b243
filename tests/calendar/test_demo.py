"""The demo: its telehealth set-up is idempotent, and what `make run` prints and the README's
walk-through books, in any order, on any day."""

from __future__ import annotations

import calendar
import re
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

import carebook.demo
from carebook.config import Settings
from carebook.db.tables import Appointment
from carebook.demo import README_WALK_THROUGH_AT, load_demo
from carebook.demo.telehealth import seed_telehealth
from tests.calendar.helpers import URL, future_day
from tests.support import Api

pytestmark = pytest.mark.anyio


async def test_seed_is_idempotent_and_books(api: Api) -> None:
    clinic = await api.clinic("demo")

    async def seed(session: Any) -> dict[str, str]:
        return await seed_telehealth(session, institution_id=clinic.institution_id)

    first = await api.db.write(seed)
    again = await api.db.write(seed)
    assert first == again
    assert sorted(first) == [
        "AccountId",
        "EncounterTypeId",
        "EncounterTypeModeDurationId",
        "PatientId",
        "ProviderId",
        "ServiceId",
        "SpecialityId",
        "UserId",
    ]
    payload = {**first, "AppointmentOn": f"{future_day()}T15:00:00", "Reason": "Check-up"}
    response = await api.client.post(URL, json=payload, headers=clinic.auth)
    assert response.status_code == 200, response.text
    data = response.json()
    assert (data["Duration"], data["VisitMode"], data["PatientId"]) == (
        30,
        "Video",
        first["PatientId"],
    )


async def test_the_demo_curl_body_books(api: Api, settings: Settings) -> None:
    summary = await load_demo(settings)
    again = await load_demo(settings)
    assert again.telehealth == summary.telehealth
    token = await api.token(summary.api_key)
    response = await api.client.post(
        URL, json=summary.telehealth_body(), headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["VisitMode"] == "Video"


async def test_demo_runs_racing_each_other_load_one_demo_with_one_key(
    api: Api, settings: Settings
) -> None:
    # On PostgreSQL each run used to see no demo yet and create it; all but one then failed
    # on the unique subdomain. Each run here has a database connection of its own.
    import asyncio

    from sqlalchemy import func, select

    from carebook.db.tables import ApiKey, Institution

    summaries = await asyncio.gather(*(load_demo(settings) for _ in range(4)))
    assert sorted(s.created for s in summaries) == [False, False, False, True]
    assert {s.api_key for s in summaries} == {
        (settings.var_dir / "demo_api_key").read_text().strip()
    }
    async with api.db.read() as session:
        demos = await session.scalar(
            select(func.count()).select_from(Institution).where(Institution.subdomain == "demo")
        )
        keys = await session.scalar(select(func.count()).select_from(ApiKey))
    assert (demos, keys) == (1, 1)


def _readme_walk_through_time() -> time:
    """The wall time the README's walk-through books (its BOOKING line)."""
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    found = re.search(r"""^BOOKING='.*"start_time": "'\$MONDAY'T(\d\d):(\d\d):00",""", readme, re.M)
    assert found is not None, "the README's walk-through has no BOOKING line this test can read"
    return time(int(found[1]), int(found[2]))


@pytest.mark.parametrize("weekday", range(7), ids=calendar.day_abbr)
async def test_the_printed_bookings_and_the_walk_through_never_meet(
    weekday: int, api: Api, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever the day `make run` runs on, the two bookings it prints, the README's walk-through
    (next Monday) and the demo's own appointments and lunch block are all free of each other:
    pasted in any order after the others, each books."""
    assert _readme_walk_through_time() == README_WALK_THROUGH_AT
    today = datetime.now(UTC).date() + timedelta(days=7)
    today += timedelta(days=(weekday - today.weekday()) % 7)
    # Noon in New York: the demo's day is this date there too.
    monkeypatch.setattr(carebook.demo, "utc_now", lambda: datetime.combine(today, time(17), UTC))
    summary = await load_demo(settings)
    token = await api.token(summary.api_key)
    auth = {"Authorization": f"Bearer {token}"}
    monday = today + timedelta(days=7 - today.weekday())  # the README's python3 one-liner
    walk_through = {
        "appt": {
            "patient_id": summary.patient_id,
            "provider_id": summary.provider_id,
            "start_time": f"{monday}T{README_WALK_THROUGH_AT:%H:%M}:00",
            "appointment_type_id": summary.appointment_type_id,
        }
    }
    appointments = (
        f"/appointments?subdomain=demo&location_id={summary.location_id}&notify_patient=false"
    )
    booked = await api.client.post(appointments, json=walk_through, headers=auth)
    assert booked.status_code == 201, booked.text
    booked = await api.client.post(appointments, json=summary.booking_body(), headers=auth)
    assert booked.status_code == 201, booked.text
    booked = await api.client.post(URL, json=summary.telehealth_body(), headers=auth)
    assert booked.status_code == 200, booked.text
    # ... and the demo's own rows were there all along, provider 1 among them.
    new_york = ZoneInfo("America/New_York")
    async with api.db.read() as session:
        seeded = (
            await session.execute(
                select(Appointment.note, Appointment.provider_id, Appointment.start_at)
                .where(Appointment.note.in_(["Demo appointment", "Lunch"]))
                .order_by(Appointment.id)
            )
        ).all()
    assert [
        (note, provider, f"{start.astimezone(new_york):%H:%M}") for note, provider, start in seeded
    ] == [
        ("Demo appointment", summary.provider_id, "10:00"),
        ("Demo appointment", summary.provider_id + 1, "10:00"),
        ("Lunch", summary.provider_id, "12:00"),
    ]
