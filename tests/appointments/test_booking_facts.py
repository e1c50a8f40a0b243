"""``booking_sql.load_booking_context`` with records already held equals it without them.

The Calendar booking hands the records its GUID look-up read to the booking
(``BookingRequest.known``), and the driver path then reads only the facts around them: whether
each record is still there, the four flags and the provider's working hours. Here both
forms read the same database in many situations and must give equal contexts: the same
records (the held ones, where found), flags and hours.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, inspect

from carebook.core.time import utc_now
from carebook.db.database import DriverConnection
from carebook.db.repositories import booking_sql
from carebook.db.repositories.appointments import BookingContext
from carebook.db.tables import (
    Appointment,
    LocationClosure,
    Operatory,
    Provider,
    WorkingHour,
    WorkingHourAppointmentType,
)
from tests.support import Api, Clinic, future

pytestmark = pytest.mark.anyio


def columns_of(instance: Any) -> dict[str, Any] | None:
    if instance is None:
        return None
    return {a.key: getattr(instance, a.key) for a in inspect(type(instance)).column_attrs}


def comparable(context: BookingContext) -> dict[str, Any]:
    hours = context.provider_hours
    return {
        "location": columns_of(context.location),
        "provider": columns_of(context.provider),
        "provider_works_here": context.provider_works_here,
        "patient": columns_of(context.patient),
        "operatory": columns_of(context.operatory),
        "appointment_type": columns_of(context.appointment_type),
        "patient_has_past_appointment": context.patient_has_past_appointment,
        "closures_near": context.closures_near,
        "has_working_hours": context.has_working_hours,
        "provider_hours": (
            None
            if hours is None
            else [(columns_of(row.hour), sorted(row.type_ids)) for row in hours]
        ),
    }


async def load_context(
    conn: DriverConnection, known: booking_sql.KnownRecords | None, keys: dict[str, Any]
) -> BookingContext:
    read = await booking_sql.load_booking_context(conn, known, **keys)
    return read.context(known, keys["operatory_id"])


async def both(api: Api, clinic: Clinic, **given: Any) -> tuple[BookingContext, BookingContext]:
    """(the full context, the facts about the full context's own records) for ``given``."""
    keys: dict[str, Any] = {
        "institution_id": clinic.institution_id,
        "location_id": clinic.location_id,
        "provider_id": clinic.provider_ids[0],
        "patient_id": clinic.patient_ids[0],
        "operatory_id": None,
        "appointment_type_id": clinic.appointment_type_id,
        "now": utc_now(),
        "around": future().date(),
        **given,
    }

    async def load(conn: DriverConnection) -> tuple[BookingContext, BookingContext]:
        full = await load_context(conn, None, keys)
        assert full.location is not None
        known = booking_sql.KnownRecords(
            location=full.location,
            provider=full.provider,
            patient=full.patient,
            operatories={full.operatory.id: full.operatory} if full.operatory else {},
            appointment_type=full.appointment_type,
        )
        facts = await load_context(conn, known, keys)
        return full, facts

    return await api.db.read_driver(load)


async def add(api: Api, *rows: Any) -> None:
    async def work(session: Any) -> None:
        session.add_all(rows)
        await session.flush()

    await api.db.write(work)


async def test_plain_booking_without_hours(api: Api) -> None:
    clinic = await api.clinic()
    full, facts = await both(api, clinic)
    assert comparable(facts) == comparable(full)
    assert facts.location is not None
    assert facts.provider is not None
    assert (facts.has_working_hours, facts.closures_near, facts.provider_works_here) == (
        False,
        False,
        True,
    )
    assert facts.provider_hours == []


async def test_hours_dated_hours_closures_and_a_past_visit(api: Api) -> None:
    clinic = await api.clinic()
    iid, ny, doctor = clinic.institution_id, clinic.location_id, clinic.provider_ids[0]
    day = future().date()
    weekly = WorkingHour(
        institution_id=iid,
        location_id=ny,
        provider_id=doctor,
        begin_time="08:00",
        end_time="17:00",
        days=["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"],
    )
    dated = WorkingHour(
        institution_id=iid,
        location_id=ny,
        provider_id=doctor,
        begin_time="18:00",
        end_time="20:00",
        specific_date=day,
    )
    far = WorkingHour(  # dated, but far from the booking: neither reads it
        institution_id=iid,
        location_id=ny,
        provider_id=doctor,
        begin_time="07:00",
        end_time="08:00",
        specific_date=day + timedelta(days=30),
    )
    idle = WorkingHour(  # inactive: neither reads it
        institution_id=iid,
        location_id=ny,
        provider_id=doctor,
        begin_time="06:00",
        end_time="07:00",
        days=["Sunday"],
        active=False,
    )
    await add(api, weekly, dated, far, idle)
    await add(
        api,
        WorkingHourAppointmentType(
            working_hour_id=weekly.id, appointment_type_id=clinic.appointment_type_id
        ),
        LocationClosure(
            institution_id=iid, location_id=ny, start_date=day, end_date=day, reason="Holiday"
        ),
    )
    past = datetime.now(UTC) - timedelta(days=3)
    await add(
        api,
        Appointment(
            institution_id=iid,
            location_id=ny,
            provider_id=doctor,
            patient_id=clinic.patient_ids[0],
            start_at=past,
            end_at=past + timedelta(minutes=30),
            status_id=1,
            created_at=past,
            updated_at=past,
        ),
    )
    full, facts = await both(api, clinic)
    assert comparable(facts) == comparable(full)
    assert facts.has_working_hours
    assert facts.closures_near
    assert facts.patient_has_past_appointment
    assert facts.provider_hours is not None
    assert [row.hour.id for row in facts.provider_hours] == [weekly.id, dated.id]
    assert facts.provider_hours[0].type_ids == frozenset({clinic.appointment_type_id})


async def test_operatory_and_a_provider_who_does_not_work_there(api: Api) -> None:
    clinic = await api.clinic()
    other = Provider(institution_id=clinic.institution_id, first_name="Ann", last_name="Other")
    await add(api, other)
    full, facts = await both(
        api,
        clinic,
        location_id=clinic.op_location_id,
        operatory_id=clinic.operatory_ids[1],
        provider_id=other.id,
        appointment_type_id=None,
    )
    assert comparable(facts) == comparable(full)
    assert facts.operatory is not None
    assert facts.operatory.id == clinic.operatory_ids[1]
    assert not facts.provider_works_here


async def test_a_held_record_gone_since_is_not_found(api: Api) -> None:
    """The statement says whether each record is still there: one deleted after the caller
    read it (here: never stored) is not carried into the context."""
    clinic = await api.clinic()
    keys: dict[str, Any] = {
        "institution_id": clinic.institution_id,
        "location_id": clinic.op_location_id,
        "provider_id": clinic.provider_ids[0],
        "patient_id": clinic.patient_ids[0],
        "operatory_id": clinic.operatory_ids[0],
        "appointment_type_id": clinic.appointment_type_id,
        "now": utc_now(),
        "around": future().date(),
    }

    async def load(conn: DriverConnection) -> tuple[BookingContext, BookingContext]:
        full = await load_context(conn, None, keys)
        assert full.location is not None
        assert full.operatory is not None
        return full, BookingContext(None, None, False, None, None, None)

    full, _ = await api.db.read_driver(load)
    assert full.operatory is not None

    async def drop(session: Any) -> None:
        await session.execute(delete(Operatory).where(Operatory.id == clinic.operatory_ids[0]))

    await api.db.write(drop)

    async def facts_of(conn: DriverConnection) -> BookingContext:
        assert full.location is not None
        assert full.operatory is not None
        known = booking_sql.KnownRecords(
            location=full.location,
            provider=full.provider,
            patient=full.patient,
            operatories={full.operatory.id: full.operatory},
            appointment_type=full.appointment_type,
        )
        return await load_context(conn, known, keys)

    facts = await api.db.read_driver(facts_of)
    assert facts.operatory is None
    assert facts.location is full.location
    assert facts.provider is full.provider

    # An unknown location: nothing at all, as the full context says.
    gone: dict[str, Any] = {**keys, "location_id": 10**9}

    async def none_of(conn: DriverConnection) -> tuple[BookingContext, BookingContext]:
        assert full.location is not None
        known = booking_sql.KnownRecords(full.location, None, None, {}, None)
        return (
            await load_context(conn, None, gone),
            await load_context(conn, known, gone),
        )

    unknown_full, unknown_facts = await api.db.read_driver(none_of)
    assert unknown_full == unknown_facts
    assert unknown_full.location is None
