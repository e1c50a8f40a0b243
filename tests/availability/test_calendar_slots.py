"""GET /api/Calendar/GetProviderAvailableSlots through HTTP."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from carebook.core.availability import service
from carebook.db.tables import (
    Appointment,
    AppointmentType,
    AppointmentTypeMode,
    Institution,
    Location,
    Operatory,
    Patient,
    PortalUser,
    Provider,
)
from tests.availability.helpers import (
    EVERY_DAY,
    add_appointment,
    add_hours,
    engine_runs,
    next_weekday,
)
from tests.calendar.helpers import Tele, body, post, telehealth_clinic
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
    assert bad.json() == {
        "Message": "The request is invalid.",
        "ModelState": {"model.ProviderId": ["The value 'nope' is not valid for ProviderId."]},
    }
    anonymous = await api.client.get(PATH, params=params)
    assert anonymous.status_code == 401
    assert anonymous.json() == {
        "Message": "missing Authorization header: send 'Bearer <token>' from /authenticates"
    }


async def test_openapi_documents_the_slot_search_errors(api: Api) -> None:
    response = await api.client.get("/openapi.json")
    operation = response.json()["paths"][PATH]["get"]
    responses = operation["responses"]
    assert set(responses) == {"200", "400", "401", "403", "404", "413", "503"}
    for status in ("400", "401", "403", "404", "413", "503"):
        schema = responses[status]["content"]["application/json"]["schema"]
        assert schema["required"] == ["Message"], status
        assert set(schema["properties"]) == {"Message", "ModelState"}, status
    # The route reads its query itself (as ASP.NET binds it); the document describes it.
    guid = {"type": "string", "format": "uuid"}
    day = {"type": "string", "format": "date"}
    assert [(p["name"], p["in"], p["required"], p["schema"]) for p in operation["parameters"]] == [
        ("AccountId", "query", True, guid),
        ("ProviderId", "query", True, guid),
        ("EncounterTypeModeDurationId", "query", True, guid),
        ("FromDate", "query", True, day),
        ("ToDate", "query", True, day),
        ("PatientId", "query", False, guid),
    ]
    assert all(
        p["description"].endswith("The name matches without regard to case.")
        for p in operation["parameters"]
    )


BERLIN = ZoneInfo("Europe/Berlin")


async def test_slots_are_offered_at_the_facility_a_booking_takes(api: Api) -> None:
    """``PatientAppointmentPost`` names no facility: it books at the type's location, else the
    provider's first active one. The search offers that facility only, in its zone when the
    provider has none of their own, and what it offers there books there."""
    tele = await telehealth_clinic(api)
    clinic = tele.clinic
    ny, berlin = clinic.location_id, clinic.op_location_id
    provider = clinic.provider_ids[1]  # no zone of their own; works at both locations
    await add_hours(api, clinic, location_id=ny, provider_id=provider, begin="14:00", end="14:30")
    await add_hours(api, clinic, location_id=berlin, provider_id=provider, end="09:30")
    monday = next_weekday(0)

    async def read_guids(session: AsyncSession) -> dict[str, str]:
        locations = await session.execute(select(Location.id, Location.guid))
        chair = await session.execute(
            select(Operatory.guid).where(Operatory.id == clinic.operatory_ids[0])
        )
        by_id = dict(locations.tuples().all())
        return {
            "ny": str(by_id[ny]),
            "berlin": str(by_id[berlin]),
            "chair": str(chair.scalar_one()),
        }

    async with api.db.read() as session:
        ids = await read_guids(session)
    params: dict[str, Any] = {
        "AccountId": tele.account,
        "ProviderId": tele.other_provider,
        "EncounterTypeModeDurationId": tele.mode,  # 15 minutes
        "FromDate": monday.isoformat(),
        "ToDate": monday.isoformat(),
    }

    def slot(hhmm: str, tz: ZoneInfo, facility: str, resource: str | None) -> dict[str, Any]:
        hour, minute = map(int, hhmm.split(":"))
        start = datetime.combine(monday, time(hour, minute), tzinfo=tz)
        end = start + timedelta(minutes=15)
        return {
            "FromDate": start.isoformat(timespec="seconds"),
            "ToDate": end.isoformat(timespec="seconds"),
            "PatientFromDate": start.isoformat(timespec="seconds"),
            "PatientToDate": end.isoformat(timespec="seconds"),
            "Duration": 15,
            "ProviderId": tele.other_provider,
            "FacilityId": facility,
            "ResourceID": resource,
        }

    # Both locations active: a booking takes New York (the lower id), so only its hours count.
    both = await api.client.get(PATH, params=params, headers=tele.auth)
    assert both.status_code == 200, both.text
    assert both.json() == [
        slot("14:00", NY, ids["ny"], None),
        slot("14:15", NY, ids["ny"], None),
    ]
    berlin_nine = datetime.combine(monday, time(9), tzinfo=BERLIN).isoformat()
    refused = await post(api, tele, body(tele, berlin_nine, ProviderId=tele.other_provider))
    assert refused.status_code == 409, refused.text
    assert refused.json()["Message"].endswith(
        f"the provider {tele.other_provider} does not work at the facility {ids['ny']} then."
    )

    # New York closed for good: Berlin is the first active location, and its zone the
    # provider's (not that of the inactive location with the lower id).
    async def set_ny_inactive(session: AsyncSession, inactive: bool) -> None:
        await session.execute(update(Location).where(Location.id == ny).values(inactive=inactive))

    await api.db.write(lambda session: set_ny_inactive(session, True))
    offered = await api.client.get(PATH, params=params, headers=tele.auth)
    assert offered.status_code == 200, offered.text
    assert offered.json() == [
        slot("09:00", BERLIN, ids["berlin"], ids["chair"]),
        slot("09:15", BERLIN, ids["berlin"], ids["chair"]),
    ]
    first = offered.json()[0]
    booked = await post(api, tele, body(tele, first["FromDate"], ProviderId=tele.other_provider))
    assert booked.status_code == 200, booked.text
    assert (booked.json()["FacilityId"], booked.json()["ResourceID"]) == (
        first["FacilityId"],
        first["ResourceID"],
    )
    async with api.db.read() as session:
        row = (
            await session.execute(
                select(
                    Appointment.location_id, Appointment.operatory_id, Appointment.start_at
                ).where(Appointment.guid == uuid.UUID(booked.json()["ID"]))
            )
        ).one()
    assert tuple(row) == (
        berlin,
        clinic.operatory_ids[0],
        datetime.combine(monday, time(9), tzinfo=BERLIN).astimezone(UTC),
    )

    # New York open again, the visit's type scoped to Berlin: a booking takes Berlin, so the
    # search does, in Berlin's zone; the 09:00 just booked is gone.
    async def scope_type(session: AsyncSession) -> None:
        await set_ny_inactive(session, False)
        await session.execute(
            update(AppointmentType)
            .where(AppointmentType.id == tele.ids["consult"])
            .values(parent_type="Location", parent_id=berlin)
        )

    await api.db.write(scope_type)
    scoped = await api.client.get(PATH, params=params, headers=tele.auth)
    assert scoped.status_code == 200, scoped.text
    assert scoped.json() == [slot("09:15", BERLIN, ids["berlin"], ids["chair"])]


async def test_a_search_returns_at_most_the_most_slots(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    clinic = await api.clinic()
    ids = await guids(api, clinic)
    # A 1-minute visit option and 400 minutes of hours every day: 50 days are the most one
    # search returns; 90 days would be 36,000 slots.
    assert service.MAX_SLOTS == 50 * 400
    await api.db.write(
        lambda session: session.execute(
            update(AppointmentTypeMode)
            .where(AppointmentTypeMode.guid == ids["mode"])
            .values(minutes=1)
        )
    )
    await add_hours(
        api,
        clinic,
        location_id=clinic.location_id,
        provider_id=clinic.provider_ids[0],
        begin="09:00",
        end="15:40",
        days=EVERY_DAY,
    )
    monday = next_weekday(0)
    params: dict[str, Any] = {
        "AccountId": str(ids["account"]),
        "ProviderId": str(ids["provider"]),
        "EncounterTypeModeDurationId": str(ids["mode"]),
        "FromDate": monday.isoformat(),
        "ToDate": (monday + timedelta(days=49)).isoformat(),
    }
    full = await api.client.get(PATH, params=params, headers=clinic.auth)
    assert full.status_code == 200, full.text[:500]
    expected = []
    for n in range(50):
        opening = datetime.combine(monday + timedelta(days=n), time(9), tzinfo=NY)
        for i in range(400):
            start = (opening + timedelta(minutes=i)).isoformat(timespec="seconds")
            end = (opening + timedelta(minutes=i + 1)).isoformat(timespec="seconds")
            expected.append(
                {
                    "FromDate": start,
                    "ToDate": end,
                    "PatientFromDate": start,
                    "PatientToDate": end,
                    "Duration": 1,
                    "ProviderId": str(ids["provider"]),
                    "FacilityId": str(ids["ny"]),
                    "ResourceID": None,
                }
            )
    assert full.json() == expected
    made = engine_runs(monkeypatch)
    over = await api.client.get(
        PATH,
        params={**params, "ToDate": (monday + timedelta(days=89)).isoformat()},
        headers=clinic.auth,
    )
    assert over.status_code == 400, over.text[:500]
    assert over.json() == {
        "Message": "The request is invalid.",
        "ModelState": {
            "model.ToDate": [
                "The search finds more than 20000 slots, the most one search returns: "
                "search fewer days (an earlier ToDate)."
            ]
        },
    }
    assert made == [service.MAX_SLOTS + 1]  # the engine stopped at the first slot too many


async def test_no_active_facility_offers_nothing(api: Api) -> None:
    """A provider whose every location is inactive cannot be booked: nothing is offered."""
    clinic = await api.clinic()
    ids = await guids(api, clinic)
    await add_hours(api, clinic, location_id=clinic.location_id, provider_id=clinic.provider_ids[0])
    await api.db.write(lambda session: session.execute(update(Location).values(inactive=True)))
    monday = next_weekday(0).isoformat()
    params = {
        "AccountId": str(ids["account"]),
        "ProviderId": str(ids["provider"]),
        "EncounterTypeModeDurationId": str(ids["mode"]),
        "FromDate": monday,
        "ToDate": monday,
    }
    response = await api.client.get(PATH, params=params, headers=clinic.auth)
    assert response.status_code == 200, response.text
    assert response.json() == []


OUT_OF_RANGE = "must lie in the years 1900 to 8999."


@pytest.mark.parametrize(
    ("zone_name", "from_date", "to_date", "errors"),
    [
        (
            "America/New_York",
            "9999-12-31",
            "9999-12-31",
            {"FromDate": f"FromDate {OUT_OF_RANGE}", "ToDate": f"ToDate {OUT_OF_RANGE}"},
        ),
        ("America/New_York", "8999-12-31", "9000-01-01", {"ToDate": f"ToDate {OUT_OF_RANGE}"}),
        (
            "Asia/Tokyo",
            "0001-01-01",
            "0001-01-01",
            {"FromDate": f"FromDate {OUT_OF_RANGE}", "ToDate": f"ToDate {OUT_OF_RANGE}"},
        ),
        (
            "Pacific/Kiritimati",
            "1899-12-31",
            "1900-01-01",
            {"FromDate": f"FromDate {OUT_OF_RANGE}"},
        ),
    ],
)
async def test_dates_out_of_range_are_400(
    api: Api, zone_name: str, from_date: str, to_date: str, errors: dict[str, str]
) -> None:
    clinic = await api.clinic()
    ids = await guids(api, clinic)
    await add_hours(api, clinic, location_id=clinic.location_id, provider_id=clinic.provider_ids[0])
    await api.db.write(
        lambda session: session.execute(
            update(Provider).where(Provider.id == clinic.provider_ids[0]).values(tz=zone_name)
        )
    )
    params = {
        "AccountId": str(ids["account"]),
        "ProviderId": str(ids["provider"]),
        "EncounterTypeModeDurationId": str(ids["mode"]),
        "FromDate": from_date,
        "ToDate": to_date,
    }
    response = await api.client.get(PATH, params=params, headers=clinic.auth)
    assert response.status_code == 400, response.text
    assert response.json() == {
        "Message": "The request is invalid.",
        "ModelState": {f"model.{name}": [message] for name, message in errors.items()},
    }


async def test_dates_at_the_ends_of_the_range(api: Api) -> None:
    """The first and last dates taken are searched, the look-ahead past the last included."""
    clinic = await api.clinic()
    ids = await guids(api, clinic)
    await add_hours(
        api,
        clinic,
        location_id=clinic.location_id,
        provider_id=clinic.provider_ids[0],
        end="10:00",
    )
    params: dict[str, Any] = {
        "AccountId": str(ids["account"]),
        "ProviderId": str(ids["provider"]),
        "EncounterTypeModeDurationId": str(ids["mode"]),
    }
    last = date(8999, 12, 31)  # a Tuesday
    latest = await api.client.get(
        PATH,
        params={**params, "FromDate": "8999-12-30", "ToDate": last.isoformat()},
        headers=clinic.auth,
    )
    assert latest.status_code == 200, latest.text
    assert [(s["FromDate"], s["FacilityId"]) for s in latest.json()] == [
        (iso(day, hhmm, NY, NY), str(ids["ny"]))
        for day in (last - timedelta(days=1), last)
        for hhmm in ("09:00", "09:30")
    ]
    # A Sunday with no hours: the engine looks months ahead, into the year 9000.
    sunday = await api.client.get(
        PATH,
        params={**params, "FromDate": "8999-12-29", "ToDate": "8999-12-29"},
        headers=clinic.auth,
    )
    assert sunday.status_code == 200, sunday.text
    assert sunday.json() == []
    first = await api.client.get(
        PATH,
        params={**params, "FromDate": "1900-01-01", "ToDate": "1900-01-01"},
        headers=clinic.auth,
    )
    assert first.status_code == 200, first.text
    assert first.json() == []  # a Monday long past


CHICAGO = ZoneInfo("America/Chicago")  # the telehealth clinic's provider
DENVER = ZoneInfo("America/Denver")  # the telehealth clinic's guardian
HONOLULU = ZoneInfo("Pacific/Honolulu")


async def test_a_slot_gives_the_patient_the_zone_their_booking_gives(api: Api) -> None:
    """The patient's own zone, else that of the portal user who books for them (the owner, or
    the user whose own patient is the guardian), else the facility's: in the search as in the
    booking."""
    tele = await telehealth_clinic(api)
    clinic = tele.clinic
    await add_hours(
        api,
        clinic,
        location_id=clinic.location_id,
        provider_id=clinic.provider_ids[0],
        begin="09:00",
        end="09:30",
    )
    monday = next_weekday(0)
    next_monday = monday + timedelta(days=7)

    async def set_up(session: AsyncSession) -> dict[str, str]:
        # The user books from Honolulu (their own patient is in Denver). A dependant made by a
        # NexHealth guardian booking: the user's own patient its guardian, no user of its own.
        await session.execute(
            update(PortalUser).where(PortalUser.id == tele.ids["user"]).values(tz=HONOLULU.key)
        )
        nexhealth_dependant = Patient(
            institution_id=clinic.institution_id,
            location_id=clinic.location_id,
            first_name="Tomas",
            last_name="Garcia",
            date_of_birth=date(2018, 3, 4),
            guarantor_id=tele.ids["guardian"],
        )
        session.add(nexhealth_dependant)
        await session.flush()
        ny = await session.execute(select(Location.guid).where(Location.id == clinic.location_id))
        plain = await session.execute(
            select(Patient.guid).where(Patient.id == clinic.patient_ids[0])
        )
        return {
            "nexhealth_dependant": str(nexhealth_dependant.guid),
            "plain": str(plain.scalar_one()),
            "ny": str(ny.scalar_one()),
        }

    ids = await api.db.write(set_up)

    def slots(day: date, patient: ZoneInfo) -> list[dict[str, Any]]:
        out = []
        for minute in (0, 15):
            start = datetime.combine(day, time(9, minute), tzinfo=NY)
            end = start + timedelta(minutes=15)
            out.append(
                {
                    "FromDate": start.astimezone(CHICAGO).isoformat(),
                    "ToDate": end.astimezone(CHICAGO).isoformat(),
                    "PatientFromDate": start.astimezone(patient).isoformat(),
                    "PatientToDate": end.astimezone(patient).isoformat(),
                    "Duration": 15,
                    "ProviderId": tele.provider,
                    "FacilityId": ids["ny"],
                    "ResourceID": None,
                }
            )
        return out

    async def search(day: date, patient: str | None = None) -> list[dict[str, Any]]:
        params = {
            "AccountId": tele.account,
            "ProviderId": tele.provider,
            "EncounterTypeModeDurationId": tele.mode,  # 15 minutes
            "FromDate": day.isoformat(),
            "ToDate": day.isoformat(),
        }
        if patient is not None:
            params["PatientId"] = patient
        response = await api.client.get(PATH, params=params, headers=tele.auth)
        assert response.status_code == 200, response.text
        found: list[dict[str, Any]] = response.json()
        return found

    async def book(slot: dict[str, Any], patient: str) -> tuple[str, str, int]:
        response = await post(api, tele, body(tele, slot["FromDate"], PatientId=patient))
        assert response.status_code == 200, response.text
        schedule = response.json()
        assert (schedule["FromDate"], schedule["PatientId"]) == (slot["FromDate"], patient)
        return (
            schedule["PatientTimeZone"],
            schedule["Patient"]["TimeZone"],
            schedule["PatientOffset"],
        )

    def shown(slot: dict[str, Any], tz: ZoneInfo) -> tuple[str, str, int]:
        offset = datetime.fromisoformat(slot["PatientFromDate"]).utcoffset()
        assert offset is not None
        return tz.key, tz.key, int(offset.total_seconds() // 60)

    assert await search(monday) == slots(monday, NY)  # no patient: the facility's zone
    assert await search(monday, tele.guardian) == slots(monday, DENVER)  # their own
    assert await search(monday, ids["plain"]) == slots(monday, NY)  # no user: the facility's
    # A dependant without a zone: their user's, as the user's booking of them gives.
    offered = await search(monday, tele.dependant)
    assert offered == slots(monday, HONOLULU)
    assert await book(offered[0], tele.dependant) == shown(offered[0], HONOLULU)
    # The guardian booking's dependant: the user whose own patient is the guardian.
    offered = await search(monday, ids["nexhealth_dependant"])
    assert offered == slots(monday, HONOLULU)[1:]
    assert await book(offered[0], ids["nexhealth_dependant"]) == shown(offered[0], HONOLULU)
    # The user without a zone: the facility's.
    await api.db.write(
        lambda session: session.execute(
            update(PortalUser).where(PortalUser.id == tele.ids["user"]).values(tz=None)
        )
    )
    offered = await search(next_monday, tele.dependant)
    assert offered == slots(next_monday, NY)
    assert await book(offered[0], tele.dependant) == shown(offered[0], NY)


async def working_day(api: Api, tele: Tele, day: date, patient: ZoneInfo) -> list[dict[str, Any]]:
    """The telehealth provider's 15-minute slots of a 09:00-17:00 day at the NY facility, in the
    doctor's zone (America/Chicago) and the patient's ``patient``, worked out with zoneinfo."""
    async with api.db.read() as session:
        facility = (
            await session.execute(
                select(Location.guid).where(Location.id == tele.clinic.location_id)
            )
        ).scalar_one()
    first = datetime.combine(day, time(9), tzinfo=NY).astimezone(UTC)
    out = []
    for index in range(4 * 8):
        start = first + timedelta(minutes=15 * index)
        end = start + timedelta(minutes=15)
        out.append(
            {
                "FromDate": start.astimezone(CHICAGO).isoformat(),
                "ToDate": end.astimezone(CHICAGO).isoformat(),
                "PatientFromDate": start.astimezone(patient).isoformat(),
                "PatientToDate": end.astimezone(patient).isoformat(),
                "Duration": 15,
                "ProviderId": tele.provider,
                "FacilityId": str(facility),
                "ResourceID": None,
            }
        )
    return out


async def test_a_visit_option_of_a_deleted_type_is_not_found(api: Api) -> None:
    """The option is gone with its type: the search answers as the booking does, by GUID."""
    tele = await telehealth_clinic(api)
    clinic = tele.clinic
    await add_hours(api, clinic, location_id=clinic.location_id, provider_id=clinic.provider_ids[0])
    monday = next_weekday(0)
    params = {
        "AccountId": tele.account,
        "ProviderId": tele.provider,
        "EncounterTypeModeDurationId": tele.mode,
        "FromDate": monday.isoformat(),
        "ToDate": monday.isoformat(),
        "PatientId": tele.dependant,
    }
    before = await api.client.get(PATH, params=params, headers=tele.auth)
    assert before.status_code == 200, before.text
    # 09:00 to 17:00 at the facility, 15 minutes each; the dependant has no zone: their user's.
    assert before.json() == await working_day(api, tele, monday, DENVER)
    deleted = await api.client.delete(
        f"/appointment_types/{tele.ids['consult']}?subdomain={clinic.subdomain}",
        headers=tele.auth,
    )
    assert deleted.status_code == 200, deleted.text
    gone = {"Message": f"No visit option with ID {tele.mode} was found in this account."}
    searched = await api.client.get(PATH, params=params, headers=tele.auth)
    assert (searched.status_code, searched.json()) == (404, gone)
    start = datetime.combine(monday, time(9), tzinfo=NY).isoformat()
    booked = await post(api, tele, body(tele, start, EncounterTypeId=None))
    assert (booked.status_code, booked.json()) == (404, gone)
    async with api.db.read() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(Appointment)
            .where(Appointment.institution_id == clinic.institution_id)
        )
    assert count == 1  # the clinic's earlier (referred) appointment only


async def test_an_inactive_patient_is_refused_as_the_booking_refuses_them(api: Api) -> None:
    """No slot is offered to a patient the booking would refuse: the same 400, on PatientId."""
    tele = await telehealth_clinic(api)
    clinic = tele.clinic
    await add_hours(api, clinic, location_id=clinic.location_id, provider_id=clinic.provider_ids[0])
    monday = next_weekday(0)
    params = {
        "AccountId": tele.account,
        "ProviderId": tele.provider,
        "EncounterTypeModeDurationId": tele.mode,
        "FromDate": monday.isoformat(),
        "ToDate": monday.isoformat(),
    }

    async def set_inactive(session: AsyncSession, inactive: bool) -> None:
        await session.execute(
            update(Patient).where(Patient.id == tele.ids["dependant"]).values(inactive=inactive)
        )

    await api.db.write(lambda session: set_inactive(session, True))
    refused = {
        "Message": "The request is invalid.",
        "ModelState": {"model.PatientId": ["The patient is inactive."]},
    }
    searched = await api.client.get(
        PATH, params={**params, "PatientId": tele.dependant}, headers=tele.auth
    )
    assert (searched.status_code, searched.json()) == (400, refused)
    start = datetime.combine(monday, time(9), tzinfo=NY).isoformat()
    booked = await post(api, tele, body(tele, start, PatientId=tele.dependant))
    assert (booked.status_code, booked.json()) == (400, refused)
    # Without PatientId the search offers the provider's slots, as before.
    anyone = await api.client.get(PATH, params=params, headers=tele.auth)
    assert anyone.status_code == 200, anyone.text
    # 09:00 to 17:00 at the facility, 15 minutes each; no patient: the facility's zone.
    assert anyone.json() == await working_day(api, tele, monday, NY)
    # Active again: offered those slots, and booked.
    await api.db.write(lambda session: set_inactive(session, False))
    offered = await api.client.get(
        PATH, params={**params, "PatientId": tele.dependant}, headers=tele.auth
    )
    assert offered.status_code == 200, offered.text
    # The same slots, each also in the patient's own zone.
    assert [s["FromDate"] for s in offered.json()] == [s["FromDate"] for s in anyone.json()]
    booked = await post(
        api, tele, body(tele, offered.json()[0]["FromDate"], PatientId=tele.dependant)
    )
    assert booked.status_code == 200, booked.text
    assert booked.json()["PatientId"] == tele.dependant


async def test_the_query_is_bound_as_asp_net_binds_it(api: Api) -> None:
    """Names without regard to case, the first of repeated values, a blank value as none, every
    failing parameter at once in model binding's words."""
    clinic = await api.clinic()
    ids = await guids(api, clinic)
    monday = next_weekday(0)
    await add_hours(
        api, clinic, location_id=clinic.location_id, provider_id=clinic.provider_ids[0], end="10:00"
    )
    query = {
        "AccountId": str(ids["account"]),
        "ProviderId": str(ids["provider"]),
        "EncounterTypeModeDurationId": str(ids["mode"]),
        "FromDate": monday.isoformat(),
        "ToDate": monday.isoformat(),
    }

    def offered(patient: ZoneInfo) -> list[dict[str, Any]]:
        return [
            {
                "FromDate": iso(monday, hhmm, NY, NY),
                "ToDate": iso(monday, end, NY, NY),
                "PatientFromDate": iso(monday, hhmm, NY, patient),
                "PatientToDate": iso(monday, end, NY, patient),
                "Duration": 30,
                "ProviderId": str(ids["provider"]),
                "FacilityId": str(ids["ny"]),
                "ResourceID": None,
            }
            for hhmm, end in (("09:00", "09:30"), ("09:30", "10:00"))
        ]

    async def get(pairs: list[tuple[str, str]]) -> tuple[int, Any]:
        response = await api.client.get(PATH, params=tuple(pairs), headers=clinic.auth)
        return response.status_code, response.json()

    canonical = list(query.items())
    assert await get(canonical) == (200, offered(NY))
    lower = [(name.lower(), value) for name, value in query.items()]
    upper = [(name.upper(), value) for name, value in query.items()]
    patient = str(ids["patient"])  # in Los Angeles
    assert await get(lower) == (200, offered(NY))
    assert await get([*upper, ("patientid", patient)]) == (200, offered(LA))
    assert await get([*canonical, ("PATIENTID", "{" + patient.upper() + "}")]) == (
        200,
        offered(LA),
    )
    # A blank PatientId is none, as ASP.NET binds a blank nullable Guid.
    for blank in ("", "  "):
        assert await get([*canonical, ("PatientId", blank)]) == (200, offered(NY)), blank
    # The first of repeated values counts, whatever the case of its name.
    assert await get([*lower, ("AccountId", "nope"), ("PatientId", patient)]) == (
        200,
        offered(LA),
    )

    def invalid(**errors: str) -> tuple[int, Any]:
        return 400, {
            "Message": "The request is invalid.",
            "ModelState": {f"model.{name}": [message] for name, message in errors.items()},
        }

    assert await get([]) == invalid(
        AccountId="The AccountId field is required.",
        ProviderId="The ProviderId field is required.",
        EncounterTypeModeDurationId="The EncounterTypeModeDurationId field is required.",
        FromDate="The FromDate field is required.",
        ToDate="The ToDate field is required.",
    )
    assert await get(
        [
            ("accountid", " "),
            ("PROVIDERID", "nope"),
            ("EncounterTypeModeDurationId", str(ids["mode"])),
            ("fromDate", "2030-02-30"),
            ("ToDate", monday.isoformat()),
            ("patientId", "12345"),
        ]
    ) == invalid(
        AccountId="The AccountId field is required.",
        ProviderId="The value 'nope' is not valid for ProviderId.",
        FromDate="The value '2030-02-30' is not valid for FromDate.",
        PatientId="The value '12345' is not valid for PatientId.",
    )
