"""PATCH /appointments/{id} (one-way changes; cancelling frees the slot), GET /appointments."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from carebook.db.tables import Appointment
from tests.support import Api, Clinic, book, future, iso_z, next_dst_change

pytestmark = pytest.mark.anyio

NEW_YORK = ZoneInfo("America/New_York")


def refusal(*errors: str) -> dict[str, Any]:
    return {
        "code": False,
        "description": "; ".join(errors),
        "error": list(errors),
        "data": None,
        "count": None,
    }


async def status_of(api: Api, appointment_id: int) -> tuple[Any, ...]:
    """What PATCH may change, as stored."""
    async with api.db.read() as session:
        row = (
            await session.execute(
                select(
                    Appointment.confirmed,
                    Appointment.confirmed_at,
                    Appointment.cancelled,
                    Appointment.cancelled_at,
                    Appointment.checkin_at,
                    Appointment.patient_missed,
                    Appointment.note,
                    Appointment.updated_at,
                ).where(Appointment.id == appointment_id)
            )
        ).one()
    return tuple(row)


async def get(api: Api, clinic: Clinic, appointment_id: int) -> dict[str, Any]:
    response = await api.client.get(
        f"/appointments/{appointment_id}?subdomain={clinic.subdomain}", headers=clinic.auth
    )
    assert response.status_code == 200, response.text
    appt: dict[str, Any] = response.json()["data"]["appt"]
    return appt


async def patch(api: Api, clinic: Clinic, appointment_id: int, **fields: Any) -> Any:
    return await api.client.patch(
        f"/appointments/{appointment_id}?subdomain={clinic.subdomain}",
        json={"appt": fields},
        headers=clinic.auth,
    )


async def test_cancel_frees_the_slot_and_is_final(api: Api) -> None:
    clinic = await api.clinic()
    start = future(days=40)
    first = await book(api, clinic, start)
    cancelled = await patch(api, clinic, first, cancelled=True)
    assert cancelled.status_code == 200, cancelled.text
    got = cancelled.json()["data"]["appt"]
    assert got["cancelled"] is True
    assert got["cancelled_at"].endswith("Z")
    assert await book(api, clinic, start) != first
    again = await patch(api, clinic, first, cancelled=False)
    assert again.status_code == 400
    assert again.json()["error"] == ["appt.cancelled: a cancelled appointment cannot be reinstated"]


async def test_confirm_and_check_in_are_one_way(api: Api) -> None:
    clinic = await api.clinic()
    appointment_id = await book(api, clinic, future(days=41))
    confirmed = await patch(
        api,
        clinic,
        appointment_id,
        confirmed=True,
        checkin_at="2030-01-01T09:55:00-05:00",
        note="Running late",
    )
    assert confirmed.status_code == 200, confirmed.text
    got = confirmed.json()["data"]["appt"]
    assert got["confirmed"] is True
    assert got["confirmed_at"].endswith("Z")
    assert got["checkin_at"] == "2030-01-01T14:55:00.000Z"
    assert got["note"] == "Running late"
    withdraw = await patch(
        api, clinic, appointment_id, confirmed=False, checkin_at="2030-01-01T10:00:00Z"
    )
    assert withdraw.status_code == 400
    assert withdraw.json()["error"] == [
        "appt.confirmed: a confirmation cannot be withdrawn",
        "appt.checkin_at: the patient is already checked in",
    ]
    unknown = await patch(api, clinic, appointment_id, start_time="2030-01-01T10:00:00Z")
    assert unknown.status_code == 400
    assert unknown.json()["error"] == ["appt.start_time: is not a known field"]


async def test_patch_other_tenant_or_unknown_is_404(api: Api) -> None:
    acme = await api.clinic("acme")
    other = await api.clinic("other")
    theirs = await book(api, other, future(days=42))
    response = await patch(api, acme, theirs, confirmed=True)
    assert response.status_code == 404
    assert response.json()["error"] == [f"appointment {theirs} not found"]


async def test_list_appointments_in_a_window_with_paging(api: Api) -> None:
    clinic = await api.clinic(patients=3)
    start = future(days=43, hour=14)
    ids = [await book(api, clinic, start + timedelta(hours=i), patient=i % 3) for i in range(5)]
    outside = await book(api, clinic, start + timedelta(days=3))
    base = (
        f"/appointments?subdomain={clinic.subdomain}&location_id={clinic.location_id}"
        f"&start={iso_z(start)}&end={iso_z(start + timedelta(days=1))}"
    )
    first = await api.client.get(base + "&per_page=2", headers=clinic.auth)
    assert first.status_code == 200, first.text
    body = first.json()
    assert [a["id"] for a in body["data"]] == ids[:2]
    assert body["count"] == 5
    assert body["page_info"]["has_next_page"] is True
    assert body["data"][0]["patient"]["id"] == clinic.patient_ids[0]
    rest = await api.client.get(
        base + f"&per_page=10&end_cursor={body['page_info']['end_cursor']}", headers=clinic.auth
    )
    assert [a["id"] for a in rest.json()["data"]] == ids[2:]
    assert outside not in [a["id"] for a in rest.json()["data"]]
    filtered = await api.client.get(
        base + f"&patient_ids[]={clinic.patient_ids[1]}", headers=clinic.auth
    )
    assert [a["id"] for a in filtered.json()["data"]] == [ids[1], ids[4]]
    await patch(api, clinic, ids[0], cancelled=True)
    active = await api.client.get(base + "&cancelled=false", headers=clinic.auth)
    assert [a["id"] for a in active.json()["data"]] == ids[1:]


async def test_list_rejects_bad_windows(api: Api) -> None:
    clinic = await api.clinic()
    base = f"/appointments?subdomain={clinic.subdomain}&location_id={clinic.location_id}"
    no_window = await api.client.get(base, headers=clinic.auth)
    assert no_window.status_code == 400
    assert no_window.json()["error"] == ["start: is required", "end: is required"]
    backwards = await api.client.get(
        base + "&start=2030-01-02T00:00:00Z&end=2030-01-01T00:00:00Z", headers=clinic.auth
    )
    assert backwards.json()["error"] == ["end: must be after start"]
    # A naive start is local time at the location (test_list_window_without_offset_...).
    junk = await api.client.get(base + "&start=2030-01-01T00:00:00&end=junk", headers=clinic.auth)
    assert junk.json()["error"] == [
        "end: must be an ISO 8601 date-time, e.g. 2026-03-02T10:00:00-05:00",
    ]
    naive_backwards = await api.client.get(
        base + "&start=2030-01-01T00:00:00&end=2030-01-01T05:00:00Z", headers=clinic.auth
    )
    assert naive_backwards.json()["error"] == ["end: must be after start"]
    huge = await api.client.get(
        base + f"&start=2030-01-01T00:00:00Z&end=2030-01-02T00:00:00Z&provider_ids[]={2**64}",
        headers=clinic.auth,
    )
    assert huge.status_code == 400
    elsewhere = await api.client.get(
        f"/appointments?subdomain={clinic.subdomain}&location_id=99999"
        "&start=2030-01-01T00:00:00Z&end=2030-01-02T00:00:00Z",
        headers=clinic.auth,
    )
    assert elsewhere.status_code == 404


async def test_a_cancelled_appointment_is_not_confirmed_checked_in_or_marked_missed(
    api: Api,
) -> None:
    clinic = await api.clinic()
    appointment_id = await book(api, clinic, future(days=44))
    cancelled = await patch(api, clinic, appointment_id, cancelled=True)
    assert cancelled.status_code == 200, cancelled.text
    before = await get(api, clinic, appointment_id)
    stored = await status_of(api, appointment_id)
    assert stored[:6] == (False, None, True, stored[3], None, False)
    everything = await patch(
        api,
        clinic,
        appointment_id,
        confirmed=True,
        checkin_at="2030-01-01T10:00:00Z",
        patient_missed=True,
    )
    assert everything.status_code == 400, everything.text
    assert everything.json() == refusal(
        "appt.confirmed: a cancelled appointment cannot be confirmed",
        "appt.checkin_at: a cancelled appointment cannot be checked in",
        "appt.patient_missed: a cancelled appointment cannot be marked missed",
    )
    for field, value, error in (
        ("confirmed", True, "appt.confirmed: a cancelled appointment cannot be confirmed"),
        (
            "checkin_at",
            "2030-01-01T10:00:00",
            "appt.checkin_at: a cancelled appointment cannot be checked in",
        ),
        (
            "patient_missed",
            True,
            "appt.patient_missed: a cancelled appointment cannot be marked missed",
        ),
    ):
        # With a change that alone would be allowed: nothing of the request is kept.
        alone = await patch(api, clinic, appointment_id, note="Called", **{field: value})
        assert alone.status_code == 400, alone.text
        assert alone.json() == refusal(error)
    assert await status_of(api, appointment_id) == stored
    assert await get(api, clinic, appointment_id) == before
    # Cancelling again, changes that change nothing, and the note stay allowed.
    again = await patch(
        api, clinic, appointment_id, cancelled=True, confirmed=False, patient_missed=False
    )
    assert again.status_code == 200, again.text
    got = again.json()["data"]["appt"]
    assert got == {**before, "updated_at": got["updated_at"]}
    noted = await patch(api, clinic, appointment_id, note="Rebooked by phone")
    assert noted.status_code == 200, noted.text
    got = noted.json()["data"]["appt"]
    assert got == {**before, "note": "Rebooked by phone", "updated_at": got["updated_at"]}
    assert (await status_of(api, appointment_id))[:7] == (*stored[:6], "Rebooked by phone")


async def test_what_happened_before_the_cancellation_stays(api: Api) -> None:
    """Confirmed, checked in and marked missed before it was cancelled (or in the same request
    as the cancellation, which is as if it came first): saying so again changes nothing; the
    check-in stays one-way."""
    clinic = await api.clinic()
    earlier = await book(api, clinic, future(days=45))
    done = await patch(
        api, clinic, earlier, confirmed=True, checkin_at="2030-01-01T09:55:00Z", patient_missed=True
    )
    assert done.status_code == 200, done.text
    assert (await patch(api, clinic, earlier, cancelled=True)).status_code == 200
    same_request = await book(api, clinic, future(days=46))
    together = await patch(
        api,
        clinic,
        same_request,
        cancelled=True,
        confirmed=True,
        checkin_at="2030-01-01T09:55:00Z",
        patient_missed=True,
    )
    assert together.status_code == 200, together.text
    for appointment_id in (earlier, same_request):
        before = await get(api, clinic, appointment_id)
        assert (
            before["cancelled"],
            before["confirmed"],
            before["checkin_at"],
            before["patient_missed"],
        ) == (True, True, "2030-01-01T09:55:00.000Z", True)
        repeat = await patch(api, clinic, appointment_id, confirmed=True, patient_missed=True)
        assert repeat.status_code == 200, repeat.text
        got = repeat.json()["data"]["appt"]
        assert got == {**before, "updated_at": got["updated_at"]}
        checkin = await patch(api, clinic, appointment_id, checkin_at="2030-01-01T10:00:00Z")
        assert checkin.json() == refusal("appt.checkin_at: the patient is already checked in")
        assert await get(api, clinic, appointment_id) == got


async def test_a_block_is_not_confirmed_checked_in_or_marked_missed(api: Api) -> None:
    clinic = await api.clinic()
    start = future(days=47)
    response = await api.client.post(
        f"/appointments?subdomain={clinic.subdomain}&location_id={clinic.location_id}",
        json={
            "appt": {
                "provider_id": clinic.provider_ids[0],
                "unavailable": True,
                "start_time": iso_z(start),
                "end_time": iso_z(start + timedelta(hours=1)),
            }
        },
        headers=clinic.auth,
    )
    assert response.status_code == 201, response.text
    block_id = response.json()["data"]["appt"]["id"]
    before = await get(api, clinic, block_id)
    stored = await status_of(api, block_id)
    errors = (
        "appt.confirmed: a block cannot be confirmed",
        "appt.checkin_at: a block cannot be checked in",
        "appt.patient_missed: a block cannot be marked missed",
    )
    everything = await patch(
        api,
        clinic,
        block_id,
        confirmed=True,
        checkin_at="2030-01-01T10:00:00Z",
        patient_missed=True,
    )
    assert everything.json() == refusal(*errors)
    for fields, error in (
        ({"confirmed": True}, errors[0]),
        ({"checkin_at": "2030-01-01T10:00:00"}, errors[1]),
        ({"patient_missed": True}, errors[2]),
    ):
        alone = await patch(api, clinic, block_id, **fields)
        assert alone.status_code == 400, alone.text
        assert alone.json() == refusal(error)
    assert await status_of(api, block_id) == stored
    assert await get(api, clinic, block_id) == before
    noted = await patch(api, clinic, block_id, note="Lunch", patient_missed=False)
    assert noted.status_code == 200, noted.text
    got = noted.json()["data"]["appt"]
    assert got == {**before, "note": "Lunch", "updated_at": got["updated_at"]}
    # A cancelled block is still a block.
    cancelled = await patch(api, clinic, block_id, cancelled=True)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["data"]["appt"]["cancelled"] is True
    assert (await patch(api, clinic, block_id, confirmed=True)).json() == refusal(errors[0])
    confirmed, _, is_cancelled, _, checkin_at, missed, note, _ = await status_of(api, block_id)
    assert (confirmed, is_cancelled, checkin_at, missed, note) == (
        False,
        True,
        None,
        False,
        "Lunch",
    )


async def test_list_names_the_parameters_it_ignores(api: Api) -> None:
    """As POST /appointments names the keys it ignores: a filter the list does not take is not
    applied, and the answer says so."""
    clinic = await api.clinic(patients=3)
    start = future(days=48, hour=14)
    ids = [await book(api, clinic, start + timedelta(hours=i), patient=i) for i in range(3)]
    base = (
        f"/appointments?subdomain={clinic.subdomain}&location_id={clinic.location_id}"
        f"&start={iso_z(start)}&end={iso_z(start + timedelta(days=1))}"
    )
    ignoring = await api.client.get(
        base
        + f"&patient_id={clinic.patient_ids[0]}&provider_ids={clinic.provider_ids[1]}"
        + f"&appointment_type_id={clinic.appointment_type_id}&sort=-start_time"
        + "&updated_since=2099-01-01T00:00:00Z&sort=id",
        headers=clinic.auth,
    )
    assert ignoring.status_code == 200, ignoring.text
    body = ignoring.json()
    assert body == {
        "code": True,
        "description": "Note that following parameters are ignored: appointment_type_id, "
        "patient_id, provider_ids, sort, updated_since.",
        "error": None,
        "data": body["data"],
        "count": 3,
        "page_info": {
            "has_previous_page": False,
            "has_next_page": False,
            "start_cursor": body["page_info"]["start_cursor"],
            "end_cursor": body["page_info"]["end_cursor"],
        },
    }
    assert [a["id"] for a in body["data"]] == ids
    assert body["data"] == [await get(api, clinic, i) for i in ids]
    # Every parameter it takes, given: nothing to note.
    filters = (
        f"&patient_ids[]={clinic.patient_ids[1]}&patient_ids[]={clinic.patient_ids[2]}"
        f"&provider_ids[]={clinic.provider_ids[0]}&cancelled=false&unavailable=false&per_page=1"
    )
    forwards = await api.client.get(base + filters, headers=clinic.auth)
    assert forwards.status_code == 200, forwards.text
    assert forwards.json()["description"] is None
    assert [a["id"] for a in forwards.json()["data"]] == [ids[1]]
    cursor = forwards.json()["page_info"]["end_cursor"]
    second = await api.client.get(base + filters + f"&end_cursor={cursor}", headers=clinic.auth)
    assert (second.json()["description"], [a["id"] for a in second.json()["data"]]) == (
        None,
        [ids[2]],
    )
    cursor = second.json()["page_info"]["start_cursor"]
    back = await api.client.get(
        base + filters + f"&start_cursor={cursor}&operatory_ids[]={clinic.operatory_ids[0]}",
        headers=clinic.auth,
    )
    assert back.status_code == 200, back.text
    assert (back.json()["description"], back.json()["data"]) == (None, [])
    plain = await api.client.get(base, headers=clinic.auth)
    assert plain.json()["description"] is None
    assert plain.json()["data"] == body["data"]


def ny_utc(day: date, hour: int, minute: int = 0) -> datetime:
    """The instant of New York wall time ``hour:minute`` on ``day`` (a time that exists)."""
    return datetime.combine(day, time(hour, minute), NEW_YORK).astimezone(UTC)


async def listed(api: Api, clinic: Clinic, start: str, end: str) -> list[int]:
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
    assert response.status_code == 200, response.text
    assert response.json()["description"] is None
    return [a["id"] for a in response.json()["data"]]


async def test_list_window_without_offset_is_local_time_at_the_location(api: Api) -> None:
    clinic = await api.clinic()
    day = future(days=49).date()
    late_before, early, late, early_after = [
        await book(api, clinic, at)
        for at in (
            ny_utc(day - timedelta(days=1), 23, 0),
            ny_utc(day, 0, 0),
            ny_utc(day, 23, 0),
            ny_utc(day + timedelta(days=1), 0, 0),
        )
    ]
    midnight, next_midnight = f"{day}T00:00:00", f"{day + timedelta(days=1)}T00:00:00"
    assert await listed(api, clinic, midnight, next_midnight) == [early, late]
    # Either end alone may carry an offset.
    assert await listed(api, clinic, midnight, iso_z(ny_utc(day, 23, 30))) == [early, late]
    assert await listed(api, clinic, iso_z(ny_utc(day, 0, 0)), next_midnight) == [early, late]
    assert await listed(api, clinic, f"{day - timedelta(days=1)}T23:00:00", midnight) == [
        late_before
    ]
    assert await listed(api, clinic, next_midnight, f"{day + timedelta(days=1)}T00:30:00") == [
        early_after
    ]


async def test_list_window_without_offset_on_dst_change_days(api: Api) -> None:
    """New York skips 02:00-03:00 in spring (02:30 means 03:30 EDT) and repeats 01:00-02:00 in
    autumn (01:30 means its first occurrence, in EDT)."""
    clinic = await api.clinic()
    spring = next_dst_change("America/New_York", forward=True)
    autumn = next_dst_change("America/New_York", forward=False)
    spring_day = datetime.combine(spring, time(0), UTC)
    autumn_day = datetime.combine(autumn, time(0), UTC)
    # 03:15 and 03:30 EDT; 01:15 and 01:45 EDT (then 01:15 and 01:45 EST an hour later).
    before_gap, after_gap = [
        await book(api, clinic, spring_day + timedelta(hours=7, minutes=m), patient=i, provider=i)
        for i, m in enumerate((15, 30))
    ]
    first_early, first_late, second_early, second_late = [
        await book(api, clinic, autumn_day + timedelta(hours=h, minutes=m))
        for h, m in ((5, 15), (5, 45), (6, 15), (6, 45))
    ]
    assert await listed(api, clinic, f"{spring}T02:30:00", f"{spring}T04:00:00") == [after_gap]
    assert await listed(api, clinic, f"{spring}T00:00:00", f"{spring}T02:30:00") == [before_gap]
    assert await listed(api, clinic, f"{autumn}T01:30:00", f"{autumn}T03:00:00") == [
        first_late,
        second_early,
        second_late,
    ]
    assert await listed(api, clinic, f"{autumn}T00:00:00", f"{autumn}T01:30:00") == [first_early]


async def test_check_in_without_offset_is_local_time_at_the_location(api: Api) -> None:
    """At the appointment's own location: New York or Berlin, by the DST rule on change days."""
    clinic = await api.clinic()
    spring = next_dst_change("America/New_York", forward=True)
    autumn = next_dst_change("America/New_York", forward=False)
    cases = [
        (await book(api, clinic, future(days=50)), "2030-01-01T10:00:00", "2030-01-01T15:00:00"),
        (await book(api, clinic, future(days=51)), f"{spring}T02:30:00", f"{spring}T07:30:00"),
        (await book(api, clinic, future(days=52)), f"{autumn}T01:30:00", f"{autumn}T05:30:00"),
        (await book(api, clinic, future(days=53)), "2030-07-01T10:00:00", "2030-07-01T14:00:00"),
    ]
    start = future(days=54)
    in_berlin = await api.client.post(
        f"/appointments?subdomain={clinic.subdomain}&location_id={clinic.op_location_id}",
        json={
            "appt": {
                "patient_id": clinic.patient_ids[0],
                "provider_id": clinic.provider_ids[0],
                "operatory_id": clinic.operatory_ids[0],
                "start_time": iso_z(start),
                "end_time": iso_z(start + timedelta(minutes=30)),
            }
        },
        headers=clinic.auth,
    )
    assert in_berlin.status_code == 201, in_berlin.text
    cases.append(
        (in_berlin.json()["data"]["appt"]["id"], "2030-01-01T10:00:00", "2030-01-01T09:00:00")
    )
    for appointment_id, checkin_at, utc in cases:
        before = await get(api, clinic, appointment_id)
        response = await patch(api, clinic, appointment_id, checkin_at=checkin_at)
        assert response.status_code == 200, response.text
        got = response.json()["data"]["appt"]
        assert got == {**before, "checkin_at": f"{utc}.000Z", "updated_at": got["updated_at"]}
        stored = (await status_of(api, appointment_id))[4]
        assert iso_z(stored) == f"{utc}.000Z"
