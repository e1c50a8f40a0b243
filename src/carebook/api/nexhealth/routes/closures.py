"""``/locations/{id}/closures``: days a location is closed (holidays). Translation only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response
from sqlalchemy.ext.asyncio import AsyncSession

from carebook.api.kit.state import DatabaseDep
from carebook.api.nexhealth.deps import IgnoredDep, TenantDep
from carebook.api.nexhealth.envelope import Envelope, PagedEnvelope, error_responses, ok
from carebook.api.nexhealth.schemas.availability import ClosureCreate, ClosureOut
from carebook.api.nexhealth.schemas.common import MAX_ID, PageDep, paged
from carebook.core.availability import hours

router = APIRouter(tags=["Closures"])

LocationId = Annotated[int, Path(ge=1, le=MAX_ID)]
ClosureId = Annotated[int, Path(ge=1, le=MAX_ID)]


@router.post(
    "/locations/{location_id}/closures",
    status_code=201,
    response_model=Envelope[ClosureOut],
    responses=error_responses(400, 401, 403, 404),
    summary="Close a location for a date or a range of dates (no slots, no bookings)",
)
async def create_closure(
    location_id: LocationId,
    body: ClosureCreate,
    db: DatabaseDep,
    tenant: TenantDep,
    ignored: IgnoredDep,
) -> Envelope[ClosureOut]:
    fields = body.closure

    async def work(session: AsyncSession) -> ClosureOut:
        closure = await hours.create_closure(
            session,
            institution_id=tenant.id,
            location_id=location_id,
            start_date=fields.start_date,
            end_date=fields.end_date,
            reason=fields.reason,
        )
        return ClosureOut.of(closure)

    return ok(await db.write(work), count=1, description="Closure created", ignored=ignored)


@router.get(
    "/locations/{location_id}/closures",
    response_model=PagedEnvelope[list[ClosureOut]],
    responses=error_responses(400, 401, 403, 404),
    summary="A location's closures",
)
async def list_closures(
    location_id: LocationId, db: DatabaseDep, tenant: TenantDep, page: PageDep, ignored: IgnoredDep
) -> PagedEnvelope[list[ClosureOut]]:
    async with db.read() as session:
        found = await hours.list_closures(
            session, institution_id=tenant.id, location_id=location_id, page=page
        )
    return paged(found, ClosureOut.of, ignored=ignored)


@router.delete(
    "/locations/{location_id}/closures/{closure_id}",
    status_code=204,
    response_class=Response,
    responses=error_responses(400, 401, 403, 404),
    summary="Reopen: delete a closure",
)
async def delete_closure(
    location_id: LocationId, closure_id: ClosureId, db: DatabaseDep, tenant: TenantDep
) -> Response:
    async def work(session: AsyncSession) -> None:
        await hours.delete_closure(
            session, institution_id=tenant.id, location_id=location_id, closure_id=closure_id
        )

    await db.write(work)
    return Response(status_code=204)
