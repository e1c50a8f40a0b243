"""The demo's telehealth set-up: idempotent, and its body books through the Calendar API."""

from __future__ import annotations

from typing import Any

import pytest

from carebook.config import Settings
from carebook.demo import load_demo
from carebook.demo.telehealth import seed_telehealth
from tests.calendar.helpers import URL, future_day
from tests.support import Api

pytestmark = pytest.mark.anyio


async def test_seed_is_idempotent_and_books(api: Api) -> None:
    clinic = await api.clinic("demo")

    async def seed(session: Any) -> dict[str, str]:
        return await seed_telehealth(session, institution_id=clinic.institution_id)

    first = await api.db.write(seed)
    again = await api.db.write(seed)
    assert first == again
    assert sorted(first) == [
        "AccountId",
        "EncounterTypeId",
        "EncounterTypeModeDurationId",
        "PatientId",
        "ProviderId",
        "ServiceId",
        "SpecialityId",
        "UserId",
    ]
    payload = {**first, "AppointmentOn": f"{future_day()}T15:00:00", "Reason": "Check-up"}
    response = await api.client.post(URL, json=payload, headers=clinic.auth)
    assert response.status_code == 200, response.text
    data = response.json()
    assert (data["Duration"], data["VisitMode"], data["PatientId"]) == (
        30,
        "Video",
        first["PatientId"],
    )


async def test_the_demo_curl_body_books(api: Api, settings: Settings) -> None:
    summary = await load_demo(settings)
    again = await load_demo(settings)
    assert again.telehealth == summary.telehealth
    token = await api.token(summary.api_key)
    response = await api.client.post(
        URL, json=summary.telehealth_body(), headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["VisitMode"] == "Video"


async def test_demo_runs_racing_each_other_load_one_demo_with_one_key(
    api: Api, settings: Settings
) -> None:
    # On PostgreSQL each run used to see no demo yet and create it; all but one then failed
    # on the unique subdomain. Each run here has a database connection of its own.
    import asyncio

    from sqlalchemy import func, select

    from carebook.db.tables import ApiKey, Institution

    summaries = await asyncio.gather(*(load_demo(settings) for _ in range(4)))
    assert sorted(s.created for s in summaries) == [False, False, False, True]
    assert {s.api_key for s in summaries} == {
        (settings.var_dir / "demo_api_key").read_text().strip()
    }
    async with api.db.read() as session:
        demos = await session.scalar(
            select(func.count()).select_from(Institution).where(Institution.subdomain == "demo")
        )
        keys = await session.scalar(select(func.count()).select_from(ApiKey))
    assert (demos, keys) == (1, 1)
