"""``AppointmentModel``: the body of ``PatientAppointmentPost``, read as ASP.NET Web API reads it.

The body is read here, not by FastAPI, because ASP.NET's rules differ from pydantic's: property
names match without regard to case, unknown properties are ignored, JSON (``application/json``,
``text/json``) and forms (``application/x-www-form-urlencoded``, with ``Reasons[0].ReasonId`` or
``Reasons[0][ReasonId]`` keys) bind to the same model, and every failing field is reported at
once, keyed ``model.<Field>``, in the wording of Json.NET (JSON) or MVC model binding (forms).

Deliberate limits beyond the reference (each would otherwise be a database error):
``IsCustomFormFlow`` at most 50 characters, ``DocIds`` at most 4000, at most 50 ``Reasons``,
``PaidAmount`` between 0 and 9999999999.99 with at most 2 decimals, no NUL characters in text.
A ``SecondaryAppointmentOn`` of ``0001-01-01T00:00:00`` (.NET's empty ``DateTime``) means none.
As ASP.NET's ``[Required]`` does, a blank ``Reason`` ("" or spaces) is "required"; the 0 of its
"0-250" is the length rule's lower bound. Dates: ISO 8601 (any fraction, ``Z``/offset/none),
``/Date(ms)/`` and ``MM/dd/yyyy HH:mm[:ss]`` / ``h:mm[:ss] tt``.
"""

from __future__ import annotations

import codecs
import functools
import json
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Request
from starlette.exceptions import HTTPException

from carebook.api.kit.nesting import nests_deeper_than
from carebook.core.errors import FieldError, InvalidInput
from carebook.core.telehealth import MAX_AMOUNT, CalendarBooking, in_cents
from carebook.core.time import parse_datetime
from carebook.db.types import GUID_CACHE_SIZE, guid_of

JSON_TYPES = ("application/json", "text/json")
FORM_TYPE = "application/x-www-form-urlencoded"
REASON_MAX_LENGTH = 250
NOTE_MAX_LENGTH = 1000
CUSTOM_FORM_FLOW_MAX_LENGTH = 50
DOC_IDS_MAX_LENGTH = 4000
MAX_REASONS = 50
SHOWN_MAX_LENGTH = 100
MAX_PAID_AMOUNT = MAX_AMOUNT
INT32 = (-(2**31), 2**31 - 1)
# ASP.NET Web API's JSON formatter reads at most 256 levels (its MaxDepth), the body object the
# first. Checked, without recursion, before any value is read: reading and quoting values
# (``str``, ``json.dumps``) recurses, and ran out of stack just short of the parser's limit.
JSON_MAX_DEPTH = 256
MAX_DEPTH_MESSAGE = f"The reader's MaxDepth of {JSON_MAX_DEPTH} has been exceeded."

# The properties of AppointmentModel, in the reference's order: name and kind.
FIELDS: tuple[tuple[str, str], ...] = (
    ("EncounterTypeId", "guid"),
    ("EncounterTypeModeDurationId", "guid"),
    ("ProviderId", "guid"),
    ("UserId", "guid"),
    ("PatientId", "guid"),
    ("SpecialityId", "guid"),
    ("AppointmentOn", "date"),
    ("SecondaryAppointmentOn", "date"),
    ("Reason", "string"),
    ("Note", "string"),
    ("ParentId", "guid"),
    ("ReferredParentId", "guid"),
    ("PaidAmount", "decimal"),
    ("AccountId", "guid"),
    ("ServiceId", "guid"),
    ("MethodId", "integer"),
    ("IsCustomFormFlow", "string"),
    ("DocIds", "string"),
    ("Reasons", "reasons"),
)
REQUIRED = ("UserId", "AppointmentOn", "Reason", "AccountId")
MAX_LENGTHS = {
    "Reason": REASON_MAX_LENGTH,
    "Note": NOTE_MAX_LENGTH,
    "IsCustomFormFlow": CUSTOM_FORM_FLOW_MAX_LENGTH,
    "DocIds": DOC_IDS_MAX_LENGTH,
}
NET_TYPES = {
    "guid": "System.Guid",
    "date": "System.DateTime",
    "decimal": "System.Decimal",
    "integer": "System.Int32",
    "string": "System.String",
}
_US_FORMATS = ("%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M", "%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %I:%M %p")
# Guid.Parse's digits: 32 hex digits, hyphenated or not.
_GUID_TEXT = re.compile(
    r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"
)
# ASCII digits only, as .NET's parsers take them (Python's \d and int() take any script's).
_INTEGER_TEXT = re.compile(r"[+-]?[0-9]{1,20}")
_MS_DATE = re.compile(r"/Date\((-?[0-9]+)([+-][0-9]{4})?\)/")
_FORM_REASON = re.compile(r"reasons\[([0-9]{1,3})\](?:\.reasonid|\[reasonid\])", re.IGNORECASE)
_NET_EMPTY_DATE = datetime(1, 1, 1)
# Text codecs (by codecs.lookup's name) that are no character set: ``undefined`` refuses every
# byte, ``punycode`` and ``idna`` encode domain names, the escapes are Python literals.
_NOT_CHARSETS = frozenset({"undefined", "punycode", "idna", "unicode-escape", "raw-unicode-escape"})


