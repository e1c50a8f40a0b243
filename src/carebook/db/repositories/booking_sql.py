"""The booking hot path's SQL, run on the driver's own connection.

The statements are the ones :mod:`carebook.db.repositories.appointments` runs through the ORM
(the context query and the guarded insert), compiled once per dialect into SQL text with
positional parameters; each call only converts its values with the column types' own bind and
result processors (exactly what SQLAlchemy applies), so both paths store and read the same
values. Every statement is scoped by ``institution_id``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar, cast

from sqlalchemy import Date, Dialect, and_, bindparam, inspect, or_, true
from sqlalchemy.orm import Mapper

from carebook.db.database import DriverConnection
from carebook.db.repositories.appointments import (
    CONTEXT_ENTITIES,
    MAX_APPOINTMENT_LENGTH,
    BookingContext,
    context_of,
    context_params,
    context_query,
    guarded_insert,
)
from carebook.db.repositories.availability import (
    ZONE_AND_CLOSURES,
    hours_rows,
    zone_and_closures_of,
)
from carebook.db.tables import Appointment, WorkingHour, WorkingHourAppointmentType
from carebook.db.types import bind_processor, result_processor

M = TypeVar("M")
_Processor = Callable[[Any], Any] | None


@dataclass(frozen=True)
class _Statement:
    """SQL text for one dialect, and how to turn named values into its positional arguments."""

    sql: str
    names: tuple[str, ...]
    processors: tuple[_Processor, ...]
    constants: Mapping[str, Any]

    def args(self, values: Mapping[str, Any]) -> list[Any]:
        constants = self.constants
        out: list[Any] = []
        append = out.append
        for name, process in zip(self.names, self.processors, strict=True):
            value = values[name] if name in values else constants[name]
            append(value if process is None or value is None else process(value))
        return out


def _compile(statement: Any, dialect: Dialect) -> _Statement:
    compiled = statement.compile(dialect=dialect)
    names = tuple(compiled.positiontup)
    binds = compiled.binds
    processors = []
    for name in names:
        processors.append(bind_processor(binds[name].type, dialect))
    constants = {name: bind.effective_value for name, bind in binds.items()}
    return _Statement(str(compiled), names, tuple(processors), constants)


@dataclass(frozen=True)
class _Entity:
    """Reads one mapped class's columns from a row into an instance, without the ORM's
    per-attribute events (the instance is transient, as the ORM path's objects are detached)."""

    mapper: Mapper[Any]
    keys: tuple[str, ...]
    processors: tuple[_Processor, ...]
    id_index: int
    offset: int  # of its first column in the row

    def load(self, row: Sequence[Any], offset: int) -> Any:
        """The instance whose columns start at ``offset``; None when its id is NULL."""
        if row[offset + self.id_index] is None:
            return None
        values = {
            key: value if process is None or value is None else process(value)
            for key, process, value in zip(
                self.keys, self.processors, row[offset : offset + len(self.keys)], strict=True
            )
        }
        return _instance(self.mapper, values)


def _instance(mapper: Mapper[Any], values: dict[str, Any]) -> Any:
    instance = mapper.class_manager.new_instance()
    instance.__dict__.update(values)
    return instance


def _entity(model: type[Any], dialect: Dialect, offset: int) -> tuple[_Entity, list[Any]]:
    mapper = cast("Mapper[Any]", inspect(model))
    keys, columns, processors = [], [], []
    for attr in mapper.column_attrs:
        column = attr.columns[0]
        keys.append(attr.key)
        columns.append(column)
        processors.append(result_processor(column.type, dialect))
    entity = _Entity(mapper, tuple(keys), tuple(processors), keys.index("id"), offset)
    return entity, columns


@dataclass(frozen=True)
class _Compiled:
    context: _Statement
    entities: tuple[_Entity, _Entity, _Entity, _Entity, _Entity]
    flags_at: int
    hour_in_context: _Entity
    inserts: dict[tuple[bool, bool, str | None], _Statement]
    closures: _Statement
    closures_processors: tuple[_Processor, ...]


def context_with_hours(columns: Sequence[Any], hour_columns: Sequence[Any]) -> Any:
    """The context query, outer-joined to the provider's active working hours at the location
    (one row per hour and appointment type; a single row when there are none). Hours for a
    specific date are read only near the booking (``first_day``..``last_day``: the booking's
    local dates lie within), so a provider with a year of dated hours does not widen the
    answer; weekly and recurring hours always come."""
    return (
        context_query(*columns)
        .add_columns(*hour_columns, WorkingHourAppointmentType.appointment_type_id)
        .outerjoin(
            WorkingHour,
            and_(
                WorkingHour.institution_id == bindparam("institution_id"),
                WorkingHour.location_id == bindparam("location_id"),
                WorkingHour.provider_id == bindparam("provider_id"),
                WorkingHour.active == true(),
                or_(
                    WorkingHour.specific_date.is_(None),
                    WorkingHour.specific_date.between(
                        bindparam("first_day", type_=Date()), bindparam("last_day", type_=Date())
                    ),
                ),
            ),
        )
        .outerjoin(
            WorkingHourAppointmentType,
            WorkingHourAppointmentType.working_hour_id == WorkingHour.id,
        )
        .order_by(WorkingHour.id, WorkingHourAppointmentType.appointment_type_id)
    )


_BY_DIALECT: dict[tuple[str, str, Any], _Compiled] = {}


def _for(dialect: Dialect) -> _Compiled:
    key = (dialect.name, dialect.driver, dialect.server_version_info)
    compiled = _BY_DIALECT.get(key)
    if compiled is None:
        entities: list[_Entity] = []
        columns: list[Any] = []
        for model in CONTEXT_ENTITIES:
            entity, entity_columns = _entity(model, dialect, len(columns))
            entities.append(entity)
            columns.extend(entity_columns)
        a, b, c, d, e = entities
        _, hour_columns = _entity(WorkingHour, dialect, 0)
        # The provider's hours ride along with the context (one round trip fewer): their
        # columns follow the context's four flags, then the hour's appointment type id.
        hour_in_context, _ = _entity(WorkingHour, dialect, len(columns) + 4)
        context = _compile(context_with_hours(columns, hour_columns), dialect)
        compiled = _Compiled(
            context,
            (a, b, c, d, e),
            len(columns),
            hour_in_context,
            {},
            _compile(ZONE_AND_CLOSURES, dialect),
            tuple(
                result_processor(column.type, dialect)
                for column in ZONE_AND_CLOSURES.selected_columns
            ),
        )
        _BY_DIALECT[key] = compiled
    return compiled


async def load_booking_context(
    conn: DriverConnection,
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
    """:func:`appointments.load_booking_context` on the driver's connection."""
    compiled = _for(conn.dialect)
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
    rows = await conn.fetch(compiled.context.sql, compiled.context.args(params))
    if not rows:
        return BookingContext(None, None, False, None, None, None)
    row = rows[0]
    location, provider, patient, operatory, appointment_type = compiled.entities
    n = compiled.flags_at
    context = context_of(
        location.load(row, 0),
        provider.load(row, provider.offset),
        patient.load(row, patient.offset),
        operatory.load(row, operatory.offset),
        appointment_type.load(row, appointment_type.offset),
        row[n],
        row[n + 1],
        row[n + 2],
        row[n + 3],
    )
    hour = compiled.hour_in_context
    type_at = hour.offset + len(hour.keys)
    context.provider_hours = hours_rows(
        (hour.load(r, hour.offset), r[type_at]) for r in rows if r[hour.offset + hour.id_index]
    )
    return context


async def insert_if_free(
    conn: DriverConnection, values: dict[str, Any], *, provider_rule: str
) -> int | None:
    """:func:`appointments.insert_if_free` on the driver's connection."""
    compiled = _for(conn.dialect)
    rule = provider_rule if values["provider_id"] is not None else None
    shape = (values["operatory_id"] is not None, values["patient_id"] is not None, rule)
    statement = compiled.inserts.get(shape)
    if statement is None:
        statement = _compile(guarded_insert(*shape), conn.dialect)
        compiled.inserts[shape] = statement
    params = {**values, "earliest_start": values["start_at"] - MAX_APPOINTMENT_LENGTH}
    row = await conn.fetchrow(statement.sql, statement.args(params))
    return None if row is None else int(row[0])


async def zone_and_closures(
    conn: DriverConnection, *, institution_id: int, location_id: int, first: date, last: date
) -> tuple[str, list[tuple[date, date]]] | None:
    """:func:`availability.zone_and_closures` on the driver's connection."""
    compiled = _for(conn.dialect)
    params = {
        "institution_id": institution_id,
        "location_id": location_id,
        "first": first,
        "last": last,
    }
    rows = await conn.fetch(compiled.closures.sql, compiled.closures.args(params))
    processors = compiled.closures_processors
    return zone_and_closures_of(
        [
            tuple(
                process(value) if process is not None and value is not None else value
                for process, value in zip(processors, row, strict=True)
            )
            for row in rows
        ]
    )


_APPOINTMENT_MAPPER = cast("Mapper[Any]", inspect(Appointment))


def new_appointment(appointment_id: int, values: dict[str, Any]) -> Appointment:
    """The just-inserted appointment as a transient object for rendering (as
    :func:`appointments.add_appointment_details` returns it), built without attribute events."""
    appointment: Appointment = _instance(_APPOINTMENT_MAPPER, {"id": appointment_id, **values})
    return appointment
