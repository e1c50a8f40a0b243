"""Working hours, closures, and what the slot search and the booking check read."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any, NamedTuple

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Date,
    DateTime,
    String,
    bindparam,
    delete,
    false,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import TypeEngine

from carebook.db.repositories.pagination import Page, PageRequest, paginate
from carebook.db.tables import (
    Appointment,
    AppointmentType,
    Location,
    LocationClosure,
    Operatory,
    Provider,
    ProviderLocation,
    WorkingHour,
    WorkingHourAppointmentType,
)
from carebook.db.types import UTCDateTime

# Appointments are at most this long, which bounds every overlap query to an index range.
MAX_APPOINTMENT = timedelta(hours=24)


# --- the records working hours point at ---------------------------------------------------------


async def location(
    session: AsyncSession, *, institution_id: int, location_id: int
) -> Location | None:
    return (
        await session.execute(
            select(Location).where(
                Location.institution_id == institution_id, Location.id == location_id
            )
        )
    ).scalar_one_or_none()


# The slot search runs these on every request: they are built once with bind parameters (an
# expanding one for each id list), so a request only binds values; SQLAlchemy neither rebuilds
# the statement nor recomputes its cache key.
_INSTITUTION: BindParameter[int] = bindparam("institution_id")
_IDS: BindParameter[Any] = bindparam("ids", expanding=True)
_LOCATIONS = (
    select(Location)
    .where(Location.institution_id == _INSTITUTION, Location.id.in_(_IDS))
    .order_by(Location.id)
)
_PROVIDERS = (
    select(Provider)
    .where(Provider.institution_id == _INSTITUTION, Provider.id.in_(_IDS))
    .order_by(Provider.id)
)


async def locations(
    session: AsyncSession, *, institution_id: int, location_ids: Sequence[int]
) -> list[Location]:
    params = {"institution_id": institution_id, "ids": list(location_ids)}
    return list((await session.execute(_LOCATIONS, params)).scalars())


async def providers(
    session: AsyncSession, *, institution_id: int, provider_ids: Sequence[int]
) -> list[Provider]:
    params = {"institution_id": institution_id, "ids": list(provider_ids)}
    return list((await session.execute(_PROVIDERS, params)).scalars())


async def operatory_guids(
    session: AsyncSession, *, institution_id: int, operatory_ids: Sequence[int]
) -> dict[int, uuid.UUID]:
    """The GUIDs of operatories of the institution, by id."""
    if not operatory_ids:
        return {}
    query = select(Operatory.id, Operatory.guid).where(
        Operatory.institution_id == institution_id, Operatory.id.in_(operatory_ids)
    )
    return dict((await session.execute(query)).tuples().all())


@lru_cache(maxsize=2)
def _bookable_pairs_query(by_provider: bool) -> Any:
    query = (
        select(ProviderLocation.location_id, ProviderLocation.provider_id)
        .join(Provider, Provider.id == ProviderLocation.provider_id)
        .where(
            ProviderLocation.institution_id == _INSTITUTION,
            Provider.institution_id == _INSTITUTION,
            ProviderLocation.location_id.in_(bindparam("location_ids", expanding=True)),
            Provider.inactive.is_(False),
        )
    )
    if by_provider:
        query = query.where(
            ProviderLocation.provider_id.in_(bindparam("provider_ids", expanding=True))
        )
    return query


async def bookable_pairs(
    session: AsyncSession,
    *,
    institution_id: int,
    location_ids: Sequence[int],
    provider_ids: Sequence[int] | None,
) -> set[tuple[int, int]]:
    """(location, provider) pairs where an active provider belongs to the location."""
    params: dict[str, Any] = {"institution_id": institution_id, "location_ids": list(location_ids)}
    if provider_ids is not None:
        params["provider_ids"] = list(provider_ids)
    query = _bookable_pairs_query(provider_ids is not None)
    return {(lid, pid) for lid, pid in (await session.execute(query, params)).tuples()}


@lru_cache(maxsize=2)
def _operatories_query(by_id: bool) -> Any:
    query = select(Operatory).where(
        Operatory.institution_id == _INSTITUTION,
        Operatory.location_id.in_(bindparam("location_ids", expanding=True)),
    )
    if by_id:
        query = query.where(Operatory.id.in_(bindparam("operatory_ids", expanding=True)))
    return query.order_by(Operatory.id)


async def operatories(
    session: AsyncSession,
    *,
    institution_id: int,
    location_ids: Sequence[int],
    operatory_ids: Sequence[int] | None = None,
) -> list[Operatory]:
    """Operatories of the locations (all of them, or those listed), in id order."""
    params: dict[str, Any] = {"institution_id": institution_id, "location_ids": list(location_ids)}
    if operatory_ids is not None:
        params["operatory_ids"] = list(operatory_ids)
    query = _operatories_query(operatory_ids is not None)
    return list((await session.execute(query, params)).scalars())


async def appointment_types(
    session: AsyncSession, *, institution_id: int, type_ids: Sequence[int]
) -> list[AppointmentType]:
    """The appointment types listed that exist (and are not deleted), in id order."""
    query = (
        select(AppointmentType)
        .where(
            AppointmentType.institution_id == institution_id,
            AppointmentType.id.in_(type_ids),
            AppointmentType.deleted.is_(False),
        )
        .order_by(AppointmentType.id)
    )
    return list((await session.execute(query)).scalars())


# --- working hours ------------------------------------------------------------------------------


async def add_working_hour(
    session: AsyncSession, hour: WorkingHour, *, type_ids: Sequence[int]
) -> WorkingHour:
    session.add(hour)
    await session.flush()
    await replace_working_hour_types(
        session, institution_id=hour.institution_id, working_hour_id=hour.id, type_ids=type_ids
    )
    return hour


async def working_hour(
    session: AsyncSession, *, institution_id: int, working_hour_id: int
) -> WorkingHour | None:
    query = select(WorkingHour).where(
        WorkingHour.institution_id == institution_id, WorkingHour.id == working_hour_id
    )
    return (await session.execute(query)).scalar_one_or_none()


async def replace_working_hour_types(
    session: AsyncSession, *, institution_id: int, working_hour_id: int, type_ids: Sequence[int]
) -> None:
    owned = select(WorkingHour.id).where(
        WorkingHour.institution_id == institution_id, WorkingHour.id == working_hour_id
    )
    await session.execute(
        delete(WorkingHourAppointmentType).where(
            WorkingHourAppointmentType.working_hour_id.in_(owned)
        )
    )
    for type_id in dict.fromkeys(type_ids):
        session.add(
            WorkingHourAppointmentType(working_hour_id=working_hour_id, appointment_type_id=type_id)
        )
    await session.flush()


async def types_of_working_hours(
    session: AsyncSession, *, institution_id: int, working_hour_ids: Sequence[int]
) -> dict[int, list[AppointmentType]]:
    """Each working hour's appointment types, in type id order."""
    query = (
        select(WorkingHourAppointmentType.working_hour_id, AppointmentType)
        .join(
            AppointmentType,
            AppointmentType.id == WorkingHourAppointmentType.appointment_type_id,
        )
        .where(
            AppointmentType.institution_id == institution_id,
            AppointmentType.deleted == false(),  # a deleted type is gone from the API
            WorkingHourAppointmentType.working_hour_id.in_(working_hour_ids),
        )
        .order_by(AppointmentType.id)
    )
    result: dict[int, list[AppointmentType]] = defaultdict(list)
    for hour_id, appointment_type in (await session.execute(query)).tuples():
        result[hour_id].append(appointment_type)
    return result


