"""The express lane (``carebook.api.kit.express``): the booking POSTs answered as the routes do.

Every test watches the lane (the ``lane`` fixture records what ``serve`` did with each request:
``served`` when the lane's ``run`` answered, ``declined`` or ``raised <Error>`` when ``prepare``
passed, ``fallback`` when the request went to FastAPI), so a test of the fallback cannot pass
through the lane and a test of the lane cannot pass through FastAPI. ``plain`` is a second app on
the same database with ``express=False``: what the documented routes answer.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import func, select, update
from starlette.types import Message, Receive, Scope, Send

from carebook.api.kit import express
from carebook.api.kit.express import (
    MAX_EXPRESS_BODY,
    ExpressRequest,
    ExpressResponse,
    Prepare,
    Run,
)
from carebook.app import CarebookApp, create_app
from carebook.config import Settings
from carebook.core.time import format_local
from carebook.db.tables import Appointment, AppointmentReason, PatientNotification
from tests.calendar.helpers import (
    DOCTOR_TZ,
    URL,
    body,
    future_day,
    sample_text,
    telehealth_clinic,
)
from tests.support import Api, Clinic, future, iso_z

pytestmark = pytest.mark.anyio

Asgi = Callable[[Scope, Receive, Send], Awaitable[None]]


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture
def lane(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What the express lane did with each request, in order."""
    events: list[str] = []
    real_serve = express.serve

    async def serve(prepare: Prepare, *, fallback: Asgi, **kwargs: Any) -> None:
        async def watched_prepare(request: ExpressRequest) -> Run | None:
            try:
                run = await prepare(request)
            except Exception as error:
                events.append(f"raised {type(error).__name__}")
                raise
            if run is None:
                events.append("declined")
                return None
            accepted = run

            async def watched_run() -> ExpressResponse:
                events.append("served")
                return await accepted()

            return watched_run

        async def watched_fallback(scope: Scope, receive: Receive, send: Send) -> None:
            events.append("fallback")
            await fallback(scope, receive, send)

        await real_serve(watched_prepare, fallback=watched_fallback, **kwargs)

    monkeypatch.setattr(express, "serve", serve)
    return events


@pytest.fixture
async def plain(api: Api, settings: Settings) -> AsyncIterator[Api]:
    """The app with the express lane switched off, on the database ``api`` emptied."""
    app = create_app(settings.model_copy(update={"express": False}))
    assert isinstance(app, CarebookApp)
    assert app.express_router is None
    assert isinstance(api.app, CarebookApp)
    assert api.app.express_router is not None
    async with app.router.lifespan_context(app):
        # An unhandled error must be answered (500) and stop there: raised on into the server
        # after the answer, it would be logged a second time (this transport would raise it).
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://carebook.test") as c:
            yield Api(client=c, app=app)


# --- helpers ----------------------------------------------------------------------------------


def nex_url(clinic: Clinic, query: str = "") -> str:
    return f"/appointments?subdomain={clinic.subdomain}&location_id={clinic.location_id}{query}"


def appt(clinic: Clinic, start: datetime, **fields: Any) -> dict[str, Any]:
    given: dict[str, Any] = {
        "patient_id": clinic.patient_ids[0],
        "provider_id": clinic.provider_ids[0],
        "start_time": iso_z(start),
        "end_time": iso_z(start + timedelta(minutes=30)),
    }
    given.update(fields)
    return {"appt": {k: v for k, v in given.items() if v is not None}}


def failed(*messages: str, description: str | None = None) -> dict[str, Any]:
    """The NexHealth error envelope."""
    return {
        "code": False,
        "description": description if description is not None else messages[0],
        "error": list(messages),
        "data": None,
        "count": None,
    }


def calendar_start(hour: int = 10, days: int = 10) -> str:
    return f"{future_day(days).isoformat()}T{hour:02d}:00:00-05:00"


def json_headers(auth: dict[str, str], content_type: str = "application/json") -> dict[str, str]:
    return {**auth, "Content-Type": content_type}


