"""Operatories: create and list per location, get, patch; validation and tenancy."""

from __future__ import annotations

from typing import Any

import pytest

from carebook.db.tables import Operatory
from tests.nexhealth.helpers import GUID, INSTANT, errors, ok, url
from tests.support import Api

pytestmark = pytest.mark.anyio


async def test_create_operatory_answers_201_with_the_whole_operatory(api: Api) -> None:
    acme = await api.clinic("acme")
    response = await api.client.post(
        url(acme, "/operatories", location_id=acme.location_id),
        headers=acme.auth,
        json={
            "operatory": {
                "name": "Room 7",
                "display_name": "Hygiene room",
                "bookable_online": False,
                "active": True,
            }
        },
    )
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
            "name": "Room 7",
            "display_name": "Hygiene room",
            "location_id": acme.location_id,
            "institution_id": acme.institution_id,
            "active": True,
            "bookable_online": False,
            "foreign_id": None,
            "foreign_id_type": None,
            "last_sync_time": None,
            "created_at": INSTANT,
            "updated_at": INSTANT,
        },
    }
    fetched = ok(
        await api.client.get(url(acme, f"/operatories/{created['id']}"), headers=acme.auth)
    )
    assert fetched == created
    async with api.db.read() as session:
        row = await session.get(Operatory, created["id"])
    assert row is not None
    assert (row.institution_id, row.location_id, row.bookable_online) == (
        acme.institution_id,
        acme.location_id,
        False,
    )


async def test_create_operatory_refuses_bad_input(api: Api) -> None:
    acme = await api.clinic("acme")
    other = await api.clinic("other")
    good = {"operatory": {"name": "Chair"}}
    cases: list[tuple[str, dict[str, Any], int, list[str]]] = [
        ("/operatories", good, 400, ["location_id: is required"]),
        (
            url(acme, "/operatories", location_id=other.location_id),
            good,
            404,
            [f"location {other.location_id} not found"],
        ),
        (
            url(acme, "/operatories", location_id=acme.location_id),
            {"operatory": {}},
            400,
            ["operatory.name: is required"],
        ),
        (
            url(acme, "/operatories", location_id=acme.location_id),
            {"operatory": {"name": "\t"}},
            400,
            ["operatory.name: must not be blank"],
        ),
        (
            url(acme, "/operatories", location_id=acme.location_id),
            {"operatory": {"name": "A", "active": "yes"}},
            400,
            ["operatory.active: input should be a valid boolean"],
        ),
        (
            url(acme, "/operatories", location_id=acme.location_id),
            {"operatory": {"name": "A", "location_id": 3}},
            400,
            ["operatory.location_id: is not a known field"],
        ),
    ]
    for path, body, status, expected in cases:
        if path == "/operatories":
            path = url(acme, "/operatories")
        response = await api.client.post(path, headers=acme.auth, json=body)
        assert errors(response, status) == expected, body
    listed = await api.client.get(
        url(acme, "/operatories", location_id=acme.location_id), headers=acme.auth
    )
    assert listed.json()["count"] == 0


async def test_list_operatories_of_a_location(api: Api) -> None:
    acme = await api.clinic("acme")
    other = await api.clinic("other")
    path = url(acme, "/operatories", location_id=acme.op_location_id)
    third = ok(
        await api.client.post(
            path,
            headers=acme.auth,
            json={"operatory": {"name": "Surgery", "display_name": "Big Chair", "active": False}},
        ),
        201,
    )
    first = (
        await api.client.get(
            url(acme, "/operatories", location_id=acme.op_location_id, per_page=2),
            headers=acme.auth,
        )
    ).json()
    assert [o["name"] for o in first["data"]] == ["Chair 1", "Chair 2"]
    assert first["count"] == 3
    assert first["page_info"]["has_next_page"] is True
    rest = (
        await api.client.get(
            url(
                acme,
                "/operatories",
                location_id=acme.op_location_id,
                per_page=2,
                end_cursor=first["page_info"]["end_cursor"],
            ),
            headers=acme.auth,
        )
    ).json()
    assert rest["data"] == [third]
    assert rest["page_info"]["has_next_page"] is False

    async def names(**params: Any) -> list[str]:
        response = await api.client.get(
            url(acme, "/operatories", location_id=acme.op_location_id, **params),
            headers=acme.auth,
        )
        return [o["name"] for o in ok(response)]

    assert await names(search_name="chair") == ["Chair 1", "Chair 2", "Surgery"]
    assert await names(search_name="CHAIR 2") == ["Chair 2"]
    assert await names(search_name="%") == []
    assert await names(active="false") == ["Surgery"]
    assert await names(active="true") == ["Chair 1", "Chair 2"]
    empty = ok(
        await api.client.get(
            url(acme, "/operatories", location_id=acme.location_id), headers=acme.auth
        )
    )
    assert empty == []
    response = await api.client.get(url(acme, "/operatories"), headers=acme.auth)
    assert errors(response, 400) == ["location_id: is required"]
    response = await api.client.get(
        url(acme, "/operatories", location_id=other.op_location_id), headers=acme.auth
    )
    assert errors(response, 404) == [f"location {other.op_location_id} not found"]


async def test_operatory_ids_of_other_institutions_are_404(api: Api) -> None:
    acme = await api.clinic("acme")
    other = await api.clinic("other")
    for operatory_id in (other.operatory_ids[0], 424242):
        path = url(acme, f"/operatories/{operatory_id}")
        assert errors(await api.client.get(path, headers=acme.auth), 404) == [
            f"operatory {operatory_id} not found"
        ]
        response = await api.client.patch(
            path, headers=acme.auth, json={"operatory": {"active": False}}
        )
        assert errors(response, 404) == [f"operatory {operatory_id} not found"]
    theirs = ok(
        await api.client.get(
            url(other, f"/operatories/{other.operatory_ids[0]}"), headers=other.auth
        )
    )
    assert theirs["active"] is True
    response = await api.client.get(url(acme, f"/operatories/{acme.operatory_ids[0]}"))
    assert response.status_code == 401


async def test_patch_operatory_changes_only_the_fields_sent(api: Api) -> None:
    acme = await api.clinic("acme")
    path = url(acme, f"/operatories/{acme.operatory_ids[0]}")
    before = ok(await api.client.get(path, headers=acme.auth))
    patched = ok(
        await api.client.patch(
            path,
            headers=acme.auth,
            json={"operatory": {"display_name": "Window chair", "bookable_online": False}},
        )
    )
    assert patched == {
        **before,
        "display_name": "Window chair",
        "bookable_online": False,
        "updated_at": INSTANT,
    }
    cleared = ok(
        await api.client.patch(path, headers=acme.auth, json={"operatory": {"display_name": None}})
    )
    assert cleared == {**patched, "display_name": None, "updated_at": INSTANT}
    bad: list[tuple[dict[str, Any], list[str]]] = [
        ({"name": None}, ["operatory.name: must not be null"]),
        ({"active": None}, ["operatory.active: must not be null"]),
        ({"name": ""}, ["operatory.name: must not be blank"]),
    ]
    for operatory, expected in bad:
        response = await api.client.patch(
            path, headers=acme.auth, json={"operatory": {"display_name": "X", **operatory}}
        )
        assert errors(response, 400) == expected, operatory
    assert ok(await api.client.get(path, headers=acme.auth)) == cleared
