"""No double booking under concurrency: in one process, across processes, and by the database."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import Any, cast

import httpx
import pytest
from sqlalchemy import Table, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError

from carebook.config import Settings
from carebook.db import database
from carebook.db.repositories import appointments as appointments_repo
from carebook.db.repositories import booking_sql
from carebook.db.tables import Appointment, Location
from tests.support import RACE_TIMEOUT, Api, Clinic, failure, future, gate, iso_z

pytestmark = pytest.mark.anyio


def body_for(clinic: Clinic, start: Any, patient_index: int) -> dict[str, Any]:
    return {
        "appt": {
            "patient_id": clinic.patient_ids[patient_index],
            "provider_id": clinic.provider_ids[0],
            "start_time": iso_z(start),
            "end_time": iso_z(start + timedelta(minutes=30)),
        }
    }


async def stored_ids(api: Api, institution_id: int) -> list[int]:
    """The ids of every appointment row of the institution, cancelled or not."""
    async with api.db.read() as session:
        rows = await session.execute(
            select(Appointment.id)
            .where(Appointment.institution_id == institution_id)
            .order_by(Appointment.id)
        )
        return list(rows.scalars())


async def active_count(api: Api, institution_id: int) -> int:
    async with api.db.read() as session:
        result = await session.execute(
            select(func.count())
            .select_from(Appointment)
            .where(Appointment.institution_id == institution_id, Appointment.cancelled.is_(False))
        )
        return int(result.scalar_one())


async def test_concurrent_requests_for_one_slot_give_exactly_one_booking(api: Api) -> None:
    """Twelve overlapping bookings sent at once. On SQLite this is the serialized case: every
    write transaction is ``BEGIN IMMEDIATE`` behind the writers' lock, so the requests queue and
    each later one finds the first in the way. On PostgreSQL they run side by side, as they
    come (the forced race is the next test's)."""
    clinic = await api.clinic(patients=12)
    start = future(days=30)
    url = f"/appointments?subdomain={clinic.subdomain}&location_id={clinic.location_id}"
    responses = await asyncio.gather(
        *(
            api.client.post(
                url, json=body_for(clinic, start + timedelta(minutes=i), i), headers=clinic.auth
            )
            for i in range(12)
        )
    )
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 1, 409: 11}, [r.text for r in responses]
    winner = next(r for r in responses if r.status_code == 201).json()["data"]["appt"]["id"]
    refused = failure(f"the requested time overlaps the provider's appointment {winner}")
    assert [r.json() for r in responses if r.status_code == 409] == [refused] * 11
    assert await stored_ids(api, clinic.institution_id) == [winner]


class _HeldAtSend:
    """A driver connection or session whose first statement goes to the database only once
    every racer's has reached that point: each booking's own work is done by then, so the
    racing statements reach PostgreSQL back to back."""

    def __init__(self, inner: Any, barrier: asyncio.Barrier) -> None:
        self._inner = inner
        self._barrier: asyncio.Barrier | None = barrier

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def _first(self) -> None:
        if self._barrier is not None:
            barrier, self._barrier = self._barrier, None
            async with asyncio.timeout(RACE_TIMEOUT):
                await barrier.wait()

    async def fetchrow(self, *args: Any) -> Any:
        await self._first()
        return await self._inner.fetchrow(*args)

    async def execute(self, *args: Any, **options: Any) -> Any:
        await self._first()
        return await self._inner.execute(*args, **options)


def _hold_at_send(monkeypatch: Any, module: Any, racers: int, real: Any) -> list[Any]:
    """Run ``real`` in place of ``module.insert_if_free`` with its connection or session held
    at the send (:class:`_HeldAtSend`) until ``racers`` calls have reached it. Returns the
    patients of the calls."""
    barrier = asyncio.Barrier(racers)
    arrived: list[Any] = []

    async def held(conn: Any, values: dict[str, Any], **options: Any) -> Any:
        arrived.append(values["patient_id"])
        return await real(_HeldAtSend(conn, barrier), values, **options)

    monkeypatch.setattr(module, "insert_if_free", held)
    return arrived


