"""Booking throughput: concurrent clients book distinct free slots against a running server.

    python bench/booking.py                                  # SQLite, 1 process, NexHealth API
    python bench/booking.py --database postgres --workers 2  # PostgreSQL, 2 worker processes
    python bench/booking.py --api calendar                   # the Calendar API endpoint

It creates a scratch database (a temporary SQLite file, or database ``carebook_bench`` on the
local PostgreSQL), seeds one institution with enough providers and patients that the clients
never contend for a slot, starts ``carebook serve`` on 127.0.0.1, warms up, then measures and
prints requests/s and p50/p99 latency. Every request must answer 201/200; anything else is
reported. Bounded by --requests and --seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from datetime import time as wall_time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import cpu, wrk
from bench.loadgen import build_request, run
from carebook.config import async_database_url
from carebook.core.tenancy import create_api_key
from carebook.core.time import local_datetime, zone
from carebook.db.database import Database
from carebook.db.migrate import upgrade
from carebook.db.tables import (
    AppointmentType,
    AppointmentTypeMode,
    Institution,
    Location,
    Patient,
    PortalUser,
    Provider,
    ProviderLocation,
    WorkingHour,
)

RESOURCES = 64  # providers (and patients); > clients, so in-flight requests never contend
SLOT_MINUTES = 15
# Every provider works 08:00-18:00 (New York) every day, as a real clinic would have working
# hours set: each booking is checked against them, and lands inside them.
OPEN, CLOSE = wall_time(8, 0), wall_time(18, 0)
SLOTS_PER_DAY = (CLOSE.hour - OPEN.hour) * 60 // SLOT_MINUTES
ALL_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def prepare_postgres(admin_url: str, name: str) -> str:
    engine = create_async_engine(async_database_url(admin_url), isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    await engine.dispose()
    # The same server and options (a unix-socket ``?host=`` included), another database.
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


async def analyze(url: str) -> None:
    engine = create_async_engine(async_database_url(url), isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text("ANALYZE"))
    await engine.dispose()


async def seed(url: str) -> dict[str, Any]:
    db = Database(async_database_url(url))

    async def work(session: AsyncSession) -> dict[str, Any]:
        institution = Institution(name="Bench Clinic", subdomain="bench")
        session.add(institution)
        await session.flush()
        iid = institution.id
        location = Location(institution_id=iid, name="Bench", tz="America/New_York")
        appointment_type = AppointmentType(institution_id=iid, name="Visit", minutes=SLOT_MINUTES)
        session.add_all([location, appointment_type])
        await session.flush()
        mode = AppointmentTypeMode(
            institution_id=iid,
            appointment_type_id=appointment_type.id,
            mode_id=2,
            minutes=SLOT_MINUTES,
        )
        providers = [
            Provider(institution_id=iid, first_name=f"P{i}", last_name="Bench")
            for i in range(RESOURCES)
        ]
        patients = [
            Patient(institution_id=iid, first_name=f"Q{i}", last_name="Bench", bio={})
            for i in range(RESOURCES)
        ]
        session.add_all([mode, *providers, *patients])
        await session.flush()
        users = [
            PortalUser(
                institution_id=iid,
                email=f"q{i}@bench.test",
                first_name=f"Q{i}",
                last_name="Bench",
                self_patient_id=patient.id,
            )
            for i, patient in enumerate(patients)
        ]
        session.add_all(users)
        await session.flush()
        for user, patient in zip(users, patients, strict=True):
            patient.portal_user_id = user.id
        session.add_all(
            ProviderLocation(institution_id=iid, provider_id=p.id, location_id=location.id)
            for p in providers
        )
        session.add_all(
            WorkingHour(
                institution_id=iid,
                location_id=location.id,
                provider_id=p.id,
                begin_time=OPEN.strftime("%H:%M"),
                end_time=CLOSE.strftime("%H:%M"),
                days=ALL_DAYS,
            )
            for p in providers
        )
        key = await create_api_key(session, subdomains=["bench"])
        seeded: dict[str, Any] = {
            "key": key,
            "institution_guid": str(institution.guid),
            "location_id": location.id,
            "type_id": appointment_type.id,
            "type_guid": str(appointment_type.guid),
            "mode_guid": str(mode.guid),
            "providers": [(p.id, str(p.guid)) for p in providers],
            "patients": [(p.id, str(p.guid)) for p in patients],
            "users": [str(u.guid) for u in users],
        }
        return seeded

    try:
        return await db.write(work)
    finally:
        await db.dispose()


def seeded_database(args: argparse.Namespace, tmp: Path, name: str) -> tuple[str, dict[str, Any]]:
    """A scratch database, migrated and seeded with the bench clinic: a SQLite file in ``tmp``,
    or database ``name`` on ``args.postgres_url``'s server. Its URL and what :func:`seed` gave."""
    if args.database == "sqlite":
        url = f"sqlite:///{tmp / 'bench.db'}"
    else:
        url = asyncio.run(prepare_postgres(args.postgres_url, name))
    asyncio.run(upgrade(async_database_url(url)))
    return url, asyncio.run(seed(url))


