"""SQL for the Calendar (telehealth) API: GUID look-ups and its catalogue (specialties, services,
visit reasons, portal users, visit options). Every function on tenant data takes
``institution_id`` (keyword-only) and filters on it."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any, TypeVar

from sqlalchemy import BindParameter, bindparam, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from carebook.db.base import Base
from carebook.db.repositories.pagination import Page, PageRequest, paginate
from carebook.db.tables import (
    Appointment,
    AppointmentType,
    AppointmentTypeMode,
    Institution,
    Location,
    Operatory,
    Patient,
    PortalUser,
    ProviderLocation,
)

RowT = TypeVar("RowT", bound=Base)


# The look-ups on the Calendar booking path are built once (bind parameters only), so a request
# neither builds SQL expressions nor generates cache keys.


@lru_cache(maxsize=1)
def _institution_by_guid() -> Any:
    return select(Institution).where(Institution.guid == bindparam("guid"))


async def institution_by_guid(session: AsyncSession, guid: uuid.UUID) -> Institution | None:
    """The tenant root itself (callers check that the caller may reach it)."""
    found: Institution | None = (
        await session.execute(_institution_by_guid(), {"guid": guid})
    ).scalar_one_or_none()
    return found


@lru_cache(maxsize=64)
def _by_column(model: Any, column: str, expanding: bool) -> Any:
    return select(model).where(
        model.institution_id == bindparam("institution_id"),
        getattr(model, column) == bindparam("value")
        if not expanding
        else getattr(model, column).in_(bindparam("value", expanding=True)),
    )


async def by_guid(
    session: AsyncSession, model: type[RowT], *, institution_id: int, guid: uuid.UUID
) -> RowT | None:
    """One row of ``model`` (a tenant table with a ``guid``) in the institution."""
    query = _by_column(model, "guid", False)
    params = {"institution_id": institution_id, "value": guid}
    found: RowT | None = (await session.execute(query, params)).scalar_one_or_none()
    return found


async def by_guids(
    session: AsyncSession,
    model: type[RowT],
    *,
    institution_id: int,
    guids: Collection[uuid.UUID],
) -> list[RowT]:
    if not guids:
        return []
    query = _by_column(model, "guid", True)
    params = {"institution_id": institution_id, "value": list(guids)}
    return list((await session.execute(query, params)).scalars())


async def by_id(
    session: AsyncSession, model: type[RowT], *, institution_id: int, row_id: int
) -> RowT | None:
    query = _by_column(model, "id", False)
    params = {"institution_id": institution_id, "value": row_id}
    found: RowT | None = (await session.execute(query, params)).scalar_one_or_none()
    return found


@dataclass(frozen=True)
class UserAndPatients:
    user: PortalUser
    self_patient: Patient | None


@lru_cache(maxsize=1)
def _portal_user_with_self() -> Any:
    institution_id: BindParameter[int] = bindparam("institution_id")
    return (
        select(PortalUser, Patient)
        .outerjoin(
            Patient,
            (Patient.institution_id == institution_id) & (Patient.id == PortalUser.self_patient_id),
        )
        .where(PortalUser.institution_id == institution_id, PortalUser.guid == bindparam("guid"))
    )


async def portal_user_with_self(
    session: AsyncSession, *, institution_id: int, guid: uuid.UUID
) -> UserAndPatients | None:
    params = {"institution_id": institution_id, "guid": guid}
    row = (await session.execute(_portal_user_with_self(), params)).first()
    if row is None:
        return None
    return UserAndPatients(row[0], row[1])


@lru_cache(maxsize=1)
def _provider_locations() -> Any:
    return (
        select(Location)
        .join(ProviderLocation, ProviderLocation.location_id == Location.id)
        .where(
            Location.institution_id == bindparam("institution_id"),
            ProviderLocation.provider_id == bindparam("provider_id"),
            Location.inactive == false(),
        )
        .order_by(Location.id)
    )


async def provider_locations(
    session: AsyncSession, *, institution_id: int, provider_id: int
) -> list[Location]:
    """The active locations the provider works at, oldest first."""
    params = {"institution_id": institution_id, "provider_id": provider_id}
    return list((await session.execute(_provider_locations(), params)).scalars())


@lru_cache(maxsize=1)
def _active_operatories() -> Any:
    return (
        select(Operatory)
        .where(
            Operatory.institution_id == bindparam("institution_id"),
            Operatory.location_id == bindparam("location_id"),
            Operatory.active,
        )
        .order_by(Operatory.id)
    )


async def active_operatories(
    session: AsyncSession, *, institution_id: int, location_id: int
) -> list[Operatory]:
    params = {"institution_id": institution_id, "location_id": location_id}
    return list((await session.execute(_active_operatories(), params)).scalars())


async def appointment_guids(
    session: AsyncSession, *, institution_id: int, appointment_ids: Collection[int]
) -> dict[int, uuid.UUID]:
    if not appointment_ids:
        return {}
    query = select(Appointment.id, Appointment.guid).where(
        Appointment.institution_id == institution_id, Appointment.id.in_(list(appointment_ids))
    )
    return dict((await session.execute(query)).tuples().all())


# The catalogue -------------------------------------------------------------------------------


async def lock_institution(session: AsyncSession, *, institution_id: int) -> None:
    """Serialise the writers of one institution that check-then-insert (unique names).

    PostgreSQL: a ``FOR NO KEY UPDATE`` row lock on the institution. SQLite: a no-op, its write
    transactions are serial already.
    """
    await session.execute(
        select(Institution.id)
        .where(Institution.id == institution_id)
        .with_for_update(key_share=True)
    )


async def add(session: AsyncSession, row: RowT) -> RowT:
    session.add(row)
    await session.flush()
    return row


async def page_of(
    session: AsyncSession, model: type[RowT], *, institution_id: int, page: PageRequest
) -> Page[RowT]:
    columns: Any = model
    query = select(model).where(columns.institution_id == institution_id)
    result: Page[RowT] = await paginate(session, query, columns.id, page)
    return result


async def page_modes(
    session: AsyncSession, *, institution_id: int, appointment_type_id: int, page: PageRequest
) -> Page[AppointmentTypeMode]:
    query = select(AppointmentTypeMode).where(
        AppointmentTypeMode.institution_id == institution_id,
        AppointmentTypeMode.appointment_type_id == appointment_type_id,
    )
    return await paginate(session, query, AppointmentTypeMode.id, page)


async def mode_matching(
    session: AsyncSession,
    *,
    institution_id: int,
    appointment_type_id: int,
    mode_id: int,
    minutes: int,
) -> AppointmentTypeMode | None:
    query = select(AppointmentTypeMode).where(
        AppointmentTypeMode.institution_id == institution_id,
        AppointmentTypeMode.appointment_type_id == appointment_type_id,
        AppointmentTypeMode.mode_id == mode_id,
        AppointmentTypeMode.minutes == minutes,
    )
    return (await session.execute(query.limit(1))).scalar_one_or_none()


async def appointment_type_named(
    session: AsyncSession, *, institution_id: int, name: str
) -> AppointmentType | None:
    query = select(AppointmentType).where(
        AppointmentType.institution_id == institution_id,
        AppointmentType.name == name,
        AppointmentType.deleted == false(),
    )
    return (await session.execute(query.order_by(AppointmentType.id).limit(1))).scalar_one_or_none()


async def named(
    session: AsyncSession, model: type[RowT], *, institution_id: int, name: str
) -> RowT | None:
    """The first row of a catalogue table (specialties, services, reasons) with this name."""
    columns: Any = model
    query = (
        select(model)
        .where(columns.institution_id == institution_id, columns.name == name)
        .order_by(columns.id)
        .limit(1)
    )
    return (await session.execute(query)).scalar_one_or_none()


async def portal_user_by_email(
    session: AsyncSession, *, institution_id: int, email: str
) -> PortalUser | None:
    query = (
        select(PortalUser)
        .where(PortalUser.institution_id == institution_id, PortalUser.email == email)
        .order_by(PortalUser.id)
        .limit(1)
    )
    return (await session.execute(query)).scalar_one_or_none()


async def page_portal_users(
    session: AsyncSession, *, institution_id: int, page: PageRequest
) -> Page[PortalUser]:
    query = select(PortalUser).where(PortalUser.institution_id == institution_id)
    return await paginate(session, query, PortalUser.id, page)


async def patients_of_users(
    session: AsyncSession, *, institution_id: int, users: Sequence[PortalUser]
) -> list[Patient]:
    """Every patient the users own: their own records and their dependants, oldest first."""
    if not users:
        return []
    user_ids = [u.id for u in users]
    self_ids = [u.self_patient_id for u in users if u.self_patient_id is not None]
    conditions = [Patient.portal_user_id.in_(user_ids)]
    if self_ids:
        conditions.append(Patient.id.in_(self_ids))
        conditions.append(Patient.guarantor_id.in_(self_ids))
    query = (
        select(Patient)
        .where(Patient.institution_id == institution_id, or_(*conditions))
        .order_by(Patient.id)
    )
    return list((await session.execute(query)).scalars())


async def dependant_named(
    session: AsyncSession,
    *,
    institution_id: int,
    guardian_id: int,
    first_name: str,
    last_name: str,
    date_of_birth: date,
) -> Patient | None:
    """A dependant of the guardian with this name and birth date (names without case)."""
    query = (
        select(Patient)
        .where(
            Patient.institution_id == institution_id,
            Patient.guarantor_id == guardian_id,
            func.lower(Patient.first_name) == first_name.lower(),
            func.lower(Patient.last_name) == last_name.lower(),
            Patient.date_of_birth == date_of_birth,
        )
        .order_by(Patient.id)
        .limit(1)
    )
    return (await session.execute(query)).scalar_one_or_none()
