"""GET /available_slots and /appointment_slots through HTTP, and booking what they offer."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from carebook.core.availability import service
from carebook.db.tables import Appointment, AppointmentType, Location, Operatory, Provider
from tests.availability.helpers import (
    EVERY_DAY,
    add_appointment,
    add_closure,
    add_hours,
    engine_runs,
    next_weekday,
    slots,
    times,
)
from tests.support import Api, Clinic, failure, iso_z, next_dst_change

pytestmark = pytest.mark.anyio

NY = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")


def at(day: date, hhmm: str, tz: ZoneInfo) -> datetime:
    """The instant of local ``hhmm`` on ``day`` (never a DST edge in these tests)."""
    hour, minute = map(int, hhmm.split(":"))
    return datetime.combine(day, time(hour, minute), tzinfo=tz).astimezone(UTC)


def local(day: date, hhmm: str, tz: ZoneInfo) -> str:
    value = at(day, hhmm, tz).astimezone(tz)
    offset = value.strftime("%z")
    return f"{day.isoformat()}T{hhmm}:00.000{offset[:3]}:{offset[3:]}"


def wall(day: date, tz: ZoneInfo, *hhmm: str) -> list[str]:
    return [local(day, t, tz) for t in hhmm]


async def set_rows(api: Api, table: Any, row_id: int, **values: Any) -> None:
    async def work(session: Any) -> None:
        await session.execute(update(table).where(table.id == row_id).values(**values))

    await api.db.write(work)


async def test_slots_are_working_hours_minus_busy_time(api: Api) -> None:
    clinic = await api.clinic()
    p0, p1 = clinic.provider_ids
    monday = next_weekday(0)
    await add_hours(api, clinic, location_id=clinic.location_id, provider_id=p0, end="11:00")
    # The provider's appointment and block, a cancelled appointment, another provider's.
    await add_appointment(
        api,
        clinic,
        location_id=clinic.location_id,
        provider_id=p0,
        patient_id=clinic.patient_ids[0],
        start=at(monday, "09:15", NY),
        minutes=30,
    )
    await add_appointment(
        api,
        clinic,
        location_id=clinic.location_id,
        provider_id=p0,
        start=at(monday, "10:30", NY),
        minutes=15,
        unavailable=True,
    )
    await add_appointment(
        api,
        clinic,
        location_id=clinic.location_id,
        provider_id=p0,
        patient_id=clinic.patient_ids[1],
        start=at(monday, "10:00", NY),
        minutes=30,
        cancelled=True,
    )
    await add_appointment(
        api,
        clinic,
        location_id=clinic.location_id,
        provider_id=p1,
        patient_id=clinic.patient_ids[2],
        start=at(monday, "09:00", NY),
        minutes=60,
    )
    response = await slots(
        api,
        clinic,
        start_date=monday.isoformat(),
        days=1,
        **{"lids[]": clinic.location_id, "pids[]": p0},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    expected = wall(monday, NY, "09:00", "09:45", "10:00", "10:15", "10:45")
    assert body == {
        "code": True,
        "description": None,
        "error": None,
        "count": 1,
        "data": [
            {
                "lid": clinic.location_id,
                "pid": p0,
                "next_available_date": None,
                "slots": [
                    {
                        "time": t,
                        "end_time": local(
                            monday,
                            (datetime.fromisoformat(t) + timedelta(minutes=15)).strftime("%H:%M"),
                            NY,
                        ),
                        "provider_id": p0,
                        "operatory_id": None,
                    }
                    for t in expected
                ],
            }
        ],
    }
    # v2: the same slots without end_time.
    v2 = await api.client.get(
        "/appointment_slots",
        params={
            "subdomain": clinic.subdomain,
            "start_date": monday.isoformat(),
            "days": 1,
            "lids[]": clinic.location_id,
            "pids[]": p0,
        },
        headers=clinic.auth,
    )
    assert v2.status_code == 200
    assert v2.json()["data"][0]["slots"][0] == {
        "time": expected[0],
        "provider_id": p0,
        "operatory_id": None,
    }
    # slot_length and slot_interval.
    long = await slots(
        api,
        clinic,
        start_date=monday.isoformat(),
        days=1,
        slot_length=30,
        slot_interval=15,
        **{"lids[]": clinic.location_id, "pids[]": p0},
    )
    assert times(long.json()["data"][0]) == wall(monday, NY, "09:45", "10:00")


async def test_provider_overlap_location_ignores_the_providers_appointments(api: Api) -> None:
    clinic = await api.clinic()
    p0 = clinic.provider_ids[0]
    monday = next_weekday(0)
    await set_rows(api, Location, clinic.location_id, allow_provider_overlap=True)
    await add_hours(api, clinic, location_id=clinic.location_id, provider_id=p0, end="10:00")
    await add_appointment(
        api,
        clinic,
        location_id=clinic.location_id,
        provider_id=p0,
        provider_exclusive=False,
        patient_id=clinic.patient_ids[0],
        start=at(monday, "09:00", NY),
        minutes=30,
    )
    await add_appointment(
        api,
        clinic,
        location_id=clinic.location_id,
        provider_id=p0,
        start=at(monday, "09:45", NY),
        minutes=15,
        unavailable=True,
    )
    response = await slots(
        api,
        clinic,
        start_date=monday.isoformat(),
        days=1,
        **{"lids[]": clinic.location_id, "pids[]": p0},
    )
    # The appointment does not hold the provider; the block does.
    assert times(response.json()["data"][0]) == wall(monday, NY, "09:00", "09:15", "09:30")


async def test_what_holds_the_provider_alone_holds_them_at_every_location(api: Api) -> None:
    """Slots follow the booking rule: where overlap is allowed, the provider's appointments that
    hold them alone elsewhere still take their time; where it is forbidden, even their shared
    appointments elsewhere do."""
    clinic = await api.clinic()
    p0, p1 = clinic.provider_ids
    monday = next_weekday(0)
    shared_location, alone_location = clinic.location_id, clinic.op_location_id
    await set_rows(api, Location, shared_location, allow_provider_overlap=True)
    # p0 works where overlap is allowed, and is held alone at the other location 09:00-09:30
    # (New York time); an appointment sharing them here (09:30-09:45) leaves them free.
    await add_hours(api, clinic, location_id=shared_location, provider_id=p0, end="10:00")
    await add_appointment(
        api,
        clinic,
        location_id=alone_location,
        provider_id=p0,
        patient_id=clinic.patient_ids[0],
        start=at(monday, "09:00", NY),
        minutes=30,
    )
    await add_appointment(
        api,
        clinic,
        location_id=shared_location,
        provider_id=p0,
        provider_exclusive=False,
        patient_id=clinic.patient_ids[1],
        start=at(monday, "09:30", NY),
        minutes=15,
    )
    here = await slots(
        api,
        clinic,
        start_date=monday.isoformat(),
        days=1,
        **{"lids[]": shared_location, "pids[]": p0},
    )
    assert times(here.json()["data"][0]) == wall(monday, NY, "09:30", "09:45")
    # p1 works where overlap is forbidden, and shares an appointment elsewhere 09:30-09:45
    # (Berlin time): that takes their time here too.
    await add_hours(api, clinic, location_id=alone_location, provider_id=p1, end="10:00")
    await add_appointment(
        api,
        clinic,
        location_id=shared_location,
        provider_id=p1,
        provider_exclusive=False,
        patient_id=clinic.patient_ids[2],
        start=at(monday, "09:30", BERLIN),
        minutes=15,
    )
    there = await slots(
        api,
        clinic,
        start_date=monday.isoformat(),
        days=1,
        **{"lids[]": alone_location, "pids[]": p1},
    )
    assert times(there.json()["data"][0]) == wall(monday, BERLIN, "09:00", "09:15", "09:45")


async def test_operatory_location_needs_a_free_operatory(api: Api) -> None:
    clinic = await api.clinic()
    p0, p1 = clinic.provider_ids
    op1, op2 = clinic.operatory_ids
    lid = clinic.op_location_id
    monday = next_weekday(0)
    await add_hours(api, clinic, location_id=lid, provider_id=p0, end="10:00")
    chair_1_taken = await add_appointment(
        api,
        clinic,
        location_id=lid,
        provider_id=p1,
        operatory_id=op1,
        patient_id=clinic.patient_ids[0],
        start=at(monday, "09:00", BERLIN),
        minutes=60,
    )
    await add_appointment(
        api,
        clinic,
        location_id=lid,
        operatory_id=op2,
        start=at(monday, "09:30", BERLIN),
        minutes=15,
        unavailable=True,
    )
    params = {"start_date": monday.isoformat(), "days": 1, "lids[]": lid, "pids[]": p0}
    response = await slots(api, clinic, **params)
    group = response.json()["data"][0]
    assert [(s["time"], s["operatory_id"]) for s in group["slots"]] == [
        (local(monday, "09:00", BERLIN), op2),
        (local(monday, "09:15", BERLIN), op2),
        (local(monday, "09:45", BERLIN), op2),
    ]
    # Every free operatory at each time: only Chair 2 is ever free here, so the same three.
    response = await slots(api, clinic, overlapping_operatory_slots="true", **params)
    assert [(s["time"], s["operatory_id"]) for s in response.json()["data"][0]["slots"]] == [
        (local(monday, "09:00", BERLIN), op2),
        (local(monday, "09:15", BERLIN), op2),
        (local(monday, "09:45", BERLIN), op2),
    ]
    # Grouped by operatory when operatory_ids[] are named.
    response = await slots(api, clinic, **params, **{"operatory_ids[]": [op1, op2]})
    data = response.json()["data"]
    assert [(g["operatory_id"], len(g["slots"])) for g in data] == [(op1, 0), (op2, 3)]
    assert data[0]["next_available_date"] == (monday + timedelta(days=1)).isoformat()
    # Chair 1 free too (its appointment cancelled): both chairs at once where both are free,
    # one slot per time without overlapping_operatory_slots.
    await set_rows(api, Appointment, chair_1_taken, cancelled=True)
    response = await slots(api, clinic, overlapping_operatory_slots="true", **params)
    assert [(s["time"], s["operatory_id"]) for s in response.json()["data"][0]["slots"]] == [
        (local(monday, "09:00", BERLIN), op1),
        (local(monday, "09:00", BERLIN), op2),
        (local(monday, "09:15", BERLIN), op1),
        (local(monday, "09:15", BERLIN), op2),
        (local(monday, "09:30", BERLIN), op1),
        (local(monday, "09:45", BERLIN), op1),
        (local(monday, "09:45", BERLIN), op2),
    ]
    response = await slots(api, clinic, **params)
    assert times(response.json()["data"][0]) == wall(
        monday, BERLIN, "09:00", "09:15", "09:30", "09:45"
    )
    await set_rows(api, Appointment, chair_1_taken, cancelled=False)  # Chair 1 taken again
    # An inactive operatory offers nothing; a working hour on one operatory only uses it.
    await set_rows(api, Operatory, op2, active=False)
    response = await slots(api, clinic, **params)
    assert response.json()["data"][0]["slots"] == []


async def test_working_hour_on_an_operatory_at_a_provider_location(api: Api) -> None:
    clinic = await api.clinic()
    p0 = clinic.provider_ids[0]
    monday = next_weekday(0)

    async def op_at_ny(session: Any) -> int:
        op = Operatory(
            institution_id=clinic.institution_id, location_id=clinic.location_id, name="NY 1"
        )
        session.add(op)
        await session.flush()
        return op.id

    op = await api.db.write(op_at_ny)
    await add_hours(
        api, clinic, location_id=clinic.location_id, provider_id=p0, end="09:30", operatory_id=op
    )
    await add_hours(
        api, clinic, location_id=clinic.location_id, provider_id=p0, begin="09:30", end="10:00"
    )
    await add_appointment(
        api,
        clinic,
        location_id=clinic.location_id,
        operatory_id=op,
        start=at(monday, "09:00", NY),
        minutes=15,
        unavailable=True,
    )
    response = await slots(
        api,
        clinic,
        start_date=monday.isoformat(),
        days=1,
        **{"lids[]": clinic.location_id, "pids[]": p0},
    )
    assert [(s["time"], s["operatory_id"]) for s in response.json()["data"][0]["slots"]] == [
        (local(monday, "09:15", NY), op),
        (local(monday, "09:30", NY), None),
        (local(monday, "09:45", NY), None),
    ]


async def test_appointment_type_sets_length_and_filters_hours(api: Api) -> None:
    clinic = await api.clinic()
    p0, p1 = clinic.provider_ids
    monday = next_weekday(0)

    async def other_type(session: Any) -> int:
        t = AppointmentType(institution_id=clinic.institution_id, name="Surgery", minutes=60)
        session.add(t)
        await session.flush()
        return t.id

    surgery = await api.db.write(other_type)
    made = await api.client.post(
        f"/working_hours?subdomain={clinic.subdomain}&location_id={clinic.location_id}",
        json={
            "working_hour": {
                "provider_id": p0,
                "begin_time": "09:00",
                "end_time": "10:00",
                "days": ["Monday"],
                "appointment_type_ids": [surgery],
            }
        },
        headers=clinic.auth,
    )
    assert made.status_code == 201
    await add_hours(
        api, clinic, location_id=clinic.location_id, provider_id=p1, begin="14:00", end="15:00"
    )
    response = await slots(
        api,
        clinic,
        start_date=monday.isoformat(),
        days=1,
        appointment_type_id=clinic.appointment_type_id,
        **{"lids[]": clinic.location_id},
    )
    data = response.json()["data"]
    # Provider 0's only hours are for surgery; provider 1's are open to any type.
    assert [g["pid"] for g in data] == [p1]
    assert times(data[0]) == wall(monday, NY, "14:00", "14:30")
    assert data[0]["slots"][0]["end_time"] == local(monday, "14:30", NY)
    response = await slots(
        api,
        clinic,
        start_date=monday.isoformat(),
        days=1,
        appointment_type_id=surgery,
        **{"lids[]": clinic.location_id},
    )
    assert [(g["pid"], times(g)) for g in response.json()["data"]] == [
        (p0, wall(monday, NY, "09:00")),
        (p1, wall(monday, NY, "14:00")),
    ]


async def test_closures_and_next_available_date(api: Api) -> None:
    clinic = await api.clinic()
    p0 = clinic.provider_ids[0]
    monday = next_weekday(0)
    await add_hours(api, clinic, location_id=clinic.location_id, provider_id=p0, end="10:00")
    await add_closure(
        api, clinic, location_id=clinic.location_id, start=monday, end=monday + timedelta(days=8)
    )
    response = await slots(
        api,
        clinic,
        start_date=monday.isoformat(),
        days=2,
        **{"lids[]": clinic.location_id, "pids[]": p0},
    )
    group = response.json()["data"][0]
    assert group["slots"] == []
    # Closed through Tuesday next week: Wednesday is the next working day.
    assert group["next_available_date"] == (monday + timedelta(days=9)).isoformat()
    # Nothing within 180 days: null.
    await add_closure(
        api, clinic, location_id=clinic.location_id, start=monday, end=monday + timedelta(days=400)
    )
    response = await slots(
        api,
        clinic,
        start_date=monday.isoformat(),
        days=2,
        **{"lids[]": clinic.location_id, "pids[]": p0},
    )
    assert response.json()["data"][0]["next_available_date"] is None


async def test_nothing_in_the_past(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    clinic = await api.clinic()
    p0 = clinic.provider_ids[0]
    monday = next_weekday(0)
    await add_hours(api, clinic, location_id=clinic.location_id, provider_id=p0, end="10:00")
    now = at(monday, "09:20", NY)
    monkeypatch.setattr(service, "utc_now", lambda: now)
    response = await slots(
        api,
        clinic,
        start_date=monday.isoformat(),
        days=1,
        **{"lids[]": clinic.location_id, "pids[]": p0},
    )
    assert times(response.json()["data"][0]) == wall(monday, NY, "09:30", "09:45")
    monkeypatch.setattr(service, "utc_now", lambda: at(monday, "10:00", NY))
    response = await slots(
        api,
        clinic,
        start_date=monday.isoformat(),
        days=1,
        **{"lids[]": clinic.location_id, "pids[]": p0},
    )
    group = response.json()["data"][0]
    assert group["slots"] == []
    assert group["next_available_date"] == (monday + timedelta(days=1)).isoformat()


async def test_wall_clock_hours_across_dst(api: Api) -> None:
    clinic = await api.clinic()
    p0 = clinic.provider_ids[0]
    every_day = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
    await add_hours(
        api, clinic, location_id=clinic.location_id, provider_id=p0, end="09:30", days=every_day
    )
    await add_hours(
        api,
        clinic,
        location_id=clinic.op_location_id,
        provider_id=p0,
        begin="09:00",
        end="09:15",
        days=every_day,
    )
    for forward in (True, False):
        change = next_dst_change("America/New_York", forward=forward)
        response = await slots(
            api,
            clinic,
            start_date=(change - timedelta(days=1)).isoformat(),
            days=3,
            **{"lids[]": clinic.location_id, "pids[]": p0},
        )
        got = times(response.json()["data"][0])
        before, after = ("-05:00", "-04:00") if forward else ("-04:00", "-05:00")
        assert got == [
            f"{(change - timedelta(days=1)).isoformat()}T09:00:00.000{before}",
            f"{(change - timedelta(days=1)).isoformat()}T09:15:00.000{before}",
            f"{change.isoformat()}T09:00:00.000{after}",
            f"{change.isoformat()}T09:15:00.000{after}",
            f"{(change + timedelta(days=1)).isoformat()}T09:00:00.000{after}",
            f"{(change + timedelta(days=1)).isoformat()}T09:15:00.000{after}",
        ]
        # Berlin changes on other dates; its hours stay at 09:00 local too.
        berlin = next_dst_change("Europe/Berlin", forward=forward)
        response = await slots(
            api,
            clinic,
            start_date=berlin.isoformat(),
            days=2,
            **{"lids[]": clinic.op_location_id, "pids[]": p0},
        )
        # The change is at 02:00 (forward) or 03:00 (back) local: 09:00 of the change day is
        # already on the new offset, CEST (+02:00) in spring, CET (+01:00) in autumn.
        berlin_after = "+02:00" if forward else "+01:00"
        assert times(response.json()["data"][0]) == [
            f"{berlin.isoformat()}T09:00:00.000{berlin_after}",
            f"{(berlin + timedelta(days=1)).isoformat()}T09:00:00.000{berlin_after}",
        ]


async def test_bad_searches(api: Api) -> None:
    clinic = await api.clinic()
    other = await api.clinic("other")
    monday = next_weekday(0).isoformat()
    cases: list[tuple[dict[str, Any], int, list[str]]] = [
        (
            {"days": 1, "lids[]": clinic.location_id},
            400,
            ["pids: give pids[] or appointment_type_id"],
        ),
        (
            {"days": 1, "pids[]": clinic.provider_ids[0]},
            400,
            ["lids: give at least one location id"],
        ),
        (
            {"days": 0, "lids[]": clinic.location_id, "pids[]": 1},
            400,
            ["days: input should be greater than or equal to 1"],
        ),
        (
            {"days": 1, "lids[]": other.location_id, "pids[]": 1},
            404,
            [f"location {other.location_id} not found"],
        ),
        (
            {"days": 1, "lids[]": clinic.location_id, "pids[]": other.provider_ids[0]},
            404,
            [f"provider {other.provider_ids[0]} not found"],
        ),
        (
            {
                "days": 1,
                "lids[]": clinic.location_id,
                "appointment_type_id": other.appointment_type_id,
            },
            404,
            [f"appointment type {other.appointment_type_id} not found"],
        ),
        (
            {
                "days": 1,
                "lids[]": clinic.op_location_id,
                "pids[]": clinic.provider_ids[0],
                "operatory_ids[]": other.operatory_ids[0],
            },
            404,
            [f"operatory {other.operatory_ids[0]} not found"],
        ),
    ]
    for params, status, errors in cases:
        response = await slots(api, clinic, start_date=monday, **params)
        assert response.status_code == status, (params, response.text)
        assert response.json()["error"] == errors
    missing = await api.client.get(
        f"/available_slots?subdomain={clinic.subdomain}&days=1", headers=clinic.auth
    )
    assert missing.status_code == 400
    assert missing.json()["error"] == ["start_date: is required"]
    forbidden = await slots(api, clinic, subdomain="other", start_date=monday, days=1)
    assert forbidden.status_code == 403
    assert forbidden.json() == failure("you don't have access to institution 'other'")


async def test_no_slots_without_hours_or_where_booking_would_fail(api: Api) -> None:
    clinic = await api.clinic()
    p0, p1 = clinic.provider_ids
    monday = next_weekday(0)
    await add_hours(api, clinic, location_id=clinic.location_id, provider_id=p0, end="09:30")
    params = {
        "start_date": monday.isoformat(),
        "days": 1,
        "lids[]": clinic.location_id,
        "pids[]": [p0, p1],
    }
    data = (await slots(api, clinic, **params)).json()["data"]
    assert [(g["pid"], len(g["slots"]), g["next_available_date"]) for g in data] == [
        (p0, 2, None),
        (p1, 0, None),
    ]
    await set_rows(api, Provider, p0, inactive=True)
    data = (await slots(api, clinic, **params)).json()["data"]
    assert [g["pid"] for g in data] == [p1]
    await set_rows(api, Provider, p0, inactive=False)
    await set_rows(api, Location, clinic.location_id, inactive=True)
    assert (await slots(api, clinic, **params)).json()["data"] == []


# --- booking what was offered -------------------------------------------------------------------


def appt_url(clinic: Clinic, location_id: int) -> str:
    return f"/appointments?subdomain={clinic.subdomain}&location_id={location_id}"


async def stored_ids(api: Api, clinic: Clinic) -> list[int]:
    """The ids of the clinic's appointments and blocks, in order."""
    async with api.db.read() as session:
        rows = await session.execute(
            select(Appointment.id)
            .where(Appointment.institution_id == clinic.institution_id)
            .order_by(Appointment.id)
        )
        return list(rows.scalars())


