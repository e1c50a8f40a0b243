"""PostgreSQL's driver-level work keeps a few connections checked out of the pool between uses
(``database._HeldDrivers``): reused as they are after a statement the server refused, at most
``keep`` of them idle, and all dropped once one meets an outage."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.exc import DBAPIError

from carebook.core.errors import Unavailable
from carebook.db.database import Database, DriverConnection

pytestmark = [pytest.mark.anyio, pytest.mark.postgres_only]


async def _pid(conn: DriverConnection) -> int:
    row = await conn.fetchrow("SELECT pg_backend_pid()", [])
    assert row is not None
    return int(row[0])


async def _pids_at_once(db: Database, count: int) -> list[int]:
    """``count`` pieces of driver work at once (each waits for all to start), each answering
    its connection's server process id."""
    started = asyncio.Event()
    waiting = 0

    async def held(conn: DriverConnection) -> int:
        nonlocal waiting
        waiting += 1
        if waiting == count:
            started.set()
        await started.wait()
        return await _pid(conn)

    return list(await asyncio.gather(*(db.write_driver(held) for _ in range(count))))


async def test_connections_are_kept_reused_and_bounded(database_url: str) -> None:
    db = Database(database_url, pool_size=4)  # keeps 2
    try:
        first = await db.write_driver(_pid)
        assert await db.read_driver(_pid) == first  # the same connection, both ways

        async def refused(conn: DriverConnection) -> None:
            await conn.fetchrow("SELECT 1 / 0", [])

        with pytest.raises(DBAPIError):
            await db.write_driver(refused)
        assert await db.write_driver(_pid) == first  # a refused statement leaves it usable

        # Four at once: four connections; two of them kept afterwards.
        pids = await _pids_at_once(db, 4)
        assert len(set(pids)) == 4
        # The other two went back to the pool: two stay checked out, idle, and serve next.
        assert db.write_engine.pool.checkedout() == 2  # type: ignore[attr-defined]
        kept = {await db.write_driver(_pid) for _ in range(6)}
        assert len(kept) == 1
        assert kept <= set(pids)
    finally:
        await db.dispose()


async def test_connections_closed_by_the_server_are_not_handed_out(database_url: str) -> None:
    db = Database(database_url, pool_size=4)
    try:
        pids = await _pids_at_once(db, 2)
        assert len(set(pids)) == 2

        async def cut(conn: DriverConnection) -> None:
            # Every kept connection's server process ends, as in a restart.
            # (fetch: fetchrow would stop the statement after its first row.)
            await conn.fetch(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid = ANY($1::int[])",
                [list(pids)],
            )

        async def gone(conn: DriverConnection) -> bool:
            row = await conn.fetchrow(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY($1::int[])", [list(pids)]
            )
            return row is not None and row[0] == 0

        other = Database(database_url, pool_size=2)
        try:
            await other.write_driver(cut)
            for _ in range(500):
                if await other.write_driver(gone):
                    break
                await asyncio.sleep(0.01)
            else:
                pytest.fail("the terminated server processes did not end")
        finally:
            await other.dispose()
        await asyncio.sleep(0.05)  # asyncpg reads the server's goodbye
        fresh = await db.write_driver(_pid)  # no 503: both closed ones were passed over
        assert fresh not in pids
        assert db.write_engine.pool.checkedout() == 1  # type: ignore[attr-defined]
    finally:
        await db.dispose()


async def test_an_outage_drops_every_kept_connection(database_url: str) -> None:
    db = Database(database_url, pool_size=4)
    try:
        pids = await _pids_at_once(db, 2)
        assert db.write_engine.pool.checkedout() == 2  # type: ignore[attr-defined]

        async def reset(_conn: DriverConnection) -> None:
            raise ConnectionResetError  # what a connection lost mid-statement raises

        with pytest.raises(Unavailable):
            await db.write_driver(reset)
        assert db.write_engine.pool.checkedout() == 0  # type: ignore[attr-defined]
        fresh = await db.write_driver(_pid)
        assert fresh not in pids
    finally:
        await db.dispose()
