"""What a clinic is made of: locations, providers, operatories, patients, visit types.

Parents that appointments point at carry ``UNIQUE (institution_id, id)`` so the appointment's
foreign keys can be composite and a row can never reference another tenant's record.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from carebook.db.base import Base, GuidMixin, IdMixin, TimestampMixin
from carebook.db.types import NullableJSON, UTCDateTime


class TenantMixin:
    institution_id: Mapped[int] = mapped_column(
        ForeignKey("institutions.id", ondelete="CASCADE"), index=True
    )


class ForeignIdMixin:
    """NexHealth's link to a record in an external EHR; Carebook-born rows leave it empty."""

    foreign_id: Mapped[str | None] = mapped_column(String(200))
    foreign_id_type: Mapped[str | None] = mapped_column(String(200))
    last_sync_time = mapped_column(UTCDateTime(), nullable=True)


class Location(IdMixin, GuidMixin, TenantMixin, ForeignIdMixin, TimestampMixin, Base):
    __tablename__ = "locations"
    __table_args__ = (UniqueConstraint("institution_id", "id"),)

    name: Mapped[str] = mapped_column(String(200))
    tz: Mapped[str] = mapped_column(String(64))
    map_by_operatory: Mapped[bool] = mapped_column(Boolean, default=False)
    allow_provider_overlap: Mapped[bool] = mapped_column(Boolean, default=False)
    street_address: Mapped[str | None] = mapped_column(String(200))
    street_address_2: Mapped[str | None] = mapped_column(String(200))
    city: Mapped[str | None] = mapped_column(String(100))
    state: Mapped[str | None] = mapped_column(String(100))
    zip_code: Mapped[str | None] = mapped_column(String(20))
    country_code: Mapped[str] = mapped_column(String(2), default="US")
    phone_number: Mapped[str | None] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(254))
    inactive: Mapped[bool] = mapped_column(Boolean, default=False)


class Specialty(IdMixin, GuidMixin, TenantMixin, TimestampMixin, Base):
    __tablename__ = "specialties"

    name: Mapped[str] = mapped_column(String(200))
    code: Mapped[str | None] = mapped_column(String(50))


class Provider(IdMixin, GuidMixin, TenantMixin, ForeignIdMixin, TimestampMixin, Base):
    __tablename__ = "providers"
    __table_args__ = (UniqueConstraint("institution_id", "id"),)

    first_name: Mapped[str] = mapped_column(String(100))
    middle_name: Mapped[str | None] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    display_name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254))
    npi: Mapped[str | None] = mapped_column(String(10))
    specialty_code: Mapped[str | None] = mapped_column(String(50))
    specialty_id: Mapped[int | None] = mapped_column(ForeignKey("specialties.id"))
    # The provider's zone (Calendar API ``DoctorTimeZone``); None: their first location's.
    tz: Mapped[str | None] = mapped_column(String(64))
    bio: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    inactive: Mapped[bool] = mapped_column(Boolean, default=False)


class ProviderLocation(Base):
    __tablename__ = "provider_locations"

    provider_id: Mapped[int] = mapped_column(
        ForeignKey("providers.id", ondelete="CASCADE"), primary_key=True
    )
    location_id: Mapped[int] = mapped_column(
        ForeignKey("locations.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id", ondelete="CASCADE"))


class Operatory(IdMixin, GuidMixin, TenantMixin, ForeignIdMixin, TimestampMixin, Base):
    __tablename__ = "operatories"
    __table_args__ = (UniqueConstraint("institution_id", "id"),)

    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    display_name: Mapped[str | None] = mapped_column(String(200))
    bookable_online: Mapped[bool] = mapped_column(Boolean, default=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Patient(IdMixin, GuidMixin, TenantMixin, ForeignIdMixin, TimestampMixin, Base):
    __tablename__ = "patients"
    __table_args__ = (
        UniqueConstraint("institution_id", "id"),
        Index("ix_patients_institution_last_first", "institution_id", "last_name", "first_name"),
        # A guardian's dependants (matched by every guardian booking, listed per portal user).
        Index("ix_patients_institution_guarantor", "institution_id", "guarantor_id"),
    )

    location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"))
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id"))
    first_name: Mapped[str] = mapped_column(String(100))
    middle_name: Mapped[str | None] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(254), index=True)
    # Copies of bio fields that are searched on; ``bio`` keeps the whole object as given.
    date_of_birth: Mapped[date | None] = mapped_column(Date)
    phone_number: Mapped[str | None] = mapped_column(String(40))
    gender: Mapped[str | None] = mapped_column(String(20))
    bio: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The guardian patient of a dependant (NexHealth ``guarantor_id``).
    guarantor_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"))
    # The portal login that owns this patient record (Calendar API ``UserId``).
    portal_user_id: Mapped[int | None] = mapped_column(ForeignKey("portal_users.id"), index=True)
    # The patient's own zone (Calendar API ``PatientTimeZone``); None means the location's.
    tz: Mapped[str | None] = mapped_column(String(64))
    inactive: Mapped[bool] = mapped_column(Boolean, default=False)
    unsubscribe_sms: Mapped[bool] = mapped_column(Boolean, default=False)


