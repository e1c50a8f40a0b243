"""Booking through the Calendar API of the telehealth product (``PatientAppointmentPost``).

The Calendar API names everything by GUID and books for a portal user. This module resolves
those GUIDs inside the institution, turns the request into a :class:`booking.BookingRequest` and
books it with the same core as the NexHealth-style API, so a slot taken through one API is taken
through the other.

Decisions (the reference leaves them open):

* ``AccountId`` is the institution. A scoped key that does not reach it gets 403 whether or not
  it exists (no probing for tenants); the admin gets 404 for an unknown one.
* Every other GUID is looked up in that institution only; an unknown one is 404.
* ``UserId`` is a portal user. ``PatientId`` must be a patient the user may book for: their own
  patient, a patient the user owns (``patients.portal_user_id``), or a dependant whose guardian
  (``guarantor_id``) is the user's own patient; anyone else is 403. Without ``PatientId`` the
  user's own patient is booked (400 on ``PatientId`` if the user has none).
* A dependant whose guardian is the user's own patient is booked as a guardian booking
  (``is_guardian``, the guardian recorded), as a NexHealth guardian booking, but of the very
  patient ``PatientId`` names: never matched by name, never created. ``ParentId``, when
  given, must be that guardian (400 on ``ParentId`` otherwise).
* ``ProviderId`` is required for a booking (400 on ``ProviderId``): a slot is a provider's time.
* The length is the visit option's (``EncounterTypeModeDurationId``), else the appointment
  type's (``EncounterTypeId``); one of the two is required. A visit option of another type is
  400. Without ``EncounterTypeId`` the visit option's type is used.
* The location (``FacilityId``) is the type's location for a location-scoped type, else the
  provider's first active location (lowest id); ``GetProviderAvailableSlots`` offers that one
  only, read by the same look-up (``CalendarContext.location``). Where the location maps by
  operatory, the first active operatory that is free at that time and inside the provider's
  working hours there (hours may be an operatory's own) is booked: each is tried in order, in
  its own transaction, so a race on one operatory moves on to the next. When none will do, a
  taken operatory is the reason given before hours; working hours and closures are named by
  GUID, never by id.
* ``SpecialityId`` defaults to the provider's specialty. ``SecondaryAppointmentOn`` is kept, not
  booked. ``AppointmentOn`` with an offset is that instant; without one it is the provider's
  local time (the provider's zone, else that location's: :func:`provider_zone`).
"""

from __future__ import annotations

import uuid
from collections.abc import Hashable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from carebook.core import booking
from carebook.core.auth import Principal
from carebook.core.errors import (
    Clash,
    DomainError,
    FieldError,
    Forbidden,
    InvalidInput,
    NotFound,
    OutsideWorkingHours,
    SlotTaken,
)
from carebook.core.time import format_local, to_utc, utc_now, zone
from carebook.db.database import Database, DriverConnection
from carebook.db.repositories import appointments as appointments_repo
from carebook.db.repositories import booking_sql, telehealth_sql
from carebook.db.repositories import telehealth as repo
from carebook.db.repositories.appointments import AppointmentRecord
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
    Service,
    Specialty,
    VisitReason,
)

# Calendar ``EncounterTypeModeId`` values and their names (``VisitMode``).
MODE_NAMES = {1: "In Person", 2: "Video", 3: "Phone"}
STATUS_SCHEDULED = (1, "Scheduled")
STATUS_CANCELLED = (2, "Cancelled")
# A wall-clock time without an offset is at most this far from UTC.
_MAX_UTC_OFFSET = timedelta(hours=14)
# The instants a request may carry: a year inside ``datetime``'s range at both ends, so that any
# zone (and any offset the answer shows) can show them. Year 1 is out: .NET's empty date
# (0001-01-01T00:00:00) is "none" before this, and no other year-1 time is meant.
_FIRST_INSTANT = datetime(2, 1, 1, tzinfo=UTC)
_END_OF_INSTANTS = datetime(9999, 1, 1, tzinfo=UTC)
# Amounts of money (a price, a paid amount): 0 to this, in cents, as ``Numeric(12, 2)`` holds them.
MAX_AMOUNT = Decimal("9999999999.99")
_CENT = Decimal("0.01")