async def book(
    api: Api, clinic: Clinic, location_id: int, start: str, end: str, **fields: Any
) -> Any:
    body = {
        "patient_id": clinic.patient_ids[0],
        "provider_id": clinic.provider_ids[0],
        "start_time": start,
        "end_time": end,
        **fields,
    }
    return await api.client.post(
        appt_url(clinic, location_id), json={"appt": body}, headers=clinic.auth
    )


async def test_book_every_slot_offered_then_one_more_fails(api: Api) -> None:
    clinic = await api.clinic()
    p0 = clinic.provider_ids[0]
    monday = next_weekday(0)
    await add_hours(api, clinic, location_id=clinic.location_id, provider_id=p0, end="11:00")
    await add_hours(
        api, clinic, location_id=clinic.location_id, provider_id=p0, begin="13:00", end="14:10"
    )
    await add_appointment(
        api,
        clinic,
        location_id=clinic.location_id,
        provider_id=p0,
        patient_id=clinic.patient_ids[2],
        start=at(monday, "09:40", NY),
        minutes=25,
    )
    params = {
        "start_date": monday.isoformat(),
        "days": 1,
        "slot_length": 30,
        "lids[]": clinic.location_id,
        "pids[]": p0,
    }
    offered = (await slots(api, clinic, **params)).json()["data"][0]["slots"]
    assert [s["time"][11:16] for s in offered] == ["09:00", "10:05", "13:00", "13:30"]
    booked = []
    for index, slot in enumerate(offered):
        response = await book(
            api,
            clinic,
            clinic.location_id,
            slot["time"],
            slot["end_time"],
            patient_id=clinic.patient_ids[index % 2],
        )
        assert response.status_code == 201, response.text
        booked.append(response.json()["data"]["appt"]["id"])
    assert (await slots(api, clinic, **params)).json()["data"][0]["slots"] == []
    before = await stored_ids(api, clinic)
    taken = await book(
        api,
        clinic,
        clinic.location_id,
        offered[0]["time"],
        offered[0]["end_time"],
        patient_id=clinic.patient_ids[1],
    )
    assert taken.status_code == 409, taken.text
    assert taken.json() == failure(
        f"the requested time overlaps the provider's appointment {booked[0]}"
    )
    # Free, but outside the working hours: refused too.
    outside = await book(
        api, clinic, clinic.location_id, local(monday, "14:10", NY), local(monday, "14:40", NY)
    )
    assert outside.status_code == 409
    assert outside.json() == failure(
        f"provider {p0} does not work at location {clinic.location_id} at "
        f"{local(monday, '14:10', NY)}"
    )
    assert await stored_ids(api, clinic) == before  # neither refusal wrote anything
    # A block outside the hours is fine; so is anything for a provider with no hours here.
    block = await api.client.post(
        appt_url(clinic, clinic.location_id),
        json={
            "appt": {
                "provider_id": p0,
                "unavailable": True,
                "start_time": local(monday, "07:00", NY),
                "end_time": local(monday, "08:00", NY),
            }
        },
        headers=clinic.auth,
    )
    assert block.status_code == 201, block.text
    free = await book(
        api,
        clinic,
        clinic.location_id,
        local(monday, "07:00", NY),
        local(monday, "07:30", NY),
        provider_id=clinic.provider_ids[1],
    )
    assert free.status_code == 201, free.text


