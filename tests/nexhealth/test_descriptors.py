"""Appointment descriptors: create at a location, list per location, get; tenancy."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from carebook.db.tables import AppointmentDescriptor
from tests.nexhealth.helpers import INSTANT, errors, ok, url
from tests.support import Api, Clinic, nested, nested_text

pytestmark = pytest.mark.anyio


async def make_descriptor(
    api: Api, clinic: Clinic, location_id: int, **fields: Any
) -> dict[str, Any]:
    body = {"descriptor_type": "Procedure Code", "name": "Prophylaxis", "code": "D1110"}
    body.update(fields)
    response = await api.client.post(
        url(clinic, "/appointment_descriptors", location_id=location_id),
        headers=clinic.auth,
        json={"appointment_descriptor": body},
    )
    data: dict[str, Any] = ok(response, 201)
    return data


async def test_create_descriptor_answers_201_with_the_whole_descriptor(api: Api) -> None:
    acme = await api.clinic("acme")
    response = await api.client.post(
        url(acme, "/appointment_descriptors", location_id=acme.location_id),
        headers=acme.auth,
        json={
            "appointment_descriptor": {
                "descriptor_type": "Appointment Type",
                "name": "New patient exam",
                "code": "NPE",
                "data": {"color": "#ff0000", "length": 60},
                "active": False,
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
            "descriptor_type": "Appointment Type",
            "name": "New patient exam",
            "code": "NPE",
            "location_id": acme.location_id,
            "foreign_id": None,
            "foreign_id_type": None,
            "data": {"color": "#ff0000", "length": 60},
            "active": False,
            "last_sync_time": None,
            "created_at": INSTANT,
            "updated_at": INSTANT,
        },
    }
    path = url(acme, f"/appointment_descriptors/{created['id']}")
    assert ok(await api.client.get(path, headers=acme.auth)) == created


async def test_create_descriptor_refuses_bad_input(api: Api) -> None:
    acme = await api.clinic("acme")
    other = await api.clinic("other")
    at_acme = url(acme, "/appointment_descriptors", location_id=acme.location_id)
    good = {"appointment_descriptor": {"descriptor_type": "Procedure Code", "name": "X"}}
    cases: list[tuple[str, dict[str, Any], int, list[str]]] = [
        (url(acme, "/appointment_descriptors"), good, 400, ["location_id: is required"]),
        (
            url(acme, "/appointment_descriptors", location_id=other.location_id),
            good,
            404,
            [f"location {other.location_id} not found"],
        ),
        (
            at_acme,
            {"appointment_descriptor": {"name": "X"}},
            400,
            ["appointment_descriptor.descriptor_type: is required"],
        ),
        (
            at_acme,
            {"appointment_descriptor": {"descriptor_type": " ", "name": " "}},
            400,
            [
                "appointment_descriptor.descriptor_type: must not be blank",
                "appointment_descriptor.name: must not be blank",
            ],
        ),
        (
            at_acme,
            {"appointment_descriptor": {"descriptor_type": "T", "name": "X", "data": [1]}},
            400,
            ["appointment_descriptor.data: input should be a valid dictionary"],
        ),
        (
            at_acme,
            {"appointment_descriptor": {"descriptor_type": "T", "name": "X", "code": "C" * 51}},
            400,
            ["appointment_descriptor.code: string should have at most 50 characters"],
        ),
        (
            at_acme,
            {"descriptor": {}},
            400,
            ["appointment_descriptor: is required", "descriptor: is not a known field"],
        ),
    ]
    for path, body, status, expected in cases:
        response = await api.client.post(path, headers=acme.auth, json=body)
        assert errors(response, status) == expected, body
    # Python's JSON parser reads NaN; JSON columns cannot hold it.
    for number in (b"NaN", b"Infinity", b"[1, -Infinity]"):
        response = await api.client.post(
            at_acme,
            headers={**acme.auth, "Content-Type": "application/json"},
            content=b'{"appointment_descriptor": {"descriptor_type": "T", "name": "X", '
            b'"data": {"a": {"b": ' + number + b"}}}}",
        )
        assert errors(response, 400) == [
            "appointment_descriptor.data: must not contain NaN or Infinity"
        ]
    listed = await api.client.get(
        url(acme, f"/locations/{acme.location_id}/appointment_descriptors"), headers=acme.auth
    )
    assert listed.json()["count"] == 0


async def test_descriptor_data_nests_at_most_32_levels(api: Api) -> None:
    acme = await api.clinic("acme")
    at_acme = url(acme, "/appointment_descriptors", location_id=acme.location_id)
    headers = {**acme.auth, "Content-Type": "application/json"}

    async def create(data: str) -> Any:
        body = '{"appointment_descriptor": {"descriptor_type": "T", "name": "X", "data": '
        return await api.client.post(at_acme, headers=headers, content=f"{body}{data}}}}}")

    # The object is the first level: 31 arrays inside it make the deepest data kept.
    created = ok(await create('{"x": ' + nested_text(31) + "}"), 201)
    assert created["data"] == {"x": nested(31)}
    path = url(acme, f"/appointment_descriptors/{created['id']}")
    assert ok(await api.client.get(path, headers=acme.auth)) == created
    too_deep = [
        "appointment_descriptor.data: must not nest objects and arrays more than 32 levels deep"
    ]
    # One level more; beyond pydantic's serialisation limit (255), where the row was written
    # and then answered with a 500; beyond where a recursive check ran out of stack.
    for levels in (32, 270, 400, 700):
        response = await create('{"x": ' + nested_text(levels) + "}")
        assert errors(response, 400) == too_deep, levels
    objects = await create('{"x": ' * 33 + "1" + "}" * 33)
    assert errors(objects, 400) == too_deep
    # A body too deep for the JSON parser itself is refused as a body.
    unparsable = await create('{"x": ' + nested_text(100_000) + "}")
    assert errors(unparsable, 400) == ["There was an error parsing the body"]
    async with api.db.read() as session:
        stored = await session.scalar(select(func.count()).select_from(AppointmentDescriptor))
    assert stored == 1


async def test_list_descriptors_of_a_location_filters_and_pages(api: Api) -> None:
    acme = await api.clinic("acme")
    other = await api.clinic("other")
    codes = [
        await make_descriptor(api, acme, acme.location_id, code="D0120"),
        await make_descriptor(api, acme, acme.location_id, code="D1110"),
        await make_descriptor(api, acme, acme.location_id, descriptor_type="Appointment Type"),
    ]
    await make_descriptor(api, acme, acme.op_location_id)
    await make_descriptor(api, other, other.location_id)
    path = f"/locations/{acme.location_id}/appointment_descriptors"
    everything = (await api.client.get(url(acme, path), headers=acme.auth)).json()
    assert everything["data"] == codes
    assert everything["count"] == 3
    procedure_codes = (
        await api.client.get(
            url(acme, path, descriptor_type="Procedure Code", per_page=1), headers=acme.auth
        )
    ).json()
    assert procedure_codes["data"] == codes[:1]
    assert procedure_codes["count"] == 2
    following = (
        await api.client.get(
            url(
                acme,
                path,
                descriptor_type="Procedure Code",
                per_page=1,
                end_cursor=procedure_codes["page_info"]["end_cursor"],
            ),
            headers=acme.auth,
        )
    ).json()
    assert following["data"] == codes[1:2]
    assert following["page_info"]["has_next_page"] is False
    foreign = f"/locations/{other.location_id}/appointment_descriptors"
    response = await api.client.get(url(acme, foreign), headers=acme.auth)
    assert errors(response, 404) == [f"location {other.location_id} not found"]
    response = await api.client.get(url(other, path), headers=acme.auth)
    assert errors(response, 403) == ["you don't have access to institution 'other'"]


async def test_get_descriptor_of_another_institution_is_404(api: Api) -> None:
    acme = await api.clinic("acme")
    other = await api.clinic("other")
    theirs = await make_descriptor(api, other, other.location_id)
    for descriptor_id in (theirs["id"], 31337):
        response = await api.client.get(
            url(acme, f"/appointment_descriptors/{descriptor_id}"), headers=acme.auth
        )
        assert errors(response, 404) == [f"appointment descriptor {descriptor_id} not found"]
    response = await api.client.get(url(acme, f"/appointment_descriptors/{theirs['id']}"))
    assert response.status_code == 401
