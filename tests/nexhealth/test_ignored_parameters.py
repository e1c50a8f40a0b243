"""Query parameters a NexHealth-style route does not take: still answered, and named.

Every route that answers an envelope derives the names it takes from its own signature
(``deps.IgnoredDep``); a representative set of them is exercised here, reads and writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.availability.helpers import add_hours, next_weekday
from tests.support import Api, Clinic, iso_z

pytestmark = pytest.mark.anyio

NOTE = "Note that following parameters are ignored: "


@dataclass(frozen=True)
class Setting:
    """What the cases' paths and bodies name (``{subdomain}``, ``{location_id}``, …)."""

    values: dict[str, Any]

    def __call__(self, template: str) -> str:
        return template.format(**self.values)


async def setting(api: Api) -> tuple[Clinic, Setting]:
    clinic = await api.clinic()
    await add_hours(api, clinic, location_id=clinic.location_id, provider_id=clinic.provider_ids[0])
    # 15:00 at the location (America/New_York) on a Wednesday two weeks or more ahead: inside the
    # Monday-Friday 09:00-17:00 hours whatever today is, and never the ``monday`` below.
    wednesday = next_weekday(2, after_days=14)
    start = datetime.combine(wednesday, time(15), ZoneInfo("America/New_York")).astimezone(UTC)
    booked = await api.client.post(
        f"/appointments?subdomain={clinic.subdomain}&location_id={clinic.location_id}",
        json={
            "appt": {
                "patient_id": clinic.patient_ids[0],
                "provider_id": clinic.provider_ids[0],
                "start_time": iso_z(start),
                "appointment_type_id": clinic.appointment_type_id,
            }
        },
        headers=clinic.auth,
    )
    assert booked.status_code == 201, booked.text
    values = {
        "subdomain": clinic.subdomain,
        "institution_id": clinic.institution_id,
        "location_id": clinic.location_id,
        "provider_id": clinic.provider_ids[0],
        "operatory_id": clinic.operatory_ids[0],
        "patient_id": clinic.patient_ids[0],
        "appointment_id": booked.json()["data"]["appt"]["id"],
        "monday": next_weekday(0).isoformat(),
        "start": iso_z(start - timedelta(hours=1)),
        "end": iso_z(start + timedelta(hours=3)),
        "later": iso_z(start + timedelta(hours=1)),
        "appointment_type_id": clinic.appointment_type_id,
    }
    return clinic, Setting(values)


# (path with the parameters the route takes, the ones it does not, the description answered)
READS = {
    "patients list": (
        "/patients?subdomain={subdomain}&location_id={location_id}&name=Pat",
        "&provider_id={provider_id}",
        f"{NOTE}provider_id.",
    ),
    "locations list": (
        "/locations?subdomain={subdomain}&inactive=false&per_page=5",
        "&sort=name&location_id={location_id}&sort=id",
        f"{NOTE}location_id, sort.",
    ),
    "provider": (
        "/providers/{provider_id}?subdomain={subdomain}",
        "&include[]=locations&location_id={location_id}",
        f"{NOTE}include[], location_id.",
    ),
    "institution": ("/institutions/{institution_id}", "?fields=name", f"{NOTE}fields."),
    "appointment": (
        "/appointments/{appointment_id}?subdomain={subdomain}",
        "&location_id={location_id}",
        f"{NOTE}location_id.",
    ),
    "appointments list": (
        "/appointments?subdomain={subdomain}&location_id={location_id}&start={start}"
        "&end={end}&provider_ids[]={provider_id}",
        "&provider_id={provider_id}",
        f"{NOTE}provider_id.",
    ),
    "slots, aliases taken": (
        "/available_slots?subdomain={subdomain}&start_date={monday}&days=2"
        "&lids[]={location_id}&pids={provider_id}&slot_interval=60",
        "&provider_ids[]={provider_id}&lid={location_id}",
        f"{NOTE}lid, provider_ids[].",
    ),
    "v2 slots": (
        "/appointment_slots?subdomain={subdomain}&start_date={monday}&days=1"
        "&lids={location_id}&category_id={appointment_type_id}&slot_interval=120",
        "&end_date={monday}",
        f"{NOTE}end_date.",
    ),
    "v2 working hours": (
        "/availabilities?subdomain={subdomain}&location_id={location_id}&provider_id={provider_id}",
        "&appointment_category_id=1",
        f"{NOTE}appointment_category_id.",
    ),
    "telehealth catalogue": (
        "/specialties?subdomain={subdomain}&per_page=10",
        "&location_id={location_id}&name=Dermatology",
        f"{NOTE}location_id, name.",
    ),
}


@pytest.mark.parametrize("case", list(READS))
async def test_a_read_names_the_parameters_it_ignores(api: Api, case: str) -> None:
    """The same answer as without them, but for the description that names them."""
    clinic, at = await setting(api)
    path, extra, description = READS[case]
    headers = clinic.auth if case != "institution" else await api.admin_auth()
    plain = await api.client.get(at(path), headers=headers)
    assert plain.status_code == 200, plain.text
    assert plain.json()["description"] is None
    ignoring = await api.client.get(at(path + extra), headers=headers)
    assert ignoring.status_code == 200, ignoring.text
    assert ignoring.json() == {**plain.json(), "description": description}