# The core's field names, spelled as the Calendar API spells them.
CALENDAR_FIELDS = {
    "start_time": "AppointmentOn",
    "end_time": "EncounterTypeModeDurationId",
    "patient_id": "PatientId",
    "patient": "PatientId",
    "patient.bio.date_of_birth": "PatientId",
    "is_guardian": "ParentId",
    "provider_id": "ProviderId",
    "location_id": "ProviderId",
    "operatory_id": "ProviderId",
    "appointment_type_id": "EncounterTypeId",
    "note": "Note",
    "descriptor_ids": "EncounterTypeId",
}


@dataclass(frozen=True)
class CalendarBooking:
    """A ``PatientAppointmentPost`` request, parsed: GUIDs, times and values as given."""

    account_id: uuid.UUID
    user_id: uuid.UUID
    appointment_on: datetime  # aware, or naive = the provider's local time
    reason: str
    encounter_type_id: uuid.UUID | None = None
    encounter_type_mode_duration_id: uuid.UUID | None = None
    provider_id: uuid.UUID | None = None
    patient_id: uuid.UUID | None = None
    speciality_id: uuid.UUID | None = None
    secondary_appointment_on: datetime | None = None
    note: str | None = None
    parent_id: uuid.UUID | None = None
    referred_parent_id: uuid.UUID | None = None
    paid_amount: Decimal | None = None
    service_id: uuid.UUID | None = None
    method_id: int | None = None
    is_custom_form_flow: str | None = None
    doc_ids: tuple[str, ...] | None = None
    reason_ids: tuple[uuid.UUID, ...] = ()


@dataclass(frozen=True)
class CalendarAppointment:
    """A booked appointment with everything the Calendar API's ``Schedule`` shows."""

    record: AppointmentRecord
    institution: Institution
    user: PortalUser
    guardian: Patient | None
    mode: AppointmentTypeMode | None
    specialty: Specialty | None
    service: Service | None
    reasons: list[VisitReason]
    referred_parent_guid: uuid.UUID | None
    doctor_tz: str
    patient_tz: str
    user_tz: str
    # The look-up's memo (``CalendarContext.memo``) when booked from the records it read, at
    # its reference version: for what an API works out from those records to show them (the
    # same for each of its bookings). None when the booking read the records itself.
    memo: dict[Hashable, Any] | None = None

    @property
    def appointment(self) -> Appointment:
        return self.record.appointment

    @property
    def status(self) -> tuple[int, str]:
        return STATUS_CANCELLED if self.appointment.cancelled else STATUS_SCHEDULED


@dataclass(frozen=True)
class _Resolved:
    institution: Institution
    user: PortalUser
    provider: Provider
    patient: Patient
    guardian: Patient | None
    location: Location
    operatory_ids: list[int | None]
    operatories: list[Operatory]
    appointment_type: AppointmentType
    mode: AppointmentTypeMode | None
    specialty: Specialty | None
    service: Service | None
    referred: Appointment | None
    reasons: list[VisitReason]
    doctor_tz: str
    patient_tz: str
    user_tz: str


@dataclass(frozen=True)
class _When:
    """A booking's times, as instants."""

    start: datetime
    secondary: datetime | None


def provider_zone(provider: Provider, facility: Location) -> str:
    """The zone of a provider's times in the Calendar API (an ``AppointmentOn`` without an
    offset, a slot search's dates and times): their own, else that of the facility a booking
    takes (``CalendarContext.location``), which the slot search offers."""
    return provider.tz or facility.tz


def patient_zone(patient: Patient, user: PortalUser | None, facility: Location) -> str:
    """The zone of a patient's times in the Calendar API (a booking's ``PatientTimeZone``, a
    slot's ``PatientFromDate``): their own, else that of the portal user who books for them
    (the booking's user; for a slot search, :func:`portal_user_of`), else the facility's."""
    return patient.tz or (user.tz if user is not None else None) or facility.tz