class _Bad(ValueError):
    """A value that does not convert; the message is the one ASP.NET would give."""


@dataclass
class _Body:
    """The raw values of a body, by lower-cased property name, and its dialect."""

    dialect: str  # "json" or "form"
    values: dict[str, Any]
    reasons: list[Any] | None = None
    reasons_given: bool = False
    errors: dict[str, list[str]] = field(default_factory=dict)

    def fail(self, key: str, message: str) -> None:
        self.errors.setdefault(key, []).append(message)


def _model_error(message: str) -> InvalidInput:
    return InvalidInput([FieldError("model", message)])


def _shown(text: str) -> str:
    """Client text quoted back in a message: at most 100 characters, lone surrogates escaped."""
    if len(text) > SHOWN_MAX_LENGTH:
        text = text[:SHOWN_MAX_LENGTH] + "..."
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _json_text(value: Any) -> str:
    """A JSON value as Json.NET quotes it in its conversion errors."""
    if value is None:
        return "{null}"
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, str):
        return f'"{_shown(value)}"'
    if isinstance(value, Decimal | int):
        return _shown(str(value))
    return _shown(json.dumps(value, separators=(",", ":"), default=str))


def _bad_value(body: _Body, name: str, kind: str, value: Any) -> _Bad:
    shown = _shown(str(value))
    if body.dialect == "form":
        return _Bad(f"The value '{shown}' is not valid for {name}.")
    if kind == "date" and isinstance(value, str):
        return _Bad(f"Could not convert string to DateTime: {shown}.")
    if kind == "decimal" and isinstance(value, str):
        return _Bad(f"Could not convert string to decimal: {shown}.")
    if kind == "integer" and isinstance(value, str):
        return _Bad(f"Could not convert string to integer: {shown}.")
    return _Bad(f"Error converting value {_json_text(value)} to type '{NET_TYPES[kind]}'.")


def _parse_guid(value: str) -> uuid.UUID | None:
    """The GUID ``value`` spells in one of Guid.Parse's formats (32 digits, hyphenated or not,
    in braces or in parentheses, spaces around), else None."""
    text = value.strip()
    if text[:1] + text[-1:] in ("{}", "()"):
        text = text[1:-1]
    return guid_of(text) if _GUID_TEXT.fullmatch(text) else None


# :func:`_parse_guid`, remembered for the texts seen most recently (a client names the same few
# GUIDs in request after request); only for texts no longer than a GUID with some spaces, so
# the cache's size is bounded in bytes as well as in entries.
_parsed_guid = functools.lru_cache(maxsize=GUID_CACHE_SIZE)(_parse_guid)
_CACHED_GUID_LENGTH = 64


def _guid(body: _Body, name: str, value: Any) -> uuid.UUID:
    if isinstance(value, str):
        parsed = _parsed_guid(value) if len(value) <= _CACHED_GUID_LENGTH else _parse_guid(value)
        if parsed is not None:
            return parsed
    raise _bad_value(body, name, "guid", value)


