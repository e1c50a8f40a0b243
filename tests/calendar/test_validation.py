"""Every rule of AppointmentModel, in ASP.NET Web API's error shapes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.calendar.helpers import (
    URL,
    body,
    future_day,
    model_state,
    post,
    telehealth_clinic,
)
from tests.support import Api

pytestmark = pytest.mark.anyio


def start(hour: int = 10) -> str:
    return f"{future_day().isoformat()}T{hour:02d}:00:00-05:00"


async def test_every_required_field_at_once(api: Api) -> None:
    tele = await telehealth_clinic(api)
    response = await post(api, tele, {"Note": "x"})
    assert model_state(response) == {
        "model.UserId": ["The UserId field is required."],
        "model.AppointmentOn": ["The AppointmentOn field is required."],
        "model.Reason": ["The Reason field is required."],
        "model.AccountId": ["The AccountId field is required."],
    }


@pytest.mark.parametrize("field", ["UserId", "AppointmentOn", "Reason", "AccountId"])
@pytest.mark.parametrize("value", [None, "", "   "])
async def test_each_required_field(api: Api, field: str, value: Any) -> None:
    tele = await telehealth_clinic(api)
    payload = body(tele, start())
    payload[field] = value
    response = await post(api, tele, payload)
    assert model_state(response) == {f"model.{field}": [f"The {field} field is required."]}
    absent = body(tele, start())
    del absent[field]
    response = await post(api, tele, absent)
    assert model_state(response) == {f"model.{field}": [f"The {field} field is required."]}


async def test_lengths(api: Api) -> None:
    tele = await telehealth_clinic(api)
    response = await post(api, tele, body(tele, start(), Reason="r" * 251, Note="n" * 1001))
    assert model_state(response) == {
        "model.Reason": ["The field Reason must be a string with a maximum length of 250."],
        "model.Note": ["The field Note must be a string with a maximum length of 1000."],
    }
    # .NET counts UTF-16 code units: an emoji is two.
    response = await post(api, tele, body(tele, start(), Reason="\U0001f600" * 126))
    assert model_state(response) == {
        "model.Reason": ["The field Reason must be a string with a maximum length of 250."]
    }
    ok = await post(api, tele, body(tele, start(), Reason="r" * 250, Note="n" * 1000))
    assert ok.status_code == 200, ok.text
    assert ok.json()["Reason"] == "r" * 250
    assert ok.json()["Note"] == "n" * 1000
    # An empty note is kept as given.
    empty = await post(api, tele, body(tele, start(11), Note=""))
    assert empty.status_code == 200, empty.text
    assert empty.json()["Note"] == ""


async def test_other_limits(api: Api) -> None:
    tele = await telehealth_clinic(api)
    response = await post(
        api,
        tele,
        body(
            tele,
            start(),
            Reason="a\x00b",
            IsCustomFormFlow="f" * 51,
            DocIds="d" * 4001,
            PaidAmount=-1,
        ),
    )
    assert model_state(response) == {
        "model.Reason": ["The field Reason must not contain NUL characters."],
        "model.PaidAmount": ["The field PaidAmount must be between 0 and 9999999999.99."],
        "model.IsCustomFormFlow": [
            "The field IsCustomFormFlow must be a string with a maximum length of 50."
        ],
        "model.DocIds": ["The field DocIds must be a string with a maximum length of 4000."],
    }
    response = await post(api, tele, body(tele, start(), PaidAmount=1.234))
    assert model_state(response) == {
        "model.PaidAmount": ["The field PaidAmount must have at most 2 decimal places."]
    }
    response = await post(api, tele, body(tele, start(), Reasons=[{"ReasonId": tele.reason}] * 51))
    assert model_state(response) == {
        "model.Reasons": ["The field Reasons must have at most 50 items."]
    }


async def test_bad_values_json(api: Api) -> None:
    tele = await telehealth_clinic(api)
    payload = body(
        tele,
        "tomorrow",
        UserId="x",
        ProviderId=5,
        PatientId=True,
        SpecialityId={"a": 1},
        SecondaryAppointmentOn=12,
        PaidAmount="five",
        MethodId=1.5,
        ServiceId="8baaaf69-e51c-4683-b8c5-328c7fb72dfz",
        Reasons=[{"ReasonId": "nope"}, 3, {"reasonid": None}],
    )
    response = await post(api, tele, payload)
    assert model_state(response) == {
        "model.ProviderId": ["Error converting value 5 to type 'System.Guid'."],
        "model.UserId": ["Error converting value \"x\" to type 'System.Guid'."],
        "model.PatientId": ["Error converting value True to type 'System.Guid'."],
        "model.SpecialityId": ["Error converting value {\"a\":1} to type 'System.Guid'."],
        "model.AppointmentOn": ["Could not convert string to DateTime: tomorrow."],
        "model.SecondaryAppointmentOn": [
            "Unexpected token parsing date. Expected String, got Integer."
        ],
        "model.PaidAmount": ["Could not convert string to decimal: five."],
        "model.ServiceId": [
            "Error converting value \"8baaaf69-e51c-4683-b8c5-328c7fb72dfz\" to type 'System.Guid'."
        ],
        "model.MethodId": ["Input string '1.5' is not a valid integer."],
        "model.Reasons[0].ReasonId": ["Error converting value \"nope\" to type 'System.Guid'."],
        "model.Reasons[1]": ["Error converting value 3 to type 'Reasons'."],
        "model.Reasons[2].ReasonId": ["The ReasonId field is required."],
    }
    response = await post(api, tele, body(tele, start(), MethodId=2**31, Reasons={"a": 1}))
    assert model_state(response) == {
        "model.MethodId": ["JSON integer 2147483648 is too large or small for an Int32."],
        "model.Reasons": [
            'Cannot deserialize the current JSON value {"a":1} into type \'Collection of '
            "Reasons': a JSON array is required."
        ],
    }


async def test_hostile_text_is_refused_not_echoed_whole(api: Api) -> None:
    tele = await telehealth_clinic(api)
    text = json.dumps(body(tele, start()))
    text = text.replace(
        '"Reason": "Cough"', '"Reason": "a\\ud800b", "UserId": "\\udfff' + "x" * 200 + '"'
    )
    text = text.replace(f'"UserId": "{tele.user}", ', "")
    response = await post(api, tele, text)
    assert model_state(response) == {
        "model.UserId": [
            'Error converting value "\\udfff' + "x" * 99 + "...\" to type 'System.Guid'."
        ],
        "model.Reason": ["The field Reason must not contain unpaired surrogates."],
    }


async def test_accepted_spellings(api: Api) -> None:
    """Names without case, GUIDs in .NET's formats, numbers as strings, unknown keys ignored."""
    tele = await telehealth_clinic(api)
    payload = {
        "accountid": tele.account.upper(),
        "USERID": "{" + tele.user + "}",
        "providerId": tele.provider.replace("-", ""),
        "encounterTypeModeDurationId": f"({tele.mode})",
        "appointmentOn": start(),
        "reason": 42,
        "PaidAmount": "12.50",
        "MethodId": "3",
        "SecondaryAppointmentOn": "0001-01-01T00:00:00",
        "Whatever": {"ignored": True},
    }
    response = await post(api, tele, payload)
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["Reason"] == "42"
    assert data["PaidAmount"] == 12.5
    assert data["MethodId"] == 3
    assert data["SecondaryAppointmentOn"] is None
    assert data["AccountId"] == tele.account
    assert data["EncounterTypeId"] == tele.encounter_type  # the visit option's type
    assert data["Duration"] == 15