async def active_at(api: Api, institution_id: int, start: datetime) -> int:
    """Appointments (not cancelled) of the institution starting at ``start``."""
    async with api.db.read() as session:
        result = await session.execute(
            select(func.count())
            .select_from(Appointment)
            .where(
                Appointment.institution_id == institution_id,
                Appointment.start_at == start,
                Appointment.cancelled.is_(False),
            )
        )
        return int(result.scalar_one())


async def all_appointments(api: Api) -> int:
    async with api.db.read() as session:
        result = await session.execute(select(func.count()).select_from(Appointment))
        return int(result.scalar_one())


async def notifications(api: Api) -> int:
    async with api.db.read() as session:
        result = await session.execute(select(func.count()).select_from(PatientNotification))
        return int(result.scalar_one())


async def cancel_everything(api: Api) -> None:
    """Free every slot again (set-up may write rows directly)."""
    await api.db.write(lambda s: s.execute(update(Appointment).values(cancelled=True)))


def without(data: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in keys}


def utc_of(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


# --- 1. equivalence ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["fast path", "session path"])
async def test_nexhealth_booking_answers_as_the_route_does(
    api: Api, plain: Api, lane: list[str], kind: str
) -> None:
    clinic = await api.clinic()
    start = future(days=9, hour=15)
    # The session path: a notification (and an ignored key named in the description).
    query = "&notify_patient=true" if kind == "session path" else ""
    extra = {"colour": "blue"} if kind == "session path" else {}
    payload = appt(
        clinic,
        start,
        end_time=None,
        appointment_type_id=clinic.appointment_type_id,
        note="Bring X-rays",
        referrer="https://example.test/book",
        is_new_clients_patient=True,
        **extra,
    )
    fast = await api.client.post(nex_url(clinic, query), json=payload, headers=clinic.auth)
    assert lane == ["served"]
    await cancel_everything(api)
    slow = await plain.client.post(nex_url(clinic, query), json=payload, headers=clinic.auth)
    assert lane == ["served"], "the app with express=False never offers a request to the lane"

    assert fast.status_code == slow.status_code == 201, (fast.text, slow.text)
    assert fast.headers["content-type"] == slow.headers["content-type"] == "application/json"
    assert fast.headers["content-length"] == str(len(fast.content))
    got, expected = fast.json(), slow.json()
    assert list(got) == list(expected) == ["code", "description", "error", "data", "count"]
    assert without(got, "data") == without(expected, "data")
    assert got["description"] == (
        "Note that following parameters are ignored: colour." if extra else None
    )
    mine, theirs = got["data"]["appt"], expected["data"]["appt"]
    assert list(mine) == list(theirs)
    differing = ("id", "created_at", "updated_at")
    assert without(mine, *differing) == without(theirs, *differing)
    assert mine["id"] != theirs["id"]
    # Equal, and right: the booking asked for.
    assert mine["start_time"] == iso_z(start)
    assert mine["end_time"] == iso_z(start + timedelta(minutes=30))
    assert mine["note"] == "Bring X-rays"
    assert mine["patient"]["id"] == clinic.patient_ids[0]
    assert mine["created_at"] == mine["updated_at"]
    assert await active_at(api, clinic.institution_id, start) == 1
    assert await all_appointments(api) == 2
    assert await notifications(api) == (2 if kind == "session path" else 0)


@pytest.mark.parametrize("kind", ["sample", "minimal"])
async def test_calendar_booking_answers_as_the_route_does(
    api: Api, plain: Api, lane: list[str], kind: str
) -> None:
    tele = await telehealth_clinic(api)
    day = future_day()
    content = (
        sample_text(day)
        if kind == "sample"
        else json.dumps(body(tele, f"{day.isoformat()}T10:00:00-05:00", Note="Hello"))
    )
    fast = await api.client.post(URL, content=content, headers=json_headers(tele.auth))
    assert lane == ["served"]
    await cancel_everything(api)
    slow = await plain.client.post(URL, content=content, headers=json_headers(tele.auth))
    assert lane == ["served"]

    assert fast.status_code == slow.status_code == 200, (fast.text, slow.text)
    assert fast.headers["content-type"] == slow.headers["content-type"] == "application/json"
    assert fast.headers["content-length"] == str(len(fast.content))
    got, expected = fast.json(), slow.json()
    assert list(got) == list(expected)
    differing = ("ID", "PaidDate", "ModifiedOn")
    assert without(got, *differing) == without(expected, *differing)
    assert got["ID"] != expected["ID"]
    assert got["PaidDate"] == (got["ModifiedOn"] if kind == "sample" else None)
    assert got["Duration"] == 15
    assert got["DoctorId"] == tele.provider
    assert (got["Note"], got["PatientId"]) == (
        ("sample string 4", tele.dependant) if kind == "sample" else ("Hello", tele.guardian)
    )
    async with api.db.read() as session:
        rows = list(
            (
                await session.execute(
                    select(Appointment.guid, Appointment.cancelled).where(
                        Appointment.booked_via == "calendar",
                        Appointment.guid.in_([got["ID"], expected["ID"]]),
                    )
                )
            ).all()
        )
        reasons = (
            await session.execute(select(func.count()).select_from(AppointmentReason))
        ).scalar_one()
    assert sorted((str(guid), cancelled) for guid, cancelled in rows) == sorted(
        [(got["ID"], True), (expected["ID"], False)]
    )
    assert reasons == (2 if kind == "sample" else 0)


# --- 2. the fallback replays the body ---------------------------------------------------------


async def test_nexhealth_refusals_are_the_routes_answers(
    api: Api, plain: Api, lane: list[str]
) -> None:
    clinic = await api.clinic()
    start = future(days=8)
    valid = json.dumps(appt(clinic, start)).encode()
    missing_start = appt(clinic, start)
    del missing_start["appt"]["start_time"]
    invalid = "the request is invalid"
    cases: list[tuple[str, str, bytes, dict[str, str], int, dict[str, Any], list[str]]] = [
        (
            "invalid JSON",
            nex_url(clinic),
            b'{"appt": {"patient_id": ',
            json_headers(clinic.auth),
            400,
            failed("body: the body is not valid JSON", description=invalid),
            ["raised JSONDecodeError", "fallback"],
        ),
        (
            "missing start_time",
            nex_url(clinic),
            json.dumps(missing_start).encode(),
            json_headers(clinic.auth),
            400,
            failed("appt.start_time: is required", description=invalid),
            ["raised ValidationError", "fallback"],
        ),
        (
            "no token",
            nex_url(clinic),
            valid,
            {"Content-Type": "application/json"},
            401,
            failed("missing Authorization header: send 'Bearer <token>' from /authenticates"),
            ["raised Unauthorized", "fallback"],
        ),
        (
            "invalid token",
            nex_url(clinic),
            valid,
            {"Content-Type": "application/json", "Authorization": "Bearer nope"},
            401,
            failed("the bearer token is not valid"),
            ["raised Unauthorized", "fallback"],
        ),
        (
            "tenant not reachable",
            f"/appointments?subdomain=other&location_id={clinic.location_id}",
            valid,
            json_headers(clinic.auth),
            403,
            failed("you don't have access to institution 'other'"),
            ["raised Forbidden", "fallback"],
        ),
        (
            "location_id out of range",
            f"/appointments?subdomain={clinic.subdomain}&location_id=0",
            valid,
            json_headers(clinic.auth),
            400,
            failed("location_id: input should be greater than or equal to 1", description=invalid),
            ["declined", "fallback"],
        ),
        (
            "invalid notify_patient",
            nex_url(clinic, "&notify_patient=maybe"),
            valid,
            json_headers(clinic.auth),
            400,
            failed(
                "notify_patient: input should be a valid boolean, unable to interpret input",
                description=invalid,
            ),
            ["declined", "fallback"],
        ),
    ]
    for name, url, content, headers, status, answer, events in cases:
        lane.clear()
        response = await api.client.post(url, content=content, headers=headers)
        assert (response.status_code, response.json()) == (status, answer), name
        assert lane == events, name
        route = await plain.client.post(url, content=content, headers=headers)
        assert (route.status_code, route.json()) == (status, answer), name
        assert response.headers["content-type"] == route.headers["content-type"], name
    assert await all_appointments(api) == 0


async def test_calendar_refusals_are_the_routes_answers(
    api: Api, plain: Api, lane: list[str]
) -> None:
    tele = await telehealth_clinic(api)
    before = await all_appointments(api)
    valid = json.dumps(body(tele, calendar_start())).encode()
    no_reason = json.dumps(body(tele, calendar_start(), Reason=None)).encode()
    cases: list[tuple[str, bytes, dict[str, str], int, dict[str, Any], list[str]]] = [
        (
            "no token",
            valid,
            {"Content-Type": "application/json"},
            401,
            {"Message": "missing Authorization header: send 'Bearer <token>' from /authenticates"},
            ["raised Unauthorized", "fallback"],
        ),
        (
            "invalid JSON",
            b'{"UserId": ',
            json_headers(tele.auth),
            400,
            {
                "Message": "The request is invalid.",
                "ModelState": {
                    "model": ["Invalid JSON: Expecting value. Path '', line 1, position 12."]
                },
            },
            ["raised InvalidInput", "fallback"],
        ),
        (
            "a required field missing",
            no_reason,
            json_headers(tele.auth, "text/json; charset=utf-8"),
            400,
            {
                "Message": "The request is invalid.",
                "ModelState": {"model.Reason": ["The Reason field is required."]},
            },
            ["raised InvalidInput", "fallback"],
        ),
        (
            "unsupported media type",
            valid,
            json_headers(tele.auth, "text/plain"),
            415,
            {
                "Message": "The request entity's media type 'text/plain' is not supported for "
                "this resource. Send application/json, text/json or "
                "application/x-www-form-urlencoded."
            },
            ["declined", "fallback"],
        ),
    ]
    for name, content, headers, status, answer, events in cases:
        lane.clear()
        response = await api.client.post(URL, content=content, headers=headers)
        assert (response.status_code, response.json()) == (status, answer), name
        assert lane == events, name
        route = await plain.client.post(URL, content=content, headers=headers)
        assert (route.status_code, route.json()) == (status, answer), name
    assert await all_appointments(api) == before


async def test_calendar_form_body_is_booked_by_the_route(api: Api, lane: list[str]) -> None:
    tele = await telehealth_clinic(api)
    when = calendar_start(11)
    form = {
        "AccountId": tele.account,
        "UserId": tele.user,
        "ProviderId": tele.provider,
        "EncounterTypeModeDurationId": tele.phone_mode,
        "AppointmentOn": when,
        "Reason": "Fièvre",
        "Reasons[0].ReasonId": tele.reason,
    }
    response = await api.client.post(
        URL,
        content=urlencode(form).encode(),
        headers=json_headers(tele.auth, "application/x-www-form-urlencoded; charset=utf-8"),
    )
    assert lane == ["declined", "fallback"]
    assert response.status_code == 200, response.text
    data = response.json()
    assert (data["Reason"], data["Duration"], data["VisitMode"], data["ReasonId"]) == (
        "Fièvre",
        45,
        "Phone",
        tele.reason,
    )
    assert await active_at(api, tele.clinic.institution_id, utc_of(when)) == 1


async def test_repeated_location_id_is_answered_by_the_route(
    api: Api, plain: Api, lane: list[str]
) -> None:
    clinic = await api.clinic()
    start = future(days=11)
    base = f"/appointments?subdomain={clinic.subdomain}"
    # FastAPI reads a repeated scalar query parameter's last value.
    last_unknown = f"{base}&location_id={clinic.location_id}&location_id=99999"
    answers = []
    for client in (api.client, plain.client):
        response = await client.post(last_unknown, json=appt(clinic, start), headers=clinic.auth)
        answers.append((response.status_code, response.json()))
    assert answers == [(404, failed("location 99999 not found"))] * 2
    assert lane == ["declined", "fallback"]
    assert await all_appointments(api) == 0

    lane.clear()
    last_known = f"{base}&location_id=99999&location_id={clinic.location_id}"
    response = await api.client.post(last_known, json=appt(clinic, start), headers=clinic.auth)
    assert lane == ["declined", "fallback"]
    assert response.status_code == 201, response.text
    assert response.json()["data"]["appt"]["location_id"] == clinic.location_id
    await cancel_everything(api)
    route = await plain.client.post(last_known, json=appt(clinic, start), headers=clinic.auth)
    assert route.status_code == 201, route.text
    differing = ("id", "created_at", "updated_at")
    assert without(response.json()["data"]["appt"], *differing) == without(
        route.json()["data"]["appt"], *differing
    )


@pytest.mark.parametrize(
    ("query", "notified", "description"),
    [
        ("&notify_patient=1", 1, None),  # not the canonical spelling: FastAPI's bool parsing
        ("&notify_patient=True", 1, None),
        ("&notify_patient=off", 0, None),
        # A query parameter the lane does not know: the route books, and names it.
        ("&utm_source=mail", 0, "Note that following parameters are ignored: utm_source."),
    ],
)
async def test_unusual_query_is_booked_by_the_route(
    api: Api, lane: list[str], query: str, notified: int, description: str | None
) -> None:
    clinic = await api.clinic()
    start = future(days=12)
    response = await api.client.post(
        nex_url(clinic, query), json=appt(clinic, start), headers=clinic.auth
    )
    assert lane == ["declined", "fallback"]
    assert response.status_code == 201, response.text
    assert response.json()["description"] == description
    assert response.json()["data"]["appt"]["start_time"] == iso_z(start)
    assert await active_at(api, clinic.institution_id, start) == 1
    assert await notifications(api) == notified


async def test_repeated_header_goes_to_the_route(api: Api, lane: list[str]) -> None:
    clinic = await api.clinic()
    start = future(days=13)
    headers = [
        ("Authorization", f"Bearer {clinic.token}"),
        ("Content-Type", "application/json"),
        ("X-Trace", "a"),
        ("X-Trace", "b"),
    ]
    response = await api.client.post(
        nex_url(clinic), content=json.dumps(appt(clinic, start)).encode(), headers=headers
    )
    assert lane == ["fallback"], "prepare is not even asked"
    assert response.status_code == 201, response.text
    assert await active_at(api, clinic.institution_id, start) == 1


# --- 3. after prepare: conflicts in the path's own shape --------------------------------------


async def test_nexhealth_conflict_is_an_envelope(api: Api, plain: Api, lane: list[str]) -> None:
    clinic = await api.clinic()
    start = future(days=14)
    first = await api.client.post(nex_url(clinic), json=appt(clinic, start), headers=clinic.auth)
    assert first.status_code == 201, first.text
    first_id = first.json()["data"]["appt"]["id"]
    clash = await api.client.post(nex_url(clinic), json=appt(clinic, start), headers=clinic.auth)
    assert lane == ["served", "served"], "the 409 is the lane's own answer"
    message = (
        f"the requested time overlaps the patient's appointment {first_id}, "
        f"the provider's appointment {first_id}"
    )
    assert clash.status_code == 409
    assert clash.json() == failed(message)
    assert clash.headers["content-type"] == "application/json"
    route = await plain.client.post(nex_url(clinic), json=appt(clinic, start), headers=clinic.auth)
    assert (route.status_code, route.json()) == (409, clash.json())
    assert await active_at(api, clinic.institution_id, start) == 1
    assert await all_appointments(api) == 1


async def test_calendar_conflict_is_aspnet_shaped(api: Api, plain: Api, lane: list[str]) -> None:
    tele = await telehealth_clinic(api)
    when = calendar_start(9)
    first = await api.client.post(URL, json=body(tele, when), headers=tele.auth)
    assert first.status_code == 200, first.text
    before = await all_appointments(api)
    clash = await api.client.post(URL, json=body(tele, when), headers=tele.auth)
    assert lane == ["served", "served"]
    local = format_local(utc_of(when), ZoneInfo(DOCTOR_TZ))
    assert clash.status_code == 409
    assert clash.json() == {
        "Message": f"The time {local} is not available: it overlaps the patient's appointment "
        f"{first.json()['ID']}, the provider's appointment {first.json()['ID']}."
    }
    assert clash.headers["content-type"] == "application/json"
    route = await plain.client.post(URL, json=body(tele, when), headers=tele.auth)
    assert (route.status_code, route.json()) == (409, clash.json())
    assert await active_at(api, tele.clinic.institution_id, utc_of(when)) == 1
    assert await all_appointments(api) == before


# --- 4. an unexpected exception is a 500 in the path's own shape ------------------------------


async def _raise(*_args: Any, **_kwargs: Any) -> Any:
    raise RuntimeError("injected failure")


def _unhandled_logged(caplog: pytest.LogCaptureFixture, path: str) -> bool:
    """The injected failure was logged, once, with the request and the exception."""
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    return (
        len(errors) == 1
        and errors[0].getMessage() == f"unhandled error on POST {path}"
        and errors[0].exc_info is not None
        and isinstance(errors[0].exc_info[1], RuntimeError)
    )


@pytest.mark.parametrize("where", ["lane", "core"])
async def test_nexhealth_unexpected_error_is_an_envelope_500(
    api: Api,
    plain: Api,
    lane: list[str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    where: str,
) -> None:
    clinic = await api.clinic()
    start = future(days=15)
    # notify_patient sends the booking through the session path: the INSERT has run when the
    # core's failure strikes, and the transaction must take it back.
    url = nex_url(clinic, "&notify_patient=true")
    with monkeypatch.context() as patch:
        if where == "lane":
            patch.setattr("carebook.api.nexhealth.express.book_appointment", _raise)
        else:
            patch.setattr("carebook.db.repositories.appointments.add_appointment_details", _raise)
        with caplog.at_level(logging.ERROR, logger="carebook.api"):
            response = await api.client.post(url, json=appt(clinic, start), headers=clinic.auth)
        assert lane == ["served"]
        assert response.status_code == 500
        assert response.json() == failed("internal server error")
        assert response.headers["content-type"] == "application/json"
        assert _unhandled_logged(caplog, "/appointments")
        if where == "core":
            caplog.clear()
            with caplog.at_level(logging.ERROR):
                route = await plain.client.post(url, json=appt(clinic, start), headers=clinic.auth)
            assert (route.status_code, route.json()) == (500, response.json())
            assert _unhandled_logged(caplog, "/appointments")
    assert await all_appointments(api) == 0
    assert await notifications(api) == 0
    # Nothing was left behind (no row, no lock): the same booking now succeeds.
    again = await api.client.post(url, json=appt(clinic, start), headers=clinic.auth)
    assert again.status_code == 201, again.text
    assert await all_appointments(api) == 1


@pytest.mark.parametrize("where", ["lane", "core"])
async def test_calendar_unexpected_error_is_an_aspnet_500(
    api: Api,
    plain: Api,
    lane: list[str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    where: str,
) -> None:
    tele = await telehealth_clinic(api)
    before = await all_appointments(api)
    # With Reasons the booking goes through the session path (see the NexHealth test).
    payload = body(tele, calendar_start(12), Reasons=[{"ReasonId": tele.reason}])
    with monkeypatch.context() as patch:
        if where == "lane":
            patch.setattr("carebook.api.calendar.express.book_schedule", _raise)
        else:
            patch.setattr("carebook.db.repositories.appointments.add_appointment_details", _raise)
        with caplog.at_level(logging.ERROR, logger="carebook.api"):
            response = await api.client.post(URL, json=payload, headers=tele.auth)
        assert lane == ["served"]
        assert response.status_code == 500
        assert response.json() == {"Message": "internal server error"}
        assert response.headers["content-type"] == "application/json"
        assert _unhandled_logged(caplog, URL)
        if where == "core":
            caplog.clear()
            with caplog.at_level(logging.ERROR):
                route = await plain.client.post(URL, json=payload, headers=tele.auth)
            assert (route.status_code, route.json()) == (500, response.json())
            assert _unhandled_logged(caplog, URL)
    assert await all_appointments(api) == before
    async with api.db.read() as session:
        reasons = (
            await session.execute(select(func.count()).select_from(AppointmentReason))
        ).scalar_one()
    assert reasons == 0
    again = await api.client.post(URL, json=payload, headers=tele.auth)
    assert again.status_code == 200, again.text
    assert await all_appointments(api) == before + 1


# --- 5. bodies larger than 64 KiB go to FastAPI -----------------------------------------------


def padded(payload: dict[str, Any], size: int) -> bytes:
    """``payload`` as JSON followed by whitespace, exactly ``size`` bytes long."""
    text = json.dumps(payload).encode()
    assert len(text) < size
    return text + b" " * (size - len(text))


@pytest.mark.parametrize(
    ("size", "events"),
    [(MAX_EXPRESS_BODY, ["served"]), (MAX_EXPRESS_BODY + 1, ["fallback"])],
)
async def test_body_size_limit(api: Api, lane: list[str], size: int, events: list[str]) -> None:
    clinic = await api.clinic()
    start = future(days=16)
    content = padded(appt(clinic, start), size)
    assert len(content) == size
    response = await api.client.post(
        nex_url(clinic), content=content, headers=json_headers(clinic.auth)
    )
    assert lane == events
    assert response.status_code == 201, response.text
    assert response.json()["data"]["appt"]["start_time"] == iso_z(start)
    assert await active_at(api, clinic.institution_id, start) == 1


async def test_large_streamed_body_is_replayed_whole(api: Api, lane: list[str]) -> None:
    """The lane stops reading past 64 KiB; FastAPI gets what was read, then the rest."""
    clinic = await api.clinic()
    start = future(days=17)
    content = json.dumps(appt(clinic, start, padding="p" * (3 * MAX_EXPRESS_BODY))).encode()

    async def chunks() -> AsyncIterator[bytes]:
        for offset in range(0, len(content), 10_000):
            yield content[offset : offset + 10_000]

    response = await api.client.post(
        nex_url(clinic), content=chunks(), headers=json_headers(clinic.auth)
    )
    assert lane == ["fallback"]
    assert response.status_code == 201, response.text
    assert response.json()["description"] == "Note that following parameters are ignored: padding."
    assert await active_at(api, clinic.institution_id, start) == 1


async def test_large_invalid_bodies_get_the_routes_answers(
    api: Api, plain: Api, lane: list[str]
) -> None:
    clinic = await api.clinic()
    long_note = json.dumps(appt(clinic, future(days=18), note="n" * 70_000)).encode()
    tele = await telehealth_clinic(api, "tele", sample_guids=False)
    before = await all_appointments(api)
    long_calendar_note = json.dumps(body(tele, calendar_start(), Note="n" * 70_000)).encode()
    cases: list[tuple[str, bytes, dict[str, str], int, dict[str, Any]]] = [
        (
            nex_url(clinic),
            long_note,
            json_headers(clinic.auth),
            400,
            failed(
                "appt.note: string should have at most 1000 characters",
                description="the request is invalid",
            ),
        ),
        (
            URL,
            long_calendar_note,
            json_headers(tele.auth),
            400,
            {
                "Message": "The request is invalid.",
                "ModelState": {
                    "model.Note": ["The field Note must be a string with a maximum length of 1000."]
                },
            },
        ),
    ]
    for url, content, headers, status, answer in cases:
        assert len(content) > MAX_EXPRESS_BODY
        lane.clear()
        response = await api.client.post(url, content=content, headers=headers)
        assert lane == ["fallback"], url
        assert (response.status_code, response.json()) == (status, answer), url
        route = await plain.client.post(url, content=content, headers=headers)
        assert (route.status_code, route.json()) == (status, answer), url
    assert await all_appointments(api) == before


# --- 6. ASP.NET's routing ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/API/calendar/patientappointmentpost/", "/api/CALENDAR/PatientAppointmentPost_V1/"],
)
async def test_calendar_path_spellings_are_served(api: Api, lane: list[str], path: str) -> None:
    tele = await telehealth_clinic(api)
    when = calendar_start(13)
    response = await api.client.post(path, json=body(tele, when), headers=tele.auth)
    assert lane == ["served"]
    assert response.status_code == 200, response.text
    assert response.json()["Duration"] == 15
    assert utc_of(response.json()["AppointmentOn"]) == utc_of(when)
    assert await active_at(api, tele.clinic.institution_id, utc_of(when)) == 1
    # Errors after prepare are still rendered by the Calendar dialect on such a path.
    clash = await api.client.post(path, json=body(tele, when), headers=tele.auth)
    assert lane == ["served", "served"]
    assert clash.status_code == 409
    assert list(clash.json()) == ["Message"]


async def test_other_paths_and_methods_skip_the_lane(api: Api, lane: list[str]) -> None:
    clinic = await api.clinic()
    start = future(days=19)
    booked = await api.client.post(nex_url(clinic), json=appt(clinic, start), headers=clinic.auth)
    assert booked.status_code == 201
    lane.clear()
    appointment_id = booked.json()["data"]["appt"]["id"]
    fetched = await api.client.get(
        f"/appointments/{appointment_id}?subdomain={clinic.subdomain}", headers=clinic.auth
    )
    assert fetched.status_code == 200
    # NexHealth's path is exact: another spelling is FastAPI's 404, in the envelope.
    upper = await api.client.post(
        nex_url(clinic).replace("/appointments", "/Appointments"),
        json=appt(clinic, start),
        headers=clinic.auth,
    )
    assert (upper.status_code, upper.json()) == (
        404,
        failed("no route for POST /Appointments"),
    )
    wrong_method = await api.client.put(URL, json={}, headers=clinic.auth)
    assert (wrong_method.status_code, wrong_method.json()) == (
        405,
        {"Message": f"PUT is not allowed on {URL}"},
    )
    assert lane == []


async def test_large_body_in_one_message_goes_to_the_route(api: Api, lane: list[str]) -> None:
    """A server may hand the whole body over in one message: past 64 KiB it still goes to
    FastAPI, and FastAPI gets it whole."""
    clinic = await api.clinic()
    start = future(days=19)
    content = padded(appt(clinic, start), MAX_EXPRESS_BODY + 1_000)
    path, _, query = nex_url(clinic).partition("?")
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query.encode(),
        "headers": [
            (name.lower().encode(), value.encode())
            for name, value in json_headers(clinic.auth).items()
        ]
        + [(b"host", b"carebook.test"), (b"content-length", str(len(content)).encode())],
        "client": ("127.0.0.1", 50000),
        "server": ("carebook.test", 80),
    }
    messages = [{"type": "http.request", "body": content, "more_body": False}]

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop(0)
        return {"type": "http.disconnect"}

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    await api.app(scope, receive, send)
    assert lane == ["fallback"]
    assert sent[0]["type"] == "http.response.start"
    assert sent[0]["status"] == 201
    answer = json.loads(b"".join(m.get("body", b"") for m in sent[1:]))
    assert answer["data"]["appt"]["start_time"] == iso_z(start)
    assert await active_at(api, clinic.institution_id, start) == 1
