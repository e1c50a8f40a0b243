"""Institutions (tenants) and the API keys that reach them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from carebook.db.base import Base, GuidMixin, IdMixin, TimestampMixin, utcnow
from carebook.db.types import UTCDateTime


class Institution(IdMixin, GuidMixin, TimestampMixin, Base):
    __tablename__ = "institutions"

    subdomain: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    phone_number: Mapped[str | None] = mapped_column(String(40))
    country_code: Mapped[str] = mapped_column(String(2), default="US")


class ApiKey(IdMixin, Base):
    """An API key, kept only as a SHA-256 digest; the key itself is shown once."""

    __tablename__ = "api_keys"

    key_digest: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    name: Mapped[str | None] = mapped_column(String(200))
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ApiKeyInstitution(Base):
    __tablename__ = "api_key_institutions"

    api_key_id: Mapped[int] = mapped_column(
        ForeignKey("api_keys.id", ondelete="CASCADE"), primary_key=True
    )
    institution_id: Mapped[int] = mapped_column(
        ForeignKey("institutions.id", ondelete="CASCADE"), primary_key=True
    )


class ReferenceVersion(Base):
    """How often an institution's reference data has changed: the records a booking refers to
    and decides by (locations, providers, patients, operatories, appointment types, who works
    where, working hours and closures) and those the Calendar API's GUID look-up reads besides
    (portal users, visit options, specialties, services, visit reasons, the institution itself).

    Written only by database triggers (migrations 0005 and 0006) in the same transaction as the
    change, so no write path can forget it; read by the booking hot path, which keeps what it
    read of those records per process and books with them only while this number is what it
    was (:mod:`carebook.db.context_cache`).

    No foreign key, and rows are never deleted: a version only ever grows, so a number seen
    once can never mean other data later, not even for an institution deleted and its id given
    again. (A cascade deleting an institution's records also bumps the number; with a foreign
    key that bump would fail once the institution row is gone.) No row means version 0.
    """

    __tablename__ = "reference_versions"

    institution_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(BigInteger)
