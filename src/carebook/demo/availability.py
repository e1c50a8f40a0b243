"""Demo working hours: 08:00-17:00 Monday to Friday for every provider at each of their
locations."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from carebook.db.repositories import availability as repo
from carebook.db.tables import WorkingHour

DEMO_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]


async def seed_availability(session: AsyncSession, *, institution_id: int) -> None:
    """Add the demo hours unless the institution has working hours already (idempotent)."""
    if await repo.has_working_hours(session, institution_id=institution_id):
        return
    for provider_id, location_id in await repo.provider_location_pairs(
        session, institution_id=institution_id
    ):
        await repo.add_working_hour(
            session,
            WorkingHour(
                institution_id=institution_id,
                location_id=location_id,
                provider_id=provider_id,
                begin_time="08:00",
                end_time="17:00",
                days=list(DEMO_DAYS),
                active=True,
            ),
            type_ids=[],
        )
