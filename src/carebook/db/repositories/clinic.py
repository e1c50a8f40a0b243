"""What a clinic is made of: locations, providers, operatories, patients, appointment types,
appointment descriptors and procedures.

Every function on tenant data takes ``institution_id`` (keyword-only) and filters on it, so a
record of another institution is never found, listed or linked.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date
from typing import TypeVar

from sqlalchemy import Select, delete, false, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from carebook.db.repositories.pagination import Page, PageRequest, paginate
from carebook.db.tables import (
    Appointment,
    AppointmentDescriptor,
    AppointmentType,
    AppointmentTypeDescriptor,
    Institution,
    Location,
    Operatory,
    Patient,
    Procedure,
    Provider,
    ProviderLocation,
)

RowT = TypeVar("RowT")


async def lock_institution(session: AsyncSession, *, institution_id: int) -> None:
    """Serialise the writers of one institution that check-then-insert (unique names).

    PostgreSQL: a ``FOR NO KEY UPDATE`` row lock, which does not block the foreign-key checks of
    ordinary inserts. SQLite: a no-op, its write transactions are serial already.
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


async def flush(session: AsyncSession) -> None:
    await session.flush()


# Locations ----------------------------------------------------------------------------------


async def location_by_id(
    session: AsyncSession, location_id: int, *, institution_id: int
) -> Location | None:
    query = select(Location).where(
        Location.institution_id == institution_id, Location.id == location_id
    )
    return (await session.execute(query)).scalar_one_or_none()


async def locations_by_ids(
    session: AsyncSession, location_ids: Collection[int], *, institution_id: int
) -> list[Location]:
    if not location_ids:
        return []
    query = (
        select(Location)
        .where(Location.institution_id == institution_id, Location.id.in_(location_ids))
        .order_by(Location.id)
    )
    return list((await session.execute(query)).scalars())


async def page_locations(
    session: AsyncSession, page: PageRequest, *, institution_id: int, inactive: bool | None
) -> Page[Location]:
    query = select(Location).where(Location.institution_id == institution_id)
    if inactive is not None:
        query = query.where(Location.inactive == (true() if inactive else false()))
    return await paginate(session, query, Location.id, page)


# Providers ----------------------------------------------------------------------------------


async def provider_by_id(
    session: AsyncSession, provider_id: int, *, institution_id: int, for_update: bool = False
) -> Provider | None:
    """``for_update``: lock the row (PostgreSQL) so concurrent changes of it queue."""
    query = select(Provider).where(
        Provider.institution_id == institution_id, Provider.id == provider_id
    )
    if for_update:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def page_providers(
    session: AsyncSession,
    page: PageRequest,
    *,
    institution_id: int,
    location_id: int | None,
    inactive: bool | None,
) -> Page[Provider]:
    query = select(Provider).where(Provider.institution_id == institution_id)
    if location_id is not None:
        query = query.where(
            Provider.id.in_(
                select(ProviderLocation.provider_id).where(
                    ProviderLocation.institution_id == institution_id,
                    ProviderLocation.location_id == location_id,
                )
            )
        )
    if inactive is not None:
        query = query.where(Provider.inactive == (true() if inactive else false()))
    return await paginate(session, query, Provider.id, page)


async def locations_of_providers(
    session: AsyncSession, provider_ids: Collection[int], *, institution_id: int
) -> dict[int, list[Location]]:
    """The locations each provider works at, ordered by location id."""
    found: dict[int, list[Location]] = {provider_id: [] for provider_id in provider_ids}
    if not provider_ids:
        return found
    query = (
        select(ProviderLocation.provider_id, Location)
        .join(Location, Location.id == ProviderLocation.location_id)
        .where(
            ProviderLocation.institution_id == institution_id,
            Location.institution_id == institution_id,
            ProviderLocation.provider_id.in_(provider_ids),
        )
        .order_by(ProviderLocation.provider_id, Location.id)
    )
    for provider_id, location in (await session.execute(query)).tuples():
        found[provider_id].append(location)
    return found


async def set_provider_locations(
    session: AsyncSession, provider_id: int, location_ids: Collection[int], *, institution_id: int
) -> None:
    """Make ``location_ids`` (already checked to be the institution's) the provider's set."""
    await session.execute(
        delete(ProviderLocation).where(
            ProviderLocation.institution_id == institution_id,
            ProviderLocation.provider_id == provider_id,
        )
    )
    session.add_all(
        ProviderLocation(
            institution_id=institution_id, provider_id=provider_id, location_id=location_id
        )
        for location_id in sorted(set(location_ids))
    )
    await session.flush()


# Operatories --------------------------------------------------------------------------------


async def operatory_by_id(
    session: AsyncSession, operatory_id: int, *, institution_id: int
) -> Operatory | None:
    query = select(Operatory).where(
        Operatory.institution_id == institution_id, Operatory.id == operatory_id
    )
    return (await session.execute(query)).scalar_one_or_none()


