"""Working hours (wall-clock rules) and location closures."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from carebook.db.base import Base, IdMixin, TimestampMixin
from carebook.db.tables.clinic import TenantMixin
from carebook.db.types import NullableJSON

# Rows of these tables are deleted for real (DELETE answers 204), and SQLite hands a new row
# the highest id in use plus one: without AUTOINCREMENT a deleted last row's id came back for the
# next one, so a retried DELETE, or a stale link, reached a different record. PostgreSQL's
# identity never goes back.
SQLITE_NEVER_REUSE_IDS = {"sqlite_autoincrement": True}


class WorkingHour(IdMixin, TenantMixin, TimestampMixin, Base):
    """When a provider works at a location: local ``HH:MM`` to ``HH:MM`` on a rule of days.

    Exactly one of ``days`` (weekly, English day names), ``specific_date``, or a custom recurrence
    (``recurrence_num`` every ``recurrence_unit`` from ``recurrence_ref``) is set.
    """

    __tablename__ = "working_hours"
    __table_args__ = (
        Index("ix_working_hours_location_provider", "institution_id", "location_id", "provider_id"),
        SQLITE_NEVER_REUSE_IDS,
    )

    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"))
    operatory_id: Mapped[int | None] = mapped_column(ForeignKey("operatories.id"))
    begin_time: Mapped[str] = mapped_column(String(5))
    end_time: Mapped[str] = mapped_column(String(5))
    days: Mapped[list[str] | None] = mapped_column(NullableJSON)
    specific_date: Mapped[date | None] = mapped_column(Date)
    recurrence_num: Mapped[int | None] = mapped_column(Integer)
    recurrence_unit: Mapped[str | None] = mapped_column(String(10))
    recurrence_ref: Mapped[date | None] = mapped_column(Date)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class WorkingHourAppointmentType(Base):
    __tablename__ = "working_hour_appointment_types"

    working_hour_id: Mapped[int] = mapped_column(
        ForeignKey("working_hours.id", ondelete="CASCADE"), primary_key=True
    )
    appointment_type_id: Mapped[int] = mapped_column(
        ForeignKey("appointment_types.id", ondelete="CASCADE"), primary_key=True
    )


class LocationClosure(IdMixin, TenantMixin, TimestampMixin, Base):
    """A location closed for whole local days, ``start_date`` to ``end_date`` inclusive."""

    __tablename__ = "location_closures"
    __table_args__ = (
        Index("ix_location_closures_location", "institution_id", "location_id"),
        SQLITE_NEVER_REUSE_IDS,
    )

    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    reason: Mapped[str | None] = mapped_column(String(200))
