"""SQL for booking and reading appointments. Every function is scoped by ``institution_id``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from itertools import compress, repeat
from operator import is_, itemgetter
from typing import Any, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    BindParameter,
    Date,
    Table,
    and_,
    bindparam,
    false,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    true,
)
from sqlalchemy.ext.asyncio import AsyncSession

from carebook.db.repositories.availability import HoursRow
from carebook.db.repositories.pagination import Page, PageRequest, paginate
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
    ReferenceVersion,
    WorkingHour,
)
from carebook.db.tables.availability import LocationClosure
from carebook.db.types import UTCDateTime

# No appointment or block is longer than this, so an overlap probe reads a bounded index range.
MAX_APPOINTMENT_LENGTH = timedelta(hours=24)

# Statements on the booking hot path are built once, with bind parameters, so each request only
# binds values (no per-request SQL construction or cache-key generation).
_APPOINTMENTS = cast(Table, Appointment.__table__)


@dataclass
class BookingContext:
    """Everything a booking refers to, read in one query (None where absent or not found)."""

    location: Location | None
    provider: Provider | None
    provider_works_here: bool
    patient: Patient | None
    operatory: Operatory | None
    appointment_type: AppointmentType | None
    patient_has_past_appointment: bool = False
    # For the working-hours check: any closure within a few days, any active working hours.
    closures_near: bool = True
    has_working_hours: bool = True
    # The provider's active hours at the location that can apply near the booking, when the
    # context query read them too (the driver path); None when they are to be read apart.
    provider_hours: list[HoursRow] | None = None
    # The institution's reference version in the same snapshot (tables.ReferenceVersion).
    reference_version: int = 0


def _seen_before() -> Any:
    """Whether patient ``patient_id`` has an active (neither cancelled nor deleted) appointment
    that started before ``now``: what makes a booking's ``is_past_patient``."""
    return (
        select(literal(True))
        .where(
            Appointment.institution_id == bindparam("institution_id"),
            Appointment.patient_id == bindparam("patient_id"),
            Appointment.start_at < bindparam("now", type_=UTCDateTime()),
            Appointment.cancelled == false(),
            Appointment.deleted == false(),
        )
        .exists()
    )


def reference_version() -> Any:
    """The institution's reference version (0 before its first change)."""
    stored = (
        select(ReferenceVersion.version)
        .where(ReferenceVersion.institution_id == bindparam("institution_id"))
        .scalar_subquery()
    )
    return func.coalesce(stored, 0)


# The columns that follow the five records in the context query: four flags and the version.
CONTEXT_FACTS = 5


def context_query(*entities: Any) -> Any:
    """Built once: the location, outer-joined to each referenced record by (institution, id).

    ``entities`` are what is selected for the five records (the ORM classes, or their columns
    for :mod:`carebook.db.repositories.booking_sql`), followed by four flags and the
    institution's reference version (:data:`CONTEXT_FACTS` columns).

    Absent ids are bound as 0 (no row has id 0), so one statement serves every booking and
    SQLAlchemy compiles it once.
    """
    institution: BindParameter[int] = bindparam("institution_id")
    works_here = (
        select(literal(True))
        .where(
            ProviderLocation.provider_id == bindparam("provider_id"),
            ProviderLocation.location_id == bindparam("location_id"),
        )
        .exists()
    )
    seen_before = _seen_before()
    closed_near = (
        select(literal(True))
        .where(
            LocationClosure.institution_id == institution,
            LocationClosure.location_id == bindparam("location_id"),
            LocationClosure.start_date <= bindparam("last_day", type_=Date()),
            LocationClosure.end_date >= bindparam("first_day", type_=Date()),
        )
        .exists()
    )
    has_hours = (
        select(literal(True))
        .where(
            WorkingHour.institution_id == institution,
            WorkingHour.location_id == bindparam("location_id"),
            WorkingHour.provider_id == bindparam("provider_id"),
            WorkingHour.active == true(),
        )
        .exists()
    )
    return (
        select(
            *entities,
            works_here,
            seen_before,
            closed_near,
            has_hours,
            reference_version(),
        )
        .select_from(Location)
        .outerjoin(
            Provider,
            and_(Provider.institution_id == institution, Provider.id == bindparam("provider_id")),
        )
        .outerjoin(
            Patient,
            and_(Patient.institution_id == institution, Patient.id == bindparam("patient_id")),
        )
        .outerjoin(
            Operatory,
            and_(
                Operatory.institution_id == institution,
                Operatory.id == bindparam("operatory_id"),
            ),
        )
        .outerjoin(
            AppointmentType,
            and_(
                AppointmentType.institution_id == institution,
                AppointmentType.id == bindparam("appointment_type_id"),
                AppointmentType.deleted == false(),
            ),
        )
        .where(Location.institution_id == institution, Location.id == bindparam("location_id"))
    )


