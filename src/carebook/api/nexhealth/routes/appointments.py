"""``POST /appointments`` and ``GET /appointments/{id}``: translation only; rules live in core."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from carebook.api.kit.state import DatabaseDep
from carebook.api.nexhealth.deps import IgnoredDep, TenantDep
from carebook.api.nexhealth.envelope import (
    Envelope,
    PagedEnvelope,
    error_responses,
    ignored_parameters,
    respond,
)
from carebook.api.nexhealth.schemas.appointments import (
    AppointmentCreate,
    AppointmentData,
    AppointmentOut,
    AppointmentPatchBody,
    appointment_answer,
    appointment_out,
)
from carebook.api.nexhealth.schemas.common import MAX_ID, PageDep, paged
from carebook.core import booking
from carebook.core.errors import FieldError, InvalidInput
from carebook.core.tenancy import Tenant
from carebook.core.time import OUT_OF_RANGE, in_range, parse_datetime
from carebook.db.database import Database
from carebook.db.repositories.appointments import AppointmentRecord

router = APIRouter(tags=["Appointments"])


def _in_appt(error: InvalidInput) -> InvalidInput:
    """The core's field errors named as this API names them (``appt.start_time``). (A plain
    ``try``, not a context manager: it wraps every booking.)"""
    return InvalidInput(
        [
            FieldError(e.field if e.field == "location_id" else f"appt.{e.field}", e.message)
            for e in error.errors
        ]
    )


def _answer(record: AppointmentRecord, ignored: Iterable[str]) -> Response:
    """One appointment's 200 envelope, naming the ``ignored`` query parameters."""
    return Response(
        content=appointment_answer(record, ignored_parameters(ignored)),
        media_type="application/json",
    )


def _parse(text: str) -> datetime:
    """A date-time from input, within the years the API takes (``core.time.in_range``)."""
    value = parse_datetime(text)
    if not in_range(value):
        raise ValueError(OUT_OF_RANGE)
    return value


def _parse_times(start: str, end: str | None) -> tuple[datetime, datetime | None]:
    errors = []
    parsed_start = parsed_end = None
    try:
        parsed_start = _parse(start)
    except ValueError as error:
        errors.append(FieldError("appt.start_time", str(error)))
    if end is not None:
        try:
            parsed_end = _parse(end)
        except ValueError as error:
            errors.append(FieldError("appt.end_time", str(error)))
    if errors:
        raise InvalidInput(errors)
    assert parsed_start is not None
    return parsed_start, parsed_end


@router.post(
    "/appointments",
    status_code=201,
    response_model=Envelope[AppointmentData],
    responses=error_responses(400, 401, 403, 404, 409),
    summary="Book an appointment, or a block with unavailable=true",
)
async def create_appointment(
    body: AppointmentCreate,
    tenant: TenantDep,
    db: DatabaseDep,
    location_id: Annotated[int, Query(ge=1, le=MAX_ID, description="The location booked at.")],
    ignored: IgnoredDep,
    notify_patient: Annotated[
        bool, Query(description="Record a patient notification for delivery.")
    ] = False,
) -> Response:
    content = await book_appointment(db, tenant, body, location_id, notify_patient, ignored)
    return Response(content, status_code=201, media_type="application/json")


async def book_appointment(
    db: Database,
    tenant: Tenant,
    body: AppointmentCreate,
    location_id: int,
    notify_patient: bool,
    ignored: Iterable[str] = (),
) -> bytes:
    """Book ``body`` and answer the 201 envelope's JSON: the one translation both this route
    and the express lane (:mod:`carebook.api.nexhealth.express`) use. The description names the
    keys of ``appt`` it ignored and the ``ignored`` query parameters, in one list (the lane
    takes no query parameter the route ignores)."""
    appt = body.appt
    start, end = _parse_times(appt.start_time, appt.end_time)
    dependant = None
    if appt.patient is not None:
        bio = appt.patient.bio
        dependant = booking.DependantPatient(
            first_name=appt.patient.first_name,
            last_name=appt.patient.last_name,
            date_of_birth=bio.date_of_birth,
            gender=bio.gender,
            email=appt.patient.email,
            bio=bio.model_dump(mode="json", exclude_none=True),
        )
    request = booking.BookingRequest(
        institution_id=tenant.id,
        location_id=location_id,
        start=start,
        end=end,
        provider_id=appt.provider_id,
        patient_id=appt.patient_id,
        operatory_id=appt.operatory_id,
        appointment_type_id=appt.appointment_type_id,
        note=appt.note,
        unavailable=appt.unavailable,
        is_guardian=appt.is_guardian,
        dependant=dependant,
        is_new_clients_patient=appt.is_new_clients_patient,
        referrer=appt.referrer,
        descriptor_ids=tuple(appt.descriptor_ids),
        notify_patient=notify_patient,
    )
    try:
        record = await booking.book(db, request)
    except InvalidInput as error:
        raise _in_appt(error) from None
    return appointment_answer(record, ignored_parameters([*(appt.model_extra or {}), *ignored]))


