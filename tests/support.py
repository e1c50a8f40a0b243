"""Test helpers: an HTTP client with auth shortcuts, and a clinic built straight in the database.

Set-up writes rows directly (fast, and independent of the endpoints under test); everything a test
asserts goes through HTTP, plus reads of the database state where the test is about that state.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from carebook.api.kit.state import AppState
from carebook.app import create_app
from carebook.config import Settings
from carebook.core.tenancy import create_api_key
from carebook.db.database import Database
from carebook.db.repositories import appointments as appointments_repo
from carebook.db.tables import (
    AppointmentType,
    Institution,
    Location,
    Operatory,
    Patient,
    Provider,
    ProviderLocation,
)

ADMIN_KEY = "admin-test-key-long-enough-for-the-32-character-rule"

RACE_TIMEOUT = 20  # seconds: a request that never reaches the gate fails the test, never hangs


def failure(message: str) -> dict[str, Any]:
    """The NexHealth envelope of a refusal with one message."""
    return {"code": False, "description": message, "error": [message], "data": None, "count": None}


def gate(monkeypatch: Any, module: Any, racers: int, insert: Any = None) -> list[Any]:
    """Replace ``module.insert_if_free`` (or run ``insert`` in its place) behind a barrier: the
    first ``racers`` calls wait until all of them have arrived, so their inserts race for real;
    later calls (a retry) pass straight through. Returns the patients of the calls, in order of
    arrival."""
    real = insert or module.insert_if_free
    barrier = asyncio.Barrier(racers)
    arrived: list[Any] = []

    async def gated(conn: Any, values: dict[str, Any], **options: Any) -> Any:
        arrived.append(values["patient_id"])
        if len(arrived) <= racers:
            async with asyncio.timeout(RACE_TIMEOUT):
                await barrier.wait()
        return await real(conn, values, **options)

    monkeypatch.setattr(module, "insert_if_free", gated)
    return arrived


@dataclass
class Clinic:
    """One institution with the usual furniture; ids are the database ids."""

    subdomain: str
    institution_id: int
    api_key: str
    token: str
    location_id: int  # America/New_York, books by provider (no operatory needed)
    op_location_id: int  # Europe/Berlin, maps by operatory
    provider_ids: list[int] = field(default_factory=list)
    operatory_ids: list[int] = field(default_factory=list)  # at op_location_id
    patient_ids: list[int] = field(default_factory=list)
    appointment_type_id: int = 0  # 30 minutes

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class Api:
    client: httpx.AsyncClient
    app: FastAPI

    @property
    def db(self) -> Database:
        state: AppState = self.app.state.carebook
        return state.db

    async def token(self, api_key: str) -> str:
        response = await self.client.post("/authenticates", headers={"Authorization": api_key})
        assert response.status_code == 201, response.text
        token: str = response.json()["data"]["token"]
        return token

    async def admin_auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {await self.token(ADMIN_KEY)}"}

    async def clinic(
        self, subdomain: str = "acme", *, providers: int = 2, patients: int = 3
    ) -> Clinic:
        async def build(session: AsyncSession) -> dict[str, Any]:
            institution = Institution(name=f"{subdomain.title()} Dental", subdomain=subdomain)
            session.add(institution)
            await session.flush()
            iid = institution.id
            ny = Location(institution_id=iid, name="Downtown", tz="America/New_York")
            berlin = Location(
                institution_id=iid, name="Berlin", tz="Europe/Berlin", map_by_operatory=True
            )
            session.add_all([ny, berlin])
            await session.flush()
            provs = [
                Provider(
                    institution_id=iid,
                    first_name=f"Pat{i}",
                    last_name="Doctor",
                    email=f"doc{i}@{subdomain}.test",
                )
                for i in range(providers)
            ]
            session.add_all(provs)
            await session.flush()
            for p in provs:
                for loc in (ny, berlin):
                    session.add(
                        ProviderLocation(institution_id=iid, provider_id=p.id, location_id=loc.id)
                    )
            ops = [
                Operatory(institution_id=iid, location_id=berlin.id, name=f"Chair {i + 1}")
                for i in range(2)
            ]
            pats = [
                Patient(
                    institution_id=iid,
                    location_id=ny.id,
                    first_name=f"Pat{i}",
                    last_name="Patient",
                    email=f"patient{i}@{subdomain}.test",
                    date_of_birth=date(1980, 1, 1 + i),
                    phone_number=f"555000{i:04d}",
                    gender="Female",
                    bio={"date_of_birth": f"1980-01-{1 + i:02d}", "phone_number": f"555000{i:04d}"},
                )
                for i in range(patients)
            ]
            appt_type = AppointmentType(institution_id=iid, name="Cleaning", minutes=30)
            session.add_all([*ops, *pats, appt_type])
            await session.flush()
            key = await create_api_key(session, subdomains=[subdomain])
            return {
                "iid": iid,
                "key": key,
                "ny": ny.id,
                "berlin": berlin.id,
                "providers": [p.id for p in provs],
                "ops": [o.id for o in ops],
                "patients": [p.id for p in pats],
                "type": appt_type.id,
            }

        made = await self.db.write(build)
        return Clinic(
            subdomain=subdomain,
            institution_id=made["iid"],
            api_key=made["key"],
            token=await self.token(made["key"]),
            location_id=made["ny"],
            op_location_id=made["berlin"],
            provider_ids=made["providers"],
            operatory_ids=made["ops"],
            patient_ids=made["patients"],
            appointment_type_id=made["type"],
        )


def future(days: int = 7, hour: int = 15, minute: int = 0) -> datetime:
    """A UTC instant ``days`` ahead at ``hour:minute`` UTC (always in the future)."""
    base = datetime.now(UTC).replace(hour=hour, minute=minute, second=0, microsecond=0)
    return base + timedelta(days=days)


def iso_z(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


async def book(
    api: Api, clinic: Clinic, start: Any, patient: int = 0, provider: int = 0, **fields: Any
) -> int:
    """Book the clinic's patient with its provider (by index) for 30 minutes from ``start``
    through ``POST /appointments``, with any other ``appt`` ``fields``; the new id."""
    response = await api.client.post(
        f"/appointments?subdomain={clinic.subdomain}&location_id={clinic.location_id}",
        json={
            "appt": {
                "patient_id": clinic.patient_ids[patient],
                "provider_id": clinic.provider_ids[provider],
                "start_time": iso_z(start),
                "end_time": iso_z(start + timedelta(minutes=30)),
                **fields,
            }
        },
        headers=clinic.auth,
    )
    assert response.status_code == 201, response.text
    appointment_id: int = response.json()["data"]["appt"]["id"]
    return appointment_id


def next_dst_change(tz_name: str, *, forward: bool) -> date:
    """The next local date (after tomorrow) on which ``tz_name`` springs forward / falls back."""
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(tz_name)
    day = datetime.now(UTC).date() + timedelta(days=2)
    for _ in range(800):
        before = datetime(day.year, day.month, day.day, 0, 0, tzinfo=tz).utcoffset()
        nxt = day + timedelta(days=1)
        after = datetime(nxt.year, nxt.month, nxt.day, 0, 0, tzinfo=tz).utcoffset()
        assert before is not None
        assert after is not None
        if after != before and (after > before) == forward:
            return day
        day = nxt
    raise AssertionError(f"no DST change found for {tz_name}")


def nested(levels: int) -> Any:
    """A 1 inside ``levels`` arrays, each inside the next: JSON nested ``levels`` deep."""
    value: Any = 1
    for _ in range(levels):
        value = [value]
    return value


def nested_text(levels: int) -> str:
    """:func:`nested` as JSON text, written without recursion (for depths ``json`` refuses)."""
    return "[" * levels + "1" + "]" * levels


class OtherProcess:
    """Another app on the same database: its own pools and its own kept reads."""

    def __init__(self, settings: Settings) -> None:
        self.app = create_app(settings)

    async def __aenter__(self) -> httpx.AsyncClient:
        self._lifespan = self.app.router.lifespan_context(self.app)
        await self._lifespan.__aenter__()
        transport = httpx.ASGITransport(app=self.app)
        self._client = httpx.AsyncClient(transport=transport, base_url="http://carebook.test")
        return self._client

    async def __aexit__(self, *exc: object) -> None:
        await self._client.aclose()
        await self._lifespan.__aexit__(None, None, None)

    @property
    def db(self) -> Any:
        return self.app.state.carebook.db


async def reference_version(db: Database, institution_id: int) -> int:
    """The institution's reference version now (0 before its first change)."""
    async with db.read() as session:
        return await appointments_repo.current_reference_version(
            session, institution_id=institution_id
        )
