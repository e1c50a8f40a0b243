"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Dialect,
    Float,
    Integer,
    Numeric,
    String,
    TypeDecorator,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.types import DateTime, TypeEngine

# SQLite only auto-increments an ``INTEGER PRIMARY KEY``; PostgreSQL gets a 64-bit identity.
BigIntPK = BigInteger().with_variant(Integer, "sqlite")

# A JSON column that may be empty: Python None is SQL NULL, never the JSON text 'null'. (With
# SQLAlchemy's default the ORM wrote 'null' while the booking's driver path, which passes None
# through, wrote NULL: the same "nothing" stored two ways, telling IS NULL apart.)
NullableJSON = JSON(none_as_null=True)


class UTCDateTime(TypeDecorator[datetime]):
    """An instant, always stored and returned in UTC.

    SQLite keeps ``DateTime(timezone=True)`` as text and silently drops the offset, so every value
    is converted to UTC on the way in and tagged UTC on the way out. Naive values are refused:
    they are bugs, not local times.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class GUID(TypeDecorator[uuid.UUID]):
    """A UUID: native ``uuid`` on PostgreSQL, 36-character text elsewhere."""

    impl = String(36)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.UUID(as_uuid=True))
        return dialect.type_descriptor(String(36))

    def process_bind_param(self, value: uuid.UUID | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if dialect.name == "postgresql":
            return value
        return str(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> uuid.UUID | None:
        if value is None:
            return None
        if isinstance(value, uuid.UUID):
            return value
        return uuid.UUID(str(value))


# The hot path's statements (repositories/booking_sql.py) convert values themselves. For the two
# types above SQLAlchemy's processor is a chain (the decorator's method, then the dialect's own
# conversion, e.g. SQLite's text formatting of a datetime); these do the same in one step. The
# result must be identical: tests/test_types.py compares them with SQLAlchemy's on generated
# values.
_SQLITE_DATETIME = "%04d-%02d-%02d %02d:%02d:%02d.%06d"  # SQLAlchemy's SQLite storage format


def _utc_to_sqlite(value: datetime) -> str:
    if value.tzinfo is not UTC:  # most values are already UTC: skip the conversion
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
    return _SQLITE_DATETIME % (
        value.year,
        value.month,
        value.day,
        value.hour,
        value.minute,
        value.second,
        value.microsecond,
    )


def _sqlite_to_utc(value: str) -> datetime:
    # The text is naive UTC: parsing it with "+00:00" appended gives the UTC-aware value in one
    # C call (a fifth of fromisoformat followed by replace, on every instant read).
    try:
        return datetime.fromisoformat(value + "+00:00")
    except ValueError:  # not the text Carebook writes (it carries an offset already, say)
        return datetime.fromisoformat(value).replace(tzinfo=UTC)


def _utc_to_postgres(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("naive datetime given to a UTC column")
    return value.astimezone(UTC)


def _postgres_to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


# GUIDs recur from booking to booking (the institution, location, visit types, the same
# providers and patients), and parsing one (``uuid.UUID(text)``) or writing one (``str``) costs
# a microsecond or so of Python each; a Calendar booking does each a dozen times and more.
# UUIDs are immutable, so a bounded cache of both conversions is safe to share.
GUID_CACHE_SIZE = 8192


@functools.lru_cache(maxsize=GUID_CACHE_SIZE)
def guid_of(value: str) -> uuid.UUID:
    return uuid.UUID(value)


@functools.lru_cache(maxsize=GUID_CACHE_SIZE)
def guid_text(value: uuid.UUID) -> str:
    """``str(value)``, remembered for the GUIDs seen most recently."""
    return str(value)


Processor = Callable[[Any], Any] | None

# PostgreSQL's type OIDs of numeric and double precision.
_PG_NUMERIC_OID = 1700
_PG_FLOAT8_OID = 701


def bind_processor(type_: TypeEngine[Any], dialect: Dialect) -> Processor:
    """What turns a non-None Python value into the driver's parameter for ``type_``."""
    if isinstance(type_, UTCDateTime):
        return _utc_to_sqlite if dialect.name == "sqlite" else _utc_to_postgres
    if isinstance(type_, GUID):
        return guid_text if dialect.name == "sqlite" else None
    if isinstance(type_, Boolean):
        # Both drivers bind a Python bool as it is (sqlite3 as the integer 1 or 0, which is
        # what SQLAlchemy's int() makes of it; asyncpg as a boolean); SQLAlchemy's processor
        # would only add a check that the value is a bool.
        return None
    return type_.dialect_impl(dialect).bind_processor(dialect)


def result_processor(type_: TypeEngine[Any], dialect: Dialect) -> Processor:
    """What turns a non-None value the driver returned into the Python value for ``type_``."""
    if isinstance(type_, UTCDateTime):
        return _sqlite_to_utc if dialect.name == "sqlite" else _postgres_to_utc
    if isinstance(type_, GUID):
        return guid_of if dialect.name == "sqlite" else None
    coltype = None
    if dialect.name == "postgresql" and isinstance(type_, Numeric):
        # asyncpg's Numeric chooses its conversion by the result column's type OID, which
        # SQLAlchemy takes from the cursor; a column of this type is a NUMERIC (a float8 for
        # a Float), so that OID gives the conversion SQLAlchemy would apply.
        coltype = _PG_FLOAT8_OID if isinstance(type_, Float) else _PG_NUMERIC_OID
    return type_.dialect_impl(dialect).result_processor(dialect, coltype)
