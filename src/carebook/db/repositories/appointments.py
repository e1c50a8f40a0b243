"""SQL for booking and reading appointments. Every function is scoped by ``institution_id``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import and_, false, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from carebook.db.tables import (
    Appointment,
    AppointmentDescriptor,
    AppointmentDescriptorLink,
    AppointmentReason,
    AppointmentType,
    Location,
    Operatory,
    Patient,
    PatientNotification,
    Procedure,
    Provider,
    ProviderLocation,
)

# No appointment or block is longer than this, so an overlap probe reads a bounded index range.
MAX_APPOINTMENT_LENGTH = timedelta(hours=24)


@dataclass
class BookingContext:
    """Everything a booking refers to, read in one query (None where absent or not found)."""

    location: Location | None
    provider: Provider | None
    provider_works_here: bool
    patient: Patient | None
    operatory: Operatory | None
    appointment_type: AppointmentType | None


async def load_booking_context(
    session: AsyncSession,
    *,
    institution_id: int,
    location_id: int,
    provider_id: int | None,
    patient_id: int | None,
    operatory_id: int | None,
    appointment_type_id: int | None,
) -> BookingContext:
    """One round trip: the location, joined to each referenced record by (institution, id)."""
    works_here = (
        select(literal(True))
        .where(
            ProviderLocation.provider_id == (provider_id or 0),
            ProviderLocation.location_id == location_id,
        )
        .exists()
    )
    query = (
        select(Location, Provider, Patient, Operatory, AppointmentType, works_here)
        .select_from(Location)
        .outerjoin(
            Provider,
            and_(Provider.institution_id == institution_id, Provider.id == (provider_id or 0)),
        )
        .outerjoin(
            Patient, and_(Patient.institution_id == institution_id, Patient.id == (patient_id or 0))
        )
        .outerjoin(
            Operatory,
            and_(Operatory.institution_id == institution_id, Operatory.id == (operatory_id or 0)),
        )
        .outerjoin(
            AppointmentType,
            and_(
                AppointmentType.institution_id == institution_id,
                AppointmentType.id == (appointment_type_id or 0),
                AppointmentType.deleted == false(),
            ),
        )
        .where(Location.institution_id == institution_id, Location.id == location_id)
    )
    row = (await session.execute(query)).first()
    if row is None:
        return BookingContext(None, None, False, None, None, None)
    location, provider, patient, operatory, appointment_type, provider_works_here = row
    return BookingContext(
        location, provider, bool(provider_works_here), patient, operatory, appointment_type
    )


@dataclass(frozen=True)
class OverlapRow:
    id: int
    operatory_id: int | None
    patient_id: int | None
    provider_id: int | None
    provider_exclusive: bool
    unavailable: bool


async def overlapping(
    session: AsyncSession,
    *,
    institution_id: int,
    start: datetime,
    end: datetime,
    operatory_id: int | None,
    patient_id: int | None,
    provider_id: int | None,
    provider_exclusive: bool,
    exclude_id: int | None = None,
    limit: int = 10,
) -> list[OverlapRow]:
    """Active appointments and blocks overlapping ``[start, end)`` on any resource given.

    Bounded: ``start_at`` lies in ``(start - MAX_APPOINTMENT_LENGTH, end)``, an index range.
    """
    resource_matches = []
    if operatory_id is not None:
        resource_matches.append(Appointment.operatory_id == operatory_id)
    if patient_id is not None:
        resource_matches.append(Appointment.patient_id == patient_id)
    if provider_id is not None and provider_exclusive:
        resource_matches.append(
            and_(Appointment.provider_id == provider_id, Appointment.provider_exclusive)
        )
    if not resource_matches:
        return []
    query = (
        select(
            Appointment.id,
            Appointment.operatory_id,
            Appointment.patient_id,
            Appointment.provider_id,
            Appointment.provider_exclusive,
            Appointment.unavailable,
        )
        .where(
            Appointment.institution_id == institution_id,
            Appointment.cancelled == false(),
            Appointment.deleted == false(),
            Appointment.start_at > start - MAX_APPOINTMENT_LENGTH,
            Appointment.start_at < end,
            Appointment.end_at > start,
            or_(*resource_matches),
        )
        .order_by(Appointment.start_at)
        .limit(limit)
    )
    if exclude_id is not None:
        query = query.where(Appointment.id != exclude_id)
    rows = await session.execute(query)
    return [OverlapRow(*row) for row in rows.tuples()]


async def descriptors_by_ids(
    session: AsyncSession, *, institution_id: int, descriptor_ids: Sequence[int]
) -> list[AppointmentDescriptor]:
    if not descriptor_ids:
        return []
    query = select(AppointmentDescriptor).where(
        AppointmentDescriptor.institution_id == institution_id,
        AppointmentDescriptor.id.in_(descriptor_ids),
    )
    return list((await session.execute(query)).scalars())


async def add_appointment(
    session: AsyncSession,
    appointment: Appointment,
    *,
    descriptor_ids: Sequence[int] = (),
    notification: PatientNotification | None = None,
) -> Appointment:
    session.add(appointment)
    await session.flush()
    for descriptor_id in descriptor_ids:
        session.add(
            AppointmentDescriptorLink(appointment_id=appointment.id, descriptor_id=descriptor_id)
        )
    if notification is not None:
        notification.appointment_id = appointment.id
        session.add(notification)
    if descriptor_ids or notification is not None:
        await session.flush()
    return appointment


async def patient_has_past_appointment(
    session: AsyncSession, *, institution_id: int, patient_id: int, before: datetime
) -> bool:
    query = select(
        select(literal(True))
        .where(
            Appointment.institution_id == institution_id,
            Appointment.patient_id == patient_id,
            Appointment.start_at < before,
            Appointment.cancelled == false(),
            Appointment.deleted == false(),
        )
        .exists()
    )
    return bool((await session.execute(query)).scalar())


async def find_dependant(
    session: AsyncSession,
    *,
    institution_id: int,
    guardian_id: int,
    first_name: str,
    last_name: str,
    date_of_birth: date,
) -> Patient | None:
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


async def add_patient(session: AsyncSession, patient: Patient) -> Patient:
    session.add(patient)
    await session.flush()
    return patient


@dataclass
class AppointmentRecord:
    """An appointment with what its API representations show."""

    appointment: Appointment
    location: Location
    provider: Provider | None
    patient: Patient | None
    operatory: Operatory | None
    appointment_type: AppointmentType | None
    descriptors: list[AppointmentDescriptor]
    procedures: list[Procedure]


async def load_appointment(
    session: AsyncSession, *, institution_id: int, appointment_id: int
) -> AppointmentRecord | None:
    query = (
        select(Appointment, Location, Provider, Patient, Operatory, AppointmentType)
        .join(
            Location,
            and_(
                Location.institution_id == Appointment.institution_id,
                Location.id == Appointment.location_id,
            ),
        )
        .outerjoin(Provider, Provider.id == Appointment.provider_id)
        .outerjoin(Patient, Patient.id == Appointment.patient_id)
        .outerjoin(Operatory, Operatory.id == Appointment.operatory_id)
        .outerjoin(AppointmentType, AppointmentType.id == Appointment.appointment_type_id)
        .where(Appointment.institution_id == institution_id, Appointment.id == appointment_id)
    )
    row = (await session.execute(query)).first()
    if row is None:
        return None
    appointment, location, provider, patient, operatory, appointment_type = row
    descriptors, procedures = await _descriptors_and_procedures(
        session, institution_id=institution_id, appointment_id=appointment_id
    )
    return AppointmentRecord(
        appointment,
        location,
        provider,
        patient,
        operatory,
        appointment_type,
        descriptors,
        procedures,
    )


async def _descriptors_and_procedures(
    session: AsyncSession, *, institution_id: int, appointment_id: int
) -> tuple[list[AppointmentDescriptor], list[Procedure]]:
    descriptors = await session.execute(
        select(AppointmentDescriptor)
        .join(
            AppointmentDescriptorLink,
            AppointmentDescriptorLink.descriptor_id == AppointmentDescriptor.id,
        )
        .where(
            AppointmentDescriptor.institution_id == institution_id,
            AppointmentDescriptorLink.appointment_id == appointment_id,
        )
        .order_by(AppointmentDescriptor.id)
    )
    procedures = await session.execute(
        select(Procedure)
        .where(
            Procedure.institution_id == institution_id, Procedure.appointment_id == appointment_id
        )
        .order_by(Procedure.id)
    )
    return list(descriptors.scalars()), list(procedures.scalars())


async def appointment_id_by_guid(
    session: AsyncSession, *, institution_id: int, guid: object
) -> int | None:
    query = select(Appointment.id).where(
        Appointment.institution_id == institution_id, Appointment.guid == guid
    )
    return (await session.execute(query)).scalar_one_or_none()


async def add_reasons(
    session: AsyncSession, *, appointment_id: int, reason_ids: Sequence[int]
) -> None:
    session.add_all(
        AppointmentReason(appointment_id=appointment_id, reason_id=reason_id)
        for reason_id in dict.fromkeys(reason_ids)
    )
    await session.flush()