@router.get(
    "/appointments/{appointment_id}",
    response_model=Envelope[AppointmentData],
    responses=error_responses(400, 401, 403, 404),
    summary="One appointment, as POST /appointments answered it",
)
async def get_appointment(
    appointment_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    tenant: TenantDep,
    db: DatabaseDep,
    ignored: IgnoredDep,
) -> Response:
    record = await booking.get_appointment(
        db, institution_id=tenant.id, appointment_id=appointment_id
    )
    return _answer(record, ignored)


@router.patch(
    "/appointments/{appointment_id}",
    response_model=Envelope[AppointmentData],
    responses=error_responses(400, 401, 403, 404),
    summary="Confirm, cancel (frees the slot), check in, mark missed, or change the note",
)
async def patch_appointment(
    appointment_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    body: AppointmentPatchBody,
    tenant: TenantDep,
    db: DatabaseDep,
    ignored: IgnoredDep,
) -> Response:
    fields = body.appt
    checkin_at = None
    if fields.checkin_at is not None:
        try:
            checkin_at = _parse(fields.checkin_at)  # naive: local time at the location
        except ValueError as error:
            raise InvalidInput.one("appt.checkin_at", str(error)) from None
    changes = booking.AppointmentChanges(
        confirmed=fields.confirmed,
        cancelled=fields.cancelled,
        checkin_at=checkin_at,
        patient_missed=fields.patient_missed,
        note=fields.note,
    )
    try:
        record = await booking.update_appointment(
            db, institution_id=tenant.id, appointment_id=appointment_id, changes=changes
        )
    except InvalidInput as error:
        raise _in_appt(error) from None
    return _answer(record, ignored)


@router.get(
    "/appointments",
    response_model=PagedEnvelope[list[AppointmentOut]],
    responses=error_responses(400, 401, 403, 404),
    summary="Appointments at a location starting in [start, end), paginated by cursor",
)
async def list_appointments(
    tenant: TenantDep,
    db: DatabaseDep,
    page: PageDep,
    ignored: IgnoredDep,
    location_id: Annotated[int, Query(ge=1, le=MAX_ID)],
    start: Annotated[
        str,
        Query(
            description="ISO 8601 date-time (inclusive); without an offset it is local time at "
            "the location."
        ),
    ],
    end: Annotated[
        str,
        Query(
            description="ISO 8601 date-time (exclusive); without an offset it is local time at "
            "the location."
        ),
    ],
    provider_ids: Annotated[list[int] | None, Query(alias="provider_ids[]")] = None,
    patient_ids: Annotated[list[int] | None, Query(alias="patient_ids[]")] = None,
    operatory_ids: Annotated[list[int] | None, Query(alias="operatory_ids[]")] = None,
    cancelled: bool | None = None,
    unavailable: bool | None = None,
) -> Response:
    window = []
    errors = []
    for name, text in (("start", start), ("end", end)):
        try:
            window.append(_parse(text))  # naive: local time at the location
        except ValueError as error:
            errors.append(FieldError(name, str(error)))
    for name, ids in (
        ("provider_ids[]", provider_ids),
        ("patient_ids[]", patient_ids),
        ("operatory_ids[]", operatory_ids),
    ):
        if any(not 1 <= i <= MAX_ID for i in ids or ()):
            errors.append(FieldError(name, "ids are positive 64-bit integers"))
    if errors:
        raise InvalidInput(errors)
    found = await booking.list_appointments(
        db,
        institution_id=tenant.id,
        location_id=location_id,
        start=window[0],
        end=window[1],
        provider_ids=tuple(provider_ids or ()),
        patient_ids=tuple(patient_ids or ()),
        operatory_ids=tuple(operatory_ids or ()),
        cancelled=cancelled,
        unavailable=unavailable,
        page=page,
    )
    return respond(paged(found, appointment_out, ignored=ignored))
