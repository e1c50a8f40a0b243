"""``POST /appointments`` in and ``data.appt`` out, field for field as the reference shows.

One deliberate deviation: the reference types ``note`` as an integer (a known slip of that
document); Carebook keeps it a string, as every client sends it.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)
from pydantic_core import to_json

from carebook.api.nexhealth.schemas.common import (
    Email,
    Id,
    IsoDate,
    Str100,
    no_nul,
    storable_json,
)
from carebook.api.nexhealth.schemas.descriptors import DescriptorOut, descriptor_out
from carebook.api.nexhealth.schemas.patients import (
    AppointmentPatientOut,
    appointment_patient_json,
)
from carebook.api.nexhealth.schemas.procedures import ProcedureOut, procedure_out
from carebook.api.nexhealth.schemas.providers import full_name
from carebook.core.time import format_offset, format_utc, zone
from carebook.db.base import column_values
from carebook.db.repositories.appointments import AppointmentRecord


class DependantBioIn(BaseModel):
    """The dependant's ``bio``: other keys are kept as given."""

    model_config = ConfigDict(extra="allow")

    # Strict, as a patient's is (this model is lax, to keep the other keys as given): exactly
    # YYYY-MM-DD, not a number of seconds nor a date-time.
    date_of_birth: IsoDate = Field(
        strict=True, description="Not in the future, not more than 130 years ago."
    )
    gender: str | None = Field(default=None, pattern="^(Male|Female|Other)$")

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: Any) -> Any:
        # The whole bio as parsed, the kept keys and values at any depth with it.
        return storable_json(data)


class DependantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    first_name: Str100 = Field(min_length=1)
    last_name: Str100 = Field(min_length=1)
    email: Email | None = None
    bio: DependantBioIn


class AppointmentIn(BaseModel):
    """The ``appt`` object. Unknown keys are ignored and named in the response's description,
    as NexHealth does, so existing clients that send extra keys keep working."""

    model_config = ConfigDict(extra="allow")

    patient_id: Id | None = None
    provider_id: Id | None = None
    start_time: str = Field(
        description="ISO 8601 date-time; without an offset it is local time at the location.",
        examples=["2026-03-02T10:00:00-05:00"],
    )
    end_time: str | None = Field(default=None, examples=["2026-03-02T10:30:00-05:00"])
    appointment_type_id: Id | None = None
    operatory_id: Id | None = None
    note: Annotated[str, StringConstraints(max_length=1000), AfterValidator(no_nul)] | None = None
    unavailable: bool = False
    is_guardian: bool = False
    patient: DependantIn | None = None
    is_new_clients_patient: bool = False
    referrer: Annotated[str, StringConstraints(max_length=2000), AfterValidator(no_nul)] | None = (
        None
    )
    descriptor_ids: list[Id] = Field(default_factory=list, max_length=50)


class AppointmentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    appt: AppointmentIn


class BookingDetailsOut(BaseModel):
    booked_via_nexhealth_generated_link: bool = False
    campaign_type: str | None = None
    campaign_id: str | None = None
    campaign_medium: str | None = None
    booked_via_one_click: bool = False


class AppointmentOut(BaseModel):
    id: int
    patient_id: int | None
    provider_id: int | None
    provider_name: str | None
    start_time: str = Field(examples=["2026-03-02T15:00:00.000Z"])
    confirmed: bool
    patient_missed: bool
    created_at: str
    updated_at: str
    note: str | None
    end_time: str
    unavailable: bool
    cancelled: bool
    timezone: str
    institution_id: int
    appointment_type_id: int | None
    checkin_at: str | None
    location_id: int
    foreign_id: str | None
    foreign_id_type: str | None
    misc: dict[str, Any]
    last_sync_time: str | None
    patient_confirmed: int = Field(description="1 when the patient confirmed, else 0.")
    created_by_user_id: int | None
    is_guardian: bool
    patient_confirmed_at: str | None
    cancelled_at: str | None
    is_new_clients_patient: bool
    confirmed_at: str | None
    sooner_if_possible: str | None
    operatory_id: int | None
    deleted: bool
    checked_out: bool
    checked_out_at: str | None
    referrer: str | None
    is_past_patient: bool
    timezone_offset: str = Field(examples=["-5:00"])
    patient: AppointmentPatientOut | None
    procedures: list[ProcedureOut]
    descriptors: list[DescriptorOut]
    booking_details: BookingDetailsOut


class AppointmentData(BaseModel):
    appt: AppointmentOut


def _utc(value: Any) -> str | None:
    return format_utc(value) if value is not None else None