async def test_book_every_operatory_slot_offered(api: Api) -> None:
    clinic = await api.clinic()
    p0 = clinic.provider_ids[0]
    lid = clinic.op_location_id
    monday = next_weekday(0)
    await set_rows(api, Location, lid, allow_provider_overlap=True)
    await add_hours(api, clinic, location_id=lid, provider_id=p0, end="10:00")
    params = {
        "start_date": monday.isoformat(),
        "days": 1,
        "slot_length": 30,
        "overlapping_operatory_slots": "true",
        "lids[]": lid,
        "pids[]": p0,
    }
    offered = (await slots(api, clinic, **params)).json()["data"][0]["slots"]
    op1, op2 = clinic.operatory_ids
    assert [(s["time"], s["end_time"], s["operatory_id"]) for s in offered] == [
        (local(monday, "09:00", BERLIN), local(monday, "09:30", BERLIN), op1),
        (local(monday, "09:00", BERLIN), local(monday, "09:30", BERLIN), op2),
        (local(monday, "09:30", BERLIN), local(monday, "10:00", BERLIN), op1),
        (local(monday, "09:30", BERLIN), local(monday, "10:00", BERLIN), op2),
    ]
    booked = []
    for slot in offered:
        patient = clinic.patient_ids[clinic.operatory_ids.index(slot["operatory_id"])]
        response = await book(
            api,
            clinic,
            lid,
            slot["time"],
            slot["end_time"],
            operatory_id=slot["operatory_id"],
            patient_id=patient,
        )
        assert response.status_code == 201, response.text
        booked.append(response.json()["data"]["appt"]["id"])
    assert (await slots(api, clinic, **params)).json()["data"][0]["slots"] == []
    again = await book(
        api,
        clinic,
        lid,
        offered[0]["time"],
        offered[0]["end_time"],
        operatory_id=offered[0]["operatory_id"],
        patient_id=clinic.patient_ids[2],
    )
    assert again.status_code == 409, again.text
    assert again.json() == failure(
        f"the requested time overlaps the operatory's appointment {booked[0]}"
    )
    assert await stored_ids(api, clinic) == booked


