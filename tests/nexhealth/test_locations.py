"""Locations: create, list (paged), get, patch; validation, auth and tenancy."""

from __future__ import annotations

from typing import Any

import pytest

from carebook.db.tables import Location
from tests.nexhealth.helpers import GUID, INSTANT, errors, ok, url
from tests.support import Api, Clinic

pytestmark = pytest.mark.anyio


def location_json(clinic: Clinic, location_id: int, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": location_id,
        "guid": GUID,
        "name": "Downtown",
        "institution_id": clinic.institution_id,
        "street_address": None,
        "street_address_2": None,
        "city": None,
        "state": None,
        "zip_code": None,
        "country_code": "US",
        "phone_number": None,
        "email": None,
        "tz": "America/New_York",
        "map_by_operatory": False,
        "allow_provider_overlap": False,
        "inactive": False,
        "foreign_id": None,
        "foreign_id_type": None,
        "last_sync_time": None,
        "created_at": INSTANT,
        "updated_at": INSTANT,
    }
    body.update(fields)
    return body


FULL = {
    "name": "  Uptown  ",
    "tz": "America/Chicago",
    "map_by_operatory": True,
    "allow_provider_overlap": True,
    "street_address": "1 Main St",
    "street_address_2": "Suite 2",
    "city": "Chicago",
    "state": "IL",
    "zip_code": "60601",
    "country_code": "us",
    "phone_number": "+1 312 555 0100",
    "email": "front@uptown.test",
    "inactive": False,
}


async def test_create_location_answers_201_with_the_whole_location(api: Api) -> None:
    clinic = await api.clinic("acme")
    response = await api.client.post(
        url(clinic, "/locations"), headers=clinic.auth, json={"location": FULL}
    )
    body = response.json()
    assert response.status_code == 201, response.text
    created = body["data"]
    expected = location_json(
        clinic, created["id"], **{**FULL, "name": "Uptown", "country_code": "US"}
    )
    assert body == {
        "code": True,
        "description": None,
        "error": None,
        "data": expected,
        "count": 1,
    }
    assert created["created_at"] == created["updated_at"]
    fetched = ok(
        await api.client.get(url(clinic, f"/locations/{created['id']}"), headers=clinic.auth)
    )
    assert fetched == created
    async with api.db.read() as session:
        row = await session.get(Location, created["id"])
    assert row is not None
    assert (row.institution_id, row.name, row.tz, row.map_by_operatory) == (
        clinic.institution_id,
        "Uptown",
        "America/Chicago",
        True,
    )


async def test_create_location_with_only_the_required_fields_uses_defaults(api: Api) -> None:
    clinic = await api.clinic("acme")
    response = await api.client.post(
        url(clinic, "/locations"),
        headers=clinic.auth,
        json={"location": {"name": "Small", "tz": "Europe/Paris"}},
    )
    created = ok(response, 201)
    assert created == location_json(clinic, created["id"], name="Small", tz="Europe/Paris")


