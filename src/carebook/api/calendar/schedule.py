"""``Schedule``: what ``PatientAppointmentPost`` answers, every property of the reference in its
order (PascalCase as ASP.NET writes them), null where Carebook has nothing to say.

Dates are written as Json.NET writes a ``DateTimeOffset``: ISO 8601 local time in the provider's
zone with its offset (``2026-02-03T21:03:34-06:00``, fractions only when there are any); the
``...UTC`` properties and server timestamps (``PaidDate``, ``ModifiedOn``) in UTC with ``Z``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, tzinfo
from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic_core import to_json

from carebook.core.telehealth import MODE_NAMES, CalendarAppointment
from carebook.core.time import offset_minutes, zone
from carebook.db import tables
from carebook.db.base import column_values
from carebook.db.types import guid_text


def aspnet_local(value: datetime | None, tz: tzinfo) -> str | None:
    """``2026-02-03T21:03:34-06:00``: local time with offset, fraction trimmed as Json.NET does."""
    if value is None:
        return None
    local = value.astimezone(tz)
    return _with_offset(local, _minutes_east(local))


def _minutes_east(local: datetime) -> int:
    delta = local.utcoffset()
    assert delta is not None
    return int(delta.total_seconds() // 60)


def _with_offset(local: datetime, minutes: int) -> str:
    sign = "-" if minutes < 0 else "+"
    hours, minutes = divmod(abs(minutes), 60)
    return f"{_stamp(local)}{sign}{hours:02d}:{minutes:02d}"


def aspnet_utc(value: datetime | None) -> str | None:
    """``2026-02-04T03:03:34Z``."""
    if value is None:
        return None
    return _stamp(value.astimezone(UTC)) + "Z"


# %-formatting: several times faster than strftime, and on every date of every answer.
_STAMP = "%04d-%02d-%02dT%02d:%02d:%02d"


def _stamp(value: datetime) -> str:
    text = _STAMP % (
        value.year,
        value.month,
        value.day,
        value.hour,
        value.minute,
        value.second,
    )
    if value.microsecond:
        text += f".{value.microsecond:06d}".rstrip("0")
    return text


def _name(first: str, middle: str | None, last: str) -> str:
    return " ".join(part for part in (first, middle, last) if part)


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SchedulePatient(_Out):
    ID: str
    FirstName: str
    MiddleName: str | None
    LastName: str
    FullName: str
    Email: str | None
    Phone: str | None
    DateOfBirth: str | None
    Gender: str | None
    TimeZone: str
    GuardianId: str | None


class ScheduleEncounterType(_Out):
    ID: str
    Name: str
    Duration: int


class ScheduleResource(_Out):
    ID: str
    Name: str


class ScheduleStatus(_Out):
    ID: int
    Name: str


class ScheduleFacility(_Out):
    ID: str
    Name: str
    TimeZone: str
    Address: str | None
    City: str | None
    State: str | None
    ZipCode: str | None
    Phone: str | None


class ScheduleSpeciality(_Out):
    ID: str
    Name: str
    Code: str | None


class Schedule(_Out):
    """The reference's ``Schedule``; a test checks the property order against the reference."""

    ID: str | None = None
    FacilityId: str | None = None
    ResourceID: str | None = None
    AppointmentTypeId: str | None = None
    PreferredPharmacyId: str | None = None
    EncounterTypeModeDurationId: str | None = None
    ServiceId: str | None = None
    FromUserType: str | None = None
    FromUserID: str | None = None
    UserId: str | None = None
    Title: str | None = None
    Reason: str | None = None
    CancelReason: str | None = None
    Type: str | None = None
    AppointmentOn: str | None = None
    SecondaryAppointmentOn: str | None = None
    FromDate: str | None = None
    Duration: int | None = None
    Note: str | None = None
    ToDate: str | None = None
    StatusId: int | None = None
    AppointmentCount: int | None = None
    EncounterTypeModeId: int | None = None
    RoomNo: str | None = None
    Option: str | None = None
    CallType: str | None = None
    CallRefId: str | None = None
    GuardianName: str | None = None
    Location: str | None = None
    SpecialityId: str | None = None
    ParentScheduleId: str | None = None
    DoctorId: str | None = None
    PaidDate: str | None = None
    AppointmentOnUTC: str | None = None
    SecondaryAppointmentOnUTC: str | None = None
    PaidAmount: float | None = None
    AccountId: str | None = None
    GuardianId: str | None = None
    PatientReferralId: str | None = None
    ParentId: str | None = None
    PatientId: str | None = None
    IsGuardian: int | None = None
    AppointmentModeId: int | None = None
    ReferenceId: str | None = None
    VisitMode: str | None = None
    VisitCode: str | None = None
    Doctor: str | None = None
    MethodId: int | None = None
    PayConceptId: int | None = None
    PayMethodId: int | None = None
    DocIds: list[str] | None = None
    ReasonId: str | None = None
    DocId: str | None = None
    DoctorTimeZone: str | None = None
    PatientTimeZone: str | None = None
    PatientHummyurl: str | None = None
    DoctorOffset: int | None = None
    PatientOffset: int | None = None
    EncounterId: str | None = None
    DoctorZoneDate: str | None = None
    PrimaryPatient: str | None = None
    SessionId: str | None = None
    OldAppointmentOn: str | None = None
    OldAppointmentOnUTC: str | None = None
    OldSecondaryAppointmentOnUTC: str | None = None
    PortalType: str | None = None
    UserOffset: int | None = None
    EncounterNo: str | None = None
    StatusName: str | None = None
    InsuranceName: str | None = None
    InsuranceId: str | None = None
    EncounterTypeId: str | None = None
    Patient: SchedulePatient | None = None
    EncounterType: ScheduleEncounterType | None = None
    Resource: ScheduleResource | None = None
    Status: ScheduleStatus | None = None
    Facility: ScheduleFacility | None = None
    Encounter: None = None
    Member: None = None
    Notification: None = None
    Speciality: ScheduleSpeciality | None = None
    ScheduleDetails: list[dict[str, object]] | None = None
    Members: list[dict[str, object]] | None = None
    customFormModel: list[dict[str, object]] | None = None
    ModifiedBy: str | None = None
    ModifiedOn: str | None = None
    Modified: None = None