async def test_booking_on_a_closed_day_is_refused(api: Api) -> None:
    clinic = await api.clinic()
    monday = next_weekday(0)
    await add_closure(api, clinic, location_id=clinic.location_id, start=monday, end=monday)
    response = await book(
        api,
        clinic,
        clinic.location_id,
        iso_z(at(monday, "12:00", NY)),
        iso_z(at(monday, "12:30", NY)),
    )
    assert response.status_code == 409
    assert response.json() == failure(
        f"location {clinic.location_id} is closed on {monday.isoformat()}"
    )
    # The day before, running into the closed day, is refused too.
    response = await book(
        api,
        clinic,
        clinic.location_id,
        iso_z(at(monday - timedelta(days=1), "23:30", NY)),
        iso_z(at(monday, "00:30", NY)),
    )
    assert response.status_code == 409, response.text
    assert response.json() == failure(
        f"location {clinic.location_id} is closed on {monday.isoformat()}"
    )
    assert await stored_ids(api, clinic) == []


@pytest.mark.parametrize("path", ["/available_slots", "/appointment_slots"])
@pytest.mark.parametrize("name", ["lids[]", "lids", "pids[]", "pids", "operatory_ids[]"])
async def test_ids_beyond_64_bits_are_a_400_not_a_database_error(
    api: Api, path: str, name: str
) -> None:
    clinic = await api.clinic()
    params: dict[str, Any] = {
        "subdomain": clinic.subdomain,
        "start_date": next_weekday(0).isoformat(),
        "days": 1,
        "lids[]": clinic.location_id,
        "pids[]": clinic.provider_ids[0],
        name: 2**63,
    }
    response = await api.client.get(path, params=params, headers=clinic.auth)
    assert response.status_code == 400, response.text
    assert response.json() == {
        "code": False,
        "description": "the request is invalid",
        "error": [f"{name}.0: input should be less than or equal to 9223372036854775807"],
        "data": None,
        "count": None,
    }


