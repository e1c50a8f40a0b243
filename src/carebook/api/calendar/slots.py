"""``GET /api/Calendar/GetProviderAvailableSlots``: a provider's free slots for a visit option."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from carebook.api.calendar.routes import MESSAGE, UNAVAILABLE, AspNetRoute
from carebook.api.kit.auth import PrincipalDep
from carebook.api.kit.state import DatabaseDep
from carebook.core.availability.calendar import CalendarSlot, provider_slots
from carebook.core.availability.service import MAX_SLOTS
from carebook.core.time import zone

# Paths match as ASP.NET matches them: case-insensitively, a trailing slash allowed.
router = APIRouter(route_class=AspNetRoute, tags=["Calendar"])
DATE_DOC = "A date (YYYY-MM-DD) in the provider's zone, in the years 1900 to 8999."


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
    f"A search returns at most {MAX_SLOTS} slots: a larger one is a 400 on ToDate.",
)
async def get_provider_available_slots(
    principal: PrincipalDep,
    db: DatabaseDep,
    account_id: Annotated[uuid.UUID, Query(alias="AccountId")],
    provider_id: Annotated[uuid.UUID, Query(alias="ProviderId")],
    mode_id: Annotated[uuid.UUID, Query(alias="EncounterTypeModeDurationId")],
    from_date: Annotated[date, Query(alias="FromDate", description=DATE_DOC)],
    to_date: Annotated[date, Query(alias="ToDate", description=DATE_DOC)],
    patient_id: Annotated[uuid.UUID | None, Query(alias="PatientId")] = None,
) -> JSONResponse:
    async with db.read() as session:
        found = await provider_slots(
            session,
            principal=principal,
            account_id=account_id,
            provider_id=provider_id,
            mode_id=mode_id,
            from_date=from_date,
            to_date=to_date,
            patient_id=patient_id,
        )
    return JSONResponse([_json(slot) for slot in found])