def _guid(value: uuid.UUID | None) -> str | None:
    return guid_text(value) if value is not None else None


def doctor_name(provider: tables.Provider) -> str:
    return provider.display_name or _name(
        provider.first_name, provider.middle_name, provider.last_name
    )


def _patient(patient: tables.Patient, tz: str, guardian: tables.Patient | None) -> dict[str, Any]:
    return {
        "ID": guid_text(patient.guid),
        "FirstName": patient.first_name,
        "MiddleName": patient.middle_name,
        "LastName": patient.last_name,
        "FullName": _name(patient.first_name, patient.middle_name, patient.last_name),
        "Email": patient.email,
        "Phone": patient.phone_number,
        "DateOfBirth": patient.date_of_birth.isoformat() if patient.date_of_birth else None,
        "Gender": patient.gender,
        "TimeZone": tz,
        "GuardianId": _guid(guardian.guid) if guardian is not None else None,
    }


def _facility(location: tables.Location) -> dict[str, Any]:
    address = ", ".join(p for p in (location.street_address, location.street_address_2) if p)
    return {
        "ID": guid_text(location.guid),
        "Name": location.name,
        "TimeZone": location.tz,
        "Address": address or None,
        "City": location.city,
        "State": location.state,
        "ZipCode": location.zip_code,
        "Phone": location.phone_number,
    }


def _resource(operatory: tables.Operatory | None) -> dict[str, Any] | None:
    if operatory is None:
        return None
    return {"ID": guid_text(operatory.guid), "Name": operatory.display_name or operatory.name}


# Every property of ``Schedule`` in its order, each null: what an answer starts from.
_EVERY_PROPERTY: dict[str, Any] = dict.fromkeys(Schedule.model_fields)


