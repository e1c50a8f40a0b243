"""/working_hours (v3), /availabilities (v2) and /locations/{id}/closures through HTTP."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from carebook.core.availability import hours
from carebook.db.tables import WorkingHour, WorkingHourAppointmentType
from tests.availability.helpers import WEEKDAYS, wh_body
from tests.support import Api, Clinic, failure

pytestmark = pytest.mark.anyio


def wh_url(clinic: Clinic, location_id: int | None = None, path: str = "/working_hours") -> str:
    return f"{path}?subdomain={clinic.subdomain}&location_id={location_id or clinic.location_id}"


async def create(api: Api, clinic: Clinic, body: Any, **kwargs: Any) -> Any:
    return await api.client.post(wh_url(clinic, **kwargs), json=body, headers=clinic.auth)


# ``tz_offset`` is the location's offset at the moment of the answer (``hours.utc_now``): the
# clock is set to a January and a July instant, whose offsets are known without zoneinfo.
JANUARY = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
JULY = datetime(2026, 7, 15, 12, 0, tzinfo=UTC)


def clock_at(monkeypatch: pytest.MonkeyPatch, instant: datetime) -> None:
    monkeypatch.setattr(hours, "utc_now", lambda: instant)


@pytest.mark.parametrize(("now", "offset"), [(JANUARY, "-0500"), (JULY, "-0400")])
async def test_create_get_list_update_delete_working_hour(
    api: Api, monkeypatch: pytest.MonkeyPatch, now: datetime, offset: str
) -> None:
    clock_at(monkeypatch, now)
    clinic = await api.clinic()
    response = await create(
        api,
        clinic,
        wh_body(
            clinic,
            days=["monday", "Wednesday", "Monday"],
            appointment_type_ids=[clinic.appointment_type_id],
        ),
    )
    assert response.status_code == 201, response.text
    body = response.json()
    created = body["data"]
    assert body["code"] is True
    assert body["count"] == 1
    hour_id = created["id"]
    assert created == {
        "id": hour_id,
        "provider_id": clinic.provider_ids[0],
        "location_id": clinic.location_id,
        "operatory_id": None,
        "begin_time": "09:00",
        "end_time": "17:00",
        "days": ["Monday", "Wednesday"],
        "specific_date": None,
        "custom_recurrence": None,
        "tz_offset": offset,  # America/New_York: EST in January, EDT in July
        "active": True,
        "appointment_types": [
            {"id": clinic.appointment_type_id, "name": "Cleaning", "minutes": 30}
        ],
    }
    got = await api.client.get(
        f"/working_hours/{hour_id}?subdomain={clinic.subdomain}", headers=clinic.auth
    )
    assert got.status_code == 200
    assert got.json()["data"] == created

    listed = await api.client.get(wh_url(clinic), headers=clinic.auth)
    assert listed.status_code == 200
    assert listed.json()["data"] == [created]
    assert listed.json()["count"] == 1
    assert listed.json()["page_info"]["has_next_page"] is False

    patched = await api.client.patch(
        f"/working_hours/{hour_id}?subdomain={clinic.subdomain}",
        json={
            "working_hour": {
                "custom_recurrence": {"num": 2, "unit": "week", "ref": "2026-01-05"},
                "end_time": "12:00",
                "appointment_type_ids": [],
            }
        },
        headers=clinic.auth,
    )
    assert patched.status_code == 200, patched.text
    data = patched.json()["data"]
    assert data["days"] is None
    assert data["custom_recurrence"] == {"num": 2, "unit": "week", "ref": "2026-01-05"}
    assert data["begin_time"] == "09:00"
    assert data["end_time"] == "12:00"
    assert data["appointment_types"] == []

    deleted = await api.client.delete(
        f"/working_hours/{hour_id}?subdomain={clinic.subdomain}", headers=clinic.auth
    )
    assert deleted.status_code == 204
    assert deleted.content == b""
    async with api.db.read() as session:
        left = await session.execute(select(func.count()).select_from(WorkingHour))
        links = await session.execute(select(func.count()).select_from(WorkingHourAppointmentType))
        assert left.scalar_one() == 0
        assert links.scalar_one() == 0
    again = await api.client.delete(
        f"/working_hours/{hour_id}?subdomain={clinic.subdomain}", headers=clinic.auth
    )
    assert again.status_code == 404
    assert again.json()["error"] == [f"working hour {hour_id} not found"]


@pytest.mark.parametrize(("now", "offset"), [(JANUARY, "+0100"), (JULY, "+0200")])
async def test_specific_date_and_operatory_hours(
    api: Api, monkeypatch: pytest.MonkeyPatch, now: datetime, offset: str
) -> None:
    clock_at(monkeypatch, now)
    clinic = await api.clinic()
    response = await create(
        api,
        clinic,
        wh_body(
            clinic, days=None, specific_date="2027-02-03", operatory_id=clinic.operatory_ids[1]
        ),
        location_id=clinic.op_location_id,
    )
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    assert data == {
        "id": data["id"],
        "provider_id": clinic.provider_ids[0],
        "location_id": clinic.op_location_id,
        "operatory_id": clinic.operatory_ids[1],
        "begin_time": "09:00",
        "end_time": "17:00",
        "days": None,
        "specific_date": "2027-02-03",
        "custom_recurrence": None,
        "tz_offset": offset,  # Europe/Berlin: CET in January, CEST in July
        "active": True,
        "appointment_types": [],
    }
    async with api.db.read() as session:
        stored = (
            await session.execute(select(WorkingHour).where(WorkingHour.id == data["id"]))
        ).scalar_one()
    assert (
        stored.location_id,
        stored.operatory_id,
        stored.specific_date,
        stored.days,
        stored.begin_time,
        stored.end_time,
    ) == (clinic.op_location_id, clinic.operatory_ids[1], date(2027, 2, 3), None, "09:00", "17:00")


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        ({"begin_time": "9:00"}, ["working_hour.begin_time: must be HH:MM (00:00 to 23:59)"]),
        ({"end_time": "24:00"}, ["working_hour.end_time: must be HH:MM (00:00 to 23:59)"]),
        ({"end_time": "09:00"}, ["working_hour.end_time: must be after begin_time"]),
        ({"end_time": "08:00"}, ["working_hour.end_time: must be after begin_time"]),
        (
            {"days": None},
            ["working_hour.days: give one of days, specific_date or custom_recurrence"],
        ),
        (
            {"specific_date": "2027-01-01"},
            ["working_hour.days: give only one of days, specific_date or custom_recurrence"],
        ),
        (
            {"days": ["Monday", "Funday"]},
            [
                "working_hour.days.1: 'Funday' is not a day; use one of Monday, Tuesday, "
                "Wednesday, Thursday, Friday, Saturday, Sunday"
            ],
        ),
        ({"days": []}, ["working_hour.days: must name at least one day"]),
        (
            {"days": None, "custom_recurrence": {"num": 0, "unit": "year", "ref": "2027-01-01"}},
            [
                "working_hour.custom_recurrence.num: must be at least 1",
                "working_hour.custom_recurrence.unit: must be day, week or month",
            ],
        ),
        *(
            (
                {
                    "days": None,
                    "custom_recurrence": {"num": num, "unit": "day", "ref": "2026-01-01"},
                },
                ["working_hour.custom_recurrence.num: must be at most 366"],
            )
            # Past the maximum, past a 32-bit integer (the column), past a 64-bit one.
            for num in (367, 3_000_000_000, 2**63)
        ),
        ({"provider_id": None}, ["working_hour.provider_id: is required"]),
        ({"specific": 1}, ["working_hour.specific: is not a known field"]),
    ],
)
async def test_bad_working_hour_is_400_naming_fields(
    api: Api, fields: dict[str, Any], errors: list[str]
) -> None:
    clinic = await api.clinic()
    body = wh_body(clinic)
    body["working_hour"].update(fields)
    body["working_hour"] = {k: v for k, v in body["working_hour"].items() if v is not None}
    response = await create(api, clinic, body)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == errors
    async with api.db.read() as session:
        assert (
            await session.execute(select(func.count()).select_from(WorkingHour))
        ).scalar_one() == 0


async def test_unknown_references_are_404(api: Api) -> None:
    clinic = await api.clinic()
    other = await api.clinic("other")
    response = await create(api, clinic, wh_body(clinic, provider_id=other.provider_ids[0]))
    assert response.status_code == 404
    assert response.json()["error"] == [f"provider {other.provider_ids[0]} not found"]
    # An operatory of another location of the same institution.
    response = await create(api, clinic, wh_body(clinic, operatory_id=clinic.operatory_ids[0]))
    assert response.status_code == 404
    assert response.json()["error"] == [f"operatory {clinic.operatory_ids[0]} not found"]
    response = await create(
        api, clinic, wh_body(clinic, appointment_type_ids=[other.appointment_type_id])
    )
    assert response.status_code == 404
    assert response.json()["error"] == [f"appointment type {other.appointment_type_id} not found"]
    response = await create(api, clinic, wh_body(clinic), location_id=other.location_id)
    assert response.status_code == 404
    assert response.json()["error"] == [f"location {other.location_id} not found"]
    # Another tenant's working hour is not found either.
    made = await create(api, other, wh_body(other))
    hour_id = made.json()["data"]["id"]
    for method in ("GET", "DELETE"):
        response = await api.client.request(
            method, f"/working_hours/{hour_id}?subdomain={clinic.subdomain}", headers=clinic.auth
        )
        assert response.status_code == 404
        assert response.json() == failure(f"working hour {hour_id} not found")
    forbidden = await api.client.get(wh_url(other), headers=clinic.auth)
    assert forbidden.status_code == 403
    assert forbidden.json() == failure("you don't have access to institution 'other'")
    async with api.db.read() as session:  # the other tenant's hour is still there, and alone
        stored = await session.execute(select(WorkingHour.id, WorkingHour.institution_id))
        assert [tuple(row) for row in stored] == [(hour_id, other.institution_id)]


async def test_list_filters_and_pages(api: Api) -> None:
    clinic = await api.clinic()
    ids = []
    for provider_id in clinic.provider_ids:
        for begin, end in (("08:00", "12:00"), ("13:00", "17:00")):
            made = await create(
                api,
                clinic,
                wh_body(clinic, provider_id=provider_id, begin_time=begin, end_time=end),
            )
            ids.append(made.json()["data"]["id"])
    await create(api, clinic, wh_body(clinic, active=False))
    await create(api, clinic, wh_body(clinic, days=None, specific_date="2020-01-01"))
    first = await api.client.get(wh_url(clinic) + "&per_page=3", headers=clinic.auth)
    body = first.json()
    assert [h["id"] for h in body["data"]] == ids[:3]
    assert body["count"] == 5
    assert body["page_info"]["has_next_page"] is True
    cursor = body["page_info"]["end_cursor"]
    second = await api.client.get(
        wh_url(clinic) + f"&per_page=3&end_cursor={cursor}", headers=clinic.auth
    )
    assert [h["id"] for h in second.json()["data"]][:1] == ids[3:]
    assert len(second.json()["data"]) == 2
    mine = await api.client.get(
        wh_url(clinic) + f"&provider_id={clinic.provider_ids[1]}", headers=clinic.auth
    )
    assert [h["id"] for h in mine.json()["data"]] == ids[2:]
    future_only = await api.client.get(
        wh_url(clinic) + "&ignore_past_dates=true", headers=clinic.auth
    )
    assert [h["id"] for h in future_only.json()["data"]] == ids
    inactive = await api.client.get(wh_url(clinic) + "&active=false", headers=clinic.auth)
    assert [h["active"] for h in inactive.json()["data"]] == [False]


async def test_patch_rules(api: Api) -> None:
    clinic = await api.clinic()
    made = await create(api, clinic, wh_body(clinic))
    hour_id = made.json()["data"]["id"]
    url = f"/working_hours/{hour_id}?subdomain={clinic.subdomain}"
    both = await api.client.patch(
        url,
        json={"working_hour": {"days": ["Monday"], "specific_date": "2027-01-01"}},
        headers=clinic.auth,
    )
    assert both.status_code == 400
    assert both.json()["error"] == [
        "working_hour.days: give only one of days, specific_date or custom_recurrence"
    ]
    backwards = await api.client.patch(
        url, json={"working_hour": {"begin_time": "18:00"}}, headers=clinic.auth
    )
    assert backwards.status_code == 400
    assert backwards.json()["error"] == ["working_hour.end_time: must be after begin_time"]
    nulls = await api.client.patch(
        url, json={"working_hour": {"provider_id": None, "active": None}}, headers=clinic.auth
    )
    assert nulls.status_code == 400
    assert nulls.json()["error"] == [
        "working_hour.provider_id: must not be null",
        "working_hour.active: must not be null",
    ]
    moved = await api.client.patch(
        url,
        json={
            "working_hour": {
                "specific_date": "2027-03-04",
                "provider_id": clinic.provider_ids[1],
                "active": False,
            }
        },
        headers=clinic.auth,
    )
    assert moved.status_code == 200, moved.text
    data = moved.json()["data"]
    assert (data["days"], data["specific_date"], data["provider_id"], data["active"]) == (
        None,
        "2027-03-04",
        clinic.provider_ids[1],
        False,
    )
    unknown = await api.client.patch(
        f"/working_hours/999999?subdomain={clinic.subdomain}",
        json={"working_hour": {"active": True}},
        headers=clinic.auth,
    )
    assert unknown.status_code == 404


async def test_recurrence_num_is_at_most_366(api: Api) -> None:
    """Every 366 units is the rarest rule taken, on create and on PATCH; past it is a 400
    that changes nothing (not a 500 from the 32-bit column)."""
    clinic = await api.clinic()
    rarest = {"num": 366, "unit": "month", "ref": "2026-01-01"}
    made = await create(api, clinic, wh_body(clinic, days=None, custom_recurrence=rarest))
    assert made.status_code == 201, made.text
    assert made.json()["data"]["custom_recurrence"] == rarest
    hour_id = made.json()["data"]["id"]
    url = f"/working_hours/{hour_id}?subdomain={clinic.subdomain}"
    for num in (367, 3_000_000_000, 2**63):
        too_rare = {"num": num, "unit": "week", "ref": "2026-01-01"}
        patched = await api.client.patch(
            url, json={"working_hour": {"custom_recurrence": too_rare}}, headers=clinic.auth
        )
        assert patched.status_code == 400, patched.text
        assert patched.json()["error"] == [
            "working_hour.custom_recurrence.num: must be at most 366"
        ]
    v2 = await api.client.post(
        wh_url(clinic, path="/availabilities"),
        json={
            "availability": {
                "provider_id": clinic.provider_ids[0],
                "begin_time": "09:00",
                "end_time": "17:00",
                "custom_recurrence": {"num": 3_000_000_000, "unit": "day", "ref": "2026-01-01"},
            }
        },
        headers=clinic.auth,
    )
    assert v2.status_code == 400, v2.text
    assert v2.json()["error"] == ["availability.custom_recurrence.num: must be at most 366"]
    async with api.db.read() as session:
        rows = await session.execute(
            select(WorkingHour.id, WorkingHour.recurrence_num, WorkingHour.recurrence_unit)
        )
        assert rows.tuples().all() == [(hour_id, 366, "month")]


async def test_availabilities_v2_alias(api: Api) -> None:
    clinic = await api.clinic()
    body = {
        "availability": {
            "provider_id": clinic.provider_ids[0],
            "begin_time": "10:00",
            "end_time": "11:00",
            "days": ["Friday"],
            "appointment_category_ids": [clinic.appointment_type_id],
        }
    }
    made = await api.client.post(
        wh_url(clinic, path="/availabilities"), json=body, headers=clinic.auth
    )
    assert made.status_code == 201, made.text
    data = made.json()["data"]
    assert [t["id"] for t in data["appointment_types"]] == [clinic.appointment_type_id]
    bad = await api.client.patch(
        f"/availabilities/{data['id']}?subdomain={clinic.subdomain}",
        json={"availability": {"end_time": "nine"}},
        headers=clinic.auth,
    )
    assert bad.status_code == 400
    assert bad.json()["error"] == ["availability.end_time: must be HH:MM (00:00 to 23:59)"]
    listed = await api.client.get(wh_url(clinic, path="/availabilities"), headers=clinic.auth)
    assert [h["id"] for h in listed.json()["data"]] == [data["id"]]
    got = await api.client.get(
        f"/availabilities/{data['id']}?subdomain={clinic.subdomain}", headers=clinic.auth
    )
    assert got.json()["data"] == data
    patched = await api.client.patch(
        f"/availabilities/{data['id']}?subdomain={clinic.subdomain}",
        json={"availability": {"days": WEEKDAYS}},
        headers=clinic.auth,
    )
    assert patched.json()["data"]["days"] == WEEKDAYS
    gone = await api.client.delete(
        f"/availabilities/{data['id']}?subdomain={clinic.subdomain}", headers=clinic.auth
    )
    assert gone.status_code == 204


async def test_closures_crud(api: Api) -> None:
    clinic = await api.clinic()
    url = f"/locations/{clinic.location_id}/closures?subdomain={clinic.subdomain}"
    made = await api.client.post(
        url,
        json={"closure": {"start_date": "2027-12-24", "end_date": "2027-12-26", "reason": "Xmas"}},
        headers=clinic.auth,
    )
    assert made.status_code == 201, made.text
    data = made.json()["data"]
    assert {k: v for k, v in data.items() if k != "created_at"} == {
        "id": data["id"],
        "location_id": clinic.location_id,
        "start_date": "2027-12-24",
        "end_date": "2027-12-26",
        "reason": "Xmas",
    }
    one_day = await api.client.post(
        url, json={"closure": {"start_date": "2027-07-04"}}, headers=clinic.auth
    )
    assert one_day.json()["data"]["end_date"] == "2027-07-04"
    backwards = await api.client.post(
        url,
        json={"closure": {"start_date": "2027-07-04", "end_date": "2027-07-03"}},
        headers=clinic.auth,
    )
    assert backwards.status_code == 400
    assert backwards.json()["error"] == ["closure.end_date: must not be before start_date"]
    listed = await api.client.get(url, headers=clinic.auth)
    assert [c["start_date"] for c in listed.json()["data"]] == ["2027-12-24", "2027-07-04"]
    other = await api.clinic("other")
    foreign = await api.client.get(
        f"/locations/{other.location_id}/closures?subdomain={clinic.subdomain}",
        headers=clinic.auth,
    )
    assert foreign.status_code == 404
    gone = await api.client.delete(
        f"/locations/{clinic.location_id}/closures/{data['id']}?subdomain={clinic.subdomain}",
        headers=clinic.auth,
    )
    assert gone.status_code == 204
    again = await api.client.delete(
        f"/locations/{clinic.location_id}/closures/{data['id']}?subdomain={clinic.subdomain}",
        headers=clinic.auth,
    )
    assert again.status_code == 404
    assert date.fromisoformat(listed.json()["data"][0]["start_date"]).year == 2027


async def test_a_deleted_appointment_type_is_gone_from_working_hours(api: Api) -> None:
    clinic = await api.clinic()
    response = await create(
        api, clinic, wh_body(clinic, appointment_type_ids=[clinic.appointment_type_id])
    )
    assert response.status_code == 201, response.text
    hour = response.json()["data"]
    assert [t["id"] for t in hour["appointment_types"]] == [clinic.appointment_type_id]
    type_path = f"/appointment_types/{clinic.appointment_type_id}?subdomain={clinic.subdomain}"
    deleted = await api.client.delete(type_path, headers=clinic.auth)
    assert deleted.status_code == 200, deleted.text
    got = await api.client.get(
        f"/working_hours/{hour['id']}?subdomain={clinic.subdomain}", headers=clinic.auth
    )
    assert got.status_code == 200, got.text
    assert got.json()["data"] == {**hour, "appointment_types": []}
    listed = await api.client.get(wh_url(clinic), headers=clinic.auth)
    assert [h["appointment_types"] for h in listed.json()["data"]] == [[]]


async def test_a_deleted_hour_or_closure_id_is_never_handed_out_again(api: Api) -> None:
    """The last row deleted, the next one created gets a new id: a DELETE sent again (HTTP
    allows retrying it) stays a 404 instead of removing the new record."""
    clinic = await api.clinic()
    query = f"?subdomain={clinic.subdomain}"
    closures = f"/locations/{clinic.location_id}/closures"
    for path, body, collection in [
        (closures, {"closure": {"start_date": "2027-07-04"}}, closures + query),
        ("/working_hours", wh_body(clinic), wh_url(clinic)),
    ]:
        first = await api.client.post(collection, json=body, headers=clinic.auth)
        assert first.status_code == 201, first.text
        first_id = first.json()["data"]["id"]
        gone = await api.client.delete(f"{path}/{first_id}{query}", headers=clinic.auth)
        assert gone.status_code == 204, gone.text
        second = await api.client.post(collection, json=body, headers=clinic.auth)
        assert second.status_code == 201, second.text
        assert second.json()["data"]["id"] > first_id
        retried = await api.client.delete(f"{path}/{first_id}{query}", headers=clinic.auth)
        assert retried.status_code == 404, retried.text
        listed = await api.client.get(collection, headers=clinic.auth)
        assert [row["id"] for row in listed.json()["data"]] == [second.json()["data"]["id"]]


async def test_an_empty_json_column_is_sql_null(api: Api) -> None:
    """Hours on a specific date have no days: stored as NULL (not the JSON text 'null'), as
    the booking's driver path stores an empty JSON column."""
    clinic = await api.clinic()
    response = await create(api, clinic, wh_body(clinic, days=None, specific_date="2027-01-04"))
    assert response.status_code == 201, response.text
    async with api.db.read() as session:
        stored = await session.execute(select(WorkingHour.id).where(WorkingHour.days.is_(None)))
        assert stored.scalars().all() == [response.json()["data"]["id"]]
