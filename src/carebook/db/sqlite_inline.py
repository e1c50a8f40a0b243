"""An in-thread stand-in for aiosqlite, used under SQLAlchemy's aiosqlite dialect.

aiosqlite runs every statement on a helper thread: each one costs two thread switches and a GIL
hand-off, which on a 2-core machine under load costs far more than the statement itself (SQLite
answers from local pages in microseconds; in WAL mode with ``synchronous=NORMAL`` a commit does not
wait for the disk). This adapter runs the statements directly on the event-loop thread instead.

What that costs: a statement blocks the loop while it runs. That is why the busy timeout is short
(another *process* holding the write lock makes ``BEGIN IMMEDIATE`` fail fast with "database is
locked", and :meth:`carebook.db.database.Database.write` retries it after an async sleep) and why
this is only for SQLite, whose statements here touch a local file.

It implements just the part of aiosqlite's interface that SQLAlchemy's adapter uses
(``sqlalchemy/dialects/sqlite/aiosqlite.py``); ``tests/test_sqlite_inline.py`` pins it.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from typing import Any

# Milliseconds SQLite waits for another process's write lock before answering "locked".
BUSY_TIMEOUT_MS = 20


class InlineCursor:
    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> InlineCursor:
        self._cursor.execute(sql, parameters if parameters is not None else ())
        return self

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> InlineCursor:
        self._cursor.executemany(sql, parameters)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(size if size is not None else self._cursor.arraysize)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()


class _RunNow:
    """Stands in for aiosqlite's request queue, which SQLAlchemy's isolation-level setter
    feeds ``(future, function)`` pairs: run the function at once and settle the future."""

    def put_nowait(self, item: tuple[asyncio.Future[Any], Callable[[], Any]]) -> None:
        future, function = item
        try:
            future.set_result(function())
        except Exception as error:  # handed to the awaiting caller
            future.set_exception(error)


class InlineConnection:
    def __init__(self, connection: sqlite3.Connection) -> None:
        self._conn = connection
        self._tx = _RunNow()

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level

    async def cursor(self) -> InlineCursor:
        return InlineCursor(self._conn.cursor())

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> InlineCursor:
        return InlineCursor(self._conn.execute(sql, parameters if parameters is not None else ()))

    async def commit(self) -> None:
        self._conn.commit()

    async def rollback(self) -> None:
        self._conn.rollback()

    async def close(self) -> None:
        self._conn.close()

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._conn.create_function(*args, **kwargs)

    def stop(self) -> None:
        self._conn.close()


def inline_creator(path: str) -> Callable[..., Any]:
    """An ``async_creator`` for ``create_async_engine`` opening ``path`` in-thread."""

    async def connect(*_args: Any, **_kwargs: Any) -> InlineConnection:
        # The loop thread is the only one using it, but SQLAlchemy may close it from the
        # garbage collector's thread at interpreter exit.
        connection = sqlite3.connect(
            path, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False, isolation_level=None
        )
        return InlineConnection(connection)

    return connect
