"""Providers: create, list (filters, pages), get, patch; validation, auth and tenancy."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from carebook.db.tables import ProviderLocation
from tests.nexhealth.helpers import GUID, INSTANT, errors, ok, url
from tests.support import Api, Clinic, nested

pytestmark = pytest.mark.anyio


async def location_of(api: Api, clinic: Clinic, location_id: int) -> dict[str, Any]:
    response = await api.client.get(url(clinic, f"/locations/{location_id}"), headers=clinic.auth)
    data: dict[str, Any] = ok(response)
    return data


async def provider_location_ids(api: Api, provider_id: int) -> list[int]:
    async with api.db.read() as session:
        rows = await session.execute(
            select(ProviderLocation.location_id)
            .where(ProviderLocation.provider_id == provider_id)
            .order_by(ProviderLocation.location_id)
        )
        return list(rows.scalars())


async def test_create_provider_answers_201_with_the_whole_provider(api: Api) -> None:
    acme = await api.clinic("acme")
    body = {
        "provider": {
            "first_name": " Ada ",
            "middle_name": "B",
            "last_name": "Lovelace",
            "display_name": "Dr. Ada",
            "email": "ada@acme.test",
            "npi": "1234567893",
            "specialty_code": "1223G0001X",
            "tz": "America/Chicago",
            "bio": {"languages": ["en", "fr"]},
            "location_ids": [acme.op_location_id, acme.location_id, acme.location_id],
        }
    }
    response = await api.client.post(url(acme, "/providers"), headers=acme.auth, json=body)
    assert response.status_code == 201, response.text
    created = response.json()["data"]
    assert response.json() == {
        "code": True,
        "description": None,
        "error": None,
        "count": 1,
        "data": {
            "id": created["id"],
            "guid": GUID,
            "email": "ada@acme.test",
            "first_name": "Ada",
            "middle_name": "B",
            "last_name": "Lovelace",
            "name": "Ada B Lovelace",
            "created_at": INSTANT,
            "updated_at": INSTANT,
            "institution_id": acme.institution_id,
            "foreign_id": None,
            "foreign_id_type": None,
            "bio": {"languages": ["en", "fr"]},
            "inactive": False,
            "last_sync_time": None,
            "display_name": "Dr. Ada",
            "npi": "1234567893",
            "specialty_code": "1223G0001X",
            "tz": "America/Chicago",
            "locations": [
                await location_of(api, acme, acme.location_id),
                await location_of(api, acme, acme.op_location_id),
            ],
        },
    }
    assert await provider_location_ids(api, created["id"]) == [
        acme.location_id,
        acme.op_location_id,
    ]
    fetched = ok(await api.client.get(url(acme, f"/providers/{created['id']}"), headers=acme.auth))
    assert fetched == created


async def test_create_provider_with_the_required_fields_only(api: Api) -> None:
    acme = await api.clinic("acme")
    response = await api.client.post(
        url(acme, "/providers"),
        headers=acme.auth,
        json={"provider": {"first_name": "Sam", "last_name": "Smith"}},
    )
    created = ok(response, 201)
    assert created == {
        "id": created["id"],
        "guid": GUID,
        "email": None,
        "first_name": "Sam",
        "middle_name": None,
        "last_name": "Smith",
        "name": "Sam Smith",
        "created_at": INSTANT,
        "updated_at": INSTANT,
        "institution_id": acme.institution_id,
        "foreign_id": None,
        "foreign_id_type": None,
        "bio": {},
        "inactive": False,
        "last_sync_time": None,
        "display_name": None,
        "npi": None,
        "specialty_code": None,
        "tz": None,
        "locations": [],
    }


BAD_PROVIDERS: list[tuple[dict[str, Any], list[str]]] = [
    ({"last_name": "X"}, ["provider.first_name: is required"]),
    ({"first_name": " ", "last_name": "X"}, ["provider.first_name: must not be blank"]),
    ({"first_name": "A", "last_name": "X", "npi": "12345"}, ["provider.npi: must be 10 digits"]),
    (
        {"first_name": "A", "last_name": "X", "npi": "12345abcde"},
        ["provider.npi: must be 10 digits"],
    ),
    (
        {"first_name": "A", "last_name": "X", "tz": "Somewhere/Else"},
        ["provider.tz: 'Somewhere/Else' is not an IANA time zone name"],
    ),
    (
        {"first_name": "A", "last_name": "X", "email": "a@b"},
        ["provider.email: is not a valid email address"],
    ),
    (
        {"first_name": "A", "last_name": "X", "location_ids": ["1"]},
        ["provider.location_ids.0: input should be a valid integer"],
    ),
    (
        {"first_name": "A", "last_name": "X", "location_ids": [0]},
        ["provider.location_ids.0: input should be greater than or equal to 1"],
    ),
    (
        {"first_name": "A", "last_name": "X", "location_ids": 3},
        ["provider.location_ids: input should be a valid list"],
    ),
    (
        {"first_name": "A", "last_name": "X", "inactive": "false"},
        ["provider.inactive: input should be a valid boolean"],
    ),
    (
        {"first_name": "A", "last_name": "X", "bio": "text"},
        ["provider.bio: input should be a valid dictionary"],
    ),
    (
        {"first_name": "A", "last_name": "X", "specialty": "x"},
        ["provider.specialty: is not a known field"],
    ),
]


async def test_create_provider_refuses_bad_input_naming_the_field(api: Api) -> None:
    acme = await api.clinic("acme", providers=0)
    for provider, expected in BAD_PROVIDERS:
        response = await api.client.post(
            url(acme, "/providers"), headers=acme.auth, json={"provider": provider}
        )
        assert errors(response, 400) == expected, provider
    assert ok(await api.client.get(url(acme, "/providers"), headers=acme.auth)) == []


async def test_provider_at_a_location_of_another_institution_is_404(api: Api) -> None:
    acme = await api.clinic("acme", providers=0)
    other = await api.clinic("other")
    response = await api.client.post(
        url(acme, "/providers"),
        headers=acme.auth,
        json={
            "provider": {
                "first_name": "A",
                "last_name": "B",
                "location_ids": [acme.location_id, other.location_id],
            }
        },
    )
    assert errors(response, 404) == [f"location {other.location_id} not found"]
    assert ok(await api.client.get(url(acme, "/providers"), headers=acme.auth)) == []


async def test_unknown_and_foreign_provider_ids_are_404(api: Api) -> None:
    acme = await api.clinic("acme")
    other = await api.clinic("other")
    for provider_id in (other.provider_ids[0], 987654):
        response = await api.client.get(url(acme, f"/providers/{provider_id}"), headers=acme.auth)
        assert errors(response, 404) == [f"provider {provider_id} not found"]
        response = await api.client.patch(
            url(acme, f"/providers/{provider_id}"),
            headers=acme.auth,
            json={"provider": {"first_name": "Stolen"}},
        )
        assert errors(response, 404) == [f"provider {provider_id} not found"]
    theirs = ok(
        await api.client.get(url(other, f"/providers/{other.provider_ids[0]}"), headers=other.auth)
    )
    assert theirs["first_name"] == "Pat0"


async def test_providers_need_credentials_and_the_institution(api: Api) -> None:
    acme = await api.clinic("acme")
    await api.clinic("other")
    response = await api.client.get(url(acme, "/providers"))
    assert errors(response, 401) == [
        "missing Authorization header: send 'Bearer <token>' from /authenticates"
    ]
    response = await api.client.get(url("other", "/providers"), headers=acme.auth)
    assert errors(response, 403) == ["you don't have access to institution 'other'"]
    response = await api.client.post(
        url("other", "/providers"),
        headers=acme.auth,
        json={"provider": {"first_name": "A", "last_name": "B"}},
    )
    assert errors(response, 403) == ["you don't have access to institution 'other'"]


async def test_list_providers_filters_on_location_and_inactive(api: Api) -> None:
    acme = await api.clinic("acme", providers=2)
    other = await api.clinic("other")
    only_ny = ok(
        await api.client.post(
            url(acme, "/providers"),
            headers=acme.auth,
            json={
                "provider": {
                    "first_name": "Ny",
                    "last_name": "Only",
                    "location_ids": [acme.location_id],
                }
            },
        ),
        201,
    )
    retired = ok(
        await api.client.post(
            url(acme, "/providers"),
            headers=acme.auth,
            json={
                "provider": {
                    "first_name": "Old",
                    "last_name": "Timer",
                    "inactive": True,
                    "location_ids": [acme.op_location_id],
                }
            },
        ),
        201,
    )

    async def ids(**params: Any) -> tuple[list[int], int]:
        response = await api.client.get(url(acme, "/providers", **params), headers=acme.auth)
        assert response.status_code == 200, response.text
        body = response.json()
        return [p["id"] for p in body["data"]], body["count"]

    # Active providers by default, as NexHealth lists them.
    assert await ids() == ([*acme.provider_ids, only_ny["id"]], 3)
    assert await ids(inactive="true") == ([retired["id"]], 1)
    assert await ids(location_id=acme.location_id) == ([*acme.provider_ids, only_ny["id"]], 3)
    assert await ids(location_id=acme.op_location_id) == (acme.provider_ids, 2)
    assert await ids(location_id=acme.op_location_id, inactive="true") == ([retired["id"]], 1)
    response = await api.client.get(
        url(acme, "/providers", location_id=other.location_id), headers=acme.auth
    )
    assert errors(response, 404) == [f"location {other.location_id} not found"]
    response = await api.client.get(url(acme, "/providers", location_id="x"), headers=acme.auth)
    assert errors(response, 400) == [
        "location_id: input should be a valid integer, unable to parse string as an integer"
    ]


async def test_list_providers_pages_by_cursor(api: Api) -> None:
    acme = await api.clinic("acme", providers=3)
    first = (await api.client.get(url(acme, "/providers", per_page=2), headers=acme.auth)).json()
    assert [p["id"] for p in first["data"]] == acme.provider_ids[:2]
    assert first["count"] == 3
    assert first["page_info"]["has_next_page"] is True
    # Each provider on a page carries its locations.
    assert [[loc["id"] for loc in p["locations"]] for p in first["data"]] == [
        [acme.location_id, acme.op_location_id]
    ] * 2
    second = (
        await api.client.get(
            url(acme, "/providers", per_page=2, end_cursor=first["page_info"]["end_cursor"]),
            headers=acme.auth,
        )
    ).json()
    assert [p["id"] for p in second["data"]] == acme.provider_ids[2:]
    assert second["count"] == 3
    assert second["page_info"] == {
        "has_previous_page": True,
        "has_next_page": False,
        "start_cursor": second["page_info"]["start_cursor"],
        "end_cursor": second["page_info"]["end_cursor"],
    }


async def test_patch_provider_changes_only_the_fields_sent(api: Api) -> None:
    acme = await api.clinic("acme")
    provider_id = acme.provider_ids[0]
    path = url(acme, f"/providers/{provider_id}")
    before = ok(await api.client.get(path, headers=acme.auth))
    patched = ok(
        await api.client.patch(
            path,
            headers=acme.auth,
            json={"provider": {"display_name": "Dr. Pat", "npi": "1234567893"}},
        )
    )
    assert patched == {
        **before,
        "display_name": "Dr. Pat",
        "npi": "1234567893",
        "updated_at": INSTANT,
    }
    moved = ok(
        await api.client.patch(
            path,
            headers=acme.auth,
            json={"provider": {"location_ids": [acme.op_location_id], "npi": None}},
        )
    )
    assert moved == {
        **patched,
        "npi": None,
        "locations": [await location_of(api, acme, acme.op_location_id)],
        "updated_at": INSTANT,
    }
    assert await provider_location_ids(api, provider_id) == [acme.op_location_id]
    nowhere = ok(
        await api.client.patch(path, headers=acme.auth, json={"provider": {"location_ids": []}})
    )
    assert nowhere["locations"] == []
    assert await provider_location_ids(api, provider_id) == []


async def test_patch_provider_refuses_bad_input_and_changes_nothing(api: Api) -> None:
    acme = await api.clinic("acme")
    other = await api.clinic("other")
    path = url(acme, f"/providers/{acme.provider_ids[0]}")
    before = ok(await api.client.get(path, headers=acme.auth))
    cases: list[tuple[dict[str, Any], int, list[str]]] = [
        ({"first_name": None}, 400, ["provider.first_name: must not be null"]),
        ({"location_ids": None}, 400, ["provider.location_ids: must not be null"]),
        ({"npi": "1"}, 400, ["provider.npi: must be 10 digits"]),
        ({"tz": "Nope"}, 400, ["provider.tz: 'Nope' is not an IANA time zone name"]),
        ({"guid": "x"}, 400, ["provider.guid: is not a known field"]),
        (
            {"location_ids": [other.location_id]},
            404,
            [f"location {other.location_id} not found"],
        ),
    ]
    for provider, status, expected in cases:
        response = await api.client.patch(
            path, headers=acme.auth, json={"provider": {"last_name": "Changed", **provider}}
        )
        assert errors(response, status) == expected, provider
    assert ok(await api.client.get(path, headers=acme.auth)) == before
    assert await provider_location_ids(api, acme.provider_ids[0]) == [
        acme.location_id,
        acme.op_location_id,
    ]


async def test_provider_bio_nests_at_most_32_levels(api: Api) -> None:
    acme = await api.clinic("acme", providers=1)
    path = url(acme, f"/providers/{acme.provider_ids[0]}")
    before = ok(await api.client.get(path, headers=acme.auth))
    too_deep = ["provider.bio: must not nest objects and arrays more than 32 levels deep"]
    # One level too many, and past pydantic's serialisation limit (255): that bio was written,
    # then every answer with the provider was a 500.
    for levels in (32, 270):
        bio = {"x": nested(levels)}
        created = await api.client.post(
            url(acme, "/providers"),
            headers=acme.auth,
            json={"provider": {"first_name": "A", "last_name": "X", "bio": bio}},
        )
        assert errors(created, 400) == too_deep, levels
        patched = await api.client.patch(path, headers=acme.auth, json={"provider": {"bio": bio}})
        assert errors(patched, 400) == too_deep, levels
    assert ok(await api.client.get(path, headers=acme.auth)) == before
    listed = ok(await api.client.get(url(acme, "/providers"), headers=acme.auth))
    assert [provider["id"] for provider in listed] == acme.provider_ids
    deepest = {"x": nested(31)}  # the bio is the first level
    patched = await api.client.patch(path, headers=acme.auth, json={"provider": {"bio": deepest}})
    assert ok(patched) == {**before, "bio": deepest, "updated_at": INSTANT}
    assert ok(await api.client.get(path, headers=acme.auth))["bio"] == deepest
