from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from carebook.db.tables import WorkingHour
from carebook.demo.availability import seed_availability
from tests.support import Api

pytestmark = pytest.mark.anyio


async def test_seed_availability_is_idempotent(api: Api) -> None:
    clinic = await api.clinic()

    async def seed(session: AsyncSession) -> None:
        await seed_availability(session, institution_id=clinic.institution_id)

    await api.db.write(seed)
    await api.db.write(seed)
    async with api.db.read() as session:
        rows = list((await session.execute(select(WorkingHour))).scalars())
    assert sorted((h.provider_id, h.location_id) for h in rows) == sorted(
        (p, loc) for p in clinic.provider_ids for loc in (clinic.location_id, clinic.op_location_id)
    )
    assert {(h.begin_time, h.end_time, tuple(h.days or [])) for h in rows} == {
        ("08:00", "17:00", ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday"))
    }
