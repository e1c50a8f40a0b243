"""Engines, sessions and the unit of work.

Reads and writes go through :class:`Database`. On SQLite a write transaction starts with
``BEGIN IMMEDIATE`` (it takes the database's write lock up front, so a check-then-insert cannot
interleave with another process) and writers inside one process queue on an ``asyncio.Lock``
instead of spinning in SQLite's busy handler. On PostgreSQL, transactions that lose a
serialization or deadlock race are retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import sqlite3
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from asyncpg import exceptions as asyncpg_errors
from sqlalchemy import Dialect, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.util import greenlet_spawn

from carebook.core.errors import Unavailable
from carebook.db.context_cache import ContextCache
from carebook.db.sqlite_inline import BUSY_TIMEOUT_MS, inline_creator

if TYPE_CHECKING:  # (booking_sql imports this module)
    from carebook.db.repositories.booking_sql import ContextRead
    from carebook.db.repositories.telehealth import CalendarContext

logger = logging.getLogger("carebook.db")

T = TypeVar("T")

# SQLSTATEs worth another try: serialization_failure, deadlock_detected.
RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})
# PostgreSQL's exclusion_violation: an exclusion constraint (no overlap) refused a row.
EXCLUSION_VIOLATION = "23P01"
MAX_ATTEMPTS = 5
# SQLite's write lock held by another process: wait for it (asynchronously) this long at most.
LOCKED_PATIENCE_SECONDS = 10.0
# SQLite WAL checkpoints run on a background thread this often (see WalCheckpointer); a
# committing connection checkpoints by itself only once the WAL passes this many pages.
CHECKPOINT_INTERVAL_SECONDS = 0.05
WAL_AUTOCHECKPOINT_PAGES = 10_000
# Each SQLite connection's page cache (SQLite's default is 2 MiB). A booking touches pages all
# over the appointment indexes (one range per provider, patient, operatory); once those outgrow
# the cache every booking re-reads them from the OS, and booking cost more than doubled at a few
# thousand appointments (bench/booking.py). Memory is only taken as pages are actually cached.
PAGE_CACHE_KIB = 64 * 1024


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


# What an outage looks like, as opposed to a bug: SQLSTATE classes 08 (connection exception),
# 53 (insufficient resources: too many connections, disk full, out of memory) and 57P (the server
# shutting down or starting up), and 3D000 (the configured database does not exist)...
_OUTAGE_SQLSTATES = ("08", "53", "57P", "3D000")
# ... and SQLite's words for the same: the file cannot be opened, read or grown, or another
# process has held the write lock past LOCKED_PATIENCE_SECONDS.
_SQLITE_OUTAGES = (
    "database is locked",
    "unable to open database file",
    "disk i/o error",
    "database or disk is full",
    "attempt to write a readonly database",
)
UNAVAILABLE_MESSAGE = "The database is unavailable; try again shortly."
CONTENDED_MESSAGE = "The database is busy with conflicting requests; try again shortly."
# The driver's own errors (not the server's) after which a connection's state is not known.
_CLIENT_STATE_IN_DOUBT = (asyncpg_errors.InterfaceError, asyncpg_errors.InternalClientError)


def is_outage(error: BaseException) -> bool:
    """Whether ``error`` says the database cannot be reached or cannot take work now (a 503
    for the client, who may try again) rather than that the request or the code is wrong."""
    if isinstance(error, OSError | PoolTimeout):  # refused, reset, timed out; no free connection
        return True
    code = sqlstate_of(error) or getattr(error, "sqlstate", None)
    if isinstance(code, str) and code.startswith(_OUTAGE_SQLSTATES):
        return True
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    if isinstance(error, asyncpg_errors.InterfaceError) and "connection is closed" in str(error):
        return True
    if isinstance(error, asyncpg_errors.InternalClientError):
        # The driver lost track of the connection's protocol state: what a server closing an
        # idle connection (a restart, pg_terminate_backend) does when it is next used.
        return True
    if isinstance(error, OperationalError | sqlite3.OperationalError):
        text = str(error).lower()
        return any(words in text for words in _SQLITE_OUTAGES)
    return False


@contextlib.contextmanager
def _outage_as_unavailable() -> Iterator[None]:
    """Raise :class:`Unavailable` for an outage (logged as a warning, without a traceback: it is
    not a bug); let every other error through as it is."""
    try:
        yield
    except Exception as error:
        if not is_outage(error):
            raise
        raise _unavailable(error) from error


def _unavailable(outage: Exception) -> Unavailable:
    logger.warning("database unavailable: %r", outage)
    return Unavailable(UNAVAILABLE_MESSAGE)


def _is_retryable(error: BaseException) -> bool:
    return isinstance(error, DBAPIError) and sqlstate_of(error) in RETRYABLE_SQLSTATES


def _is_locked(error: BaseException) -> bool:
    """Another *process* holds SQLite's write lock (past the short busy timeout)."""
    return isinstance(error, OperationalError) and "database is locked" in str(error)


