"""Routes, content types, auth, references and who may book whom."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from carebook.db.tables import (
    Appointment,
    AppointmentType,
    Location,
    Operatory,
    Patient,
    PortalUser,
    Provider,
    ProviderLocation,
    VisitReason,
)
from tests.availability.helpers import add_appointment, add_closure, add_hours, next_weekday
from tests.calendar.helpers import (
    DOCTOR_TZ,
    URL,
    Tele,
    body,
    future_day,
    model_state,
    post,
    telehealth_clinic,
)
from tests.support import Api

pytestmark = pytest.mark.anyio


def start(hour: int = 10, days: int = 10) -> str:
    return f"{future_day(days).isoformat()}T{hour:02d}:00:00-05:00"


@pytest.mark.parametrize(
    "path",
    [
        "/api/Calendar/PatientAppointmentPost",
        "/api/calendar/patientappointmentpost",
        "/API/CALENDAR/PATIENTAPPOINTMENTPOST/",
        "/api/Calendar/PatientAppointmentPost_v1",
        "/api/calendar/patientappointmentpost_V1/",
    ],
)
async def test_routes_match_as_aspnet_does(api: Api, path: str) -> None:
    tele = await telehealth_clinic(api)
    response = await post(api, tele, body(tele, start()), url=path)
    assert response.status_code == 200, response.text
    assert response.json()["Duration"] == 15


async def test_other_methods_and_paths(api: Api) -> None:
    tele = await telehealth_clinic(api)
    response = await api.client.get(URL, headers=tele.auth)
    assert response.status_code == 405
    assert response.json() == {"Message": f"GET is not allowed on {URL}"}
    response = await post(api, tele, body(tele, start()), url="/api/Calendar/PatientAppointmentPut")
    assert response.status_code == 404
    assert list(response.json()) == ["Message"]


async def test_auth(api: Api) -> None:
    tele = await telehealth_clinic(api)
    payload = body(tele, start())
    response = await api.client.post(URL, json=payload)
    assert response.status_code == 401
    assert response.json() == {
        "Message": "missing Authorization header: send 'Bearer <token>' from /authenticates"
    }
    response = await api.client.post(URL, json=payload, headers={"Authorization": "Bearer x"})
    assert response.status_code == 401
    assert response.json() == {"Message": "the bearer token is not valid"}
    # Auth is checked before the body is read, as ASP.NET's filters run before binding.
    response = await api.client.post(URL, content=b"garbage")
    assert response.status_code == 401


async def test_accounts_the_key_does_not_reach(api: Api) -> None:
    tele = await telehealth_clinic(api)
    other = await telehealth_clinic(api, "other", sample_guids=False)
    # Another tenant's account, and an account that does not exist: the same 403.
    for account in (other.account, str(uuid.uuid4())):
        response = await post(api, tele, body(tele, start(), AccountId=account))
        assert response.status_code == 403
        assert response.json() == {
            "Message": f"Authorization has been denied for account {account}."
        }
    # Another tenant's user (or any record) is not found in this account.
    response = await post(api, tele, body(tele, start(), UserId=other.user))
    assert response.status_code == 404
    assert response.json() == {
        "Message": f"No user with ID {other.user} was found in this account."
    }
    # The admin reaches every account, and is told when one does not exist.
    admin = await api.admin_auth()
    response = await api.client.post(URL, json=body(other, start()), headers=admin)
    assert response.status_code == 200, response.text
    missing = str(uuid.uuid4())
    response = await api.client.post(
        URL, json=body(other, start(11), AccountId=missing), headers=admin
    )
    assert response.status_code == 404
    assert response.json() == {
        "Message": f"No account with ID {missing} was found in this account."
    }


@pytest.mark.parametrize(
    ("field", "what"),
    [
        ("UserId", "user"),
        ("ProviderId", "provider"),
        ("PatientId", "patient"),
        ("ParentId", "patient"),
        ("EncounterTypeId", "encounter type"),
        ("EncounterTypeModeDurationId", "visit option"),
        ("SpecialityId", "speciality"),
        ("ServiceId", "service"),
        ("ReferredParentId", "appointment"),
    ],
)
async def test_unknown_ids_are_404(api: Api, field: str, what: str) -> None:
    tele = await telehealth_clinic(api)
    unknown = str(uuid.uuid4())
    response = await post(api, tele, body(tele, start(), **{field: unknown}))
    assert response.status_code == 404, response.text
    assert response.json() == {"Message": f"No {what} with ID {unknown} was found in this account."}


async def test_unknown_reason_is_404(api: Api) -> None:
    tele = await telehealth_clinic(api)
    unknown = str(uuid.uuid4())
    reasons = [{"ReasonId": tele.reason}, {"ReasonId": unknown}]
    response = await post(api, tele, body(tele, start(), Reasons=reasons))
    assert response.status_code == 404
    assert response.json() == {"Message": f"No reason with ID {unknown} was found in this account."}


async def test_business_rules_are_400(api: Api) -> None:
    tele = await telehealth_clinic(api)
    cases: list[tuple[dict[str, Any], dict[str, list[str]]]] = [
        (
            {"ProviderId": None},
            {"model.ProviderId": ["The ProviderId field is required: a booking needs a provider."]},
        ),
        (
            {"EncounterTypeId": None, "EncounterTypeModeDurationId": None},
            {
                "model.EncounterTypeId": [
                    "The EncounterTypeId field is required when EncounterTypeModeDurationId is "
                    "absent: it sets the length of the visit."
                ]
            },
        ),
        (
            # The guardian named must be the user's own patient, guardian of the patient.
            {"PatientId": tele.dependant, "ParentId": tele.dependant},
            {
                "model.ParentId": [
                    "ParentId must be the guardian of the patient booked: the user's own patient."
                ]
            },
        ),
        (
            {"ParentId": tele.guardian},
            {
                "model.ParentId": [
                    "ParentId must be the guardian of the patient booked: the user's own patient."
                ]
            },
        ),
    ]
    # A time that has passed, whatever the date, the time of day and the machine's zone: a fixed
    # past local time; an instant a minute ago with an explicit offset; and a minute ago as a
    # local time without one, read in the doctor's zone (only the database rule, which knows the
    # zone, can tell it has passed: it is less than 14 hours ago).
    past = "AppointmentOn must be in the future; the time given has passed."
    minute_ago = (datetime.now(UTC) - timedelta(minutes=1)).astimezone(ZoneInfo(DOCTOR_TZ))
    for value in (
        "2020-01-06T10:00:00",
        minute_ago.isoformat(timespec="seconds"),
        minute_ago.replace(tzinfo=None).isoformat(timespec="seconds"),
    ):
        cases.append(({"AppointmentOn": value}, {"model.AppointmentOn": [past]}))
    for fields, expected in cases:
        response = await post(api, tele, body(tele, start(), **fields))
        assert model_state(response) == expected, fields
    async with api.db.read() as session:
        booked = await session.execute(
            select(Appointment.id).where(Appointment.institution_id == tele.clinic.institution_id)
        )
        assert booked.scalars().all() == [tele.ids["referred"]]  # the set-up's visit only


async def test_visit_option_of_another_type(api: Api) -> None:
    tele = await telehealth_clinic(api)

    async def other_type(session: Any) -> str:
        row = AppointmentType(institution_id=tele.clinic.institution_id, name="X", minutes=20)
        session.add(row)
        await session.flush()
        return str(row.guid)

    other = await api.db.write(other_type)
    response = await post(api, tele, body(tele, start(), EncounterTypeId=other))
    assert model_state(response) == {
        "model.EncounterTypeModeDurationId": [
            "The visit option EncounterTypeModeDurationId is not one of the encounter type "
            "EncounterTypeId."
        ]
    }
    # Without a visit option the type's own length applies.
    response = await post(
        api, tele, body(tele, start(), EncounterTypeId=other, EncounterTypeModeDurationId=None)
    )
    assert response.status_code == 200, response.text
    data = response.json()
    assert (data["Duration"], data["EncounterTypeModeDurationId"], data["VisitMode"]) == (
        20,
        None,
        None,
    )


async def test_who_the_user_may_book(api: Api) -> None:
    tele = await telehealth_clinic(api)
    # Without PatientId: the user's own patient, not a guardian booking.
    response = await post(api, tele, body(tele, start(9)))
    assert response.status_code == 200, response.text
    data = response.json()
    assert (data["PatientId"], data["IsGuardian"], data["GuardianId"], data["ParentId"]) == (
        tele.guardian,
        0,
        None,
        None,
    )
    # A dependant without ParentId: still a guardian booking.
    response = await post(api, tele, body(tele, start(10), PatientId=tele.dependant))
    assert response.status_code == 200, response.text
    data = response.json()
    assert (data["PatientId"], data["IsGuardian"], data["GuardianId"], data["GuardianName"]) == (
        tele.dependant,
        1,
        tele.guardian,
        "Maria Garcia",
    )
    # Someone else's patient: 403.
    async with api.db.read() as session:
        stranger = (
            await session.execute(select(Patient).where(Patient.id == tele.clinic.patient_ids[0]))
        ).scalar_one()
    response = await post(api, tele, body(tele, start(11), PatientId=str(stranger.guid)))
    assert response.status_code == 403
    assert response.json() == {
        "Message": f"The user {tele.user} may not book for the patient {stranger.guid}."
    }

    # A user with no patient of their own must name one.
    async def lone_user(session: Any) -> str:
        user = PortalUser(
            institution_id=tele.clinic.institution_id,
            email="x@y.test",
            first_name="X",
            last_name="Y",
        )
        session.add(user)
        await session.flush()
        return str(user.guid)

    lone = await api.db.write(lone_user)
    response = await post(api, tele, body(tele, start(12), UserId=lone))
    assert model_state(response) == {
        "model.PatientId": [
            "The PatientId field is required: the user has no patient record of their own."
        ]
    }
    # The guardian books the dependant and themself at the same time: two people, two rows.
    async with api.db.read() as session:
        rows = (
            await session.execute(
                select(Appointment.patient_id, Appointment.is_guardian)
                .where(
                    Appointment.booked_via == "calendar", Appointment.start_at > datetime.now(UTC)
                )
                .order_by(Appointment.id)
            )
        ).all()
    assert [tuple(r) for r in rows] == [
        (tele.ids["guardian"], False),
        (tele.ids["dependant"], True),
    ]


async def test_inactive_patient(api: Api) -> None:
    tele = await telehealth_clinic(api)

    async def deactivate(session: Any) -> None:
        await session.execute(
            update(Patient).where(Patient.id == tele.ids["dependant"]).values(inactive=True)
        )

    await api.db.write(deactivate)
    response = await post(api, tele, body(tele, start(), PatientId=tele.dependant))
    assert model_state(response) == {"model.PatientId": ["The patient is inactive."]}


async def test_content_types(api: Api) -> None:
    tele = await telehealth_clinic(api)

    async def second_reason(session: Any) -> str:
        row = VisitReason(institution_id=tele.clinic.institution_id, name="Fever", code="R50")
        session.add(row)
        await session.flush()
        return str(row.guid)

    fever: str = await api.db.write(second_reason)
    payload = body(tele, start(9), Reasons=[{"ReasonId": tele.reason}])

    for hour, content_type in ((9, "application/json"), (10, "text/json; charset=utf-8")):
        payload["AppointmentOn"] = start(hour)
        response = await post(
            api, tele, json.dumps(payload).encode(), headers={"Content-Type": content_type}
        )
        assert response.status_code == 200, (content_type, response.text)
        assert response.json()["ReasonId"] == tele.reason

    form = {
        "AccountId": tele.account,
        "userid": tele.user,
        "model.ProviderId": tele.provider,
        "EncounterTypeModeDurationId": tele.phone_mode,
        "AppointmentOn": start(11),
        "Reason": "Fièvre",
        "Note": "",
        "PaidAmount": "20",
        "DocIds": "a, b,,c",
        "Reasons[0].ReasonId": tele.reason,
        "Reasons[1][ReasonId]": fever,
    }
    response = await post(
        api,
        tele,
        urlencode(form).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["Reason"] == "Fièvre"
    assert data["Note"] is None  # a form's empty value binds to null
    assert data["Duration"] == 45
    assert data["VisitMode"] == "Phone"
    assert data["PaidAmount"] == 20.0
    assert data["DocIds"] == ["a", "b", "c"]
    assert data["ReasonId"] == f"{tele.reason},{fever}"

    bad = {"AccountId": "nope", "UserId": "", "AppointmentOn": "soon", "MethodId": "x"}
    response = await post(
        api,
        tele,
        urlencode(bad).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert model_state(response) == {
        "model.UserId": ["The UserId field is required."],
        "model.AppointmentOn": ["The value 'soon' is not valid for AppointmentOn."],
        "model.Reason": ["The Reason field is required."],
        "model.AccountId": ["The value 'nope' is not valid for AccountId."],
        "model.MethodId": ["The value 'x' is not valid for MethodId."],
    }


def next_on(month: int, day: int) -> date:
    """The first ``month``/``day`` at least two days from today (UTC): always ahead, and always
    in the same season whatever today is."""
    soon = datetime.now(UTC).date() + timedelta(days=2)
    this_year = date(soon.year, month, day)
    return this_year if this_year >= soon else date(soon.year + 1, month, day)


@pytest.mark.parametrize(("month", "offset"), [(1, "-06:00"), (7, "-05:00")])
async def test_offsetless_time_is_the_providers_local_time(
    api: Api, month: int, offset: str
) -> None:
    """A time without an offset is the doctor's (America/Chicago) wall time: CST in January,
    CDT in July."""
    tele = await telehealth_clinic(api)
    day = next_on(month, 15)
    response = await post(api, tele, body(tele, f"{day.isoformat()}T08:00:00"))
    assert response.status_code == 200, response.text
    data = response.json()
    hours = 6 if offset == "-06:00" else 5
    utc_start = datetime.combine(day, time(8 + hours), UTC)
    assert (
        data["AppointmentOn"],
        data["FromDate"],
        data["ToDate"],
        data["AppointmentOnUTC"],
        data["DoctorTimeZone"],
        data["DoctorOffset"],
        data["Duration"],
    ) == (
        f"{day.isoformat()}T08:00:00{offset}",
        f"{day.isoformat()}T08:00:00{offset}",
        f"{day.isoformat()}T08:15:00{offset}",
        f"{day.isoformat()}T{8 + hours:02d}:00:00Z",
        "America/Chicago",
        -60 * hours,
        15,
    )
    # The same instants, from zoneinfo rather than from the table above.
    local = utc_start.astimezone(ZoneInfo(DOCTOR_TZ))
    assert (local.date(), local.time(), local.isoformat()[19:]) == (day, time(8), offset)
    async with api.db.read() as session:
        row = (
            await session.execute(select(Appointment).where(Appointment.guid == data["ID"]))
        ).scalar_one()
    assert (row.start_at, row.end_at) == (utc_start, utc_start + timedelta(minutes=15))


async def test_location_scoped_type_books_the_first_free_operatory(api: Api) -> None:
    tele = await telehealth_clinic(api)
    berlin = tele.clinic.op_location_id

    async def scope_type(session: Any) -> list[str]:
        await session.execute(
            update(AppointmentType)
            .where(AppointmentType.id == tele.ids["consult"])
            .values(parent_type="Location", parent_id=berlin)
        )
        ops = (
            await session.execute(
                select(Operatory).where(Operatory.location_id == berlin).order_by(Operatory.id)
            )
        ).scalars()
        return [str(o.guid) for o in ops]

    chairs = await api.db.write(scope_type)
    async with api.db.read() as session:
        providers = (
            await session.execute(
                select(ProviderLocation.provider_id).where(ProviderLocation.location_id == berlin)
            )
        ).scalars()
        assert len(list(providers)) == 3
        location = (
            await session.execute(select(Location).where(Location.id == berlin))
        ).scalar_one()
    third = await provider_guid(api, tele.clinic.provider_ids[2])
    when = f"{future_day().isoformat()}T10:00:00+01:00"
    first = await post(api, tele, body(tele, when))
    assert first.status_code == 200, first.text
    assert first.json()["ResourceID"] == chairs[0]
    assert first.json()["Resource"] == {"ID": chairs[0], "Name": "Chair 1"}
    assert first.json()["FacilityId"] == str(location.guid)
    second = await post(
        api, tele, body(tele, when, ProviderId=tele.other_provider, PatientId=tele.dependant)
    )
    assert second.status_code == 200, second.text
    assert second.json()["ResourceID"] == chairs[1]
    # The first booking's GUIDs again (its kept look-up), at a time the other provider has
    # taken chair 1: chair 2, and the answer says so (not the first answer's chair).
    later = f"{future_day().isoformat()}T11:00:00+01:00"
    other_first = await post(
        api, tele, body(tele, later, ProviderId=tele.other_provider, PatientId=tele.dependant)
    )
    assert other_first.json()["ResourceID"] == chairs[0]
    again = await post(api, tele, body(tele, later))
    assert again.status_code == 200, again.text
    assert (again.json()["ResourceID"], again.json()["Resource"]) == (
        chairs[1],
        {"ID": chairs[1], "Name": "Chair 2"},
    )
    starts = datetime.fromisoformat(later).astimezone(ZoneInfo(first.json()["DoctorTimeZone"]))
    assert {k: v for k, v in again.json().items() if first.json()[k] != v} == {
        "ID": again.json()["ID"],
        "ResourceID": chairs[1],
        "Resource": {"ID": chairs[1], "Name": "Chair 2"},
        "AppointmentOn": starts.isoformat(),
        "FromDate": starts.isoformat(),
        "ToDate": (starts + timedelta(minutes=15)).isoformat(),
        "AppointmentOnUTC": f"{future_day().isoformat()}T10:00:00Z",
        "ModifiedOn": again.json()["ModifiedOn"],
    }
    # Both chairs taken: the third provider's booking names the clash.
    other_user = await telehealth_user(api, tele)
    third_try = await post(api, tele, body(tele, when, ProviderId=third, UserId=other_user))
    assert third_try.status_code == 409, third_try.text
    message = third_try.json()["Message"]
    assert message.startswith(f"The time {future_day().isoformat()}T")
    assert "it overlaps the operatory's appointment " + second.json()["ID"] in message


async def provider_guid(api: Api, provider_id: int) -> str:
    async with api.db.read() as session:
        row = (
            await session.execute(select(Provider).where(Provider.id == provider_id))
        ).scalar_one()
    return str(row.guid)


async def telehealth_user(api: Api, tele: Tele) -> str:
    """Another portal user with a patient of their own."""

    async def build(session: Any) -> str:
        iid = tele.clinic.institution_id
        user = PortalUser(institution_id=iid, email="b@x.test", first_name="B", last_name="X")
        session.add(user)
        await session.flush()
        patient = Patient(institution_id=iid, first_name="B", last_name="X", portal_user_id=user.id)
        session.add(patient)
        await session.flush()
        user.self_patient_id = patient.id
        return str(user.guid)

    result: str = await api.db.write(build)
    return result


async def add_dependant(
    api: Api, tele: Tele, first_name: str, last_name: str, born: date
) -> tuple[int, str]:
    """Another dependant of the user's own patient: its id and GUID."""

    async def build(session: Any) -> tuple[int, str]:
        row = Patient(
            institution_id=tele.clinic.institution_id,
            location_id=tele.clinic.location_id,
            first_name=first_name,
            last_name=last_name,
            date_of_birth=born,
            gender="Female",
            bio={"date_of_birth": born.isoformat(), "gender": "Female"},
            guarantor_id=tele.ids["guardian"],
            portal_user_id=tele.ids["user"],
        )
        session.add(row)
        await session.flush()
        return row.id, str(row.guid)

    result: tuple[int, str] = await api.db.write(build)
    return result