CONTEXT_ENTITIES = (Location, Provider, Patient, Operatory, AppointmentType)
_CONTEXT_QUERY = context_query(*CONTEXT_ENTITIES)
_SEEN_BEFORE_QUERY = select(_seen_before())


async def has_past_appointment(
    session: AsyncSession, *, institution_id: int, patient_id: int, now: datetime
) -> bool:
    """The context query's ``patient_has_past_appointment`` for another patient than the one
    it was asked about (a guardian booking's dependant)."""
    params = {"institution_id": institution_id, "patient_id": patient_id, "now": now}
    return bool((await session.execute(_SEEN_BEFORE_QUERY, params)).scalar_one())


async def load_booking_context(
    session: AsyncSession,
    *,
    institution_id: int,
    location_id: int,
    provider_id: int | None,
    patient_id: int | None,
    operatory_id: int | None,
    appointment_type_id: int | None,
    now: datetime,
    around: date,
) -> BookingContext:
    """One round trip for everything a booking refers to.

    ``around`` is within a day of the booking's local start date (``booking._around``): closures
    within two days of it are noted, which covers every local date a booking of up to 24 hours
    touches.
    """
    params = context_params(
        institution_id=institution_id,
        location_id=location_id,
        provider_id=provider_id,
        patient_id=patient_id,
        operatory_id=operatory_id,
        appointment_type_id=appointment_type_id,
        now=now,
        around=around,
    )
    row = (await session.execute(_CONTEXT_QUERY, params)).first()
    if row is None:
        return BookingContext(None, None, False, None, None, None)
    return context_of(*row)


def context_params(
    *,
    institution_id: int,
    location_id: int,
    provider_id: int | None,
    patient_id: int | None,
    operatory_id: int | None,
    appointment_type_id: int | None,
    now: datetime,
    around: date,
) -> dict[str, Any]:
    """The context query's parameters (absent ids as 0; ``around`` as for
    :func:`load_booking_context`)."""
    return {
        "institution_id": institution_id,
        "location_id": location_id,
        "provider_id": provider_id or 0,
        "patient_id": patient_id or 0,
        "operatory_id": operatory_id or 0,
        "appointment_type_id": appointment_type_id or 0,
        "now": now,
        "first_day": around - timedelta(days=2),
        "last_day": around + timedelta(days=2),
    }


def context_of(
    location: Location | None,
    provider: Provider | None,
    patient: Patient | None,
    operatory: Operatory | None,
    appointment_type: AppointmentType | None,
    works: Any,
    past: Any,
    closed: Any,
    hours: Any,
    version: Any,
) -> BookingContext:
    return BookingContext(
        location,
        provider,
        bool(works),
        patient,
        operatory,
        appointment_type,
        patient_has_past_appointment=bool(past) and patient is not None,
        closures_near=bool(closed),
        has_working_hours=bool(hours),
        reference_version=int(version),
    )


@dataclass(frozen=True)
class OverlapRow:
    id: int
    operatory_id: int | None
    patient_id: int | None
    provider_id: int | None
    provider_exclusive: bool
    unavailable: bool


# How a booking meets the provider's other active rows (see ``overlapping``). A row *holds its
# provider alone* (``provider_exclusive``) unless it is an appointment at a location that allows
# provider overlap; blocks always do. Two of the provider's rows clash when either holds the
# provider alone: an appointment at a location that forbids overlap is protected from every
# other booking of its provider, wherever that is booked.
PROVIDER_EXCLUSIVE = "exclusive"  # the new row holds the provider alone: all their rows clash
PROVIDER_SHARED = "shared"  # the new row shares the provider: the rows holding them alone clash


