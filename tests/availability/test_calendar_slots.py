"""GET /api/Calendar/GetProviderAvailableSlots through HTTP."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from carebook.db.tables import AppointmentTypeMode, Institution, Location, Patient, Provider
from tests.availability.helpers import add_appointment, add_hours, next_weekday
from tests.support import Api, Clinic

pytestmark = pytest.mark.anyio

NY = ZoneInfo("America/New_York")
LA = ZoneInfo("America/Los_Angeles")
PATH = "/api/Calendar/GetProviderAvailableSlots"


async def guids(api: Api, clinic: Clinic) -> dict[str, Any]:
    async def work(session: AsyncSession) -> dict[str, Any]:
        mode = AppointmentTypeMode(
            institution_id=clinic.institution_id,
            appointment_type_id=clinic.appointment_type_id,
            mode_id=2,
            minutes=30,
        )
        session.add(mode)
        await session.execute(
            update(Patient)
            .where(Patient.id == clinic.patient_ids[0])
            .values(tz="America/Los_Angeles")
        )
        await session.flush()

        async def guid(model: Any, row_id: int) -> uuid.UUID:
            value: uuid.UUID = (
                await session.execute(select(model.guid).where(model.id == row_id))
            ).scalar_one()
            return value

        return {
            "account": await guid(Institution, clinic.institution_id),
            "provider": await guid(Provider, clinic.provider_ids[0]),
            "mode": mode.guid,
            "patient": await guid(Patient, clinic.patient_ids[0]),
            "ny": await guid(Location, clinic.location_id),
        }

    return await api.db.write(work)


def iso(day: Any, hhmm: str, tz: ZoneInfo, shown: ZoneInfo) -> str:
    hour, minute = map(int, hhmm.split(":"))
    value = datetime.combine(day, time(hour, minute), tzinfo=tz)
    return value.astimezone(shown).isoformat(timespec="seconds")


async def test_provider_slots_in_provider_and_patient_zones(api: Api) -> None:
    clinic = await api.clinic()
    ids = await guids(api, clinic)
    monday = next_weekday(0)
    await add_hours(
        api, clinic, location_id=clinic.location_id, provider_id=clinic.provider_ids[0], end="10:00"
    )
    # The patient is busy 09:30-10:00 with another provider.
    await add_appointment(
        api,
        clinic,
        location_id=clinic.location_id,
        provider_id=clinic.provider_ids[1],
        patient_id=clinic.patient_ids[0],
        start=datetime.combine(monday, time(9, 30), tzinfo=NY).astimezone(UTC),
        minutes=30,
    )
    params: dict[str, Any] = {
        "AccountId": str(ids["account"]),
        "ProviderId": str(ids["provider"]),
        "EncounterTypeModeDurationId": str(ids["mode"]),
        "FromDate": monday.isoformat(),
        "ToDate": monday.isoformat(),
    }
    anyone = await api.client.get(PATH, params=params, headers=clinic.auth)
    assert anyone.status_code == 200, anyone.text
    assert [s["FromDate"] for s in anyone.json()] == [
        iso(monday, "09:00", NY, NY),
        iso(monday, "09:30", NY, NY),
    ]
    mine = await api.client.get(
        PATH, params={**params, "PatientId": str(ids["patient"])}, headers=clinic.auth
    )
    assert mine.status_code == 200, mine.text
    assert mine.json() == [
        {
            "FromDate": iso(monday, "09:00", NY, NY),
            "ToDate": iso(monday, "09:30", NY, NY),
            "PatientFromDate": iso(monday, "09:00", NY, LA),
            "PatientToDate": iso(monday, "09:30", NY, LA),
            "Duration": 30,
            "ProviderId": str(ids["provider"]),
            "FacilityId": str(ids["ny"]),
            "ResourceID": None,
        }
    ]
    # A range with no working day at all.
    sunday = monday - timedelta(days=1)
    empty = await api.client.get(
        PATH,
        params={**params, "FromDate": sunday.isoformat(), "ToDate": sunday.isoformat()},
        headers=clinic.auth,
    )
    assert empty.json() == []


async def test_calendar_errors(api: Api) -> None:
    clinic = await api.clinic()
    other = await api.clinic("other")
    ids = await guids(api, clinic)
    other_ids = await guids(api, other)
    monday = next_weekday(0).isoformat()
    params: dict[str, Any] = {
        "AccountId": str(ids["account"]),
        "ProviderId": str(ids["provider"]),
        "EncounterTypeModeDurationId": str(ids["mode"]),
        "FromDate": monday,
        "ToDate": monday,
    }
    forbidden = await api.client.get(
        PATH, params={**params, "AccountId": str(other_ids["account"])}, headers=clinic.auth
    )
    assert forbidden.status_code == 403
    assert forbidden.json() == {
        "Message": f"Authorization has been denied for account {other_ids['account']}."
    }
    unknown = await api.client.get(
        PATH, params={**params, "ProviderId": str(other_ids["provider"])}, headers=clinic.auth
    )
    assert unknown.status_code == 404
    assert unknown.json() == {
        "Message": f"No provider with ID {other_ids['provider']} was found in this account."
    }
    backwards = await api.client.get(
        PATH,
        params={**params, "FromDate": "2030-01-02", "ToDate": "2030-01-01"},
        headers=clinic.auth,
    )
    assert backwards.status_code == 400
    assert backwards.json() == {
        "Message": "The request is invalid.",
        "ModelState": {"model.ToDate": ["ToDate must not be before FromDate."]},
    }
    bad = await api.client.get(PATH, params={**params, "ProviderId": "nope"}, headers=clinic.auth)
    assert bad.status_code == 400
    assert list(bad.json()["ModelState"]) == ["model.ProviderId"]
    anonymous = await api.client.get(PATH, params=params)
    assert anonymous.status_code == 401
    assert set(anonymous.json()) == {"Message"}


async def test_openapi_documents_the_slot_search_errors(api: Api) -> None:
    response = await api.client.get("/openapi.json")
    responses = response.json()["paths"][PATH]["get"]["responses"]
    assert set(responses) == {"200", "400", "401", "403", "404"}
    for status in ("400", "401", "403", "404"):
        schema = responses[status]["content"]["application/json"]["schema"]
        assert schema["required"] == ["Message"], status
        assert set(schema["properties"]) == {"Message", "ModelState"}, status