class NeedsSession(Exception):
    """Raised by driver-level work (:meth:`Database.write_driver`) that meets a case it leaves
    to the ORM path: what it did is rolled back and the caller runs the session path instead."""


class DriverConnection(Protocol):
    """The database driver's own connection, for a hot path's precompiled statements
    (:mod:`carebook.db.repositories.booking_sql`)."""

    dialect: Dialect

    async def fetchrow(self, sql: str, args: Sequence[Any]) -> Sequence[Any] | None: ...

    async def fetch(self, sql: str, args: Sequence[Any]) -> Sequence[Sequence[Any]]: ...


class _SqliteDriver:
    """sqlite3 calls run on the loop thread (microseconds each, see ``sqlite_inline``)."""

    def __init__(self, connection: sqlite3.Connection, dialect: Dialect) -> None:
        self._conn = connection
        self.dialect = dialect

    async def fetchrow(self, sql: str, args: Sequence[Any]) -> Sequence[Any] | None:
        row: Sequence[Any] | None = self._conn.execute(sql, args).fetchone()
        return row

    async def fetch(self, sql: str, args: Sequence[Any]) -> Sequence[Sequence[Any]]:
        rows: Sequence[Sequence[Any]] = self._conn.execute(sql, args).fetchall()
        return rows


class _AsyncpgDriver:
    def __init__(self, connection: Any, dialect: Dialect) -> None:
        self._conn = connection
        self.dialect = dialect

    def is_closed(self) -> bool:
        return bool(self._conn.is_closed())

    def terminate(self) -> None:
        self._conn.terminate()

    async def fetchrow(self, sql: str, args: Sequence[Any]) -> Sequence[Any] | None:
        row: Sequence[Any] | None = await self._run(self._conn.fetchrow, sql, args)
        return row

    async def fetch(self, sql: str, args: Sequence[Any]) -> Sequence[Sequence[Any]]:
        rows: Sequence[Sequence[Any]] = await self._run(self._conn.fetch, sql, args)
        return rows

    @staticmethod
    async def _run(method: Callable[..., Awaitable[Any]], sql: str, args: Sequence[Any]) -> Any:
        try:
            return await method(sql, *args)
        except Exception as error:
            wrapped = _asyncpg_error(error, sql, args)
            if wrapped is None:
                raise
            raise wrapped from error


def _asyncpg_error(error: Exception, sql: str, args: Sequence[Any]) -> DBAPIError | None:
    """The same exception classes the session path raises, so one set of handlers (retries,
    23P01 → SlotTaken) serves both paths; None for an error without a SQLSTATE."""
    code = getattr(error, "sqlstate", None)
    if not isinstance(code, str):
        return None
    wrapper = IntegrityError if code.startswith("23") else DBAPIError
    return wrapper(sql, args, error)


def _unicode_lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _sqlite_pragmas(dbapi_connection: Any, _record: ConnectionPoolEntry | None) -> None:
    # Let SQLAlchemy's begin event decide how transactions start (pysqlite's own handling
    # would otherwise issue a deferred BEGIN lazily, too late for a check-then-insert).
    dbapi_connection.isolation_level = None
    # SQLite's own lower() folds ASCII letters only, so "ÉLODIE" would neither find nor match
    # "Élodie" (patient search, duplicate and dependant matching); PostgreSQL's folds every
    # letter. No index is built on lower(), so replacing it changes no stored data.
    dbapi_connection.create_function("lower", 1, _unicode_lower, deterministic=True)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
    cursor.execute(f"PRAGMA cache_size=-{PAGE_CACHE_KIB}")
    cursor.close()


