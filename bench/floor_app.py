"""The yardstick's server: a bare ASGI app doing one guarded INSERT per booking request.

No framework, no validation beyond what the INSERT needs, no tenant, no response beyond the new
id: what the machine at hand can do at best for the booking POST, served the same way Carebook
is (uvicorn with uvloop and httptools) and refusing overlaps the same way (PostgreSQL: an
exclusion constraint; SQLite: ``BEGIN IMMEDIATE`` and a probe in the INSERT). It takes
NexHealth's booking body, so ``bench/floor.py`` drives it with the very requests
``bench/booking.py`` sends. Configured by ``FLOOR_DATABASE`` (a PostgreSQL URL or a SQLite path).
"""

from __future__ import annotations

import json
import os
import sqlite3
from datetime import datetime
from typing import Any

import asyncpg

# Every booking's length: bench/booking.py's SLOT_MINUTES (bench/floor.py checks they agree).
LENGTH_SECONDS = 15 * 60

Send = Any
Receive = Any

_PG_INSERT = (
    "INSERT INTO floor_bookings (provider_id, patient_id, start_at, end_at) "
    "VALUES ($1, $2, $3::timestamptz, $3::timestamptz + make_interval(secs => $4)) "
    "RETURNING id"
)
_SQLITE_INSERT = (
    "INSERT INTO floor_bookings (provider_id, patient_id, start_at, end_at) "
    "SELECT ?1, ?2, ?3, ?4 WHERE NOT EXISTS (SELECT 1 FROM floor_bookings "
    "WHERE provider_id = ?1 AND start_at < ?4 AND end_at > ?3)"
)


class Floor:
    def __init__(self, database: str) -> None:
        self.database = database
        self.pool: asyncpg.Pool | None = None
        self.sqlite: sqlite3.Connection | None = None

    async def start(self) -> None:
        if self.database.startswith("postgresql"):
            self.pool = await asyncpg.create_pool(self.database, min_size=8, max_size=8)
        else:
            self.sqlite = sqlite3.connect(self.database, isolation_level=None)
            self.sqlite.execute("PRAGMA journal_mode=WAL")
            self.sqlite.execute("PRAGMA synchronous=NORMAL")

    async def stop(self) -> None:
        if self.pool is not None:
            await self.pool.close()
        if self.sqlite is not None:
            self.sqlite.close()

    async def book(self, provider_id: int, patient_id: int, start: datetime) -> int | None:
        """The new booking's id, or None when the provider is taken then."""
        if self.pool is not None:
            try:
                async with self.pool.acquire() as conn:
                    row = await conn.fetchrow(
                        _PG_INSERT, provider_id, patient_id, start, float(LENGTH_SECONDS)
                    )
            except asyncpg.ExclusionViolationError:
                return None
            assert row is not None  # INSERT … RETURNING answers its row
            return int(row[0])
        assert self.sqlite is not None
        start_at = int(start.timestamp())
        self.sqlite.execute("BEGIN IMMEDIATE")
        try:
            cursor = self.sqlite.execute(
                _SQLITE_INSERT, (provider_id, patient_id, start_at, start_at + LENGTH_SECONDS)
            )
            self.sqlite.commit()
        except BaseException:
            self.sqlite.rollback()
            raise
        return cursor.lastrowid if cursor.rowcount == 1 else None


floor = Floor(os.environ.get("FLOOR_DATABASE", ""))


async def _respond(send: Send, status: int, body: dict[str, Any]) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": json.dumps(body).encode()})


async def app(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await floor.start()
                await send({"type": "lifespan.startup.complete"})
            else:
                await floor.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    if scope["method"] != "POST":
        await _respond(send, 200, {"ok": True})  # the readiness probe
        return
    try:
        appt = json.loads(body)["appt"]
        start = datetime.fromisoformat(appt["start_time"])
        booked = await floor.book(int(appt["provider_id"]), int(appt["patient_id"]), start)
    except (ValueError, KeyError, TypeError):
        await _respond(send, 400, {"error": "bad request"})
        return
    if booked is None:
        await _respond(send, 409, {"error": "taken"})
        return
    await _respond(send, 201, {"id": booked})
