"""``GET /available_slots`` (v3) and ``GET /appointment_slots`` (v2): translation only."""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import Field

from carebook.api.kit.state import DatabaseDep
from carebook.api.nexhealth.deps import IgnoredDep, TenantDep
from carebook.api.nexhealth.envelope import Envelope, describe, error_responses
from carebook.api.nexhealth.schemas.availability import (
    LocalTimes,
    SlotGroupOut,
    SlotGroupV2Out,
    slots_json,
)
from carebook.api.nexhealth.schemas.common import MAX_ID, Id, InRange
from carebook.core.availability.service import (
    MAX_DAYS,
    MAX_IDS,
    MAX_SLOTS,
    SlotGroup,
    SlotQuery,
    search_slots,
)
from carebook.core.time import zone

router = APIRouter(tags=["Slots"])

Minutes = Annotated[int | None, Query(ge=1, le=1440)]
# Each a 64-bit id, as the database stores them; at most MAX_IDS in a list (the core holds the
# merged lists, `lids[]` and `lids` together, to the same bound).
Ids = Annotated[list[Id], Field(max_length=MAX_IDS)] | None
LIMITS_DOC = (
    f"At most {MAX_IDS} ids in each of lids[], pids[] and operatory_ids[]. A search returns at "
    f"most {MAX_SLOTS} slots: a larger one is a 400 naming `days` that says how to narrow it "
    "(fewer days, providers or operatories, or a longer slot_interval)."
)


def _ids(*lists: list[int] | None) -> list[int] | None:
    merged = [i for ids in lists if ids for i in ids]
    return list(dict.fromkeys(merged)) or None


def _render(groups: list[SlotGroup], *, with_end: bool, ignored: tuple[str, ...]) -> Response:
    """The envelope as compact JSON (what ``JSONResponse`` would send), the slot lists written
    by :func:`slots_json`; ``response_model`` still documents the shape. The description names
    the ``ignored`` query parameters."""
    times: dict[str, LocalTimes] = {}
    data: list[str] = []
    for group in groups:
        name = group.location.tz
        local = times.get(name)
        if local is None:
            local = times[name] = LocalTimes(zone(name))
        head: dict[str, Any] = {"lid": group.location.id, "pid": group.provider_id}
        if group.operatory_id is not None:
            head["operatory_id"] = group.operatory_id
        next_date = group.next_available_date
        slots = slots_json(
            group.slots, provider_id=group.provider_id, local=local, with_end=with_end
        )
        data.append(
            _dumps(head)[:-1]
            + f',"slots":{slots},"next_available_date":'
            + _dumps(next_date.isoformat() if next_date else None)
            + "}"
        )
    body = (
        f'{{"code":true,"description":{_dumps(describe(None, ignored))},"error":null,"data":['
        + ",".join(data)
        + f'],"count":{len(data)}}}'
    )
    return Response(content=body.encode(), media_type="application/json")


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


async def _search(
    db: DatabaseDep,
    tenant: TenantDep,
    *,
    start_date: date,
    days: int,
    lids: list[int] | None,
    pids: list[int] | None,
    operatory_ids: list[int] | None,
    appointment_type_id: int | None,
    slot_length: int | None,
    slot_interval: int | None,
    overlapping_operatory_slots: bool,
) -> list[SlotGroup]:
    query = SlotQuery(
        start_date=start_date,
        days=days,
        location_ids=lids or [],
        provider_ids=pids,
        operatory_ids=operatory_ids,
        appointment_type_id=appointment_type_id,
        slot_length=slot_length,
        slot_interval=slot_interval,
        overlapping_operatory_slots=overlapping_operatory_slots,
    )
    async with db.read() as session:
        return await search_slots(session, institution_id=tenant.id, query=query)


StartDate = Annotated[
    date,
    Query(description="First local date (YYYY-MM-DD), in the years 1900 to 8999."),
    InRange,
]
Days = Annotated[int, Query(ge=1, le=MAX_DAYS, description="Dates searched, start_date included.")]
TypeId = Annotated[
    int | None,
    Query(ge=1, le=MAX_ID, description="Sets the slot length and keeps hours open to the type."),
]
SLOT_LENGTH_DOC = "Minutes (default 15; the appointment type's length wins)."


@router.get(
    "/available_slots",
    response_model=Envelope[list[SlotGroupOut]],
    responses=error_responses(400, 401, 403, 404),
    summary="Free slots per location and provider, in the location's local time",
    description=LIMITS_DOC,
)
async def available_slots(
    db: DatabaseDep,
    tenant: TenantDep,
    start_date: StartDate,
    days: Days,
    ignored: IgnoredDep,
    lids_brackets: Annotated[Ids, Query(alias="lids[]")] = None,
    lids: Annotated[Ids, Query(alias="lids")] = None,
    pids_brackets: Annotated[Ids, Query(alias="pids[]")] = None,
    pids: Annotated[Ids, Query(alias="pids")] = None,
    operatory_ids_brackets: Annotated[Ids, Query(alias="operatory_ids[]")] = None,
    operatory_ids: Annotated[Ids, Query(alias="operatory_ids")] = None,
    appointment_type_id: TypeId = None,
    slot_length: Annotated[Minutes, Query(description=SLOT_LENGTH_DOC)] = None,
    slot_interval: Annotated[Minutes, Query(description="Minutes between starts.")] = None,
    overlapping_operatory_slots: bool = False,
) -> Response:
    groups = await _search(
        db,
        tenant,
        start_date=start_date,
        days=days,
        lids=_ids(lids_brackets, lids),
        pids=_ids(pids_brackets, pids),
        operatory_ids=_ids(operatory_ids_brackets, operatory_ids),
        appointment_type_id=appointment_type_id,
        slot_length=slot_length,
        slot_interval=slot_interval,
        overlapping_operatory_slots=overlapping_operatory_slots,
    )
    return _render(groups, with_end=True, ignored=ignored)


@router.get(
    "/appointment_slots",
    response_model=Envelope[list[SlotGroupV2Out]],
    responses=error_responses(400, 401, 403, 404),
    summary="Free slots (v2 shape: no end_time)",
    description=LIMITS_DOC,
)
async def appointment_slots(
    db: DatabaseDep,
    tenant: TenantDep,
    start_date: StartDate,
    days: Days,
    ignored: IgnoredDep,
    lids_brackets: Annotated[Ids, Query(alias="lids[]")] = None,
    lids: Annotated[Ids, Query(alias="lids")] = None,
    pids_brackets: Annotated[Ids, Query(alias="pids[]")] = None,
    pids: Annotated[Ids, Query(alias="pids")] = None,
    operatory_ids_brackets: Annotated[Ids, Query(alias="operatory_ids[]")] = None,
    operatory_ids: Annotated[Ids, Query(alias="operatory_ids")] = None,
    appointment_type_id: TypeId = None,
    category_id: TypeId = None,
    slot_length: Annotated[Minutes, Query(description=SLOT_LENGTH_DOC)] = None,
    slot_interval: Annotated[Minutes, Query(description="Minutes between starts.")] = None,
    overlapping_operatory_slots: bool = False,
) -> Response:
    groups = await _search(
        db,
        tenant,
        start_date=start_date,
        days=days,
        lids=_ids(lids_brackets, lids),
        pids=_ids(pids_brackets, pids),
        operatory_ids=_ids(operatory_ids_brackets, operatory_ids),
        appointment_type_id=appointment_type_id or category_id,
        slot_length=slot_length,
        slot_interval=slot_interval,
        overlapping_operatory_slots=overlapping_operatory_slots,
    )
    return _render(groups, with_end=False, ignored=ignored)