async def page_operatories(
    session: AsyncSession,
    page: PageRequest,
    *,
    institution_id: int,
    location_id: int,
    search_name: str | None,
    active: bool | None,
) -> Page[Operatory]:
    query = select(Operatory).where(
        Operatory.institution_id == institution_id, Operatory.location_id == location_id
    )
    if search_name:
        needle = search_name.lower()
        query = query.where(
            or_(
                func.lower(Operatory.name).contains(needle, autoescape=True),
                func.lower(Operatory.display_name).contains(needle, autoescape=True),
            )
        )
    if active is not None:
        query = query.where(Operatory.active == (true() if active else false()))
    return await paginate(session, query, Operatory.id, page)


# Patients -----------------------------------------------------------------------------------


async def patient_by_id(
    session: AsyncSession, patient_id: int, *, institution_id: int
) -> Patient | None:
    query = select(Patient).where(
        Patient.institution_id == institution_id, Patient.id == patient_id
    )
    return (await session.execute(query)).scalar_one_or_none()


async def matching_patient(
    session: AsyncSession,
    *,
    institution_id: int,
    first_name: str,
    last_name: str,
    date_of_birth: date,
    phone_number: str,
) -> Patient | None:
    """The first patient with the same name (any case), date of birth and phone number."""
    query = (
        select(Patient)
        .where(
            Patient.institution_id == institution_id,
            func.lower(Patient.first_name) == first_name.lower(),
            func.lower(Patient.last_name) == last_name.lower(),
            Patient.date_of_birth == date_of_birth,
            Patient.phone_number == phone_number,
        )
        .order_by(Patient.id)
        .limit(1)
    )
    return (await session.execute(query)).scalar_one_or_none()


def _patients_query(
    *,
    institution_id: int,
    location_id: int | None,
    name: str | None,
    email: str | None,
    phone_number: str | None,
    date_of_birth: date | None,
    inactive: bool | None,
) -> Select[tuple[Patient]]:
    query = select(Patient).where(Patient.institution_id == institution_id)
    if location_id is not None:
        query = query.where(Patient.location_id == location_id)
    if name:
        needle = name.lower()
        first_last = func.lower(Patient.first_name + " " + Patient.last_name)
        last_first = func.lower(Patient.last_name + " " + Patient.first_name)
        query = query.where(
            or_(
                first_last.contains(needle, autoescape=True),
                last_first.contains(needle, autoescape=True),
            )
        )
    if email is not None:
        query = query.where(func.lower(Patient.email) == email.lower())
    if phone_number is not None:
        query = query.where(Patient.phone_number == phone_number)
    if date_of_birth is not None:
        query = query.where(Patient.date_of_birth == date_of_birth)
    if inactive is not None:
        query = query.where(Patient.inactive == (true() if inactive else false()))
    return query


async def page_patients(
    session: AsyncSession,
    page: PageRequest,
    *,
    institution_id: int,
    location_id: int | None,
    name: str | None,
    email: str | None,
    phone_number: str | None,
    date_of_birth: date | None,
    inactive: bool | None,
) -> Page[Patient]:
    query = _patients_query(
        institution_id=institution_id,
        location_id=location_id,
        name=name,
        email=email,
        phone_number=phone_number,
        date_of_birth=date_of_birth,
        inactive=inactive,
    )
    return await paginate(session, query, Patient.id, page)


# Appointment types --------------------------------------------------------------------------


async def appointment_type_by_id(
    session: AsyncSession, appointment_type_id: int, *, institution_id: int
) -> AppointmentType | None:
    """A type that is not deleted."""
    query = select(AppointmentType).where(
        AppointmentType.institution_id == institution_id,
        AppointmentType.id == appointment_type_id,
        AppointmentType.deleted == false(),
    )
    return (await session.execute(query)).scalar_one_or_none()


async def appointment_type_named(
    session: AsyncSession, name: str, *, institution_id: int, other_than: int | None = None
) -> AppointmentType | None:
    """A type (not deleted) whose name equals ``name`` in any case."""
    query = select(AppointmentType).where(
        AppointmentType.institution_id == institution_id,
        AppointmentType.deleted == false(),
        func.lower(AppointmentType.name) == name.lower(),
    )
    if other_than is not None:
        query = query.where(AppointmentType.id != other_than)
    return (await session.execute(query.limit(1))).scalar_one_or_none()


async def page_appointment_types(
    session: AsyncSession, page: PageRequest, *, institution_id: int, location_id: int | None
) -> Page[AppointmentType]:
    """Types not deleted; with ``location_id``, those offered there (institution-wide or own)."""
    query = select(AppointmentType).where(
        AppointmentType.institution_id == institution_id, AppointmentType.deleted == false()
    )
    if location_id is not None:
        query = query.where(
            or_(
                AppointmentType.parent_type == "Institution",
                AppointmentType.parent_id == location_id,
            )
        )
    return await paginate(session, query, AppointmentType.id, page)


