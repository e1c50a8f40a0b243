"""Procedures: create, list by patient/provider/appointment, get; rules and tenancy."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from carebook.db.tables import Appointment, Procedure
from tests.nexhealth.helpers import INSTANT, errors, ok, url
from tests.support import Api, Clinic, future

pytestmark = pytest.mark.anyio


_DAYS = itertools.count(3)


async def add_appointment(api: Api, clinic: Clinic, patient_id: int) -> int:
    start = future(days=next(_DAYS))  # a day of its own: appointments never overlap

    async def work(session: AsyncSession) -> int:
        appointment = Appointment(
            institution_id=clinic.institution_id,
            location_id=clinic.location_id,
            provider_id=clinic.provider_ids[0],
            patient_id=patient_id,
            start_at=start,
            end_at=start + timedelta(minutes=30),
        )
        session.add(appointment)
        await session.flush()
        return appointment.id

    return await api.db.write(work)


async def create_procedure(api: Api, clinic: Clinic, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "patient_id": clinic.patient_ids[0],
        "code": "D1110",
        "name": "Prophylaxis - adult",
        "status": "planned",
        **fields,
    }
    response = await api.client.post(
        url(clinic, "/procedures"), headers=clinic.auth, json={"procedure": body}
    )
    data: dict[str, Any] = ok(response, 201)
    return data


async def test_create_procedure_answers_201_with_the_whole_procedure(api: Api) -> None:
    acme = await api.clinic("acme")
    appointment_id = await add_appointment(api, acme, acme.patient_ids[0])
    response = await api.client.post(
        url(acme, "/procedures"),
        headers=acme.auth,
        json={
            "procedure": {
                "patient_id": acme.patient_ids[0],
                "provider_id": acme.provider_ids[1],
                "appointment_id": appointment_id,
                "code": "D2391",
                "name": "Resin composite, one surface",
                "status": "scheduled",
                "body_site": {"tooth": ["3"], "surface": "O"},
                "fee": {"amount": "62", "currency": "USD"},
                "start_date": "2026-03-02",
                "end_date": "2026-03-02",
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
            "patient_id": acme.patient_ids[0],
            "provider_id": acme.provider_ids[1],
            "appointment_id": appointment_id,
            "code": "D2391",
            "name": "Resin composite, one surface",
            "status": "scheduled",
            "body_site": {"tooth": ["3"], "surface": "O"},
            "fee": {"amount": "62.00", "currency": "USD"},
            "start_date": "2026-03-02",
            "end_date": "2026-03-02",
            # The appointment's location.
            "location_id": acme.location_id,
            "updated_at": INSTANT,
        },
    }
    assert (
        ok(await api.client.get(url(acme, f"/procedures/{created['id']}"), headers=acme.auth))
        == created
    )
    async with api.db.read() as session:
        row = await session.get(Procedure, created["id"])
    assert row is not None
    assert (row.institution_id, str(row.fee_amount), row.fee_currency) == (
        acme.institution_id,
        "62.00",
        "USD",
    )


async def test_an_appointment_nests_its_procedures_and_stored_booking_details(api: Api) -> None:
    """``GET /appointments/{id}`` nests the appointment's procedures exactly as
    ``/procedures`` answers them, and its stored booking details by the reference's fields:
    a stored key the reference does not have is left out, a missing one is its default."""
    acme = await api.clinic("acme")
    appointment_id = await add_appointment(api, acme, acme.patient_ids[0])
    first = await create_procedure(
        api, acme, appointment_id=appointment_id, fee={"amount": "80", "currency": "USD"}
    )
    second = await create_procedure(
        api, acme, appointment_id=appointment_id, code="D0120", body_site={"tooth": ["14"]}
    )
    await create_procedure(api, acme)  # the patient's, but not this appointment's

    async def store_details(session: AsyncSession) -> None:
        row = await session.get(Appointment, appointment_id)
        assert row is not None
        row.booking_details = {"campaign_type": "recall", "booked_via_one_click": True, "x": 1}

    await api.db.write(store_details)
    appt = ok(
        await api.client.get(url(acme, f"/appointments/{appointment_id}"), headers=acme.auth)
    )["appt"]
    assert sorted(appt["procedures"], key=lambda p: p["id"]) == [first, second]
    assert appt["booking_details"] == {
        "booked_via_nexhealth_generated_link": False,
        "campaign_type": "recall",
        "campaign_id": None,
        "campaign_medium": None,
        "booked_via_one_click": True,
    }


async def test_create_procedure_with_the_required_fields_only(api: Api) -> None:
    acme = await api.clinic("acme")
    created = await create_procedure(api, acme)
    assert created == {
        "id": created["id"],
        "patient_id": acme.patient_ids[0],
        "provider_id": None,
        "appointment_id": None,
        "code": "D1110",
        "name": "Prophylaxis - adult",
        "status": "planned",
        "body_site": None,
        "fee": {"amount": None, "currency": None},
        "start_date": None,
        "end_date": None,
        "location_id": None,
        "updated_at": INSTANT,
    }
    located = await create_procedure(
        api, acme, location_id=acme.op_location_id, fee={"amount": "0.5"}
    )
    assert (located["location_id"], located["fee"]) == (
        acme.op_location_id,
        {"amount": "0.50", "currency": "USD"},
    )


async def test_create_procedure_refuses_bad_input(api: Api) -> None:
    acme = await api.clinic("acme")
    other = await api.clinic("other")
    someone_elses = await add_appointment(api, acme, acme.patient_ids[1])
    theirs = await add_appointment(api, other, other.patient_ids[0])
    mine = await add_appointment(api, acme, acme.patient_ids[0])

    def body(**fields: Any) -> dict[str, Any]:
        procedure = {
            "patient_id": acme.patient_ids[0],
            "code": "D1",
            "name": "X",
            "status": "planned",
        }
        procedure.update(fields)
        return {"procedure": {k: v for k, v in procedure.items() if v is not None}}

    cases: list[tuple[dict[str, Any], int, list[str]]] = [
        (body(patient_id=None), 400, ["procedure.patient_id: is required"]),
        (
            body(status="done"),
            400,
            [
                "procedure.status: input should be 'planned', 'scheduled', 'completed', "
                "'inactive' or 'referred'"
            ],
        ),
        (body(code=" "), 400, ["procedure.code: must not be blank"]),
        (body(fee={"amount": 62}), 400, ["procedure.fee.amount: input should be a valid string"]),
        (
            body(fee={"amount": "62.001"}),
            400,
            ["procedure.fee.amount: must be an amount in whole units, like 62.00"],
        ),
        (
            body(fee={"amount": "-1"}),
            400,
            ["procedure.fee.amount: must be an amount in whole units, like 62.00"],
        ),
        (
            body(fee={"amount": "1", "currency": "usd"}),
            400,
            ["procedure.fee.currency: must be an ISO 4217 code, like USD"],
        ),
        # The whole text, ASCII only: a final newline ("$" matches before one) and other
        # scripts' digits ("\\d" matches them) are refused; "USD\\n" was a 500 on PostgreSQL.
        (
            body(fee={"amount": "1", "currency": "USD\n"}),
            400,
            ["procedure.fee.currency: must be an ISO 4217 code, like USD"],
        ),
        (
            body(fee={"amount": "62.00\n"}),
            400,
            ["procedure.fee.amount: must be an amount in whole units, like 62.00"],
        ),
        (
            body(fee={"amount": "\u0661\u0662"}),
            400,
            ["procedure.fee.amount: must be an amount in whole units, like 62.00"],
        ),
        (
            body(body_site={"tooth": ["3\x00"], "surface": "O\x00"}),
            400,
            [
                "procedure.body_site.tooth.0: must not contain NUL characters",
                "procedure.body_site.surface: must not contain NUL characters",
            ],
        ),
        (body(fee={"currency": "USD"}), 400, ["procedure.fee.amount: is required"]),
        (
            body(body_site={"tooth": "3"}),
            400,
            ["procedure.body_site.tooth: input should be a valid list"],
        ),
        (body(body_site={"root": "x"}), 400, ["procedure.body_site.root: is not a known field"]),
        (
            body(start_date="2026-03-02", end_date="2026-03-01"),
            400,
            ["procedure.end_date: must not be before start_date"],
        ),
        (body(start_date="March 2"), 400, ["procedure.start_date: must be a date as YYYY-MM-DD"]),
        (
            body(appointment_id=someone_elses),
            400,
            [
                f"procedure.appointment_id: appointment {someone_elses} "
                f"is not patient {acme.patient_ids[0]}'s"
            ],
        ),
        (
            body(appointment_id=mine, location_id=acme.op_location_id),
            400,
            [f"procedure.location_id: appointment {mine} is at location {acme.location_id}"],
        ),
        (body(patient_id=other.patient_ids[0]), 404, [f"patient {other.patient_ids[0]} not found"]),
        (
            body(provider_id=other.provider_ids[0]),
            404,
            [f"provider {other.provider_ids[0]} not found"],
        ),
        (body(appointment_id=theirs), 404, [f"appointment {theirs} not found"]),
        (body(location_id=other.location_id), 404, [f"location {other.location_id} not found"]),
    ]
    for data, status, expected in cases:
        response = await api.client.post(url(acme, "/procedures"), headers=acme.auth, json=data)
        assert errors(response, status) == expected, data
    listed = await api.client.get(
        url(acme, "/procedures", patient_id=acme.patient_ids[0]), headers=acme.auth
    )
    assert listed.json()["count"] == 0


async def test_list_procedures_needs_a_filter_and_filters(api: Api) -> None:
    acme = await api.clinic("acme")
    other = await api.clinic("other")
    appointment_id = await add_appointment(api, acme, acme.patient_ids[0])
    a = await create_procedure(api, acme, provider_id=acme.provider_ids[0])
    b = await create_procedure(api, acme, appointment_id=appointment_id)
    c = await create_procedure(
        api, acme, patient_id=acme.patient_ids[1], provider_id=acme.provider_ids[0]
    )
    await create_procedure(api, other)

    async def ids(**params: Any) -> tuple[list[int], int]:
        response = await api.client.get(url(acme, "/procedures", **params), headers=acme.auth)
        assert response.status_code == 200, response.text
        body = response.json()
        return [p["id"] for p in body["data"]], body["count"]

    assert await ids(patient_id=acme.patient_ids[0]) == ([a["id"], b["id"]], 2)
    assert await ids(provider_id=acme.provider_ids[0]) == ([a["id"], c["id"]], 2)
    assert await ids(appointment_id=appointment_id) == ([b["id"]], 1)
    assert await ids(patient_id=acme.patient_ids[0], location_id=acme.location_id) == ([b["id"]], 1)
    assert await ids(patient_id=acme.patient_ids[0], provider_id=acme.provider_ids[0]) == (
        [a["id"]],
        1,
    )
    assert await ids(patient_id=other.patient_ids[0]) == ([], 0)
    page = (
        await api.client.get(
            url(acme, "/procedures", patient_id=acme.patient_ids[0], per_page=1), headers=acme.auth
        )
    ).json()
    assert ([p["id"] for p in page["data"]], page["count"]) == ([a["id"]], 2)
    assert page["page_info"]["has_next_page"] is True
    following = (
        await api.client.get(
            url(
                acme,
                "/procedures",
                patient_id=acme.patient_ids[0],
                per_page=1,
                end_cursor=page["page_info"]["end_cursor"],
            ),
            headers=acme.auth,
        )
    ).json()
    assert [p["id"] for p in following["data"]] == [b["id"]]
    bad: list[tuple[dict[str, Any], list[str]]] = [
        ({}, ["patient_id: give at least one of patient_id, provider_id or appointment_id"]),
        (
            {"location_id": acme.location_id},
            ["patient_id: give at least one of patient_id, provider_id or appointment_id"],
        ),
        (
            {"patient_id": "abc"},
            ["patient_id: input should be a valid integer, unable to parse string as an integer"],
        ),
    ]
    for params, expected in bad:
        response = await api.client.get(url(acme, "/procedures", **params), headers=acme.auth)
        assert errors(response, 400) == expected, params


async def test_procedures_of_another_institution_are_404(api: Api) -> None:
    acme = await api.clinic("acme")
    other = await api.clinic("other")
    theirs = await create_procedure(api, other)
    for procedure_id in (theirs["id"], 8888):
        response = await api.client.get(url(acme, f"/procedures/{procedure_id}"), headers=acme.auth)
        assert errors(response, 404) == [f"procedure {procedure_id} not found"]
    response = await api.client.get(url(other, f"/procedures/{theirs['id']}"), headers=acme.auth)
    assert errors(response, 403) == ["you don't have access to institution 'other'"]
    response = await api.client.get(url(other, f"/procedures/{theirs['id']}"))
    assert response.status_code == 401