BAD_LOCATIONS: list[tuple[dict[str, Any], list[str]]] = [
    (
        {"name": "X", "tz": "Mars/Base"},
        ["location.tz: 'Mars/Base' is not an IANA time zone name"],
    ),
    (
        {"name": "X", "tz": "../etc/passwd"},
        ["location.tz: '../etc/passwd' is not an IANA time zone name"],
    ),
    # The server's own zone, in the machine's zoneinfo directory but not an IANA zone.
    ({"name": "X", "tz": "localtime"}, ["location.tz: 'localtime' is not an IANA time zone name"]),
    (
        {"name": "X", "tz": "right/America/New_York"},
        ["location.tz: 'right/America/New_York' is not an IANA time zone name"],
    ),
    ({"tz": "UTC"}, ["location.name: is required"]),
    ({"name": "X"}, ["location.tz: is required"]),
    ({"name": "   ", "tz": "UTC"}, ["location.name: must not be blank"]),
    (
        {"name": "X", "tz": "UTC", "colour": "red"},
        ["location.colour: is not a known field"],
    ),
    (
        {"name": "X", "tz": "UTC", "map_by_operatory": "yes"},
        ["location.map_by_operatory: input should be a valid boolean"],
    ),
    ({"name": 5, "tz": "UTC"}, ["location.name: input should be a valid string"]),
    (
        {"name": "X", "tz": "UTC", "email": "not-an-email"},
        ["location.email: is not a valid email address"],
    ),
    (
        {"name": "X", "tz": "UTC", "country_code": "USA"},
        ["location.country_code: must be a two-letter ISO 3166 code"],
    ),
    (
        {"name": "X" * 201, "tz": "UTC"},
        ["location.name: string should have at most 200 characters"],
    ),
    ({"name": "X\u0000", "tz": "UTC"}, ["location.name: must not contain NUL characters"]),
    (
        {"name": "", "tz": "Nowhere", "email": "x"},
        [
            "location.name: must not be blank",
            "location.tz: 'Nowhere' is not an IANA time zone name",
            "location.email: is not a valid email address",
        ],
    ),
]


async def test_create_location_refuses_bad_input_naming_the_field(api: Api) -> None:
    clinic = await api.clinic("acme")
    for location, expected in BAD_LOCATIONS:
        response = await api.client.post(
            url(clinic, "/locations"), headers=clinic.auth, json={"location": location}
        )
        assert errors(response, 400) == expected, location
    listed = await api.client.get(url(clinic, "/locations"), headers=clinic.auth)
    assert listed.json()["count"] == 2  # nothing was written


async def test_create_location_body_shape_errors(api: Api) -> None:
    clinic = await api.clinic("acme")
    post = api.client.post
    assert errors(await post(url(clinic, "/locations"), headers=clinic.auth, json={}), 400) == [
        "location: is required"
    ]
    response = await post(
        url(clinic, "/locations"),
        headers=clinic.auth,
        json={"name": "X", "tz": "UTC"},
    )
    assert errors(response, 400) == [
        "location: is required",
        "name: is not a known field",
        "tz: is not a known field",
    ]
    response = await post(
        url(clinic, "/locations"),
        headers={**clinic.auth, "Content-Type": "application/json"},
        content=b"{oops",
    )
    assert errors(response, 400) == ["body: the body is not valid JSON"]


async def test_locations_need_credentials_and_the_institution(api: Api) -> None:
    acme = await api.clinic("acme")
    other = await api.clinic("other")
    body = {"location": {"name": "X", "tz": "UTC"}}
    assert errors(await api.client.post(url(acme, "/locations"), json=body), 401) == [
        "missing Authorization header: send 'Bearer <token>' from /authenticates"
    ]
    bad_token = {"Authorization": "Bearer nope"}
    assert errors(await api.client.get(url(acme, "/locations"), headers=bad_token), 401) == [
        "the bearer token is not valid"
    ]
    response = await api.client.post(url(other, "/locations"), headers=acme.auth, json=body)
    assert errors(response, 403) == ["you don't have access to institution 'other'"]
    response = await api.client.get(url("nowhere", "/locations"), headers=acme.auth)
    assert errors(response, 403) == ["you don't have access to institution 'nowhere'"]
    response = await api.client.get("/locations", headers=acme.auth)
    assert errors(response, 400) == ["subdomain: is required"]
    response = await api.client.get(
        url(acme, f"/locations/{other.location_id}"), headers=other.auth
    )
    assert errors(response, 403) == ["you don't have access to institution 'acme'"]


