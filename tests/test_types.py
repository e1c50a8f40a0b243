"""The booking hot path's one-step conversions equal SQLAlchemy's own processor chains."""

from __future__ import annotations

import sqlite3
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Boolean, Dialect
from sqlalchemy.dialects import postgresql, sqlite

from carebook.db.types import (
    GUID,
    GUID_CACHE_SIZE,
    UTCDateTime,
    bind_processor,
    guid_of,
    guid_text,
    result_processor,
)

DIALECTS: list[Dialect] = [
    sqlite.pysqlite.dialect(),
    postgresql.asyncpg.dialect(),  # type: ignore[no-untyped-call]
]

aware = st.datetimes(
    min_value=datetime(1000, 1, 1),
    max_value=datetime(9998, 12, 31),
    timezones=st.integers(min_value=-23 * 60 + 1, max_value=23 * 60 - 1).map(
        lambda minutes: timezone(timedelta(minutes=minutes))
    ),
)


def _chain_bind(type_: Any, dialect: Dialect, value: Any) -> Any:
    process = type_.dialect_impl(dialect).bind_processor(dialect)
    return process(value) if process is not None else value


def _chain_result(type_: Any, dialect: Dialect, value: Any) -> Any:
    process = type_.dialect_impl(dialect).result_processor(dialect, None)
    return process(value) if process is not None else value


@pytest.mark.parametrize("dialect", DIALECTS, ids=lambda d: d.name)
@given(value=aware)
def test_datetime_bind_and_result_equal_sqlalchemys(dialect: Dialect, value: datetime) -> None:
    type_ = UTCDateTime()
    fused = bind_processor(type_, dialect)
    assert fused is not None
    stored = _chain_bind(type_, dialect, value)
    assert fused(value) == stored
    assert type(fused(value)) is type(stored)
    read = result_processor(type_, dialect)
    assert read is not None
    back = read(stored)
    assert back == _chain_result(type_, dialect, stored)
    assert back.tzinfo is UTC
    assert back == value


@pytest.mark.parametrize("dialect", DIALECTS, ids=lambda d: d.name)
def test_naive_datetime_is_refused(dialect: Dialect) -> None:
    fused = bind_processor(UTCDateTime(), dialect)
    assert fused is not None
    with pytest.raises(ValueError, match="naive"):
        fused(datetime(2026, 3, 8, 9, 0))


def test_sqlite_reads_text_without_microseconds() -> None:
    read = result_processor(UTCDateTime(), DIALECTS[0])
    assert read is not None
    assert read("2026-03-08 07:00:00") == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)


def test_sqlite_reads_text_that_carries_an_offset_as_sqlalchemy_does() -> None:
    """Carebook never writes it, but such text is read as SQLAlchemy's chain reads it."""
    read = result_processor(UTCDateTime(), DIALECTS[0])
    assert read is not None
    text = "2026-03-08 07:00:00.250000+00:00"
    assert read(text) == datetime(2026, 3, 8, 7, 0, 0, 250000, tzinfo=UTC)
    assert read(text) == _chain_result(UTCDateTime(), DIALECTS[0], text)
    assert read(text).tzinfo is UTC


@pytest.mark.parametrize("dialect", DIALECTS, ids=lambda d: d.name)
@given(value=st.uuids())
def test_guid_bind_and_result_equal_sqlalchemys(dialect: Dialect, value: uuid.UUID) -> None:
    type_ = GUID()
    fused = bind_processor(type_, dialect)
    stored = fused(value) if fused is not None else value
    assert stored == _chain_bind(type_, dialect, value)
    read = result_processor(type_, dialect)
    back = read(stored) if read is not None else stored
    assert back == _chain_result(type_, dialect, stored) == value


def test_guid_conversions_are_remembered_and_bounded() -> None:
    value = uuid.uuid4()
    text = guid_text(value)
    assert text == str(value)
    assert guid_text(value) is text  # the second time from the cache
    assert guid_of(text) == value
    assert guid_of(text.upper()) == value
    assert guid_of(text) is guid_of(text)
    for _ in range(GUID_CACHE_SIZE + 10):
        guid_text(uuid.uuid4())
    assert guid_text.cache_info().currsize == GUID_CACHE_SIZE


@pytest.mark.parametrize("value", [True, False])
def test_booleans_are_stored_as_sqlalchemy_stores_them(value: bool) -> None:
    """The fused path binds a bool as it is; sqlite3 stores it exactly as SQLAlchemy's int()."""
    dialect = sqlite.pysqlite.dialect()
    assert bind_processor(Boolean(), dialect) is None
    assert bind_processor(Boolean(), postgresql.asyncpg.dialect()) is None  # type: ignore[no-untyped-call]
    theirs = _chain_bind(Boolean(), dialect, value)
    connection = sqlite3.connect(":memory:")
    try:
        stored = connection.execute("SELECT ?, typeof(?)", (value, value)).fetchone()
        expected = connection.execute("SELECT ?, typeof(?)", (theirs, theirs)).fetchone()
    finally:
        connection.close()
    assert stored == expected == (int(value), "integer")
