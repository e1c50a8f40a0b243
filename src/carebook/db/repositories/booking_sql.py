"""The booking hot path's SQL, run on the driver's own connection.

The statements are the ones :mod:`carebook.db.repositories.appointments` runs through the ORM
(the context query and the guarded insert), compiled once per dialect into SQL text with
positional parameters; each call only converts its values with the column types' own bind and
result processors (exactly what SQLAlchemy applies), so both paths store and read the same
values. Every statement is scoped by ``institution_id``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from operator import itemgetter
from typing import Any, TypeVar, cast

from sqlalchemy import Date, Dialect, and_, bindparam, inspect, or_, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapper

from carebook.db.database import EXCLUSION_VIOLATION, DriverConnection, sqlstate_of
from carebook.db.repositories.appointments import (
    CONTEXT_ENTITIES,
    CONTEXT_FACTS,
    MAX_APPOINTMENT_LENGTH,
    BookingContext,
    absent_columns,
    context_of,
    context_params,
    context_query,
    empty_columns,
    guarded_insert,
    reference_version,
)
from carebook.db.repositories.availability import (
    ZONE_AND_CLOSURES,
    HoursRow,
    hours_rows,
    zone_and_closures_of,
)
from carebook.db.tables import (
    Appointment,
    AppointmentType,
    Location,
    Operatory,
    Patient,
    Provider,
    WorkingHour,
    WorkingHourAppointmentType,
)
from carebook.db.types import bind_processor, result_processor

M = TypeVar("M")
# Compiled inserts kept per dialect, one per shape (a few in practice; see insert_if_free).
MAX_INSERT_SHAPES = 256
_Processor = Callable[[Any], Any] | None


def _converted(processors: Sequence[_Processor]) -> tuple[tuple[int, Callable[[Any], Any]], ...]:
    """(position, processor) of the values that need converting: most pass through as they
    are, so the loops below visit only these."""
    return tuple((i, process) for i, process in enumerate(processors) if process is not None)


@dataclass(frozen=True)
class _Statement:
    """SQL text for one dialect, and how to turn named values into its positional arguments."""

    sql: str
    names: tuple[str, ...]  # one per placeholder: a name used twice is listed twice
    processors: tuple[_Processor, ...]
    constants: Mapping[str, Any]
    _get: Callable[[Mapping[str, Any]], Any] = field(init=False, repr=False, compare=False)
    _convert: tuple[tuple[int, Callable[[Any], Any]], ...] = field(
        init=False, repr=False, compare=False
    )
    _spread: Callable[[Sequence[Any]], Any] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Taking every value in one C call, converting the few that need it (once per name,
        # though the guarded insert's probes repeat the times), then laying them out per
        # placeholder, is a fraction of a per-placeholder Python loop over sixty-odd arguments.
        unique = tuple(dict.fromkeys(self.names))
        processor_of = dict(zip(self.names, self.processors, strict=True))
        getter = itemgetter(*unique) if unique else (lambda _values: ())
        if len(unique) == 1:
            getter = _one(getter)
        object.__setattr__(self, "_get", getter)
        object.__setattr__(self, "_convert", _converted([processor_of[n] for n in unique]))
        positions = [unique.index(name) for name in self.names]
        # (A repeated name means at least two placeholders, so this itemgetter gives a tuple.)
        spread: Callable[[Sequence[Any]], Any] | None = (
            None if len(unique) == len(self.names) else itemgetter(*positions)
        )
        object.__setattr__(self, "_spread", spread)

    def args(self, values: Mapping[str, Any]) -> Sequence[Any]:
        """The positional arguments: each name's value from ``values``, else the statement's
        own (a literal bound at build time)."""
        out = list(self._get({**self.constants, **values}))
        for i, process in self._convert:
            value = out[i]
            if value is not None:
                out[i] = process(value)
        return out if self._spread is None else self._spread(out)


def _one(getter: Callable[[Any], Any]) -> Callable[[Any], tuple[Any, ...]]:
    """``itemgetter`` of a single item returns the item, not a 1-tuple: make it a tuple."""
    return lambda values: (getter(values),)


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
    _convert: tuple[tuple[str, int, Callable[[Any], Any]], ...] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        converted = tuple((self.keys[i], i, process) for i, process in _converted(self.processors))
        object.__setattr__(self, "_convert", converted)

    def load(self, row: Sequence[Any], offset: int) -> Any:
        """The instance whose columns start at ``offset``; None when its id is NULL."""
        if row[offset + self.id_index] is None:
            return None
        values = dict(zip(self.keys, row[offset : offset + len(self.keys)], strict=True))
        for key, i, process in self._convert:
            value = row[offset + i]
            if value is not None:
                values[key] = process(value)
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
    facts_at: int
    hour_in_context: _Entity
    # The same statement selecting only the five records' ids: what load_booking_context
    # reads when the caller holds the records.
    facts: _Statement
    hour_in_facts: _Entity
    # Per (probes left, empty_columns): see insert_if_free.
    inserts: dict[tuple[tuple[bool, bool, str | None], tuple[bool, ...]], _Statement]
    closures: _Statement
    closures_processors: tuple[_Processor, ...]
    version: _Statement


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
        # columns follow the context's facts, then the hour's appointment type id.
        hour_in_context, _ = _entity(WorkingHour, dialect, len(columns) + CONTEXT_FACTS)
        context = _compile(context_with_hours(columns, hour_columns), dialect)
        ids = [model.id for model in CONTEXT_ENTITIES]
        hour_in_facts, _ = _entity(WorkingHour, dialect, len(ids) + CONTEXT_FACTS)
        compiled = _Compiled(
            context,
            (a, b, c, d, e),
            len(columns),
            hour_in_context,
            _compile(context_with_hours(ids, hour_columns), dialect),
            hour_in_facts,
            {},
            _compile(ZONE_AND_CLOSURES, dialect),
            tuple(
                result_processor(column.type, dialect)
                for column in ZONE_AND_CLOSURES.selected_columns
            ),
            _compile(select(reference_version()), dialect),
        )
        _BY_DIALECT[key] = compiled
    return compiled


@dataclass(frozen=True)
class KnownRecords:
    """The records a booking names, as its caller has just read them in the same institution
    (the Calendar API reads them by GUID). ``operatories`` by id."""

    location: Location
    provider: Provider | None
    patient: Patient | None
    operatories: Mapping[int, Operatory]
    appointment_type: AppointmentType | None
    # The institution's reference version they were read at, when the caller read it with
    # them: the booking then books from them only at that version (``core.booking``).
    reference_version: int | None = None


@dataclass(frozen=True)
class ContextRead:
    """What the context statement read, in a form that can be kept (``context_cache``) and
    made into a :class:`BookingContext` again for each booking."""

    found: tuple[Any, ...]  # the five records; with known records, the ids found
    facts: tuple[Any, ...]  # the four flags and the reference version
    hours: list[HoursRow]
    # What the booking core derives from ``hours`` (the hours worked on a booking's dates),
    # kept with them: a kept read's next booking is most often on the same day.
    memo: dict[tuple[object, ...], Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def version(self) -> int:
        return int(self.facts[-1])

    def context(self, known: KnownRecords | None, operatory_id: int | None) -> BookingContext:
        """The context, with ``known``'s records where their ids were found (as read with
        them: the facts statement)."""
        records = self.found if known is None else _still_there(known, self.found, operatory_id)
        context = context_of(*records, *self.facts)
        context.provider_hours = self.hours
        return context


def _nothing_found() -> ContextRead:
    # A new one each time: each read has its own memo.
    return ContextRead((None,) * len(CONTEXT_ENTITIES), (False,) * 4 + (0,), [])


async def load_booking_context(
    conn: DriverConnection,
    known: KnownRecords | None = None,
    *,
    institution_id: int,
    location_id: int,
    provider_id: int | None,
    patient_id: int | None,
    operatory_id: int | None,
    appointment_type_id: int | None,
    now: datetime,
    around: date,
) -> ContextRead:
    """:func:`appointments.load_booking_context` on the driver's connection.

    With ``known`` (records the caller already holds, the request's own) the same statement
    selects only the records' ids (whether each is still there) with the flags and working
    hours, so their columns are not read and converted a second time; its context carries
    ``known``'s records where the ids are found."""
    compiled = _for(conn.dialect)
    statement, hour = (
        (compiled.context, compiled.hour_in_context)
        if known is None
        else (compiled.facts, compiled.hour_in_facts)
    )
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
    rows = await conn.fetch(statement.sql, statement.args(params))
    if not rows:
        return _nothing_found()
    row = rows[0]
    if known is None:
        found = tuple(entity.load(row, entity.offset) for entity in compiled.entities)
        facts_at = compiled.facts_at
    else:
        found = tuple(row[: len(CONTEXT_ENTITIES)])
        facts_at = len(CONTEXT_ENTITIES)
    return ContextRead(found, tuple(row[facts_at : facts_at + CONTEXT_FACTS]), _hours(hour, rows))


async def current_reference_version(conn: DriverConnection, institution_id: int) -> int:
    compiled = _for(conn.dialect)
    row = await conn.fetchrow(
        compiled.version.sql, compiled.version.args({"institution_id": institution_id})
    )
    assert row is not None  # COALESCE over a scalar subquery: always one row
    return int(row[0])


def _still_there(
    known: KnownRecords, ids: Sequence[Any], operatory_id: int | None
) -> tuple[Any, ...]:
    """``known``'s five records (in the context's order) where the facts statement found their
    ids, None where it did not."""
    operatory = known.operatories.get(operatory_id) if operatory_id is not None else None
    held = [known.location, known.provider, known.patient, operatory, known.appointment_type]
    return tuple(
        record if record is not None and record.id == found else None
        for record, found in zip(held, ids[: len(held)], strict=True)
    )


def _hours(hour: _Entity, rows: Sequence[Sequence[Any]]) -> list[HoursRow]:
    """The working hours that ride along with the context rows (none: a single row of NULLs)."""
    type_at = hour.offset + len(hour.keys)
    return hours_rows(
        (hour.load(r, hour.offset), r[type_at]) for r in rows if r[hour.offset + hour.id_index]
    )


def probes_left(
    dialect: Dialect, operatory: bool, patient: bool, provider: str | None
) -> tuple[bool, bool, str | None]:
    """The overlap probes the insert must make itself on ``dialect``: none on PostgreSQL, whose
    exclusion constraints refuse every overlap the rules forbid (operatory, patient, and the
    provider where either row holds them alone), the probe's own snapshot could miss a
    concurrent insert, and the constraint cannot."""
    if dialect.name != "postgresql":
        return operatory, patient, provider
    return False, False, None


async def insert_if_free(
    conn: DriverConnection,
    values: dict[str, Any],
    *,
    provider_rule: str,
    reference_version: int,
    now: datetime,
) -> tuple[int, bool] | None:
    """:func:`appointments.insert_if_free` on the driver's connection, while the institution's
    reference version is ``reference_version`` (``guarded_insert(versioned=True)``): the new
    id and its ``is_past_patient`` as of ``now``, or None when something is in the way (found
    by the statement's probe or, for what is left to the exclusion constraints, by the
    constraint, after the statement has taken the resources' locks: ``resource_locks``) or the
    version has moved on; either way nothing is written."""
    compiled = _for(conn.dialect)
    rule = provider_rule if values["provider_id"] is not None else None
    probes = probes_left(
        conn.dialect, values["operatory_id"] is not None, values["patient_id"] is not None, rule
    )
    empty = empty_columns(values)
    statement = compiled.inserts.get((probes, empty))
    if statement is None:
        absent = absent_columns(empty)
        query = guarded_insert(
            *probes,
            versioned=True,
            absent=absent,
            lock_resources=conn.dialect.name == "postgresql",
        )
        statement = _compile(query, conn.dialect)
        if len(compiled.inserts) >= MAX_INSERT_SHAPES:
            # Which columns a booking leaves empty is up to its client: keep the memory bounded.
            compiled.inserts.clear()
        compiled.inserts[(probes, empty)] = statement
    params = {
        **values,
        "earliest_start": values["start_at"] - MAX_APPOINTMENT_LENGTH,
        "reference_version": reference_version,
        "now": now,
    }
    try:
        row = await conn.fetchrow(statement.sql, statement.args(params))
    except IntegrityError as error:
        if sqlstate_of(error) == EXCLUSION_VIOLATION:
            return None  # the statement ran alone (autocommit): it left nothing behind
        raise
    return None if row is None else (int(row[0]), bool(row[1]))


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