async def test_unknown_and_foreign_location_ids_are_404(api: Api) -> None:
    acme = await api.clinic("acme")
    other = await api.clinic("other")
    for location_id in (other.location_id, 999999):
        response = await api.client.get(url(acme, f"/locations/{location_id}"), headers=acme.auth)
        assert errors(response, 404) == [f"location {location_id} not found"]
        response = await api.client.patch(
            url(acme, f"/locations/{location_id}"),
            headers=acme.auth,
            json={"location": {"name": "Mine now"}},
        )
        assert errors(response, 404) == [f"location {location_id} not found"]
    # The other tenant's location is untouched.
    fetched = ok(
        await api.client.get(url(other, f"/locations/{other.location_id}"), headers=other.auth)
    )
    assert fetched["name"] == "Downtown"
    response = await api.client.get(url(acme, "/locations/abc"), headers=acme.auth)
    assert errors(response, 400) == [
        "location_id: input should be a valid integer, unable to parse string as an integer"
    ]
    response = await api.client.get(url(acme, f"/locations/{2**70}"), headers=acme.auth)
    assert errors(response, 400) == [
        "location_id: input should be less than or equal to 9223372036854775807"
    ]


async def test_admin_reaches_any_institution_and_gets_404_for_an_unknown_one(api: Api) -> None:
    acme = await api.clinic("acme")
    admin = await api.admin_auth()
    listed = ok(await api.client.get(url(acme, "/locations"), headers=admin))
    assert [location["name"] for location in listed] == ["Downtown", "Berlin"]
    response = await api.client.get(url("nowhere", "/locations"), headers=admin)
    assert errors(response, 404) == ["institution nowhere not found"]


async def test_list_locations_pages_by_cursor_and_counts_the_total(api: Api) -> None:
    acme = await api.clinic("acme")
    await api.clinic("other")  # never listed
    for name in ("Third", "Fourth", "Fifth"):
        ok(
            await api.client.post(
                url(acme, "/locations"),
                headers=acme.auth,
                json={"location": {"name": name, "tz": "UTC"}},
            ),
            201,
        )
    first = await api.client.get(url(acme, "/locations", per_page=2), headers=acme.auth)
    body = first.json()
    assert first.status_code == 200
    assert [location["name"] for location in body["data"]] == ["Downtown", "Berlin"]
    assert body["count"] == 5
    info = body["page_info"]
    assert info["has_previous_page"] is False
    assert info["has_next_page"] is True
    second = (
        await api.client.get(
            url(acme, "/locations", per_page=2, end_cursor=info["end_cursor"]), headers=acme.auth
        )
    ).json()
    assert [location["name"] for location in second["data"]] == ["Third", "Fourth"]
    assert second["count"] == 5
    assert second["page_info"]["has_previous_page"] is True
    assert second["page_info"]["has_next_page"] is True
    third = (
        await api.client.get(
            url(acme, "/locations", per_page=2, end_cursor=second["page_info"]["end_cursor"]),
            headers=acme.auth,
        )
    ).json()
    assert [location["name"] for location in third["data"]] == ["Fifth"]
    assert third["page_info"]["has_next_page"] is False
    back = (
        await api.client.get(
            url(acme, "/locations", per_page=2, start_cursor=third["page_info"]["start_cursor"]),
            headers=acme.auth,
        )
    ).json()
    assert [location["name"] for location in back["data"]] == ["Third", "Fourth"]
    everything = ok(await api.client.get(url(acme, "/locations"), headers=acme.auth))
    assert len(everything) == 5


BAD_PAGING: list[tuple[dict[str, Any], list[str]]] = [
    ({"per_page": 0}, ["per_page: input should be greater than or equal to 1"]),
    ({"per_page": 1001}, ["per_page: input should be less than or equal to 1000"]),
    (
        {"per_page": "x"},
        ["per_page: input should be a valid integer, unable to parse string as an integer"],
    ),
    ({"end_cursor": "garbage!"}, ["end_cursor: is not a cursor this API issued"]),
    # id:99999999999999999999 (beyond any 64-bit id)
    (
        {"end_cursor": "aWQ6OTk5OTk5OTk5OTk5OTk5OTk5OTk"},
        ["end_cursor: is not a cursor this API issued"],
    ),
    ({"start_cursor": "aWQ6LTE"}, ["start_cursor: is not a cursor this API issued"]),  # id:-1
    (
        {"end_cursor": "aWQ6MQ", "start_cursor": "aWQ6MQ"},
        ["start_cursor: give start_cursor or end_cursor, not both"],
    ),
    (
        {"inactive": "maybe"},
        ["inactive: input should be a valid boolean, unable to interpret input"],
    ),
]