async def portal_user_of(
    session: AsyncSession, *, institution_id: int, patient: Patient
) -> PortalUser | None:
    """The portal user who books for ``patient``, as a booking finds them allowed to
    (:func:`_patients`): the user owning it (``patients.portal_user_id``: their own patient or
    a dependant they added), else the user whose own patient is its guardian (a dependant made
    by a NexHealth guardian booking). None when no user books for the patient."""
    if patient.portal_user_id is not None:
        return await repo.by_id(
            session, PortalUser, institution_id=institution_id, row_id=patient.portal_user_id
        )
    if patient.guarantor_id is None:
        return None
    guardian = await repo.by_id(
        session, Patient, institution_id=institution_id, row_id=patient.guarantor_id
    )
    if guardian is None or guardian.portal_user_id is None:
        return None
    user = await repo.by_id(
        session, PortalUser, institution_id=institution_id, row_id=guardian.portal_user_id
    )
    # The guardian's user is the one whose own patient the guardian is.
    return user if user is not None and user.self_patient_id == guardian.id else None


def in_cents(amount: Decimal) -> Decimal | None:
    """``amount`` (finite, 0 to :data:`MAX_AMOUNT`) as the number ``Numeric(12, 2)`` holds,
    which is the one stored and answered; None if it has more than 2 decimal places.

    The same value, another number: "0e300000", "0E-16384" or "5.000…" with thousands of zeros
    carry exponents the PostgreSQL driver refuses (SQLite stores them), and -0 is 0 (answered
    "-0.00" but stored, and listed, as "0.00")."""
    cents = amount.quantize(_CENT)
    if cents != amount:
        return None
    return cents.copy_abs()


def calendar_field(core_field: str) -> str:
    return CALENDAR_FIELDS.get(core_field, core_field)


def calendar_message(field: str, message: str) -> str:
    """A core message as an ASP.NET-style sentence naming the Calendar field."""
    text = message.rstrip(".")
    text = text.replace("start_time", "AppointmentOn").replace("end_time", "the end")
    if text.startswith(("the ", "give ", "a ", "an ")):
        return text[:1].upper() + text[1:] + "."
    return f"{field} {text}."


def _in_calendar(error: InvalidInput) -> InvalidInput:
    """The core's field errors named as the Calendar API names them (``start_time`` →
    ``AppointmentOn``). (A plain ``try``, not a context manager: it wraps every booking.)"""
    errors = []
    for e in error.errors:
        name = calendar_field(e.field)
        errors.append(FieldError(name, calendar_message(name, e.message)))
    return InvalidInput(errors)


def _not_found(what: str, guid: uuid.UUID, field: str) -> NotFound:
    error = NotFound(what, guid, field=field)
    error.message = f"No {what} with ID {guid} was found in this account."
    return error


def _is_past(value: datetime, now: datetime) -> bool:
    """Whether ``value`` is surely not in the future, whatever zone a naive value is in."""
    if value.tzinfo is not None and value.utcoffset() is not None:
        return value <= now
    return value.replace(tzinfo=now.tzinfo) <= now - _MAX_UTC_OFFSET


def check_times(given: CalendarBooking, now: datetime) -> None:
    """The rule that needs no database: ``AppointmentOn`` is in the future."""
    if _is_past(given.appointment_on, now):
        raise InvalidInput.one(
            "AppointmentOn", "AppointmentOn must be in the future; the time given has passed."
        )


def _instant(value: datetime, tz_name: str, field: str) -> datetime:
    try:
        instant = to_utc(value, zone(tz_name))
    except (OverflowError, ValueError):
        raise InvalidInput.one(field, f"{field} is out of range.") from None
    if not _FIRST_INSTANT <= instant < _END_OF_INSTANTS:
        raise InvalidInput.one(field, f"{field} is out of range.")
    return instant


def _institution(
    principal: Principal, account_id: uuid.UUID, found: repo.CalendarContext | None
) -> repo.CalendarContext:
    if found is None or not principal.can_reach(found.institution.id):
        if principal.is_admin:
            raise _not_found("account", account_id, "AccountId")
        raise Forbidden(f"Authorization has been denied for account {account_id}.")
    return found