@pytest.mark.postgres_only
@pytest.mark.parametrize("notify", [False, True], ids=["driver-path", "session-path"])
async def test_bursts_of_racing_bookings_never_deadlock(
    api: Api, settings: Settings, monkeypatch: pytest.MonkeyPatch, notify: bool
) -> None:
    """Round after round, eight bookings of one slot send their first statement to PostgreSQL
    at once, on the driver path (whose insert makes no probe: the exclusion constraints decide)
    and (``notify_patient=true``) on the session path. Plain racing inserts would deadlock in
    the exclusion check (PostgreSQL breaks that after ``deadlock_timeout``, 1 s, by aborting
    one); the resources' locks (``resource_locks``) make them queue instead. Retries are
    switched off, so a deadlock would answer an error here: every round must give one booking
    and seven 409s naming it, each booking inserting once."""
    assert settings.async_database_url.startswith("postgresql")
    monkeypatch.setattr(database, "MAX_ATTEMPTS", 1)
    module = appointments_repo if notify else booking_sql
    real = module.insert_if_free
    clinic = await api.clinic(patients=8)
    url = f"/appointments?subdomain={clinic.subdomain}&location_id={clinic.location_id}"
    if notify:
        url += "&notify_patient=true"
    winners = []
    for round_ in range(50):
        arrived = _hold_at_send(monkeypatch, module, 8, real)
        start = future(days=40, hour=0) + timedelta(hours=round_)
        responses = await asyncio.gather(
            *(
                api.client.post(url, json=body_for(clinic, start, i), headers=clinic.auth)
                for i in range(8)
            )
        )
        assert sorted(arrived) == sorted(clinic.patient_ids), round_
        statuses = Counter(r.status_code for r in responses)
        assert statuses == {201: 1, 409: 7}, (round_, [r.text for r in responses])
        winner = next(r for r in responses if r.status_code == 201).json()["data"]["appt"]["id"]
        refused = failure(f"the requested time overlaps the provider's appointment {winner}")
        assert [r.json() for r in responses if r.status_code == 409] == [refused] * 7
        winners.append(winner)
    assert await stored_ids(api, clinic.institution_id) == winners


@pytest.mark.postgres_only
@pytest.mark.parametrize("notify", [False, True], ids=["driver-path", "session-path"])
@pytest.mark.parametrize("resource", ["patient_id", "provider_id"])
async def test_a_booking_waits_for_its_resources_locks(
    api: Api, settings: Settings, notify: bool, resource: str
) -> None:
    """While another transaction holds the advisory lock of a booking's patient or provider
    (``resource_locks``: the id times 8 plus the resource's place), the booking waits; once
    that transaction ends, it books. A lock on another provider holds nothing up."""
    assert settings.async_database_url.startswith("postgresql")
    clinic = await api.clinic(patients=2)
    url = f"/appointments?subdomain={clinic.subdomain}&location_id={clinic.location_id}"
    if notify:
        url += "&notify_patient=true"
    body = body_for(clinic, future(days=33), 0)
    place = appointments_repo.LOCKED_RESOURCES.index(resource)
    held = body["appt"][resource] * 8 + place
    other = clinic.provider_ids[1] * 8 + appointments_repo.LOCKED_RESOURCES.index("provider_id")
    async with api.db.write_engine.connect() as holder:
        await holder.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": other})
        await holder.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": held})
        booking = asyncio.ensure_future(api.client.post(url, json=body, headers=clinic.auth))
        done, _ = await asyncio.wait([booking], timeout=1)
        assert not done  # waiting for the lock
        await holder.rollback()
    response = await asyncio.wait_for(booking, RACE_TIMEOUT)
    assert response.status_code == 201, response.text
    # The unrelated lock alone: no wait.
    async with api.db.write_engine.connect() as holder:
        await holder.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": other})
        body = body_for(clinic, future(days=34), 1)
        response = await asyncio.wait_for(
            api.client.post(url, json=body, headers=clinic.auth), RACE_TIMEOUT / 2
        )
        assert response.status_code == 201, response.text
        await holder.rollback()