async def descriptor_ids_of_types(
    session: AsyncSession, appointment_type_ids: Collection[int], *, institution_id: int
) -> dict[int, list[int]]:
    found: dict[int, list[int]] = {type_id: [] for type_id in appointment_type_ids}
    if not appointment_type_ids:
        return found
    query = (
        select(
            AppointmentTypeDescriptor.appointment_type_id, AppointmentTypeDescriptor.descriptor_id
        )
        .join(
            AppointmentDescriptor,
            AppointmentDescriptor.id == AppointmentTypeDescriptor.descriptor_id,
        )
        .where(
            AppointmentDescriptor.institution_id == institution_id,
            AppointmentTypeDescriptor.appointment_type_id.in_(appointment_type_ids),
        )
        .order_by(
            AppointmentTypeDescriptor.appointment_type_id, AppointmentTypeDescriptor.descriptor_id
        )
    )
    for type_id, descriptor_id in (await session.execute(query)).tuples():
        found[type_id].append(descriptor_id)
    return found


async def set_type_descriptors(
    session: AsyncSession,
    appointment_type_id: int,
    descriptor_ids: Collection[int],
    *,
    institution_id: int,
) -> None:
    """Make ``descriptor_ids`` (already checked to be the institution's) the type's set."""
    owned = select(AppointmentType.id).where(
        AppointmentType.institution_id == institution_id,
        AppointmentType.id == appointment_type_id,
    )
    await session.execute(
        delete(AppointmentTypeDescriptor).where(
            AppointmentTypeDescriptor.appointment_type_id.in_(owned)
        )
    )
    session.add_all(
        AppointmentTypeDescriptor(appointment_type_id=appointment_type_id, descriptor_id=d)
        for d in sorted(set(descriptor_ids))
    )
    await session.flush()


# Appointment descriptors --------------------------------------------------------------------


async def descriptor_by_id(
    session: AsyncSession, descriptor_id: int, *, institution_id: int
) -> AppointmentDescriptor | None:
    query = select(AppointmentDescriptor).where(
        AppointmentDescriptor.institution_id == institution_id,
        AppointmentDescriptor.id == descriptor_id,
    )
    return (await session.execute(query)).scalar_one_or_none()


async def descriptors_by_ids(
    session: AsyncSession, descriptor_ids: Collection[int], *, institution_id: int
) -> list[AppointmentDescriptor]:
    if not descriptor_ids:
        return []
    query = (
        select(AppointmentDescriptor)
        .where(
            AppointmentDescriptor.institution_id == institution_id,
            AppointmentDescriptor.id.in_(descriptor_ids),
        )
        .order_by(AppointmentDescriptor.id)
    )
    return list((await session.execute(query)).scalars())


async def page_descriptors(
    session: AsyncSession,
    page: PageRequest,
    *,
    institution_id: int,
    location_id: int,
    descriptor_type: str | None,
) -> Page[AppointmentDescriptor]:
    query = select(AppointmentDescriptor).where(
        AppointmentDescriptor.institution_id == institution_id,
        AppointmentDescriptor.location_id == location_id,
    )
    if descriptor_type is not None:
        query = query.where(AppointmentDescriptor.descriptor_type == descriptor_type)
    return await paginate(session, query, AppointmentDescriptor.id, page)


# Procedures ---------------------------------------------------------------------------------


async def appointment_by_id(
    session: AsyncSession, appointment_id: int, *, institution_id: int
) -> Appointment | None:
    """An appointment that is not deleted (cancelled ones count: they keep their procedures)."""
    query = select(Appointment).where(
        Appointment.institution_id == institution_id,
        Appointment.id == appointment_id,
        Appointment.deleted == false(),
    )
    return (await session.execute(query)).scalar_one_or_none()


async def procedure_by_id(
    session: AsyncSession, procedure_id: int, *, institution_id: int
) -> Procedure | None:
    query = select(Procedure).where(
        Procedure.institution_id == institution_id, Procedure.id == procedure_id
    )
    return (await session.execute(query)).scalar_one_or_none()


async def page_procedures(
    session: AsyncSession,
    page: PageRequest,
    *,
    institution_id: int,
    patient_id: int | None,
    provider_id: int | None,
    appointment_id: int | None,
    location_id: int | None,
) -> Page[Procedure]:
    query = select(Procedure).where(Procedure.institution_id == institution_id)
    if patient_id is not None:
        query = query.where(Procedure.patient_id == patient_id)
    if provider_id is not None:
        query = query.where(Procedure.provider_id == provider_id)
    if appointment_id is not None:
        query = query.where(Procedure.appointment_id == appointment_id)
    if location_id is not None:
        query = query.where(Procedure.location_id == location_id)
    return await paginate(session, query, Procedure.id, page)