async def patient_ids(api: Api) -> list[int]:
    async with api.db.read() as session:
        return list((await session.execute(select(Patient.id).order_by(Patient.id))).scalars())


async def future_bookings(api: Api) -> list[tuple[str, int | None, int | None, bool]]:
    """The appointments booked by the tests (the referred one is in the past)."""
    async with api.db.read() as session:
        rows = await session.execute(
            select(
                Appointment.guid,
                Appointment.patient_id,
                Appointment.guardian_patient_id,
                Appointment.is_guardian,
            )
            .where(Appointment.start_at > datetime.now(UTC))
            .order_by(Appointment.id)
        )
        return [(str(guid), p, g, bool(i)) for guid, p, g, i in rows.tuples()]


def booked_patient(response: Any) -> tuple[Any, ...]:
    assert response.status_code == 200, response.text
    data = response.json()
    return (
        data["PatientId"],
        data["Patient"]["ID"],
        data["Patient"]["FirstName"],
        data["IsGuardian"],
        data["GuardianId"],
        data["Patient"]["GuardianId"],
    )


async def test_a_dependant_is_booked_as_named_never_created(api: Api) -> None:
    """The PatientId found is the patient booked: no match by name (SQLite's lower() folds
    only ASCII), no new patient."""
    tele = await telehealth_clinic(api)
    elodie_id, elodie = await add_dependant(api, tele, "Élodie", "Garcia", date(2018, 3, 5))
    patients = await patient_ids(api)
    responses = [
        await post(api, tele, body(tele, start(hour), PatientId=elodie)) for hour in (9, 10)
    ]
    for response in responses:
        assert booked_patient(response) == (
            elodie,
            elodie,
            "Élodie",
            1,
            tele.guardian,
            tele.guardian,
        )
    assert await patient_ids(api) == patients
    assert await future_bookings(api) == [
        (r.json()["ID"], elodie_id, tele.ids["guardian"], True) for r in responses
    ]


