"""SQL for the Calendar (telehealth) API: GUID look-ups and its catalogue (specialties, services,
visit reasons, portal users, visit options). Every function on tenant data takes
``institution_id`` (keyword-only) and filters on it."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, TypeVar

from sqlalchemy import and_, bindparam, case, false, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

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
    Provider,
    ProviderLocation,
    ReferenceVersion,
    Service,
    Specialty,
    VisitReason,
)
from carebook.db.types import GUID

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


async def by_id(
    session: AsyncSession, model: type[RowT], *, institution_id: int, row_id: int
) -> RowT | None:
    query = _by_column(model, "id", False)
    params = {"institution_id": institution_id, "value": row_id}
    found: RowT | None = (await session.execute(query, params)).scalar_one_or_none()
    return found


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


# The Calendar booking context -----------------------------------------------------------------

# Bound for an id the request does not give: no row has the nil GUID (GUIDs are random, version
# 4), so the outer join finds nothing.
NO_GUID = uuid.UUID(int=0)


@dataclass(frozen=True)
class CalendarContext:
    """Everything a Calendar booking names, read in one statement (None where not found).

    The institution was found by its GUID; everything else was looked up in it only.
    """

    institution: Institution
    user: PortalUser | None
    self_patient: Patient | None
    provider: Provider | None
    patient: Patient | None
    parent: Patient | None
    mode: AppointmentTypeMode | None
    type_by_guid: AppointmentType | None
    type_of_mode: AppointmentType | None
    # The type's location for a location-scoped type (of the type by GUID if found, else of the
    # visit option's type), else the provider's first active location: where a Calendar booking
    # books, and the one facility its slot search offers (both read it here).
    location: Location | None
    operatories: list[Operatory]  # the location's active ones, oldest first, if mapped by them
    specialty_by_guid: Specialty | None
    provider_specialty: Specialty | None
    service: Service | None
    referred: Appointment | None
    reasons: dict[uuid.UUID, VisitReason]
    # The institution's reference version in the same snapshot (``tables.ReferenceVersion``):
    # every table read here but ``appointments`` (``referred``) moves it.
    reference_version: int = 0
    # What is worked out from these records for their bookings (bounded by the caller's keys),
    # kept with them: a kept look-up is replaced, never changed, when the version moves on.
    memo: dict[Hashable, Any] = field(default_factory=dict, compare=False, repr=False)


# The positions of the entities that vary over the rows of :func:`calendar_context_query`;
# every other entity is the same in each row.
OPERATORY_AT = 10
REASON_AT = 15
# The position of the reference version, after the entities.
VERSION_AT = 16


@lru_cache(maxsize=64)  # one per number of distinct reasons (a request names at most 50)
def calendar_context_query(reason_count: int) -> Any:
    """Built once per ``reason_count`` (at least 1): the institution, outer-joined to each
    record the request names by (institution, GUID), and last the institution's reference
    version (a column, not an entity). Absent GUIDs are bound as
    :data:`NO_GUID`; the reasons as ``reason_0`` … (plain parameters rather than one expanding
    IN, so the driver-level twin in ``telehealth_sql`` compiles the same statement to text).

    One row per (operatory, reason) pair, ordered by both ids so that the order in which they
    are collected does not depend on the plan."""
    user = aliased(PortalUser)
    self_patient = aliased(Patient)
    provider = aliased(Provider)
    patient = aliased(Patient)
    parent = aliased(Patient)
    mode = aliased(AppointmentTypeMode)
    type_by_guid = aliased(AppointmentType)
    type_of_mode = aliased(AppointmentType)
    location = aliased(Location)
    operatory = aliased(Operatory)
    specialty_by_guid = aliased(Specialty)
    provider_specialty = aliased(Specialty)
    service = aliased(Service)
    referred = aliased(Appointment)
    reason = aliased(VisitReason)
    iid = Institution.id

    def named(model: Any, name: str) -> Any:
        return and_(model.institution_id == iid, model.guid == bindparam(name, type_=GUID()))

    first_location = (
        select(Location.id)
        .join(ProviderLocation, ProviderLocation.location_id == Location.id)
        .where(
            Location.institution_id == iid,
            ProviderLocation.provider_id == provider.id,
            Location.inactive == false(),
        )
        .order_by(Location.id)
        .limit(1)
        .scalar_subquery()
    )
    found_by_guid = type_by_guid.id.is_not(None)
    parent_type = case((found_by_guid, type_by_guid.parent_type), else_=type_of_mode.parent_type)
    parent_id = case((found_by_guid, type_by_guid.parent_id), else_=type_of_mode.parent_id)
    location_id = case(
        (and_(parent_type == "Location", parent_id.is_not(None)), parent_id),
        else_=first_location,
    )
    return (
        select(
            Institution,
            user,
            self_patient,
            provider,
            patient,
            parent,
            mode,
            type_by_guid,
            type_of_mode,
            location,
            operatory,
            specialty_by_guid,
            provider_specialty,
            service,
            referred,
            reason,
            func.coalesce(
                select(ReferenceVersion.version)
                .where(ReferenceVersion.institution_id == iid)
                .scalar_subquery(),
                0,
            ),
        )
        .select_from(Institution)
        .outerjoin(user, named(user, "user_id"))
        .outerjoin(
            self_patient,
            and_(self_patient.institution_id == iid, self_patient.id == user.self_patient_id),
        )
        .outerjoin(provider, named(provider, "provider_id"))
        .outerjoin(patient, named(patient, "patient_id"))
        .outerjoin(parent, named(parent, "parent_id"))
        .outerjoin(mode, named(mode, "mode_id"))
        .outerjoin(type_by_guid, named(type_by_guid, "type_id"))
        .outerjoin(
            type_of_mode,
            and_(type_of_mode.institution_id == iid, type_of_mode.id == mode.appointment_type_id),
        )
        .outerjoin(location, and_(location.institution_id == iid, location.id == location_id))
        .outerjoin(
            operatory,
            and_(
                location.map_by_operatory == true(),
                operatory.institution_id == iid,
                operatory.location_id == location.id,
                operatory.active == true(),
            ),
        )
        .outerjoin(specialty_by_guid, named(specialty_by_guid, "speciality_id"))
        .outerjoin(
            provider_specialty,
            and_(
                provider_specialty.institution_id == iid,
                provider_specialty.id == provider.specialty_id,
            ),
        )
        .outerjoin(service, named(service, "service_id"))
        .outerjoin(referred, named(referred, "referred_id"))
        .outerjoin(
            reason,
            and_(
                reason.institution_id == iid,
                reason.guid.in_(
                    [bindparam(f"reason_{i}", type_=GUID()) for i in range(reason_count)]
                ),
            ),
        )
        .where(Institution.guid == bindparam("account_id", type_=GUID()))
        .order_by(operatory.id, reason.id)
    )


@dataclass(frozen=True)
class CalendarLookup:
    """The GUIDs a Calendar booking names (absent ones None), for :func:`calendar_context` and
    its driver-level twin."""

    account_id: uuid.UUID
    user_id: uuid.UUID
    provider_id: uuid.UUID | None
    patient_id: uuid.UUID | None
    parent_id: uuid.UUID | None
    mode_id: uuid.UUID | None
    type_id: uuid.UUID | None
    speciality_id: uuid.UUID | None
    service_id: uuid.UUID | None
    referred_id: uuid.UUID | None
    reason_ids: Collection[uuid.UUID]

    def params(self) -> tuple[int, dict[str, Any]]:
        """The ``reason_count`` of :func:`calendar_context_query` for these ids, and its
        parameters."""
        reasons = list(dict.fromkeys(self.reason_ids)) or [NO_GUID]
        params: dict[str, Any] = {
            "account_id": self.account_id,
            "user_id": self.user_id,
            "provider_id": self.provider_id or NO_GUID,
            "patient_id": self.patient_id or NO_GUID,
            "parent_id": self.parent_id or NO_GUID,
            "mode_id": self.mode_id or NO_GUID,
            "type_id": self.type_id or NO_GUID,
            "speciality_id": self.speciality_id or NO_GUID,
            "service_id": self.service_id or NO_GUID,
            "referred_id": self.referred_id or NO_GUID,
        }
        for index, reason_id in enumerate(reasons):
            params[f"reason_{index}"] = reason_id
        return len(reasons), params


def calendar_context_of(
    first: Sequence[Any],
    operatories: Iterable[Operatory | None],
    reasons: Iterable[VisitReason | None],
) -> CalendarContext:
    """The context from the first row of :func:`calendar_context_query` (its entities, then
    the version) and the operatories and reasons of all its rows, in row order (the first of
    each id counts)."""
    by_id: dict[int, Operatory] = {}
    for operatory in operatories:
        if operatory is not None:
            by_id.setdefault(operatory.id, operatory)
    by_guid: dict[uuid.UUID, VisitReason] = {}
    for reason in reasons:
        if reason is not None:
            by_guid.setdefault(reason.guid, reason)
    return CalendarContext(
        institution=first[0],
        user=first[1],
        self_patient=first[2],
        provider=first[3],
        patient=first[4],
        parent=first[5],
        mode=first[6],
        type_by_guid=first[7],
        type_of_mode=first[8],
        location=first[9],
        operatories=list(by_id.values()),
        specialty_by_guid=first[11],
        provider_specialty=first[12],
        service=first[13],
        referred=first[14],
        reasons=by_guid,
        reference_version=int(first[VERSION_AT]),
    )


async def calendar_context(session: AsyncSession, lookup: CalendarLookup) -> CalendarContext | None:
    """One round trip for every record a Calendar booking names; None if no institution has
    the GUID ``account_id`` (the caller checks that the caller may reach the one found).
    ``telehealth_sql.calendar_context_driver`` is the same on the driver's connection."""
    reason_count, params = lookup.params()
    rows = (await session.execute(calendar_context_query(reason_count), params)).all()
    if not rows:
        return None
    return calendar_context_of(
        rows[0], (row[OPERATORY_AT] for row in rows), (row[REASON_AT] for row in rows)
    )