async def test_list_locations_refuses_bad_paging(api: Api) -> None:
    acme = await api.clinic("acme")
    for params, expected in BAD_PAGING:
        response = await api.client.get(url(acme, "/locations", **params), headers=acme.auth)
        assert errors(response, 400) == expected, params


async def test_list_locations_filters_on_inactive(api: Api) -> None:
    acme = await api.clinic("acme")
    ok(
        await api.client.patch(
            url(acme, f"/locations/{acme.op_location_id}"),
            headers=acme.auth,
            json={"location": {"inactive": True}},
        )
    )
    inactive = ok(await api.client.get(url(acme, "/locations", inactive="true"), headers=acme.auth))
    assert [location["id"] for location in inactive] == [acme.op_location_id]
    active = ok(await api.client.get(url(acme, "/locations", inactive="false"), headers=acme.auth))
    assert [location["id"] for location in active] == [acme.location_id]


async def test_patch_location_changes_only_the_fields_sent(api: Api) -> None:
    acme = await api.clinic("acme")
    before = ok(
        await api.client.get(url(acme, f"/locations/{acme.location_id}"), headers=acme.auth)
    )
    response = await api.client.patch(
        url(acme, f"/locations/{acme.location_id}"),
        headers=acme.auth,
        json={"location": {"city": "New York", "allow_provider_overlap": True}},
    )
    patched = ok(response)
    assert patched == {
        **before,
        "city": "New York",
        "allow_provider_overlap": True,
        "updated_at": INSTANT,
    }
    assert patched["updated_at"] >= before["updated_at"]
    # null clears a nullable field.
    cleared = ok(
        await api.client.patch(
            url(acme, f"/locations/{acme.location_id}"),
            headers=acme.auth,
            json={"location": {"city": None, "tz": "America/Detroit"}},
        )
    )
    assert cleared == {**patched, "city": None, "tz": "America/Detroit", "updated_at": INSTANT}
    # An empty patch changes nothing.
    same = ok(
        await api.client.patch(
            url(acme, f"/locations/{acme.location_id}"), headers=acme.auth, json={"location": {}}
        )
    )
    assert same == cleared


BAD_PATCHES: list[tuple[dict[str, Any], list[str]]] = [
    ({"name": None}, ["location.name: must not be null"]),
    ({"tz": None}, ["location.tz: must not be null"]),
    ({"inactive": None}, ["location.inactive: must not be null"]),
    ({"tz": "Europe/Nowhere"}, ["location.tz: 'Europe/Nowhere' is not an IANA time zone name"]),
    ({"name": " "}, ["location.name: must not be blank"]),
    ({"inactive": 1}, ["location.inactive: input should be a valid boolean"]),
    ({"id": 5}, ["location.id: is not a known field"]),
]


async def test_patch_location_refuses_bad_input_and_changes_nothing(api: Api) -> None:
    acme = await api.clinic("acme")
    before = ok(
        await api.client.get(url(acme, f"/locations/{acme.location_id}"), headers=acme.auth)
    )
    for location, expected in BAD_PATCHES:
        response = await api.client.patch(
            url(acme, f"/locations/{acme.location_id}"),
            headers=acme.auth,
            json={"location": {"city": "Changed", **location}},
        )
        assert errors(response, 400) == expected, location
    after = ok(await api.client.get(url(acme, f"/locations/{acme.location_id}"), headers=acme.auth))
    assert after == before