def wait_until_serving(
    servers: list[subprocess.Popen[bytes]], bases: list[str], path: str, patience: float = 30
) -> None:
    """Return once every server answers ``path`` (any status); raise if one exits or the
    patience runs out first."""
    deadline = time.monotonic() + patience
    for server, address in zip(servers, bases, strict=True):
        while True:
            try:
                httpx.get(address + path, timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.2)


def report(
    label: str, results: list[wrk.WrkResult], warm: list[wrk.WrkResult], bases: list[str]
) -> int:
    """Print each server's wrk figures and the total; the number of failed requests."""
    for base, result in zip(bases, results, strict=True):
        print(result.summary(f"  {base}"))
    total = sum(r.rate for r in results)
    failed = sum(r.non_2xx + r.socket_errors for r in results + warm)
    print(
        f"{label}: {total:,.0f} bookings/s in all; "
        f"p50 {max(r.p50_ms for r in results):.2f} ms, p99 {max(r.p99_ms for r in results):.2f} ms "
        f"(worst process); {failed} failed (wrk)"
    )
    return failed


def requests_for(
    api: str, base: str, token: str, data: dict[str, Any], count: int, offset: int
) -> list[bytes]:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    tz = zone("America/New_York")
    first_day = datetime.now(UTC).astimezone(tz).date() + timedelta(days=2)
    raw = []
    for k in range(offset, offset + count):
        resource = k % RESOURCES
        slot = k // RESOURCES
        day = first_day + timedelta(days=slot // SLOTS_PER_DAY)
        start = local_datetime(day, OPEN, tz) + timedelta(
            minutes=SLOT_MINUTES * (slot % SLOTS_PER_DAY)
        )
        provider_id, provider_guid = data["providers"][resource]
        patient_id, patient_guid = data["patients"][resource]
        use = api if api != "both" else ("nexhealth" if k % 2 == 0 else "calendar")
        body: dict[str, Any]
        if use == "nexhealth":
            body = {
                "appt": {
                    "patient_id": patient_id,
                    "provider_id": provider_id,
                    "start_time": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "appointment_type_id": data["type_id"],
                }
            }
            url = f"{base}/appointments?subdomain=bench&location_id={data['location_id']}"
        else:
            body = {
                "AccountId": data["institution_guid"],
                "UserId": data["users"][resource],
                "PatientId": patient_guid,
                "ProviderId": provider_guid,
                "EncounterTypeId": data["type_guid"],
                "EncounterTypeModeDurationId": data["mode_guid"],
                "AppointmentOn": start.strftime("%Y-%m-%dT%H:%M:%S+00:00"),
                "Reason": "Benchmark visit",
            }
            url = f"{base}/api/Calendar/PatientAppointmentPost"
        raw.append(build_request("POST", url, json.dumps(body).encode(), headers))
    return raw


def wrk_config(
    api: str, token: str, data: dict[str, Any], *, part: int, parts: int, offset: int
) -> dict[str, Any]:
    """What wrk's Lua script needs to compute the same requests as :func:`requests_for`, over
    this server's share of the resources (disjoint per server, so no two clients ever meet)."""
    tz = zone("America/New_York")
    first_day = datetime.now(UTC).astimezone(tz).date() + timedelta(days=2)
    # Each day's opening instant with that day's UTC offset (DST days included).
    day_opens = [
        int(local_datetime(first_day + timedelta(days=d), OPEN, tz).timestamp())
        for d in range(1000)
    ]
    resources = [
        {
            "provider_id": data["providers"][r][0],
            "provider_guid": data["providers"][r][1],
            "patient_id": data["patients"][r][0],
            "patient_guid": data["patients"][r][1],
            "user_guid": data["users"][r],
        }
        for r in range(part, RESOURCES, parts)
    ]
    return {
        "api": api,
        "token": token,
        "offset": offset,
        "resources": resources,
        "day_opens": day_opens,
        "slots_per_day": SLOTS_PER_DAY,
        "slot_seconds": SLOT_MINUTES * 60,
        "type_id": data["type_id"],
        "type_guid": data["type_guid"],
        "mode_guid": data["mode_guid"],
        "institution_guid": data["institution_guid"],
        "nexhealth_path": f"/appointments?subdomain=bench&location_id={data['location_id']}",
        "calendar_path": "/api/Calendar/PatientAppointmentPost",
    }


def run_wrk_everywhere(
    bases: list[str],
    configs: list[dict[str, Any]],
    *,
    clients: int,
    seconds: float,
) -> list[wrk.WrkResult]:
    """One wrk per server process, at once, splitting the clients between them."""
    shares = [
        clients // len(bases) + (1 if i < clients % len(bases) else 0) for i in range(len(bases))
    ]
    with concurrent.futures.ThreadPoolExecutor(len(bases)) as pool:
        futures = [
            pool.submit(wrk.run_wrk, base, config, clients=share, seconds=seconds)
            for base, config, share in zip(bases, configs, shares, strict=True)
        ]
        return [f.result() for f in futures]


def add_load_arguments(parser: argparse.ArgumentParser) -> None:
    """The options a booking load shares with the yardstick (bench/floor.py): which database,
    how many server processes, clients and seconds."""
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "CAREBOOK_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30.0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_load_arguments(parser)
    parser.add_argument("--spread", choices=["processes", "workers"], default="processes")
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--warmup", type=int, default=1_000)
    parser.add_argument("--api", choices=["nexhealth", "calendar", "both"], default="nexhealth")
    parser.add_argument(
        "--loadgen",
        choices=["wrk", "python"],
        default="wrk" if wrk.available() else "python",
        help="wrk (C, light on the shared CPU; `apt-get install wrk`) or the asyncio client",
    )
    args = parser.parse_args()
    if args.loadgen == "wrk" and args.spread == "workers":
        parser.error("--spread workers needs --loadgen python (one wrk per server process)")
    workers = args.workers or (1 if args.database == "sqlite" else 2)

    tmp = Path(tempfile.mkdtemp(prefix="carebook-bench-"))
    url, data = seeded_database(args, tmp, "carebook_bench")

    env = {
        **os.environ,
        "CAREBOOK_DATABASE_URL": url,
        "CAREBOOK_VAR_DIR": str(tmp / "var"),
        "CAREBOOK_SECRET_KEY": uuid.uuid4().hex * 2,
        "CAREBOOK_LOG_LEVEL": "warning",
    }
    # "processes": N single-worker servers on N ports, clients spread over them round-robin (a
    # load balancer in front of stateless API processes). "workers": one `serve --workers N`;
    # there the kernel gives each keep-alive connection to whichever worker accepts first, which
    # with 8 long-lived connections is often lopsided (6 and 2), measuring the imbalance.
    layout = (
        [(free_port(), 1) for _ in range(workers)]
        if args.spread == "processes"
        else [(free_port(), workers)]
    )
    servers = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "carebook",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                str(count),
            ],
            env=env,
        )
        for port, count in layout
    ]
    bases = [f"http://127.0.0.1:{port}" for port, _ in layout]
    base = bases[0]
    try:
        wait_until_serving(servers, bases, "/openapi.json")
        token = httpx.post(base + "/authenticates", headers={"Authorization": data["key"]}).json()[
            "data"
        ]["token"]
        label = (
            f"booking via {args.api} on {args.database}, {workers} process(es) "
            f"({args.spread}), {args.clients} clients"
        )
        if args.loadgen == "wrk":
            args.url = url
            return measure_with_wrk(args, bases, token, data, label, [s.pid for s in servers])
        warm = requests_for(args.api, base, token, data, args.warmup, 0)
        asyncio.run(run(bases, warm, clients=args.clients, max_seconds=args.seconds))
        if args.database == "postgres":
            asyncio.run(analyze(url))  # as in measure_with_wrk
        measured = requests_for(args.api, base, token, data, args.requests, args.warmup)
        result = asyncio.run(run(bases, measured, clients=args.clients, max_seconds=args.seconds))
        print(result.summary(label))
        good = sum(v for k, v in result.statuses.items() if k in (200, 201))
        return 0 if good == len(result.latencies) else 1
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait(timeout=15)
        shutil.rmtree(tmp, ignore_errors=True)


def measure_with_wrk(
    args: argparse.Namespace,
    bases: list[str],
    token: str,
    data: dict[str, Any],
    label: str,
    server_pids: list[int],
) -> int:
    def configs(offset: int) -> list[dict[str, Any]]:
        return [
            wrk_config(args.api, token, data, part=i, parts=len(bases), offset=offset)
            for i in range(len(bases))
        ]

    warm = run_wrk_everywhere(bases, configs(0), clients=args.clients, seconds=3)
    if args.database == "postgres":
        # A live database has planner statistics (autovacuum keeps them); a freshly seeded one
        # has none until autovacuum comes round, and plans chosen without them are not the
        # ones production runs. ANALYZE now, with the warm-up's bookings in the table.
        asyncio.run(analyze(args.url))
    # Requests still in flight when wrk stops were booked too: skip well past them.
    offset = max(w.requests for w in warm) + 10 * args.clients
    before = cpu.snapshot(server_pids)
    results = run_wrk_everywhere(bases, configs(offset), clients=args.clients, seconds=args.seconds)
    split = cpu.per_booking(before, cpu.snapshot(server_pids), sum(r.requests for r in results))
    failed = report(label, results, warm, bases)
    if split is not None:
        print(f"  {split}")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