# (method, path with the parameters the route takes, the ones it does not, body, the path that
# reads the record back, the description answered, the status answered)
WRITES = {
    "book, with an ignored key": (
        "POST",
        "/appointments?subdomain={subdomain}&location_id={location_id}&notify_patient=false",
        "&utm_source=mail&provider_id={provider_id}",
        {
            "appt": {
                "patient_id": "{patient_id}",
                "provider_id": "{provider_id}",
                "start_time": "{later}",
                "appointment_type_id": "{appointment_type_id}",
                "colour": "blue",
            }
        },
        "/appointments/{id}?subdomain={subdomain}",
        f"{NOTE}colour, provider_id, utm_source.",
        201,
    ),
    "appointment changed": (
        "PATCH",
        "/appointments/{appointment_id}?subdomain={subdomain}",
        "&location_id={location_id}",
        {"appt": {"note": "Running late"}},
        "/appointments/{id}?subdomain={subdomain}",
        f"{NOTE}location_id.",
        200,
    ),
    "location changed": (
        "PATCH",
        "/locations/{location_id}?subdomain={subdomain}",
        "&notify=true",
        {"location": {"name": "Uptown"}},
        "/locations/{id}?subdomain={subdomain}",
        f"{NOTE}notify.",
        200,
    ),
    "closure, described already": (
        "POST",
        "/locations/{location_id}/closures?subdomain={subdomain}",
        "&location_id={location_id}",
        {"closure": {"start_date": "{monday}", "end_date": "{monday}", "reason": "Holiday"}},
        None,
        f"Closure created. {NOTE}location_id.",
        201,
    ),
}


def filled(value: Any, at: Setting) -> Any:
    if isinstance(value, dict):
        return {key: filled(item, at) for key, item in value.items()}
    if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
        return at.values[value[1:-1]]
    return value


@pytest.mark.parametrize("case", list(WRITES))
async def test_a_write_names_the_parameters_it_ignores(api: Api, case: str) -> None:
    """Done as without them (the record read back is the one answered), and named."""
    clinic, at = await setting(api)
    method, path, extra, body, read_back, description, status = WRITES[case]
    response = await api.client.request(
        method, at(path + extra), json=filled(body, at), headers=clinic.auth
    )
    assert response.status_code == status, response.text
    answered = response.json()
    data = answered["data"]
    if read_back is not None:
        record = data.get("appt", data)
        got = await api.client.get(
            Setting({**at.values, "id": record["id"]})(read_back), headers=clinic.auth
        )
        assert got.status_code == 200, got.text
        data = got.json()["data"]
    else:
        listed = await api.client.get(
            at("/locations/{location_id}/closures?subdomain={subdomain}"), headers=clinic.auth
        )
        assert listed.json()["data"] == [answered["data"]]
    assert answered == {
        "code": True,
        "description": description,
        "error": None,
        "data": data,
        "count": 1,
    }


async def test_a_request_of_known_parameters_only_is_not_described(api: Api) -> None:
    """Every parameter a route takes, its dependencies' included (the tenant's ``subdomain``,
    the page's cursors, aliases such as ``lids[]``), given at once: nothing to note."""
    clinic, at = await setting(api)
    requests = [
        "/patients?subdomain={subdomain}&location_id={location_id}&location_strict=true"
        "&name=Pat&email=patient0@acme.test&phone_number=5550000000&date_of_birth=1980-01-01"
        "&inactive=false&per_page=5",
        "/available_slots?subdomain={subdomain}&start_date={monday}&days=1"
        "&lids[]={location_id}&lids={location_id}&pids[]={provider_id}&pids={provider_id}"
        "&appointment_type_id={appointment_type_id}&slot_length=30&slot_interval=30"
        "&overlapping_operatory_slots=false",
        "/working_hours?subdomain={subdomain}&location_id={location_id}"
        "&provider_id={provider_id}&operatory_id={operatory_id}&active=true&ignore_past_dates=true"
        "&per_page=3",
        "/appointment_types?subdomain={subdomain}&location_id={location_id}&per_page=2",
    ]
    for request in requests:
        response = await api.client.get(at(request), headers=clinic.auth)
        assert response.status_code == 200, (request, response.text)
        assert response.json()["description"] is None, request
    created = await api.client.post(
        at("/locations/{location_id}/closures?subdomain={subdomain}"),
        json={"closure": {"start_date": at("{monday}"), "end_date": at("{monday}")}},
        headers=clinic.auth,
    )
    assert created.status_code == 201, created.text
    assert created.json()["description"] == "Closure created"


def test_every_route_answering_an_envelope_names_what_it_ignores() -> None:
    # A new route that forgot ``IgnoredDep`` would silently ignore parameters again.
    from fastapi.routing import APIRoute

    from carebook.api.kit.dependants import walk
    from carebook.api.nexhealth.deps import ignored_query
    from carebook.api.nexhealth.envelope import Envelope
    from carebook.app import create_app

    def flattened(routes: list[Any]) -> list[Any]:
        # Included routers stay routers of their own (``original_router``) in this FastAPI.
        out: list[Any] = []
        for route in routes:
            inner = getattr(route, "original_router", None)
            out += flattened(inner.routes) if inner is not None else [route]
        return out

    routes = [
        route
        for route in flattened(create_app().routes)
        if isinstance(route, APIRoute)
        and isinstance(route.response_model, type)
        and issubclass(route.response_model, Envelope)
    ]
    assert len(routes) > 40
    missing = [
        route.path
        for route in routes
        if all(current.call is not ignored_query for current in walk(route.dependant))
    ]
    assert missing == []