def _patients(
    given: CalendarBooking, found: repo.CalendarContext, user: PortalUser
) -> tuple[Patient, Patient | None]:
    """The patient booked and, for a dependant, the guardian (the user's own patient)."""
    self_patient = found.self_patient
    if given.patient_id is None:
        if self_patient is None:
            raise InvalidInput.one(
                "PatientId",
                "The PatientId field is required: the user has no patient record of their own.",
            )
        patient = self_patient
    else:
        if found.patient is None:
            raise _not_found("patient", given.patient_id, "PatientId")
        patient = found.patient
    own = self_patient is not None and patient.id == self_patient.id
    dependant = self_patient is not None and patient.guarantor_id == self_patient.id
    if not (own or dependant or patient.portal_user_id == user.id):
        raise Forbidden(f"The user {user.guid} may not book for the patient {patient.guid}.")
    guardian = self_patient if dependant and not own else None
    if given.parent_id is not None:
        parent = found.parent
        if parent is None:
            raise _not_found("patient", given.parent_id, "ParentId")
        if guardian is None or parent.id != guardian.id:
            raise InvalidInput.one(
                "ParentId",
                "ParentId must be the guardian of the patient booked: the user's own patient.",
            )
    if patient.inactive:
        raise InvalidInput.one("PatientId", "The patient is inactive.")
    return patient, guardian


def type_of_visit_option(found: repo.CalendarContext, mode: AppointmentTypeMode) -> AppointmentType:
    """The appointment type of the visit option ``mode`` (``found.mode``); a 404 naming the
    option, as one not found, when its type was deleted: the option is gone with it."""
    by_mode = found.type_of_mode
    if by_mode is None or by_mode.deleted:
        raise _not_found("visit option", mode.guid, "EncounterTypeModeDurationId")
    return by_mode


def _visit(
    given: CalendarBooking, found: repo.CalendarContext
) -> tuple[AppointmentType, AppointmentTypeMode | None]:
    mode = None
    if given.encounter_type_mode_duration_id is not None:
        mode = found.mode
        if mode is None:
            raise _not_found(
                "visit option", given.encounter_type_mode_duration_id, "EncounterTypeModeDurationId"
            )
    if given.encounter_type_id is not None:
        appointment_type = found.type_by_guid
        if appointment_type is None or appointment_type.deleted:
            raise _not_found("encounter type", given.encounter_type_id, "EncounterTypeId")
        if mode is not None and mode.appointment_type_id != appointment_type.id:
            raise InvalidInput.one(
                "EncounterTypeModeDurationId",
                "The visit option EncounterTypeModeDurationId is not one of the encounter type "
                "EncounterTypeId.",
            )
    elif mode is not None:
        appointment_type = type_of_visit_option(found, mode)
    else:
        raise InvalidInput.one(
            "EncounterTypeId",
            "The EncounterTypeId field is required when EncounterTypeModeDurationId is absent: "
            "it sets the length of the visit.",
        )
    return appointment_type, mode


def _lookup(given: CalendarBooking) -> repo.CalendarLookup:
    """The GUIDs ``given`` names: what its look-up reads, and the key it is kept by."""
    return repo.CalendarLookup(
        account_id=given.account_id,
        user_id=given.user_id,
        provider_id=given.provider_id,
        patient_id=given.patient_id,
        parent_id=given.parent_id,
        mode_id=given.encounter_type_mode_duration_id,
        type_id=given.encounter_type_id,
        speciality_id=given.speciality_id,
        service_id=given.service_id,
        referred_id=given.referred_parent_id,
        reason_ids=tuple(given.reason_ids),
    )


async def _load_context(db: Database, lookup: repo.CalendarLookup) -> repo.CalendarContext | None:
    """One round trip for every GUID of the request, each looked up in the institution only,
    on the driver's connection (the ORM's row and instance handling was a quarter of the
    booking's CPU)."""

    async def load(conn: DriverConnection) -> repo.CalendarContext | None:
        return await telehealth_sql.calendar_context_driver(conn, lookup)

    return await db.read_driver(load)


# The key of a look-up's resolution in its memo (``CalendarContext.memo``).
_RESOLVED = ("calendar resolution",)


