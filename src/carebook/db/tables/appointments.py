"""Appointments (and blocks), what hangs off them, and the notification outbox.

No double booking is the database's job: on PostgreSQL three exclusion constraints (created by the
migrations, see ``migrations/versions``: 0001, 0002 and 0007) forbid two active rows overlapping on
the same operatory, the same patient, or the same provider where either row holds the provider
alone. SQLite has no such constraint, so there every write transaction is ``BEGIN IMMEDIATE`` (one
writer at a time) and the booking service probes for overlaps inside it.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from carebook.db.base import Base, GuidMixin, IdMixin, TimestampMixin, utcnow
from carebook.db.tables.clinic import ForeignIdMixin, TenantMixin
from carebook.db.types import BigIntPK, NullableJSON, UTCDateTime

# Names of the PostgreSQL exclusion constraints; the booking service maps them to the clash kind.
EXCLUDE_OPERATORY = "ex_appointments_operatory_overlap"
EXCLUDE_PATIENT = "ex_appointments_patient_overlap"
EXCLUDE_PROVIDER = "ex_appointments_provider_overlap"


class Appointment(IdMixin, GuidMixin, TenantMixin, ForeignIdMixin, TimestampMixin, Base):
    __tablename__ = "appointments"
    __table_args__ = (
        ForeignKeyConstraint(
            ["institution_id", "location_id"], ["locations.institution_id", "locations.id"]
        ),
        ForeignKeyConstraint(
            ["institution_id", "provider_id"], ["providers.institution_id", "providers.id"]
        ),
        ForeignKeyConstraint(
            ["institution_id", "patient_id"], ["patients.institution_id", "patients.id"]
        ),
        ForeignKeyConstraint(
            ["institution_id", "operatory_id"], ["operatories.institution_id", "operatories.id"]
        ),
        ForeignKeyConstraint(
            ["institution_id", "appointment_type_id"],
            ["appointment_types.institution_id", "appointment_types.id"],
        ),
        CheckConstraint("end_at > start_at", name="end_after_start"),
        # The overlap probes and slot search read by resource and start time.
        Index("ix_appointments_provider_start", "institution_id", "provider_id", "start_at"),
        # Its readers always name an operatory: rows without one stay out (migration 0007).
        Index(
            "ix_appointments_operatory_start",
            "institution_id",
            "operatory_id",
            "start_at",
            postgresql_where=text("operatory_id IS NOT NULL"),
            sqlite_where=text("operatory_id IS NOT NULL"),
        ),
        Index("ix_appointments_patient_start", "institution_id", "patient_id", "start_at"),
        Index("ix_appointments_location_start", "institution_id", "location_id", "start_at"),
    )

    # No index of its own: every index below leads with it (one fewer to update per booking).
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id", ondelete="CASCADE"))
    location_id: Mapped[int] = mapped_column(BigIntPK)
    provider_id: Mapped[int | None] = mapped_column(BigIntPK)
    patient_id: Mapped[int | None] = mapped_column(BigIntPK)
    operatory_id: Mapped[int | None] = mapped_column(BigIntPK)
    appointment_type_id: Mapped[int | None] = mapped_column(BigIntPK)
    start_at: Mapped[datetime] = mapped_column(UTCDateTime())
    end_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # False where the location allows provider overlap: such rows never clash on the provider.
    provider_exclusive: Mapped[bool] = mapped_column(Boolean, default=True)
    note: Mapped[str | None] = mapped_column(Text)
    unavailable: Mapped[bool] = mapped_column(Boolean, default=False)
    cancelled: Mapped[bool] = mapped_column(Boolean, default=False)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    patient_confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    patient_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    patient_missed: Mapped[bool] = mapped_column(Boolean, default=False)
    checkin_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    checked_out: Mapped[bool] = mapped_column(Boolean, default=False)
    checked_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    is_guardian: Mapped[bool] = mapped_column(Boolean, default=False)
    # The guardian who booked for this (dependant) patient.
    guardian_patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"))
    is_new_clients_patient: Mapped[bool] = mapped_column(Boolean, default=False)
    is_past_patient: Mapped[bool] = mapped_column(Boolean, default=False)
    referrer: Mapped[str | None] = mapped_column(String(2000))
    sooner_if_possible: Mapped[bool] = mapped_column(Boolean, default=False)
    misc: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    booking_details: Mapped[dict[str, Any] | None] = mapped_column(NullableJSON)
    # Which API booked it: "nexhealth" or "calendar".
    booked_via: Mapped[str] = mapped_column(String(20), default="nexhealth")
    # Calendar API fields, stored and returned as given.
    portal_user_id: Mapped[int | None] = mapped_column(ForeignKey("portal_users.id"))
    mode_id: Mapped[int | None] = mapped_column(ForeignKey("appointment_type_modes.id"))
    specialty_id: Mapped[int | None] = mapped_column(ForeignKey("specialties.id"))
    service_id: Mapped[int | None] = mapped_column(ForeignKey("services.id"))
    reason: Mapped[str | None] = mapped_column(String(250))
    paid_amount: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    payment_method_id: Mapped[int | None] = mapped_column(Integer)
    doc_ids: Mapped[list[str] | None] = mapped_column(NullableJSON)
    is_custom_form_flow: Mapped[str | None] = mapped_column(String(50))
    referred_parent_id: Mapped[int | None] = mapped_column(ForeignKey("appointments.id"))
    # The patient's alternative time: kept, never booked.
    secondary_start_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status_id: Mapped[int] = mapped_column(Integer, default=1)


class AppointmentDescriptorLink(Base):
    __tablename__ = "appointment_descriptor_links"

    appointment_id: Mapped[int] = mapped_column(
        ForeignKey("appointments.id", ondelete="CASCADE"), primary_key=True
    )
    descriptor_id: Mapped[int] = mapped_column(
        ForeignKey("appointment_descriptors.id"), primary_key=True
    )


class AppointmentReason(Base):
    __tablename__ = "appointment_reasons"

    appointment_id: Mapped[int] = mapped_column(
        ForeignKey("appointments.id", ondelete="CASCADE"), primary_key=True
    )
    reason_id: Mapped[int] = mapped_column(ForeignKey("visit_reasons.id"), primary_key=True)


class Procedure(IdMixin, TenantMixin, ForeignIdMixin, TimestampMixin, Base):
    __tablename__ = "procedures"

    location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id"))
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointments.id"), index=True)
    code: Mapped[str] = mapped_column(String(50))
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20))
    body_site: Mapped[dict[str, Any] | None] = mapped_column(NullableJSON)
    fee_amount: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    fee_currency: Mapped[str | None] = mapped_column(String(3))
    start_date: Mapped[date | None] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)


class PatientNotification(IdMixin, TenantMixin, Base):
    """Outbox of patient notifications, written in the booking's own transaction.

    Delivery is a later piece of work; a row here is the promise that it will happen.
    """

    __tablename__ = "patient_notifications"

    appointment_id: Mapped[int] = mapped_column(
        ForeignKey("appointments.id", ondelete="CASCADE"), index=True
    )
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"))
    kind: Mapped[str] = mapped_column(String(50))
    status: Mapped[str] = mapped_column(String(20), default="pending")
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
