"""Each process keeps the booking contexts it read and books from them again
(``carebook.db.context_cache``) only while the institution's reference version is unchanged.

A change committed through another process (another app on the same database, with its own
kept reads) must be seen by the very next booking here: the answer is the one a process that
never kept anything gives. ``is_past_patient`` is never kept. Every table the context reads
bumps the version, by trigger, whoever writes it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, func, select, text, update

from carebook.config import Settings
from carebook.db.context_cache import ContextCache
from carebook.db.repositories import booking_sql
from carebook.db.tables import (
    Appointment,
    AppointmentType,
    LocationClosure,
    Patient,
    Provider,
    ProviderLocation,
    WorkingHour,
    WorkingHourAppointmentType,
)
from tests.appointments.test_create import count_appointments
from tests.appointments.test_past_patient import add_past, stored_past_patient
from tests.support import Api, Clinic, OtherProcess, future, iso_z, reference_version

pytestmark = pytest.mark.anyio

ALL_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


async def book(
    client: httpx.AsyncClient, clinic: Clinic, hour: int, minute: int = 0
) -> httpx.Response:
    start = future(days=7, hour=hour, minute=minute)  # 14:00-17:00 UTC: one New York day
    appt = {
        "patient_id": clinic.patient_ids[0],
        "provider_id": clinic.provider_ids[0],
        "start_time": iso_z(start),
        "end_time": iso_z(start + timedelta(minutes=30)),
        "appointment_type_id": clinic.appointment_type_id,
    }
    return await client.post(
        f"/appointments?subdomain={clinic.subdomain}&location_id={clinic.location_id}",
        json={"appt": appt},
        headers=clinic.auth,
    )


def count_context_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One entry per context statement the driver path runs."""
    reads: list[int] = []
    real = booking_sql.load_booking_context

    async def counted(*args: Any, **kwargs: Any) -> Any:
        reads.append(1)
        return await real(*args, **kwargs)

    monkeypatch.setattr(booking_sql, "load_booking_context", counted)
    return reads


def _day() -> date:
    return (future(days=7, hour=15) - timedelta(hours=5)).date()  # New York's date then


Change = Callable[[Clinic], Any]

CHANGES: dict[str, Change] = {
    "provider made inactive": lambda c: (
        update(Provider).where(Provider.id == c.provider_ids[0]).values(inactive=True)
    ),
    "patient made inactive": lambda c: (
        update(Patient).where(Patient.id == c.patient_ids[0]).values(inactive=True)
    ),
    "appointment type deleted": lambda c: (
        update(AppointmentType)
        .where(AppointmentType.id == c.appointment_type_id)
        .values(deleted=True)
    ),
    "provider no longer at the location": lambda c: delete(ProviderLocation).where(
        ProviderLocation.provider_id == c.provider_ids[0],
        ProviderLocation.location_id == c.location_id,
    ),
}