def _date(body: _Body, name: str, value: Any) -> datetime:
    if not isinstance(value, str):
        if body.dialect == "json":
            kind = "Boolean" if isinstance(value, bool) else type(value).__name__
            names = {
                "int": "Integer",
                "Decimal": "Float",
                "list": "StartArray",
                "dict": "StartObject",
            }
            raise _Bad(
                f"Unexpected token parsing date. Expected String, got {names.get(kind, kind)}."
            )
        raise _bad_value(body, name, "date", value)
    text = value.strip()
    ms = _MS_DATE.fullmatch(text)
    if ms:
        try:
            instant = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=int(ms.group(1)))
            if ms.group(2):
                sign = -1 if ms.group(2)[0] == "-" else 1
                minutes = int(ms.group(2)[1:3]) * 60 + int(ms.group(2)[3:])
                instant = instant.astimezone(timezone(timedelta(minutes=sign * minutes)))
        except (OverflowError, ValueError):
            raise _bad_value(body, name, "date", value) from None
        return instant
    try:
        return parse_datetime(text)
    except ValueError:
        pass
    for fmt in _US_FORMATS:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    raise _bad_value(body, name, "date", value)


def _decimal(body: _Body, name: str, value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise _bad_value(body, name, "decimal", value)
    text = str(value).strip()
    # Python's Decimal also reads other scripts' digits and "1_000"; .NET's parsers do not.
    if not text.isascii() or "_" in text:
        raise _bad_value(body, name, "decimal", value)
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise _bad_value(body, name, "decimal", value) from None
    if not amount.is_finite():
        raise _bad_value(body, name, "decimal", value)
    if not Decimal(0) <= amount <= MAX_PAID_AMOUNT:
        raise _Bad(f"The field {name} must be between 0 and {MAX_PAID_AMOUNT}.")
    # The same number as Numeric(12, 2) holds it (the catalogue's prices are read so too).
    cents = in_cents(amount)
    if cents is None:
        raise _Bad(f"The field {name} must have at most 2 decimal places.")
    return cents


def _integer(body: _Body, name: str, value: Any) -> int:
    if isinstance(value, bool):
        raise _bad_value(body, name, "integer", value)
    if isinstance(value, Decimal):
        if body.dialect == "json":
            raise _Bad(f"Input string '{_shown(str(value))}' is not a valid integer.")
        raise _bad_value(body, name, "integer", value)
    if isinstance(value, str):
        text = value.strip()
        if not _INTEGER_TEXT.fullmatch(text):
            raise _bad_value(body, name, "integer", value)
        value = int(text)
    if not isinstance(value, int):
        raise _bad_value(body, name, "integer", value)
    if not INT32[0] <= value <= INT32[1]:
        if body.dialect == "json":
            raise _Bad(f"JSON integer {value} is too large or small for an Int32.")
        raise _bad_value(body, name, "integer", value)
    return value


def _string(_body: _Body, name: str, value: Any) -> str:
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str | int | Decimal):
        text = str(value)
    else:
        raise _Bad(
            f"Unexpected character encountered while parsing value: {_json_text(value)[:1]}."
        )
    if "\x00" in text:
        raise _Bad(f"The field {name} must not contain NUL characters.")
    try:
        units = len(text.encode("utf-16-le")) // 2  # .NET counts UTF-16 code units
    except UnicodeEncodeError:
        raise _Bad(f"The field {name} must not contain unpaired surrogates.") from None
    limit = MAX_LENGTHS.get(name)
    if limit is not None and units > limit:
        raise _Bad(f"The field {name} must be a string with a maximum length of {limit}.")
    return text


_CONVERTERS: dict[str, Callable[[_Body, str, Any], Any]] = {
    "guid": _guid,
    "date": _date,
    "decimal": _decimal,
    "integer": _integer,
    "string": _string,
}


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


# Shared with the query strings of the Calendar API's GET actions, which MVC model binding reads
# as it reads a form: names without regard to case, the first of repeated values, a blank value
# as none.


def is_blank(value: str | None) -> bool:
    """Whether model binding takes ``value`` (a form's or a query's) as absent: "" or spaces."""
    return _is_blank(value)


def bind_value(name: str, kind: str, value: str) -> Any:
    """A form's or a query's ``value`` for the field ``name`` of ``kind`` (a kind of
    :data:`FIELDS`: "guid" is ``Guid.Parse``'s formats), converted as model binding converts
    it; ValueError with its message ("The value 'x' is not valid for ProviderId.")."""
    return _CONVERTERS[kind](_Body("form", {}), name, value)


def not_valid(name: str, value: str) -> ValueError:
    """Model binding's error for a form's or a query's value that does not convert."""
    return _bad_value(_Body("form", {}), name, "string", value)


