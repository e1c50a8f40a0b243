"""``is_past_patient``: whether the patient booked has an active appointment that has started.

For a guardian booking that is the dependant's own history, not the guardian's: a dependant
matched by name (NexHealth ``is_guardian``) or named by id (the Calendar API's ``PatientId``) is
a past patient as any patient booked directly is; one created by the booking is new.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from carebook.db.tables import Appointment
from tests.calendar.helpers import body, future_day, telehealth_clinic
from tests.calendar.helpers import post as calendar_post
from tests.support import Api, Clinic, future, iso_z

pytestmark = pytest.mark.anyio

KID = {"first_name": "Kid", "last_name": "Patient", "bio": {"date_of_birth": "2015-01-01"}}


async def book(api: Api, clinic: Clinic, days: int, **fields: Any) -> dict[str, Any]:
    start = future(days=days)
    appt = {
        "patient_id": clinic.patient_ids[0],
        "provider_id": clinic.provider_ids[0],
        "start_time": iso_z(start),
        "end_time": iso_z(start + timedelta(minutes=30)),
        **fields,
    }
    response = await api.client.post(
        f"/appointments?subdomain={clinic.subdomain}&location_id={clinic.location_id}",
        json={"appt": appt},
        headers=clinic.auth,
    )
    assert response.status_code == 201, response.text
    got: dict[str, Any] = response.json()["data"]["appt"]
    return got


async def add_past(api: Api, clinic: Clinic, patient_id: int, days: int, **flags: Any) -> None:
    """An appointment of ``patient_id`` that started ``days`` ago, written directly."""
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=days)

    async def add(session: Any) -> None:
        session.add(
            Appointment(
                institution_id=clinic.institution_id,
                location_id=clinic.location_id,
                provider_id=clinic.provider_ids[1],
                patient_id=patient_id,
                start_at=start,
                end_at=start + timedelta(minutes=30),
                booked_via="nexhealth",
                **flags,
            )
        )

    await api.db.write(add)


async def stored_past_patient(api: Api, appointment_ids: list[int]) -> list[tuple[int, bool]]:
    async with api.db.read() as session:
        rows = await session.execute(
            select(Appointment.id, Appointment.is_past_patient)
            .where(Appointment.id.in_(appointment_ids))
            .order_by(Appointment.id)
        )
        return [(row.id, row.is_past_patient) for row in rows]


async def test_a_guardian_booking_counts_the_dependants_own_history(api: Api) -> None:
    clinic = await api.clinic()
    guardian = clinic.patient_ids[0]
    days_ago = iter(range(30, 40))

    async def past(patient_id: int, **flags: Any) -> None:
        await add_past(api, clinic, patient_id, next(days_ago), **flags)

    # The guardian has been seen before; that says nothing about the dependant.
    await past(guardian)
    assert (await book(api, clinic, 10))["is_past_patient"] is True
    created = await book(api, clinic, 11, is_guardian=True, patient=KID)
    kid = created["patient_id"]
    assert kid != guardian
    assert created["is_past_patient"] is False
    # Matched again: the kid's only appointment has not started yet.
    matched = await book(api, clinic, 12, is_guardian=True, patient=KID)
    assert (matched["patient_id"], matched["is_past_patient"]) == (kid, False)
    # A cancelled or deleted appointment in the past does not count.
    await past(kid, cancelled=True)
    await past(kid, deleted=True)
    not_yet = await book(api, clinic, 13, is_guardian=True, patient=KID)
    assert (not_yet["patient_id"], not_yet["is_past_patient"]) == (kid, False)
    # An active one does, whether the kid is booked by the guardian or directly.
    await past(kid)
    seen = await book(api, clinic, 14, is_guardian=True, patient=KID)
    assert (seen["patient_id"], seen["is_past_patient"]) == (kid, True)
    direct = await book(api, clinic, 15, patient_id=kid)
    assert (direct["patient_id"], direct["is_past_patient"]) == (kid, True)
    # A new dependant of a guardian seen before is new.
    sibling = {**KID, "first_name": "Sibling"}
    other = await book(api, clinic, 16, is_guardian=True, patient=sibling)
    assert other["patient_id"] not in (kid, guardian)
    assert other["is_past_patient"] is False
    answers = [created, matched, not_yet, seen, direct, other]
    got = [
        (
            await api.client.get(
                f"/appointments/{a['id']}?subdomain={clinic.subdomain}", headers=clinic.auth
            )
        ).json()["data"]["appt"]
        for a in answers
    ]
    assert got == answers
    assert await stored_past_patient(api, [a["id"] for a in answers]) == [
        (a["id"], a["is_past_patient"]) for a in answers
    ]


async def test_a_calendar_booking_of_a_dependant_counts_the_dependants_history(api: Api) -> None:
    """The telehealth clinic's dependant has an appointment that started 30 days ago; the
    guardian (the user's own patient) has none."""
    tele = await telehealth_clinic(api)
    day = future_day(10).isoformat()
    for hour, patient in ((9, tele.dependant), (10, tele.guardian)):
        response = await calendar_post(
            api, tele, body(tele, f"{day}T{hour:02d}:00:00-05:00", PatientId=patient)
        )
        assert response.status_code == 200, response.text
    async with api.db.read() as session:
        rows = await session.execute(
            select(Appointment.patient_id, Appointment.is_guardian, Appointment.is_past_patient)
            .where(Appointment.booked_via == "calendar", Appointment.start_at > datetime.now(UTC))
            .order_by(Appointment.id)
        )
        booked = [tuple(row) for row in rows]
    assert booked == [
        (tele.ids["dependant"], True, True),
        (tele.ids["guardian"], False, False),
    ]