async def page_working_hours(
    session: AsyncSession,
    page: PageRequest,
    *,
    institution_id: int,
    location_id: int,
    provider_id: int | None,
    operatory_id: int | None,
    active: bool | None,
    ends_on_or_after: date | None,
) -> Page[WorkingHour]:
    """One page of a location's working hours; ``ends_on_or_after`` drops past one-off dates."""
    query = select(WorkingHour).where(
        WorkingHour.institution_id == institution_id, WorkingHour.location_id == location_id
    )
    if provider_id is not None:
        query = query.where(WorkingHour.provider_id == provider_id)
    if operatory_id is not None:
        query = query.where(WorkingHour.operatory_id == operatory_id)
    if active is not None:
        query = query.where(WorkingHour.active.is_(active))
    if ends_on_or_after is not None:
        query = query.where(
            or_(
                WorkingHour.specific_date.is_(None),
                WorkingHour.specific_date >= ends_on_or_after,
            )
        )
    return await paginate(session, query, WorkingHour.id.expression, page)


async def delete_working_hour(
    session: AsyncSession, *, institution_id: int, working_hour_id: int
) -> bool:
    found = await working_hour(
        session, institution_id=institution_id, working_hour_id=working_hour_id
    )
    if found is None:
        return False
    await session.delete(found)
    await session.flush()
    return True


@dataclass(frozen=True)
class HoursRow:
    """An active working hour with the ids of the appointment types it is limited to."""

    hour: WorkingHour
    type_ids: frozenset[int]


