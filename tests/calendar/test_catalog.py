"""The telehealth catalogue through the NexHealth-style API, then a booking with its GUIDs."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from carebook.db.tables import Provider, Service
from tests.calendar.helpers import URL, future_day
from tests.support import Api, Clinic

pytestmark = pytest.mark.anyio


def url(clinic: Clinic, path: str, **params: Any) -> str:
    query = "&".join([f"subdomain={clinic.subdomain}", *(f"{k}={v}" for k, v in params.items())])
    return f"{path}?{query}"


async def create(api: Api, clinic: Clinic, path: str, payload: dict[str, Any]) -> dict[str, Any]:
    response = await api.client.post(url(clinic, path), json=payload, headers=clinic.auth)
    assert response.status_code == 201, response.text
    envelope = response.json()
    assert (envelope["code"], envelope["error"], envelope["count"]) == (True, None, 1)
    data: dict[str, Any] = envelope["data"]
    return data


def without_times(data: dict[str, Any]) -> dict[str, Any]:
    assert data["created_at"].endswith("Z")
    return {k: v for k, v in data.items() if k not in ("created_at", "updated_at", "guid")}


async def test_create_list_and_book(api: Api) -> None:
    clinic = await api.clinic()
    specialty = await create(
        api, clinic, "/specialties", {"specialty": {"name": "Cardiology", "code": "CARD"}}
    )
    assert without_times(specialty) == {"id": specialty["id"], "name": "Cardiology", "code": "CARD"}
    service = await create(
        api,
        clinic,
        "/services",
        {"service": {"name": "Video visit", "price": "49.5", "specialty_id": specialty["id"]}},
    )
    assert without_times(service) == {
        "id": service["id"],
        "name": "Video visit",
        "price": "49.50",
        "currency": "USD",
        "specialty_id": specialty["id"],
    }
    reason = await create(
        api, clinic, "/visit_reasons", {"visit_reason": {"name": "Chest pain", "code": "R07"}}
    )
    mode = await create(
        api,
        clinic,
        f"/appointment_types/{clinic.appointment_type_id}/modes",
        {"mode": {"mode_id": 2, "minutes": 20}},
    )
    assert without_times(mode) == {
        "id": mode["id"],
        "appointment_type_id": clinic.appointment_type_id,
        "appointment_type_guid": mode["appointment_type_guid"],
        "mode_id": 2,
        "mode": "Video",
        "minutes": 20,
    }
    user = await create(
        api,
        clinic,
        "/portal_users",
        {
            "portal_user": {
                "email": "Ana@Example.test",
                "first_name": "Ana",
                "last_name": "Lima",
                "tz": "America/Sao_Paulo",
                "self_patient": {"date_of_birth": "1990-05-06", "gender": "Female"},
            }
        },
    )
    own = user["patients"][0]
    assert without_times(user) == {
        "id": user["id"],
        "email": "ana@example.test",
        "first_name": "Ana",
        "last_name": "Lima",
        "tz": "America/Sao_Paulo",
        "self_patient_id": own["id"],
        "self_patient_guid": own["guid"],
        "patients": [
            {
                "id": own["id"],
                "guid": own["guid"],
                "first_name": "Ana",
                "last_name": "Lima",
                "date_of_birth": "1990-05-06",
                "gender": "Female",
                "tz": "America/Sao_Paulo",
                "guarantor_id": None,
                "is_self": True,
            }
        ],
    }
    with_child = await create(
        api,
        clinic,
        f"/portal_users/{user['id']}/dependants",
        {"patient": {"first_name": "Bia", "last_name": "Lima", "date_of_birth": "2018-01-02"}},
    )
    child = with_child["patients"][1]
    assert (child["first_name"], child["guarantor_id"], child["is_self"], child["tz"]) == (
        "Bia",
        own["id"],
        False,
        "America/Sao_Paulo",
    )
    # A second user linking an existing clinic patient as their own.
    linked = await create(
        api,
        clinic,
        "/portal_users",
        {
            "portal_user": {
                "email": "p0@x.test",
                "first_name": "P",
                "last_name": "Zero",
                "self_patient_id": clinic.patient_ids[0],
            }
        },
    )
    assert linked["self_patient_id"] == clinic.patient_ids[0]

    # Lists, paged by cursor.
    listed = await api.client.get(url(clinic, "/portal_users", per_page=1), headers=clinic.auth)
    assert listed.status_code == 200
    page = listed.json()
    assert page["count"] == 2
    assert [u["guid"] for u in page["data"]] == [user["guid"]]
    assert [p["guid"] for p in page["data"][0]["patients"]] == [own["guid"], child["guid"]]
    assert page["page_info"]["has_next_page"] is True
    after = await api.client.get(
        url(clinic, "/portal_users", per_page=1, end_cursor=page["page_info"]["end_cursor"]),
        headers=clinic.auth,
    )
    assert [u["guid"] for u in after.json()["data"]] == [linked["guid"]]
    for path, record in (
        ("/specialties", specialty),
        ("/services", service),
        ("/visit_reasons", reason),
        (f"/appointment_types/{clinic.appointment_type_id}/modes", mode),
    ):
        listed = await api.client.get(url(clinic, path), headers=clinic.auth)
        assert listed.status_code == 200, listed.text
        assert listed.json()["data"] == [record]
        assert listed.json()["count"] == 1

    # Book the dependant through the Calendar API with those GUIDs.
    institution = await api.client.get(
        f"/institutions/{clinic.institution_id}", headers=clinic.auth
    )
    account = institution.json()["data"]["guid"]
    async with api.db.read() as session:
        provider = (
            await session.execute(select(Provider).where(Provider.id == clinic.provider_ids[0]))
        ).scalar_one()
    when = f"{future_day().isoformat()}T11:00:00"
    response = await api.client.post(
        URL,
        json={
            "AccountId": account,
            "UserId": user["guid"],
            "PatientId": child["guid"],
            "ParentId": own["guid"],
            "ProviderId": str(provider.guid),
            "EncounterTypeModeDurationId": mode["guid"],
            "SpecialityId": specialty["guid"],
            "ServiceId": service["guid"],
            "Reasons": [{"ReasonId": reason["guid"]}],
            "AppointmentOn": when,
            "Reason": "Chest pain",
        },
        headers=clinic.auth,
    )
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["AppointmentOn"].startswith(when)  # the provider's zone: their location's
    assert data["DoctorTimeZone"] == "America/New_York"
    assert data["PatientTimeZone"] == "America/Sao_Paulo"
    assert (data["Duration"], data["VisitMode"], data["IsGuardian"]) == (20, "Video", 1)
    assert data["Speciality"] == {"ID": specialty["guid"], "Name": "Cardiology", "Code": "CARD"}
    assert data["EncounterTypeId"] == mode["appointment_type_guid"]


async def test_a_price_is_stored_and_answered_in_cents(api: Api) -> None:
    """A zero with a huge exponent (the PostgreSQL driver refuses it), -0 and trailing zeros
    are the prices the column holds: created, answered and listed alike on both databases."""
    clinic = await api.clinic()
    given = [
        ("0e999999", "0.00"),
        ("0e300000", "0.00"),
        ("0E-16384", "0.00"),
        ("-0", "0.00"),
        ("-0.00", "0.00"),
        ("5." + "0" * 5000, "5.00"),
        ("1E+9", "1000000000.00"),
        (12.5, "12.50"),
    ]
    answered = []
    for index, (price, shown) in enumerate(given):
        service = await create(
            api, clinic, "/services", {"service": {"name": f"S{index}", "price": price}}
        )
        assert without_times(service) == {
            "id": service["id"],
            "name": f"S{index}",
            "price": shown,
            "currency": "USD",
            "specialty_id": None,
        }, price
        answered.append(service)
    listed = await api.client.get(url(clinic, "/services"), headers=clinic.auth)
    assert listed.status_code == 200, listed.text
    assert listed.json()["data"] == answered
    async with api.db.read() as session:
        stored = (
            await session.execute(
                select(Service.price)
                .where(Service.institution_id == clinic.institution_id)
                .order_by(Service.id)
            )
        ).scalars()
        assert [str(price) for price in stored] == [shown for _, shown in given]
    for price, error in [
        ("0.001", "service.price: decimal input should have no more than 2 decimal places"),
        ("-0.01", "service.price: input should be greater than or equal to 0"),
        ("1e999999", "service.price: input should be less than or equal to 9999999999.99"),
        ("NaN", "service.price: input should be a finite number"),
    ]:
        response = await api.client.post(
            url(clinic, "/services"),
            json={"service": {"name": "Refused", "price": price}},
            headers=clinic.auth,
        )
        assert response.status_code == 400, (price, response.text)
        assert response.json()["error"] == [error], price


async def test_catalogue_rules(api: Api) -> None:
    clinic = await api.clinic()
    other = await api.clinic("other")

    async def status(path: str, payload: dict[str, Any], on: Clinic = clinic) -> tuple[int, Any]:
        response = await api.client.post(url(on, path), json=payload, headers=clinic.auth)
        return response.status_code, response.json()["error"]

    await create(api, clinic, "/specialties", {"specialty": {"name": "Derm"}})
    assert await status("/specialties", {"specialty": {"name": "Derm"}}) == (
        409,
        ["a specialty named 'Derm' already exists"],
    )
    assert await status("/specialties", {"specialty": {"name": "  "}}) == (
        400,
        ["specialty.name: must not be blank"],
    )
    assert (await status("/specialties", {"specialty": {"name": "X"}}, other))[0] == 403
    assert await status("/services", {"service": {"name": "S", "specialty_id": 999}}) == (
        404,
        ["specialty 999 not found"],
    )
    assert (await status("/services", {"service": {"name": "S", "price": -1}}))[0] == 400
    modes = f"/appointment_types/{clinic.appointment_type_id}/modes"
    assert (await status(modes, {"mode": {"mode_id": 4, "minutes": 20}}))[0] == 400
    assert (await status(modes, {"mode": {"mode_id": 1, "minutes": 0}}))[0] == 400
    await create(api, clinic, modes, {"mode": {"mode_id": 1, "minutes": 20}})
    assert (await status(modes, {"mode": {"mode_id": 1, "minutes": 20}}))[0] == 409
    assert await status("/appointment_types/999/modes", {"mode": {"mode_id": 1, "minutes": 5}}) == (
        404,
        ["appointment type 999 not found"],
    )
    user = await create(
        api,
        clinic,
        "/portal_users",
        {"portal_user": {"email": "a@b.test", "first_name": "A", "last_name": "B"}},
    )
    assert (
        await status(
            "/portal_users",
            {"portal_user": {"email": "A@b.test", "first_name": "A", "last_name": "B"}},
        )
    )[0] == 409
    assert await status(
        "/portal_users",
        {
            "portal_user": {
                "email": "c@b.test",
                "first_name": "A",
                "last_name": "B",
                "tz": "Mars/Olympus",
            }
        },
    ) == (400, ["portal_user.tz: 'Mars/Olympus' is not an IANA time zone name"])
    dependant = {"patient": {"first_name": "K", "last_name": "B", "date_of_birth": "2019-01-01"}}
    await create(api, clinic, f"/portal_users/{user['id']}/dependants", dependant)
    assert (await status(f"/portal_users/{user['id']}/dependants", dependant))[0] == 409
    assert (await status("/portal_users/999/dependants", dependant))[0] == 404
    # A date of birth follows a patient's rules wherever a person is created.
    for born, message in (
        ("2999-01-01", "must not be in the future"),
        ("0001-01-01", "must not be more than 130 years ago"),
    ):
        young = {"patient": {"first_name": "K", "last_name": "C", "date_of_birth": born}}
        assert await status(f"/portal_users/{user['id']}/dependants", young) == (
            400,
            [f"patient.date_of_birth: {message}"],
        )
        owner = {
            "email": f"{born}@b.test",
            "first_name": "A",
            "last_name": "B",
            "self_patient": {"date_of_birth": born},
        }
        assert await status("/portal_users", {"portal_user": owner}) == (
            400,
            [f"portal_user.self_patient.date_of_birth: {message}"],
        )
