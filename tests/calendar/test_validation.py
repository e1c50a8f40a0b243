"""Every rule of AppointmentModel, in ASP.NET Web API's error shapes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta, timezone, tzinfo
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from carebook.db.tables import Appointment
from tests.calendar.helpers import (
    URL,
    body,
    future_day,
    model_state,
    post,
    telehealth_clinic,
)
from tests.support import Api, nested_text

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


def shown(value: datetime, zone: ZoneInfo | None) -> str:
    """An instant as the Calendar API writes it, worked out here: in ``zone`` with its offset
    (``+HH:MM``), or in UTC with ``Z`` when ``zone`` is None; no trailing zeros of a fraction."""
    local = value.astimezone(zone or UTC)
    stamp = local.strftime("%Y-%m-%dT%H:%M:%S.%f").rstrip("0").rstrip(".")
    if zone is None:
        return stamp + "Z"
    offset = local.utcoffset()
    assert offset is not None
    minutes = offset // timedelta(minutes=1)
    sign = "-" if minutes < 0 else "+"
    return f"{stamp}{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


CHICAGO = ZoneInfo("America/Chicago")


@pytest.mark.parametrize(
    ("text", "wall", "zone"),
    [
        # The text, and the wall time and zone it names (None: the provider's, Chicago).
        ("{day}T09:30:00", time(9, 30), None),
        ("{day}T09:30:00Z", time(9, 30), UTC),
        ("{day} 09:30:00.1234567+01:00", time(9, 30, 0, 123456), timezone(timedelta(hours=1))),
        ("{mdy} 09:30:00", time(9, 30), None),
        ("{mdy} 9:30 AM", time(9, 30), None),
    ],
)
async def test_date_formats(api: Api, text: str, wall: time, zone: tzinfo | None) -> None:
    tele = await telehealth_clinic(api)
    day = future_day()
    mdy = day.strftime("%m/%d/%Y")
    given = text.format(day=day.isoformat(), mdy=mdy)
    response = await post(api, tele, body(tele, given))
    assert response.status_code == 200, response.text
    data = response.json()
    start = datetime.combine(day, wall, zone or CHICAGO).astimezone(UTC)
    end = start + timedelta(minutes=15)
    assert (
        data["AppointmentOn"],
        data["FromDate"],
        data["ToDate"],
        data["AppointmentOnUTC"],
        data["DoctorTimeZone"],
    ) == (
        shown(start, CHICAGO),
        shown(start, CHICAGO),
        shown(end, CHICAGO),
        shown(start, None),
        "America/Chicago",
    )
    async with api.db.read() as session:
        row = (
            await session.execute(select(Appointment).where(Appointment.guid == data["ID"]))
        ).scalar_one()
    assert (row.start_at, row.end_at) == (start, end)


async def test_ms_json_date(api: Api) -> None:
    tele = await telehealth_clinic(api)
    day = future_day()
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
        ("[" * 100000 + "]" * 100000, "The reader's MaxDepth of 256 has been exceeded."),
    ]
    for text, message in cases:
        response = await post(api, tele, text)
        assert response.status_code == 400, (text[:20], response.text)
        assert response.json() == {
            "Message": "The request is invalid.",
            "ModelState": {"model": [message]},
        }, text[:20]
    # One byte order mark is dropped, as the utf-8-sig codec drops it; a second is refused as
    # Python's JSON reader refuses one.
    for marks in (1, 2):
        raw = b"\xef\xbb\xbf" * marks + json.dumps(body(tele, start())).encode()
        marked = await post(api, tele, raw, headers={"Content-Type": "application/json"})
        if marks == 1:
            assert marked.status_code == 200, marked.text
        else:
            assert marked.json() == {
                "Message": "The request is invalid.",
                "ModelState": {
                    "model": [
                        "Invalid JSON: Unexpected UTF-8 BOM (decode using utf-8-sig). "
                        "Path '', line 1, position 1."
                    ]
                },
            }
    invalid_utf8 = await post(
        api, tele, b'{"Reason": "\xff"}', headers={"Content-Type": "application/json"}
    )
    assert invalid_utf8.json() == {
        "Message": "The request is invalid.",
        "ModelState": {"model": ["The request body is not valid utf-8 text."]},
    }


async def test_bodies_nested_too_deep(api: Api) -> None:
    """ASP.NET Web API's JSON formatter reads at most 256 levels (its MaxDepth): a deeper body
    is refused whole, however deep it is and wherever the depth is, before any value is read."""
    tele = await telehealth_clinic(api)
    # The body is the first level: an unknown property 255 arrays deep is read, and ignored.
    deepest = await post(api, tele, '{"Extra": ' + nested_text(255) + "}")
    assert model_state(deepest) == {
        f"model.{name}": [f"The {name} field is required."]
        for name in ("UserId", "AppointmentOn", "Reason", "AccountId")
    }
    async with api.db.read() as session:
        appointments = await session.scalar(select(func.count()).select_from(Appointment))
    too_deep = {"model": ["The reader's MaxDepth of 256 has been exceeded."]}
    fields = ("UserId", "Reason", "PaidAmount", "MethodId")
    # One level too many, and then every depth around where the parser itself gives up (about
    # 1000 levels less the stack in use): the messages about such values quoted them (str,
    # json.dumps), which ran out of stack a few levels short of the parser: a 500.
    for levels in (256, 257, 300, 500, *range(800, 1000)):
        value = nested_text(levels)
        text = "{" + ", ".join(f'"{name}": {value}' for name in fields) + "}"
        assert model_state(await post(api, tele, text)) == too_deep, levels
    async with api.db.read() as session:
        assert await session.scalar(select(func.count()).select_from(Appointment)) == appointments


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


async def appointments(api: Api) -> list[tuple[str, Decimal | None]]:
    """Every appointment's GUID and paid amount (the clinic starts with the referred one)."""
    async with api.db.read() as session:
        rows = await session.execute(
            select(Appointment.guid, Appointment.paid_amount).order_by(Appointment.id)
        )
        return [(str(guid), paid) for guid, paid in rows.tuples()]


