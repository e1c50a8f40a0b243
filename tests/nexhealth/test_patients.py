"""Patients: POST /patients (NexHealth's body, ``data.user``), search, get; rules and tenancy."""

from __future__ import annotations

import base64
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from carebook.db.tables import Patient
from tests.nexhealth.helpers import GUID, INSTANT, errors, ok, url
from tests.support import Api, Clinic

pytestmark = pytest.mark.anyio


def new_patient(clinic: Clinic, **patient: Any) -> dict[str, Any]:
    bio = {"date_of_birth": "1990-04-21", "phone_number": "(555) 123-4567"}
    bio.update(patient.pop("bio", {}))
    fields: dict[str, Any] = {
        "first_name": "Grace",
        "last_name": "Hopper",
        "email": "grace@example.test",
        "bio": bio,
    }
    fields.update(patient)
    return {"provider": {"provider_id": clinic.provider_ids[0]}, "patient": fields}


def patients_url(clinic: Clinic, **params: Any) -> str:
    params.setdefault("location_id", clinic.location_id)
    return url(clinic, "/patients", **params)


async def test_create_patient_answers_201_with_data_user(api: Api) -> None:
    acme = await api.clinic("acme")
    body = new_patient(
        acme,
        middle_name="Brewster",
        bio={"gender": "Male", "city": "Arlington", "weight": 70.5, "cell_phone_number": "555"},
    )
    response = await api.client.post(patients_url(acme), headers=acme.auth, json=body)
    assert response.status_code == 201, response.text
    user = response.json()["data"]["user"]
    assert response.json() == {
        "code": True,
        "description": None,
        "error": None,
        "count": 1,
        "data": {
            "user": {
                "id": user["id"],
                "guid": GUID,
                "email": "grace@example.test",
                "first_name": "Grace",
                "middle_name": "Brewster",
                "last_name": "Hopper",
                "name": "Grace Brewster Hopper",
                "created_at": INSTANT,
                "updated_at": INSTANT,
                "institution_id": acme.institution_id,
                "foreign_id": None,
                "foreign_id_type": None,
                "bio": {
                    "cell_phone_number": "555",
                    "weight": 70.5,
                    "city": "Arlington",
                    "date_of_birth": "1990-04-21",
                    "phone_number": "(555) 123-4567",
                    "gender": "Male",
                },
                "inactive": False,
                "last_sync_time": None,
                "guarantor_id": None,
                "unsubscribe_sms": False,
                "provider_id": acme.provider_ids[0],
                "location_ids": [acme.location_id],
            }
        },
    }
    fetched = ok(await api.client.get(url(acme, f"/patients/{user['id']}"), headers=acme.auth))
    assert fetched == user
    async with api.db.read() as session:
        row = await session.get(Patient, user["id"])
    assert row is not None
    # The searchable copies of the bio: the date, and the phone's digits.
    assert (row.date_of_birth, row.phone_number, row.gender) == (
        date(1990, 4, 21),
        "5551234567",
        "Male",
    )


async def test_gender_defaults_to_female(api: Api) -> None:
    acme = await api.clinic("acme")
    response = await api.client.post(patients_url(acme), headers=acme.auth, json=new_patient(acme))
    assert ok(response, 201)["user"]["bio"] == {
        "date_of_birth": "1990-04-21",
        "phone_number": "(555) 123-4567",
        "gender": "Female",
    }