def query_values(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """A query string's values by lower-cased name, the first of repeated ones."""
    values: dict[str, str] = {}
    for key, value in pairs:
        values.setdefault(key.strip().lower(), value)
    return values


# Per field, what _convert needs of it, worked out once: (name, its lower-cased name, its
# ModelState key, its kind, whether it is required).
_BINDINGS = tuple(
    (name, name.lower(), f"model.{name}", kind, name in REQUIRED) for name, kind in FIELDS
)


def _convert(body: _Body) -> dict[str, Any]:
    """Every field converted (None where absent), every failure recorded in ``body.errors``."""
    out: dict[str, Any] = {}
    values = body.values
    json_body = body.dialect == "json"
    for name, lowered, key, kind, required in _BINDINGS:
        if kind == "reasons":
            out[name] = _reasons(body)
            continue
        value = values.get(lowered)
        if value is None:
            missing = True
        elif kind == "string" and json_body and not required:
            missing = False  # Json.NET keeps "" as it is
        else:
            missing = _is_blank(value)  # MVC binds "" to null; [Required] refuses blanks
        if missing:
            if required:
                body.fail(key, f"The {name} field is required.")
            out[name] = None
            continue
        try:
            out[name] = _CONVERTERS[kind](body, name, value)
        except _Bad as error:
            body.fail(key, str(error))
            out[name] = None
    secondary = out.get("SecondaryAppointmentOn")
    if isinstance(secondary, datetime) and secondary.replace(tzinfo=None) == _NET_EMPTY_DATE:
        out["SecondaryAppointmentOn"] = None
    return out


def _reasons(body: _Body) -> tuple[uuid.UUID, ...]:
    if not body.reasons_given or body.reasons is None:
        return ()
    raw = body.reasons
    if len(raw) > MAX_REASONS:
        body.fail("model.Reasons", f"The field Reasons must have at most {MAX_REASONS} items.")
        return ()
    found: list[uuid.UUID] = []
    for index, item in enumerate(raw):
        key = f"model.Reasons[{index}].ReasonId"
        if not isinstance(item, dict):
            body.fail(
                f"model.Reasons[{index}]",
                f"Error converting value {_json_text(item)} to type 'Reasons'.",
            )
            continue
        value = {k.lower(): v for k, v in item.items()}.get("reasonid")
        if _is_blank(value):
            body.fail(key, "The ReasonId field is required.")
            continue
        try:
            found.append(_guid(body, "ReasonId", value))
        except _Bad as error:
            body.fail(key, str(error))
    return tuple(found)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"Unexpected character encountered while parsing value: {name[0]}.")


# Made once: ``json.loads`` with options makes a decoder per call.
_DECODER = json.JSONDecoder(parse_float=Decimal, parse_constant=_refuse_constant)


def _json_body(text: str) -> _Body:
    try:
        if text.startswith("\ufeff"):  # as json.loads refuses it
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
        data = _DECODER.decode(text)
    except json.JSONDecodeError as error:
        raise _model_error(
            f"Invalid JSON: {error.msg}. Path '', line {error.lineno}, position {error.colno}."
        ) from None
    except RecursionError:  # deeper than the parser's stack reaches, so past the MaxDepth too
        raise _model_error(MAX_DEPTH_MESSAGE) from None
    except ValueError as error:
        raise _model_error(f"Invalid JSON: {error}") from None
    # Counting brackets is cheap: a body with no more of them than the limit nests no deeper.
    brackets = text.count("{") + text.count("[")
    if brackets > JSON_MAX_DEPTH and nests_deeper_than(data, JSON_MAX_DEPTH):
        raise _model_error(MAX_DEPTH_MESSAGE)
    if data is None:
        raise _model_error("A non-empty request body is required.")
    if not isinstance(data, dict):
        kind = "array" if isinstance(data, list) else "value"
        raise _model_error(
            f"Cannot deserialize the current JSON {kind} into type 'AppointmentModel': "
            "a JSON object is required."
        )
    values = {str(k).lower(): v for k, v in data.items()}
    body = _Body("json", values)
    if "reasons" in values:
        body.reasons_given = True
        reasons = values.pop("reasons")
        if reasons is not None and not isinstance(reasons, list):
            body.fail(
                "model.Reasons",
                f"Cannot deserialize the current JSON value {_json_text(reasons)[:40]} into type "
                "'Collection of Reasons': a JSON array is required.",
            )
        else:
            body.reasons = reasons
    return body


