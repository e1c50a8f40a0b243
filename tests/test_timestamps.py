"""A new row's ``updated_at`` is its ``created_at``: the two are one clock reading.

Two clock reads can straddle a millisecond, and the APIs print both to the
millisecond, so a record just created looked already updated now and then.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from carebook.db.tables import Institution
from tests.support import Api

pytestmark = pytest.mark.anyio

LONG_AGO = datetime(2001, 2, 3, 4, 5, 6, 789012, tzinfo=UTC)


async def test_updated_at_of_a_new_row_is_its_created_at(api: Api) -> None:
    # A created_at set by hand, far from the clock: only a default that reads it can match.
    async def insert(session: Any) -> tuple[datetime, datetime]:
        session.add(Institution(name="Old", subdomain="old", created_at=LONG_AGO))
        await session.flush()
        row = (
            await session.execute(
                select(Institution.created_at, Institution.updated_at).where(
                    Institution.subdomain == "old"
                )
            )
        ).one()
        return row.created_at, row.updated_at

    assert await api.db.write(insert) == (LONG_AGO, LONG_AGO)


async def test_rows_created_in_one_flush_keep_their_own_stamps(api: Api) -> None:
    async def insert(session: Any) -> list[tuple[datetime, datetime]]:
        session.add_all(
            [Institution(name=f"Clinic {n}", subdomain=f"clinic-{n}") for n in range(3)]
        )
        await session.flush()
        rows = await session.execute(
            select(Institution.created_at, Institution.updated_at).order_by(Institution.id)
        )
        return [(row.created_at, row.updated_at) for row in rows]

    stamps = await api.db.write(insert)
    assert len(stamps) == 3
    assert all(created == updated for created, updated in stamps)