FORM = "application/x-www-form-urlencoded"

# Python codecs that are no character set: bytes-to-bytes transforms (bytes.decode refuses them
# with LookupError), and text codecs that decode no charset (undefined refuses everything,
# punycode and idna are domain-name encodings, the escapes are Python literals).
NOT_CHARSETS = (
    "base64",
    "hex",
    "rot13",
    "zlib",
    "bz2",
    "uu",
    "quopri",
    "undefined",
    "punycode",
    "idna",
    "unicode_escape",
    "raw_unicode_escape",
)


async def test_codecs_that_are_not_charsets_are_415(api: Api) -> None:
    tele = await telehealth_clinic(api)
    before = await appointments(api)
    payload = json.dumps(body(tele, start()))
    form = urlencode(body(tele, start()))
    for charset in NOT_CHARSETS:
        for media, text in (("application/json", payload), (FORM, form)):
            response = await post(
                api, tele, text, headers={"Content-Type": f"{media}; charset={charset}"}
            )
            assert response.status_code == 415, (charset, media, response.text)
            assert response.json() == {
                "Message": f"The character set '{charset}' of the request body is not supported."
            }, (charset, media)
    assert await appointments(api) == before


async def test_real_charsets(api: Api) -> None:
    tele = await telehealth_clinic(api)
    for hour, charset in ((9, "latin-1"), (10, "utf-16"), (11, "UTF-8")):
        text = json.dumps(body(tele, start(hour), Reason="Fièvre"), ensure_ascii=False)
        response = await post(
            api,
            tele,
            text.encode(charset),
            headers={"Content-Type": f"application/json; charset={charset}"},
        )
        assert response.status_code == 200, (charset, response.text)
        assert response.json()["Reason"] == "Fièvre"
    # A real charset, bytes that are not text in it: the body is invalid (400), as before.
    response = await post(
        api, tele, b"{\x00}", headers={"Content-Type": "application/json; charset=utf-16"}
    )
    assert response.json() == {
        "Message": "The request is invalid.",
        "ModelState": {"model": ["The request body is not valid utf-16 text."]},
    }


@pytest.mark.parametrize(
    "value",
    [
        "0001-01-01T03:00:00Z",
        "/Date(-62135586000000)/",  # the same instant
        "0001-01-01T03:00:00",  # the provider's local time, still year 1
        "0001-12-31T23:59:59+00:00",
        "9999-01-01T00:00:00Z",
        "9999-12-31T23:59:59",
    ],
)
async def test_secondary_time_out_of_range(api: Api, value: str) -> None:
    tele = await telehealth_clinic(api)
    before = await appointments(api)
    response = await post(api, tele, body(tele, start(), SecondaryAppointmentOn=value))
    assert model_state(response) == {
        "model.SecondaryAppointmentOn": ["SecondaryAppointmentOn is out of range."]
    }
    assert await appointments(api) == before


async def test_secondary_time_range_limits(api: Api) -> None:
    tele = await telehealth_clinic(api)
    for hour, value, utc in (
        (9, "0002-01-01T00:00:00Z", "0002-01-01T00:00:00Z"),
        (10, "9998-12-31T23:59:59Z", "9998-12-31T23:59:59Z"),
        # .NET's empty DateTime stays "none".
        (11, "0001-01-01T00:00:00", None),
        (12, "/Date(-62135596800000)/", None),
    ):
        response = await post(api, tele, body(tele, start(hour), SecondaryAppointmentOn=value))
        assert response.status_code == 200, (value, response.text)
        assert response.json()["SecondaryAppointmentOnUTC"] == utc, value