@lru_cache(maxsize=32)
def _overlap_query(operatory: bool, patient: bool, provider: str | None, exclude: bool) -> Any:
    """The overlap probe for one combination of resources, built once per combination."""
    matches = []
    if operatory:
        matches.append(Appointment.operatory_id == bindparam("operatory_id"))
    if patient:
        matches.append(Appointment.patient_id == bindparam("patient_id"))
    same_provider = Appointment.provider_id == bindparam("provider_id")
    if provider == PROVIDER_EXCLUSIVE:
        matches.append(same_provider)
    elif provider == PROVIDER_SHARED:
        matches.append(and_(same_provider, Appointment.provider_exclusive))
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
            Appointment.institution_id == bindparam("institution_id"),
            Appointment.cancelled == false(),
            Appointment.deleted == false(),
            Appointment.start_at > bindparam("earliest_start", type_=UTCDateTime()),
            Appointment.start_at < bindparam("end", type_=UTCDateTime()),
            Appointment.end_at > bindparam("start", type_=UTCDateTime()),
            or_(*matches),
        )
        .order_by(Appointment.start_at)
        .limit(bindparam("limit"))
    )
    if exclude:
        query = query.where(Appointment.id != bindparam("exclude_id"))
    return query


# Columns a new row may leave out of its INSERT when its value is None: nullable, without a
# server default, and None stored as SQL NULL (not JSON's 'null'), so the row stored is the same.
# Left out, they cost the database nothing to plan, project and check: a booking names fewer
# than half of the appointment's columns.
_OMITTABLE = tuple(
    column.key
    for column in _APPOINTMENTS.c
    if column.nullable
    and column.server_default is None
    and not column.primary_key
    and not (isinstance(column.type, JSON) and not column.type.none_as_null)
)


_OMITTABLE_VALUES = itemgetter(*_OMITTABLE)


def empty_columns(values: Mapping[str, Any]) -> tuple[bool, ...]:
    """For each column an INSERT may leave out, whether ``values`` leaves it empty: the shape
    of the INSERT (:func:`absent_columns` names them), as a key that is cheap to build, hash and
    compare for every booking (all in C)."""
    return tuple(map(is_, _OMITTABLE_VALUES(values), repeat(None)))


def absent_columns(values: Mapping[str, Any] | tuple[bool, ...]) -> frozenset[str]:
    """The columns that ``values`` (or its :func:`empty_columns`) leaves empty and that its
    INSERT may leave out (``guarded_insert``)."""
    empty = values if isinstance(values, tuple) else empty_columns(values)
    return frozenset(compress(_OMITTABLE, empty))


