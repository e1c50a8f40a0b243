"""A trailing slash: no route on the NexHealth API (404 in the envelope, never a redirect built
from the client's Host header); the Calendar API's routes match with one, as ASP.NET's do."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from carebook.db.tables import Appointment, Provider
from tests.calendar.helpers import URL, body, future_day, telehealth_clinic
from tests.support import Api, failure, future, iso_z

pytestmark = pytest.mark.anyio


def not_found(method: str, path: str) -> dict[str, object]:
    return failure(f"no route for {method} {path}")


async def count(api: Api, table: type[Any]) -> int:
    async with api.db.read() as session:
        return int((await session.execute(select(func.count()).select_from(table))).scalar_one())


async def test_a_nexhealth_path_with_a_trailing_slash_is_404_in_the_envelope(api: Api) -> None:
    acme = await api.clinic("acme")
    start = future(days=6)
    appt = {
        "patient_id": acme.patient_ids[0],
        "provider_id": acme.provider_ids[0],
        "start_time": iso_z(start),
        "end_time": iso_z(start + timedelta(minutes=30)),
    }
    providers = await count(api, Provider)
    headers = {**acme.auth, "Host": "evil.example"}
    query = f"?subdomain=acme&location_id={acme.location_id}"
    response = await api.client.post(f"/appointments/{query}", json={"appt": appt}, headers=headers)
    assert response.status_code == 404, response.text
    assert "location" not in response.headers
    assert response.json() == not_found("POST", "/appointments/")
    response = await api.client.get("/providers/?subdomain=acme", headers=headers)
    assert (response.status_code, response.json()) == (404, not_found("GET", "/providers/"))
    response = await api.client.post(
        "/providers/?subdomain=acme",
        json={"provider": {"first_name": "A", "last_name": "B"}},
        headers=headers,
    )
    assert (response.status_code, response.json()) == (404, not_found("POST", "/providers/"))
    assert await count(api, Appointment) == 0
    assert await count(api, Provider) == providers
    # Without the slash, the same booking is taken.
    response = await api.client.post(f"/appointments{query}", json={"appt": appt}, headers=headers)
    assert response.status_code == 201, response.text
    assert await count(api, Appointment) == 1


async def test_calendar_routes_still_match_with_a_trailing_slash(api: Api) -> None:
    tele = await telehealth_clinic(api)
    before = await count(api, Appointment)
    start = f"{future_day(12).isoformat()}T10:00:00-05:00"
    response = await api.client.post(URL + "/", json=body(tele, start), headers=tele.auth)
    assert response.status_code == 200, response.text
    assert await count(api, Appointment) == before + 1
    # The slot search matches too: its own 400 (a parameter missing), not a 404 or a redirect.
    response = await api.client.get("/api/calendar/getprovideravailableslots/", headers=tele.auth)
    assert response.status_code == 400, response.text
    assert list(response.json()) == ["Message", "ModelState"]