async def test_create_patient_refuses_bad_input_naming_the_field(api: Api) -> None:
    acme = await api.clinic("acme", patients=0)
    today = datetime.now(UTC).date()
    tomorrow = (today + timedelta(days=2)).isoformat()
    ancient = date(today.year - 131, 1, 1).isoformat()
    cases: list[tuple[dict[str, Any], list[str]]] = [
        (
            new_patient(acme, bio={"date_of_birth": tomorrow}),
            ["patient.bio.date_of_birth: must not be in the future"],
        ),
        (
            new_patient(acme, bio={"date_of_birth": ancient}),
            ["patient.bio.date_of_birth: must not be more than 130 years ago"],
        ),
        (
            new_patient(acme, bio={"date_of_birth": "21/04/1990"}),
            ["patient.bio.date_of_birth: must be a date as YYYY-MM-DD"],
        ),
        (
            new_patient(acme, bio={"date_of_birth": "1990-02-30"}),
            ["patient.bio.date_of_birth: is not a calendar date"],
        ),
        (
            new_patient(acme, bio={"date_of_birth": "1990-04-21T00:00:00Z"}),
            ["patient.bio.date_of_birth: must be a date as YYYY-MM-DD"],
        ),
        (
            new_patient(acme, bio={"date_of_birth": 19900421}),
            ["patient.bio.date_of_birth: input should be a valid date"],
        ),
        (
            new_patient(acme, bio={"gender": "female"}),
            ["patient.bio.gender: input should be 'Male', 'Female' or 'Other'"],
        ),
        (
            new_patient(acme, bio={"phone_number": "call me"}),
            ["patient.bio.phone_number: must contain digits"],
        ),
        (new_patient(acme, email="nope"), ["patient.email: is not a valid email address"]),
        (new_patient(acme, first_name=""), ["patient.first_name: must not be blank"]),
        (new_patient(acme, bio={"shoe_size": 9}), ["patient.bio.shoe_size: is not a known field"]),
        (new_patient(acme, nickname="G"), ["patient.nickname: is not a known field"]),
        (
            new_patient(acme, bio={"weight": True}),
            ["patient.bio.weight: must be a number or a string"],
        ),
        (
            new_patient(acme, bio={"height": "x" * 41}),
            ["patient.bio.height: must be at most 40 characters, without NULs"],
        ),
        (
            {"patient": new_patient(acme)["patient"]},
            ["provider: is required"],
        ),
        (
            {**new_patient(acme), "provider": {"provider_id": "1"}},
            ["provider.provider_id: input should be a valid integer"],
        ),
        (
            {"provider": {"provider_id": acme.provider_ids[0]}, "patient": {"first_name": "A"}},
            [
                "patient.last_name: is required",
                "patient.email: is required",
                "patient.bio: is required",
            ],
        ),
        (
            new_patient(acme, bio={"date_of_birth": None}),
            ["patient.bio.date_of_birth: input should be a valid date"],
        ),
    ]
    for body, expected in cases:
        response = await api.client.post(patients_url(acme), headers=acme.auth, json=body)
        assert errors(response, 400) == expected, body
    response = await api.client.post(
        url(acme, "/patients"), headers=acme.auth, json=new_patient(acme)
    )
    assert errors(response, 400) == ["location_id: is required"]
    response = await api.client.post(
        patients_url(acme),
        headers={**acme.auth, "Content-Type": "application/json"},
        content=b'{"provider": {"provider_id": 1}, "patient": {"first_name": "A", '
        b'"last_name": "B", "email": "a@b.co", "bio": {"date_of_birth": "1990-01-01", '
        b'"phone_number": "1", "weight": NaN}}}',
    )
    assert errors(response, 400) == ["patient.bio.weight: must be a finite number"]
    listed = await api.client.get(patients_url(acme), headers=acme.auth)
    assert listed.json()["count"] == 0


async def test_create_patient_with_ids_of_another_institution_is_404(api: Api) -> None:
    acme = await api.clinic("acme", patients=0)
    other = await api.clinic("other")
    response = await api.client.post(
        patients_url(acme, location_id=other.location_id), headers=acme.auth, json=new_patient(acme)
    )
    assert errors(response, 404) == [f"location {other.location_id} not found"]
    body = {**new_patient(acme), "provider": {"provider_id": other.provider_ids[0]}}
    response = await api.client.post(patients_url(acme), headers=acme.auth, json=body)
    assert errors(response, 404) == [f"provider {other.provider_ids[0]} not found"]
    response = await api.client.post(patients_url(other), headers=acme.auth, json=new_patient(acme))
    assert errors(response, 403) == ["you don't have access to institution 'other'"]
    response = await api.client.post(patients_url(acme), json=new_patient(acme))
    assert response.status_code == 401
    async with api.db.read() as session:
        rows = await session.execute(
            select(Patient.id).where(Patient.institution_id == acme.institution_id)
        )
    assert list(rows.scalars()) == []


async def test_a_duplicate_patient_is_refused_or_returned_on_request(api: Api) -> None:
    acme = await api.clinic("acme", patients=0)
    first = ok(
        await api.client.post(patients_url(acme), headers=acme.auth, json=new_patient(acme)), 201
    )["user"]
    # Same name in another case, same birth date, same phone written differently.
    again = new_patient(
        acme, first_name="GRACE", email="other@example.test", bio={"phone_number": "555.123.4567"}
    )
    response = await api.client.post(patients_url(acme), headers=acme.auth, json=again)
    assert errors(response, 400) == [
        f"patient: patient {first['id']} has the same name, date of birth and phone number "
        "(send return_existing_if_match=true to get it back)"
    ]
    response = await api.client.post(
        patients_url(acme), headers=acme.auth, json={**again, "return_existing_if_match": True}
    )
    assert ok(response, 200) == {"user": first}
    # A different birth date is another patient.
    twin = new_patient(acme, bio={"date_of_birth": "1991-04-21"})
    response = await api.client.post(
        patients_url(acme), headers=acme.auth, json={**twin, "return_existing_if_match": True}
    )
    assert ok(response, 201)["user"]["id"] != first["id"]


