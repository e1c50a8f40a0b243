"""Booking: the rules every API shares for putting an appointment (or a block) on the calendar.

``book()`` validates a :class:`BookingRequest` against the institution's records, refuses times
outside the provider's working hours, probes for overlaps, and inserts, all in one write
transaction. The database has the last word on overlaps: on PostgreSQL an exclusion constraint
turns a race the probe could not see into the same :class:`SlotTaken` error.

Field names in errors are the core's own (``start_time``, ``patient_id``, ...); each API maps
them to its own spelling.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from carebook.core.availability.enforcement import (
    KnownFacts,
    closure_window,
    ensure_bookable_time,
    ensure_not_closed,
    ensure_within_hours,
)
from carebook.core.clinic.common import check_birth_date
from carebook.core.errors import (
    Clash,
    DomainError,
    FieldError,
    InvalidInput,
    NotFound,
    SlotTaken,
)
from carebook.core.time import format_local, to_utc, utc_now, zone
from carebook.db.context_cache import ContextCache
from carebook.db.database import (
    EXCLUSION_VIOLATION,
    Database,
    DriverConnection,
    NeedsSession,
    constraint_name_of,
    sqlstate_of,
)
from carebook.db.repositories import appointments as repo
from carebook.db.repositories import booking_sql
from carebook.db.repositories import clinic as clinic_repo
from carebook.db.repositories.appointments import MAX_APPOINTMENT_LENGTH, AppointmentRecord
from carebook.db.repositories.pagination import Page, PageRequest
from carebook.db.tables import Appointment, Patient, PatientNotification
from carebook.db.tables.appointments import (
    EXCLUDE_OPERATORY,
    EXCLUDE_PATIENT,
    EXCLUDE_PROVIDER,
)

NOTE_MAX_LENGTH = 1000
_CLASH_BY_CONSTRAINT = {
    EXCLUDE_OPERATORY: "operatory",
    EXCLUDE_PATIENT: "patient",
    EXCLUDE_PROVIDER: "provider",
}


class KnownRecordsChanged(Exception):
    """The records a request carries (``BookingRequest.known``) were read at a reference
    version that is no longer the institution's: nothing was written, and the caller reads
    them again (the Calendar API's GUID look-up)."""


@dataclass(frozen=True)
class DependantPatient:
    """The patient a guardian books for; matched by name and birth date, or created.

    With ``patient_id`` the caller has already identified the dependant (the Calendar API's
    ``PatientId``): that patient is booked, never matched by name nor created."""

    first_name: str
    last_name: str
    date_of_birth: date
    gender: str | None = None
    email: str | None = None
    bio: dict[str, Any] = field(default_factory=dict)
    patient_id: int | None = None


@dataclass(frozen=True)
class CalendarDetails:
    """What the Calendar API stores with a booking besides the NexHealth fields."""

    portal_user_id: int | None = None
    mode_id: int | None = None
    specialty_id: int | None = None
    service_id: int | None = None
    reason: str | None = None
    paid_amount: Decimal | None = None
    payment_method_id: int | None = None
    doc_ids: list[str] | None = None
    is_custom_form_flow: str | None = None
    referred_parent_id: int | None = None
    secondary_start: datetime | None = None
    reason_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class BookingRequest:
    institution_id: int
    location_id: int
    start: datetime  # aware, or naive = local time at the location
    provider_id: int | None = None
    patient_id: int | None = None
    operatory_id: int | None = None
    appointment_type_id: int | None = None
    end: datetime | None = None
    minutes: int | None = None  # a length set by the caller's own rule (Calendar visit option)
    note: str | None = None
    unavailable: bool = False
    is_guardian: bool = False
    dependant: DependantPatient | None = None
    is_new_clients_patient: bool = False
    referrer: str | None = None
    descriptor_ids: tuple[int, ...] = ()
    notify_patient: bool = False
    booked_via: str = "nexhealth"
    calendar: CalendarDetails | None = None
    # The named records as the caller has just read them, if it has (the Calendar API's GUID
    # look-up): the driver path then reads only the facts around them. Records are used only
    # where their ids are the request's. With their reference version, either path books only
    # at that version, else raises KnownRecordsChanged.
    known: booking_sql.KnownRecords | None = None


def _check_shape(request: BookingRequest) -> list[FieldError]:
    """Rules that need no database: required fields, lengths, combinations."""
    errors: list[FieldError] = []
    if request.unavailable:
        if request.patient_id is not None:
            errors.append(FieldError("patient_id", "must be absent for a block (unavailable)"))
        if request.provider_id is None and request.operatory_id is None:
            errors.append(FieldError("provider_id", "a block needs a provider or an operatory"))
        if request.is_guardian:
            errors.append(FieldError("is_guardian", "a block has no patient"))
    else:
        if request.patient_id is None:
            errors.append(FieldError("patient_id", "is required"))
        if request.provider_id is None:
            errors.append(FieldError("provider_id", "is required"))
    if request.is_guardian and request.dependant is None:
        errors.append(FieldError("patient", "is required when is_guardian is true"))
    if request.dependant is not None and not request.is_guardian:
        errors.append(FieldError("patient", "is only accepted with is_guardian true"))
    if request.end is None and request.appointment_type_id is None and request.minutes is None:
        errors.append(FieldError("end_time", "give end_time or appointment_type_id"))
    if request.note is not None and len(request.note) > NOTE_MAX_LENGTH:
        errors.append(FieldError("note", f"must be at most {NOTE_MAX_LENGTH} characters"))
    if request.dependant is not None:
        check_birth_date(
            errors, "patient.bio.date_of_birth", request.dependant.date_of_birth, utc_now().date()
        )
    return errors


def _around(start: datetime) -> date:
    """A date within a day of the booking's local start date, whatever the location's zone (the
    context query looks two days either side of it, enough for a booking of up to 24 hours).
    The zone is only known after that query, and the caller's offset says nothing about it (it
    may be a day or more away from the location's): an aware start counts by its UTC date, which
    every zone's is within a day of; a naive one is local time at the location already."""
    if start.tzinfo is None or start.utcoffset() is None:
        return start.date()
    return start.astimezone(UTC).date()


def _context_keys(request: BookingRequest, now: datetime) -> dict[str, Any]:
    """What the context query (either path's) is asked about."""
    return {
        "institution_id": request.institution_id,
        "location_id": request.location_id,
        "provider_id": request.provider_id,
        "patient_id": request.patient_id,
        "operatory_id": request.operatory_id,
        "appointment_type_id": request.appointment_type_id,
        "now": now,
        "around": _around(request.start),
    }


def _wanted_version(request: BookingRequest) -> int | None:
    """The reference version the caller's records were read at, if it read it with them."""
    return request.known.reference_version if request.known is not None else None


async def _check_references(
    session: AsyncSession, request: BookingRequest, now: datetime
) -> tuple[repo.BookingContext, list[FieldError]]:
    context = await repo.load_booking_context(session, **_context_keys(request, now))
    if _wanted_version(request) not in (None, context.reference_version):
        # What the caller read with its records has changed since: before any refusal, which
        # would be decided on what the caller holds.
        raise KnownRecordsChanged
    return context, _reference_errors(request, context)


def _reference_errors(request: BookingRequest, context: repo.BookingContext) -> list[FieldError]:
    """Raise NotFound for a missing record; the errors of records that cannot be booked."""
    if context.location is None:
        raise NotFound("location", request.location_id, field="location_id")
    if request.provider_id is not None and context.provider is None:
        raise NotFound("provider", request.provider_id, field="provider_id")
    if request.patient_id is not None and context.patient is None:
        raise NotFound("patient", request.patient_id, field="patient_id")
    if request.operatory_id is not None and context.operatory is None:
        raise NotFound("operatory", request.operatory_id, field="operatory_id")
    if request.appointment_type_id is not None and context.appointment_type is None:
        raise NotFound("appointment type", request.appointment_type_id, field="appointment_type_id")

    errors: list[FieldError] = []
    location = context.location
    if location.inactive:
        errors.append(FieldError("location_id", "the location is inactive"))
    if context.provider is not None:
        if context.provider.inactive:
            errors.append(FieldError("provider_id", "the provider is inactive"))
        if not context.provider_works_here:
            errors.append(FieldError("provider_id", "the provider does not work at this location"))
    if context.patient is not None and context.patient.inactive:
        errors.append(FieldError("patient_id", "the patient is inactive"))
    if context.operatory is not None:
        if context.operatory.location_id != location.id:
            errors.append(FieldError("operatory_id", "the operatory is at another location"))
        elif not context.operatory.active:
            errors.append(FieldError("operatory_id", "the operatory is inactive"))
    elif location.map_by_operatory and not request.unavailable:
        # A block may stop just the provider; an appointment needs a room here.
        errors.append(FieldError("operatory_id", "is required: this location maps by operatory"))
    appointment_type = context.appointment_type
    if (
        appointment_type is not None
        and appointment_type.parent_type == "Location"
        and appointment_type.parent_id != location.id
    ):
        errors.append(
            FieldError("appointment_type_id", "the appointment type belongs to another location")
        )
    return errors


def _times(
    request: BookingRequest, context: repo.BookingContext, now: datetime
) -> tuple[datetime, datetime]:
    assert context.location is not None
    tz = zone(context.location.tz)
    start = to_utc(request.start, tz)
    if request.end is not None:
        end = to_utc(request.end, tz)
    elif request.minutes is not None:
        end = start + timedelta(minutes=request.minutes)
    else:
        assert context.appointment_type is not None
        end = start + timedelta(minutes=context.appointment_type.minutes)
    errors = []
    if start <= now:
        errors.append(FieldError("start_time", "must be in the future"))
    if end <= start:
        errors.append(FieldError("end_time", "must be after start_time"))
    elif end - start > MAX_APPOINTMENT_LENGTH:
        errors.append(FieldError("end_time", "an appointment lasts at most 24 hours"))
    if errors:
        raise InvalidInput(errors)
    return start, end


def _clashes(rows: list[repo.OverlapRow], booking: dict[str, Any]) -> list[Clash]:
    """Which resource each overlapping row clashes on (the probe matched at least one)."""
    rule = repo.provider_mode(
        unavailable=booking["unavailable"], provider_exclusive=booking["provider_exclusive"]
    )
    clashes = []
    for row in rows:
        if booking["operatory_id"] is not None and row.operatory_id == booking["operatory_id"]:
            clashes.append(Clash("operatory", row.id, row.unavailable))
        if booking["patient_id"] is not None and row.patient_id == booking["patient_id"]:
            clashes.append(Clash("patient", row.id, row.unavailable))
        same_provider = (
            booking["provider_id"] is not None and row.provider_id == booking["provider_id"]
        )
        if same_provider and (rule == repo.PROVIDER_EXCLUSIVE or row.provider_exclusive):
            clashes.append(Clash("provider", row.id, row.unavailable))
    return clashes


async def _dependant(
    session: AsyncSession, request: BookingRequest, guardian: Patient
) -> tuple[Patient, bool]:
    """The dependant booked, and whether it is new (created by this booking)."""
    dependant = request.dependant
    assert dependant is not None
    if dependant.patient_id is not None:
        # Identified by the caller: that patient, still this guardian's dependant in this
        # transaction, and no other.
        named = await clinic_repo.patient_by_id(
            session, dependant.patient_id, institution_id=request.institution_id
        )
        if named is None or named.guarantor_id != guardian.id:
            raise InvalidInput.one("patient", "the patient is not a dependant of the guardian")
        return named, False
    existing = await repo.find_dependant(
        session,
        institution_id=request.institution_id,
        guardian_id=guardian.id,
        first_name=dependant.first_name,
        last_name=dependant.last_name,
        date_of_birth=dependant.date_of_birth,
    )
    if existing is not None:
        return existing, False
    bio = dict(dependant.bio)
    bio["date_of_birth"] = dependant.date_of_birth.isoformat()
    bio.setdefault("gender", dependant.gender or "Female")
    created = await repo.add_patient(
        session,
        Patient(
            institution_id=request.institution_id,
            location_id=request.location_id,
            provider_id=request.provider_id,
            first_name=dependant.first_name,
            last_name=dependant.last_name,
            email=dependant.email,
            date_of_birth=dependant.date_of_birth,
            gender=bio["gender"],
            phone_number=guardian.phone_number,
            bio=bio,
            guarantor_id=guardian.id,
            portal_user_id=guardian.portal_user_id,
        ),
    )
    return created, True


def _values(
    request: BookingRequest,
    context: repo.BookingContext,
    patient: Patient | None,
    guardian_id: int | None,
    start: datetime,
    end: datetime,
    now: datetime,
    *,
    past_patient: bool,
) -> dict[str, Any]:
    """The new appointment's row; ``past_patient``: whether ``patient`` has an active
    appointment that started before ``now``."""
    location = context.location
    assert location is not None
    calendar = request.calendar or CalendarDetails()
    return {
        "guid": uuid.uuid4(),
        "institution_id": request.institution_id,
        "location_id": location.id,
        "provider_id": request.provider_id,
        "patient_id": patient.id if patient is not None else None,
        "operatory_id": request.operatory_id,
        "appointment_type_id": request.appointment_type_id,
        "start_at": start,
        "end_at": end,
        # A block always makes the provider unavailable, even where appointments may overlap.
        "provider_exclusive": request.unavailable or not location.allow_provider_overlap,
        "note": request.note,
        "unavailable": request.unavailable,
        "cancelled": False,
        "cancelled_at": None,
        "deleted": False,
        "confirmed": False,
        "confirmed_at": None,
        "patient_confirmed": False,
        "patient_confirmed_at": None,
        "patient_missed": False,
        "checkin_at": None,
        "checked_out": False,
        "checked_out_at": None,
        "is_guardian": request.is_guardian,
        "guardian_patient_id": guardian_id,
        "is_new_clients_patient": request.is_new_clients_patient,
        "is_past_patient": past_patient,
        "referrer": request.referrer,
        "sooner_if_possible": False,
        "misc": {"is_booked_on_carebook": True, "booked_via": request.booked_via},
        "booking_details": None,
        "booked_via": request.booked_via,
        "portal_user_id": calendar.portal_user_id,
        "mode_id": calendar.mode_id,
        "specialty_id": calendar.specialty_id,
        "service_id": calendar.service_id,
        "reason": calendar.reason,
        "paid_amount": calendar.paid_amount,
        "payment_method_id": calendar.payment_method_id,
        "doc_ids": calendar.doc_ids,
        "is_custom_form_flow": calendar.is_custom_form_flow,
        "referred_parent_id": calendar.referred_parent_id,
        "secondary_start_at": calendar.secondary_start,
        "status_id": 1,
        "foreign_id": None,
        "foreign_id_type": None,
        "last_sync_time": None,
        "created_at": now,
        "updated_at": now,
    }


async def _book_in(session: AsyncSession, request: BookingRequest) -> AppointmentRecord:
    now = utc_now()
    errors = _check_shape(request)
    context, reference_errors = await _check_references(session, request, now)
    errors.extend(reference_errors)
    if errors:
        raise InvalidInput(errors)
    start, end = _times(request, context, now)
    location = context.location
    assert location is not None

    # A descriptor named twice is one descriptor (linked once, where it was first named).
    descriptor_ids = tuple(dict.fromkeys(request.descriptor_ids))
    descriptors = await repo.descriptors_by_ids(
        session, institution_id=request.institution_id, descriptor_ids=descriptor_ids
    )
    found = {d.id for d in descriptors}
    missing = [i for i in descriptor_ids if i not in found]
    if missing:
        raise NotFound("appointment descriptor", missing[0], field="descriptor_ids")
    elsewhere = [d.id for d in descriptors if d.location_id != location.id]
    if elsewhere:
        raise InvalidInput.one(
            "descriptor_ids", f"descriptor {elsewhere[0]} belongs to another location"
        )

    if not request.unavailable and request.provider_id is not None:
        await ensure_bookable_time(
            session,
            institution_id=request.institution_id,
            location_id=location.id,
            provider_id=request.provider_id,
            operatory_id=request.operatory_id,
            appointment_type_id=request.appointment_type_id,
            start=start,
            end=end,
            known=KnownFacts(
                tz=location.tz,
                closures_near=context.closures_near,
                has_hours=context.has_working_hours,
            ),
        )

    patient = context.patient
    guardian_id = None
    # The context query says whether the patient it was asked about has been seen before.
    past_patient = context.patient_has_past_appointment
    if request.is_guardian and patient is not None:
        # That is the guardian: the patient booked is the dependant, whose own history counts
        # (none for a dependant created by this very booking).
        guardian_id = patient.id
        patient, new = await _dependant(session, request, patient)
        past_patient = not new and await repo.has_past_appointment(
            session, institution_id=request.institution_id, patient_id=patient.id, now=now
        )

    calendar = request.calendar or CalendarDetails()
    values = _values(
        request, context, patient, guardian_id, start, end, now, past_patient=past_patient
    )
    provider_rule = repo.provider_mode(
        unavailable=request.unavailable, provider_exclusive=values["provider_exclusive"]
    )
    # One statement probes and inserts; only when it finds something in the way does the probe
    # run on its own, to name the clash. With the caller's records, it inserts only at their
    # version (PostgreSQL's READ COMMITTED would not see a change committed since the context
    # query otherwise).
    wanted = _wanted_version(request)
    if wanted is None:
        appointment_id = await repo.insert_if_free(session, values, provider_rule=provider_rule)
    else:
        inserted = await repo.insert_if_free_at_version(
            session, values, provider_rule=provider_rule, reference_version=wanted, now=now
        )
        appointment_id = None
        if inserted is not None:
            appointment_id, values["is_past_patient"] = inserted
        elif (
            await repo.current_reference_version(session, institution_id=request.institution_id)
            != wanted
        ):
            raise KnownRecordsChanged
    if appointment_id is None:
        rows = await repo.overlapping(
            session,
            institution_id=request.institution_id,
            start=start,
            end=end,
            operatory_id=values["operatory_id"],
            patient_id=values["patient_id"],
            provider_id=values["provider_id"],
            provider_rule=provider_rule,
        )
        raise SlotTaken(_clashes(rows, values))

    notification = None
    if request.notify_patient and patient is not None:
        notification = PatientNotification(
            institution_id=request.institution_id,
            patient_id=patient.id,
            kind="appointment_created",
            payload={
                "start_time": format_local(start, zone(location.tz)),
                "location": location.name,
            },
        )
    appointment = await repo.add_appointment_details(
        session,
        appointment_id,
        values,
        descriptor_ids=descriptor_ids,
        notification=notification,
    )
    if calendar.reason_ids:
        await repo.add_reasons(
            session, appointment_id=appointment.id, reason_ids=calendar.reason_ids
        )
    return AppointmentRecord(
        appointment=appointment,
        location=location,
        provider=context.provider,
        patient=patient,
        operatory=context.operatory,
        appointment_type=context.appointment_type,
        descriptors=sorted(descriptors, key=lambda d: d.id),
        procedures=[],
    )


def _knows(known: booking_sql.KnownRecords, request: BookingRequest) -> bool:
    """Whether ``known`` holds exactly the records ``request`` names."""

    def same(record: Any, record_id: int | None) -> bool:
        return record_id is None if record is None else record.id == record_id

    return (
        known.location.id == request.location_id
        and same(known.provider, request.provider_id)
        and same(known.patient, request.patient_id)
        and same(known.appointment_type, request.appointment_type_id)
        and (request.operatory_id is None or request.operatory_id in known.operatories)
    )


def _fast(request: BookingRequest) -> bool:
    """Whether ``request`` is the common case :func:`_book_fast` handles: no dependant, no
    descriptors, reasons or notification."""
    return (
        not request.is_guardian
        and request.dependant is None
        and not request.descriptor_ids
        and not request.notify_patient
        and (request.calendar is None or not request.calendar.reason_ids)
    )


async def _book_fast(
    conn: DriverConnection, request: BookingRequest, kept: ContextCache[booking_sql.ContextRead]
) -> AppointmentRecord:
    """:func:`_book_in` for the common case, on the driver's connection: the same rules in the
    same order: the context query, the provider's working hours and the location's closures
    when it says there are any (the same reads and decisions as ``ensure_bookable_time``), and
    the guarded insert. A clash to name raises ``NeedsSession`` before anything is written, and
    :func:`_book_in` decides it.

    The context may be one this process read for an earlier booking (``kept``): the insert
    then books only while the institution's reference data is as it was read. Everything else
    (a refusal, a stale read, a clash) is decided again on a fresh read, so no answer but a
    booking ever comes from a kept one.

    Records the caller read with their reference version (``known.reference_version``) are
    booked from only at that version: a context read at another one raises
    :class:`KnownRecordsChanged`."""
    now = utc_now()
    known = request.known if request.known is not None and _knows(request.known, request) else None
    wanted = _wanted_version(request)
    keys = _context_keys(request, now)
    key = (
        request.institution_id,
        request.location_id,
        request.provider_id,
        request.patient_id,
        request.operatory_id,
        request.appointment_type_id,
        keys["around"],
        known is None,
    )
    read = kept.get(key)
    if read is not None and wanted in (None, read.version):
        try:
            return await _book_from(conn, request, known, read, now)
        except DomainError:
            pass  # perhaps only because the read is old: decided below on a fresh one
        except NeedsSession:
            # Something in the way, or the reference data changed since: only the latter
            # makes the kept reads useless.
            if (
                await booking_sql.current_reference_version(conn, request.institution_id)
                == read.version
            ):
                raise
            kept.forget(request.institution_id)
    read = await booking_sql.load_booking_context(conn, known, **keys)
    if wanted is not None and read.version != wanted:
        raise KnownRecordsChanged  # the caller's records are older than this read
    record = await _book_from(conn, request, known, read, now)
    kept.put(request.institution_id, key, read)
    return record


async def _book_from(
    conn: DriverConnection,
    request: BookingRequest,
    known: booking_sql.KnownRecords | None,
    read: booking_sql.ContextRead,
    now: datetime,
) -> AppointmentRecord:
    context = read.context(known, request.operatory_id)
    errors = _check_shape(request)
    errors.extend(_reference_errors(request, context))
    if errors:
        raise InvalidInput(errors)
    start, end = _times(request, context, now)
    location = context.location
    assert location is not None
    if not request.unavailable and request.provider_id is not None:
        # ensure_bookable_time's reads on this connection, then the same two decisions.
        tz = zone(location.tz)
        if context.closures_near:
            first, last = closure_window(start, end)
            found = await booking_sql.zone_and_closures(
                conn,
                institution_id=request.institution_id,
                location_id=location.id,
                first=first,
                last=last,
            )
            ensure_not_closed(
                location_id=location.id,
                tz=tz,
                start=start,
                end=end,
                closures=found[1] if found is not None else [],
            )
        if context.has_working_hours:
            # The driver's context query brings the hours with it.
            assert context.provider_hours is not None
            ensure_within_hours(
                location_id=location.id,
                provider_id=request.provider_id,
                operatory_id=request.operatory_id,
                appointment_type_id=request.appointment_type_id,
                tz=tz,
                start=start,
                end=end,
                rows=context.provider_hours,
                has_hours=True,
                memo=read.memo,
            )
    # No guardian booking comes here (``_fast``): the patient booked is the one the context
    # query was asked about. Whether they were seen before, the insert decides.
    values = _values(request, context, context.patient, None, start, end, now, past_patient=False)
    provider_rule = repo.provider_mode(
        unavailable=request.unavailable, provider_exclusive=values["provider_exclusive"]
    )
    inserted = await booking_sql.insert_if_free(
        conn,
        values,
        provider_rule=provider_rule,
        reference_version=read.version,
        now=now,
    )
    if inserted is None:
        raise NeedsSession  # something is in the way: the session path names the clash
    appointment_id, values["is_past_patient"] = inserted
    return AppointmentRecord(
        appointment=booking_sql.new_appointment(appointment_id, values),
        location=location,
        provider=context.provider,
        patient=context.patient,
        operatory=context.operatory,
        appointment_type=context.appointment_type,
        descriptors=[],
        procedures=[],
    )


async def book(db: Database, request: BookingRequest) -> AppointmentRecord:
    """Book ``request`` in one transaction; raises a typed domain error if it cannot be booked.

    The common case (no dependant, descriptors, reasons or notification, nothing in the way)
    runs on the driver connection (:func:`_book_fast`); anything else, including naming a
    clash, runs through the session (:func:`_book_in`). Both apply the same rule functions.
    """
    try:
        if _fast(request):
            try:
                return await db.write_driver(
                    lambda conn: _book_fast(conn, request, db.booking_contexts)
                )
            except NeedsSession:
                pass
        return await db.write(lambda session: _book_in(session, request))
    except IntegrityError as error:
        if sqlstate_of(error) != EXCLUSION_VIOLATION:
            raise
        # A concurrent booking committed between our probe and our insert; the exclusion
        # constraint caught it. Its name says which resource clashed.
        resource = _CLASH_BY_CONSTRAINT.get(constraint_name_of(error) or "", "resource")
        raise SlotTaken([Clash(resource, None)]) from error


async def get_appointment(
    db: Database, *, institution_id: int, appointment_id: int
) -> AppointmentRecord:
    async with db.read() as session:
        record = await repo.load_appointment(
            session, institution_id=institution_id, appointment_id=appointment_id
        )
    if record is None:
        raise NotFound("appointment", appointment_id)
    return record


@dataclass(frozen=True)
class AppointmentChanges:
    """What ``PATCH /appointments/{id}`` may change (NexHealth's one-way transitions)."""

    confirmed: bool | None = None
    cancelled: bool | None = None
    checkin_at: datetime | None = None  # aware, or naive = local time at the location
    patient_missed: bool | None = None
    note: str | None = None


def _attended_by_nobody(appointment: Appointment) -> str | None:
    """What ``appointment`` is if no patient is to attend it: a block (no patient), or a
    cancelled appointment; None for an active appointment. Such a row is never confirmed,
    checked in or marked missed."""
    if appointment.unavailable:
        return "a block"
    if appointment.cancelled:
        return "a cancelled appointment"
    return None


async def _instant_at(session: AsyncSession, value: datetime, appointment: Appointment) -> datetime:
    """``value`` as an instant: aware as given, naive as local time at the appointment's
    location."""
    if value.tzinfo is not None and value.utcoffset() is not None:
        return value.astimezone(UTC)
    location = await clinic_repo.location_by_id(
        session, appointment.location_id, institution_id=appointment.institution_id
    )
    assert location is not None  # the appointment's own location, in its institution
    return to_utc(value, zone(location.tz))


async def update_appointment(
    db: Database, *, institution_id: int, appointment_id: int, changes: AppointmentChanges
) -> AppointmentRecord:
    """Confirm, cancel, check in, mark missed or re-note an appointment.

    ``confirmed`` only goes false → true, ``checkin_at`` only null → a time, and a cancelled
    appointment stays cancelled (book again instead), so no change here can create an overlap.
    A cancelled appointment or a block is never confirmed, checked in or marked missed; its
    note may change, and cancelling it again changes nothing. A naive ``checkin_at`` is local
    time at the appointment's location (``core.time``'s rule on DST change days).
    """

    async def work(session: AsyncSession) -> None:
        appointment = await repo.appointment_for_update(
            session, institution_id=institution_id, appointment_id=appointment_id
        )
        if appointment is None or appointment.deleted:
            raise NotFound("appointment", appointment_id)
        errors = []
        now = utc_now()
        # As the appointment stood before this request: cancelling it in the same request is
        # as if the cancellation came after the other changes.
        unattended = _attended_by_nobody(appointment)
        if changes.confirmed is not None:
            if not changes.confirmed and appointment.confirmed:
                errors.append(FieldError("confirmed", "a confirmation cannot be withdrawn"))
            elif changes.confirmed and not appointment.confirmed:
                if unattended is not None:
                    errors.append(FieldError("confirmed", f"{unattended} cannot be confirmed"))
                appointment.confirmed = True
                appointment.confirmed_at = now
        if changes.cancelled is not None:
            if not changes.cancelled and appointment.cancelled:
                errors.append(
                    FieldError("cancelled", "a cancelled appointment cannot be reinstated")
                )
            elif changes.cancelled and not appointment.cancelled:
                appointment.cancelled = True
                appointment.cancelled_at = now
                appointment.status_id = 2
        if changes.checkin_at is not None:
            if appointment.checkin_at is not None:
                errors.append(FieldError("checkin_at", "the patient is already checked in"))
            elif unattended is not None:
                errors.append(FieldError("checkin_at", f"{unattended} cannot be checked in"))
            else:
                appointment.checkin_at = await _instant_at(session, changes.checkin_at, appointment)
        if changes.patient_missed is not None:
            marking = changes.patient_missed and not appointment.patient_missed
            if marking and unattended is not None:
                errors.append(FieldError("patient_missed", f"{unattended} cannot be marked missed"))
            appointment.patient_missed = changes.patient_missed
        if changes.note is not None:
            if len(changes.note) > NOTE_MAX_LENGTH:
                errors.append(FieldError("note", f"must be at most {NOTE_MAX_LENGTH} characters"))
            appointment.note = changes.note
        if errors:
            raise InvalidInput(errors)
        appointment.updated_at = now

    await db.write(work)
    return await get_appointment(db, institution_id=institution_id, appointment_id=appointment_id)


async def list_appointments(
    db: Database,
    *,
    institution_id: int,
    location_id: int,
    start: datetime,
    end: datetime,
    provider_ids: tuple[int, ...] = (),
    patient_ids: tuple[int, ...] = (),
    operatory_ids: tuple[int, ...] = (),
    cancelled: bool | None = None,
    unavailable: bool | None = None,
    page: PageRequest,
) -> Page[AppointmentRecord]:
    """The appointments at ``location_id`` starting in ``[start, end)``; a naive ``start`` or
    ``end`` is local time at that location (``core.time``'s rule on DST change days)."""
    async with db.read() as session:
        location = await clinic_repo.location_by_id(
            session, institution_id=institution_id, location_id=location_id
        )
        if location is None:
            raise NotFound("location", location_id, field="location_id")
        tz = zone(location.tz)
        start, end = to_utc(start, tz), to_utc(end, tz)
        if end <= start:
            raise InvalidInput.one("end", "must be after start")
        return await repo.page_of_appointments(
            session,
            institution_id=institution_id,
            location_id=location_id,
            start=start,
            end=end,
            provider_ids=provider_ids,
            patient_ids=patient_ids,
            operatory_ids=operatory_ids,
            cancelled=cancelled,
            unavailable=unavailable,
            page=page,
        )
