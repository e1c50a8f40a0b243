"""Booking edges: a descriptor named twice, and closures on the location's local dates whatever
offset the client writes the times in."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from carebook.db.tables import (
    Appointment,
    AppointmentDescriptor,
    AppointmentDescriptorLink,
    Location,
    LocationClosure,
    ProviderLocation,
)
from tests.support import Api, Clinic

pytestmark = pytest.mark.anyio


async def add_descriptor(api: Api, clinic: Clinic, name: str, code: str) -> int:
    async def work(session: AsyncSession) -> int:
        descriptor = AppointmentDescriptor(
            institution_id=clinic.institution_id,
            location_id=clinic.location_id,
            descriptor_type="Procedure Code",
            name=name,
            code=code,
        )
        session.add(descriptor)
        await session.flush()
        return descriptor.id

    return await api.db.write(work)


def shown(instant: datetime) -> str:
    """A stored instant as NexHealth writes it: UTC, to the millisecond, with ``Z``."""
    utc = instant.astimezone(UTC)
    return f"{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond // 1000:03d}Z"


async def descriptor_json(
    api: Api, clinic: Clinic, descriptor_id: int, name: str, code: str
) -> Any:
    """The descriptor as the appointment answers it: the location the set-up gave it, and its
    stored timestamps."""
    async with api.db.read() as session:
        row = (
            await session.execute(
                select(AppointmentDescriptor).where(AppointmentDescriptor.id == descriptor_id)
            )
        ).scalar_one()
    return {
        "id": descriptor_id,
        "descriptor_type": "Procedure Code",
        "name": name,
        "code": code,
        "location_id": clinic.location_id,
        "foreign_id": None,
        "foreign_id_type": None,
        "data": None,
        "active": True,
        "last_sync_time": None,
        "created_at": shown(row.created_at),
        "updated_at": shown(row.created_at),  # a new row's updated_at is its created_at
    }


async def test_a_descriptor_named_twice_is_linked_once(api: Api) -> None:
    clinic = await api.clinic()
    first = await add_descriptor(api, clinic, "Prophylaxis", "D1110")
    second = await add_descriptor(api, clinic, "Fluoride", "D1206")
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=9)
    response = await api.client.post(
        f"/appointments?subdomain={clinic.subdomain}&location_id={clinic.location_id}",
        json={
            "appt": {
                "patient_id": clinic.patient_ids[0],
                "provider_id": clinic.provider_ids[0],
                "start_time": start.isoformat(),
                "appointment_type_id": clinic.appointment_type_id,
                "descriptor_ids": [second, first, second, first, second],
            }
        },
        headers=clinic.auth,
    )
    assert response.status_code == 201, response.text
    got = response.json()["data"]["appt"]
    descriptors = got["descriptors"]
    assert descriptors == [
        await descriptor_json(api, clinic, first, "Prophylaxis", "D1110"),
        await descriptor_json(api, clinic, second, "Fluoride", "D1206"),
    ]
    read = await api.client.get(
        f"/appointments/{got['id']}?subdomain={clinic.subdomain}", headers=clinic.auth
    )
    assert read.status_code == 200, read.text
    assert read.json()["data"]["appt"] == got
    async with api.db.read() as session:
        links = await session.execute(
            select(
                AppointmentDescriptorLink.appointment_id, AppointmentDescriptorLink.descriptor_id
            )
        )
        assert sorted(links.tuples()) == sorted([(got["id"], first), (got["id"], second)])


async def kiritimati(api: Api, clinic: Clinic, closed: date) -> int:
    """A location at UTC+14 (no DST), where provider 0 works at any time, closed on ``closed``."""

    async def work(session: AsyncSession) -> int:
        location = Location(
            institution_id=clinic.institution_id, name="Line Islands", tz="Pacific/Kiritimati"
        )
        session.add(location)
        await session.flush()
        session.add_all(
            [
                ProviderLocation(
                    institution_id=clinic.institution_id,
                    provider_id=clinic.provider_ids[0],
                    location_id=location.id,
                ),
                LocationClosure(
                    institution_id=clinic.institution_id,
                    location_id=location.id,
                    start_date=closed,
                    end_date=closed,
                ),
            ]
        )
        return location.id

    return await api.db.write(work)


@pytest.mark.parametrize("notify_patient", [False, True])  # the driver path, the session path
async def test_a_closure_on_the_local_end_date_is_seen_whatever_the_clients_offset(
    api: Api, notify_patient: bool
) -> None:
    """23:59 at UTC-12 on day D is 01:59 on D+2 at UTC+14: a 23-hour appointment from then ends
    on D+3 there, two local days past the date the client wrote, and D+3 is closed."""
    clinic = await api.clinic()
    day = datetime.now(UTC).date() + timedelta(days=10)
    location_id = await kiritimati(api, clinic, closed=day + timedelta(days=3))
    minus_12 = timezone(timedelta(hours=-12))
    start = datetime.combine(day, datetime.min.time(), minus_12).replace(hour=23, minute=59)

    async def book(end: datetime) -> Any:
        return await api.client.post(
            f"/appointments?subdomain={clinic.subdomain}&location_id={location_id}"
            f"&notify_patient={str(notify_patient).lower()}",
            json={
                "appt": {
                    "patient_id": clinic.patient_ids[0],
                    "provider_id": clinic.provider_ids[0],
                    "start_time": start.isoformat(),
                    "end_time": end.isoformat(),
                }
            },
            headers=clinic.auth,
        )

    async def booked() -> int:
        async with api.db.read() as session:
            count = await session.execute(
                select(func.count())
                .select_from(Appointment)
                .where(Appointment.location_id == location_id)
            )
            return int(count.scalar_one())

    refused = await book(start + timedelta(hours=23))
    assert refused.status_code == 409, refused.text
    message = f"location {location_id} is closed on {(day + timedelta(days=3)).isoformat()}"
    assert refused.json() == {
        "code": False,
        "description": message,
        "error": [message],
        "data": None,
        "count": None,
    }
    assert await booked() == 0
    # Ending a minute before the local midnight, it stays on D+2, which is open.
    allowed = await book(start + timedelta(hours=22))
    assert allowed.status_code == 201, allowed.text
    got = allowed.json()["data"]["appt"]
    assert (got["start_time"], got["end_time"], got["timezone_offset"]) == (
        f"{(day + timedelta(days=1)).isoformat()}T11:59:00.000Z",
        f"{(day + timedelta(days=2)).isoformat()}T09:59:00.000Z",
        "+14:00",
    )
    assert await booked() == 1