async def test_names_match_without_regard_to_case_beyond_ascii(api: Api) -> None:
    # Both databases fold every letter's case, not only A-Z (SQLite's own lower() does not).
    acme = await api.clinic("acme", patients=0)
    body = new_patient(acme, first_name="Élodie", last_name="Ørsted", email="E@Acme.test")
    first = ok(await api.client.post(patients_url(acme), headers=acme.auth, json=body), 201)
    again = new_patient(acme, first_name="ÉLODIE", last_name="øRSTED", email="e@acme.test")
    response = await api.client.post(
        patients_url(acme), headers=acme.auth, json={**again, "return_existing_if_match": True}
    )
    assert ok(response, 200) == first
    for name in ("élodie", "ÉLODIE ØRSTED", "ørsted élodie"):
        response = await api.client.get(patients_url(acme, name=name), headers=acme.auth)
        assert [p["id"] for p in ok(response, 200)] == [first["user"]["id"]], name
    response = await api.client.get(patients_url(acme, name="elodie"), headers=acme.auth)
    assert ok(response, 200) == []


async def test_search_patients_by_name_email_phone_birth_date_and_inactive(api: Api) -> None:
    acme = await api.clinic("acme", patients=3)
    other = await api.clinic("other", patients=3)

    async def mark_inactive(session: Any) -> None:
        row = await session.get(Patient, acme.patient_ids[2])
        row.inactive = True

    await api.db.write(mark_inactive)

    async def ids(**params: Any) -> list[int]:
        response = await api.client.get(patients_url(acme, **params), headers=acme.auth)
        body = response.json()
        assert response.status_code == 200, response.text
        assert body["count"] == len(body["data"])
        return [p["id"] for p in body["data"]]

    p0, p1, p2 = acme.patient_ids
    assert await ids() == [p0, p1, p2]
    assert await ids(name="pat1") == [p1]
    assert await ids(name="PATIENT") == [p0, p1, p2]
    assert await ids(name="Pat0 Patient") == [p0]
    assert await ids(name="patient pat2") == [p2]
    assert await ids(name="tie") == [p0, p1, p2]
    assert await ids(name="_") == []
    assert await ids(name="nobody") == []
    assert await ids(email="PATIENT1@acme.test") == [p1]
    assert await ids(phone_number="(555) 000-0002") == [p2]
    assert await ids(date_of_birth="1980-01-02") == [p1]
    assert await ids(inactive="true") == [p2]
    assert await ids(inactive="false", name="pat") == [p0, p1]
    assert await ids(email="patient0@other.test") == []
    # The location only narrows with location_strict.
    assert await ids(location_id=acme.op_location_id) == [p0, p1, p2]
    assert await ids(location_id=acme.op_location_id, location_strict="true") == []
    assert await ids(location_strict="true") == [p0, p1, p2]
    bad: list[tuple[dict[str, Any], int, list[str]]] = [
        ({"location_id": other.location_id}, 404, [f"location {other.location_id} not found"]),
        (
            {"location_id": ""},
            400,
            ["location_id: input should be a valid integer, unable to parse string as an integer"],
        ),
        ({"date_of_birth": "1980-13-01"}, 400, ["date_of_birth: is not a calendar date"]),
        ({"date_of_birth": "yesterday"}, 400, ["date_of_birth: must be a date as YYYY-MM-DD"]),
        ({"phone_number": "none"}, 400, ["phone_number: must contain digits"]),
        ({"name": "a%00b"}, 400, ["name: must not contain NUL characters"]),
    ]
    for params, status, expected in bad:
        response = await api.client.get(patients_url(acme, **params), headers=acme.auth)
        assert errors(response, status) == expected, params
    response = await api.client.get(url(acme, "/patients"), headers=acme.auth)
    assert errors(response, 400) == ["location_id: is required"]


async def test_list_patients_pages_by_cursor(api: Api) -> None:
    acme = await api.clinic("acme", patients=5)
    seen: list[int] = []
    cursor = None
    for _ in range(3):
        params: dict[str, Any] = {"per_page": 2}
        if cursor:
            params["end_cursor"] = cursor
        body = (await api.client.get(patients_url(acme, **params), headers=acme.auth)).json()
        assert body["count"] == 5
        seen += [p["id"] for p in body["data"]]
        cursor = body["page_info"]["end_cursor"]
    assert seen == acme.patient_ids
    assert body["page_info"]["has_next_page"] is False