@lru_cache(maxsize=256)
def guarded_insert(
    operatory: bool,
    patient: bool,
    provider: str | None,
    *,
    versioned: bool = False,
    absent: frozenset[str] = frozenset(),
    lock_resources: bool = False,
) -> Any:
    """``INSERT … SELECT <values> WHERE NOT EXISTS (<overlap>) RETURNING id``, built once per
    combination of resources and of ``absent`` columns (:func:`absent_columns`, left out of
    it): the overlap probe and the insert in one statement.

    The probe's parameters are the new row's own (``operatory_id``, ``start_at``…), plus
    ``earliest_start`` for the bounded index range.

    ``versioned`` (the driver path, whose booking context may be one its process kept): the
    row is inserted only while the institution's reference version is ``reference_version``,
    the one that context was read at, and ``is_past_patient`` is decided by the statement
    itself as of ``now`` (that changes with every booking and with the clock, so it is never
    kept); it answers ``(id, is_past_patient)``.

    ``lock_resources`` (PostgreSQL): the statement first takes the row's resource locks
    (:func:`resource_locks`), so that the exclusion constraints, not a probe, decide between
    racing bookings without deadlocking.
    """
    columns = [
        column for column in _APPOINTMENTS.c if column.key != "id" and column.key not in absent
    ]
    existing = Appointment.__table__.alias("existing")
    matches = []
    if operatory:
        matches.append(existing.c.operatory_id == bindparam("operatory_id"))
    if patient:
        matches.append(existing.c.patient_id == bindparam("patient_id"))
    same_provider = existing.c.provider_id == bindparam("provider_id")
    if provider == PROVIDER_EXCLUSIVE:
        matches.append(same_provider)
    elif provider == PROVIDER_SHARED:
        matches.append(and_(same_provider, existing.c.provider_exclusive))
    # One NOT EXISTS per resource rather than one over an OR of them: each then reads its own
    # (institution, resource, start) index range, whatever the planner's statistics say (with
    # an OR, PostgreSQL may scan the institution's every row).
    clashes = [
        select(literal(True))
        .select_from(existing)
        .where(
            existing.c.institution_id == bindparam("institution_id"),
            existing.c.cancelled == false(),
            existing.c.deleted == false(),
            existing.c.start_at > bindparam("earliest_start", type_=UTCDateTime()),
            existing.c.start_at < bindparam("end_at", type_=UTCDateTime()),
            existing.c.end_at > bindparam("start_at", type_=UTCDateTime()),
            match,
        )
        .exists()
        for match in matches
    ]
    selected = [
        _seen_before()
        if versioned and column.key == "is_past_patient"
        else bindparam(column.key, type_=column.type)
        for column in columns
    ]
    values = select(*selected)
    if clashes:
        values = values.where(*[~clash for clash in clashes])
    if versioned:
        values = values.where(reference_version() == bindparam("reference_version"))
    returning = [_APPOINTMENTS.c.id]
    if versioned:
        returning.append(_APPOINTMENTS.c.is_past_patient)
    if lock_resources:
        held = resource_locks(absent)
        # A subquery whose output nothing reads: PostgreSQL neither flattens nor prunes it,
        # since its calls are volatile, so they run (in order) before the row is inserted.
        values = values.select_from(select(*held).subquery("locked"))
    return (
        insert(_APPOINTMENTS)
        .from_select([column.key for column in columns], values)
        .returning(*returning)
    )


# The resources whose overlaps the exclusion constraints forbid, in the order their locks are
# taken; a lock's key is the resource's id times 8 plus the resource's place here.
LOCKED_RESOURCES = ("operatory_id", "patient_id", "provider_id")
assert set(LOCKED_RESOURCES) <= set(_OMITTABLE)  # so a row without one has it absent


def resource_locks(absent: frozenset[str]) -> list[Any]:
    """``pg_advisory_xact_lock`` calls for the resources of :data:`LOCKED_RESOURCES` that a row
    has (those not in its ``absent`` columns, :func:`absent_columns`), bound by their names, in
    that order: held until the transaction ends.

    Why: an insert adds its index entries first and checks the exclusion constraints after, so
    two racing plain inserts of one slot each find the other's entry and wait for the other's
    transaction. That is a deadlock, which PostgreSQL breaks only after ``deadlock_timeout``
    (1 s) by aborting one, and a burst of racers keeps forming new cycles (eight racers on a
    bare table: 42 deadlocks in 200 rounds). Holding the resource's lock first, a racer waits
    until the holder's transaction has ended and then meets its row as committed: a clean
    refusal. Every booking takes its locks in one order, so the locks cannot deadlock either.
    (``ON CONFLICT DO NOTHING`` also avoids the deadlock, but its speculative insertion cost
    PostgreSQL 15% more instructions per booking.)
    """
    return [
        func.pg_advisory_xact_lock(
            bindparam(key, type_=BigInteger) * literal_column("8") + literal_column(str(place))
        )
        for place, key in enumerate(LOCKED_RESOURCES)
        if key not in absent
    ]