@pytest.mark.parametrize("change", sorted(CHANGES))
async def test_a_change_made_elsewhere_is_seen_by_the_next_booking(
    api: Api, other: OtherProcess, settings: Settings, change: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    clinic = await api.clinic()
    reads = count_context_reads(monkeypatch)
    assert (await book(api.client, clinic, 15)).status_code == 201
    assert len(api.db.booking_contexts) == 1  # kept: the next booking starts from it
    statement = CHANGES[change](clinic)
    await other.db.write(lambda session: session.execute(statement))

    kept = await book(api.client, clinic, 17)
    # What a process that never booked here answers to the same request.
    async with OtherProcess(settings) as fresh:
        truth = await book(fresh, clinic, 17)
    assert kept.status_code == (404 if change == "appointment type deleted" else 400)
    assert (kept.status_code, kept.json()) == (truth.status_code, truth.json())
    # Here the first booking's read and the one after the kept read was refused; the fresh
    # process's own.
    assert len(reads) == 3
    async with api.db.read() as session:
        booked = (await session.execute(select(func.count()).select_from(Appointment))).scalar()
    assert booked == 1


def daily_hours(clinic: Clinic, begin: str, end: str) -> WorkingHour:
    """The first provider's hours at the New York location, every day (local times)."""
    return WorkingHour(
        institution_id=clinic.institution_id,
        location_id=clinic.location_id,
        provider_id=clinic.provider_ids[0],
        begin_time=begin,
        end_time=end,
        days=ALL_DAYS,
    )


async def _add(db: Any, *rows: Any) -> None:
    async def work(session: Any) -> None:
        session.add_all(rows)
        await session.flush()

    await db.write(work)


@pytest.mark.parametrize("kind", ["working hours", "closure"])
async def test_hours_and_closures_set_elsewhere_are_kept_to(
    api: Api, other: OtherProcess, settings: Settings, kind: str
) -> None:
    clinic = await api.clinic()
    assert (await book(api.client, clinic, 15)).status_code == 201
    if kind == "working hours":
        # 08:00-09:00 in New York every day: 17:00 UTC is outside.
        row: Any = daily_hours(clinic, "08:00", "09:00")
    else:
        row = LocationClosure(
            institution_id=clinic.institution_id,
            location_id=clinic.location_id,
            start_date=_day(),
            end_date=_day(),
        )
    await _add(other.db, row)

    kept = await book(api.client, clinic, 17)
    async with OtherProcess(settings) as fresh:
        truth = await book(fresh, clinic, 17)
    assert kept.status_code == 409
    assert (kept.status_code, kept.json()) == (truth.status_code, truth.json())


async def test_a_refusal_by_a_kept_read_is_decided_again_on_a_fresh_one(
    api: Api, other: OtherProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Hours widened elsewhere: the kept read says the time is outside them, the database
    says it is inside, and the database is right."""
    clinic = await api.clinic()
    hour = daily_hours(clinic, "06:00", "11:00")
    await _add(api.db, hour)
    reads = count_context_reads(monkeypatch)
    assert (await book(api.client, clinic, 14)).status_code == 201  # 09:00 or 10:00 in New York
    assert len(api.db.booking_contexts) == 1

    async def widen(session: Any) -> None:
        await session.execute(
            update(WorkingHour).where(WorkingHour.id == hour.id).values(end_time="20:00")
        )

    await other.db.write(widen)
    later = await book(api.client, clinic, 17)  # 12:00 or 13:00 in New York
    assert later.status_code == 201, later.text
    assert len(reads) == 2  # the kept read refused; the fresh one booked


async def test_a_kept_read_works_out_each_local_day_it_books(
    api: Api, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One kept read serves a UTC day, which spans two of New York's local days: the hours
    worked out for one local day (kept with the read) are not those of the other."""
    clinic = await api.clinic()
    day = future(days=7, hour=0).date()  # the UTC date of every booking here
    before, on = (day - timedelta(days=1)).strftime("%A"), day.strftime("%A")
    evenings = daily_hours(clinic, "18:00", "21:00")
    evenings.days = [before]
    mornings = daily_hours(clinic, "08:00", "11:00")
    mornings.days = [on]
    await _add(api.db, evenings, mornings)
    reads = count_context_reads(monkeypatch)

    async def book_at(client: httpx.AsyncClient, hour: int) -> httpx.Response:
        assert future(days=7, hour=hour, minute=30).date() == day
        return await book(client, clinic, hour, 30)

    # 00:30 UTC is the evening before in New York (19:30 or 20:30); 13:30 UTC that morning
    # (08:30 or 09:30): both inside that day's hours, and both from the one read.
    assert (await book_at(api.client, 0)).status_code == 201
    assert (await book_at(api.client, 13)).status_code == 201
    assert len(reads) == 1
    assert len(api.db.booking_contexts) == 1
    # 23:30 UTC is that evening (18:30 or 19:30): inside the evening before's hours only.
    kept = await book_at(api.client, 23)
    async with OtherProcess(settings) as fresh:
        truth = await book_at(fresh, 23)
    assert kept.status_code == 409
    assert (kept.status_code, kept.json()) == (truth.status_code, truth.json())
    assert await count_appointments(api, clinic.institution_id) == 2


async def test_is_past_patient_is_decided_at_each_booking(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Booked from a kept read, the patient's history is still the database's of that moment
    (an appointment is no reference data: it does not move the version)."""
    clinic = await api.clinic()
    reads = count_context_reads(monkeypatch)
    first = await book(api.client, clinic, 15)
    assert first.json()["data"]["appt"]["is_past_patient"] is False
    await add_past(api, clinic, clinic.patient_ids[0], days=3)
    second = await book(api.client, clinic, 17)
    assert second.status_code == 201
    assert second.json()["data"]["appt"]["is_past_patient"] is True
    assert len(reads) == 1  # the second booking came from the kept read
    ids = [first.json()["data"]["appt"]["id"], second.json()["data"]["appt"]["id"]]
    assert await stored_past_patient(api, ids) == [(ids[0], False), (ids[1], True)]


async def test_a_clash_from_a_kept_read_is_named_and_keeps_the_reads(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    clinic = await api.clinic()
    reads = count_context_reads(monkeypatch)
    assert (await book(api.client, clinic, 15)).status_code == 201
    again = await book(api.client, clinic, 15)
    assert again.status_code == 409
    assert again.json()["description"].startswith("the requested time overlaps")
    assert (await book(api.client, clinic, 17)).status_code == 201
    assert len(reads) == 1  # neither the clash nor the next booking read afresh


async def test_every_table_the_context_reads_moves_the_version(api: Api) -> None:
    clinic = await api.clinic()
    other = await api.clinic("other")
    iid = clinic.institution_id
    hour = daily_hours(clinic, "08:00", "18:00")
    closure = LocationClosure(
        institution_id=iid,
        location_id=clinic.location_id,
        start_date=date(2090, 1, 1),
        end_date=date(2090, 1, 2),
    )
    before = await reference_version(api.db, iid)
    await _add(api.db, hour, closure)
    after_insert = await reference_version(api.db, iid)
    assert after_insert == before + 2
    await _add(
        api.db,
        WorkingHourAppointmentType(
            working_hour_id=hour.id, appointment_type_id=clinic.appointment_type_id
        ),
    )
    assert await reference_version(api.db, iid) == after_insert + 1

    tables = [
        "locations",
        "providers",
        "patients",
        "operatories",
        "appointment_types",
        "provider_locations",
        "working_hours",
        "location_closures",
    ]
    for table in tables:
        seen = await reference_version(api.db, iid)
        others = await reference_version(api.db, other.institution_id)
        touch = text(
            f"UPDATE {table} SET institution_id = institution_id WHERE institution_id = :i"
        )

        async def run(session: Any, statement: Any = touch) -> None:
            await session.execute(statement, {"i": iid})

        await api.db.write(run)
        assert await reference_version(api.db, iid) > seen, table
        assert await reference_version(api.db, other.institution_id) == others, (
            table
        )  # tenants apart

    seen = await reference_version(api.db, iid)
    await api.db.write(
        lambda s: s.execute(
            delete(WorkingHourAppointmentType).where(
                WorkingHourAppointmentType.working_hour_id == hour.id
            )
        )
    )
    assert await reference_version(api.db, iid) == seen + 1
    await api.db.write(lambda s: s.execute(delete(LocationClosure)))
    assert await reference_version(api.db, iid) == seen + 2


def test_the_cache_forgets_an_institution_and_keeps_to_its_limit() -> None:
    cache: ContextCache[str] = ContextCache(limit=3)
    cache.put(1, (1, "a"), "A1")
    cache.put(2, (2, "a"), "A2")
    cache.put(2, "by guid", "G2")  # a key without the institution's id in it
    assert len(cache) == 3
    assert (cache.get((1, "a")), cache.get((2, "a")), cache.get((1, "b"))) == ("A1", "A2", None)
    cache.forget(2)
    assert (cache.get((1, "a")), cache.get((2, "a")), cache.get("by guid")) == ("A1", None, None)
    cache.put(2, (2, "a"), "A2 again")  # read afresh after the forget: handed out
    assert cache.get((2, "a")) == "A2 again"
    cache.put(1, (1, "b"), "B1")  # a fourth entry: the oldest, (1, "a"), goes
    assert len(cache) == 3
    assert (cache.get((1, "a")), cache.get((2, "a")), cache.get((1, "b"))) == (
        None,
        "A2 again",
        "B1",
    )
    cache.put(2, "by guid", "G2 newest")  # put again: now the newest, so (2, "a") goes next
    cache.put(3, (3, "a"), "A3")
    assert (cache.get((2, "a")), cache.get("by guid"), cache.get((3, "a"))) == (
        None,
        "G2 newest",
        "A3",
    )
