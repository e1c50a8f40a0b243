"""``GET /api/Calendar/GetProviderAvailableSlots``: a provider's free slots for a visit option.

The query is read as ASP.NET Web API binds an action's parameters from the query string, not as
FastAPI does: names match without regard to case, the first of repeated values counts, a blank
value ("", spaces) is absent (a required one "required", a blank ``PatientId`` none), and every
failing parameter is reported at once in ``ModelState``, in MVC model binding's words
(``api/calendar/model.py`` reads a form so). The OpenAPI document describes the parameters
(:data:`PARAMETERS`).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, TypeAdapter, ValidationError

from carebook.api.calendar.model import bind_value, is_blank, not_valid, query_values
from carebook.api.calendar.routes import MESSAGE, UNAVAILABLE, AspNetRoute
from carebook.api.kit.auth import PrincipalDep
from carebook.api.kit.state import DatabaseDep
from carebook.core.availability.calendar import CalendarSlot, provider_slots
from carebook.core.availability.service import MAX_SLOTS
from carebook.core.errors import FieldError, InvalidInput
from carebook.core.time import zone

# Paths match as ASP.NET matches them: case-insensitively, a trailing slash allowed.
router = APIRouter(route_class=AspNetRoute, tags=["Calendar"])
DATE_DOC = "A date (YYYY-MM-DD) in the provider's zone, in the years 1900 to 8999."

# The action's parameters, in its order: name, kind, required.
_QUERY: tuple[tuple[str, str, bool], ...] = (
    ("AccountId", "guid", True),
    ("ProviderId", "guid", True),
    ("EncounterTypeModeDurationId", "guid", True),
    ("FromDate", "date", True),
    ("ToDate", "date", True),
    ("PatientId", "guid", False),
)
_DOCS = {
    "AccountId": "The account (institution).",
    "ProviderId": "The provider.",
    "EncounterTypeModeDurationId": "The visit option: its type, mode and length.",
    "FromDate": DATE_DOC,
    "ToDate": DATE_DOC,
    "PatientId": "The patient, whose appointments are busy too and whose zone the slots are "
    "also given in (blank: none).",
}
_SCHEMAS: dict[str, dict[str, str]] = {
    "guid": {"type": "string", "format": "uuid"},
    "date": {"type": "string", "format": "date"},
}
# The parameters as the OpenAPI document describes them (the route reads them itself).
PARAMETERS: list[dict[str, Any]] = [
    {
        "name": name,
        "in": "query",
        "required": required,
        "description": f"{_DOCS[name]} The name matches without regard to case.",
        "schema": _SCHEMAS[kind],
    }
    for name, kind, required in _QUERY
]
# A date as the search has always read one (YYYY-MM-DD; a date-time at midnight).
_DATE = TypeAdapter(date)


@dataclass(frozen=True)
class SlotSearch:
    """The query of a slot search, bound."""

    account_id: uuid.UUID
    provider_id: uuid.UUID
    mode_id: uuid.UUID
    from_date: date
    to_date: date
    patient_id: uuid.UUID | None


def _date(name: str, text: str) -> date:
    try:
        return _DATE.validate_python(text.strip())
    except ValidationError:
        raise not_valid(name, text) from None


def read_query(pairs: Iterable[tuple[str, str]]) -> SlotSearch:
    """The query string's parameters (name and value pairs, in order), bound as ASP.NET binds
    them; a 400 listing every failing one."""
    values = query_values(pairs)
    bound: dict[str, Any] = {}
    errors: list[FieldError] = []
    for name, kind, required in _QUERY:
        text = values.get(name.lower())
        bound[name] = None
        if text is None or is_blank(text):
            if required:
                errors.append(FieldError(name, f"The {name} field is required."))
            continue
        try:
            bound[name] = _date(name, text) if kind == "date" else bind_value(name, kind, text)
        except ValueError as error:
            errors.append(FieldError(name, str(error)))
    if errors:
        raise InvalidInput(errors)
    return SlotSearch(
        account_id=bound["AccountId"],
        provider_id=bound["ProviderId"],
        mode_id=bound["EncounterTypeModeDurationId"],
        from_date=bound["FromDate"],
        to_date=bound["ToDate"],
        patient_id=bound["PatientId"],
    )


class AvailableSlot(BaseModel):
    FromDate: str
    ToDate: str
    PatientFromDate: str
    PatientToDate: str
    Duration: int
    ProviderId: uuid.UUID
    FacilityId: uuid.UUID
    ResourceID: uuid.UUID | None


def _at(value: datetime, tz_name: str) -> str:
    """ASP.NET's DateTimeOffset: ``2026-03-02T09:00:00-05:00``."""
    return value.astimezone(zone(tz_name)).isoformat(timespec="seconds")


def _json(slot: CalendarSlot) -> dict[str, Any]:
    return {
        "FromDate": _at(slot.start, slot.provider_tz),
        "ToDate": _at(slot.end, slot.provider_tz),
        "PatientFromDate": _at(slot.start, slot.patient_tz),
        "PatientToDate": _at(slot.end, slot.patient_tz),
        "Duration": slot.minutes,
        "ProviderId": str(slot.provider_guid),
        "FacilityId": str(slot.location_guid),
        "ResourceID": str(slot.operatory_guid) if slot.operatory_guid else None,
    }


@router.get(
    "/api/Calendar/GetProviderAvailableSlots",
    response_model=list[AvailableSlot],
    responses={
        400: {"description": "Invalid query: ModelState lists every failing field.", **MESSAGE},
        401: {"description": "Missing or invalid bearer token.", **MESSAGE},
        403: {"description": "The token does not reach the account.", **MESSAGE},
        404: {"description": "An id not found in the account.", **MESSAGE},
        503: UNAVAILABLE,
    },
    summary="A provider's free slots for a visit option, FromDate to ToDate (provider's dates)",
    description="Slots at the one facility a booking of this provider and visit option takes: "
    "the type's location for a location-scoped type, else the provider's first active one. "
    f"A search returns at most {MAX_SLOTS} slots: a larger one is a 400 on ToDate. "
    "Parameter names match without regard to case, and a blank value is none.",
    openapi_extra={"parameters": PARAMETERS},
)
async def get_provider_available_slots(
    request: Request, principal: PrincipalDep, db: DatabaseDep
) -> JSONResponse:
    query = read_query(request.query_params.multi_items())
    async with db.read() as session:
        found = await provider_slots(
            session,
            principal=principal,
            account_id=query.account_id,
            provider_id=query.provider_id,
            mode_id=query.mode_id,
            from_date=query.from_date,
            to_date=query.to_date,
            patient_id=query.patient_id,
        )
    return JSONResponse([_json(slot) for slot in found])
