"""POST /appointments and GET /appointments/{id}: the happy path, every rule, every status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from carebook.db.tables import (
    Appointment,
    AppointmentDescriptor,
    Location,
    Patient,
    PatientNotification,
)
from tests.support import Api, Clinic, future, iso_z, nested, next_dst_change

pytestmark = pytest.mark.anyio


def url(clinic: Clinic, location_id: int | None = None, **params: Any) -> str:
    query = f"subdomain={clinic.subdomain}&location_id={location_id or clinic.location_id}"
    for key, value in params.items():
        query += f"&{key}={value}"
    return f"/appointments?{query}"


def appt(clinic: Clinic, start: datetime, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "patient_id": clinic.patient_ids[0],
        "provider_id": clinic.provider_ids[0],
        "start_time": iso_z(start),
        "end_time": iso_z(start + timedelta(minutes=30)),
    }
    body.update(fields)
    return {"appt": {k: v for k, v in body.items() if v is not None}}


async def post(api: Api, clinic: Clinic, body: Any, **kwargs: Any) -> Any:
    location_id = kwargs.pop("location_id", None)
    return await api.client.post(url(clinic, location_id, **kwargs), json=body, headers=clinic.auth)


async def count_appointments(api: Api, institution_id: int) -> int:
    async with api.db.read() as session:
        result = await session.execute(
            select(func.count())
            .select_from(Appointment)
            .where(Appointment.institution_id == institution_id)
        )
        return int(result.scalar_one())


async def count_patients(api: Api, institution_id: int) -> int:
    async with api.db.read() as session:
        result = await session.execute(
            select(func.count())
            .select_from(Patient)
            .where(Patient.institution_id == institution_id)
        )
        return int(result.scalar_one())


def error_of(response: Any) -> list[str]:
    body = response.json()
    assert body["code"] is False
    assert body["data"] is None
    errors: list[str] = body["error"]
    return errors


async def test_happy_path_returns_every_reference_field(api: Api) -> None:
    clinic = await api.clinic()
    start = future(days=10, hour=15)
    response = await post(
        api,
        clinic,
        {
            "appt": {
                "patient_id": clinic.patient_ids[0],
                "provider_id": clinic.provider_ids[0],
                "start_time": iso_z(start),
                "appointment_type_id": clinic.appointment_type_id,
                "note": "Bring X-rays",
                "referrer": "https://example.test/book",
                "is_new_clients_patient": True,
            }
        },
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"code", "description", "error", "data", "count"}
    assert body["code"] is True
    assert body["count"] == 1
    assert body["error"] is None
    got = body["data"]["appt"]
    created_at = got["created_at"]
    assert created_at.endswith("Z")
    expected_offset = (
        "-4:00" if start.astimezone(_ny()).utcoffset() == timedelta(hours=-4) else ("-5:00")
    )
    patient = got["patient"]
    assert got == {
        "id": got["id"],
        "patient_id": clinic.patient_ids[0],
        "provider_id": clinic.provider_ids[0],
        "provider_name": "Pat0 Doctor",
        "start_time": iso_z(start),
        "confirmed": False,
        "patient_missed": False,
        "created_at": created_at,
        "updated_at": created_at,
        "note": "Bring X-rays",
        "end_time": iso_z(start + timedelta(minutes=30)),
        "unavailable": False,
        "cancelled": False,
        "timezone": "America/New_York",
        "institution_id": clinic.institution_id,
        "appointment_type_id": clinic.appointment_type_id,
        "checkin_at": None,
        "location_id": clinic.location_id,
        "foreign_id": None,
        "foreign_id_type": None,
        "misc": {"is_booked_on_carebook": True, "booked_via": "nexhealth"},
        "last_sync_time": None,
        "patient_confirmed": 0,
        "created_by_user_id": None,
        "is_guardian": False,
        "patient_confirmed_at": None,
        "cancelled_at": None,
        "is_new_clients_patient": True,
        "confirmed_at": None,
        "sooner_if_possible": None,
        "operatory_id": None,
        "deleted": False,
        "checked_out": False,
        "checked_out_at": None,
        "referrer": "https://example.test/book",
        "is_past_patient": False,
        "timezone_offset": expected_offset,
        "patient": {
            "id": clinic.patient_ids[0],
            "email": "patient0@acme.test",
            "first_name": "Pat0",
            "middle_name": None,
            "last_name": "Patient",
            "name": "Pat0 Patient",
            "created_at": patient["created_at"],
            "updated_at": patient["updated_at"],
            "institution_id": clinic.institution_id,
            "foreign_id": None,
            "foreign_id_type": None,
            "bio": {"date_of_birth": "1980-01-01", "phone_number": "5550000000"},
            "inactive": False,
            "last_sync_time": None,
            "guarantor_id": None,
            "unsubscribe_sms": False,
        },
        "procedures": [],
        "descriptors": [],
        "booking_details": {
            "booked_via_nexhealth_generated_link": False,
            "campaign_type": None,
            "campaign_id": None,
            "campaign_medium": None,
            "booked_via_one_click": False,
        },
    }
    fetched = await api.client.get(
        f"/appointments/{got['id']}?subdomain={clinic.subdomain}", headers=clinic.auth
    )
    assert fetched.status_code == 200
    assert fetched.json() == body
    async with api.db.read() as session:
        row = (await session.execute(select(Appointment))).scalar_one()
    assert row.start_at == start
    assert row.end_at == start + timedelta(minutes=30)
    assert row.booked_via == "nexhealth"


def _ny() -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo("America/New_York")


async def test_start_time_offsets_and_naive_local_time(api: Api) -> None:
    clinic = await api.clinic()
    start = future(days=12, hour=14)
    # The same instant written three ways; only the first may be booked.
    ny_local = start.astimezone(_ny()).replace(tzinfo=None).isoformat()
    plus0000 = start.strftime("%Y-%m-%dT%H:%M:%S+0000")
    first = await post(
        api,
        clinic,
        appt(
            clinic,
            start,
            start_time=ny_local,
            end_time=None,
            appointment_type_id=clinic.appointment_type_id,
        ),
    )
    assert first.status_code == 201, first.text
    assert first.json()["data"]["appt"]["start_time"] == iso_z(start)
    second = await post(
        api,
        clinic,
        appt(
            clinic,
            start,
            start_time=plus0000,
            end_time=None,
            patient_id=clinic.patient_ids[1],
            appointment_type_id=clinic.appointment_type_id,
        ),
    )
    assert second.status_code == 409, second.text
    first_id = first.json()["data"]["appt"]["id"]
    message = f"the requested time overlaps the provider's appointment {first_id}"
    assert second.json() == {
        "code": False,
        "description": message,
        "error": [message],
        "data": None,
        "count": None,
    }
    async with api.db.read() as session:
        rows = await session.execute(
            select(
                Appointment.id, Appointment.patient_id, Appointment.start_at, Appointment.end_at
            ).where(Appointment.institution_id == clinic.institution_id)
        )
        assert [tuple(row) for row in rows] == [
            (first_id, clinic.patient_ids[0], start, start + timedelta(minutes=30))
        ]


async def test_naive_time_in_spring_forward_gap_moves_forward(api: Api) -> None:
    """Europe/Berlin skips 02:00-03:00: a naive 02:30 that day means 03:30 CEST (01:30 UTC)."""
    clinic = await api.clinic()
    day = next_dst_change("Europe/Berlin", forward=True)
    response = await post(
        api,
        clinic,
        appt(
            clinic,
            future(),
            start_time=f"{day.isoformat()}T02:30:00",
            end_time=f"{day.isoformat()}T04:00:00",
            operatory_id=clinic.operatory_ids[0],
        ),
        location_id=clinic.op_location_id,
    )
    assert response.status_code == 201, response.text
    got = response.json()["data"]["appt"]
    assert got["start_time"] == f"{day.isoformat()}T01:30:00.000Z"
    assert got["end_time"] == f"{day.isoformat()}T02:00:00.000Z"
    assert got["timezone"] == "Europe/Berlin"
    assert got["timezone_offset"] == "+2:00"


async def test_naive_time_on_fall_back_day_is_first_occurrence(api: Api) -> None:
    clinic = await api.clinic()
    day = next_dst_change("America/New_York", forward=False)
    response = await post(
        api,
        clinic,
        appt(
            clinic,
            future(),
            start_time=f"{day.isoformat()}T01:30:00",
            end_time=None,
            appointment_type_id=clinic.appointment_type_id,
        ),
    )
    assert response.status_code == 201, response.text
    got = response.json()["data"]["appt"]
    assert got["start_time"] == f"{day.isoformat()}T05:30:00.000Z"  # 01:30 EDT (-4)
    assert got["timezone_offset"] == "-4:00"


async def test_block_has_no_patient_and_blocks_bookings(api: Api) -> None:
    clinic = await api.clinic()
    start = future(days=9)
    block = await post(
        api,
        clinic,
        {
            "appt": {
                "provider_id": clinic.provider_ids[0],
                "unavailable": True,
                "start_time": iso_z(start),
                "end_time": iso_z(start + timedelta(hours=1)),
            }
        },
    )
    assert block.status_code == 201, block.text
    got = block.json()["data"]["appt"]
    assert got["unavailable"] is True
    assert got["patient_id"] is None
    assert got["patient"] is None
    clash = await post(api, clinic, appt(clinic, start + timedelta(minutes=30)))
    assert clash.status_code == 409
    assert error_of(clash) == [f"the requested time overlaps the provider's block {got['id']}"]
    after = await post(api, clinic, appt(clinic, start + timedelta(hours=1)))
    assert after.status_code == 201, "back-to-back with the block is free"


async def test_block_rules(api: Api) -> None:
    clinic = await api.clinic()
    start = future()
    with_patient = await post(api, clinic, appt(clinic, start, unavailable=True))
    assert with_patient.status_code == 400
    assert error_of(with_patient) == ["appt.patient_id: must be absent for a block (unavailable)"]
    nobody = await post(
        api,
        clinic,
        {
            "appt": {
                "unavailable": True,
                "start_time": iso_z(start),
                "end_time": iso_z(start + timedelta(hours=1)),
            }
        },
    )
    assert nobody.status_code == 400
    assert error_of(nobody) == ["appt.provider_id: a block needs a provider or an operatory"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"patient_id": None}, "appt.patient_id: is required"),
        ({"provider_id": None}, "appt.provider_id: is required"),
        ({"end_time": None}, "appt.end_time: give end_time or appointment_type_id"),
        ({"note": "x" * 1001}, "appt.note: string should have at most 1000 characters"),
        (
            {"start_time": "2026-13-40T10:00:00Z"},
            "appt.start_time: must be an ISO 8601 date-time, e.g. 2026-03-02T10:00:00-05:00",
        ),
        (
            {"start_time": "2030-01-01"},
            "appt.start_time: must be an ISO 8601 date-time, e.g. 2026-03-02T10:00:00-05:00",
        ),
        # Half past ten in ISO 8601, which Python alone would read as ten o'clock and half a
        # second: refused rather than misread.
        (
            {"start_time": "2030-01-01T10.5Z", "end_time": "2030-01-01T11:15:00Z"},
            "appt.start_time: must be an ISO 8601 date-time, e.g. 2026-03-02T10:00:00-05:00",
        ),
        ({"start_time": 12}, "appt.start_time: input should be a valid string"),
        (
            {"patient_id": "abc"},
            "appt.patient_id: input should be a valid integer, "
            "unable to parse string as an integer",
        ),
        ({"descriptor_ids": "x"}, "appt.descriptor_ids: input should be a valid list"),
    ],
)
async def test_malformed_fields_are_400_naming_the_field(
    api: Api, fields: dict[str, Any], message: str
) -> None:
    clinic = await api.clinic()
    body = appt(clinic, future())
    for key, value in fields.items():
        if value is None:
            body["appt"].pop(key, None)
        else:
            body["appt"][key] = value
    response = await post(api, clinic, body)
    assert response.status_code == 400, response.text
    assert error_of(response) == [message]
    assert await count_appointments(api, clinic.institution_id) == 0


async def test_times_must_be_future_and_ordered(api: Api) -> None:
    clinic = await api.clinic()
    past = datetime.now(UTC) - timedelta(days=1)
    response = await post(api, clinic, appt(clinic, past))
    assert response.status_code == 400
    assert error_of(response) == ["appt.start_time: must be in the future"]
    start = future()
    backwards = await post(api, clinic, appt(clinic, start, end_time=iso_z(start)))
    assert error_of(backwards) == ["appt.end_time: must be after start_time"]
    too_long = await post(
        api, clinic, appt(clinic, start, end_time=iso_z(start + timedelta(hours=25)))
    )
    assert error_of(too_long) == ["appt.end_time: an appointment lasts at most 24 hours"]


async def test_body_shape_errors(api: Api) -> None:
    clinic = await api.clinic()
    headers = {**clinic.auth, "Content-Type": "application/json"}
    not_json = await api.client.post(url(clinic), content=b"{", headers=headers)
    assert not_json.status_code == 400
    assert error_of(not_json) == ["body: the body is not valid JSON"]
    no_appt = await post(api, clinic, {"patient_id": 1})
    assert no_appt.status_code == 400
    assert error_of(no_appt) == ["appt: is required", "patient_id: is not a known field"]
    no_location = await api.client.post(
        f"/appointments?subdomain={clinic.subdomain}",
        json=appt(clinic, future()),
        headers=clinic.auth,
    )
    assert no_location.status_code == 400
    assert error_of(no_location) == ["location_id: is required"]
    bad_location = await api.client.post(
        f"/appointments?subdomain={clinic.subdomain}&location_id=abc",
        json=appt(clinic, future()),
        headers=clinic.auth,
    )
    assert bad_location.status_code == 400


async def test_extra_keys_are_ignored_and_named(api: Api) -> None:
    clinic = await api.clinic()
    response = await post(api, clinic, appt(clinic, future(), confirmed=True, location_id=3))
    assert response.status_code == 201
    assert response.json()["description"] == (
        "Note that following parameters are ignored: confirmed, location_id."
    )


async def test_unknown_ids_are_404(api: Api) -> None:
    clinic = await api.clinic()
    start = future()
    cases: list[tuple[dict[str, Any], str]] = [
        ({"patient_id": 99999}, "patient 99999 not found"),
        ({"provider_id": 99999}, "provider 99999 not found"),
        ({"appointment_type_id": 99999, "end_time": None}, "appointment type 99999 not found"),
        ({"descriptor_ids": [99999]}, "appointment descriptor 99999 not found"),
    ]
    for fields, message in cases:
        body = appt(clinic, start)
        for key, value in fields.items():
            if value is None:
                body["appt"].pop(key)
            else:
                body["appt"][key] = value
        response = await post(api, clinic, body)
        assert response.status_code == 404, (fields, response.text)
        assert error_of(response) == [message]
    unknown_location = await post(api, clinic, appt(clinic, start), location_id=99999)
    assert unknown_location.status_code == 404
    assert error_of(unknown_location) == ["location 99999 not found"]
    assert await count_appointments(api, clinic.institution_id) == 0


async def test_other_tenants_records_are_invisible(api: Api) -> None:
    acme = await api.clinic("acme")
    other = await api.clinic("other")
    start = future()
    foreign_patient = await post(api, acme, appt(acme, start, patient_id=other.patient_ids[0]))
    assert foreign_patient.status_code == 404
    foreign_location = await post(api, acme, appt(acme, start), location_id=other.location_id)
    assert foreign_location.status_code == 404
    forbidden = await api.client.post(
        f"/appointments?subdomain=other&location_id={other.location_id}",
        json=appt(other, start),
        headers=acme.auth,
    )
    assert forbidden.status_code == 403
    assert error_of(forbidden) == ["you don't have access to institution 'other'"]
    mine = await post(api, other, appt(other, start))
    assert mine.status_code == 201
    appointment_id = mine.json()["data"]["appt"]["id"]
    peek = await api.client.get(f"/appointments/{appointment_id}?subdomain=acme", headers=acme.auth)
    assert peek.status_code == 404
    no_token = await api.client.post(url(acme), json=appt(acme, start))
    assert no_token.status_code == 401


async def test_wrong_place_ids_are_400(api: Api) -> None:
    clinic = await api.clinic()
    start = future()
    no_operatory = await post(api, clinic, appt(clinic, start), location_id=clinic.op_location_id)
    assert no_operatory.status_code == 400
    assert error_of(no_operatory) == [
        "appt.operatory_id: is required: this location maps by operatory"
    ]
    elsewhere = await post(api, clinic, appt(clinic, start, operatory_id=clinic.operatory_ids[0]))
    assert error_of(elsewhere) == ["appt.operatory_id: the operatory is at another location"]

    async def add_descriptor(session: Any) -> int:
        descriptor = AppointmentDescriptor(
            institution_id=clinic.institution_id,
            location_id=clinic.op_location_id,
            descriptor_type="Procedure Code",
            name="Exam",
            code="D0120",
        )
        session.add(descriptor)
        await session.flush()
        return descriptor.id

    descriptor_id = await api.db.write(add_descriptor)
    wrong_descriptor = await post(api, clinic, appt(clinic, start, descriptor_ids=[descriptor_id]))
    assert error_of(wrong_descriptor) == [
        f"appt.descriptor_ids: descriptor {descriptor_id} belongs to another location"
    ]
    assert await count_appointments(api, clinic.institution_id) == 0


async def test_descriptors_are_attached(api: Api) -> None:
    clinic = await api.clinic()

    async def add_descriptor(session: Any) -> int:
        descriptor = AppointmentDescriptor(
            institution_id=clinic.institution_id,
            location_id=clinic.location_id,
            descriptor_type="Procedure Code",
            name="Prophylaxis",
            code="D1110",
            data={"x": 1},
        )
        session.add(descriptor)
        await session.flush()
        return descriptor.id

    descriptor_id = await api.db.write(add_descriptor)
    response = await post(api, clinic, appt(clinic, future(), descriptor_ids=[descriptor_id]))
    assert response.status_code == 201
    [descriptor] = response.json()["data"]["appt"]["descriptors"]
    assert descriptor == {
        "id": descriptor_id,
        "descriptor_type": "Procedure Code",
        "name": "Prophylaxis",
        "code": "D1110",
        "location_id": clinic.location_id,
        "foreign_id": None,
        "foreign_id_type": None,
        "data": {"x": 1},
        "active": True,
        "last_sync_time": None,
        "created_at": descriptor["created_at"],
        "updated_at": descriptor["updated_at"],
    }


async def test_overlap_rules_per_resource(api: Api) -> None:
    clinic = await api.clinic(patients=4)
    start = future(days=20)
    first = await post(api, clinic, appt(clinic, start))
    assert first.status_code == 201
    first_id = first.json()["data"]["appt"]["id"]
    # Same patient with another provider: the patient cannot be in two places.
    same_patient = await post(
        api, clinic, appt(clinic, start + timedelta(minutes=15), provider_id=clinic.provider_ids[1])
    )
    assert same_patient.status_code == 409
    assert error_of(same_patient) == [
        f"the requested time overlaps the patient's appointment {first_id}"
    ]
    # Same provider, another patient.
    same_provider = await post(
        api, clinic, appt(clinic, start - timedelta(minutes=15), patient_id=clinic.patient_ids[1])
    )
    assert error_of(same_provider) == [
        f"the requested time overlaps the provider's appointment {first_id}"
    ]
    # Another provider and patient at the same time is fine; so is back-to-back.
    other = await post(
        api,
        clinic,
        appt(clinic, start, provider_id=clinic.provider_ids[1], patient_id=clinic.patient_ids[2]),
    )
    assert other.status_code == 201
    adjacent = await post(api, clinic, appt(clinic, start + timedelta(minutes=30)))
    assert adjacent.status_code == 201
    assert await count_appointments(api, clinic.institution_id) == 3


async def test_operatory_is_exclusive(api: Api) -> None:
    clinic = await api.clinic()
    start = future(days=21)
    chair = clinic.operatory_ids[0]
    first = await post(
        api, clinic, appt(clinic, start, operatory_id=chair), location_id=clinic.op_location_id
    )
    assert first.status_code == 201
    clash = await post(
        api,
        clinic,
        appt(
            clinic,
            start,
            operatory_id=chair,
            provider_id=clinic.provider_ids[1],
            patient_id=clinic.patient_ids[1],
        ),
        location_id=clinic.op_location_id,
    )
    assert clash.status_code == 409
    first_id = first.json()["data"]["appt"]["id"]
    assert error_of(clash) == [
        f"the requested time overlaps the operatory's appointment {first_id}"
    ]
    other_chair = await post(
        api,
        clinic,
        appt(
            clinic,
            start,
            operatory_id=clinic.operatory_ids[1],
            provider_id=clinic.provider_ids[1],
            patient_id=clinic.patient_ids[1],
        ),
        location_id=clinic.op_location_id,
    )
    assert other_chair.status_code == 201


async def test_location_may_allow_provider_overlap(api: Api) -> None:
    clinic = await api.clinic()
    await api.db.write(
        lambda s: s.execute(
            update(Location)
            .where(Location.id == clinic.op_location_id)
            .values(allow_provider_overlap=True)
        )
    )
    start = future(days=22)
    for index, chair in enumerate(clinic.operatory_ids):
        response = await post(
            api,
            clinic,
            appt(clinic, start, operatory_id=chair, patient_id=clinic.patient_ids[index]),
            location_id=clinic.op_location_id,
        )
        assert response.status_code == 201, response.text


async def test_cancelled_appointments_free_the_slot(api: Api) -> None:
    clinic = await api.clinic()
    start = future(days=23)
    first = await post(api, clinic, appt(clinic, start))
    assert first.status_code == 201
    await api.db.write(lambda s: s.execute(update(Appointment).values(cancelled=True)))
    again = await post(api, clinic, appt(clinic, start))
    assert again.status_code == 201


async def test_guardian_books_for_dependant(api: Api) -> None:
    clinic = await api.clinic()
    guardian_id = clinic.patient_ids[0]
    child = {
        "first_name": "Kid",
        "last_name": "Patient",
        "bio": {"date_of_birth": "2018-05-01", "gender": "Male"},
    }
    start = future(days=11)
    first = await post(api, clinic, appt(clinic, start, is_guardian=True, patient=child))
    assert first.status_code == 201, first.text
    got = first.json()["data"]["appt"]
    assert got["is_guardian"] is True
    dependant = got["patient"]
    assert dependant["guarantor_id"] == guardian_id
    assert dependant["name"] == "Kid Patient"
    assert dependant["bio"] == {"date_of_birth": "2018-05-01", "gender": "Male"}
    assert got["patient_id"] == dependant["id"] != guardian_id
    # The same child again is matched, not duplicated.
    second = await post(
        api,
        clinic,
        appt(clinic, start + timedelta(hours=2), is_guardian=True, patient=child),
    )
    assert second.status_code == 201
    assert second.json()["data"]["appt"]["patient_id"] == dependant["id"]
    async with api.db.read() as session:
        kids = (
            await session.execute(
                select(func.count()).select_from(Patient).where(Patient.guarantor_id == guardian_id)
            )
        ).scalar_one()
    assert kids == 1
    missing = await post(api, clinic, appt(clinic, start, is_guardian=True))
    assert error_of(missing) == ["appt.patient: is required when is_guardian is true"]


async def test_a_dependants_date_of_birth_follows_a_patients_rules(api: Api) -> None:
    """As ``POST /patients`` takes one: exactly YYYY-MM-DD, not in the future, not more than
    130 years ago; nothing is written for a refused one."""
    clinic = await api.clinic()
    start = future(days=13)
    today = datetime.now(UTC).date()
    cases: list[tuple[Any, str]] = [
        ((today + timedelta(days=2)).isoformat(), "must not be in the future"),
        ("0001-01-01", "must not be more than 130 years ago"),
        ((today - timedelta(days=366 * 131)).isoformat(), "must not be more than 130 years ago"),
        (0, "input should be a valid date"),
        ("2018-05-01T00:00:00Z", "must be a date as YYYY-MM-DD"),
        ("20180501", "must be a date as YYYY-MM-DD"),
        ("\u0662\u0660\u0661\u0668-05-01", "must be a date as YYYY-MM-DD"),
    ]
    for born, message in cases:
        child = {"first_name": "Kid", "last_name": "Born", "bio": {"date_of_birth": born}}
        response = await post(api, clinic, appt(clinic, start, is_guardian=True, patient=child))
        assert response.status_code == 400, (born, response.text)
        assert error_of(response) == [f"appt.patient.bio.date_of_birth: {message}"], born
    assert await count_appointments(api, clinic.institution_id) == 0
    assert await count_patients(api, clinic.institution_id) == 3
    # The oldest date still taken: this day 130 years ago (28 February for 29 February).
    day = 28 if (today.month, today.day) == (2, 29) else today.day
    oldest = today.replace(year=today.year - 130, day=day)
    child = {"first_name": "Kid", "last_name": "Old", "bio": {"date_of_birth": oldest.isoformat()}}
    response = await post(api, clinic, appt(clinic, start, is_guardian=True, patient=child))
    assert response.status_code == 201, response.text


async def test_dependant_bio_nests_at_most_32_levels(api: Api) -> None:
    clinic = await api.clinic()
    start = future(days=12)

    def child(notes: Any) -> dict[str, Any]:
        bio = {"date_of_birth": "2018-05-01", "notes": notes}
        return {"first_name": "Kid", "last_name": "Deep", "bio": bio}

    # One level too many, and past pydantic's serialisation limit (255): that dependant and
    # the appointment were written, then answered (and read back ever after) with a 500.
    for levels in (32, 270):
        response = await post(
            api, clinic, appt(clinic, start, is_guardian=True, patient=child(nested(levels)))
        )
        assert response.status_code == 400, response.text
        assert error_of(response) == [
            "appt.patient.bio: must not nest objects and arrays more than 32 levels deep"
        ]
    assert await count_appointments(api, clinic.institution_id) == 0
    assert await count_patients(api, clinic.institution_id) == 3
    # The bio is the first level: 31 arrays inside it are kept.
    booked = await post(
        api, clinic, appt(clinic, start, is_guardian=True, patient=child(nested(31)))
    )
    assert booked.status_code == 201, booked.text
    got = booked.json()["data"]["appt"]
    assert got["patient"]["bio"] == {
        "date_of_birth": "2018-05-01",
        "gender": "Female",
        "notes": nested(31),
    }
    again = await api.client.get(
        f"/appointments/{got['id']}?subdomain={clinic.subdomain}", headers=clinic.auth
    )
    assert again.json()["data"]["appt"] == got


async def test_failed_booking_writes_nothing(api: Api) -> None:
    """A guardian booking that clashes must not leave a new dependant behind."""
    clinic = await api.clinic()
    start = future(days=13)
    taken = await post(api, clinic, appt(clinic, start, patient_id=clinic.patient_ids[1]))
    assert taken.status_code == 201
    child = {"first_name": "New", "last_name": "Kid", "bio": {"date_of_birth": "2019-01-01"}}
    clash = await post(
        api, clinic, appt(clinic, start, is_guardian=True, patient=child), notify_patient="true"
    )
    assert clash.status_code == 409
    async with api.db.read() as session:
        patients = (
            await session.execute(
                select(func.count())
                .select_from(Patient)
                .where(Patient.institution_id == clinic.institution_id)
            )
        ).scalar_one()
        notifications = (
            await session.execute(select(func.count()).select_from(PatientNotification))
        ).scalar_one()
    assert patients == 3
    assert notifications == 0
    assert await count_appointments(api, clinic.institution_id) == 1


async def test_notify_patient_records_a_notification(api: Api) -> None:
    clinic = await api.clinic()
    response = await post(
        api, clinic, appt(clinic, future(days=14, hour=15)), notify_patient="true"
    )
    assert response.status_code == 201
    appointment_id = response.json()["data"]["appt"]["id"]
    async with api.db.read() as session:
        rows = list((await session.execute(select(PatientNotification))).scalars())
    assert [(n.appointment_id, n.patient_id, n.kind, n.status) for n in rows] == [
        (appointment_id, clinic.patient_ids[0], "appointment_created", "pending")
    ]
    quiet = await post(api, clinic, appt(clinic, future(days=15)), notify_patient="false")
    assert quiet.status_code == 201
    async with api.db.read() as session:
        assert len(list((await session.execute(select(PatientNotification))).scalars())) == 1


async def test_get_unknown_appointment_is_404(api: Api) -> None:
    clinic = await api.clinic()
    response = await api.client.get(
        f"/appointments/424242?subdomain={clinic.subdomain}", headers=clinic.auth
    )
    assert response.status_code == 404
    assert error_of(response) == ["appointment 424242 not found"]


async def test_inactive_records_cannot_be_booked(api: Api) -> None:
    clinic = await api.clinic()
    await api.db.write(
        lambda s: s.execute(
            update(Patient).where(Patient.id == clinic.patient_ids[0]).values(inactive=True)
        )
    )
    response = await post(api, clinic, appt(clinic, future()))
    assert response.status_code == 400
    assert error_of(response) == ["appt.patient_id: the patient is inactive"]


async def test_blocks_stop_the_provider_even_where_overlap_is_allowed(api: Api) -> None:
    clinic = await api.clinic()
    await api.db.write(
        lambda s: s.execute(
            update(Location)
            .where(Location.id == clinic.op_location_id)
            .values(allow_provider_overlap=True)
        )
    )
    start = future(days=24)
    booked = await post(
        api,
        clinic,
        appt(clinic, start, operatory_id=clinic.operatory_ids[0]),
        location_id=clinic.op_location_id,
    )
    assert booked.status_code == 201
    # A block over the provider's existing appointment is refused...
    block_body = {
        "appt": {
            "provider_id": clinic.provider_ids[0],
            "unavailable": True,
            "start_time": iso_z(start),
            "end_time": iso_z(start + timedelta(hours=2)),
        }
    }
    refused = await post(api, clinic, block_body, location_id=clinic.op_location_id)
    assert refused.status_code == 409
    # ...one after it is taken, and then no appointment may overlap it.
    later = start + timedelta(hours=1)
    block_body["appt"]["start_time"] = iso_z(later)
    block = await post(api, clinic, block_body, location_id=clinic.op_location_id)
    assert block.status_code == 201, block.text
    block_id = block.json()["data"]["appt"]["id"]
    clash = await post(
        api,
        clinic,
        appt(clinic, later, operatory_id=clinic.operatory_ids[1], patient_id=clinic.patient_ids[1]),
        location_id=clinic.op_location_id,
    )
    assert clash.status_code == 409
    assert error_of(clash) == [f"the requested time overlaps the provider's block {block_id}"]


async def test_a_provider_held_alone_elsewhere_is_not_shared(api: Api) -> None:
    """Provider overlap is allowed only between appointments that both share the provider: an
    appointment at a location that forbids overlap keeps its provider from every other booking,
    one at a location that allows overlap included, whichever of the two is booked first."""
    clinic = await api.clinic()
    shared_location, alone_location = clinic.location_id, clinic.op_location_id
    await api.db.write(
        lambda s: s.execute(
            update(Location)
            .where(Location.id == shared_location)
            .values(allow_provider_overlap=True)
        )
    )
    p0, p1, p2 = clinic.patient_ids
    shared_at = future(days=25)
    # Two appointments where overlap is allowed share the provider...
    first = await post(api, clinic, appt(clinic, shared_at, patient_id=p0))
    second = await post(api, clinic, appt(clinic, shared_at, patient_id=p1))
    assert (first.status_code, second.status_code) == (201, 201), second.text
    # ...but an appointment that holds the provider alone may not overlap either of them.
    chair = clinic.operatory_ids[0]
    alone = await post(
        api,
        clinic,
        appt(clinic, shared_at, operatory_id=chair, patient_id=p2),
        location_id=alone_location,
    )
    assert alone.status_code == 409
    first_id, second_id = (r.json()["data"]["appt"]["id"] for r in (first, second))
    assert error_of(alone) == [
        f"the requested time overlaps the provider's appointment {first_id}, "
        f"the provider's appointment {second_id}"
    ]
    # The other way round: held alone first, then no shared appointment may overlap it.
    held_at = future(days=26)
    held = await post(
        api,
        clinic,
        appt(clinic, held_at, operatory_id=chair, patient_id=p0),
        location_id=alone_location,
    )
    assert held.status_code == 201, held.text
    held_id = held.json()["data"]["appt"]["id"]
    shared = await post(api, clinic, appt(clinic, held_at, patient_id=p1))
    assert shared.status_code == 409
    assert error_of(shared) == [f"the requested time overlaps the provider's appointment {held_id}"]
    assert await count_appointments(api, clinic.institution_id) == 3
