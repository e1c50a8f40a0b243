"""A database outage is a 503 in each API's own error shape, with Retry-After; never a 500.

An outage (the server down or restarting, the connections used up, SQLite's write lock held too
long by another process) is not a bug in the request or in Carebook: the client is told to try
again, the log gets a warning without a traceback, and nothing is half-written.
"""

from __future__ import annotations

import logging
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from carebook.app import create_app
from carebook.config import Settings
from carebook.core.auth import Principal, issue_token
from carebook.db import database
from carebook.db.repositories import booking_sql
from carebook.db.tables import Appointment
from tests.calendar.helpers import URL as CALENDAR_URL
from tests.calendar.helpers import body as calendar_body
from tests.calendar.helpers import telehealth_clinic
from tests.support import Api, future, iso_z

pytestmark = pytest.mark.anyio

MESSAGE = "The database is unavailable; try again shortly."
ENVELOPE_503 = {
    "code": False,
    "description": MESSAGE,
    "error": [MESSAGE],
    "data": None,
    "count": None,
}


def assert_nexhealth_503(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "1"
    assert response.json() == ENVELOPE_503


def assert_calendar_503(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "1"
    assert response.json() == {"Message": MESSAGE}


def nexhealth_booking(patient_id: int, provider_id: int, start: datetime) -> dict[str, Any]:
    return {
        "appt": {
            "patient_id": patient_id,
            "provider_id": provider_id,
            "start_time": iso_z(start),
            "end_time": iso_z(start + timedelta(minutes=30)),
        }
    }


async def test_a_database_that_cannot_be_reached_answers_503_on_every_path(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Nothing listens on port 1: every connection attempt is refused.
    settings = Settings(
        database_url="postgresql://postgres@127.0.0.1:1/carebook",
        secret_key="outage-test-secret-key-long-enough-for-hs256",
        var_dir=tmp_path / "var",
    )
    principal = Principal(key_id=1, is_admin=False, institutions=(("acme", 1),))
    token = issue_token(
        principal,
        secret=settings.secret_key or "",
        now=datetime.now(UTC),
        ttl=timedelta(hours=1),
    )
    auth = {"Authorization": f"Bearer {token}"}
    app = create_app(settings)
    caplog.set_level(logging.WARNING)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://carebook.test") as c:
            # FastAPI routes, read and write.
            assert_nexhealth_503(await c.post("/authenticates", headers={"Authorization": "k"}))
            assert_nexhealth_503(await c.get("/appointments/1?subdomain=acme", headers=auth))
            response = await c.post(
                "/locations?subdomain=acme",
                headers=auth,
                json={"location": {"name": "Uptown", "tz": "America/New_York"}},
            )
            assert_nexhealth_503(response)
            # The express lanes (JSON booking bodies) and the Calendar route (a form body).
            booking = nexhealth_booking(1, 1, future(days=3))
            assert_nexhealth_503(
                await c.post(
                    "/appointments?subdomain=acme&location_id=1", headers=auth, json=booking
                )
            )
            calendar = {
                "AccountId": "11111111-1111-4111-8111-111111111111",
                "UserId": "22222222-2222-4222-8222-222222222222",
                "AppointmentOn": iso_z(future(days=3)),
                "Reason": "Cough",
            }
            assert_calendar_503(await c.post(CALENDAR_URL, headers=auth, json=calendar))
            assert_calendar_503(await c.post(CALENDAR_URL, headers=auth, data=calendar))
    records = [r for r in caplog.records if r.name.startswith("carebook")]
    assert records, "an outage is logged"
    assert {r.levelno for r in records} == {logging.WARNING}  # not as a bug
    assert all(r.exc_info is None for r in records)
    assert all(r.getMessage().startswith("database unavailable: ") for r in records)


@pytest.mark.postgres_only
async def test_connections_cut_by_a_server_restart_answer_503_then_recover(api: Api) -> None:
    clinic = await api.clinic()
    path = f"/appointments?subdomain={clinic.subdomain}&location_id={clinic.location_id}"
    start = future(days=3)
    booked = 0
    first_id = 0
    for i in range(3):  # warm the pool
        response = await api.client.post(
            path,
            headers=clinic.auth,
            json=nexhealth_booking(clinic.patient_ids[i], clinic.provider_ids[0], start),
        )
        assert response.status_code == 201, response.text
        first_id = first_id or response.json()["data"]["appt"]["id"]
        booked += 1
        start += timedelta(hours=1)
    # What a server restart does to every open connection.
    url = make_url(api.db.url)
    admin = await asyncpg.connect(
        host=url.host, port=url.port, user=url.username, database=url.database
    )
    try:
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    finally:
        await admin.close()
    outages = 0
    for _attempt in range(10):
        response = await api.client.post(
            path,
            headers=clinic.auth,
            json=nexhealth_booking(clinic.patient_ids[0], clinic.provider_ids[0], start),
        )
        if response.status_code == 201:
            booked += 1
            break
        assert_nexhealth_503(response)
        outages += 1
    else:
        pytest.fail("still unavailable after every pooled connection was replaced")
    # At most one per pooled connection (pool_size=5); none when the connections driver work
    # keeps were seen closed before use (asyncpg reads the server's goodbye).
    assert outages <= 5
    # Reads through the session path recover too.
    for _ in range(6):
        response = await api.client.get(
            f"/appointments/{first_id}?subdomain={clinic.subdomain}", headers=clinic.auth
        )
        if response.status_code == 200:
            break
        assert_nexhealth_503(response)
    assert response.status_code == 200, response.text
    async with api.db.read() as session:
        count = await session.scalar(select(func.count()).select_from(Appointment))
    assert count == booked  # the refused attempts wrote nothing


async def test_the_write_lock_held_too_long_by_another_process_answers_503(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not api.db.is_sqlite:
        pytest.skip("SQLite's write lock")
    tele = await telehealth_clinic(api)
    clinic = tele.clinic
    monkeypatch.setattr(database, "LOCKED_PATIENCE_SECONDS", 0.2)
    path = f"/appointments?subdomain={clinic.subdomain}&location_id={clinic.location_id}"
    booking = nexhealth_booking(clinic.patient_ids[0], clinic.provider_ids[0], future(days=3))
    calendar = calendar_body(tele, iso_z(future(days=4)))
    async with api.db.read() as session:
        before = await session.scalar(select(func.count()).select_from(Appointment))
    other_process = sqlite3.connect(make_url(api.db.url).database or "", isolation_level=None)
    try:
        other_process.execute("BEGIN IMMEDIATE")
        assert_nexhealth_503(await api.client.post(path, headers=clinic.auth, json=booking))
        assert_calendar_503(await api.client.post(CALENDAR_URL, headers=tele.auth, json=calendar))
        other_process.execute("ROLLBACK")
    finally:
        other_process.close()
    async with api.db.read() as session:
        assert await session.scalar(select(func.count()).select_from(Appointment)) == before
    # The same requests, sent again, book.
    assert (await api.client.post(path, headers=clinic.auth, json=booking)).status_code == 201
    response = await api.client.post(CALENDAR_URL, headers=tele.auth, json=calendar)
    assert response.status_code == 200, response.text


async def test_deadlocks_past_the_last_retry_answer_503(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every try of the booking's insert meets PostgreSQL's deadlock_detected (raised by the
    server itself): each request is tried ``MAX_ATTEMPTS`` times, then answered 503 with
    Retry-After in its API's shape, not 500; nothing is written, and the same requests book
    once the contention is gone."""
    if api.db.is_sqlite:
        pytest.skip("PostgreSQL's deadlock_detected")
    tele = await telehealth_clinic(api)
    clinic = tele.clinic
    real = booking_sql.insert_if_free
    tries: list[int] = []

    async def deadlocked(conn: Any, values: dict[str, Any], **_: Any) -> Any:
        tries.append(values["patient_id"])
        return await conn.fetchrow(
            "DO $$ BEGIN RAISE EXCEPTION 'deadlock detected' USING ERRCODE = '40P01'; END $$", []
        )

    monkeypatch.setattr(booking_sql, "insert_if_free", deadlocked)
    path = f"/appointments?subdomain={clinic.subdomain}&location_id={clinic.location_id}"
    booking = nexhealth_booking(clinic.patient_ids[0], clinic.provider_ids[0], future(days=3))
    calendar = calendar_body(tele, iso_z(future(days=4)))
    contended = "The database is busy with conflicting requests; try again shortly."
    async with api.db.read() as session:
        before = await session.scalar(select(func.count()).select_from(Appointment))
    response = await api.client.post(path, headers=clinic.auth, json=booking)
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "1"
    assert response.json() == {
        "code": False,
        "description": contended,
        "error": [contended],
        "data": None,
        "count": None,
    }
    response = await api.client.post(CALENDAR_URL, headers=tele.auth, json=calendar)
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "1"
    assert response.json() == {"Message": contended}
    assert len(tries) == 2 * database.MAX_ATTEMPTS
    async with api.db.read() as session:
        assert await session.scalar(select(func.count()).select_from(Appointment)) == before
    monkeypatch.setattr(booking_sql, "insert_if_free", real)
    assert (await api.client.post(path, headers=clinic.auth, json=booking)).status_code == 201
    response = await api.client.post(CALENDAR_URL, headers=tele.auth, json=calendar)
    assert response.status_code == 200, response.text


def test_what_counts_as_an_outage() -> None:
    def wrapped(error: Exception) -> DBAPIError:
        return DBAPIError("SELECT 1", None, error)

    outages: list[BaseException] = [
        ConnectionRefusedError(111, "Connect call failed"),
        TimeoutError(),
        PoolTimeout("QueuePool limit of size 5 overflow 5 reached"),
        asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
        asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already"),
        asyncpg.exceptions.AdminShutdownError("terminating connection"),
        asyncpg.exceptions.InvalidCatalogNameError('database "carebook" does not exist'),
        asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"),
        asyncpg.exceptions.InterfaceError("cannot call Connection.fetch(): connection is closed"),
        asyncpg.exceptions.InternalClientError("cannot switch to state 12; another operation"),
        wrapped(asyncpg.exceptions.DiskFullError("could not extend file")),
        OperationalError(None, None, sqlite3.OperationalError("database is locked")),
        OperationalError(None, None, sqlite3.OperationalError("disk I/O error")),
        sqlite3.OperationalError("unable to open database file"),
        sqlite3.OperationalError("database or disk is full"),
        sqlite3.OperationalError("attempt to write a readonly database"),
    ]
    bugs: list[BaseException] = [
        ValueError("bad"),
        wrapped(asyncpg.exceptions.UndefinedColumnError('column "x" does not exist')),
        wrapped(asyncpg.exceptions.SerializationError("could not serialize access")),
        IntegrityError(None, None, asyncpg.exceptions.ExclusionViolationError("overlap")),
        OperationalError(None, None, sqlite3.OperationalError("no such table: x")),
        asyncpg.exceptions.InterfaceError("the server expects 2 arguments, 1 was passed"),
    ]
    assert [e for e in outages if not database.is_outage(e)] == []
    assert [e for e in bugs if database.is_outage(e)] == []
    invalidated = wrapped(RuntimeError("gone"))
    invalidated.connection_invalidated = True
    assert database.is_outage(invalidated)