async def _guarded(
    session: AsyncSession, values: dict[str, Any], provider_rule: str, *, versioned: bool
) -> tuple[Any, dict[str, Any]]:
    """The guarded insert for ``values``' resources and its parameters. On PostgreSQL, the
    resources' locks are taken first (:func:`resource_locks`), in a statement of their own: the
    insert's probe, with a snapshot taken after any wait for them, then sees (and names) what a
    racer committed meanwhile."""
    absent = absent_columns(values)
    if session.get_bind().dialect.name == "postgresql":
        held = resource_locks(absent)
        if held:
            await session.execute(select(*held), values)
    rule = provider_rule if values["provider_id"] is not None else None
    query = guarded_insert(
        values["operatory_id"] is not None,
        values["patient_id"] is not None,
        rule,
        versioned=versioned,
        absent=absent,
    )
    return query, {**values, "earliest_start": values["start_at"] - MAX_APPOINTMENT_LENGTH}


async def insert_if_free(
    session: AsyncSession, values: dict[str, Any], *, provider_rule: str
) -> int | None:
    """Insert the appointment unless an active row overlaps it on one of its resources (the
    same rule as :func:`overlapping`); returns the new id, or None when something is in the way.
    """
    query, params = await _guarded(session, values, provider_rule, versioned=False)
    new_id: int | None = (await session.execute(query, params)).scalar_one_or_none()
    return new_id


async def insert_if_free_at_version(
    session: AsyncSession,
    values: dict[str, Any],
    *,
    provider_rule: str,
    reference_version: int,
    now: datetime,
) -> tuple[int, bool] | None:
    """:func:`insert_if_free`, only while the institution's reference version is
    ``reference_version`` (``guarded_insert(versioned=True)``): the new id and its
    ``is_past_patient`` as of ``now``, or None when something is in the way or the version has
    moved on (:func:`current_reference_version` tells which)."""
    query, params = await _guarded(session, values, provider_rule, versioned=True)
    params.update(reference_version=reference_version, now=now)
    row = (await session.execute(query, params)).one_or_none()
    return None if row is None else (int(row[0]), bool(row[1]))


_VERSION_QUERY = select(reference_version())


async def current_reference_version(session: AsyncSession, *, institution_id: int) -> int:
    return int(
        (await session.execute(_VERSION_QUERY, {"institution_id": institution_id})).scalar_one()
    )


def provider_mode(*, unavailable: bool, provider_exclusive: bool) -> str:
    """The rule for a new row (a block always holds its provider alone)."""
    return PROVIDER_EXCLUSIVE if unavailable or provider_exclusive else PROVIDER_SHARED


async def overlapping(
    session: AsyncSession,
    *,
    institution_id: int,
    start: datetime,
    end: datetime,
    operatory_id: int | None,
    patient_id: int | None,
    provider_id: int | None,
    provider_rule: str,
    exclude_id: int | None = None,
    limit: int = 10,
) -> list[OverlapRow]:
    """Active appointments and blocks overlapping ``[start, end)`` on any resource given.

    ``provider_rule`` (from :func:`provider_mode`) says which of the provider's rows clash.
    Bounded: ``start_at`` lies in ``(start - MAX_APPOINTMENT_LENGTH, end)``, an index range.
    """
    rule = provider_rule if provider_id is not None else None
    if operatory_id is None and patient_id is None and rule is None:
        return []
    query = _overlap_query(
        operatory_id is not None, patient_id is not None, rule, exclude_id is not None
    )
    params = {
        "institution_id": institution_id,
        "operatory_id": operatory_id,
        "patient_id": patient_id,
        "provider_id": provider_id,
        "earliest_start": start - MAX_APPOINTMENT_LENGTH,
        "start": start,
        "end": end,
        "limit": limit,
        "exclude_id": exclude_id,
    }
    rows = await session.execute(query, params)
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


async def add_appointment_details(
    session: AsyncSession,
    appointment_id: int,
    values: dict[str, Any],
    *,
    descriptor_ids: Sequence[int] = (),
    notification: PatientNotification | None = None,
) -> Appointment:
    """What goes with a just-inserted appointment (descriptor links, a notification); returns
    the appointment as a transient object for rendering."""
    appointment = Appointment(id=appointment_id, **values)
    if descriptor_ids:
        await session.execute(
            insert(AppointmentDescriptorLink),
            [{"appointment_id": appointment_id, "descriptor_id": d} for d in descriptor_ids],
        )
    if notification is not None:
        notification.appointment_id = appointment_id
        session.add(notification)
        await session.flush()
    return appointment


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


