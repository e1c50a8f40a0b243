"""Dates and date-times the NexHealth API takes lie in the years 1900 to 8999, as written
(``core.time.in_range``): anything else is a 400 naming the field, never a 500 from a date that
runs off Python's calendar in the middle of the request, and nothing is written."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from carebook.db.tables import Appointment
from tests.support import Api, Clinic, future, iso_z

pytestmark = pytest.mark.anyio

OUT_OF_RANGE = "must lie in the years 1900 to 8999"


def refusal(*errors: str) -> dict[str, Any]:
    return {
        "code": False,
        "description": "; ".join(errors),
        "error": list(errors),
        "data": None,
        "count": None,
    }


async def appointments_of(api: Api, clinic: Clinic) -> list[tuple[Any, ...]]:
    async with api.db.read() as session:
        rows = await session.execute(
            select(
                Appointment.id,
                Appointment.start_at,
                Appointment.end_at,
                Appointment.confirmed,
                Appointment.checkin_at,
            )
            .where(Appointment.institution_id == clinic.institution_id)
            .order_by(Appointment.id)
        )
        return [tuple(row) for row in rows]


async def post(api: Api, clinic: Clinic, start: str, end: str | None = None) -> Any:
    appt: dict[str, Any] = {
        "patient_id": clinic.patient_ids[0],
        "provider_id": clinic.provider_ids[0],
        "start_time": start,
    }
    if end is None:
        appt["appointment_type_id"] = clinic.appointment_type_id
    else:
        appt["end_time"] = end
    return await api.client.post(
        f"/appointments?subdomain={clinic.subdomain}&location_id={clinic.location_id}",
        json={"appt": appt},
        headers=clinic.auth,
    )


@pytest.mark.parametrize(
    ("start", "end", "errors"),
    [
        # The first database query looked two days either side of these.
        ("9999-12-30T10:00:00Z", None, [f"appt.start_time: {OUT_OF_RANGE}"]),
        ("0001-01-01T10:00:00Z", None, [f"appt.start_time: {OUT_OF_RANGE}"]),
        ("0001-01-02T10:00:00Z", None, [f"appt.start_time: {OUT_OF_RANGE}"]),
        # These overflowed turning into UTC (the naive ones as New York time).
        ("9999-12-31T22:00:00-05:00", None, [f"appt.start_time: {OUT_OF_RANGE}"]),
        (
            "9999-12-31T22:00:00",
            "9999-12-31T23:00:00",
            [f"appt.start_time: {OUT_OF_RANGE}", f"appt.end_time: {OUT_OF_RANGE}"],
        ),
        (iso_z(future(days=3)), "9999-12-31T23:00:00-05:00", [f"appt.end_time: {OUT_OF_RANGE}"]),
        # The edges: the year as written counts, whatever the offset.
        ("9000-01-01T00:00:00+14:00", None, [f"appt.start_time: {OUT_OF_RANGE}"]),
        ("1900-01-01T00:00:00+14:00", None, ["appt.start_time: must be in the future"]),
        ("1899-12-31T23:59:59-12:00", None, [f"appt.start_time: {OUT_OF_RANGE}"]),
    ],
)
async def test_booking_times_out_of_range_are_a_400(
    api: Api, start: str, end: str | None, errors: list[str]
) -> None:
    clinic = await api.clinic()
    response = await post(api, clinic, start, end)
    assert response.status_code == 400, response.text
    assert response.json() == refusal(*errors)
    assert await appointments_of(api, clinic) == []


async def test_the_last_year_in_range_books(api: Api) -> None:
    """Late on the last day of 8999 in New York is already 9000 in UTC: stored and answered."""
    clinic = await api.clinic()
    response = await post(api, clinic, "8999-12-31T22:00:00", "8999-12-31T23:00:00")
    assert response.status_code == 201, response.text
    got = response.json()["data"]["appt"]
    assert (got["start_time"], got["end_time"]) == (
        "9000-01-01T03:00:00.000Z",
        "9000-01-01T04:00:00.000Z",
    )
    [(_, start_at, end_at, _, _)] = await appointments_of(api, clinic)
    assert (iso_z(start_at), iso_z(end_at)) == (got["start_time"], got["end_time"])


async def test_check_in_out_of_range_is_a_400_and_changes_nothing(api: Api) -> None:
    clinic = await api.clinic()
    booked = await post(api, clinic, iso_z(future(days=5)))
    assert booked.status_code == 201, booked.text
    appointment_id = booked.json()["data"]["appt"]["id"]
    before = await appointments_of(api, clinic)
    url = f"/appointments/{appointment_id}?subdomain={clinic.subdomain}"
    for checkin_at in (
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-01:00",
        "1899-12-31T23:00:00Z",
        "9000-01-01T00:00:00Z",
    ):
        response = await api.client.patch(
            url, json={"appt": {"confirmed": True, "checkin_at": checkin_at}}, headers=clinic.auth
        )
        assert response.status_code == 400, (checkin_at, response.text)
        assert response.json() == refusal(f"appt.checkin_at: {OUT_OF_RANGE}")
    assert await appointments_of(api, clinic) == before
    assert before[0][3:] == (False, None)
    # The last moment of 8999, an hour behind UTC, is in range.
    edge = await api.client.patch(
        url, json={"appt": {"checkin_at": "8999-12-31T23:59:59-01:00"}}, headers=clinic.auth
    )
    assert edge.status_code == 200, edge.text
    assert edge.json()["data"]["appt"]["checkin_at"] == "9000-01-01T00:59:59.000Z"
    [(*_, checkin_at)] = await appointments_of(api, clinic)
    assert iso_z(checkin_at) == "9000-01-01T00:59:59.000Z"


@pytest.mark.parametrize(
    ("start", "end", "errors"),
    [
        ("0001-01-01T00:00:00+01:00", "2030-01-01T00:00:00Z", [f"start: {OUT_OF_RANGE}"]),
        ("2030-01-01T00:00:00Z", "9999-12-31T23:59:59-01:00", [f"end: {OUT_OF_RANGE}"]),
        (
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59Z",
            [f"start: {OUT_OF_RANGE}", f"end: {OUT_OF_RANGE}"],
        ),
    ],
)
async def test_list_window_out_of_range_is_a_400(
    api: Api, start: str, end: str, errors: list[str]
) -> None:
    clinic = await api.clinic()
    response = await api.client.get(
        "/appointments",
        params={
            "subdomain": clinic.subdomain,
            "location_id": clinic.location_id,
            "start": start,
            "end": end,
        },
        headers=clinic.auth,
    )
    assert response.status_code == 400, response.text
    assert response.json() == refusal(*errors)


async def test_list_window_at_the_edges_of_the_range(api: Api) -> None:
    clinic = await api.clinic()
    start = future(days=5)
    booked = await post(api, clinic, iso_z(start), iso_z(start + timedelta(minutes=30)))
    assert booked.status_code == 201, booked.text
    response = await api.client.get(
        "/appointments",
        params={
            "subdomain": clinic.subdomain,
            "location_id": clinic.location_id,
            "start": "1900-01-01T00:00:00+14:00",
            "end": "8999-12-31T23:59:59-12:00",
        },
        headers=clinic.auth,
    )
    assert response.status_code == 200, response.text
    assert [a["id"] for a in response.json()["data"]] == [booked.json()["data"]["appt"]["id"]]


@pytest.mark.parametrize("path", ["/available_slots", "/appointment_slots"])
@pytest.mark.parametrize(
    "start_date", ["9999-12-31", "9999-12-25", "9000-01-01", "1899-12-31", "0001-01-01"]
)
async def test_slot_search_from_a_date_out_of_range_is_a_400(
    api: Api, path: str, start_date: str
) -> None:
    clinic = await api.clinic()
    response = await api.client.get(
        path,
        params={
            "subdomain": clinic.subdomain,
            "start_date": start_date,
            "days": 7,
            "lids[]": clinic.location_id,
            "pids[]": clinic.provider_ids[0],
        },
        headers=clinic.auth,
    )
    assert response.status_code == 400, response.text
    assert response.json() == {
        "code": False,
        "description": "the request is invalid",
        "error": [f"start_date: {OUT_OF_RANGE}"],
        "data": None,
        "count": None,
    }


@pytest.mark.parametrize("path", ["/available_slots", "/appointment_slots"])
async def test_slot_search_from_the_last_date_in_range(api: Api, path: str) -> None:
    """The longest search and its look-ahead for the next free date stay on the calendar."""
    clinic = await api.clinic()
    response = await api.client.get(
        path,
        params={
            "subdomain": clinic.subdomain,
            "start_date": "8999-12-31",
            "days": 90,
            "lids[]": clinic.location_id,
            "pids[]": clinic.provider_ids[0],
        },
        headers=clinic.auth,
    )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "code": True,
        "description": None,
        "error": None,
        "data": [
            {
                "lid": clinic.location_id,
                "pid": clinic.provider_ids[0],
                "slots": [],
                "next_available_date": None,
            }
        ],
        "count": 1,
    }