@pytest.mark.parametrize(
    ("text", "local"),
    [
        ("{day}T09:30:00", "{day}T09:30:00"),  # the provider's (Chicago) local time
        ("{day}T09:30:00Z", None),
        ("{day} 09:30:00.1234567+01:00", None),
        ("{mdy} 09:30:00", "{day}T09:30:00"),
        ("{mdy} 9:30 AM", "{day}T09:30:00"),
    ],
)
async def test_date_formats(api: Api, text: str, local: str | None) -> None:
    tele = await telehealth_clinic(api)
    day = future_day()
    mdy = day.strftime("%m/%d/%Y")
    given = text.format(day=day.isoformat(), mdy=mdy)
    response = await post(api, tele, body(tele, given))
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["DoctorTimeZone"] == "America/Chicago"
    if local is not None:
        assert data["AppointmentOn"].startswith(local.format(day=day.isoformat()))
    assert data["AppointmentOnUTC"].endswith("Z")


async def test_ms_json_date(api: Api) -> None:
    tele = await telehealth_clinic(api)
    day = future_day()
    from datetime import UTC, datetime, time

    instant = datetime.combine(day, time(16, 0), tzinfo=UTC)
    ms = int(instant.timestamp() * 1000)
    response = await post(api, tele, body(tele, f"/Date({ms})/"))
    assert response.status_code == 200, response.text
    assert response.json()["AppointmentOnUTC"] == f"{day.isoformat()}T16:00:00Z"


