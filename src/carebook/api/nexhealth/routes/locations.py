"""Locations: ``POST /locations``, ``GET /locations``, ``GET`` and ``PATCH /locations/{id}``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from carebook.api.kit.state import DatabaseDep
from carebook.api.nexhealth.deps import IgnoredDep, TenantDep
from carebook.api.nexhealth.envelope import Envelope, PagedEnvelope, error_responses, ok
from carebook.api.nexhealth.schemas.common import MAX_ID, PageDep, paged
from carebook.api.nexhealth.schemas.locations import (
    LocationCreate,
    LocationOut,
    LocationUpdate,
    location_out,
)
from carebook.core.clinic import locations

router = APIRouter(tags=["Locations"])

LocationId = Annotated[int, Path(ge=1, le=MAX_ID, description="The location's id.")]


@router.post(
    "/locations",
    status_code=201,
    response_model=Envelope[LocationOut],
    responses=error_responses(400, 401, 403),
    summary="Create a location",
)
async def create_location(
    body: LocationCreate, tenant: TenantDep, db: DatabaseDep, ignored: IgnoredDep
) -> Envelope[LocationOut]:
    created = await locations.create_location(
        db, institution_id=tenant.id, given=body.location.to_core()
    )
    return ok(location_out(created), count=1, ignored=ignored)


@router.get(
    "/locations",
    response_model=PagedEnvelope[list[LocationOut]],
    responses=error_responses(400, 401, 403),
    summary="The institution's locations",
)
async def list_locations(
    tenant: TenantDep,
    db: DatabaseDep,
    page: PageDep,
    ignored: IgnoredDep,
    inactive: Annotated[
        bool | None, Query(description="Only inactive (true) or active (false) locations.")
    ] = None,
) -> PagedEnvelope[list[LocationOut]]:
    """A flat list of the institution's locations, ordered by id and paged by cursor.

    NexHealth answers this route with institutions, each nesting its locations; a request names
    one institution (``subdomain``) here, so Carebook returns that institution's locations
    directly (``GET /institutions/{id}`` describes the institution itself).
    """
    found = await locations.list_locations(
        db, institution_id=tenant.id, page=page, inactive=inactive
    )
    return paged(found, location_out, ignored=ignored)


@router.get(
    "/locations/{location_id}",
    response_model=Envelope[LocationOut],
    responses=error_responses(400, 401, 403, 404),
    summary="One location",
)
async def get_location(
    location_id: LocationId, tenant: TenantDep, db: DatabaseDep, ignored: IgnoredDep
) -> Envelope[LocationOut]:
    found = await locations.get_location(db, institution_id=tenant.id, location_id=location_id)
    return ok(location_out(found), count=1, ignored=ignored)


@router.patch(
    "/locations/{location_id}",
    response_model=Envelope[LocationOut],
    responses=error_responses(400, 401, 403, 404),
    summary="Change a location (only the fields sent)",
)
async def update_location(
    location_id: LocationId,
    body: LocationUpdate,
    tenant: TenantDep,
    db: DatabaseDep,
    ignored: IgnoredDep,
) -> Envelope[LocationOut]:
    updated = await locations.update_location(
        db, institution_id=tenant.id, location_id=location_id, changes=body.location.changes()
    )
    return ok(location_out(updated), count=1, ignored=ignored)