def cursor(record_id: int) -> str:
    return base64.urlsafe_b64encode(f"id:{record_id}".encode()).decode().rstrip("=")


async def test_an_empty_page_reached_by_a_cursor_leads_back(api: Api) -> None:
    """Paging past either end answers no rows, and cursors that walk back to the rows."""
    acme = await api.clinic("acme", patients=5)
    await api.clinic("other", patients=2)  # never listed
    p = acme.patient_ids

    async def page(**params: Any) -> tuple[list[int], dict[str, Any]]:
        response = await api.client.get(patients_url(acme, per_page=2, **params), headers=acme.auth)
        assert response.status_code == 200, response.text
        body = response.json()
        assert {k: v for k, v in body.items() if k not in ("data", "page_info")} == {
            "code": True,
            "description": None,
            "error": None,
            "count": 5,
        }
        return [patient["id"] for patient in body["data"]], body["page_info"]

    def info(previous: bool, following: bool, start: int, end: int) -> dict[str, Any]:
        return {
            "has_previous_page": previous,
            "has_next_page": following,
            "start_cursor": cursor(start),
            "end_cursor": cursor(end),
        }

    first = await page()
    assert first == (p[0:2], info(False, True, p[0], p[1]))
    # Back from the first page: nothing before it, and forward leads to it again.
    before = await page(start_cursor=first[1]["start_cursor"])
    assert before == ([], info(False, True, p[0], p[0] - 1))
    assert (await page(end_cursor=before[1]["end_cursor"]))[0] == p[0:2]
    # Forward past the last page: nothing after it, and back leads to the last page.
    last = await page(end_cursor=cursor(p[3]))
    assert last == ([p[4]], info(True, False, p[4], p[4]))
    after = await page(end_cursor=last[1]["end_cursor"])
    assert after == ([], info(True, False, p[4] + 1, p[4]))
    assert await page(start_cursor=after[1]["start_cursor"]) == (
        p[3:5],
        info(True, True, p[3], p[4]),
    )
    # No rows at all on either side: the cursors still lead on from where the client is.
    empty = await api.client.get(
        patients_url(acme, per_page=2, name="Nobody", end_cursor=cursor(p[4])), headers=acme.auth
    )
    assert empty.status_code == 200, empty.text
    assert empty.json() == {
        "code": True,
        "description": None,
        "error": None,
        "count": 0,
        "data": [],
        "page_info": info(False, False, p[4] + 1, p[4]),
    }
    # The ends of the ids: no cursor the API cannot read back.
    assert (await page(start_cursor=cursor(0)))[1] == info(False, True, 0, 0)
    biggest = 2**63 - 1
    assert (await page(end_cursor=cursor(biggest)))[1] == info(True, False, biggest, biggest)
    # The empty page's end cursor lists the rows added since.
    added = ok(
        await api.client.post(patients_url(acme), headers=acme.auth, json=new_patient(acme)), 201
    )
    since = await api.client.get(
        patients_url(acme, per_page=2, end_cursor=after[1]["end_cursor"]), headers=acme.auth
    )
    assert since.status_code == 200, since.text
    assert [patient["id"] for patient in since.json()["data"]] == [added["user"]["id"]]


async def test_get_patient_of_another_institution_is_404(api: Api) -> None:
    acme = await api.clinic("acme")
    other = await api.clinic("other")
    for patient_id in (other.patient_ids[0], 777777):
        response = await api.client.get(url(acme, f"/patients/{patient_id}"), headers=acme.auth)
        assert errors(response, 404) == [f"patient {patient_id} not found"]
    mine = ok(
        await api.client.get(url(acme, f"/patients/{acme.patient_ids[0]}"), headers=acme.auth)
    )
    assert mine == {
        "id": acme.patient_ids[0],
        "guid": GUID,
        "email": "patient0@acme.test",
        "first_name": "Pat0",
        "middle_name": None,
        "last_name": "Patient",
        "name": "Pat0 Patient",
        "created_at": INSTANT,
        "updated_at": INSTANT,
        "institution_id": acme.institution_id,
        "foreign_id": None,
        "foreign_id_type": None,
        "bio": {"date_of_birth": "1980-01-01", "phone_number": "5550000000"},
        "inactive": False,
        "last_sync_time": None,
        "guarantor_id": None,
        "unsubscribe_sms": False,
        "provider_id": None,
        "location_ids": [acme.location_id],
    }
