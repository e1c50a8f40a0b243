"""One core under two APIs: what one books the other sees, and a slot is taken for both."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from carebook.config import Settings
from carebook.db.repositories import booking_sql
from carebook.db.tables import Appointment, Patient, PortalUser
from tests.calendar.helpers import Tele, body, future_day, post, telehealth_clinic
from tests.support import Api, gate, iso_z

pytestmark = pytest.mark.anyio


def nexhealth_url(tele: Tele) -> str:
    clinic = tele.clinic
    return f"/appointments?subdomain={clinic.subdomain}&location_id={clinic.location_id}"


def nexhealth_body(tele: Tele, start: datetime, patient_index: int = 0) -> dict[str, Any]:
    return {
        "appt": {
            "patient_id": tele.clinic.patient_ids[patient_index],
            "provider_id": tele.clinic.provider_ids[0],
            "start_time": iso_z(start),
            "end_time": iso_z(start + timedelta(minutes=30)),
        }
    }


async def appointment_row(api: Api, guid: str) -> Appointment:
    async with api.db.read() as session:
        return (
            await session.execute(select(Appointment).where(Appointment.guid == guid))
        ).scalar_one()


async def active_count(api: Api, institution_id: int) -> int:
    async with api.db.read() as session:
        result = await session.execute(
            select(func.count())
            .select_from(Appointment)
            .where(
                Appointment.institution_id == institution_id,
                Appointment.cancelled.is_(False),
                Appointment.start_at > datetime.now(UTC),
            )
        )
        return int(result.scalar_one())


async def test_booked_here_is_seen_there(api: Api) -> None:
    tele = await telehealth_clinic(api)
    day = future_day()
    given = f"{day.isoformat()}T09:30:00-05:00"
    response = await post(
        api, tele, body(tele, given, PatientId=tele.dependant, Note="Bring the inhaler")
    )
    assert response.status_code == 200, response.text
    schedule = response.json()
    row = await appointment_row(api, schedule["ID"])
    got = await api.client.get(
        f"/appointments/{row.id}?subdomain={tele.clinic.subdomain}", headers=tele.auth
    )
    assert got.status_code == 200, got.text
    appt = got.json()["data"]["appt"]
    start = datetime.fromisoformat(given).astimezone(UTC)
    assert appt["start_time"] == iso_z(start)
    assert appt["end_time"] == iso_z(start + timedelta(minutes=15))
    # The doctor's wall time (America/Chicago), from zoneinfo: CST or CDT as the day falls.
    chicago = ZoneInfo("America/Chicago")
    local_start = start.astimezone(chicago)
    local_end = (start + timedelta(minutes=15)).astimezone(chicago)
    offset = local_start.utcoffset()
    assert offset is not None
    assert (
        schedule["AppointmentOn"],
        schedule["FromDate"],
        schedule["ToDate"],
        schedule["AppointmentOnUTC"],
        schedule["DoctorOffset"],
    ) == (
        local_start.isoformat(timespec="seconds"),
        local_start.isoformat(timespec="seconds"),
        local_end.isoformat(timespec="seconds"),
        start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        offset // timedelta(minutes=1),
    )
    assert (appt["provider_id"], appt["patient_id"], appt["location_id"]) == (
        tele.clinic.provider_ids[0],
        tele.ids["dependant"],
        tele.clinic.location_id,
    )
    assert appt["appointment_type_id"] == tele.ids["consult"]
    assert appt["is_guardian"] is True
    assert appt["note"] == "Bring the inhaler"
    assert appt["created_by_user_id"] == tele.ids["user"]
    assert appt["misc"] == {"is_booked_on_carebook": True, "booked_via": "calendar"}
    assert appt["patient"]["first_name"] == "Lucia"
    assert appt["patient"]["guarantor_id"] == tele.ids["guardian"]
    assert appt["provider_name"] == schedule["Doctor"] == "Pat0 Doctor"


async def test_slot_taken_there_is_taken_here(api: Api) -> None:
    tele = await telehealth_clinic(api)
    day = future_day()
    start = datetime.fromisoformat(f"{day.isoformat()}T14:00:00+00:00")
    taken = await api.client.post(
        nexhealth_url(tele), json=nexhealth_body(tele, start), headers=tele.auth
    )
    assert taken.status_code == 201, taken.text
    row_id = taken.json()["data"]["appt"]["id"]
    async with api.db.read() as session:
        guid = (
            await session.execute(select(Appointment.guid).where(Appointment.id == row_id))
        ).scalar_one()
    # Fifteen minutes into the NexHealth booking: overlaps it.
    response = await post(api, tele, body(tele, f"{day.isoformat()}T09:15:00-05:00"))
    assert response.status_code == 409
    local = (start + timedelta(minutes=15)).astimezone(ZoneInfo("America/Chicago"))
    offset = local.strftime("%z")
    assert response.json() == {
        "Message": f"The time {local.strftime('%Y-%m-%dT%H:%M:%S.000')}{offset[:3]}:{offset[3:]} "
        f"is not available: it overlaps the provider's appointment {guid}."
    }
    # Right after it: free.
    response = await post(api, tele, body(tele, f"{day.isoformat()}T09:30:00-05:00"))
    assert response.status_code == 200, response.text


async def test_slot_taken_here_is_taken_there(api: Api) -> None:
    tele = await telehealth_clinic(api)
    day = future_day()
    response = await post(api, tele, body(tele, f"{day.isoformat()}T10:00:00-05:00"))
    assert response.status_code == 200, response.text
    row = await appointment_row(api, response.json()["ID"])
    start = datetime.fromisoformat(f"{day.isoformat()}T14:50:00+00:00")
    clash = await api.client.post(
        nexhealth_url(tele), json=nexhealth_body(tele, start), headers=tele.auth
    )
    assert clash.status_code == 409
    assert clash.json()["error"] == [
        f"the requested time overlaps the provider's appointment {row.id}"
    ]


async def _third_user(api: Api, tele: Tele) -> str:
    async def build(session: Any) -> str:
        iid = tele.clinic.institution_id
        user = PortalUser(institution_id=iid, email="c@x.test", first_name="C", last_name="X")
        session.add(user)
        await session.flush()
        patient = Patient(institution_id=iid, first_name="C", last_name="X", portal_user_id=user.id)
        session.add(patient)
        await session.flush()
        user.self_patient_id = patient.id
        return str(user.guid)

    result: str = await api.db.write(build)
    return result


async def _race(api: Api, tele: Tele, day_offset: int) -> list[Any]:
    third = await _third_user(api, tele)
    day = future_day(day_offset)
    start = datetime.fromisoformat(f"{day.isoformat()}T15:00:00+00:00")
    given = start.isoformat()
    calendar_bodies = [
        body(tele, given),
        body(tele, given, PatientId=tele.dependant),
        body(tele, given, UserId=third),
    ]
    tasks = [post(api, tele, b) for b in calendar_bodies] + [
        api.client.post(nexhealth_url(tele), json=nexhealth_body(tele, start, i), headers=tele.auth)
        for i in range(3)
    ]
    # Interleave the two APIs.
    order = [0, 3, 1, 4, 2, 5]
    responses = await asyncio.gather(*(tasks[i] for i in order))
    return [(i < 3, r) for i, r in zip(order, responses, strict=True)]


@pytest.mark.parametrize("day_offset", [20, 21])
async def test_concurrent_bookings_through_both_apis_give_one_success(
    api: Api, day_offset: int
) -> None:
    """Six bookings of one slot through both APIs at once. On SQLite this is the serialized
    case: every write is ``BEGIN IMMEDIATE`` behind the writers' lock, so they queue and each
    later one finds the first in the way. On PostgreSQL they run side by side as they come (the
    race forced at the insert is :func:`test_the_database_decides_races_between_the_apis`)."""
    tele = await telehealth_clinic(api)
    results = await _race(api, tele, day_offset)
    statuses = Counter(r.status_code for _, r in results)
    assert statuses in ({200: 1, 409: 5}, {201: 1, 409: 5}), [r.text for _, r in results]
    for calendar, response in results:
        if response.status_code != 409:
            continue
        data = response.json()
        if calendar:
            assert list(data) == ["Message"]
            assert "is not available: it overlaps the provider's appointment" in data["Message"]
        else:
            assert data["code"] is False
            assert data["error"][0].startswith(
                "the requested time overlaps the provider's appointment"
            )
    assert await active_count(api, tele.clinic.institution_id) == 1


@pytest.mark.postgres_only
async def test_the_database_decides_races_between_the_apis(
    api: Api, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both APIs' common bookings run on the driver path, whose insert on PostgreSQL makes no
    probe: only the exclusion constraints stand between them. Five bookings of one slot (two
    Calendar, three NexHealth; five patients, one provider) are held at that insert until all
    have reached it, then let go together: exactly one is written, and each other one, refused
    by the constraint and redone on the session path, is a 409 naming the winner in its API's
    shape."""
    assert settings.async_database_url.startswith("postgresql")
    tele = await telehealth_clinic(api)
    third = await _third_user(api, tele)
    racers = 5
    arrived = gate(monkeypatch, booking_sql, racers)
    start = datetime.fromisoformat(f"{future_day(22).isoformat()}T15:00:00+00:00")
    calendar = [body(tele, start.isoformat()), body(tele, start.isoformat(), UserId=third)]
    tasks = [post(api, tele, b) for b in calendar] + [
        api.client.post(nexhealth_url(tele), json=nexhealth_body(tele, start, i), headers=tele.auth)
        for i in range(3)
    ]
    responses = await asyncio.gather(*(tasks[i] for i in (0, 2, 1, 3, 4)))
    by_api = list(zip((True, False, True, False, False), responses, strict=True))
    async with api.db.read() as session:
        rows = (
            await session.execute(
                select(Appointment.id, Appointment.guid, Appointment.patient_id).where(
                    Appointment.institution_id == tele.clinic.institution_id,
                    Appointment.id != tele.ids["referred"],
                )
            )
        ).all()
        third_patient = (
            await session.execute(
                select(PortalUser.self_patient_id).where(PortalUser.guid == third)
            )
        ).scalar_one()
    assert third_patient is not None
    # Every racer reached the insert: the two Calendar patients and the three NexHealth ones.
    assert sorted(arrived) == sorted(
        [tele.ids["guardian"], third_patient, *tele.clinic.patient_ids[:3]]
    )
    assert len(rows) == 1, rows
    winner_id, winner_guid, winner_patient = rows[0]
    assert winner_patient in arrived
    won = [(cal, r) for cal, r in by_api if r.status_code != 409]
    assert [(cal, r.status_code) for cal, r in won] in ([(True, 200)], [(False, 201)]), [
        r.text for _, r in by_api
    ]
    local = start.astimezone(ZoneInfo("America/Chicago"))
    offset = local.strftime("%z")
    calendar_refusal = {
        "Message": f"The time {local.strftime('%Y-%m-%dT%H:%M:%S.000')}{offset[:3]}:{offset[3:]} "
        f"is not available: it overlaps the provider's appointment {winner_guid}."
    }
    message = f"the requested time overlaps the provider's appointment {winner_id}"
    nexhealth_refusal = {
        "code": False,
        "description": message,
        "error": [message],
        "data": None,
        "count": None,
    }
    for cal, response in by_api:
        if response.status_code == 409:
            assert response.json() == (calendar_refusal if cal else nexhealth_refusal)
    assert await active_count(api, tele.clinic.institution_id) == 1