async def test_the_dependant_named_is_booked_not_a_namesake(api: Api) -> None:
    """Two dependants with the same name and birth date: PatientId says which."""
    tele = await telehealth_clinic(api)
    twin_id, twin = await add_dependant(api, tele, "LUCIA", "garcia", date(2016, 9, 1))
    assert twin_id > tele.ids["dependant"]
    patients = await patient_ids(api)
    first = await post(api, tele, body(tele, start(9), PatientId=twin))
    assert booked_patient(first) == (twin, twin, "LUCIA", 1, tele.guardian, tele.guardian)
    second = await post(api, tele, body(tele, start(10), PatientId=tele.dependant))
    assert booked_patient(second) == (
        tele.dependant,
        tele.dependant,
        "Lucia",
        1,
        tele.guardian,
        tele.guardian,
    )
    assert await patient_ids(api) == patients
    assert await future_bookings(api) == [
        (first.json()["ID"], twin_id, tele.ids["guardian"], True),
        (second.json()["ID"], tele.ids["dependant"], tele.ids["guardian"], True),
    ]


BERLIN = ZoneInfo("Europe/Berlin")


def shown(instant: datetime) -> str:
    """An instant as the Calendar's messages show it: the provider's local time, milliseconds
    and offset."""
    local = instant.astimezone(ZoneInfo(DOCTOR_TZ))
    offset = local.strftime("%z")
    return local.strftime("%Y-%m-%dT%H:%M:%S.000") + f"{offset[:3]}:{offset[3:]}"


