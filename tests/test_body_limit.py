"""Request bodies are limited (``api/kit/body_limit``) before anything reads them.

A ``Content-Length`` over the limit is a 413 at once, before the credentials are checked; a body
without one (chunked) is a 413 as soon as the bytes read pass the limit, whoever reads it (the
express lane or FastAPI); a body of exactly the limit is taken. Each in the API's own error shape.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from carebook.api.kit.body_limit import MAX_BODY_BYTES
from carebook.api.kit.express import MAX_EXPRESS_BODY
from carebook.app import CarebookApp
from carebook.db.tables import Appointment, Provider
from tests.calendar.helpers import URL, body, future_day, telehealth_clinic
from tests.support import Api, Clinic, future, iso_z

pytestmark = pytest.mark.anyio

MESSAGE = f"the request body is larger than {MAX_BODY_BYTES} bytes"
ENVELOPE_413 = {
    "code": False,
    "description": MESSAGE,
    "error": [MESSAGE],
    "data": None,
    "count": None,
}
CALENDAR_413 = {"Message": MESSAGE}


def padded(payload: dict[str, Any], size: int) -> bytes:
    """``payload`` as JSON followed by whitespace, exactly ``size`` bytes long."""
    text = json.dumps(payload).encode()
    assert len(text) < size
    return text + b" " * (size - len(text))


async def in_chunks(content: bytes, size: int) -> AsyncIterator[bytes]:
    """``content`` streamed without a Content-Length (httpx sends it chunked)."""
    for offset in range(0, len(content), size):
        yield content[offset : offset + size]


def nex_url(clinic: Clinic) -> str:
    return f"/appointments?subdomain={clinic.subdomain}&location_id={clinic.location_id}"


def booking(clinic: Clinic, days: int) -> dict[str, Any]:
    start = future(days=days)
    return {
        "appt": {
            "patient_id": clinic.patient_ids[0],
            "provider_id": clinic.provider_ids[0],
            "start_time": iso_z(start),
            "end_time": iso_z(start + timedelta(minutes=30)),
        }
    }


async def count(api: Api, table: Any) -> int:
    async with api.db.read() as session:
        return int((await session.execute(select(func.count()).select_from(table))).scalar_one())


def json_headers(auth: dict[str, str]) -> dict[str, str]:
    return {**auth, "Content-Type": "application/json"}


# --- NexHealth ----------------------------------------------------------------------------------


async def test_a_content_length_over_the_limit_is_413_before_anything_else(api: Api) -> None:
    acme = await api.clinic("acme")
    providers = await count(api, Provider)
    too_large = padded(booking(acme, 3), MAX_BODY_BYTES + 1)
    assert isinstance(api.app, CarebookApp)
    assert api.app.express_router is not None  # the booking POST is the express lane's
    for path, headers in (
        (nex_url(acme), json_headers(acme.auth)),
        (nex_url(acme), {"Content-Type": "application/json"}),  # no token: still 413
        ("/providers?subdomain=acme", json_headers(acme.auth)),
        ("/providers?subdomain=acme", {}),
        ("/nowhere", {}),
    ):
        response = await api.client.post(path, content=too_large, headers=headers)
        assert response.status_code == 413, (path, response.text)
        assert response.json() == ENVELOPE_413
        assert response.headers["content-type"] == "application/json"
    # A GET with a body is limited the same way.
    response = await api.client.request(
        "GET", "/providers?subdomain=acme", content=too_large, headers=acme.auth
    )
    assert (response.status_code, response.json()) == (413, ENVELOPE_413)
    assert await count(api, Appointment) == 0
    assert await count(api, Provider) == providers


@pytest.mark.parametrize("chunk", [10_000, MAX_BODY_BYTES + 10])
async def test_a_chunked_booking_past_the_limit_is_413(api: Api, chunk: int) -> None:
    """Small chunks: the express lane hands over past 64 KiB and FastAPI's read passes the
    limit; one chunk larger than the limit: the lane's own read passes it."""
    acme = await api.clinic("acme")
    content = padded(booking(acme, 4), MAX_BODY_BYTES + 1)
    response = await api.client.post(
        nex_url(acme), content=in_chunks(content, chunk), headers=json_headers(acme.auth)
    )
    assert "content-length" not in response.request.headers
    assert (response.status_code, response.json()) == (413, ENVELOPE_413)
    assert await count(api, Appointment) == 0