async def test_past_times(api: Api) -> None:
    tele = await telehealth_clinic(api)
    for given in ("2020-01-01T10:00:00", "2020-01-01T10:00:00Z"):
        response = await post(api, tele, body(tele, given))
        assert model_state(response) == {
            "model.AppointmentOn": [
                "AppointmentOn must be in the future; the time given has passed."
            ]
        }
    response = await post(api, tele, body(tele, "9999-12-31T23:59:59"))
    assert model_state(response) == {"model.AppointmentOn": ["AppointmentOn is out of range."]}


async def test_bodies_that_are_not_models(api: Api) -> None:
    tele = await telehealth_clinic(api)
    cases: list[tuple[str, str]] = [
        ("", "A non-empty request body is required."),
        ("   ", "A non-empty request body is required."),
        ("null", "A non-empty request body is required."),
        (
            "[1, 2]",
            "Cannot deserialize the current JSON array into type 'AppointmentModel': "
            "a JSON object is required.",
        ),
        ('{"UserId": ', "Invalid JSON: Expecting value. Path '', line 1, position 12."),
        (
            '{"PaidAmount": NaN}',
            "Invalid JSON: Unexpected character encountered while parsing value: N.",
        ),
        (
            "[" * 100000 + "]" * 100000,
            "Invalid JSON: maximum recursion depth exceeded while "
            "decoding a JSON array from a unicode string",
        ),
    ]
    for text, message in cases:
        response = await post(api, tele, text)
        assert response.status_code == 400, (text[:20], response.text)
        assert response.json() == {
            "Message": "The request is invalid.",
            "ModelState": {"model": [message]},
        }, text[:20]
    invalid_utf8 = await post(
        api, tele, b'{"Reason": "\xff"}', headers={"Content-Type": "application/json"}
    )
    assert invalid_utf8.json() == {
        "Message": "The request is invalid.",
        "ModelState": {"model": ["The request body is not valid utf-8 text."]},
    }


async def test_unsupported_media_types(api: Api) -> None:
    tele = await telehealth_clinic(api)
    payload = json.dumps(body(tele, start()))
    for content_type in ("text/plain", "application/xml", "multipart/form-data; boundary=x"):
        response = await post(api, tele, payload, headers={"Content-Type": content_type})
        assert response.status_code == 415
        media = content_type.split(";")[0]
        assert response.json() == {
            "Message": f"The request entity's media type '{media}' is not supported for this "
            "resource. Send application/json, text/json or application/x-www-form-urlencoded."
        }
    response = await api.client.post(URL, content=payload, headers=tele.auth)
    assert response.status_code == 415
    response = await post(
        api, tele, payload, headers={"Content-Type": "application/json; charset=klingon"}
    )
    assert response.status_code == 415
    assert response.json() == {
        "Message": "The character set 'klingon' of the request body is not supported."
    }
