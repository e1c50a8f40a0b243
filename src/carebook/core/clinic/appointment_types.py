"""Appointment types: a name (unique in the institution), a default length, where it is offered
(the whole institution or one location) and the EHR descriptors it books."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TypedDict

from sqlalchemy.ext.asyncio import AsyncSession

from carebook.core.clinic.common import map_page, require_all, required_text
from carebook.core.clinic.locations import require_location
from carebook.core.errors import Conflict, FieldError, InvalidInput, NotFound
from carebook.db.database import Database
from carebook.db.repositories import clinic as repo
from carebook.db.repositories.pagination import Page, PageRequest
from carebook.db.tables import AppointmentType

INSTITUTION = "Institution"
LOCATION = "Location"
MAX_MINUTES = 24 * 60


@dataclass(frozen=True)
class AppointmentTypeFields:
    name: str
    minutes: int
    parent_type: str = INSTITUTION
    # The location of a Location type; for an Institution type, None or the institution's id.
    parent_id: int | None = None
    bookable_online: bool = True
    emr_appt_descriptor_ids: tuple[int, ...] = ()


class AppointmentTypeChanges(TypedDict, total=False):
    name: str
    minutes: int
    parent_type: str
    parent_id: int | None
    bookable_online: bool
    emr_appt_descriptor_ids: tuple[int, ...]


@dataclass(frozen=True)
class AppointmentTypeRecord:
    appointment_type: AppointmentType
    descriptor_ids: list[int]


def _validated(
    given: AppointmentTypeFields, *, institution_id: int, location_id: int | None
) -> AppointmentTypeFields:
    errors: list[FieldError] = []
    name = required_text(errors, "appointment_type.name", given.name)
    if not 1 <= given.minutes <= MAX_MINUTES:
        errors.append(
            FieldError("appointment_type.minutes", f"must be between 1 and {MAX_MINUTES}")
        )
    parent_id = given.parent_id
    if given.parent_type == LOCATION:
        if parent_id is None:
            errors.append(
                FieldError("appointment_type.parent_id", "is required when parent_type is Location")
            )
        elif location_id is not None and location_id != parent_id:
            errors.append(FieldError("location_id", "must equal appointment_type.parent_id"))
    elif given.parent_type == INSTITUTION:
        if parent_id not in (None, institution_id):
            errors.append(
                FieldError(
                    "appointment_type.parent_id",
                    "must be empty (or the institution's id) when parent_type is Institution",
                )
            )
        parent_id = None
    else:
        errors.append(FieldError("appointment_type.parent_type", "must be Institution or Location"))
    if errors:
        raise InvalidInput(errors)
    return replace(
        given,
        name=name,
        parent_id=parent_id,
        emr_appt_descriptor_ids=tuple(dict.fromkeys(given.emr_appt_descriptor_ids)),
    )


async def _check_references(
    session: AsyncSession,
    values: AppointmentTypeFields,
    *,
    institution_id: int,
    location_id: int | None,
    other_than: int | None,
) -> None:
    """Locations and descriptors exist in the institution (404) and the name is free (409)."""
    if location_id is not None:
        await require_location(session, location_id, institution_id=institution_id)
    if values.parent_id is not None:
        await require_location(session, values.parent_id, institution_id=institution_id)
    descriptors = await repo.descriptors_by_ids(
        session, values.emr_appt_descriptor_ids, institution_id=institution_id
    )
    require_all(
        "appointment descriptor", values.emr_appt_descriptor_ids, {d.id for d in descriptors}
    )
    scope = values.parent_id if values.parent_id is not None else location_id
    if scope is not None:
        elsewhere = [d.id for d in descriptors if d.location_id != scope]
        if elsewhere:
            raise InvalidInput.one(
                "appointment_type.emr_appt_descriptor_ids",
                f"descriptor {elsewhere[0]} is not at location {scope}",
            )
    await repo.lock_institution(session, institution_id=institution_id)
    clash = await repo.appointment_type_named(
        session, values.name, institution_id=institution_id, other_than=other_than
    )
    if clash is not None:
        raise Conflict(f"appointment type {clash.id} is already named '{clash.name}'")


def _apply(appointment_type: AppointmentType, values: AppointmentTypeFields) -> None:
    appointment_type.name = values.name
    appointment_type.minutes = values.minutes
    appointment_type.parent_type = values.parent_type
    appointment_type.parent_id = values.parent_id
    appointment_type.bookable_online = values.bookable_online


async def _require(
    session: AsyncSession, appointment_type_id: int, *, institution_id: int
) -> AppointmentType:
    found = await repo.appointment_type_by_id(
        session, appointment_type_id, institution_id=institution_id
    )
    if found is None:
        raise NotFound("appointment type", appointment_type_id)
    return found


async def create_appointment_type(
    db: Database, *, institution_id: int, location_id: int | None, given: AppointmentTypeFields
) -> AppointmentTypeRecord:
    values = _validated(given, institution_id=institution_id, location_id=location_id)

    async def work(session: AsyncSession) -> AppointmentTypeRecord:
        await _check_references(
            session, values, institution_id=institution_id, location_id=location_id, other_than=None
        )
        appointment_type = AppointmentType(institution_id=institution_id, deleted=False)
        _apply(appointment_type, values)
        await repo.add(session, appointment_type)
        await repo.set_type_descriptors(
            session,
            appointment_type.id,
            values.emr_appt_descriptor_ids,
            institution_id=institution_id,
        )
        # In id order, as every later read answers them.
        return AppointmentTypeRecord(appointment_type, sorted(values.emr_appt_descriptor_ids))

    return await db.write(work)


async def update_appointment_type(
    db: Database,
    *,
    institution_id: int,
    appointment_type_id: int,
    location_id: int | None,
    changes: AppointmentTypeChanges,
) -> AppointmentTypeRecord:
    async def work(session: AsyncSession) -> AppointmentTypeRecord:
        appointment_type = await _require(
            session, appointment_type_id, institution_id=institution_id
        )
        linked = await repo.descriptor_ids_of_types(
            session, [appointment_type.id], institution_id=institution_id
        )
        current = AppointmentTypeFields(
            name=appointment_type.name,
            minutes=appointment_type.minutes,
            parent_type=appointment_type.parent_type,
            parent_id=appointment_type.parent_id,
            bookable_online=appointment_type.bookable_online,
            emr_appt_descriptor_ids=tuple(linked[appointment_type.id]),
        )
        merged = replace(current, **changes)
        if changes.get("parent_type") == INSTITUTION and "parent_id" not in changes:
            merged = replace(merged, parent_id=None)
        values = _validated(merged, institution_id=institution_id, location_id=location_id)
        await _check_references(
            session,
            values,
            institution_id=institution_id,
            location_id=location_id,
            other_than=appointment_type.id,
        )
        _apply(appointment_type, values)
        await repo.flush(session)
        if "emr_appt_descriptor_ids" in changes:
            await repo.set_type_descriptors(
                session,
                appointment_type.id,
                values.emr_appt_descriptor_ids,
                institution_id=institution_id,
            )
        return AppointmentTypeRecord(appointment_type, sorted(values.emr_appt_descriptor_ids))

    return await db.write(work)


async def delete_appointment_type(
    db: Database, *, institution_id: int, appointment_type_id: int
) -> AppointmentTypeRecord:
    """Soft delete: the type disappears from the API; appointments keep pointing at it."""

    async def work(session: AsyncSession) -> AppointmentTypeRecord:
        appointment_type = await _require(
            session, appointment_type_id, institution_id=institution_id
        )
        linked = await repo.descriptor_ids_of_types(
            session, [appointment_type.id], institution_id=institution_id
        )
        appointment_type.deleted = True
        await repo.flush(session)
        return AppointmentTypeRecord(appointment_type, linked[appointment_type.id])

    return await db.write(work)


async def get_appointment_type(
    db: Database, *, institution_id: int, appointment_type_id: int
) -> AppointmentTypeRecord:
    async with db.read() as session:
        appointment_type = await _require(
            session, appointment_type_id, institution_id=institution_id
        )
        linked = await repo.descriptor_ids_of_types(
            session, [appointment_type.id], institution_id=institution_id
        )
    return AppointmentTypeRecord(appointment_type, linked[appointment_type.id])


async def list_appointment_types(
    db: Database, *, institution_id: int, page: PageRequest, location_id: int | None
) -> Page[AppointmentTypeRecord]:
    """Types offered in the institution; with ``location_id``, those bookable at that location
    (the institution-wide ones and the location's own)."""
    async with db.read() as session:
        if location_id is not None:
            await require_location(session, location_id, institution_id=institution_id)
        found = await repo.page_appointment_types(
            session, page, institution_id=institution_id, location_id=location_id
        )
        linked = await repo.descriptor_ids_of_types(
            session, [t.id for t in found.items], institution_id=institution_id
        )
    return map_page(found, lambda t: AppointmentTypeRecord(t, linked[t.id]))