def error_envelope(description: str, *errors: str) -> dict[str, Any]:
    return {
        "code": False,
        "description": description,
        "error": list(errors),
        "data": None,
        "count": None,
    }


@pytest.mark.parametrize("path", ["/available_slots", "/appointment_slots"])
async def test_id_lists_hold_at_most_100_ids(api: Api, path: str) -> None:
    clinic = await api.clinic()
    base: dict[str, Any] = {
        "subdomain": clinic.subdomain,
        "start_date": next_weekday(0).isoformat(),
        "days": 1,
        "lids[]": clinic.location_id,
        "pids[]": clinic.provider_ids[0],
    }

    async def search(**params: Any) -> Any:
        response = await api.client.get(path, params={**base, **params}, headers=clinic.auth)
        return response.status_code, response.json()

    unknown = list(range(10**6, 10**6 + 101))
    # A hundred ids are searched (the first unknown one is named); 101 are a 400.
    assert await search(**{"pids[]": unknown[:100]}) == (
        404,
        error_envelope(f"provider {unknown[0]} not found", f"provider {unknown[0]} not found"),
    )
    for name in ("lids[]", "lids", "pids[]", "pids", "operatory_ids[]", "operatory_ids"):
        assert await search(**{name: unknown}) == (
            400,
            error_envelope(
                "the request is invalid",
                f"{name}: list should have at most 100 items after validation, not 101",
            ),
        ), name
    # Both spellings of a list count together.
    both = {
        "lids[]": unknown[:50],
        "lids": unknown[50:],
        "pids[]": unknown[:50],
        "pids": unknown[50:],
        "operatory_ids[]": unknown[:50],
        "operatory_ids": unknown[50:],
    }
    reasons = [f"{name}: give at most 100 ids" for name in ("lids", "pids", "operatory_ids")]
    assert await search(**both) == (400, error_envelope("; ".join(reasons), *reasons))


