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
from sqlalchemy import Table, func, insert, select, text
from sqlalchemy.exc import IntegrityError

from carebook.config import Settings
from carebook.db.repositories import appointments as appointments_repo
from carebook.db.tables import Appointment
from tests.support import Api, Clinic, future, iso_z

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


async def active_count(api: Api, institution_id: int) -> int:
    async with api.db.read() as session:
        result = await session.execute(
            select(func.count())
            .select_from(Appointment)
            .where(Appointment.institution_id == institution_id, Appointment.cancelled.is_(False))
        )
        return int(result.scalar_one())


async def test_concurrent_requests_for_one_slot_give_exactly_one_booking(api: Api) -> None:
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
    assert await active_count(api, clinic.institution_id) == 1


@pytest.mark.postgres_only
async def test_database_refuses_overlap_even_without_the_probe(
    api: Api, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the service's overlap probe switched off, PostgreSQL's exclusion constraint alone
    still lets exactly one of the racing bookings through, and the rest get the same 409."""
    assert settings.async_database_url.startswith("postgresql")
    clinic = await api.clinic(patients=8)

    async def insert_without_probe(session: Any, values: dict[str, Any], **_: Any) -> int:
        await asyncio.sleep(0.01)  # widen the race window
        table = cast(Table, Appointment.__table__)
        result = await session.execute(insert(table).values(values).returning(table.c.id))
        new_id: int = result.scalar_one()
        return new_id

    monkeypatch.setattr(appointments_repo, "insert_if_free", insert_without_probe)
    start = future(days=31)
    url = f"/appointments?subdomain={clinic.subdomain}&location_id={clinic.location_id}"
    responses = await asyncio.gather(
        *(
            api.client.post(url, json=body_for(clinic, start, i), headers=clinic.auth)
            for i in range(8)
        )
    )
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 1, 409: 7}, [r.text for r in responses]
    losers = [r.json() for r in responses if r.status_code == 409]
    assert all(
        body["error"] == ["the requested time overlaps the provider's appointment"]
        for body in losers
    )
    assert await active_count(api, clinic.institution_id) == 1


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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def servers(settings: Settings) -> Iterator[list[str]]:
    """Two separate uvicorn processes on the test database (stateless API processes)."""
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
                    "uvicorn",
                    "carebook.app:app_from_environment",
                    "--factory",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--log-level",
                    "warning",
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