class PortalUser(IdMixin, GuidMixin, TenantMixin, TimestampMixin, Base):
    """A login of the patient portal: a patient, or a guardian who books for dependants."""

    __tablename__ = "portal_users"

    email: Mapped[str] = mapped_column(String(254))
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    tz: Mapped[str | None] = mapped_column(String(64))
    # The user's own patient record, booked when a request names no patient.
    self_patient_id: Mapped[int | None] = mapped_column(
        ForeignKey("patients.id", use_alter=True, name="fk_portal_users_self_patient_id_patients")
    )


class Service(IdMixin, GuidMixin, TenantMixin, TimestampMixin, Base):
    """A priced offering (Calendar API ``ServiceId``)."""

    __tablename__ = "services"

    name: Mapped[str] = mapped_column(String(200))
    price: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    specialty_id: Mapped[int | None] = mapped_column(ForeignKey("specialties.id"))


class VisitReason(IdMixin, GuidMixin, TenantMixin, TimestampMixin, Base):
    """A coded visit reason (Calendar API ``Reasons[].ReasonId``)."""

    __tablename__ = "visit_reasons"

    name: Mapped[str] = mapped_column(String(200))
    code: Mapped[str | None] = mapped_column(String(50))


class AppointmentType(IdMixin, GuidMixin, TenantMixin, TimestampMixin, Base):
    """NexHealth appointment type; the Calendar API calls it an encounter type."""

    __tablename__ = "appointment_types"
    __table_args__ = (UniqueConstraint("institution_id", "id"),)

    name: Mapped[str] = mapped_column(String(200))
    minutes: Mapped[int] = mapped_column(Integer)
    parent_type: Mapped[str] = mapped_column(String(20), default="Institution")
    # The location when ``parent_type`` is "Location".
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"))
    bookable_online: Mapped[bool] = mapped_column(Boolean, default=True)
    specialty_id: Mapped[int | None] = mapped_column(ForeignKey("specialties.id"))
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)


class AppointmentTypeMode(IdMixin, GuidMixin, TenantMixin, TimestampMixin, Base):
    """One visit option of an appointment type: a mode and a length
    (Calendar API ``EncounterTypeModeDurationId``)."""

    __tablename__ = "appointment_type_modes"

    appointment_type_id: Mapped[int] = mapped_column(
        ForeignKey("appointment_types.id", ondelete="CASCADE"), index=True
    )
    # 1 in person, 2 video, 3 phone (Calendar API ``EncounterTypeModeId``).
    mode_id: Mapped[int] = mapped_column(Integer)
    minutes: Mapped[int] = mapped_column(Integer)


class AppointmentDescriptor(IdMixin, TenantMixin, ForeignIdMixin, TimestampMixin, Base):
    """An EHR appointment type or procedure code available at a location."""

    __tablename__ = "appointment_descriptors"

    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"), index=True)
    descriptor_type: Mapped[str] = mapped_column(String(50))
    name: Mapped[str] = mapped_column(String(200))
    code: Mapped[str | None] = mapped_column(String(50))
    data: Mapped[dict[str, Any] | None] = mapped_column(NullableJSON)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class AppointmentTypeDescriptor(Base):
    __tablename__ = "appointment_type_descriptors"

    appointment_type_id: Mapped[int] = mapped_column(
        ForeignKey("appointment_types.id", ondelete="CASCADE"), primary_key=True
    )
    descriptor_id: Mapped[int] = mapped_column(
        ForeignKey("appointment_descriptors.id", ondelete="CASCADE"), primary_key=True
    )