def _people_and_place(booked: CalendarAppointment) -> dict[str, Any]:
    """The answer's properties that come from the records the booking names (people, place,
    visit, zones), the rest null: the same for every booking of one look-up."""
    record = booked.record
    mode = booked.mode
    appointment_type = record.appointment_type
    guardian = booked.guardian
    user_guid = guid_text(booked.user.guid)
    type_guid = _guid(appointment_type.guid) if appointment_type else None
    guardian_guid = _guid(guardian.guid) if guardian is not None else None
    mode_id = mode.mode_id if mode is not None else None
    specialty = booked.specialty
    out = _EVERY_PROPERTY.copy()
    out.update(
        FacilityId=guid_text(record.location.guid),
        ResourceID=_guid(record.operatory.guid) if record.operatory is not None else None,
        AppointmentTypeId=type_guid,
        EncounterTypeModeDurationId=_guid(mode.guid) if mode is not None else None,
        ServiceId=_guid(booked.service.guid) if booked.service is not None else None,
        FromUserType="P",
        FromUserID=user_guid,
        UserId=user_guid,
        EncounterTypeModeId=mode_id,
        GuardianName=(
            _name(guardian.first_name, guardian.middle_name, guardian.last_name)
            if guardian is not None
            else None
        ),
        Location=record.location.name,
        SpecialityId=_guid(specialty.guid) if specialty is not None else None,
        DoctorId=_guid(record.provider.guid) if record.provider is not None else None,
        AccountId=guid_text(booked.institution.guid),
        GuardianId=guardian_guid,
        ParentId=guardian_guid,
        PatientId=_guid(record.patient.guid) if record.patient is not None else None,
        AppointmentModeId=mode_id,
        VisitMode=MODE_NAMES.get(mode.mode_id) if mode is not None else None,
        Doctor=doctor_name(record.provider) if record.provider is not None else None,
        ReasonId=",".join(guid_text(r.guid) for r in booked.reasons) or None,
        DoctorTimeZone=booked.doctor_tz,
        PatientTimeZone=booked.patient_tz,
        EncounterTypeId=type_guid,
        Patient=(
            _patient(record.patient, booked.patient_tz, guardian)
            if record.patient is not None
            else None
        ),
        EncounterType=(
            {
                "ID": guid_text(appointment_type.guid),
                "Name": appointment_type.name,
                "Duration": appointment_type.minutes,
            }
            if appointment_type is not None
            else None
        ),
        Resource=_resource(record.operatory),
        Facility=_facility(record.location),
        Speciality=(
            {"ID": guid_text(specialty.guid), "Name": specialty.name, "Code": specialty.code}
            if specialty is not None
            else None
        ),
        ModifiedBy=user_guid,
    )
    return out


def _offset_in(start: datetime, tz: str, doctor_tz: str, doctor_offset: int) -> int:
    # Most often the doctor's zone, whose offset is known.
    return doctor_offset if tz == doctor_tz else offset_minutes(start, zone(tz))


def schedule_json(booked: CalendarAppointment) -> bytes:
    """The ``Schedule`` of ``booked`` as JSON (what :class:`Schedule` describes).

    Built as a dict and written by pydantic's serializer: validating and dumping the model
    took a tenth of a booking's CPU. The properties from the records the booking names are
    worked out once per look-up (``booked.memo``: the look-up's records, at one reference
    version), keyed by the records' ids, as a look-up may book on any of its operatories."""
    record = booked.record
    appt = column_values(record.appointment)  # one mapping: see ``column_values``
    memo = booked.memo
    key = (
        "schedule",
        record.location.id,
        record.operatory.id if record.operatory is not None else None,
        record.provider.id if record.provider is not None else None,
        record.patient.id if record.patient is not None else None,
        appt["is_guardian"],
    )
    fixed = memo.get(key) if memo is not None else None
    if fixed is None:
        fixed = _people_and_place(booked)
        if memo is not None:
            memo[key] = fixed
    doctor_tz = zone(booked.doctor_tz)
    start = appt["start_at"]
    status_id, status_name = booked.status
    doc_ids = list(appt["doc_ids"]) if appt["doc_ids"] is not None else None
    local_start = start.astimezone(doctor_tz)
    doctor_offset = _minutes_east(local_start)
    starts = _with_offset(local_start, doctor_offset)
    out = fixed.copy()
    out.update(
        ID=str(appt["guid"]),
        Reason=appt["reason"],
        AppointmentOn=starts,
        SecondaryAppointmentOn=aspnet_local(appt["secondary_start_at"], doctor_tz),
        FromDate=starts,
        Duration=int((appt["end_at"] - start).total_seconds() // 60),
        Note=appt["note"],
        ToDate=aspnet_local(appt["end_at"], doctor_tz),
        StatusId=status_id,
        ParentScheduleId=_guid(booked.referred_parent_guid),
        PaidDate=aspnet_utc(appt["created_at"]) if appt["paid_amount"] is not None else None,
        AppointmentOnUTC=aspnet_utc(start),
        SecondaryAppointmentOnUTC=aspnet_utc(appt["secondary_start_at"]),
        PaidAmount=float(appt["paid_amount"]) if appt["paid_amount"] is not None else None,
        IsGuardian=1 if appt["is_guardian"] else 0,
        MethodId=appt["payment_method_id"],
        DocIds=doc_ids,
        DocId=",".join(doc_ids) if doc_ids else None,
        DoctorOffset=doctor_offset,
        PatientOffset=_offset_in(start, booked.patient_tz, booked.doctor_tz, doctor_offset),
        UserOffset=_offset_in(start, booked.user_tz, booked.doctor_tz, doctor_offset),
        StatusName=status_name,
        Status={"ID": status_id, "Name": status_name},
        ModifiedOn=aspnet_utc(appt["created_at"]),
    )
    return to_json(out)
