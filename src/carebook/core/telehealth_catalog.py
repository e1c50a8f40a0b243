"""What the Calendar API books with: specialties, services, visit reasons, portal users (with their
own patient and dependants) and the visit options (mode and length) of appointment types.

Created and listed through the NexHealth-style API (field names in errors are that API's), each
record carrying the GUID the Calendar API names it by.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from carebook.core.clinic.common import check_birth_date
from carebook.core.errors import Conflict, FieldError, InvalidInput, NotFound
from carebook.core.telehealth import MAX_AMOUNT, MODE_NAMES, in_cents
from carebook.core.time import is_valid_zone, utc_now
from carebook.db.database import Database
from carebook.db.repositories import appointments as appointments_repo
from carebook.db.repositories import telehealth as repo
from carebook.db.repositories.pagination import Page, PageRequest
from carebook.db.tables import (
    AppointmentType,
    AppointmentTypeMode,
    Location,
    Patient,
    PortalUser,
    Service,
    Specialty,
    VisitReason,
)

MAX_MINUTES = 24 * 60
MAX_PRICE = MAX_AMOUNT
GENDERS = ("Male", "Female", "Other")


def _text(errors: list[FieldError], field: str, value: str) -> str:
    stripped = value.strip()
    if not stripped:
        errors.append(FieldError(field, "must not be blank"))
    return stripped


def _optional(value: str | None) -> str | None:
    return value.strip() or None if value is not None else None


def _zone(errors: list[FieldError], field: str, value: str | None) -> None:
    if value is not None and not is_valid_zone(value):
        errors.append(FieldError(field, f"'{value}' is not an IANA time zone name"))


def _raise(errors: list[FieldError]) -> None:
    if errors:
        raise InvalidInput(errors)


async def _list(
    db: Database, model: type[Specialty] | type[Service] | type[VisitReason], **kw: Any
) -> Page[Any]:
    async with db.read() as session:
        return await repo.page_of(session, model, **kw)


# Specialties, services, visit reasons --------------------------------------------------------


async def create_specialty(
    db: Database, *, institution_id: int, name: str, code: str | None = None
) -> Specialty:
    errors: list[FieldError] = []
    name = _text(errors, "specialty.name", name)
    _raise(errors)

    async def work(session: AsyncSession) -> Specialty:
        await repo.lock_institution(session, institution_id=institution_id)
        if await repo.named(session, Specialty, institution_id=institution_id, name=name):
            raise Conflict(f"a specialty named '{name}' already exists")
        return await repo.add(
            session, Specialty(institution_id=institution_id, name=name, code=_optional(code))
        )

    return await db.write(work)


async def list_specialties(db: Database, *, institution_id: int, page: PageRequest) -> Page[Any]:
    return await _list(db, Specialty, institution_id=institution_id, page=page)


@dataclass(frozen=True)
class ServiceFields:
    name: str
    price: Decimal | None = None
    currency: str = "USD"
    specialty_id: int | None = None


async def create_service(db: Database, *, institution_id: int, given: ServiceFields) -> Service:
    errors: list[FieldError] = []
    name = _text(errors, "service.name", given.name)
    price = given.price
    if price is not None:
        if not price.is_finite() or not Decimal(0) <= price <= MAX_PRICE:
            errors.append(FieldError("service.price", f"must be between 0 and {MAX_PRICE}"))
        else:
            price = in_cents(price)  # stored and answered as the column holds it ("0.00")
            if price is None:
                errors.append(FieldError("service.price", "must have at most 2 decimal places"))
    currency = given.currency.strip().upper()
    if len(currency) != 3 or not currency.isalpha() or not currency.isascii():
        errors.append(FieldError("service.currency", "must be a 3-letter ISO 4217 code"))
    _raise(errors)

    async def work(session: AsyncSession) -> Service:
        if given.specialty_id is not None and not await repo.by_id(
            session, Specialty, institution_id=institution_id, row_id=given.specialty_id
        ):
            raise NotFound("specialty", given.specialty_id, field="service.specialty_id")
        await repo.lock_institution(session, institution_id=institution_id)
        if await repo.named(session, Service, institution_id=institution_id, name=name):
            raise Conflict(f"a service named '{name}' already exists")
        return await repo.add(
            session,
            Service(
                institution_id=institution_id,
                name=name,
                price=price,
                currency=currency,
                specialty_id=given.specialty_id,
            ),
        )

    return await db.write(work)


async def list_services(db: Database, *, institution_id: int, page: PageRequest) -> Page[Any]:
    return await _list(db, Service, institution_id=institution_id, page=page)


async def create_visit_reason(
    db: Database, *, institution_id: int, name: str, code: str | None = None
) -> VisitReason:
    errors: list[FieldError] = []
    name = _text(errors, "visit_reason.name", name)
    _raise(errors)

    async def work(session: AsyncSession) -> VisitReason:
        await repo.lock_institution(session, institution_id=institution_id)
        if await repo.named(session, VisitReason, institution_id=institution_id, name=name):
            raise Conflict(f"a visit reason named '{name}' already exists")
        return await repo.add(
            session, VisitReason(institution_id=institution_id, name=name, code=_optional(code))
        )

    return await db.write(work)


async def list_visit_reasons(db: Database, *, institution_id: int, page: PageRequest) -> Page[Any]:
    return await _list(db, VisitReason, institution_id=institution_id, page=page)


# Visit options of appointment types ----------------------------------------------------------


async def _appointment_type(
    session: AsyncSession, *, institution_id: int, appointment_type_id: int
) -> AppointmentType:
    found = await repo.by_id(
        session, AppointmentType, institution_id=institution_id, row_id=appointment_type_id
    )
    if found is None or found.deleted:
        raise NotFound("appointment type", appointment_type_id)
    return found


@dataclass(frozen=True)
class ModeRecord:
    mode: AppointmentTypeMode
    appointment_type: AppointmentType


async def create_mode(
    db: Database, *, institution_id: int, appointment_type_id: int, mode_id: int, minutes: int
) -> ModeRecord:
    errors: list[FieldError] = []
    if mode_id not in MODE_NAMES:
        errors.append(FieldError("mode.mode_id", "must be 1 (in person), 2 (video) or 3 (phone)"))
    if not 1 <= minutes <= MAX_MINUTES:
        errors.append(FieldError("mode.minutes", f"must be between 1 and {MAX_MINUTES}"))
    _raise(errors)

    async def work(session: AsyncSession) -> ModeRecord:
        appointment_type = await _appointment_type(
            session, institution_id=institution_id, appointment_type_id=appointment_type_id
        )
        await repo.lock_institution(session, institution_id=institution_id)
        if await repo.mode_matching(
            session,
            institution_id=institution_id,
            appointment_type_id=appointment_type.id,
            mode_id=mode_id,
            minutes=minutes,
        ):
            raise Conflict(
                f"appointment type {appointment_type.id} already has a {MODE_NAMES[mode_id]} "
                f"option of {minutes} minutes"
            )
        mode = await repo.add(
            session,
            AppointmentTypeMode(
                institution_id=institution_id,
                appointment_type_id=appointment_type.id,
                mode_id=mode_id,
                minutes=minutes,
            ),
        )
        return ModeRecord(mode, appointment_type)

    return await db.write(work)


async def list_modes(
    db: Database, *, institution_id: int, appointment_type_id: int, page: PageRequest
) -> tuple[AppointmentType, Page[AppointmentTypeMode]]:
    async with db.read() as session:
        appointment_type = await _appointment_type(
            session, institution_id=institution_id, appointment_type_id=appointment_type_id
        )
        modes = await repo.page_modes(
            session,
            institution_id=institution_id,
            appointment_type_id=appointment_type.id,
            page=page,
        )
    return appointment_type, modes


# Portal users and their patients -------------------------------------------------------------


@dataclass(frozen=True)
class PersonFields:
    """A patient record made for a portal user (their own, or a dependant)."""

    first_name: str | None = None
    last_name: str | None = None
    date_of_birth: date | None = None
    gender: str | None = None
    email: str | None = None
    phone_number: str | None = None
    tz: str | None = None
    location_id: int | None = None


@dataclass(frozen=True)
class PortalUserFields:
    email: str
    first_name: str
    last_name: str
    tz: str | None = None
    # Link an existing patient as the user's own, or create one from ``self_patient``.
    self_patient_id: int | None = None
    self_patient: PersonFields | None = None


@dataclass(frozen=True)
class PortalUserRecord:
    user: PortalUser
    patients: list[Patient]  # the user's own patient first, then dependants


def _check_person(
    errors: list[FieldError], prefix: str, person: PersonFields, *, birth_required: bool
) -> None:
    if person.date_of_birth is None:
        if birth_required:
            errors.append(FieldError(f"{prefix}.date_of_birth", "is required"))
    else:
        check_birth_date(errors, f"{prefix}.date_of_birth", person.date_of_birth, utc_now().date())
    if person.gender is not None and person.gender not in GENDERS:
        errors.append(FieldError(f"{prefix}.gender", "must be Male, Female or Other"))
    _zone(errors, f"{prefix}.tz", person.tz)


async def _location(session: AsyncSession, *, institution_id: int, location_id: int) -> Location:
    found = await repo.by_id(session, Location, institution_id=institution_id, row_id=location_id)
    if found is None:
        raise NotFound("location", location_id, field="location_id")
    return found


def _person(
    institution_id: int, person: PersonFields, *, first: str, last: str, email: str | None
) -> Patient:
    bio: dict[str, Any] = {}
    if person.date_of_birth is not None:
        bio["date_of_birth"] = person.date_of_birth.isoformat()
    if person.gender is not None:
        bio["gender"] = person.gender
    if person.phone_number is not None:
        bio["phone_number"] = person.phone_number
    return Patient(
        institution_id=institution_id,
        location_id=person.location_id,
        first_name=first,
        last_name=last,
        email=email,
        date_of_birth=person.date_of_birth,
        gender=person.gender,
        phone_number=person.phone_number,
        tz=person.tz,
        bio=bio,
    )


async def _record(
    session: AsyncSession, *, institution_id: int, user: PortalUser
) -> PortalUserRecord:
    patients = await repo.patients_of_users(session, institution_id=institution_id, users=[user])
    return PortalUserRecord(user, _own_first(user, patients))


def _own_first(user: PortalUser, patients: list[Patient]) -> list[Patient]:
    return sorted(patients, key=lambda p: (p.id != user.self_patient_id, p.id))


async def create_portal_user(
    db: Database, *, institution_id: int, given: PortalUserFields
) -> PortalUserRecord:
    errors: list[FieldError] = []
    email = _text(errors, "portal_user.email", given.email).lower()
    if email and ("@" not in email or " " in email):
        errors.append(FieldError("portal_user.email", "is not a valid email address"))
    first = _text(errors, "portal_user.first_name", given.first_name)
    last = _text(errors, "portal_user.last_name", given.last_name)
    _zone(errors, "portal_user.tz", given.tz)
    if given.self_patient_id is not None and given.self_patient is not None:
        errors.append(
            FieldError("portal_user.self_patient", "give self_patient_id or self_patient, not both")
        )
    person = given.self_patient or PersonFields()
    _check_person(errors, "portal_user.self_patient", person, birth_required=False)
    _raise(errors)

    async def work(session: AsyncSession) -> PortalUserRecord:
        linked = None
        if given.self_patient_id is not None:
            linked = await repo.by_id(
                session, Patient, institution_id=institution_id, row_id=given.self_patient_id
            )
            if linked is None:
                raise NotFound("patient", given.self_patient_id, field="self_patient_id")
            if linked.portal_user_id is not None:
                raise Conflict(f"patient {linked.id} already belongs to a portal user")
        if person.location_id is not None:
            await _location(session, institution_id=institution_id, location_id=person.location_id)
        await repo.lock_institution(session, institution_id=institution_id)
        if await repo.portal_user_by_email(session, institution_id=institution_id, email=email):
            raise Conflict(f"a portal user with email '{email}' already exists")
        user = await repo.add(
            session,
            PortalUser(
                institution_id=institution_id,
                email=email,
                first_name=first,
                last_name=last,
                tz=given.tz,
            ),
        )
        if linked is None:
            linked = _person(
                institution_id,
                person,
                first=_optional(person.first_name) or first,
                last=_optional(person.last_name) or last,
                email=_optional(person.email) or email,
            )
            linked.tz = person.tz or given.tz
            session.add(linked)
        linked.portal_user_id = user.id
        await session.flush()
        user.self_patient_id = linked.id
        await session.flush()
        return await _record(session, institution_id=institution_id, user=user)

    return await db.write(work)


async def create_dependant(
    db: Database, *, institution_id: int, portal_user_id: int, given: PersonFields
) -> PortalUserRecord:
    """A patient owned by the user, with the user's own patient as guardian (``guarantor_id``).

    The birth date is required: a guardian booking identifies the dependant by name and birth
    date, so two dependants of one guardian with the same both are refused (409).
    """
    errors: list[FieldError] = []
    first = _text(errors, "patient.first_name", given.first_name or "")
    last = _text(errors, "patient.last_name", given.last_name or "")
    _check_person(errors, "patient", given, birth_required=True)
    _raise(errors)
    born = given.date_of_birth
    assert born is not None

    async def work(session: AsyncSession) -> PortalUserRecord:
        user = await repo.by_id(
            session, PortalUser, institution_id=institution_id, row_id=portal_user_id
        )
        if user is None:
            raise NotFound("portal user", portal_user_id)
        if user.self_patient_id is None:
            raise InvalidInput.one(
                "portal_user_id", "the user has no patient of their own to be the guardian"
            )
        guardian = await repo.by_id(
            session, Patient, institution_id=institution_id, row_id=user.self_patient_id
        )
        assert guardian is not None
        location_id = given.location_id or guardian.location_id
        if given.location_id is not None:
            await _location(session, institution_id=institution_id, location_id=given.location_id)
        await repo.lock_institution(session, institution_id=institution_id)
        if await appointments_repo.find_dependant(
            session,
            institution_id=institution_id,
            guardian_id=guardian.id,
            first_name=first,
            last_name=last,
            date_of_birth=born,
        ):
            raise Conflict(f"{first} {last}, born {born.isoformat()}, is already a dependant")
        dependant = _person(
            institution_id,
            PersonFields(
                date_of_birth=born,
                gender=given.gender,
                phone_number=given.phone_number or guardian.phone_number,
                tz=given.tz or guardian.tz,
                location_id=location_id,
            ),
            first=first,
            last=last,
            email=_optional(given.email),
        )
        dependant.guarantor_id = guardian.id
        dependant.portal_user_id = user.id
        dependant.provider_id = guardian.provider_id
        session.add(dependant)
        await session.flush()
        return await _record(session, institution_id=institution_id, user=user)

    return await db.write(work)


async def list_portal_users(
    db: Database, *, institution_id: int, page: PageRequest
) -> Page[PortalUserRecord]:
    async with db.read() as session:
        users = await repo.page_portal_users(session, institution_id=institution_id, page=page)
        patients = await repo.patients_of_users(
            session, institution_id=institution_id, users=users.items
        )
    by_id = {u.id: u for u in users.items}
    self_of = {u.self_patient_id: u.id for u in users.items if u.self_patient_id is not None}
    owned: dict[int, list[Patient]] = {u.id: [] for u in users.items}
    for patient in patients:
        owner = self_of.get(patient.id) or self_of.get(patient.guarantor_id or 0)
        owner = owner or patient.portal_user_id
        if owner in owned:
            owned[owner].append(patient)
    records = []
    for user in users.items:
        records.append(PortalUserRecord(by_id[user.id], _own_first(user, owned[user.id])))
    return Page(
        items=records,
        total=users.total,
        has_previous_page=users.has_previous_page,
        has_next_page=users.has_next_page,
        start_cursor=users.start_cursor,
        end_cursor=users.end_cursor,
    )


async def get_portal_user(
    db: Database, *, institution_id: int, portal_user_id: int
) -> PortalUserRecord:
    async with db.read() as session:
        user = await repo.by_id(
            session, PortalUser, institution_id=institution_id, row_id=portal_user_id
        )
        if user is None:
            raise NotFound("portal user", portal_user_id)
        return await _record(session, institution_id=institution_id, user=user)
