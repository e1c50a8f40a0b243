"""The Calendar booking's look-up (:func:`telehealth.calendar_context`) on the driver's own
connection.

The statement is the ORM one (:func:`telehealth.calendar_context_query`), compiled once per
dialect and number of reasons into SQL text; its rows are read into transient instances with
the column types' own result processors, as :mod:`booking_sql` does for the NexHealth booking,
so both paths return equal contexts without the ORM's per-row and per-instance work.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Dialect, inspect
from sqlalchemy.orm import Mapper

from carebook.db.database import DriverConnection
from carebook.db.repositories.booking_sql import _compile, _Entity, _entity, _Statement
from carebook.db.repositories.telehealth import (
    OPERATORY_AT,
    REASON_AT,
    VERSION_AT,
    CalendarContext,
    CalendarLookup,
    calendar_context_of,
    calendar_context_query,
)

# Statements kept per dialect: one per number of distinct reasons up to this (a request names
# at most 50); a larger number is compiled for its call only, so the cache stays bounded.
_MAX_CACHED_REASON_COUNT = 64


@dataclass(frozen=True)
class _ContextStatement:
    statement: _Statement
    entities: tuple[_Entity, ...]  # one per selected entity, in select order
    version_at: int  # the reference version's column, after the entities'


_BY_DIALECT: dict[tuple[str, str, Any], dict[int, _ContextStatement]] = {}


def _compile_context(dialect: Dialect, reason_count: int) -> _ContextStatement:
    query = calendar_context_query(reason_count)
    selected = list(query.selected_columns)
    entities: list[_Entity] = []
    offset = 0
    for description in query.column_descriptions[:VERSION_AT]:
        mapper = cast("Mapper[Any]", inspect(description["entity"]).mapper)
        entity, columns = _entity(mapper.class_, dialect, offset)
        # The ORM selects an entity's columns in its mapper's order, which is the order
        # _Entity reads them in; checked here (once per statement) rather than assumed.
        keys = [column.key for column in selected[offset : offset + len(columns)]]
        if keys != [column.key for column in columns]:
            raise RuntimeError(f"unexpected column order for {mapper.class_.__name__}: {keys}")
        entities.append(entity)
        offset += len(columns)
    if offset + 1 != len(selected):
        raise RuntimeError("the calendar context selects more than its entities and version")
    return _ContextStatement(_compile(query, dialect), tuple(entities), offset)


def _statement(dialect: Dialect, reason_count: int) -> _ContextStatement:
    key = (dialect.name, dialect.driver, dialect.server_version_info)
    by_count = _BY_DIALECT.setdefault(key, {})
    compiled = by_count.get(reason_count)
    if compiled is None:
        compiled = _compile_context(dialect, reason_count)
        if reason_count <= _MAX_CACHED_REASON_COUNT:
            by_count[reason_count] = compiled
    return compiled


async def calendar_context_driver(
    conn: DriverConnection, lookup: CalendarLookup
) -> CalendarContext | None:
    """:func:`telehealth.calendar_context` on the driver's connection."""
    reason_count, params = lookup.params()
    compiled = _statement(conn.dialect, reason_count)
    rows = await conn.fetch(compiled.statement.sql, compiled.statement.args(params))
    if not rows:
        return None
    entities = compiled.entities
    first = rows[0]
    version = first[compiled.version_at]
    # A record named twice (the user's own patient booked as the patient, the visit option's
    # type given by GUID too) is read once and shared, as the ORM's identity map does.
    loaded: dict[tuple[Any, Any], Any] = {}
    fixed = []
    for entity in entities:
        identity = (entity.mapper, first[entity.offset + entity.id_index])
        instance = loaded.get(identity) if identity[1] is not None else None
        if instance is None:
            instance = entity.load(first, entity.offset)
            loaded[identity] = instance
        fixed.append(instance)
    if len(rows) == 1:
        return calendar_context_of((*fixed, version), (fixed[OPERATORY_AT],), (fixed[REASON_AT],))
    # Only the operatory and the reason vary over the rows (one row per pair): each is read
    # once, at its first row, as the ORM's identity map does.
    operatory, reason = entities[OPERATORY_AT], entities[REASON_AT]
    operatory_id_at = operatory.offset + operatory.id_index
    reason_id_at = reason.offset + reason.id_index
    operatories: dict[Any, Any] = {}
    reasons: dict[Any, Any] = {}
    for row in rows:
        operatory_id = row[operatory_id_at]
        if operatory_id is not None and operatory_id not in operatories:
            operatories[operatory_id] = operatory.load(row, operatory.offset)
        reason_id = row[reason_id_at]
        if reason_id is not None and reason_id not in reasons:
            reasons[reason_id] = reason.load(row, reason.offset)
    return calendar_context_of((*fixed, version), operatories.values(), reasons.values())