@pytest.mark.parametrize(
    ("amount", "stored"),
    [
        ("0e300000", "0.00"),
        ("0E-16384", "0.00"),
        ("5." + "0" * 16400, "5.00"),
        ('"0e300000"', "0.00"),
        ('"9999999999.990000000000000000000000000000"', "9999999999.99"),
        ("1.5E+1", "15.00"),
        ("-0.0", "0.00"),
        ("7", "7.00"),
    ],
)
async def test_paid_amount_is_stored_as_numeric_12_2(api: Api, amount: str, stored: str) -> None:
    tele = await telehealth_clinic(api)
    text = json.dumps(body(tele, start()))
    text = text[:-1] + f', "PaidAmount": {amount}}}'
    response = await post(api, tele, text)
    assert response.status_code == 200, response.text
    data = json.loads(response.text, parse_float=str)
    assert data["PaidAmount"] == str(float(stored))
    rows = await appointments(api)
    assert rows[-1][0] == data["ID"]
    assert str(rows[-1][1]) == stored


async def test_paid_amount_in_a_form(api: Api) -> None:
    tele = await telehealth_clinic(api)
    form = urlencode(body(tele, start(), PaidAmount="0e300000"))
    response = await post(api, tele, form, headers={"Content-Type": FORM})
    assert response.status_code == 200, response.text
    assert json.loads(response.text, parse_float=str)["PaidAmount"] == "0.0"
    assert str((await appointments(api))[-1][1]) == "0.00"
    # What is refused stays refused, whatever its spelling.
    for amount, message in (
        ("1e-300000", "The field PaidAmount must have at most 2 decimal places."),
        ("1e300000", "The field PaidAmount must be between 0 and 9999999999.99."),
        ("-1e-300000", "The field PaidAmount must be between 0 and 9999999999.99."),
    ):
        response = await post(api, tele, body(tele, start(11), PaidAmount=amount))
        assert model_state(response) == {"model.PaidAmount": [message]}, amount


async def test_guids_in_each_of_guid_parse_formats(api: Api) -> None:
    """32 digits, hyphenated or not, in braces or parentheses, spaces around: a long run of
    spaces too (such texts are parsed without the cache of recent GUID texts)."""
    tele = await telehealth_clinic(api)
    guid = tele.account
    accepted = [
        guid.upper(),
        guid.replace("-", ""),
        "{" + guid + "}",
        "(" + guid + ")",
        "  " + guid + " ",
        " " * 200 + guid,
    ]
    for hour, text in enumerate(accepted, start=8):
        response = await post(api, tele, body(tele, start(hour), AccountId=text))
        assert response.status_code == 200, (text[-40:], response.text)
        assert response.json()["AccountId"] == guid
    for text in ("{" + guid + ")", guid[:-1], " " * 200 + guid + "x"):
        response = await post(api, tele, body(tele, start(20), AccountId=text))
        assert model_state(response) == {
            "model.AccountId": [
                f"Error converting value \"{text[:100]}...\" to type 'System.Guid'."
            ]
            if len(text) > 100
            else [f"Error converting value \"{text}\" to type 'System.Guid'."]
        }, text[-40:]


async def test_numbers_take_ascii_digits_only(api: Api) -> None:
    """.NET reads 0-9 only: Python's Decimal and int() would also take other scripts' digits
    and "1_000", and nothing may be booked from them."""
    tele = await telehealth_clinic(api)
    before = await appointments(api)
    for field, value, message in (
        ("PaidAmount", "1_000", "Could not convert string to decimal: 1_000."),
        ("PaidAmount", "\u0665", "Could not convert string to decimal: \u0665."),
        ("PaidAmount", "1\u0660.5", "Could not convert string to decimal: 1\u0660.5."),
        ("MethodId", "\u0663", "Could not convert string to integer: \u0663."),
        ("MethodId", "1_0", "Could not convert string to integer: 1_0."),
    ):
        response = await post(api, tele, body(tele, start(), **{field: value}))
        assert model_state(response) == {f"model.{field}": [message]}, value
    form = urlencode(body(tele, start(), PaidAmount="\u0665", MethodId="\u0663"))
    response = await post(api, tele, form, headers={"Content-Type": FORM})
    assert response.status_code == 400, response.text
    assert set(model_state(response)) == {"model.PaidAmount", "model.MethodId"}
    assert await appointments(api) == before
