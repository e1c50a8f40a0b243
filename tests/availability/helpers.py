"""Shared helpers for the availability HTTP tests."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from carebook.core.availability import service
from carebook.core.availability.slots import Slot, find_slots
from carebook.db.tables import Appointment, LocationClosure, WorkingHour
from tests.support import Api, Clinic

WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]
EVERY_DAY = [*WEEKDAYS, "Saturday", "Sunday"]


def engine_runs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of slots each run of the slot engine makes in the search service, in order."""
    made: list[int] = []

    def counted(*args: Any, **kwargs: Any) -> list[Slot]:
        found = find_slots(*args, **kwargs)
        made.append(len(found))
        return found

    monkeypatch.setattr(service, "find_slots", counted)
    return made


def next_weekday(weekday: int, *, after_days: int = 7) -> date:
    """The first date at least ``after_days`` from today (UTC) falling on ``weekday``."""
    day = datetime.now(UTC).date() + timedelta(days=after_days)
    return day + timedelta(days=(weekday - day.weekday()) % 7)


def wh_body(clinic: Clinic, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "provider_id": clinic.provider_ids[0],
        "begin_time": "09:00",
        "end_time": "17:00",
        "days": WEEKDAYS,
    }
    body.update(fields)
    return {"working_hour": {k: v for k, v in body.items() if v is not None}}


async def add_hours(
    api: Api,
    clinic: Clinic,
    *,
    location_id: int,
    provider_id: int,
    begin: str = "09:00",
    end: str = "17:00",
    days: list[str] | None = None,
    specific_date: date | None = None,
    operatory_id: int | None = None,
) -> int:
    """A working hour written straight to the database (set-up, not under test)."""

    async def work(session: AsyncSession) -> int:
        hour = WorkingHour(
            institution_id=clinic.institution_id,
            location_id=location_id,
            provider_id=provider_id,
            operatory_id=operatory_id,
            begin_time=begin,
            end_time=end,
            days=None if specific_date else (days or WEEKDAYS),
            specific_date=specific_date,
            active=True,
        )
        session.add(hour)
        await session.flush()
        return hour.id

    return await api.db.write(work)


async def add_appointment(
    api: Api,
    clinic: Clinic,
    *,
    location_id: int,
    start: datetime,
    minutes: int,
    provider_id: int | None = None,
    operatory_id: int | None = None,
    patient_id: int | None = None,
    unavailable: bool = False,
    cancelled: bool = False,
    provider_exclusive: bool = True,
) -> int:
    async def work(session: AsyncSession) -> int:
        row = Appointment(
            institution_id=clinic.institution_id,
            location_id=location_id,
            provider_id=provider_id,
            operatory_id=operatory_id,
            patient_id=patient_id,
            start_at=start,
            end_at=start + timedelta(minutes=minutes),
            unavailable=unavailable,
            cancelled=cancelled,
            provider_exclusive=provider_exclusive,
        )
        session.add(row)
        await session.flush()
        return row.id

    return await api.db.write(work)


async def add_closure(
    api: Api, clinic: Clinic, *, location_id: int, start: date, end: date
) -> None:
    async def work(session: AsyncSession) -> None:
        session.add(
            LocationClosure(
                institution_id=clinic.institution_id,
                location_id=location_id,
                start_date=start,
                end_date=end,
            )
        )

    await api.db.write(work)


async def slots(api: Api, clinic: Clinic, **params: Any) -> Any:
    query: dict[str, Any] = {"subdomain": clinic.subdomain, **params}
    response = await api.client.get("/available_slots", params=query, headers=clinic.auth)
    return response


def times(group: dict[str, Any]) -> list[str]:
    return [s["time"] for s in group["slots"]]