async def appointment_for_update(
    session: AsyncSession, *, institution_id: int, appointment_id: int
) -> Appointment | None:
    query = (
        select(Appointment)
        .where(Appointment.institution_id == institution_id, Appointment.id == appointment_id)
        .with_for_update()
    )
    return (await session.execute(query)).scalar_one_or_none()


async def page_of_appointments(
    session: AsyncSession,
    *,
    institution_id: int,
    location_id: int,
    start: datetime,
    end: datetime,
    provider_ids: Sequence[int],
    patient_ids: Sequence[int],
    operatory_ids: Sequence[int],
    cancelled: bool | None,
    unavailable: bool | None,
    page: PageRequest,
) -> Page[AppointmentRecord]:
    """Appointments at a location *starting* in ``[start, end)``, one page, with what they show.

    A fixed number of queries per page (the page, then its people and places, descriptors and
    procedures in batches), never one per appointment.
    """
    query = select(Appointment).where(
        Appointment.institution_id == institution_id,
        Appointment.location_id == location_id,
        Appointment.deleted == false(),
        Appointment.start_at >= start,
        Appointment.start_at < end,
    )
    if provider_ids:
        query = query.where(Appointment.provider_id.in_(provider_ids))
    if patient_ids:
        query = query.where(Appointment.patient_id.in_(patient_ids))
    if operatory_ids:
        query = query.where(Appointment.operatory_id.in_(operatory_ids))
    if cancelled is not None:
        query = query.where(Appointment.cancelled == cancelled)
    if unavailable is not None:
        query = query.where(Appointment.unavailable == unavailable)
    found = await paginate(session, query, Appointment.id, page)
    appointments = found.items

    async def by_id(model: Any, ids: set[int | None]) -> dict[int, Any]:
        wanted = [i for i in ids if i is not None]
        if not wanted:
            return {}
        rows = await session.execute(
            select(model).where(model.institution_id == institution_id, model.id.in_(wanted))
        )
        return {row.id: row for row in rows.scalars()}

    locations = await by_id(Location, {a.location_id for a in appointments})
    providers = await by_id(Provider, {a.provider_id for a in appointments})
    patients = await by_id(Patient, {a.patient_id for a in appointments})
    operatories = await by_id(Operatory, {a.operatory_id for a in appointments})
    types = await by_id(AppointmentType, {a.appointment_type_id for a in appointments})
    ids = [a.id for a in appointments]
    descriptors: dict[int, list[AppointmentDescriptor]] = {i: [] for i in ids}
    procedures: dict[int, list[Procedure]] = {i: [] for i in ids}
    if ids:
        linked = await session.execute(
            select(AppointmentDescriptorLink.appointment_id, AppointmentDescriptor)
            .join(
                AppointmentDescriptor,
                AppointmentDescriptor.id == AppointmentDescriptorLink.descriptor_id,
            )
            .where(AppointmentDescriptorLink.appointment_id.in_(ids))
            .order_by(AppointmentDescriptor.id)
        )
        for appointment_id, descriptor in linked.tuples():
            descriptors[appointment_id].append(descriptor)
        done = await session.execute(
            select(Procedure)
            .where(Procedure.institution_id == institution_id, Procedure.appointment_id.in_(ids))
            .order_by(Procedure.id)
        )
        for procedure in done.scalars():
            assert procedure.appointment_id is not None
            procedures[procedure.appointment_id].append(procedure)
    records = [
        AppointmentRecord(
            appointment=a,
            location=locations[a.location_id],
            provider=providers.get(a.provider_id) if a.provider_id else None,
            patient=patients.get(a.patient_id) if a.patient_id else None,
            operatory=operatories.get(a.operatory_id) if a.operatory_id else None,
            appointment_type=types.get(a.appointment_type_id) if a.appointment_type_id else None,
            descriptors=descriptors[a.id],
            procedures=procedures[a.id],
        )
        for a in appointments
    ]
    return Page(
        items=records,
        total=found.total,
        has_previous_page=found.has_previous_page,
        has_next_page=found.has_next_page,
        start_cursor=found.start_cursor,
        end_cursor=found.end_cursor,
    )
