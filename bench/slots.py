"""Slot search benchmark: ``python bench/slots.py [--appointments 3000] [--database-url URL]``.

One location (maps by operatory), 20 providers, 6 operatories, working hours 08:00-17:00 on
weekdays, and N appointments at a constant density (about 4 per provider per weekday, ending 40
days ahead and reaching back as far as N needs). It times 14-day ``GET /available_slots``
searches for one provider and for all twenty through the app in-process (httpx ASGI transport),
then the same for 7 and 28 days to show the cost follows the days searched, not the rows stored.

Without ``--database-url`` it uses a fresh SQLite file; with a PostgreSQL URL it creates a scratch
database next to the one named and drops it afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from carebook.app import create_app
from carebook.config import Settings, async_database_url
from carebook.core.tenancy import create_api_key
from carebook.core.time import zone
from carebook.db.database import Database
from carebook.db.migrate import upgrade
from carebook.db.tables import (
    Appointment,
    Institution,
    Location,
    Operatory,
    Patient,
    Provider,
    ProviderLocation,
    WorkingHour,
)

PROVIDERS = 20
OPERATORIES = 6
PATIENTS = 120
PER_PROVIDER_PER_DAY = 4
TZ = "America/New_York"
SUBDOMAIN = "bench"


def appointment_rows(
    count: int,
    *,
    institution_id: int,
    location_id: int,
    providers: list[int],
    ops: list[int],
    patients: list[int],
    last_day: date,
) -> list[dict[str, Any]]:
    """``count`` half-hour appointments, walking back from ``last_day`` one weekday at a time,
    with no clash on provider, operatory or patient."""
    tz = zone(TZ)
    rng = random.Random(7)
    rows: list[dict[str, Any]] = []
    day = last_day
    now = datetime.now(UTC)
    while len(rows) < count:
        if day.weekday() < 5:
            used: dict[int, set[int]] = {}  # half-hour index -> operatories taken
            for provider_id in providers:
                for half in sorted(rng.sample(range(18), PER_PROVIDER_PER_DAY)):
                    taken = used.setdefault(half, set())
                    free = [i for i in range(OPERATORIES) if i not in taken]
                    if not free or len(rows) >= count:
                        continue
                    op_index = free[0]
                    taken.add(op_index)
                    start = datetime(
                        day.year, day.month, day.day, 8 + half // 2, 30 * (half % 2), tzinfo=tz
                    ).astimezone(UTC)
                    rows.append(
                        {
                            "institution_id": institution_id,
                            "location_id": location_id,
                            "provider_id": provider_id,
                            "operatory_id": ops[op_index],
                            "patient_id": patients[half * OPERATORIES + op_index],
                            "start_at": start,
                            "end_at": start + timedelta(minutes=30),
                            "provider_exclusive": True,
                            "guid": uuid.uuid4(),
                            "created_at": now,
                            "updated_at": now,
                        }
                    )
        day -= timedelta(days=1)
    return rows


async def build(url: str, appointments: int) -> None:
    await upgrade(url)
    db = Database(url)
    try:

        async def clinic(session: AsyncSession) -> dict[str, Any]:
            institution = Institution(name="Bench Dental", subdomain=SUBDOMAIN)
            session.add(institution)
            await session.flush()
            iid = institution.id
            location = Location(institution_id=iid, name="Main", tz=TZ, map_by_operatory=True)
            session.add(location)
            await session.flush()
            providers = [
                Provider(institution_id=iid, first_name=f"P{i}", last_name="Doc")
                for i in range(PROVIDERS)
            ]
            ops = [
                Operatory(institution_id=iid, location_id=location.id, name=f"Op {i}")
                for i in range(OPERATORIES)
            ]
            patients = [
                Patient(institution_id=iid, first_name=f"Pat{i}", last_name="Bench")
                for i in range(PATIENTS)
            ]
            session.add_all([*providers, *ops, *patients])
            await session.flush()
            for p in providers:
                session.add(
                    ProviderLocation(institution_id=iid, provider_id=p.id, location_id=location.id)
                )
                session.add(
                    WorkingHour(
                        institution_id=iid,
                        location_id=location.id,
                        provider_id=p.id,
                        begin_time="08:00",
                        end_time="17:00",
                        days=["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"],
                        active=True,
                    )
                )
            key = await create_api_key(session, subdomains=[SUBDOMAIN])
            return {
                "iid": iid,
                "lid": location.id,
                "providers": [p.id for p in providers],
                "ops": [o.id for o in ops],
                "patients": [p.id for p in patients],
                "key": key,
            }

        made = await db.write(clinic)
        rows = appointment_rows(
            appointments,
            institution_id=made["iid"],
            location_id=made["lid"],
            providers=made["providers"],
            ops=made["ops"],
            patients=made["patients"],
            last_day=datetime.now(UTC).date() + timedelta(days=40),
        )
        for offset in range(0, len(rows), 5000):
            batch = rows[offset : offset + 5000]

            async def insert_batch(
                session: AsyncSession, batch: list[dict[str, Any]] = batch
            ) -> None:
                await session.execute(insert(Appointment), batch)

            await db.write(insert_batch)
        async with db.write_engine.connect() as conn:
            await conn.execute(text("ANALYZE"))
            await conn.commit()
        _KEY.append(made["key"])
        _IDS.update(lid=made["lid"], providers=made["providers"])
    finally:
        await db.dispose()


_KEY: list[str] = []
_IDS: dict[str, Any] = {}


async def timed(
    run: Callable[[], Awaitable[httpx.Response]], *, budget: float, most: int
) -> list[float]:
    for _ in range(3):  # warm up
        await run()
    samples: list[float] = []
    deadline = time.perf_counter() + budget
    while len(samples) < most and time.perf_counter() < deadline:
        began = time.perf_counter()
        response = await run()
        samples.append((time.perf_counter() - began) * 1000)
        assert response.status_code == 200, response.text
    return samples


def percentiles(samples: list[float]) -> str:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return (
        f"p50 {statistics.median(samples):7.1f} ms   p95 {cuts[94]:7.1f} ms   "
        f"p99 {cuts[98]:7.1f} ms   (n={len(samples)})"
    )


async def measure(url: str, *, budget: float, iterations: int) -> None:
    settings = Settings(
        database_url=url,
        secret_key="bench-secret-key-that-is-long-enough-for-hs256",
        var_dir=Path(tempfile.mkdtemp(prefix="carebook-bench-")),
    )
    app = create_app(settings)
    lid, providers = _IDS["lid"], _IDS["providers"]
    start = (datetime.now(UTC) + timedelta(days=1)).astimezone(zone(TZ)).date().isoformat()
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            auth = await client.post("/authenticates", headers={"Authorization": _KEY[0]})
            headers = {"Authorization": f"Bearer {auth.json()['data']['token']}"}
            turn = iter(range(10**9))

            def search(
                pids: list[int] | None, days: int
            ) -> Callable[[], Awaitable[httpx.Response]]:
                def run() -> Awaitable[httpx.Response]:
                    chosen = pids if pids is not None else [providers[next(turn) % PROVIDERS]]
                    params: list[tuple[str, str | int | float | bool | None]] = [
                        ("subdomain", SUBDOMAIN),
                        ("start_date", start),
                        ("days", days),
                        ("lids[]", lid),
                        *(("pids[]", p) for p in chosen),
                    ]
                    return client.get("/available_slots", params=params, headers=headers)

                return run

            sample = await search(providers, 14)()
            slots = sum(len(g["slots"]) for g in sample.json()["data"])
            print(f"  all-provider 14-day answer: {slots} slots, {len(sample.content)} bytes")
            for label, pids, days in (
                ("one provider,  14 days", None, 14),
                ("all providers, 14 days", providers, 14),
                ("one provider,   7 days", None, 7),
                ("one provider,  28 days", None, 28),
                ("all providers,  7 days", providers, 7),
                ("all providers, 28 days", providers, 28),
            ):
                samples = await timed(search(pids, days), budget=budget, most=iterations)
                print(f"  {label}: {percentiles(samples)}")


async def scratch_postgres(url: str) -> tuple[str, Callable[[], Awaitable[None]]]:
    admin = async_database_url(url)
    name = f"carebook_bench_{uuid.uuid4().hex[:10]}"
    engine = create_async_engine(admin, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))

    async def drop() -> None:
        async with engine.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await engine.dispose()

    return make_url(admin).set(database=name).render_as_string(hide_password=False), drop


async def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--appointments", type=int, default=3000)
    parser.add_argument(
        "--database-url",
        help="postgresql://... (a scratch database is created beside it); default: fresh SQLite",
    )
    parser.add_argument("--iterations", type=int, default=200, help="most samples per scenario")
    parser.add_argument("--seconds", type=float, default=15.0, help="time budget per scenario")
    args = parser.parse_args(argv)
    drop: Callable[[], Awaitable[None]] | None = None
    if args.database_url and not args.database_url.startswith("sqlite"):
        url, drop = await scratch_postgres(args.database_url)
    else:
        url = args.database_url or f"sqlite:///{tempfile.mkdtemp(prefix='carebook-bench-')}/b.db"
        url = async_database_url(url)
    try:
        began = time.perf_counter()
        await build(url, args.appointments)
        backend = make_url(url).get_backend_name()
        print(
            f"{backend}: {args.appointments} appointments, {PROVIDERS} providers, "
            f"{OPERATORIES} operatories (built in {time.perf_counter() - began:.0f} s)"
        )
        await measure(url, budget=args.seconds, iterations=args.iterations)
    finally:
        if drop is not None:
            await drop()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