class WalCheckpointer:
    """Copies SQLite's write-ahead log back into the database file from a background thread.

    By default the connection whose commit takes the WAL past 1,000 pages does that work, and
    its fsyncs, inside the commit: with booking's serial writer that was ~30 µs of every
    booking. A PASSIVE checkpoint never waits for or blocks readers and writers, so a thread of
    its own (sqlite3 releases the GIL while it works) can do it alongside; the raised
    ``wal_autocheckpoint`` remains as the backstop should this thread fall behind.
    """

    def __init__(self, database: str) -> None:
        self._database = database
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="carebook-wal", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        connection = sqlite3.connect(self._database, timeout=0, isolation_level=None)
        try:
            while not self._stop.wait(CHECKPOINT_INTERVAL_SECONDS):
                # Busy (another process's checkpoint): simply try again next time.
                with contextlib.suppress(sqlite3.Error):
                    connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        finally:
            connection.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def _make_engine(url: str, *, pool_size: int, immediate: bool, held: int = 0) -> AsyncEngine:
    if url.startswith("sqlite"):
        database = make_url(url).database
        if not database or database == ":memory:":
            raise ValueError("Carebook needs a SQLite file, not an in-memory database")
        Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(
            url,
            pool_size=pool_size,
            max_overflow=0,
            async_creator=inline_creator(database),
            hide_parameters=True,  # never patient data in an error's text: see below
        )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        begin_sql = "BEGIN IMMEDIATE" if immediate else "BEGIN"

        @event.listens_for(engine.sync_engine, "begin")
        def _begin(conn: Any) -> None:
            conn.exec_driver_sql(begin_sql)

        return engine
    return create_async_engine(
        url,
        pool_size=pool_size,
        # As many again under load, plus the ones driver work keeps (``_HeldDrivers``), so the
        # session path can still open twice the pool size while those are kept.
        max_overflow=pool_size + held,
        pool_pre_ping=False,
        # A database error's text (logged with a 500, or with an outage's warning) names its
        # statement but never its parameters: patients' names, dates of birth, SSNs.
        hide_parameters=True,
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
            self.write_engine = _make_engine(
                url, pool_size=pool_size, immediate=False, held=_held_count(pool_size)
            )
            self.read_engine = self.write_engine
        self._write_sessions = async_sessionmaker(self.write_engine, expire_on_commit=False)
        self._read_sessions = async_sessionmaker(self.read_engine, expire_on_commit=False)
        self._write_lock = asyncio.Lock() if self.is_sqlite else None
        # SQLite: the driver-level writer's own connection (used only under the write lock).
        self._sqlite_driver: _SqliteDriver | None = None
        self._checkpointer: WalCheckpointer | None = None
        # PostgreSQL: connections kept for driver-level work, up to half the pool.
        self._drivers = (
            None if self.is_sqlite else _HeldDrivers(self.write_engine, keep=_held_count(pool_size))
        )
        # The booking contexts this process read, to book from again while still current.
        self.booking_contexts: ContextCache[ContextRead] = ContextCache()
        # The Calendar API's GUID look-ups, likewise (``core.telehealth``): about 10-15 KB each
        # (up to sixteen records), so fewer of them.
        self.calendar_contexts: ContextCache[CalendarContext] = ContextCache(limit=1024)

    @property
    def dialect(self) -> str:
        return "sqlite" if self.is_sqlite else "postgresql"

    async def ping(self) -> None:
        """One trivial query on a driver connection: returns when the database answers; an
        outage raises :class:`Unavailable`, as on every other path."""
        await self.read_driver(_select_one)

    async def dispose(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
            self._checkpointer = None
        if self._sqlite_driver is not None:
            self._sqlite_driver._conn.close()
        self._sqlite_driver = None
        if self._drivers is not None:
            await self._drivers.close()
        await self.write_engine.dispose()
        if self.read_engine is not self.write_engine:
            await self.read_engine.dispose()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A read-only session; its transaction is rolled back at the end. An outage is raised
        as :class:`Unavailable` (as by every method here)."""
        with _outage_as_unavailable():
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

        async def once() -> T:
            async with self._write_once() as session:
                return await work(session)

        with _outage_as_unavailable():
            return await _retrying(once)

    def _sqlite_path(self) -> str:
        database = make_url(self.url).database
        assert database is not None
        return database

    def _open_sqlite(self) -> _SqliteDriver:
        connection = sqlite3.connect(
            self._sqlite_path(),
            timeout=BUSY_TIMEOUT_MS / 1000,
            check_same_thread=False,
            isolation_level=None,
        )
        _sqlite_pragmas(connection, None)
        return _SqliteDriver(connection, self.write_engine.dialect)

    def _sqlite_connection(self) -> _SqliteDriver:
        if self._sqlite_driver is None:
            self._sqlite_driver = self._open_sqlite()
            self._checkpointer = WalCheckpointer(self._sqlite_path())
        return self._sqlite_driver

    async def read_driver(self, work: Callable[[DriverConnection], Awaitable[T]]) -> T:
        """Run driver-level reads: each statement sees the database as committed when it runs
        (SQLite: the writer's connection, between its transactions, under the write lock;
        PostgreSQL: a pooled connection in autocommit). ``work`` must not write, nor call
        :meth:`read_driver` or :meth:`write_driver` itself (the lock is not re-entrant).

        On SQLite the writer's connection, rather than one of its own: a connection drops its
        whole page cache whenever another connection has written since its last read, which on
        the booking path is every time, so a separate reader re-read every page of every
        look-up. The lock is held for a few microseconds of reading; writes queue on it anyway.
        """
        with _outage_as_unavailable():
            if self._write_lock is not None:
                async with self._write_lock:
                    try:
                        return await work(self._sqlite_connection())
                    except sqlite3.Error as error:
                        raise _wrap_sqlite(error) from error
            assert self._drivers is not None
            return await self._drivers.run(work)

    async def _write_driver_once(self, work: Callable[[DriverConnection], Awaitable[T]]) -> T:
        if self._write_lock is not None:
            async with self._write_lock:
                try:
                    driver = self._sqlite_connection()
                    connection = driver._conn
                    connection.execute("BEGIN IMMEDIATE")
                    try:
                        result = await work(driver)
                        connection.commit()
                    except BaseException:
                        connection.rollback()
                        raise
                    return result
                except sqlite3.Error as error:
                    raise _wrap_sqlite(error) from error
        # PostgreSQL: each statement commits on its own (READ COMMITTED gives every statement of
        # a transaction its own snapshot anyway, so a read then one guarded write behaves as in
        # a transaction, with two round trips fewer). The work may write with its last
        # statement only.
        assert self._drivers is not None
        return await self._drivers.run(work)

    async def write_driver(self, work: Callable[[DriverConnection], Awaitable[T]]) -> T:
        """Run driver-level ``work`` with the discipline of :meth:`write`: on SQLite in one
        ``BEGIN IMMEDIATE`` transaction under the write lock, committed when it returns, rolled
        back when it raises; re-run on a serialization failure, deadlock or (SQLite) another
        process's write lock. On PostgreSQL ``work`` runs in autocommit, so it may write with
        its last statement only. Errors are SQLAlchemy's exception classes, as in :meth:`write`.
        """
        # _outage_as_unavailable, spelled out: this wraps every booking.
        try:
            return await _retrying(lambda: self._write_driver_once(work))
        except Exception as error:
            if not is_outage(error):
                raise
            raise _unavailable(error) from error


async def _select_one(conn: DriverConnection) -> None:
    await conn.fetchrow("SELECT 1", ())


async def _retrying(once: Callable[[], Awaitable[T]]) -> T:
    """Run ``once`` (one whole transaction) again while the database says to: another process
    holds SQLite's write lock (waited for, up to :data:`LOCKED_PATIENCE_SECONDS`), or a
    serialization failure or deadlock (up to :data:`MAX_ATTEMPTS` tries, backing off, then
    :class:`Unavailable`)."""
    attempt = 0
    locked_since: float | None = None
    while True:
        attempt += 1
        try:
            return await once()
        except DBAPIError as error:
            if _is_locked(error):
                loop = asyncio.get_running_loop()
                locked_since = locked_since or loop.time()
                if loop.time() - locked_since > LOCKED_PATIENCE_SECONDS:
                    raise
                await asyncio.sleep(random.uniform(0.001, 0.005))
                continue
            if not _is_retryable(error):
                raise
            if attempt >= MAX_ATTEMPTS:
                # Contention, not a bug: the client may send the request again (a 503).
                logger.warning("gave up after %d attempts: %r", attempt, error)
                raise Unavailable(CONTENDED_MESSAGE) from error
            await asyncio.sleep(random.uniform(0, 0.005 * 2**attempt))


def _held_count(pool_size: int) -> int:
    """How many connections PostgreSQL's driver work keeps between uses."""
    return max(1, pool_size // 2)


class _HeldDrivers:
    """asyncpg connections for driver-level work, kept checked out of ``engine``'s pool between
    uses (its codecs set up by SQLAlchemy). Taking one is a list pop: a checkout from the pool
    and its return cost about 25 µs of CPU (a twentieth of a booking), and an
    ``AsyncConnection`` around it as much again.

    At most ``keep`` are kept idle (the pool's overflow is that much larger, so the session
    path can still open as many as before); more, when more driver work runs at once, go back
    to the pool. A connection that fails with an outage, or whose state the driver no longer
    knows, is invalidated, and so is every idle one: after a server restart they would each
    fail the next request too."""

    def __init__(self, engine: AsyncEngine, keep: int) -> None:
        self._engine = engine
        self._keep = keep
        self._idle: list[tuple[Any, _AsyncpgDriver]] = []
        self._closed = False

    async def run(self, work: Callable[[_AsyncpgDriver], Awaitable[T]]) -> T:
        """``work`` on a held connection (or a new one from the pool), kept afterwards when
        its state is known. (A coroutine, not a context manager: it wraps every booking, and
        an async generator's machinery cost a hundredth of one.)"""
        fairy = None
        while self._idle:
            fairy, driver = self._idle.pop()
            if not driver.is_closed():
                break
            # Closed by the server since (a restart): asyncpg knows, so no request needs to fail.
            await greenlet_spawn(fairy.invalidate)
            await greenlet_spawn(fairy.close)
            fairy = None
        if fairy is None:
            fairy = await self._engine.raw_connection()
            driver = _AsyncpgDriver(fairy.driver_connection, self._engine.dialect)
        keep = False
        try:
            result = await work(driver)
            keep = True
            return result
        except Exception as error:
            if is_outage(error) or isinstance(error, _CLIENT_STATE_IN_DOUBT):
                await greenlet_spawn(fairy.invalidate, error)
                await self._drop_idle(invalidate=True)
            else:
                keep = True  # the server refused a statement: the connection is as it was
            raise
        finally:
            # (Cancelled mid-statement, keep stays False: the connection goes back to the pool,
            # as it always did.)
            if (
                keep
                and not self._closed
                and len(self._idle) < self._keep
                and not driver.is_closed()
            ):
                self._idle.append((fairy, driver))
            else:
                await greenlet_spawn(fairy.close)

    async def _drop_idle(self, *, invalidate: bool) -> None:
        idle, self._idle = self._idle, []
        if invalidate:
            # At once, before any await: a server that stopped answering is not waited for, and
            # a cancellation below leaves no live connection behind.
            for _fairy, driver in idle:
                driver.terminate()
        for fairy, _driver in idle:
            if invalidate:
                await greenlet_spawn(fairy.invalidate)
            await greenlet_spawn(fairy.close)

    async def close(self) -> None:
        self._closed = True
        await self._drop_idle(invalidate=False)


def _wrap_sqlite(error: sqlite3.Error) -> DBAPIError:
    """A sqlite3 error as the session path would raise it."""
    if isinstance(error, sqlite3.IntegrityError):
        return IntegrityError(None, None, error)
    if isinstance(error, sqlite3.OperationalError):
        return OperationalError(None, None, error)
    return DBAPIError(None, None, error)