def _form_body(text: str) -> _Body:
    try:
        pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=1000, errors="strict")
    except (ValueError, UnicodeDecodeError) as error:
        raise _model_error(f"The form body cannot be read: {error}.") from None
    values: dict[str, Any] = {}
    reasons: dict[int, str] = {}
    for raw_key, value in pairs:
        key = raw_key.strip()
        if key.lower().startswith("model."):
            key = key[len("model.") :]
        match = _FORM_REASON.fullmatch(key)
        if match:
            reasons.setdefault(int(match.group(1)), value)
        else:
            values.setdefault(key.lower(), value)
    body = _Body("form", values)
    if reasons:
        body.reasons_given = True
        body.reasons = [{"ReasonId": reasons[i]} for i in sorted(reasons)]
    return body


def _charset(charset: str | None) -> str:
    """The codec of a ``charset`` parameter; 415 unless it is a character set.

    Python's codec registry holds more than character sets: bytes-to-bytes transforms (base64,
    hex, zlib, ...), which ``bytes.decode`` refuses, and text codecs that decode no charset
    (:data:`_NOT_CHARSETS`). ASP.NET knows none of them, so each is an unsupported charset."""
    try:
        info = codecs.lookup(charset or "utf-8")
    except LookupError:
        info = None
    if info is None or not info._is_text_encoding or info.name in _NOT_CHARSETS:
        raise HTTPException(
            415, f"The character set '{charset}' of the request body is not supported."
        )
    return info.name


def _decode(raw: bytes, charset: str | None) -> str:
    name = "utf-8" if charset is None else _charset(charset)
    try:
        if name == "utf-8":
            # As the utf-8-sig codec reads it (a byte order mark dropped), without its Python
            # code in the way.
            return raw[3:].decode() if raw.startswith(codecs.BOM_UTF8) else raw.decode()
        return raw.decode(name)
    except UnicodeError:  # the bytes are not text in a supported charset
        raise _model_error(f"The request body is not valid {name} text.") from None


def _media_type(header: str | None) -> tuple[str, str | None]:
    if not header:
        return "", None
    media, *params = header.split(";")
    charset = None
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"') or None
    return media.strip().lower(), charset


async def read_model(request: Request) -> CalendarBooking:
    """The request's ``AppointmentModel``; 415 for other bodies, 400 listing every bad field."""
    return parse_model(request.headers.get("content-type"), await request.body())


def parse_model(content_type: str | None, raw: bytes) -> CalendarBooking:
    """:func:`read_model` of a body already read."""
    media, charset = _media_type(content_type)
    if media not in (*JSON_TYPES, FORM_TYPE):
        if not raw.strip() and not media:
            raise _model_error("A non-empty request body is required.")
        shown = media or "application/octet-stream"
        raise HTTPException(
            415,
            f"The request entity's media type '{shown}' is not supported for this resource. "
            f"Send {', '.join(JSON_TYPES)} or {FORM_TYPE}.",
        )
    text = _decode(raw, charset)
    if not text.strip():
        raise _model_error("A non-empty request body is required.")
    body = _json_body(text) if media in JSON_TYPES else _form_body(text)
    values = _convert(body)
    if body.errors:
        order = [f"model.{name}" for name, _ in FIELDS]

        def rank(key: str) -> tuple[int, str]:
            base = key.split("[")[0]
            return (order.index(base) if base in order else len(order), key)

        raise InvalidInput(
            [
                FieldError(key, message)
                for key in sorted(body.errors, key=rank)
                for message in body.errors[key]
            ]
        )
    doc_ids = values["DocIds"]
    return CalendarBooking(
        account_id=values["AccountId"],
        user_id=values["UserId"],
        appointment_on=values["AppointmentOn"],
        reason=values["Reason"],
        encounter_type_id=values["EncounterTypeId"],
        encounter_type_mode_duration_id=values["EncounterTypeModeDurationId"],
        provider_id=values["ProviderId"],
        patient_id=values["PatientId"],
        speciality_id=values["SpecialityId"],
        secondary_appointment_on=values["SecondaryAppointmentOn"],
        note=values["Note"],
        parent_id=values["ParentId"],
        referred_parent_id=values["ReferredParentId"],
        paid_amount=values["PaidAmount"],
        service_id=values["ServiceId"],
        method_id=values["MethodId"],
        is_custom_form_flow=values["IsCustomFormFlow"],
        doc_ids=(
            tuple(part.strip() for part in doc_ids.split(",") if part.strip())
            if doc_ids is not None
            else None
        ),
        reason_ids=values["Reasons"],
    )