@lru_cache(maxsize=4)
def _active_hours_query(by_location: bool, by_provider: bool) -> Any:
    query = (
        select(WorkingHour, WorkingHourAppointmentType.appointment_type_id)
        .outerjoin(
            WorkingHourAppointmentType,
            WorkingHourAppointmentType.working_hour_id == WorkingHour.id,
        )
        .where(
            WorkingHour.institution_id == _INSTITUTION,
            WorkingHour.active.is_(True),
        )
        .order_by(WorkingHour.id)
    )
    if by_location:
        query = query.where(WorkingHour.location_id.in_(bindparam("location_ids", expanding=True)))
    if by_provider:
        query = query.where(WorkingHour.provider_id.in_(bindparam("provider_ids", expanding=True)))
    return query


async def active_hours(
    session: AsyncSession,
    *,
    institution_id: int,
    location_ids: Sequence[int] | None,
    provider_ids: Sequence[int] | None,
) -> list[HoursRow]:
    """Active working hours at the locations (or anywhere) of the providers listed (or of all),
    in id order, each with its appointment type ids: one query."""
    params: dict[str, Any] = {"institution_id": institution_id}
    if location_ids is not None:
        params["location_ids"] = list(location_ids)
    if provider_ids is not None:
        params["provider_ids"] = list(provider_ids)
    query = _active_hours_query(location_ids is not None, provider_ids is not None)
    return hours_rows((await session.execute(query, params)).tuples())


def hours_rows(rows: Iterable[tuple[WorkingHour, int | None]]) -> list[HoursRow]:
    """(working hour, appointment type id or None) rows, in hour id order, grouped per hour."""
    hours: dict[int, WorkingHour] = {}
    types: dict[int, set[int]] = defaultdict(set)
    for hour, type_id in rows:
        hours[hour.id] = hour
        if type_id is not None:
            types[hour.id].add(type_id)
    return [HoursRow(hour, frozenset(types[hour_id])) for hour_id, hour in hours.items()]


async def has_working_hours(session: AsyncSession, *, institution_id: int) -> bool:
    query = select(WorkingHour.id).where(WorkingHour.institution_id == institution_id).limit(1)
    return (await session.execute(query)).first() is not None


async def provider_location_pairs(
    session: AsyncSession, *, institution_id: int
) -> list[tuple[int, int]]:
    """Every (provider, location) link of the institution, in id order."""
    query = (
        select(ProviderLocation.provider_id, ProviderLocation.location_id)
        .where(ProviderLocation.institution_id == institution_id)
        .order_by(ProviderLocation.provider_id, ProviderLocation.location_id)
    )
    return list((await session.execute(query)).tuples())


# --- closures -----------------------------------------------------------------------------------


async def add_closure(session: AsyncSession, closure: LocationClosure) -> LocationClosure:
    session.add(closure)
    await session.flush()
    return closure


async def closure(
    session: AsyncSession, *, institution_id: int, location_id: int, closure_id: int
) -> LocationClosure | None:
    query = select(LocationClosure).where(
        LocationClosure.institution_id == institution_id,
        LocationClosure.location_id == location_id,
        LocationClosure.id == closure_id,
    )
    return (await session.execute(query)).scalar_one_or_none()


async def page_closures(
    session: AsyncSession, page: PageRequest, *, institution_id: int, location_id: int
) -> Page[LocationClosure]:
    query = select(LocationClosure).where(
        LocationClosure.institution_id == institution_id,
        LocationClosure.location_id == location_id,
    )
    return await paginate(session, query, LocationClosure.id.expression, page)


async def delete_closure(
    session: AsyncSession, *, institution_id: int, location_id: int, closure_id: int
) -> bool:
    found = await closure(
        session, institution_id=institution_id, location_id=location_id, closure_id=closure_id
    )
    if found is None:
        return False
    await session.delete(found)
    await session.flush()
    return True


_CLOSURES_BETWEEN = select(LocationClosure).where(
    LocationClosure.institution_id == _INSTITUTION,
    LocationClosure.location_id.in_(_IDS),
    LocationClosure.start_date <= bindparam("last", type_=Date()),
    LocationClosure.end_date >= bindparam("first", type_=Date()),
)


async def closures_between(
    session: AsyncSession,
    *,
    institution_id: int,
    location_ids: Sequence[int],
    first: date,
    last: date,
) -> list[LocationClosure]:
    """Closures of the locations that cover any date from ``first`` to ``last``."""
    params = {
        "institution_id": institution_id,
        "ids": list(location_ids),
        "first": first,
        "last": last,
    }
    return list((await session.execute(_CLOSURES_BETWEEN, params)).scalars())


ZONE_AND_CLOSURES = (
    select(Location.tz, LocationClosure.start_date, LocationClosure.end_date)
    .outerjoin(
        LocationClosure,
        (LocationClosure.location_id == Location.id)
        & (LocationClosure.institution_id == Location.institution_id)
        & (LocationClosure.start_date <= bindparam("last", type_=Date()))
        & (LocationClosure.end_date >= bindparam("first", type_=Date())),
    )
    .where(
        Location.institution_id == bindparam("institution_id"),
        Location.id == bindparam("location_id"),
    )
)


