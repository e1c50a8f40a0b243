"""Operatories of a location: create, list, get and change."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from carebook.api.kit.state import DatabaseDep
from carebook.api.nexhealth.deps import IgnoredDep, TenantDep
from carebook.api.nexhealth.envelope import Envelope, PagedEnvelope, error_responses, ok
from carebook.api.nexhealth.schemas.common import MAX_ID, PageDep, QueryText, paged
from carebook.api.nexhealth.schemas.operatories import (
    OperatoryCreate,
    OperatoryOut,
    OperatoryUpdate,
    operatory_out,
)
from carebook.core.clinic import operatories

router = APIRouter(tags=["Operatories"])

OperatoryId = Annotated[int, Path(ge=1, le=MAX_ID, description="The operatory's id.")]
LocationQuery = Annotated[int, Query(ge=1, le=MAX_ID, description="The operatory's location.")]


@router.post(
    "/operatories",
    status_code=201,
    response_model=Envelope[OperatoryOut],
    responses=error_responses(400, 401, 403, 404),
    summary="Create an operatory at a location",
)
async def create_operatory(
    body: OperatoryCreate,
    tenant: TenantDep,
    db: DatabaseDep,
    location_id: LocationQuery,
    ignored: IgnoredDep,
) -> Envelope[OperatoryOut]:
    created = await operatories.create_operatory(
        db, institution_id=tenant.id, location_id=location_id, given=body.operatory.to_core()
    )
    return ok(operatory_out(created), count=1, ignored=ignored)


@router.get(
    "/operatories",
    response_model=PagedEnvelope[list[OperatoryOut]],
    responses=error_responses(400, 401, 403, 404),
    summary="The operatories of a location",
)
async def list_operatories(
    tenant: TenantDep,
    db: DatabaseDep,
    page: PageDep,
    location_id: LocationQuery,
    ignored: IgnoredDep,
    search_name: Annotated[
        QueryText | None, Query(description="Part of the name or display name, any case.")
    ] = None,
    active: Annotated[bool | None, Query(description="Only active (or inactive) ones.")] = None,
) -> PagedEnvelope[list[OperatoryOut]]:
    found = await operatories.list_operatories(
        db,
        institution_id=tenant.id,
        location_id=location_id,
        page=page,
        search_name=search_name,
        active=active,
    )
    return paged(found, operatory_out, ignored=ignored)


@router.get(
    "/operatories/{operatory_id}",
    response_model=Envelope[OperatoryOut],
    responses=error_responses(400, 401, 403, 404),
    summary="One operatory",
)
async def get_operatory(
    operatory_id: OperatoryId, tenant: TenantDep, db: DatabaseDep, ignored: IgnoredDep
) -> Envelope[OperatoryOut]:
    found = await operatories.get_operatory(db, institution_id=tenant.id, operatory_id=operatory_id)
    return ok(operatory_out(found), count=1, ignored=ignored)


@router.patch(
    "/operatories/{operatory_id}",
    response_model=Envelope[OperatoryOut],
    responses=error_responses(400, 401, 403, 404),
    summary="Change an operatory (only the fields sent)",
)
async def update_operatory(
    operatory_id: OperatoryId,
    body: OperatoryUpdate,
    tenant: TenantDep,
    db: DatabaseDep,
    ignored: IgnoredDep,
) -> Envelope[OperatoryOut]:
    updated = await operatories.update_operatory(
        db, institution_id=tenant.id, operatory_id=operatory_id, changes=body.operatory.changes()
    )
    return ok(operatory_out(updated), count=1, ignored=ignored)
