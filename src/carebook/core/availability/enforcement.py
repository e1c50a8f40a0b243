"""The booking-time check that a provider is working then (see issue 3)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession


async def ensure_bookable_time(
    session: AsyncSession,
    *,
    institution_id: int,
    location_id: int,
    provider_id: int,
    operatory_id: int | None,
    appointment_type_id: int | None,
    start: datetime,
    end: datetime,
) -> None:
    """Raise ``OutsideWorkingHours`` when the provider has working hours at the location and
    ``[start, end)`` is not inside them (or the location is closed). Placeholder until
    working hours exist: everything is bookable."""
    del session, institution_id, location_id, provider_id, operatory_id, appointment_type_id
    del start, end
