"""The reference's own sample request, and the shapes the reference lists."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from carebook.api.calendar.model import FIELDS
from carebook.api.calendar.schedule import Schedule
from carebook.db.tables import Appointment, AppointmentReason
from tests.calendar.helpers import (
    ACCOUNT,
    DOCTOR_TZ,
    ENCOUNTER_TYPE,
    MODE,
    PARENT,
    PATIENT,
    PATIENT_TZ,
    PROVIDER,
    REASON,
    REFERENCE,
    REFERRED,
    SERVICE,
    SPECIALITY,
    USER,
    future_day,
    model_state,
    post,
    sample_text,
    telehealth_clinic,
)
from tests.support import Api

pytestmark = pytest.mark.anyio


def _reference_table(title: str) -> list[str]:
    """The property names of one table of the reference (``Name | ... |`` rows after ``title``)."""
    text = REFERENCE.read_text()
    start = text.index(f"{title}| Name |")
    names = []
    for line in text[start:].splitlines()[2:]:
        if line.startswith(("Request Formats", "Response Formats")):
            break
        match = re.match(r"^\| (\w+) \|", line)
        if match:
            names.append(match.group(1))
    return names


def test_schedule_has_every_property_of_the_reference_in_order() -> None:
    expected = _reference_table("Schedule")
    assert len(expected) == 87
    assert list(Schedule.model_fields) == expected


def test_appointment_model_has_every_property_of_the_reference_in_order() -> None:
    assert [name for name, _ in FIELDS] == _reference_table("AppointmentModel")


def _local(text: str, tz: str) -> str:
    value = datetime.fromisoformat(text).astimezone(ZoneInfo(tz))
    stamp = value.strftime("%Y-%m-%dT%H:%M:%S.%f").rstrip("0").rstrip(".")
    offset = value.strftime("%z")
    return f"{stamp}{offset[:3]}:{offset[3:]}"


def _offset(text: str, tz: str) -> int:
    delta = datetime.fromisoformat(text).astimezone(ZoneInfo(tz)).utcoffset()
    assert delta is not None
    return int(delta.total_seconds() // 60)


async def test_the_sample_books_a_guardian_appointment(api: Api) -> None:
    tele = await telehealth_clinic(api)
    day = future_day()
    response = await post(api, tele, sample_text(day))
    assert response.status_code == 200, response.text
    data = response.json()
    assert list(data) == _reference_table("Schedule")

    given = f"{day.isoformat()}T21:03:34.482247-06:00"
    end = f"{day.isoformat()}T21:18:34.482247-06:00"
    utc_start = datetime.fromisoformat(given).astimezone(UTC)
    async with api.db.read() as session:
        row = (
            await session.execute(select(Appointment).where(Appointment.guid == data["ID"]))
        ).scalar_one()
        reasons = list(
            (
                await session.execute(
                    select(AppointmentReason.reason_id).where(
                        AppointmentReason.appointment_id == row.id
                    )
                )
            ).scalars()
        )
    assert reasons == [tele.ids["reason"]]
    assert row.start_at == utc_start
    assert row.booked_via == "calendar"
    assert row.patient_id == tele.ids["dependant"]
    assert row.guardian_patient_id == tele.ids["guardian"]
    assert row.portal_user_id == tele.ids["user"]
    assert row.referred_parent_id == tele.ids["referred"]
    assert row.secondary_start_at == utc_start
    created = row.created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f").rstrip("0")
    created = created.rstrip(".") + "Z"

    assert data == {
        "ID": data["ID"],
        "FacilityId": data["FacilityId"],
        "ResourceID": None,
        "AppointmentTypeId": ENCOUNTER_TYPE,
        "PreferredPharmacyId": None,
        "EncounterTypeModeDurationId": MODE,
        "ServiceId": SERVICE,
        "FromUserType": "P",
        "FromUserID": USER,
        "UserId": USER,
        "Title": None,
        "Reason": "sample string 3",
        "CancelReason": None,
        "Type": None,
        "AppointmentOn": _local(given, DOCTOR_TZ),
        "SecondaryAppointmentOn": _local(given, DOCTOR_TZ),
        "FromDate": _local(given, DOCTOR_TZ),
        "Duration": 15,
        "Note": "sample string 4",
        "ToDate": _local(end, DOCTOR_TZ),
        "StatusId": 1,
        "AppointmentCount": None,
        "EncounterTypeModeId": 2,
        "RoomNo": None,
        "Option": None,
        "CallType": None,
        "CallRefId": None,
        "GuardianName": "Maria Garcia",
        "Location": "Downtown",
        "SpecialityId": SPECIALITY,
        "ParentScheduleId": REFERRED,
        "DoctorId": PROVIDER,
        "PaidDate": created,
        "AppointmentOnUTC": utc_start.strftime("%Y-%m-%dT%H:%M:%S.482247Z"),
        "SecondaryAppointmentOnUTC": utc_start.strftime("%Y-%m-%dT%H:%M:%S.482247Z"),
        "PaidAmount": 5.0,
        "AccountId": ACCOUNT,
        "GuardianId": PARENT,
        "PatientReferralId": None,
        "ParentId": PARENT,
        "PatientId": PATIENT,
        "IsGuardian": 1,
        "AppointmentModeId": 2,
        "ReferenceId": None,
        "VisitMode": "Video",
        "VisitCode": None,
        "Doctor": "Pat0 Doctor",
        "MethodId": 1,
        "PayConceptId": None,
        "PayMethodId": None,
        "DocIds": ["sample string 8"],
        "ReasonId": REASON,
        "DocId": "sample string 8",
        "DoctorTimeZone": DOCTOR_TZ,
        "PatientTimeZone": PATIENT_TZ,
        "PatientHummyurl": None,
        "DoctorOffset": _offset(given, DOCTOR_TZ),
        "PatientOffset": _offset(given, PATIENT_TZ),
        "EncounterId": None,
        "DoctorZoneDate": None,
        "PrimaryPatient": None,
        "SessionId": None,
        "OldAppointmentOn": None,
        "OldAppointmentOnUTC": None,
        "OldSecondaryAppointmentOnUTC": None,
        "PortalType": None,
        "UserOffset": _offset(given, PATIENT_TZ),
        "EncounterNo": None,
        "StatusName": "Scheduled",
        "InsuranceName": None,
        "InsuranceId": None,
        "EncounterTypeId": ENCOUNTER_TYPE,
        "Patient": {
            "ID": PATIENT,
            "FirstName": "Lucia",
            "MiddleName": None,
            "LastName": "Garcia",
            "FullName": "Lucia Garcia",
            "Email": None,
            "Phone": None,
            "DateOfBirth": "2016-09-01",
            "Gender": "Female",
            "TimeZone": PATIENT_TZ,
            "GuardianId": PARENT,
        },
        "EncounterType": {"ID": ENCOUNTER_TYPE, "Name": "Telehealth consult", "Duration": 30},
        "Resource": None,
        "Status": {"ID": 1, "Name": "Scheduled"},
        "Facility": {
            "ID": data["FacilityId"],
            "Name": "Downtown",
            "TimeZone": "America/New_York",
            "Address": None,
            "City": None,
            "State": None,
            "ZipCode": None,
            "Phone": None,
        },
        "Encounter": None,
        "Member": None,
        "Notification": None,
        "Speciality": {"ID": SPECIALITY, "Name": "Family", "Code": "FM"},
        "ScheduleDetails": None,
        "Members": None,
        "customFormModel": None,
        "ModifiedBy": USER,
        "ModifiedOn": created,
        "Modified": None,
    }


async def test_the_verbatim_sample_is_refused_only_for_its_past_date(api: Api) -> None:
    tele = await telehealth_clinic(api)
    response = await post(api, tele, sample_text())
    assert model_state(response) == {
        "model.AppointmentOn": ["AppointmentOn must be in the future; the time given has passed."]
    }


async def test_the_verbatim_sample_parses_even_where_its_ids_do_not_exist(api: Api) -> None:
    tele = await telehealth_clinic(api, sample_guids=False)
    response = await post(api, tele, sample_text())
    assert model_state(response) == {
        "model.AppointmentOn": ["AppointmentOn must be in the future; the time given has passed."]
    }
    # With its dates moved on, the unknown account is simply not reachable for this key.
    moved = await post(api, tele, sample_text(future_day()))
    assert moved.status_code == 403
    assert moved.json() == {"Message": f"Authorization has been denied for account {ACCOUNT}."}