async def zone_and_closures(
    session: AsyncSession, *, institution_id: int, location_id: int, first: date, last: date
) -> tuple[str, list[tuple[date, date]]] | None:
    """A location's zone and its closures touching ``first`` … ``last``, in one query; None when
    the location is not in the institution."""
    params = {
        "institution_id": institution_id,
        "location_id": location_id,
        "first": first,
        "last": last,
    }
    return zone_and_closures_of(list((await session.execute(ZONE_AND_CLOSURES, params)).tuples()))


def zone_and_closures_of(
    rows: Sequence[tuple[str, date | None, date | None]],
) -> tuple[str, list[tuple[date, date]]] | None:
    """:data:`ZONE_AND_CLOSURES`'s rows as :func:`zone_and_closures` returns them."""
    if not rows:
        return None
    ranges = [(start, end) for _, start, end in rows if start is not None and end is not None]
    return rows[0][0], ranges


# --- busy time ----------------------------------------------------------------------------------


class BusyRow(NamedTuple):
    """An active appointment or block, as the slot search needs it."""

    provider_id: int | None
    operatory_id: int | None
    patient_id: int | None
    start_at: datetime
    end_at: datetime
    provider_exclusive: bool
    unavailable: bool


@lru_cache(maxsize=16)
def _busy_query(by_provider: bool, by_operatory: bool, by_patient: bool, sqlite: bool) -> Any:
    """The busy-time query for one combination of resources, built once per combination."""
    on: list[ColumnElement[bool]] = []
    if by_provider:
        on.append(Appointment.provider_id.in_(bindparam("provider_ids", expanding=True)))
    if by_operatory:
        on.append(Appointment.operatory_id.in_(bindparam("operatory_ids", expanding=True)))
    if by_patient:
        on.append(Appointment.patient_id == bindparam("patient_id"))
    # A search reads hundreds of rows: instants are read raw (SQLite keeps UTC text, PostgreSQL
    # gives aware datetimes) rather than through UTCDateTime's per-value processing.
    raw: TypeEngine[Any] = String() if sqlite else DateTime(timezone=True)
    return select(
        Appointment.provider_id,
        Appointment.operatory_id,
        Appointment.patient_id,
        type_coerce(Appointment.start_at, raw),
        type_coerce(Appointment.end_at, raw),
        Appointment.provider_exclusive,
        Appointment.unavailable,
    ).where(
        Appointment.institution_id == _INSTITUTION,
        or_(on[0], *on[1:]),
        Appointment.start_at >= bindparam("earliest_start", type_=UTCDateTime()),
        Appointment.start_at < bindparam("end", type_=UTCDateTime()),
        Appointment.end_at > bindparam("start", type_=UTCDateTime()),
        Appointment.cancelled.is_(False),
        Appointment.deleted.is_(False),
    )


async def busy_between(
    session: AsyncSession,
    *,
    institution_id: int,
    provider_ids: Sequence[int],
    operatory_ids: Sequence[int],
    patient_id: int | None,
    start: datetime,
    end: datetime,
) -> list[BusyRow]:
    """Active appointments and blocks overlapping ``[start, end)`` on any of the providers,
    operatories or the patient: one query, each branch an index range on
    ``(institution_id, <resource>, start_at)``."""
    if not provider_ids and not operatory_ids and patient_id is None:
        return []
    sqlite = session.get_bind().dialect.name == "sqlite"
    query = _busy_query(bool(provider_ids), bool(operatory_ids), patient_id is not None, sqlite)
    params: dict[str, Any] = {
        "institution_id": institution_id,
        "earliest_start": start - MAX_APPOINTMENT,
        "end": end,
        "start": start,
    }
    if provider_ids:
        params["provider_ids"] = list(provider_ids)
    if operatory_ids:
        params["operatory_ids"] = list(operatory_ids)
    if patient_id is not None:
        params["patient_id"] = patient_id
    rows = (await session.execute(query, params)).tuples().all()
    if sqlite:
        # Appointments sit on a grid, so the same instant comes back many times: parse each once.
        seen: dict[str, datetime] = {}

        def parse(text: str) -> datetime:
            value = seen.get(text)
            if value is None:
                value = seen[text] = datetime.fromisoformat(text + "+00:00")
            return value

        return [
            BusyRow(pid, oid, pat, parse(start_at), parse(end_at), exclusive, blocked)
            for pid, oid, pat, start_at, end_at, exclusive, blocked in rows
        ]
    return [BusyRow(*row) for row in rows]
