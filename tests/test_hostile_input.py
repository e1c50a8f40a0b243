"""Text the database cannot hold and JSON cannot answer: lone surrogates and NUL characters.

Python's JSON parser reads ``"\\ud800"`` as a lone surrogate, which no UTF-8 encoder writes: a
surrogate stored in free-form JSON made the write answer 500 after it had committed, and every
later read of the record (lists included) a 500 too. PostgreSQL's text refuses NUL (a 500 there);
SQLite stored it. Every such value is a 400 naming the field, and nothing is written.

Bodies are written with ``json.dumps`` (ASCII escapes): the client sends ``\\ud800`` as JSON text.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from carebook.core.time import format_utc
from carebook.db.tables import (
    Appointment,
    AppointmentDescriptor,
    Institution,
    Patient,
    Provider,
)
from tests.calendar.helpers import URL as CALENDAR_URL
from tests.calendar.helpers import body as calendar_body
from tests.calendar.helpers import future_day, telehealth_clinic
from tests.nexhealth.helpers import INSTANT_RE, errors, ok, url
from tests.support import Api, Clinic, future, iso_z

pytestmark = pytest.mark.anyio

SURROGATE = "\ud800"
LOW_SURROGATE = "\udfff"
NUL = "\x00"
NUL_MESSAGE = "must not contain NUL characters"
SURROGATE_MESSAGE = "must not contain unpaired surrogates"

# Free-form JSON with bad text anywhere: a value, a nested value, a key, a nested key.
BAD_JSON: list[tuple[dict[str, Any], str]] = [
    ({"x": SURROGATE}, SURROGATE_MESSAGE),
    ({"x": f"a{LOW_SURROGATE}b"}, SURROGATE_MESSAGE),
    ({"x": ["a", {"y": [SURROGATE]}]}, SURROGATE_MESSAGE),
    ({"x": "a\x00"}, NUL_MESSAGE),
    ({"x": ["a\x00"]}, NUL_MESSAGE),
    ({"x": {"y": {"z": NUL}}}, NUL_MESSAGE),
    ({SURROGATE: 1}, SURROGATE_MESSAGE),
    ({"x": {f"k{SURROGATE}": 1}}, SURROGATE_MESSAGE),
    ({"a\x00b": 1}, NUL_MESSAGE),
    ({"x": [{"\x00": True}]}, NUL_MESSAGE),
]


def raw(body: Any) -> bytes:
    """JSON text as a client writes it: non-ASCII (and lone surrogates) as ``\\u`` escapes."""
    return json.dumps(body).encode("ascii")


async def post_raw(api: Api, path: str, body: Any, headers: dict[str, str]) -> httpx.Response:
    return await api.client.post(
        path, content=raw(body), headers={**headers, "Content-Type": "application/json"}
    )


async def count(api: Api, table: Any) -> int:
    async with api.db.read() as session:
        return int((await session.execute(select(func.count()).select_from(table))).scalar_one())


# --- providers: bio (POST and PATCH) -----------------------------------------------------------


async def test_provider_bio_with_a_surrogate_or_nul_is_400_and_nothing_is_written(
    api: Api,
) -> None:
    acme = await api.clinic("acme")
    before = await count(api, Provider)
    for bio, message in BAD_JSON:
        body = {"provider": {"first_name": "Ada", "last_name": "Lovelace", "bio": bio}}
        response = await post_raw(api, url(acme, "/providers"), body, acme.auth)
        assert errors(response, 400) == [f"provider.bio: {message}"], bio
    assert await count(api, Provider) == before
    # The list still answers, and with the clinic's providers only.
    listed = await api.client.get(url(acme, "/providers"), headers=acme.auth)
    assert [p["id"] for p in ok(listed)] == acme.provider_ids


async def test_provider_bio_patch_with_a_surrogate_or_nul_is_400_and_changes_nothing(
    api: Api,
) -> None:
    acme = await api.clinic("acme")
    provider_id = acme.provider_ids[0]
    path = url(acme, f"/providers/{provider_id}")
    before = ok(await api.client.get(path, headers=acme.auth))
    for bio, message in BAD_JSON:
        response = await api.client.patch(
            path,
            content=raw({"provider": {"bio": bio, "first_name": "Changed"}}),
            headers={**acme.auth, "Content-Type": "application/json"},
        )
        assert errors(response, 400) == [f"provider.bio: {message}"], bio
    assert ok(await api.client.get(path, headers=acme.auth)) == before
    async with api.db.read() as session:
        row = await session.get(Provider, provider_id)
        assert row is not None
        assert (row.first_name, row.bio) == ("Pat0", before["bio"])


async def test_provider_bio_keeps_other_text_as_given(api: Api) -> None:
    """Only lone surrogates and NUL are refused: paired surrogates (an emoji) and other
    control characters are text like any other, keys included."""
    acme = await api.clinic("acme")
    bio = {"emoji \U0001f600": ["\U0001f600", "tab\there", "\u2028", {"\x01": "é"}]}
    body = {"provider": {"first_name": "Ada", "last_name": "Lovelace", "bio": bio}}
    created = ok(await post_raw(api, url(acme, "/providers"), body, acme.auth), 201)
    assert created["bio"] == bio
    fetched = ok(await api.client.get(url(acme, f"/providers/{created['id']}"), headers=acme.auth))
    assert fetched["bio"] == bio


# --- appointment descriptors: data --------------------------------------------------------------


async def test_descriptor_data_with_a_surrogate_or_nul_is_400_and_nothing_is_written(
    api: Api,
) -> None:
    acme = await api.clinic("acme")
    path = url(acme, "/appointment_descriptors", location_id=acme.location_id)
    for data, message in BAD_JSON:
        body = {"appointment_descriptor": {"descriptor_type": "X", "name": "Y", "data": data}}
        response = await post_raw(api, path, body, acme.auth)
        assert errors(response, 400) == [f"appointment_descriptor.data: {message}"], data
    assert await count(api, AppointmentDescriptor) == 0
    listed = await api.client.get(
        url(acme, f"/locations/{acme.location_id}/appointment_descriptors"), headers=acme.auth
    )
    assert ok(listed) == []


# --- patients: bio.weight and bio.height ------------------------------------------------------


def new_patient(clinic: Clinic, **bio: Any) -> dict[str, Any]:
    return {
        "provider": {"provider_id": clinic.provider_ids[0]},
        "patient": {
            "first_name": "Grace",
            "last_name": "Hopper",
            "email": "grace@example.test",
            "bio": {"date_of_birth": "1990-04-21", "phone_number": "555", **bio},
        },
    }


async def test_patient_measures_with_a_surrogate_or_nul_are_400_and_nothing_is_written(
    api: Api,
) -> None:
    acme = await api.clinic("acme")
    before = await count(api, Patient)
    path = url(acme, "/patients", location_id=acme.location_id)
    for field in ("weight", "height"):
        for value, message in (
            (f"70{SURROGATE} kg", f"patient.bio.{field}: {SURROGATE_MESSAGE}"),
            (LOW_SURROGATE, f"patient.bio.{field}: {SURROGATE_MESSAGE}"),
            ("70\x00", f"patient.bio.{field}: {NUL_MESSAGE}"),
        ):
            response = await post_raw(api, path, new_patient(acme, **{field: value}), acme.auth)
            assert errors(response, 400) == [message], (field, value)
    # The other bio fields are plain text: pydantic's own check, in the same words.
    response = await post_raw(api, path, new_patient(acme, city=f"X{SURROGATE}"), acme.auth)
    assert errors(response, 400) == [f"patient.bio.city: {SURROGATE_MESSAGE}"]
    response = await post_raw(api, path, new_patient(acme, city="X\x00"), acme.auth)
    assert errors(response, 400) == [f"patient.bio.city: {NUL_MESSAGE}"]
    assert await count(api, Patient) == before
    listed = await api.client.get(path, headers=acme.auth)
    assert [p["id"] for p in ok(listed)] == acme.patient_ids


# --- appointments: a dependant's bio, and unknown appt keys -------------------------------------


def booking(clinic: Clinic, **fields: Any) -> dict[str, Any]:
    start = future(days=9)
    appt = {
        "patient_id": clinic.patient_ids[0],
        "provider_id": clinic.provider_ids[0],
        "start_time": iso_z(start),
        "end_time": iso_z(start + timedelta(minutes=30)),
        **fields,
    }
    return {"appt": appt}


def booking_url(clinic: Clinic) -> str:
    return url(clinic, "/appointments", location_id=clinic.location_id)


async def test_dependant_bio_with_a_surrogate_or_nul_is_400_and_nothing_is_written(
    api: Api,
) -> None:
    acme = await api.clinic("acme")
    patients = await count(api, Patient)
    for extra, message in BAD_JSON:
        child = {
            "first_name": "Kid",
            "last_name": "Patient",
            "bio": {"date_of_birth": "2018-05-01", **extra},
        }
        body = booking(acme, is_guardian=True, patient=child)
        response = await post_raw(api, booking_url(acme), body, acme.auth)
        assert errors(response, 400) == [f"appt.patient.bio: {message}"], extra
    assert await count(api, Appointment) == 0
    assert await count(api, Patient) == patients
    window = await api.client.get(
        url(
            acme,
            "/appointments",
            location_id=acme.location_id,
            start=iso_z(future(days=1)),
            end=iso_z(future(days=20)),
        ),
        headers=acme.auth,
    )
    assert ok(window) == []


async def test_dependant_bio_keeps_its_extra_keys(api: Api) -> None:
    acme = await api.clinic("acme")
    bio: dict[str, Any] = {"date_of_birth": "2018-05-01", "notes": ["\U0001f600", {"a": 1.5}]}
    child = {"first_name": "Kid", "last_name": "Patient", "bio": bio}
    body = booking(acme, is_guardian=True, patient=child)
    response = await post_raw(api, booking_url(acme), body, acme.auth)
    assert response.status_code == 201, response.text
    assert response.json()["data"]["appt"]["patient"]["bio"] == {**bio, "gender": "Female"}


async def test_unknown_appt_key_with_a_surrogate_is_400_and_nothing_is_written(
    api: Api,
) -> None:
    """Unknown ``appt`` keys are named in the answer's description, which must stay text a
    JSON encoder writes: a key with a lone surrogate is refused, naming the ``appt``."""
    acme = await api.clinic("acme")
    for key in (SURROGATE, f"note{LOW_SURROGATE}"):
        body = booking(acme, **{key: 1})
        response = await post_raw(api, booking_url(acme), body, acme.auth)
        assert errors(response, 400) == [f"appt: {SURROGATE_MESSAGE}"], key
    assert await count(api, Appointment) == 0
    # A NUL in an ignored key is only named back, escaped as JSON escapes it.
    response = await post_raw(api, booking_url(acme), booking(acme, **{"a\x00b": 1}), acme.auth)
    assert response.status_code == 201, response.text
    assert response.json()["description"] == "Note that following parameters are ignored: a\x00b."


async def test_appointment_text_with_a_surrogate_or_nul_is_400(api: Api) -> None:
    acme = await api.clinic("acme")
    for field in ("note", "referrer"):
        for value, message in ((f"a{SURROGATE}", SURROGATE_MESSAGE), ("a\x00", NUL_MESSAGE)):
            body = booking(acme, **{field: value})
            response = await post_raw(api, booking_url(acme), body, acme.auth)
            assert errors(response, 400) == [f"appt.{field}: {message}"], (field, value)
    for value in (f"2030-01-01T10:00:00{SURROGATE}", "2030-01-01T10:00:00\x00"):
        response = await post_raw(
            api, booking_url(acme), booking(acme, start_time=value), acme.auth
        )
        assert response.status_code == 400, response.text
        assert errors(response, 400)[0].startswith("appt.start_time: "), value
    assert await count(api, Appointment) == 0


# --- a refused unknown key is named without breaking the answer ---------------------------------


async def test_a_refused_key_with_a_surrogate_is_named_escaped(api: Api) -> None:
    acme = await api.clinic("acme")
    body = {"location": {"name": "X", "tz": "UTC", f"colour{SURROGATE}": "red"}}
    response = await post_raw(api, url(acme, "/locations"), body, acme.auth)
    assert errors(response, 400) == [f"location: {SURROGATE_MESSAGE}"]
    body = {"location": {"name": f"X{SURROGATE}", "tz": "UTC"}}
    response = await post_raw(api, url(acme, "/locations"), body, acme.auth)
    assert errors(response, 400) == [f"location.name: {SURROGATE_MESSAGE}"]
    listed = await api.client.get(url(acme, "/locations"), headers=acme.auth)
    assert listed.json()["count"] == 2  # nothing was written


# --- working hours: the plain text fields -------------------------------------------------------


async def test_working_hour_text_with_a_nul_is_400(api: Api) -> None:
    acme = await api.clinic("acme")
    path = url(acme, "/working_hours", location_id=acme.location_id)
    base = {"provider_id": acme.provider_ids[0], "begin_time": "09:00", "end_time": "17:00"}
    cases: list[tuple[dict[str, Any], str]] = [
        ({"begin_time": "09:0\x00"}, f"working_hour.begin_time: {NUL_MESSAGE}"),
        ({"end_time": "1\x00:00"}, f"working_hour.end_time: {NUL_MESSAGE}"),
        ({"days": ["Monday\x00"]}, f"working_hour.days.0: {NUL_MESSAGE}"),
        ({"days": [f"Monday{SURROGATE}"]}, f"working_hour.days.0: {SURROGATE_MESSAGE}"),
        (
            {"custom_recurrence": {"num": 1, "unit": "week\x00", "ref": "2030-01-07"}},
            f"working_hour.custom_recurrence.unit: {NUL_MESSAGE}",
        ),
    ]
    for fields, message in cases:
        body = {"working_hour": {**base, "days": ["Monday"], **fields}}
        response = await post_raw(api, path, body, acme.auth)
        assert errors(response, 400) == [message], fields
    listed = await api.client.get(path, headers=acme.auth)
    assert ok(listed) == []


# --- institutions -------------------------------------------------------------------------------


async def test_institution_text_with_a_nul_or_surrogate_is_400_and_nothing_is_written(
    api: Api,
) -> None:
    headers = await api.admin_auth()
    good = {"name": "Smile", "subdomain": "smile", "phone_number": "555", "country_code": "US"}
    cases: list[tuple[dict[str, Any], list[str]]] = [
        ({"name": "Smile\x00"}, [f"institution.name: {NUL_MESSAGE}"]),
        ({"name": f"Smile{SURROGATE}"}, [f"institution.name: {SURROGATE_MESSAGE}"]),
        ({"phone_number": "555\x00"}, [f"institution.phone_number: {NUL_MESSAGE}"]),
        ({"subdomain": "smile\x00"}, [f"institution.subdomain: {NUL_MESSAGE}"]),
        ({"name": "x" * 201}, ["institution.name: string should have at most 200 characters"]),
        ({"name": ""}, ["institution.name: string should have at least 1 character"]),
    ]
    for country in ("U\x00", "us", "U1", "ÜS", "USA", "U", "ＵＳ"):
        cases.append(
            ({"country_code": country}, ["institution.country_code: must be two capital letters"])
        )
    for fields, expected in cases:
        response = await post_raw(
            api, "/institutions", {"institution": {**good, **fields}}, headers
        )
        assert errors(response, 400) == expected, fields
    assert await count(api, Institution) == 0
    created = await api.client.post("/institutions", json={"institution": good}, headers=headers)
    data = ok(created, 201)
    assert data["country_code"] == "US"
    assert await count(api, Institution) == 1


async def test_institution_instants_are_written_to_the_millisecond(api: Api) -> None:
    """As every other resource writes instants (``format_utc``): ``…T15:00:01.679Z``."""
    headers = await api.admin_auth()
    response = await api.client.post(
        "/institutions",
        json={"institution": {"name": "Acme", "subdomain": "acme"}},
        headers=headers,
    )
    created = ok(response, 201)
    async with api.db.read() as session:
        row = (await session.execute(select(Institution))).scalar_one()
    assert created == {
        "id": row.id,
        "guid": str(row.guid),
        "name": "Acme",
        "subdomain": "acme",
        "phone_number": None,
        "country_code": "US",
        "created_at": format_utc(row.created_at),
        "updated_at": format_utc(row.updated_at),
    }
    assert INSTANT_RE.fullmatch(created["created_at"]), created
    assert ok(await api.client.get(f"/institutions/{row.id}", headers=headers)) == created
    assert ok(await api.client.get("/institutions", headers=headers)) == [created]


async def test_a_subdomain_with_a_nul_is_400(api: Api) -> None:
    """The subdomain is looked up as given: PostgreSQL refused the NUL with a 500."""
    acme = await api.clinic("acme")
    for headers in (await api.admin_auth(), acme.auth):
        response = await api.client.get("/locations?subdomain=ac%00me", headers=headers)
        assert errors(response, 400) == [f"subdomain: {NUL_MESSAGE}"]
    body = booking(acme)
    response = await api.client.post(
        f"/appointments?subdomain=ac%00me&location_id={acme.location_id}",
        json=body,
        headers=await api.admin_auth(),
    )
    assert errors(response, 400) == [f"subdomain: {NUL_MESSAGE}"]
    assert await count(api, Appointment) == 0


# --- the Calendar API reads its body itself -----------------------------------------------------


async def test_calendar_text_with_a_surrogate_or_nul_is_400_in_its_shape(api: Api) -> None:
    tele = await telehealth_clinic(api)
    before = await count(api, Appointment)
    start = f"{future_day(10).isoformat()}T10:00:00-05:00"
    cases: list[tuple[dict[str, Any], dict[str, list[str]]]] = [
        (
            {"Reason": f"Cough{SURROGATE}"},
            {"model.Reason": ["The field Reason must not contain unpaired surrogates."]},
        ),
        (
            {"Note": "a\x00b"},
            {"model.Note": ["The field Note must not contain NUL characters."]},
        ),
        (
            {"DocIds": f"1,{LOW_SURROGATE}"},
            {"model.DocIds": ["The field DocIds must not contain unpaired surrogates."]},
        ),
        (
            {"ProviderId": f"{SURROGATE}"},
            {"model.ProviderId": ["Error converting value \"\\ud800\" to type 'System.Guid'."]},
        ),
    ]
    for fields, expected in cases:
        response = await post_raw(
            api, CALENDAR_URL, calendar_body(tele, start, **fields), tele.auth
        )
        assert response.status_code == 400, response.text
        assert response.json() == {"Message": "The request is invalid.", "ModelState": expected}
    # An unknown property with a lone surrogate in its name is ignored, as any unknown one.
    body = {**calendar_body(tele, start), f"X{SURROGATE}": 1}
    response = await post_raw(api, CALENDAR_URL, body, tele.auth)
    assert response.status_code == 200, response.text
    assert await count(api, Appointment) == before + 1