# ``booking_details`` of an appointment booked without any: every field at its default.
_NO_BOOKING_DETAILS: dict[str, Any] = BookingDetailsOut().model_dump(mode="json")


def appointment_json(record: AppointmentRecord) -> dict[str, Any]:
    """``data.appt`` of ``record`` as JSON values, in :class:`AppointmentOut`'s order (the
    shape the OpenAPI document gives it). Built as a dict, not as the model: validating the
    model and its nested ones, then dumping them, was a tenth of a booking's CPU."""
    # The appointment's columns as one mapping: dozens are read, and a mapped attribute's
    # every read is a Python call (``column_values``).
    appt = column_values(record.appointment)
    location = record.location
    provider = record.provider
    patient = record.patient
    details = appt["booking_details"]
    start_at = appt["start_at"]
    return {
        "id": appt["id"],
        "patient_id": appt["patient_id"],
        "provider_id": appt["provider_id"],
        "provider_name": (
            provider.display_name
            or full_name(provider.first_name, provider.middle_name, provider.last_name)
            if provider is not None
            else None
        ),
        "start_time": format_utc(start_at),
        "confirmed": appt["confirmed"],
        "patient_missed": appt["patient_missed"],
        "created_at": format_utc(appt["created_at"]),
        "updated_at": format_utc(appt["updated_at"]),
        "note": appt["note"],
        "end_time": format_utc(appt["end_at"]),
        "unavailable": appt["unavailable"],
        "cancelled": appt["cancelled"],
        "timezone": location.tz,
        "institution_id": appt["institution_id"],
        "appointment_type_id": appt["appointment_type_id"],
        "checkin_at": _utc(appt["checkin_at"]),
        "location_id": appt["location_id"],
        "foreign_id": appt["foreign_id"],
        "foreign_id_type": appt["foreign_id_type"],
        "misc": dict(appt["misc"] or {}),
        "last_sync_time": _utc(appt["last_sync_time"]),
        "patient_confirmed": 1 if appt["patient_confirmed"] else 0,
        "created_by_user_id": appt["portal_user_id"],
        "is_guardian": appt["is_guardian"],
        "patient_confirmed_at": _utc(appt["patient_confirmed_at"]),
        "cancelled_at": _utc(appt["cancelled_at"]),
        "is_new_clients_patient": appt["is_new_clients_patient"],
        "confirmed_at": _utc(appt["confirmed_at"]),
        "sooner_if_possible": "true" if appt["sooner_if_possible"] else None,
        "operatory_id": appt["operatory_id"],
        "deleted": appt["deleted"],
        "checked_out": appt["checked_out"],
        "checked_out_at": _utc(appt["checked_out_at"]),
        "referrer": appt["referrer"],
        "is_past_patient": appt["is_past_patient"],
        "timezone_offset": format_offset(start_at, zone(location.tz)),
        "patient": appointment_patient_json(patient) if patient is not None else None,
        "procedures": [procedure_out(p).model_dump(mode="json") for p in record.procedures],
        "descriptors": [descriptor_out(d).model_dump(mode="json") for d in record.descriptors],
        # Stored details pass through the model: unknown keys dropped, each field its type.
        "booking_details": (
            BookingDetailsOut(**details).model_dump(mode="json")
            if details
            else _NO_BOOKING_DETAILS.copy()
        ),
    }


def appointment_out(record: AppointmentRecord) -> AppointmentOut:
    """The model, for the answers that list appointments (their envelope holds models)."""
    return AppointmentOut.model_validate(appointment_json(record))


def appointment_answer(record: AppointmentRecord, description: str | None) -> bytes:
    """The whole envelope of one appointment (``count`` 1), as JSON bytes: what
    ``Envelope[AppointmentData]`` describes."""
    return to_json(
        {
            "code": True,
            "description": description,
            "error": None,
            "data": {"appt": appointment_json(record)},
            "count": 1,
        }
    )


class AppointmentPatch(BaseModel):
    """The changes ``PATCH /appointments/{id}`` accepts."""

    model_config = ConfigDict(extra="forbid")

    confirmed: bool | None = None
    cancelled: bool | None = None
    checkin_at: str | None = Field(
        default=None,
        description="ISO 8601 date-time; without an offset it is local time at the "
        "appointment's location.",
        examples=["2026-03-02T09:55:00-05:00"],
    )
    patient_missed: bool | None = None
    note: Annotated[str, StringConstraints(max_length=1000), AfterValidator(no_nul)] | None = None


class AppointmentPatchBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    appt: AppointmentPatch