async def test_working_hours_of_one_operatory(api: Api) -> None:
    """The provider works in Chair 2 only: a booking moves past Chair 1 to it, and when no
    chair will do, the answer names the most useful reason, by GUID."""
    tele = await telehealth_clinic(api)
    berlin = tele.clinic.op_location_id
    chair_1, chair_2 = tele.clinic.operatory_ids

    async def scope_type(session: Any) -> tuple[list[str], str]:
        await session.execute(
            update(AppointmentType)
            .where(AppointmentType.id == tele.ids["consult"])
            .values(parent_type="Location", parent_id=berlin)
        )
        ops = await session.execute(
            select(Operatory.guid).where(Operatory.location_id == berlin).order_by(Operatory.id)
        )
        location = await session.execute(select(Location.guid).where(Location.id == berlin))
        return [str(g) for g in ops.scalars()], str(location.scalar_one())

    chairs, facility = await api.db.write(scope_type)
    provider = tele.clinic.provider_ids[0]
    await add_hours(
        api, tele.clinic, location_id=berlin, provider_id=provider, operatory_id=chair_2
    )
    monday = next_weekday(0)

    def at(hour: int) -> datetime:
        return datetime.combine(monday, time(hour), tzinfo=BERLIN)

    booked = await post(api, tele, body(tele, at(10).isoformat()))
    assert booked.status_code == 200, booked.text
    assert (booked.json()["ResourceID"], booked.json()["Resource"]) == (
        chairs[1],
        {"ID": chairs[1], "Name": "Chair 2"},
    )

    # Before the hours: no chair will do, and the message speaks GUIDs.
    early = await post(api, tele, body(tele, at(8).isoformat()))
    assert early.status_code == 409, early.text
    assert early.json() == {
        "Message": f"The time {shown(at(8))} is not available: the provider {tele.provider} "
        f"does not work at the facility {facility} then."
    }

    # Chair 2 is taken at 11:00 (another provider), Chair 1 is outside the hours: the taken
    # chair, where the provider does work, is the reason given.
    taken = await add_appointment(
        api,
        tele.clinic,
        location_id=berlin,
        provider_id=tele.clinic.provider_ids[1],
        operatory_id=chair_2,
        start=at(11).astimezone(UTC),
        minutes=30,
    )
    async with api.db.read() as session:
        taken_guid = (
            await session.execute(select(Appointment.guid).where(Appointment.id == taken))
        ).scalar_one()
    busy = await post(api, tele, body(tele, at(11).isoformat()))
    assert busy.status_code == 409, busy.text
    assert busy.json() == {
        "Message": f"The time {shown(at(11))} is not available: it overlaps the operatory's "
        f"appointment {taken_guid}."
    }

    # A closed facility: every chair is closed, said once.
    tuesday = monday + timedelta(days=1)
    await add_closure(api, tele.clinic, location_id=berlin, start=tuesday, end=tuesday)
    closed_at = datetime.combine(tuesday, time(10), tzinfo=BERLIN)
    closed = await post(api, tele, body(tele, closed_at.isoformat()))
    assert closed.status_code == 409, closed.text
    assert closed.json() == {
        "Message": f"The time {shown(closed_at)} is not available: the facility {facility} "
        f"is closed on {tuesday.isoformat()}."
    }

    assert [row[0] for row in await future_bookings(api)] == [booked.json()["ID"], str(taken_guid)]
    async with api.db.read() as session:
        operatory = (
            await session.execute(
                select(Appointment.operatory_id).where(Appointment.guid == booked.json()["ID"])
            )
        ).scalar_one()
    assert operatory == chair_2
    assert chair_1 != chair_2


async def test_outside_hours_without_operatories_speaks_guids(api: Api) -> None:
    """A facility that books by provider: the working-hours answer names no internal id."""
    tele = await telehealth_clinic(api)
    await add_hours(
        api,
        tele.clinic,
        location_id=tele.clinic.location_id,
        provider_id=tele.clinic.provider_ids[0],
    )
    async with api.db.read() as session:
        facility = (
            await session.execute(
                select(Location.guid).where(Location.id == tele.clinic.location_id)
            )
        ).scalar_one()
    monday = next_weekday(0)
    when = datetime.combine(monday, time(18), tzinfo=ZoneInfo("America/New_York"))
    response = await post(api, tele, body(tele, when.isoformat()))
    assert response.status_code == 409, response.text
    assert response.json() == {
        "Message": f"The time {shown(when)} is not available: the provider {tele.provider} "
        f"does not work at the facility {facility} then."
    }
    assert await future_bookings(api) == []
