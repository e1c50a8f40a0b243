"""Patients: created at a location with a provider, searched by name, contact and birth date."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from carebook.core.clinic.common import (
    check_birth_date,
    check_email,
    optional_text,
    phone_digits,
    required_text,
)
from carebook.core.clinic.locations import require_location
from carebook.core.errors import FieldError, InvalidInput, NotFound
from carebook.core.time import local_date, utc_now, zone
from carebook.db.database import Database
from carebook.db.repositories import clinic as repo
from carebook.db.repositories.pagination import Page, PageRequest
from carebook.db.tables import Patient

GENDERS = ("Male", "Female", "Other")


@dataclass(frozen=True)
class NewPatient:
    first_name: str
    last_name: str
    email: str
    date_of_birth: date
    phone_number: str
    gender: str = "Female"
    middle_name: str | None = None
    # The other bio fields, kept as given.
    bio: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PatientSearch:
    location_id: int
    location_strict: bool = False
    name: str | None = None
    email: str | None = None
    phone_number: str | None = None
    date_of_birth: date | None = None
    inactive: bool | None = None


@dataclass(frozen=True)
class CreatedPatient:
    patient: Patient
    created: bool  # False: an existing match was returned


def _validated(given: NewPatient, *, today: date) -> NewPatient:
    errors: list[FieldError] = []
    first_name = required_text(errors, "patient.first_name", given.first_name)
    last_name = required_text(errors, "patient.last_name", given.last_name)
    email = check_email(errors, "patient.email", given.email)
    if email is None:
        errors.append(FieldError("patient.email", "must not be blank"))
    check_birth_date(errors, "patient.bio.date_of_birth", given.date_of_birth, today)
    phone = given.phone_number.strip()
    if not phone_digits(phone):
        errors.append(FieldError("patient.bio.phone_number", "must contain digits"))
    if given.gender not in GENDERS:
        errors.append(FieldError("patient.bio.gender", f"must be one of {', '.join(GENDERS)}"))
    if errors:
        raise InvalidInput(errors)
    assert email is not None
    return NewPatient(
        first_name=first_name,
        last_name=last_name,
        email=email,
        date_of_birth=given.date_of_birth,
        phone_number=phone,
        gender=given.gender,
        middle_name=optional_text(given.middle_name),
        bio=given.bio,
    )


async def create_patient(
    db: Database,
    *,
    institution_id: int,
    location_id: int,
    provider_id: int,
    given: NewPatient,
    return_existing_if_match: bool = False,
) -> CreatedPatient:
    """A new patient; a patient with the same name, birth date and phone is a duplicate, returned
    as is with ``return_existing_if_match`` and refused otherwise."""

    async def work(session: AsyncSession) -> CreatedPatient:
        location = await require_location(session, location_id, institution_id=institution_id)
        if await repo.provider_by_id(session, provider_id, institution_id=institution_id) is None:
            raise NotFound("provider", provider_id)
        values = _validated(given, today=local_date(utc_now(), zone(location.tz)))
        digits = phone_digits(values.phone_number)
        await repo.lock_institution(session, institution_id=institution_id)
        existing = await repo.matching_patient(
            session,
            institution_id=institution_id,
            first_name=values.first_name,
            last_name=values.last_name,
            date_of_birth=values.date_of_birth,
            phone_number=digits,
        )
        if existing is not None:
            if return_existing_if_match:
                return CreatedPatient(existing, created=False)
            raise InvalidInput.one(
                "patient",
                f"patient {existing.id} has the same name, date of birth and phone number "
                "(send return_existing_if_match=true to get it back)",
            )
        bio = {
            **values.bio,
            "date_of_birth": values.date_of_birth.isoformat(),
            "phone_number": values.phone_number,
            "gender": values.gender,
        }
        patient = Patient(
            institution_id=institution_id,
            location_id=location.id,
            provider_id=provider_id,
            first_name=values.first_name,
            middle_name=values.middle_name,
            last_name=values.last_name,
            email=values.email,
            date_of_birth=values.date_of_birth,
            phone_number=digits,
            gender=values.gender,
            bio=bio,
            inactive=False,
            unsubscribe_sms=False,
        )
        return CreatedPatient(await repo.add(session, patient), created=True)

    return await db.write(work)


async def get_patient(db: Database, *, institution_id: int, patient_id: int) -> Patient:
    async with db.read() as session:
        patient = await repo.patient_by_id(session, patient_id, institution_id=institution_id)
    if patient is None:
        raise NotFound("patient", patient_id)
    return patient


async def list_patients(
    db: Database, *, institution_id: int, page: PageRequest, search: PatientSearch
) -> Page[Patient]:
    """Patients of the institution (``location_strict``: only those of the location)."""
    phone = None
    if search.phone_number is not None:
        phone = phone_digits(search.phone_number)
        if not phone:
            raise InvalidInput.one("phone_number", "must contain digits")
    async with db.read() as session:
        await require_location(session, search.location_id, institution_id=institution_id)
        return await repo.page_patients(
            session,
            page,
            institution_id=institution_id,
            location_id=search.location_id if search.location_strict else None,
            name=optional_text(search.name),
            email=optional_text(search.email),
            phone_number=phone,
            date_of_birth=search.date_of_birth,
            inactive=search.inactive,
        )