def _resolve(
    principal: Principal,
    given: CalendarBooking,
    now: datetime,
    context: repo.CalendarContext | None,
) -> tuple[_Resolved, _When]:
    """What ``given`` names, as ``context`` found it, and its times; raises as looking each
    record up in turn would, the times last.

    The records' part depends only on the GUIDs, which are the look-up's key: it is worked out
    once per look-up and kept in its memo (only once it has passed). Who may reach the account,
    and the times, are decided for each booking."""
    found = _institution(principal, given.account_id, context)
    resolved: _Resolved | None = found.memo.get(_RESOLVED)
    if resolved is None:
        resolved = found.memo[_RESOLVED] = _resolve_records(given, found)
    start = _instant(given.appointment_on, resolved.doctor_tz, "AppointmentOn")
    if start <= now:
        raise InvalidInput.one(
            "AppointmentOn", "AppointmentOn must be in the future; the time given has passed."
        )
    secondary = None
    if given.secondary_appointment_on is not None:
        secondary = _instant(
            given.secondary_appointment_on, resolved.doctor_tz, "SecondaryAppointmentOn"
        )
    return resolved, _When(start, secondary)


def _resolve_records(given: CalendarBooking, found: repo.CalendarContext) -> _Resolved:
    # ``found`` holds every record the request names (see _load_context); the checks below
    # raise in the same order as looking each up in turn would.
    institution = found.institution
    user = found.user
    if user is None:
        raise _not_found("user", given.user_id, "UserId")
    if given.provider_id is None:
        raise InvalidInput.one(
            "ProviderId", "The ProviderId field is required: a booking needs a provider."
        )
    provider = found.provider
    if provider is None:
        raise _not_found("provider", given.provider_id, "ProviderId")
    patient, guardian = _patients(given, found, user)
    appointment_type, mode = _visit(given, found)

    # The type's location for a location-scoped type, else the provider's first active one.
    location = found.location
    if location is None:
        raise InvalidInput.one("ProviderId", "The provider works at no active facility.")
    operatory_ids: list[int | None] = [None]
    if location.map_by_operatory:
        if not found.operatories:
            raise InvalidInput.one(
                "ProviderId", "The provider's facility has no active resource to book."
            )
        operatory_ids = [o.id for o in found.operatories]

    specialty = None
    if given.speciality_id is not None:
        specialty = found.specialty_by_guid
        if specialty is None:
            raise _not_found("speciality", given.speciality_id, "SpecialityId")
    elif provider.specialty_id is not None:
        specialty = found.provider_specialty
    service = None
    if given.service_id is not None:
        service = found.service
        if service is None:
            raise _not_found("service", given.service_id, "ServiceId")
    referred = None
    if given.referred_parent_id is not None:
        referred = found.referred
        if referred is None:
            raise _not_found("appointment", given.referred_parent_id, "ReferredParentId")
    by_guid = found.reasons
    for index, reason_guid in enumerate(given.reason_ids):
        if reason_guid not in by_guid:
            raise _not_found("reason", reason_guid, f"Reasons[{index}].ReasonId")
    ordered = list({g: by_guid[g] for g in given.reason_ids}.values())

    doctor_tz = provider_zone(provider, location)
    patient_tz = patient_zone(patient, user, location)
    return _Resolved(
        institution=institution,
        user=user,
        provider=provider,
        patient=patient,
        guardian=guardian,
        location=location,
        operatory_ids=operatory_ids,
        operatories=found.operatories,
        appointment_type=appointment_type,
        mode=mode,
        specialty=specialty,
        service=service,
        referred=referred,
        reasons=ordered,
        doctor_tz=doctor_tz,
        patient_tz=patient_tz,
        user_tz=user.tz or patient_tz,
    )


# The key of the records a look-up hands its bookings, in its memo.
_KNOWN = ("calendar known records",)