@pytest.mark.postgres_only
async def test_database_refuses_overlap_even_without_the_probe(
    api: Api, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The session path (``notify_patient=true`` sends a booking there) with its overlap probe
    switched off and a plain insert (no ``ON CONFLICT``), two inserts held until both have
    reached them: PostgreSQL's exclusion constraint alone lets exactly one through, and the
    other gets the 409 that names the constraint's resource (no appointment: the database did
    not say which). Two, not more: plain racing inserts may deadlock (see
    ``guarded_insert``); with two, the one PostgreSQL aborts is retried after the other is in,
    and the constraint refuses it."""
    assert settings.async_database_url.startswith("postgresql")
    clinic = await api.clinic(patients=2)

    async def insert_without_probe(session: Any, values: dict[str, Any], **_: Any) -> int:
        table = cast(Table, Appointment.__table__)
        result = await session.execute(insert(table).values(values).returning(table.c.id))
        new_id: int = result.scalar_one()
        return new_id

    arrived = gate(monkeypatch, appointments_repo, 2, insert_without_probe)
    driver = gate(monkeypatch, booking_sql, 1)  # counts calls: none is expected
    start = future(days=31)
    url = (
        f"/appointments?subdomain={clinic.subdomain}&location_id={clinic.location_id}"
        "&notify_patient=true"
    )
    responses = await asyncio.gather(
        *(
            api.client.post(url, json=body_for(clinic, start, i), headers=clinic.auth)
            for i in range(2)
        )
    )
    assert set(arrived) == set(clinic.patient_ids)
    assert len(arrived) <= 3  # at most one deadlock, and its retry
    assert driver == []
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 1, 409: 1}, [r.text for r in responses]
    winner = next(r for r in responses if r.status_code == 201).json()["data"]["appt"]["id"]
    refused = failure("the requested time overlaps the provider's appointment")
    assert [r.json() for r in responses if r.status_code == 409] == [refused]
    assert await stored_ids(api, clinic.institution_id) == [winner]


@pytest.mark.postgres_only
async def test_exclusion_constraint_rejects_raw_overlapping_insert(
    api: Api, settings: Settings
) -> None:
    assert settings.async_database_url.startswith("postgresql")
    clinic = await api.clinic()
    start = future(days=32)

    def row(patient_index: int, **extra: Any) -> Appointment:
        return Appointment(
            institution_id=clinic.institution_id,
            location_id=clinic.location_id,
            provider_id=clinic.provider_ids[0],
            patient_id=clinic.patient_ids[patient_index],
            start_at=start,
            end_at=start + timedelta(minutes=30),
            **extra,
        )

    async def insert(session: Any, *rows: Appointment) -> None:
        session.add_all(rows)
        await session.flush()

    await api.db.write(lambda s: insert(s, row(0)))
    with pytest.raises(IntegrityError) as caught:
        await api.db.write(lambda s: insert(s, row(1)))
    assert "ex_appointments_provider_overlap" in str(caught.value)
    # Cancelled rows and non-exclusive rows are outside the constraint.
    await api.db.write(lambda s: insert(s, row(1, cancelled=True)))
    async with api.db.read() as session:
        constraints = (
            (
                await session.execute(
                    text("SELECT conname FROM pg_constraint WHERE contype = 'x' ORDER BY conname")
                )
            )
            .scalars()
            .all()
        )
    assert constraints == [
        "ex_appointments_operatory_overlap",
        "ex_appointments_patient_overlap",
        "ex_appointments_provider_overlap",
    ]


@pytest.mark.postgres_only
async def test_provider_constraint_refuses_every_overlap_with_a_row_holding_the_provider_alone(
    api: Api, settings: Settings
) -> None:
    """The constraint expresses the provider rule whole: rows that share the provider (booked
    where overlap is allowed) may overlap each other, but nothing may overlap a row that holds
    the provider alone (a block, or an appointment where overlap is forbidden), nor may such a
    row overlap anything of theirs. Written past the service, so only the database decides."""
    assert settings.async_database_url.startswith("postgresql")
    clinic = await api.clinic(patients=5)
    start = future(days=34)

    def row(patient_index: int | None, **extra: Any) -> Appointment:
        return Appointment(
            institution_id=clinic.institution_id,
            location_id=clinic.location_id,
            provider_id=clinic.provider_ids[0],
            patient_id=None if patient_index is None else clinic.patient_ids[patient_index],
            start_at=start,
            end_at=start + timedelta(minutes=30),
            **extra,
        )

    async def add(*rows: Appointment) -> None:
        async def work(session: Any) -> None:
            session.add_all(rows)
            await session.flush()

        await api.db.write(work)

    async def refused(candidate: Appointment) -> None:
        with pytest.raises(IntegrityError) as caught:
            await add(candidate)
        assert "ex_appointments_provider_overlap" in str(caught.value)

    shared = [row(0, provider_exclusive=False), row(1, provider_exclusive=False)]
    await add(*shared)
    await refused(row(2))  # an appointment holding the provider alone
    await refused(row(None, unavailable=True))  # a block
    async with api.db.read() as session:
        ids = (
            await session.execute(
                select(Appointment.id).where(Appointment.institution_id == clinic.institution_id)
            )
        ).scalars()
        assert sorted(ids) == sorted(r.id for r in shared)
    # Once the shared rows are cancelled, one holding the provider alone fits, and then a
    # shared row may not overlap it.
    await api.db.write(
        lambda s: s.execute(
            update(Appointment)
            .where(Appointment.institution_id == clinic.institution_id)
            .values(cancelled=True)
        )
    )
    await add(row(2))
    await refused(row(3, provider_exclusive=False))


@pytest.mark.postgres_only
async def test_a_block_and_shared_appointments_racing_leave_no_overlap(
    api: Api, settings: Settings
) -> None:
    """Where the location allows provider overlap, appointments share the provider but a block
    holds them alone. Racing a block against appointments for the same time, whichever commits
    first wins: never a block and an appointment together."""
    assert settings.async_database_url.startswith("postgresql")
    clinic = await api.clinic(patients=7)
    await api.db.write(
        lambda s: s.execute(
            update(Location)
            .where(Location.id == clinic.location_id)
            .values(allow_provider_overlap=True)
        )
    )
    start = future(days=35)
    url = f"/appointments?subdomain={clinic.subdomain}&location_id={clinic.location_id}"
    block = {
        "appt": {
            "provider_id": clinic.provider_ids[0],
            "unavailable": True,
            "start_time": iso_z(start),
            "end_time": iso_z(start + timedelta(minutes=30)),
        }
    }
    bodies = [block, *(body_for(clinic, start, i) for i in range(7))]
    responses = await asyncio.gather(
        *(api.client.post(url, json=body, headers=clinic.auth) for body in bodies)
    )
    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {201, 409}, [r.text for r in responses]
    if statuses[0] == 201:
        assert statuses[1:] == [409] * 7
    else:
        assert statuses[1:] == [201] * 7
    async with api.db.read() as session:
        rows = (
            await session.execute(
                select(Appointment.unavailable).where(
                    Appointment.institution_id == clinic.institution_id
                )
            )
        ).scalars()
        assert Counter(rows) == ({True: 1} if statuses[0] == 201 else {False: 7})


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def servers(settings: Settings) -> Iterator[list[str]]:
    """Two separate ``carebook serve`` processes on the test database (stateless API processes)."""
    env = {
        **os.environ,
        "CAREBOOK_DATABASE_URL": settings.database_url,
        "CAREBOOK_SECRET_KEY": settings.secret_key or "",
        "CAREBOOK_VAR_DIR": str(settings.var_dir),
        "CAREBOOK_LOG_LEVEL": "warning",
    }
    procs = []
    urls = []
    for _ in range(2):
        port = _free_port()
        procs.append(
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
                ],
                env=env,
            )
        )
        urls.append(f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 30
        for base in urls:
            while True:
                try:
                    httpx.get(base + "/openapi.json", timeout=1)
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
        yield urls
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=10)


@pytest.mark.slow
async def test_one_slot_across_two_server_processes(api: Api, servers: list[str]) -> None:
    clinic = await api.clinic(patients=16)
    start = future(days=33)
    path = f"/appointments?subdomain={clinic.subdomain}&location_id={clinic.location_id}"
    async with httpx.AsyncClient(timeout=30) as client:
        responses = await asyncio.gather(
            *(
                client.post(
                    servers[i % 2] + path, json=body_for(clinic, start, i), headers=clinic.auth
                )
                for i in range(16)
            )
        )
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 1, 409: 15}, [r.text for r in responses]
    assert await active_count(api, clinic.institution_id) == 1
