"""Declarative base with a constraint naming convention (Alembic needs stable names)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import MetaData, inspect
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from carebook.db.types import GUID, BigIntPK, UTCDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


_COLUMN_KEYS: dict[type[Any], frozenset[str]] = {}


def column_values(record: Base) -> Mapping[str, Any]:
    """``record``'s column attributes by name: what reading each attribute would give.

    When every column is loaded, that is the instance's own dict, whose values the attribute
    descriptors would return: reading it is a dict lookup, where each descriptor read is a
    Python call (about half a microsecond), and an answer reads dozens of fields. An instance
    with a column expired or never loaded is read through the descriptors, as attribute access
    would read it."""
    model = type(record)
    keys = _COLUMN_KEYS.get(model)
    if keys is None:
        keys = frozenset(attribute.key for attribute in inspect(model).column_attrs)
        _COLUMN_KEYS[model] = keys
    loaded = record.__dict__
    if loaded.keys() >= keys:
        return loaded
    return {key: getattr(record, key) for key in keys}


class IdMixin:
    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)


class GuidMixin:
    """A public GUID, for the Calendar API, which names everything by GUID."""

    guid: Mapped[uuid.UUID] = mapped_column(GUID(), unique=True, default=uuid.uuid4)


def _created_at(context: DefaultExecutionContext) -> datetime:
    """A new row's `updated_at` is its `created_at`, to the microsecond.

    Two separate clock reads could straddle a millisecond, and the APIs show both
    to the millisecond: a record just created would look already updated.
    SQLAlchemy fills Python-side defaults in column order, so `created_at`
    (declared first) is already among the parameters.
    """
    parameters: dict[str, Any] = context.get_current_parameters()  # type: ignore[no-untyped-call]
    created: datetime | None = parameters.get("created_at")
    return created if created is not None else utcnow()


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=_created_at, onupdate=utcnow
    )