def _booking_request(
    given: CalendarBooking, found: _Resolved, when: _When, read: repo.CalendarContext | None
) -> booking.BookingRequest:
    """The core's request for ``given``. With the look-up ``read`` it carries the records the
    look-up read, to be booked from at its reference version only; without, the booking reads
    them itself."""
    patient = found.patient
    dependant = None
    patient_id = patient.id
    if found.guardian is not None and patient.date_of_birth is not None:
        # A guardian booking, as the NexHealth API makes one: the guardian's id with the
        # dependant's identity, and the dependant's id: PatientId found this very patient, so
        # the core books it rather than matching a name (another dependant may share it).
        dependant = booking.DependantPatient(
            first_name=patient.first_name,
            last_name=patient.last_name,
            date_of_birth=patient.date_of_birth,
            gender=patient.gender,
            email=patient.email,
            bio=dict(patient.bio or {}),
            patient_id=patient.id,
        )
        patient_id = found.guardian.id
    minutes = found.mode.minutes if found.mode is not None else found.appointment_type.minutes
    known = None
    if read is not None:
        # What the GUID look-up read, so the booking does not read these records again (the
        # same for each of its bookings: kept in its memo).
        known = read.memo.get(_KNOWN)
        if known is None:
            known = read.memo[_KNOWN] = booking_sql.KnownRecords(
                location=found.location,
                provider=found.provider,
                patient=patient,
                operatories={o.id: o for o in found.operatories},
                appointment_type=found.appointment_type,
                reference_version=read.reference_version,
            )
    return booking.BookingRequest(
        institution_id=found.institution.id,
        location_id=found.location.id,
        start=when.start,
        provider_id=found.provider.id,
        patient_id=patient_id,
        appointment_type_id=found.appointment_type.id,
        minutes=minutes,
        note=given.note,
        is_guardian=dependant is not None,
        dependant=dependant,
        booked_via="calendar",
        known=known,
        calendar=booking.CalendarDetails(
            portal_user_id=found.user.id,
            mode_id=found.mode.id if found.mode is not None else None,
            specialty_id=found.specialty.id if found.specialty is not None else None,
            service_id=found.service.id if found.service is not None else None,
            reason=given.reason,
            paid_amount=given.paid_amount,
            payment_method_id=given.method_id,
            doc_ids=list(given.doc_ids) if given.doc_ids is not None else None,
            is_custom_form_flow=given.is_custom_form_flow,
            referred_parent_id=found.referred.id if found.referred is not None else None,
            secondary_start=when.secondary,
            reason_ids=tuple(r.id for r in found.reasons),
        ),
    )


async def _named_clash(
    db: Database, error: SlotTaken, request: booking.BookingRequest, start: datetime, tz: str
) -> SlotTaken:
    """``error`` again, its message naming the clashing appointments by GUID."""
    minutes = request.minutes
    assert minutes is not None
    end = start + timedelta(minutes=minutes)
    async with db.read() as session:
        rows = await appointments_repo.overlapping(
            session,
            institution_id=request.institution_id,
            start=start,
            end=end,
            operatory_id=request.operatory_id,
            patient_id=None,
            provider_id=request.provider_id,
            provider_rule=appointments_repo.PROVIDER_EXCLUSIVE,
        )
        clashes: list[Clash] = []
        for clash in error.clashes:
            if clash.appointment_id is None:
                for row in rows:
                    if (
                        clash.resource == "provider" and row.provider_id == request.provider_id
                    ) or (
                        clash.resource == "operatory" and row.operatory_id == request.operatory_id
                    ):
                        clash = Clash(clash.resource, row.id, row.unavailable)
                        break
            clashes.append(clash)
        guids = await repo.appointment_guids(
            session,
            institution_id=request.institution_id,
            appointment_ids={c.appointment_id for c in clashes if c.appointment_id is not None},
        )
    parts = []
    for clash in clashes:
        what = "block" if clash.unavailable else "appointment"
        guid = guids.get(clash.appointment_id) if clash.appointment_id is not None else None
        parts.append(f"the {clash.resource}'s {what}" + (f" {guid}" if guid else ""))
    named = SlotTaken(clashes)
    named.message = (
        f"The time {format_local(start, zone(tz))} is not available: it overlaps "
        + (", ".join(parts) if parts else "another booking")
        + "."
    )
    return named


def _outside_hours(
    error: OutsideWorkingHours, found: _Resolved, start: datetime
) -> OutsideWorkingHours:
    """``error`` again, its message naming the provider and the facility by GUID."""
    why = (
        f"the facility {found.location.guid} is closed on {error.closed_on.isoformat()}"
        if error.closed_on is not None
        else f"the provider {found.provider.guid} does not work at the facility "
        f"{found.location.guid} then"
    )
    return OutsideWorkingHours(
        f"The time {format_local(start, zone(found.doctor_tz))} is not available: {why}.",
        closed_on=error.closed_on,
    )


