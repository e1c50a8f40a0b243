"""The yardstick: what this machine does at best for a booking POST, to read the booking figures by.

    python bench/floor.py                         # SQLite, 1 process
    python bench/floor.py --database postgres     # PostgreSQL, 2 processes

The issues set the booking goals on "a 2-core machine" and give their scale as "a bare ASGI app
doing one guarded INSERT reaches about 4,200/s there". Machines differ (the same code has
measured 1.8 times faster on one than on another here), so this script measures that very
yardstick on the machine at hand: ``bench/floor_app.py`` under uvicorn, driven by wrk with the
same requests, clients and process layout as ``bench/booking.py``, one INSERT per request guarded
against overlap (an exclusion constraint on PostgreSQL, ``BEGIN IMMEDIATE`` and a probe on
SQLite). It prints requests/s, p50/p99 latency and the CPU per request.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import wrk
from bench.booking import (
    RESOURCES,
    SLOT_MINUTES,
    add_load_arguments,
    free_port,
    measure_with_wrk,
    prepare_postgres,
    wait_until_serving,
)
from bench.floor_app import LENGTH_SECONDS

_POSTGRES_SCHEMA = [
    "CREATE EXTENSION IF NOT EXISTS btree_gist",
    "CREATE TABLE floor_bookings (id bigserial PRIMARY KEY, provider_id bigint NOT NULL, "
    "patient_id bigint NOT NULL, start_at timestamptz NOT NULL, end_at timestamptz NOT NULL, "
    "EXCLUDE USING gist (provider_id WITH =, tstzrange(start_at, end_at) WITH &&))",
]
_SQLITE_SCHEMA = [
    "CREATE TABLE floor_bookings (id INTEGER PRIMARY KEY, provider_id INTEGER NOT NULL, "
    "patient_id INTEGER NOT NULL, start_at INTEGER NOT NULL, end_at INTEGER NOT NULL)",
    "CREATE INDEX ix_floor_provider_start ON floor_bookings (provider_id, start_at)",
]


async def _postgres_schema(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        for statement in _POSTGRES_SCHEMA:
            await conn.execute(statement)
    finally:
        await conn.close()


def _sqlite_schema(path: Path) -> None:
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        for statement in _SQLITE_SCHEMA:
            conn.execute(statement)
        conn.commit()
    finally:
        conn.close()


def _resources() -> dict[str, Any]:
    """What :func:`bench.booking.wrk_config` reads of a seeded institution: plain numbers
    suffice here (the floor keeps no institution, location or appointment type)."""
    return {
        "providers": [(i + 1, str(uuid.uuid4())) for i in range(RESOURCES)],
        "patients": [(i + 1, str(uuid.uuid4())) for i in range(RESOURCES)],
        "users": [str(uuid.uuid4()) for _ in range(RESOURCES)],
        "location_id": 1,
        "type_id": 1,
        "type_guid": str(uuid.uuid4()),
        "mode_guid": str(uuid.uuid4()),
        "institution_guid": str(uuid.uuid4()),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_load_arguments(parser)
    args = parser.parse_args()
    if not wrk.available():
        parser.error("the yardstick needs wrk (`apt-get install wrk`)")
    assert SLOT_MINUTES * 60 == LENGTH_SECONDS, "the floor books the booking bench's slots"
    workers = args.workers or (1 if args.database == "sqlite" else 2)

    tmp = Path(tempfile.mkdtemp(prefix="carebook-floor-"))
    if args.database == "sqlite":
        database = str(tmp / "floor.db")
        _sqlite_schema(Path(database))
    else:
        database = asyncio.run(prepare_postgres(args.postgres_url, "carebook_floor"))
        asyncio.run(_postgres_schema(database))
    ports = [free_port() for _ in range(workers)]
    root = Path(__file__).resolve().parent.parent
    servers = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "bench.floor_app:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            cwd=root,
            env={**os.environ, "FLOOR_DATABASE": database},
        )
        for port in ports
    ]
    bases = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        wait_until_serving(servers, bases, "/")
        label = (
            f"floor (bare ASGI app, one guarded INSERT) on {args.database}, "
            f"{workers} process(es), {args.clients} clients"
        )
        # The booking bench's measurement, NexHealth's requests (the floor ignores the token).
        args.api, args.url = "nexhealth", database
        return measure_with_wrk(args, bases, "-", _resources(), label, [s.pid for s in servers])
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait(timeout=15)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
