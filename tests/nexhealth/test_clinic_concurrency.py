"""Concurrent writes of clinic records: unique names hold and link sets never tear."""

from __future__ import annotations

import asyncio

import pytest

from tests.nexhealth.helpers import errors, ok, url
from tests.nexhealth.test_providers import provider_location_ids
from tests.support import Api

pytestmark = pytest.mark.anyio


async def test_concurrent_types_with_one_name_create_exactly_one(api: Api) -> None:
    acme = await api.clinic("acme")
    responses = await asyncio.gather(
        *(
            api.client.post(
                url(acme, "/appointment_types"),
                headers=acme.auth,
                json={"appointment_type": {"name": f"Root canal{' ' * i}", "minutes": 90}},
            )
            for i in range(6)
        )
    )
    created = [r for r in responses if r.status_code == 201]
    assert len(created) == 1
    winner = created[0].json()["data"]["id"]
    for response in responses:
        if response.status_code != 201:
            assert errors(response, 409) == [
                f"appointment type {winner} is already named 'Root canal'"
            ]
    listed = ok(await api.client.get(url(acme, "/appointment_types"), headers=acme.auth))
    assert [t["name"] for t in listed] == ["Cleaning", "Root canal"]


async def test_concurrent_patients_with_one_identity_create_exactly_one(api: Api) -> None:
    acme = await api.clinic("acme", patients=0)
    body = {
        "provider": {"provider_id": acme.provider_ids[0]},
        "patient": {
            "first_name": "Ann",
            "last_name": "Lee",
            "email": "ann@example.test",
            "bio": {"date_of_birth": "1975-05-05", "phone_number": "555-0101"},
        },
        "return_existing_if_match": True,
    }
    responses = await asyncio.gather(
        *(
            api.client.post(
                url(acme, "/patients", location_id=acme.location_id), headers=acme.auth, json=body
            )
            for _ in range(6)
        )
    )
    assert sorted(r.status_code for r in responses) == [200] * 5 + [201]
    assert len({r.json()["data"]["user"]["id"] for r in responses}) == 1


async def test_concurrent_location_changes_of_a_provider_leave_one_whole_set(api: Api) -> None:
    acme = await api.clinic("acme")
    extra = ok(
        await api.client.post(
            url(acme, "/locations"),
            headers=acme.auth,
            json={"location": {"name": "Third", "tz": "UTC"}},
        ),
        201,
    )["id"]
    sets = [
        [acme.location_id],
        [acme.op_location_id, extra],
        [acme.location_id, acme.op_location_id, extra],
        [extra],
    ] * 2
    provider_id = acme.provider_ids[0]
    responses = await asyncio.gather(
        *(
            api.client.patch(
                url(acme, f"/providers/{provider_id}"),
                headers=acme.auth,
                json={"provider": {"location_ids": location_ids}},
            )
            for location_ids in sets
        )
    )
    assert [r.status_code for r in responses] == [200] * len(sets)
    final = await provider_location_ids(api, provider_id)
    assert final in [sorted(s) for s in sets]
    fetched = ok(await api.client.get(url(acme, f"/providers/{provider_id}"), headers=acme.auth))
    assert [location["id"] for location in fetched["locations"]] == final
