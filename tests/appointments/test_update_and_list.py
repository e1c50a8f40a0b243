"""PATCH /appointments/{id} (one-way changes; cancelling frees the slot), GET /appointments."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.support import Api, Clinic, future, iso_z

pytestmark = pytest.mark.anyio


async def book(api: Api, clinic: Clinic, start: Any, patient: int = 0, provider: int = 0) -> int:
    response = await api.client.post(
        f"/appointments?subdomain={clinic.subdomain}&location_id={clinic.location_id}",
        json={
            "appt": {
                "patient_id": clinic.patient_ids[patient],
                "provider_id": clinic.provider_ids[provider],
                "start_time": iso_z(start),
                "end_time": iso_z(start + timedelta(minutes=30)),
            }
        },
        headers=clinic.auth,
    )
    assert response.status_code == 201, response.text
    appointment_id: int = response.json()["data"]["appt"]["id"]
    return appointment_id


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
    naive = await patch(api, clinic, appointment_id, checkin_at="2030-01-01T10:00:00")
    assert naive.json()["error"] == ["appt.checkin_at: must carry an offset, e.g. Z or -05:00"]
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
    naive = await api.client.get(base + "&start=2030-01-01T00:00:00&end=junk", headers=clinic.auth)
    assert naive.json()["error"] == [
        "start: must carry an offset, e.g. Z or -05:00",
        "end: must be an ISO 8601 date-time, e.g. 2026-03-02T10:00:00-05:00",
    ]
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
