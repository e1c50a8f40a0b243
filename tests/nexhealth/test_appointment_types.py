"""Appointment types: create, list, get, patch, soft delete; names, parents, descriptors."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from carebook.db.tables import AppointmentType, AppointmentTypeDescriptor
from tests.nexhealth.helpers import GUID, INSTANT, errors, ok, url
from tests.nexhealth.test_descriptors import make_descriptor
from tests.support import Api, Clinic

pytestmark = pytest.mark.anyio


async def create_type(api: Api, clinic: Clinic, **fields: Any) -> dict[str, Any]:
    location_id = fields.pop("location_id", None)
    body: dict[str, Any] = {"appointment_type": {"name": "Checkup", "minutes": 45, **fields}}
    if location_id is not None:
        body["location_id"] = location_id
    response = await api.client.post(
        url(clinic, "/appointment_types"), headers=clinic.auth, json=body
    )
    data: dict[str, Any] = ok(response, 201)
    return data


async def linked_descriptors(api: Api, appointment_type_id: int) -> list[int]:
    async with api.db.read() as session:
        rows = await session.execute(
            select(AppointmentTypeDescriptor.descriptor_id)
            .where(AppointmentTypeDescriptor.appointment_type_id == appointment_type_id)
            .order_by(AppointmentTypeDescriptor.descriptor_id)
        )
        return list(rows.scalars())


async def test_create_institution_wide_type_answers_201(api: Api) -> None:
    acme = await api.clinic("acme")
    response = await api.client.post(
        url(acme, "/appointment_types"),
        headers=acme.auth,
        json={"appointment_type": {"name": " Checkup ", "minutes": 45}},
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
            "name": "Checkup",
            "parent_type": "Institution",
            "parent_id": acme.institution_id,
            "minutes": 45,
            "bookable_online": True,
            "emr_appt_descriptor_ids": [],
            "created_at": INSTANT,
            "updated_at": INSTANT,
        },
    }
    path = url(acme, f"/appointment_types/{created['id']}")
    assert ok(await api.client.get(path, headers=acme.auth)) == created


async def test_create_location_type_with_descriptors(api: Api) -> None:
    acme = await api.clinic("acme")
    first = await make_descriptor(api, acme, acme.op_location_id, code="D0120")
    second = await make_descriptor(api, acme, acme.op_location_id, code="D1110")
    created = await create_type(
        api,
        acme,
        location_id=acme.op_location_id,
        parent_type="Location",
        parent_id=acme.op_location_id,
        bookable_online=False,
        emr_appt_descriptor_ids=[second["id"], first["id"], second["id"]],
    )
    assert created == {
        "id": created["id"],
        "guid": GUID,
        "name": "Checkup",
        "parent_type": "Location",
        "parent_id": acme.op_location_id,
        "minutes": 45,
        "bookable_online": False,
        # In id order, duplicates dropped: as every later read answers them.
        "emr_appt_descriptor_ids": [first["id"], second["id"]],
        "created_at": INSTANT,
        "updated_at": INSTANT,
    }
    assert await linked_descriptors(api, created["id"]) == [first["id"], second["id"]]
    fetched = ok(
        await api.client.get(url(acme, f"/appointment_types/{created['id']}"), headers=acme.auth)
    )
    assert fetched == created


async def test_create_type_refuses_bad_input(api: Api) -> None:
    acme = await api.clinic("acme")
    other = await api.clinic("other")
    at_ny = await make_descriptor(api, acme, acme.location_id)
    theirs = await make_descriptor(api, other, other.location_id)

    def body(location_id: int | None = None, **fields: Any) -> dict[str, Any]:
        data: dict[str, Any] = {"appointment_type": {"name": "Exam", "minutes": 30, **fields}}
        if location_id is not None:
            data["location_id"] = location_id
        return data

    cases: list[tuple[dict[str, Any], int, list[str]]] = [
        (
            body(minutes=0),
            400,
            ["appointment_type.minutes: input should be greater than or equal to 1"],
        ),
        (
            body(minutes=1441),
            400,
            ["appointment_type.minutes: input should be less than or equal to 1440"],
        ),
        (body(minutes=30.5), 400, ["appointment_type.minutes: input should be a valid integer"]),
        (body(minutes="30"), 400, ["appointment_type.minutes: input should be a valid integer"]),
        ({"appointment_type": {"name": "Exam"}}, 400, ["appointment_type.minutes: is required"]),
        (body(name=""), 400, ["appointment_type.name: must not be blank"]),
        (
            body(parent_type="Room"),
            400,
            ["appointment_type.parent_type: input should be 'Institution' or 'Location'"],
        ),
        (
            body(parent_type="Location"),
            400,
            ["appointment_type.parent_id: is required when parent_type is Location"],
        ),
        (
            # (a location id that is not also the institution's id)
            body(parent_id=max(acme.location_id, acme.op_location_id, acme.institution_id + 1)),
            400,
            [
                "appointment_type.parent_id: must be empty (or the institution's id) when "
                "parent_type is Institution"
            ],
        ),
        (
            body(
                location_id=acme.op_location_id, parent_type="Location", parent_id=acme.location_id
            ),
            400,
            ["location_id: must equal appointment_type.parent_id"],
        ),
        (
            body(
                parent_type="Location",
                parent_id=acme.op_location_id,
                emr_appt_descriptor_ids=[at_ny["id"]],
            ),
            400,
            [
                "appointment_type.emr_appt_descriptor_ids: "
                f"descriptor {at_ny['id']} is not at location {acme.op_location_id}"
            ],
        ),
        (
            body(parent_type="Location", parent_id=other.location_id),
            404,
            [f"location {other.location_id} not found"],
        ),
        (body(location_id=other.location_id), 404, [f"location {other.location_id} not found"]),
        (
            body(emr_appt_descriptor_ids=[theirs["id"]]),
            404,
            [f"appointment descriptor {theirs['id']} not found"],
        ),
        (body(descriptors=[]), 400, ["appointment_type.descriptors: is not a known field"]),
        (
            body(name="cleaning"),
            409,
            [f"appointment type {acme.appointment_type_id} is already named 'Cleaning'"],
        ),
    ]
    for data, status, expected in cases:
        response = await api.client.post(
            url(acme, "/appointment_types"), headers=acme.auth, json=data
        )
        assert errors(response, status) == expected, data
    listed = (await api.client.get(url(acme, "/appointment_types"), headers=acme.auth)).json()
    assert [t["name"] for t in listed["data"]] == ["Cleaning"]
    # An Institution type may name the institution as its parent.
    created = await create_type(api, acme, parent_id=acme.institution_id)
    assert created["parent_id"] == acme.institution_id
    # The name is only unique within an institution.
    assert created["name"] == "Checkup"
    assert (await create_type(api, other, name="Checkup"))["name"] == "Checkup"


async def test_list_types_filters_on_location_and_pages(api: Api) -> None:
    acme = await api.clinic("acme")
    other = await api.clinic("other")
    ny = await create_type(
        api, acme, name="NY only", parent_type="Location", parent_id=acme.location_id
    )
    berlin = await create_type(
        api, acme, name="Berlin only", parent_type="Location", parent_id=acme.op_location_id
    )
    wide = await create_type(api, acme, name="Everywhere")

    async def names(**params: Any) -> tuple[list[str], int]:
        response = await api.client.get(
            url(acme, "/appointment_types", **params), headers=acme.auth
        )
        body = response.json()
        assert response.status_code == 200, response.text
        return [t["name"] for t in body["data"]], body["count"]

    assert await names() == (["Cleaning", "NY only", "Berlin only", "Everywhere"], 4)
    assert await names(location_id=acme.location_id) == (["Cleaning", "NY only", "Everywhere"], 3)
    assert await names(location_id=acme.op_location_id) == (
        ["Cleaning", "Berlin only", "Everywhere"],
        3,
    )
    first = (
        await api.client.get(url(acme, "/appointment_types", per_page=2), headers=acme.auth)
    ).json()
    assert [t["id"] for t in first["data"]] == [acme.appointment_type_id, ny["id"]]
    rest = (
        await api.client.get(
            url(
                acme, "/appointment_types", per_page=2, end_cursor=first["page_info"]["end_cursor"]
            ),
            headers=acme.auth,
        )
    ).json()
    assert rest["data"] == [berlin, wide]
    assert rest["count"] == 4
    response = await api.client.get(
        url(acme, "/appointment_types", location_id=other.location_id), headers=acme.auth
    )
    assert errors(response, 404) == [f"location {other.location_id} not found"]


async def test_patch_type_changes_only_the_fields_sent(api: Api) -> None:
    acme = await api.clinic("acme")
    descriptor = await make_descriptor(api, acme, acme.location_id)
    elsewhere = await make_descriptor(api, acme, acme.op_location_id)
    path = url(acme, f"/appointment_types/{acme.appointment_type_id}")
    before = ok(await api.client.get(path, headers=acme.auth))
    patched = ok(
        await api.client.patch(
            path, headers=acme.auth, json={"appointment_type": {"minutes": 40, "name": "Clean"}}
        )
    )
    assert patched == {**before, "minutes": 40, "name": "Clean", "updated_at": INSTANT}
    scoped = ok(
        await api.client.patch(
            path,
            headers=acme.auth,
            json={
                "appointment_type": {
                    "parent_type": "Location",
                    "parent_id": acme.location_id,
                    "emr_appt_descriptor_ids": [descriptor["id"]],
                }
            },
        )
    )
    assert scoped == {
        **patched,
        "parent_type": "Location",
        "parent_id": acme.location_id,
        "emr_appt_descriptor_ids": [descriptor["id"]],
        "updated_at": INSTANT,
    }
    assert await linked_descriptors(api, acme.appointment_type_id) == [descriptor["id"]]
    # Back to institution-wide: the parent location is cleared; descriptors stay.
    wide = ok(
        await api.client.patch(
            path, headers=acme.auth, json={"appointment_type": {"parent_type": "Institution"}}
        )
    )
    assert wide == {
        **scoped,
        "parent_type": "Institution",
        "parent_id": acme.institution_id,
        "updated_at": INSTANT,
    }
    async with api.db.read() as session:
        row = await session.get(AppointmentType, acme.appointment_type_id)
    assert row is not None
    assert row.parent_id is None
    await create_type(api, acme, name="Exam")
    cases: list[tuple[dict[str, Any], int, list[str]]] = [
        ({"name": None}, 400, ["appointment_type.name: must not be null"]),
        ({"minutes": None}, 400, ["appointment_type.minutes: must not be null"]),
        (
            {"emr_appt_descriptor_ids": None},
            400,
            ["appointment_type.emr_appt_descriptor_ids: must not be null"],
        ),
        ({"name": "EXAM"}, 409, [f"appointment type {wide['id'] + 1} is already named 'Exam'"]),
        (
            {
                "parent_type": "Location",
                "parent_id": acme.location_id,
                "emr_appt_descriptor_ids": [elsewhere["id"]],
            },
            400,
            [
                "appointment_type.emr_appt_descriptor_ids: "
                f"descriptor {elsewhere['id']} is not at location {acme.location_id}"
            ],
        ),
        (
            {"parent_type": "Location"},
            400,
            ["appointment_type.parent_id: is required when parent_type is Location"],
        ),
    ]
    for fields, status, expected in cases:
        response = await api.client.patch(
            path, headers=acme.auth, json={"appointment_type": {"minutes": 5, **fields}}
        )
        assert errors(response, status) == expected, fields
    assert ok(await api.client.get(path, headers=acme.auth)) == wide
    # Renaming to its own name in another case is no clash.
    renamed = ok(
        await api.client.patch(
            path, headers=acme.auth, json={"appointment_type": {"name": "CLEAN"}}
        )
    )
    assert renamed["name"] == "CLEAN"


async def test_delete_type_answers_the_deleted_type_and_hides_it(api: Api) -> None:
    acme = await api.clinic("acme")
    path = url(acme, f"/appointment_types/{acme.appointment_type_id}")
    before = ok(await api.client.get(path, headers=acme.auth))
    response = await api.client.delete(path, headers=acme.auth)
    assert response.status_code == 200
    assert response.json() == {
        "code": True,
        "description": None,
        "error": None,
        "data": {**before, "updated_at": INSTANT},
        "count": 1,
    }
    missing = [f"appointment type {acme.appointment_type_id} not found"]
    assert errors(await api.client.get(path, headers=acme.auth), 404) == missing
    assert errors(await api.client.delete(path, headers=acme.auth), 404) == missing
    response = await api.client.patch(
        path, headers=acme.auth, json={"appointment_type": {"minutes": 10}}
    )
    assert errors(response, 404) == missing
    listed = (await api.client.get(url(acme, "/appointment_types"), headers=acme.auth)).json()
    assert (listed["data"], listed["count"]) == ([], 0)
    async with api.db.read() as session:
        row = await session.get(AppointmentType, acme.appointment_type_id)
    assert row is not None
    assert row.deleted is True
    # The name is free again.
    assert (await create_type(api, acme, name="Cleaning"))["name"] == "Cleaning"


async def test_types_of_another_institution_are_404(api: Api) -> None:
    acme = await api.clinic("acme")
    other = await api.clinic("other")
    for type_id in (other.appointment_type_id, 55555):
        path = url(acme, f"/appointment_types/{type_id}")
        missing = [f"appointment type {type_id} not found"]
        assert errors(await api.client.get(path, headers=acme.auth), 404) == missing
        assert errors(await api.client.delete(path, headers=acme.auth), 404) == missing
        response = await api.client.patch(
            path, headers=acme.auth, json={"appointment_type": {"name": "Mine"}}
        )
        assert errors(response, 404) == missing
    theirs = ok(
        await api.client.get(
            url(other, f"/appointment_types/{other.appointment_type_id}"), headers=other.auth
        )
    )
    assert theirs["name"] == "Cleaning"
    response = await api.client.delete(
        url(other, f"/appointment_types/{other.appointment_type_id}"), headers=acme.auth
    )
    assert errors(response, 403) == ["you don't have access to institution 'other'"]
    response = await api.client.delete(url(acme, f"/appointment_types/{acme.appointment_type_id}"))
    assert response.status_code == 401