# How many fresh look-ups a booking makes when the institution's reference data changes between
# each and its booking (each change raises KnownRecordsChanged). After them the booking reads the
# records it books itself (location, provider, patient, operatory, type) rather than fail; what
# only the look-up reads (visit option, specialty, service, reasons, portal user, which facility)
# is then the last look-up's, read a moment before: the one window left, and only while the
# reference data changes under every look-up (a bulk import of patients, say).
_VERSIONED_LOOKUPS = 3


async def book_appointment(
    db: Database, principal: Principal, given: CalendarBooking
) -> CalendarAppointment:
    """Book ``given`` for its portal user; raises a typed domain error if it cannot be booked.

    The GUID look-up this process made for the same GUIDs is booked from again while the
    institution's reference version is the one it read (``db.calendar_contexts``; never one
    naming an appointment, ``ReferredParentId``: appointments are not versioned). Whatever that
    look-up refuses is decided again on a fresh one; the core decides its refusals on records
    read at the look-up's version (else KnownRecordsChanged), so they stand."""
    now = utc_now()
    check_times(given, now)
    lookup = _lookup(given)
    keep = given.referred_parent_id is None
    kept = db.calendar_contexts.get(lookup) if keep else None
    if kept is not None:
        try:
            found, when = _resolve(principal, given, now, kept)
        except DomainError:
            pass  # perhaps only because the look-up is old: decided below on a fresh one
        else:
            try:
                return await _book_resolved(db, given, found, when, kept)
            except booking.KnownRecordsChanged:
                db.calendar_contexts.forget(found.institution.id)
    for _ in range(_VERSIONED_LOOKUPS):
        context = await _load_context(db, lookup)
        found, when = _resolve(principal, given, now, context)
        assert context is not None  # (_resolve found the institution)
        try:
            booked = await _book_resolved(db, given, found, when, context)
        except booking.KnownRecordsChanged:
            continue
        if keep:
            db.calendar_contexts.put(found.institution.id, lookup, context)
        return booked
    found, when = _resolve(principal, given, now, await _load_context(db, lookup))
    return await _book_resolved(db, given, found, when, None)


async def _book_resolved(
    db: Database,
    given: CalendarBooking,
    found: _Resolved,
    when: _When,
    read: repo.CalendarContext | None,
) -> CalendarAppointment:
    """Book what ``found`` resolved, trying each operatory it offers in turn: from the records
    the look-up ``read`` at its reference version, or (None) reading them afresh."""
    request = _booking_request(given, found, when, read)
    record = None
    taken: SlotTaken | None = None
    outside: OutsideWorkingHours | None = None
    for operatory_id in found.operatory_ids:
        attempt = (
            request
            if operatory_id == request.operatory_id
            else replace(request, operatory_id=operatory_id)
        )
        try:
            record = await booking.book(db, attempt)
            break
        except InvalidInput as error:
            raise _in_calendar(error) from None
        except SlotTaken as error:
            taken = await _named_clash(db, error, attempt, when.start, found.doctor_tz)
            if any(c.resource not in ("operatory",) for c in error.clashes):
                break
        except OutsideWorkingHours as error:
            # Working hours may be an operatory's own: another one may be inside them.
            outside = _outside_hours(error, found, when.start)
            if error.closed_on is not None:
                break  # the facility is closed: so is every operatory
    if record is None:
        # A taken operatory (the time was inside its hours) says more than one the provider
        # does not work in then.
        last_error = taken or outside
        assert last_error is not None
        raise last_error
    return CalendarAppointment(
        record=record,
        institution=found.institution,
        user=found.user,
        guardian=found.guardian if record.appointment.is_guardian else None,
        mode=found.mode,
        specialty=found.specialty,
        service=found.service,
        reasons=found.reasons,
        referred_parent_guid=found.referred.guid if found.referred is not None else None,
        doctor_tz=found.doctor_tz,
        patient_tz=found.patient_tz,
        user_tz=found.user_tz,
        memo=read.memo if read is not None else None,
    )