async def test_a_chunked_body_past_the_limit_is_413_on_other_routes(api: Api) -> None:
    acme = await api.clinic("acme")
    providers = await count(api, Provider)
    provider = {"provider": {"first_name": "Ada", "last_name": "Lovelace"}}
    content = padded(provider, MAX_BODY_BYTES + 1)
    response = await api.client.post(
        "/providers?subdomain=acme",
        content=in_chunks(content, 64 * 1024),
        headers=json_headers(acme.auth),
    )
    assert (response.status_code, response.json()) == (413, ENVELOPE_413)
    assert await count(api, Provider) == providers


@pytest.mark.parametrize("chunked", [False, True])
async def test_a_booking_of_exactly_the_limit_is_taken(api: Api, chunked: bool) -> None:
    acme = await api.clinic("acme")
    start = future(days=5)
    content = padded(booking(acme, 5), MAX_BODY_BYTES)
    assert len(content) == MAX_BODY_BYTES > MAX_EXPRESS_BODY
    response = await api.client.post(
        nex_url(acme),
        content=in_chunks(content, 100_000) if chunked else content,
        headers=json_headers(acme.auth),
    )
    assert response.status_code == 201, response.text
    assert response.json()["data"]["appt"]["start_time"] == iso_z(start)
    assert await count(api, Appointment) == 1


async def test_a_provider_of_exactly_the_limit_is_taken(api: Api) -> None:
    acme = await api.clinic("acme")
    providers = await count(api, Provider)
    bio = {"notes": ""}
    shell = json.dumps({"provider": {"first_name": "Ada", "last_name": "L", "bio": bio}})
    bio["notes"] = "n" * (MAX_BODY_BYTES - len(shell))
    content = json.dumps({"provider": {"first_name": "Ada", "last_name": "L", "bio": bio}})
    assert len(content) == MAX_BODY_BYTES
    response = await api.client.post(
        "/providers?subdomain=acme", content=content, headers=json_headers(acme.auth)
    )
    assert response.status_code == 201, response.text[:200]
    assert response.json()["data"]["bio"] == bio
    assert await count(api, Provider) == providers + 1


# --- Calendar API -------------------------------------------------------------------------------


def calendar_start(days: int) -> str:
    return f"{future_day(days).isoformat()}T10:00:00-05:00"


async def test_calendar_bodies_over_the_limit_are_413_in_its_shape(api: Api) -> None:
    tele = await telehealth_clinic(api)
    before = await count(api, Appointment)
    content = padded(body(tele, calendar_start(10)), MAX_BODY_BYTES + 1)
    for path in (URL, URL.lower() + "/", f"{URL}_v1"):
        for headers in (json_headers(tele.auth), {"Content-Type": "application/json"}):
            response = await api.client.post(path, content=content, headers=headers)
            assert (response.status_code, response.json()) == (413, CALENDAR_413), path
        for chunk in (10_000, MAX_BODY_BYTES + 10):
            response = await api.client.post(
                path, content=in_chunks(content, chunk), headers=json_headers(tele.auth)
            )
            assert (response.status_code, response.json()) == (413, CALENDAR_413), (path, chunk)
    # The slot search (a GET) too, should a body come with it.
    response = await api.client.request(
        "GET", "/api/Calendar/GetProviderAvailableSlots", content=content, headers=tele.auth
    )
    assert (response.status_code, response.json()) == (413, CALENDAR_413)
    assert await count(api, Appointment) == before


@pytest.mark.parametrize("chunked", [False, True])
async def test_a_calendar_booking_of_exactly_the_limit_is_taken(api: Api, chunked: bool) -> None:
    tele = await telehealth_clinic(api)
    before = await count(api, Appointment)
    content = padded(body(tele, calendar_start(11)), MAX_BODY_BYTES)
    response = await api.client.post(
        URL,
        content=in_chunks(content, 100_000) if chunked else content,
        headers=json_headers(tele.auth),
    )
    assert response.status_code == 200, response.text
    assert await count(api, Appointment) == before + 1


# --- the document -------------------------------------------------------------------------------


async def test_every_operation_documents_413_in_its_shape(api: Api) -> None:
    spec = (await api.client.get("/openapi.json")).json()
    operations = 0
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            operations += 1
            documented = operation["responses"]["413"]
            schema = documented["content"]["application/json"]["schema"]
            if path.startswith("/api/Calendar/"):
                assert schema["required"] == ["Message"], (method, path)
            else:
                assert schema == {"$ref": "#/components/schemas/ErrorEnvelope"}, (method, path)
            assert str(MAX_BODY_BYTES) in documented["description"]
    assert operations > 30
