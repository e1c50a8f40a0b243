"""Engines, sessions and the unit of work.

Reads and writes go through :class:`Database`. On SQLite a write transaction starts with
``BEGIN IMMEDIATE`` (it takes the database's write lock up front, so a check-then-insert cannot
interleave with another process) and writers inside one process queue on an ``asyncio.Lock``
instead of spinning in SQLite's busy handler. On PostgreSQL, transactions that lose a
serialization or deadlock race are retried.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry

from carebook.db.sqlite_inline import BUSY_TIMEOUT_MS, inline_creator

T = TypeVar("T")

# SQLSTATEs worth another try: serialization_failure, deadlock_detected.
RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})
MAX_ATTEMPTS = 5
# SQLite's write lock held by another process: wait for it (asynchronously) this long at most.
LOCKED_PATIENCE_SECONDS = 10.0


def sqlstate_of(error: BaseException) -> str | None:
    """The SQLSTATE behind a SQLAlchemy/asyncpg error, if there is one."""
    orig: Any = getattr(error, "orig", None)
    for candidate in (orig, getattr(orig, "__cause__", None)):
        code = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
        if isinstance(code, str):
            return code
    return None


def constraint_name_of(error: BaseException) -> str | None:
    orig: Any = getattr(error, "orig", None)
    for candidate in (orig, getattr(orig, "__cause__", None)):
        name = getattr(candidate, "constraint_name", None)
        if isinstance(name, str):
            return name
    return None


def _is_retryable(error: BaseException) -> bool:
    return isinstance(error, DBAPIError) and sqlstate_of(error) in RETRYABLE_SQLSTATES


def _is_locked(error: BaseException) -> bool:
    """Another *process* holds SQLite's write lock (past the short busy timeout)."""
    return isinstance(error, OperationalError) and "database is locked" in str(error)


def _sqlite_pragmas(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    # Let SQLAlchemy's begin event decide how transactions start (pysqlite's own handling
    # would otherwise issue a deferred BEGIN lazily, too late for a check-then-insert).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.close()


def _make_engine(url: str, *, pool_size: int, immediate: bool) -> AsyncEngine:
    if url.startswith("sqlite"):
        database = make_url(url).database
        if not database or database == ":memory:":
            raise ValueError("Carebook needs a SQLite file, not an in-memory database")
        Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(
            url, pool_size=pool_size, max_overflow=0, async_creator=inline_creator(database)
        )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        begin_sql = "BEGIN IMMEDIATE" if immediate else "BEGIN"

        @event.listens_for(engine.sync_engine, "begin")
        def _begin(conn: Any) -> None:
            conn.exec_driver_sql(begin_sql)

        return engine
    return create_async_engine(
        url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=False
    )


class Database:
    """One per process: a read engine, a write engine and the write discipline."""

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            # One connection writes (writes are serialised anyway); a few read concurrently (WAL).
            self.write_engine = _make_engine(url, pool_size=1, immediate=True)
            self.read_engine = _make_engine(url, pool_size=4, immediate=False)
        else:
            self.write_engine = _make_engine(url, pool_size=pool_size, immediate=False)
            self.read_engine = self.write_engine
        self._write_sessions = async_sessionmaker(self.write_engine, expire_on_commit=False)
        self._read_sessions = async_sessionmaker(self.read_engine, expire_on_commit=False)
        self._write_lock = asyncio.Lock() if self.is_sqlite else None

    @property
    def dialect(self) -> str:
        return "sqlite" if self.is_sqlite else "postgresql"

    async def dispose(self) -> None:
        await self.write_engine.dispose()
        if self.read_engine is not self.write_engine:
            await self.read_engine.dispose()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A read-only session; its transaction is rolled back at the end."""
        async with self._read_sessions() as session:
            yield session

    @asynccontextmanager
    async def _write_once(self) -> AsyncIterator[AsyncSession]:
        if self._write_lock is not None:
            async with self._write_lock, self._write_sessions() as session, session.begin():
                yield session
        else:
            async with self._write_sessions() as session, session.begin():
                yield session

    async def write(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """Run ``work`` in one write transaction, committed when it returns.

        Everything ``work`` did is rolled back if it raises, and it is run again (from the start,
        in a new transaction) when the database reports a serialization failure or deadlock, or
        (SQLite) another process holds the write lock.
        """
        attempt = 0
        locked_since: float | None = None
        while True:
            attempt += 1
            try:
                async with self._write_once() as session:
                    return await work(session)
            except DBAPIError as error:
                if _is_locked(error):
                    loop = asyncio.get_running_loop()
                    locked_since = locked_since or loop.time()
                    if loop.time() - locked_since > LOCKED_PATIENCE_SECONDS:
                        raise
                    await asyncio.sleep(random.uniform(0.001, 0.005))
                    continue
                if attempt >= MAX_ATTEMPTS or not _is_retryable(error):
                    raise
                await asyncio.sleep(random.uniform(0, 0.005 * 2**attempt))
