"""Patients in and out; ``PatientOut`` / ``patient_out`` are also the appointment's ``patient``."""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, BeforeValidator, Field
from pydantic_core import PydanticCustomError

from carebook.api.nexhealth.schemas.common import (
    Email,
    Id,
    IsoDate,
    RequestModel,
    Str40,
    Str100,
    Str200,
    UtcInstant,
    storable_text,
)
from carebook.api.nexhealth.schemas.providers import full_name
from carebook.core.clinic.patients import NewPatient
from carebook.core.time import format_utc
from carebook.db.base import column_values
from carebook.db.tables import Patient


def _measure(value: object) -> object:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise PydanticCustomError("measure", "must be a number or a string")
    if isinstance(value, float) and not math.isfinite(value):
        raise PydanticCustomError("measure", "must be a finite number")
    if isinstance(value, str):
        if len(value) > 40:
            raise PydanticCustomError("measure", "must be at most 40 characters, without NULs")
        # Kept in the patient's free-form bio, where no ``str`` field checks the text.
        storable_text(value)
    return value


Measure = Annotated[str | int | float, BeforeValidator(_measure)]
"""A weight or a height, as the client writes it (``70.5`` or ``"154 lb"``)."""


class PatientBioIn(RequestModel):
    """NexHealth's ``bio``: the fields below are kept in the patient's ``bio`` as given."""

    date_of_birth: IsoDate = Field(description="Not in the future, not more than 130 years ago.")
    phone_number: Str40
    gender: Literal["Male", "Female", "Other"] = "Female"
    home_phone_number: Str40 | None = None
    cell_phone_number: Str40 | None = None
    work_phone_number: Str40 | None = None
    custom_contact_number: Str40 | None = None
    weight: Measure | None = None
    height: Measure | None = None
    street_address: Str200 | None = None
    address_line_1: Str200 | None = None
    address_line_2: Str200 | None = None
    city: Str100 | None = None
    state: Str100 | None = None
    zip_code: Str40 | None = None
    insurance_name: Str200 | None = None
    ssn: Str40 | None = None
    race: Str100 | None = None


class PatientIn(RequestModel):
    first_name: Str100
    middle_name: Str100 | None = None
    last_name: Str100
    email: Email
    bio: PatientBioIn

    def to_core(self) -> NewPatient:
        bio = self.bio
        return NewPatient(
            first_name=self.first_name,
            middle_name=self.middle_name,
            last_name=self.last_name,
            email=self.email,
            date_of_birth=bio.date_of_birth,
            phone_number=bio.phone_number,
            gender=bio.gender,
            bio=bio.model_dump(
                mode="json",
                exclude_none=True,
                exclude={"date_of_birth", "phone_number", "gender"},
            ),
        )


class PatientProviderIn(RequestModel):
    provider_id: Id


class PatientCreate(RequestModel):
    provider: PatientProviderIn
    patient: PatientIn
    return_existing_if_match: bool = Field(
        default=False,
        description="Answer 200 with the patient of the same name, date of birth and phone "
        "number, if there is one, instead of refusing the duplicate with 400.",
    )


class AppointmentPatientOut(BaseModel):
    """The patient nested in an appointment, exactly as NexHealth nests it."""

    id: int
    email: str | None
    first_name: str
    middle_name: str | None
    last_name: str
    name: str
    created_at: UtcInstant
    updated_at: UtcInstant
    institution_id: int
    foreign_id: str | None
    foreign_id_type: str | None
    bio: dict[str, object]
    inactive: bool
    last_sync_time: UtcInstant | None
    guarantor_id: int | None
    unsubscribe_sms: bool


class PatientOut(AppointmentPatientOut):
    guid: UUID = Field(description="The same record's GUID, as the Calendar API names it.")
    provider_id: int | None
    location_ids: list[int]


class PatientCreated(BaseModel):
    user: PatientOut = Field(description="The patient (NexHealth calls it the user).")


def _nested_fields(patient: Patient) -> dict[str, Any]:
    """The fields NexHealth nests in an appointment; the full patient adds to them."""
    row = column_values(patient)  # read as one mapping, as appointment_json reads
    return {
        "id": row["id"],
        "email": row["email"],
        "first_name": row["first_name"],
        "middle_name": row["middle_name"],
        "last_name": row["last_name"],
        "name": full_name(row["first_name"], row["middle_name"], row["last_name"]),
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "institution_id": row["institution_id"],
        "foreign_id": row["foreign_id"],
        "foreign_id_type": row["foreign_id_type"],
        "bio": dict(row["bio"] or {}),
        "inactive": row["inactive"],
        "last_sync_time": row["last_sync_time"],
        "guarantor_id": row["guarantor_id"],
        "unsubscribe_sms": row["unsubscribe_sms"],
    }


def appointment_patient_json(row: Patient) -> dict[str, Any]:
    """The patient nested in an appointment as JSON values (what
    :class:`AppointmentPatientOut` describes)."""
    fields = _nested_fields(row)
    fields["created_at"] = format_utc(fields["created_at"])
    fields["updated_at"] = format_utc(fields["updated_at"])
    last_sync_time = fields["last_sync_time"]
    fields["last_sync_time"] = format_utc(last_sync_time) if last_sync_time is not None else None
    return fields


def patient_out(row: Patient) -> PatientOut:
    return PatientOut(
        **_nested_fields(row),
        guid=row.guid,
        provider_id=row.provider_id,
        location_ids=[row.location_id] if row.location_id is not None else [],
    )