def minute_slots(
    first: date, days: int, tz: ZoneInfo, provider_id: int, *, begin: time, minutes: int
) -> list[dict[str, Any]]:
    """``/available_slots``' 1-minute slots of ``minutes`` minutes from ``begin`` each day."""
    found = []
    for n in range(days):
        opening = datetime.combine(first + timedelta(days=n), begin, tzinfo=tz)
        for i in range(minutes):
            start = opening + timedelta(minutes=i)
            found.append(
                {
                    "time": start.isoformat(timespec="milliseconds"),
                    "end_time": (start + timedelta(minutes=1)).isoformat(timespec="milliseconds"),
                    "provider_id": provider_id,
                    "operatory_id": None,
                }
            )
    return found


TOO_MANY = (
    "days: the search finds more than 20000 slots, the most one search returns; narrow it: "
    "fewer days, fewer providers (pids[]) or operatories (operatory_ids[]), "
)


async def test_a_search_of_the_most_slots_answers_in_full_and_one_more_is_a_400(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    clinic = await api.clinic()
    p0, p1 = clinic.provider_ids
    monday = next_weekday(0)
    # 400 one-minute slots a day, every day: 50 days are the most one search returns.
    assert service.MAX_SLOTS == 50 * 400
    await add_hours(
        api,
        clinic,
        location_id=clinic.location_id,
        provider_id=p0,
        begin="09:00",
        end="15:40",
        days=EVERY_DAY,
    )
    params: dict[str, Any] = {
        "start_date": monday.isoformat(),
        "days": 50,
        "lids[]": clinic.location_id,
        "pids[]": p0,
        "slot_length": 1,
    }
    full = await slots(api, clinic, **params)
    assert full.status_code == 200, full.text[:500]
    assert full.json() == {
        "code": True,
        "description": None,
        "error": None,
        "count": 1,
        "data": [
            {
                "lid": clinic.location_id,
                "pid": p0,
                "slots": minute_slots(monday, 50, NY, p0, begin=time(9), minutes=400),
                "next_available_date": None,
            }
        ],
    }
    # One slot more, another provider's: refused once the engine has made it.
    await add_hours(
        api,
        clinic,
        location_id=clinic.location_id,
        provider_id=p1,
        begin="09:00",
        end="09:01",
        specific_date=monday,
    )
    made = engine_runs(monkeypatch)
    over = await slots(api, clinic, **{**params, "pids[]": [p0, p1]})
    assert over.status_code == 400, over.text[:500]
    message = TOO_MANY + "or a longer slot_interval"
    assert over.json() == error_envelope(message, message)
    assert made == [service.MAX_SLOTS, 1]


@pytest.mark.parametrize("path", ["/available_slots", "/appointment_slots"])
@pytest.mark.parametrize(
    ("overlapping", "ways"),
    [
        ("false", "or a longer slot_interval"),
        ("true", "a longer slot_interval, or overlapping_operatory_slots=false"),
    ],
)
async def test_an_over_large_search_stops_at_the_limit(
    api: Api, monkeypatch: pytest.MonkeyPatch, path: str, overlapping: str, ways: str
) -> None:
    """90 days of 1-minute starts around the clock for two providers on two operatories would
    be about 260,000 slots (520,000 on every operatory): the engine stops at the first slot past
    the limit, before the second provider is searched."""
    clinic = await api.clinic()
    lid = clinic.op_location_id
    for provider_id in clinic.provider_ids:
        await add_hours(
            api,
            clinic,
            location_id=lid,
            provider_id=provider_id,
            begin="00:00",
            end="23:59",
            days=EVERY_DAY,
        )
    made = engine_runs(monkeypatch)
    params: dict[str, Any] = {
        "subdomain": clinic.subdomain,
        "start_date": next_weekday(0).isoformat(),
        "days": 90,
        "lids[]": lid,
        "pids[]": clinic.provider_ids,
        "slot_length": 1,
        "overlapping_operatory_slots": overlapping,
    }
    response = await api.client.get(path, params=params, headers=clinic.auth)
    assert response.status_code == 400, response.text[:500]
    assert response.json() == error_envelope(TOO_MANY + ways, TOO_MANY + ways)
    assert made == [service.MAX_SLOTS + 1]


async def test_dated_hours_bind_bookings_on_other_dates_too(api: Api) -> None:
    """A provider whose only hours are on specific dates works on those dates only: a booking
    on a date with none of them is refused, even though the booking path reads only the hours
    near the booking's date."""
    clinic = await api.clinic()
    p0 = clinic.provider_ids[0]
    monday = next_weekday(0)
    for day in (monday, monday + timedelta(days=28)):
        await add_hours(
            api, clinic, location_id=clinic.location_id, provider_id=p0, specific_date=day
        )
    inside = await book(
        api, clinic, clinic.location_id, local(monday, "09:00", NY), local(monday, "09:30", NY)
    )
    assert inside.status_code == 201, inside.text
    later = monday + timedelta(days=7)
    outside = await book(
        api, clinic, clinic.location_id, local(later, "09:00", NY), local(later, "09:30", NY)
    )
    assert outside.status_code == 409, outside.text
    assert outside.json()["error"] == [
        f"provider {p0} does not work at location {clinic.location_id} at "
        f"{local(later, '09:00', NY)}"
    ]
    # And a weekly hour added later counts on every matching date, dated ones or not.
    await add_hours(
        api, clinic, location_id=clinic.location_id, provider_id=p0, days=["Monday"], end="10:00"
    )
    weekly = await book(
        api, clinic, clinic.location_id, local(later, "09:00", NY), local(later, "09:30", NY)
    )
    assert weekly.status_code == 201, weekly.text
