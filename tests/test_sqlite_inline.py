"""The in-thread SQLite adapter: SQLAlchemy works through it, and a write lock held by another
process is waited for without blocking the event loop."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from carebook.db.database import Database, DriverConnection

pytestmark = pytest.mark.anyio


async def test_reads_and_writes_through_the_adapter(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'a.db'}")
    try:

        async def create(session: AsyncSession) -> None:
            await session.execute(text("CREATE TABLE t (x INTEGER)"))
            await session.execute(text("INSERT INTO t VALUES (1), (2)"))

        await db.write(create)
        async with db.read() as session:
            assert (await session.execute(text("SELECT sum(x) FROM t"))).scalar_one() == 3
            mode = (await session.execute(text("PRAGMA journal_mode"))).scalar_one()
        assert mode == "wal"

        async def fail(session: AsyncSession) -> None:
            await session.execute(text("INSERT INTO t VALUES (10)"))
            raise RuntimeError("boom")

        with pytest.raises(RuntimeError):
            await db.write(fail)
        async with db.read() as session:
            assert (await session.execute(text("SELECT sum(x) FROM t"))).scalar_one() == 3
    finally:
        await db.dispose()


async def test_waits_for_another_process_lock_without_blocking_the_loop(tmp_path: Path) -> None:
    path = tmp_path / "b.db"
    db = Database(f"sqlite+aiosqlite:///{path}")
    try:
        await db.write(lambda s: s.execute(text("CREATE TABLE t (x INTEGER)")))
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another writer holds the lock
        gaps: list[float] = []

        async def ticker() -> None:
            loop = asyncio.get_running_loop()
            last = loop.time()
            while True:
                await asyncio.sleep(0.005)
                now = loop.time()
                gaps.append(now - last)
                last = now

        async def release_later() -> None:
            await asyncio.sleep(0.3)
            other.execute("INSERT INTO t VALUES (7)")
            other.execute("COMMIT")

        tick_task = asyncio.create_task(ticker())
        release_task = asyncio.create_task(release_later())
        await db.write(lambda s: s.execute(text("INSERT INTO t VALUES (8)")))
        await release_task
        tick_task.cancel()
        other.close()
        # The loop kept running while the write waited: no stall much beyond the busy timeout.
        assert len(gaps) >= 5
        assert max(gaps) < 0.15
        async with db.read() as session:
            rows = (await session.execute(text("SELECT x FROM t ORDER BY x"))).scalars().all()
        assert rows == [7, 8]
    finally:
        await db.dispose()


async def test_driver_reads_never_see_a_write_in_progress(tmp_path: Path) -> None:
    """Driver reads share the writer's connection (its page cache stays warm), so they must
    wait for the writer's transaction: never read its uncommitted rows, and see them once
    committed. The write below really suspends mid-transaction to give the read its chance."""
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'd.db'}")
    try:

        async def create(session: AsyncSession) -> None:
            await session.execute(text("CREATE TABLE t (x INTEGER)"))
            await session.execute(text("INSERT INTO t VALUES (1)"))

        await db.write(create)
        inserted, release = asyncio.Event(), asyncio.Event()

        async def slow_write(conn: DriverConnection) -> None:
            await conn.fetch("INSERT INTO t VALUES (2)", ())
            inserted.set()
            await release.wait()

        async def total(conn: DriverConnection) -> int:
            row = await conn.fetchrow("SELECT sum(x) FROM t", ())
            assert row is not None
            return int(row[0])

        writer = asyncio.create_task(db.write_driver(slow_write))
        await inserted.wait()
        reader = asyncio.create_task(db.read_driver(total))
        await asyncio.sleep(0.05)
        assert not reader.done()  # waiting for the writer, not reading its open transaction
        release.set()
        await writer
        assert await reader == 3
        assert await db.read_driver(total) == 3
    finally:
        await db.dispose()
