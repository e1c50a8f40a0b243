"""``/working_hours`` (v3) and its v2 alias ``/availabilities``: translation only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from sqlalchemy.ext.asyncio import AsyncSession

from carebook.api.kit.state import DatabaseDep
from carebook.api.nexhealth.deps import IgnoredDep, TenantDep
from carebook.api.nexhealth.envelope import Envelope, PagedEnvelope, error_responses, ok
from carebook.api.nexhealth.schemas.availability import (
    AvailabilityCreate,
    AvailabilityPatch,
    WorkingHourCreate,
    WorkingHourOut,
    WorkingHourPatch,
)
from carebook.api.nexhealth.schemas.common import MAX_ID, PageDep, paged
from carebook.core.availability import hours
from carebook.core.errors import FieldError, InvalidInput, NotFound

router = APIRouter(tags=["Working hours"])

LocationQuery = Annotated[int, Query(ge=1, le=MAX_ID, description="The location.")]
HourId = Annotated[int, Path(ge=1, le=MAX_ID)]


@asynccontextmanager
async def _v2_names() -> AsyncIterator[None]:
    """v2 calls the body ``availability``: name its fields so."""
    try:
        yield
    except InvalidInput as error:
        raise InvalidInput(
            [
                FieldError(e.field.replace("working_hour.", "availability.", 1), e.message)
                for e in error.errors
            ]
        ) from None
    except NotFound as error:
        if error.field and error.field.startswith("working_hour."):
            error.field = error.field.replace("working_hour.", "availability.", 1)
        raise


async def _create(
    db: DatabaseDep,
    tenant: TenantDep,
    location_id: int,
    data: hours.WorkingHourInput,
    ignored: tuple[str, ...],
) -> Envelope[WorkingHourOut]:
    async def work(session: AsyncSession) -> WorkingHourOut:
        view = await hours.create_working_hour(
            session, institution_id=tenant.id, location_id=location_id, data=data
        )
        return WorkingHourOut.of(view)

    return ok(await db.write(work), count=1, description="Working hour created", ignored=ignored)


async def _update(
    db: DatabaseDep,
    tenant: TenantDep,
    working_hour_id: int,
    data: hours.WorkingHourInput,
    ignored: tuple[str, ...],
) -> Envelope[WorkingHourOut]:
    async def work(session: AsyncSession) -> WorkingHourOut:
        view = await hours.update_working_hour(
            session, institution_id=tenant.id, working_hour_id=working_hour_id, data=data
        )
        return WorkingHourOut.of(view)

    return ok(await db.write(work), count=1, ignored=ignored)


async def _list(
    db: DatabaseDep,
    tenant: TenantDep,
    page: PageDep,
    location_id: int,
    provider_id: int | None,
    operatory_id: int | None,
    active: bool | None,
    ignore_past_dates: bool,
    ignored: tuple[str, ...],
) -> PagedEnvelope[list[WorkingHourOut]]:
    async with db.read() as session:
        found = await hours.list_working_hours(
            session,
            institution_id=tenant.id,
            location_id=location_id,
            provider_id=provider_id,
            operatory_id=operatory_id,
            active=active,
            ignore_past_dates=ignore_past_dates,
            page=page,
        )
    return paged(found, WorkingHourOut.of, ignored=ignored)


async def _get(
    db: DatabaseDep, tenant: TenantDep, working_hour_id: int, ignored: tuple[str, ...]
) -> Envelope[WorkingHourOut]:
    async with db.read() as session:
        view = await hours.get_working_hour(
            session, institution_id=tenant.id, working_hour_id=working_hour_id
        )
    return ok(WorkingHourOut.of(view), count=1, ignored=ignored)


async def _delete(db: DatabaseDep, tenant: TenantDep, working_hour_id: int) -> Response:
    async def work(session: AsyncSession) -> None:
        await hours.delete_working_hour(
            session, institution_id=tenant.id, working_hour_id=working_hour_id
        )

    await db.write(work)
    return Response(status_code=204)


ProviderFilter = Annotated[int | None, Query(ge=1, le=MAX_ID)]
ActiveFilter = Annotated[bool | None, Query(description="Default true; omit none.")]
PastFilter = Annotated[
    bool, Query(description="Leave out one-off (specific_date) hours already past.")
]

# --- v3 -----------------------------------------------------------------------------------------


@router.post(
    "/working_hours",
    status_code=201,
    response_model=Envelope[WorkingHourOut],
    responses=error_responses(400, 401, 403, 404),
    summary="Create a working hour: when a provider works at a location",
)
async def create_working_hour(
    body: WorkingHourCreate,
    location_id: LocationQuery,
    db: DatabaseDep,
    tenant: TenantDep,
    ignored: IgnoredDep,
) -> Envelope[WorkingHourOut]:
    return await _create(db, tenant, location_id, body.working_hour.to_input(), ignored)


@router.get(
    "/working_hours",
    response_model=PagedEnvelope[list[WorkingHourOut]],
    responses=error_responses(400, 401, 403, 404),
    summary="Working hours at a location",
)
async def list_working_hours(
    location_id: LocationQuery,
    db: DatabaseDep,
    tenant: TenantDep,
    page: PageDep,
    ignored: IgnoredDep,
    provider_id: ProviderFilter = None,
    operatory_id: ProviderFilter = None,
    active: ActiveFilter = True,
    ignore_past_dates: PastFilter = False,
) -> PagedEnvelope[list[WorkingHourOut]]:
    return await _list(
        db, tenant, page, location_id, provider_id, operatory_id, active, ignore_past_dates, ignored
    )


@router.get(
    "/working_hours/{working_hour_id}",
    response_model=Envelope[WorkingHourOut],
    responses=error_responses(400, 401, 403, 404),
    summary="One working hour",
)
async def get_working_hour(
    working_hour_id: HourId, db: DatabaseDep, tenant: TenantDep, ignored: IgnoredDep
) -> Envelope[WorkingHourOut]:
    return await _get(db, tenant, working_hour_id, ignored)


@router.patch(
    "/working_hours/{working_hour_id}",
    response_model=Envelope[WorkingHourOut],
    responses=error_responses(400, 401, 403, 404),
    summary="Change a working hour (a new days / specific_date / custom_recurrence replaces "
    "the old rule)",
)
async def patch_working_hour(
    working_hour_id: HourId,
    body: WorkingHourPatch,
    db: DatabaseDep,
    tenant: TenantDep,
    ignored: IgnoredDep,
) -> Envelope[WorkingHourOut]:
    return await _update(db, tenant, working_hour_id, body.working_hour.to_input(), ignored)


@router.delete(
    "/working_hours/{working_hour_id}",
    status_code=204,
    response_class=Response,
    responses=error_responses(400, 401, 403, 404),
    summary="Delete a working hour",
)
async def delete_working_hour(
    working_hour_id: HourId, db: DatabaseDep, tenant: TenantDep
) -> Response:
    return await _delete(db, tenant, working_hour_id)


# --- v2 alias -----------------------------------------------------------------------------------


@router.post(
    "/availabilities",
    status_code=201,
    response_model=Envelope[WorkingHourOut],
    responses=error_responses(400, 401, 403, 404),
    summary="Create an availability (v2 name of a working hour)",
)
async def create_availability(
    body: AvailabilityCreate,
    location_id: LocationQuery,
    db: DatabaseDep,
    tenant: TenantDep,
    ignored: IgnoredDep,
) -> Envelope[WorkingHourOut]:
    fields = body.availability
    async with _v2_names():
        return await _create(
            db,
            tenant,
            location_id,
            fields.to_input(extra_type_ids=fields.appointment_category_ids),
            ignored,
        )


@router.get(
    "/availabilities",
    response_model=PagedEnvelope[list[WorkingHourOut]],
    responses=error_responses(400, 401, 403, 404),
    summary="Availabilities at a location (v2)",
)
async def list_availabilities(
    location_id: LocationQuery,
    db: DatabaseDep,
    tenant: TenantDep,
    page: PageDep,
    ignored: IgnoredDep,
    provider_id: ProviderFilter = None,
    operatory_id: ProviderFilter = None,
    active: ActiveFilter = True,
    ignore_past_dates: PastFilter = False,
) -> PagedEnvelope[list[WorkingHourOut]]:
    return await _list(
        db, tenant, page, location_id, provider_id, operatory_id, active, ignore_past_dates, ignored
    )


@router.get(
    "/availabilities/{availability_id}",
    response_model=Envelope[WorkingHourOut],
    responses=error_responses(400, 401, 403, 404),
    summary="One availability (v2)",
)
async def get_availability(
    availability_id: HourId, db: DatabaseDep, tenant: TenantDep, ignored: IgnoredDep
) -> Envelope[WorkingHourOut]:
    return await _get(db, tenant, availability_id, ignored)


@router.patch(
    "/availabilities/{availability_id}",
    response_model=Envelope[WorkingHourOut],
    responses=error_responses(400, 401, 403, 404),
    summary="Change an availability (v2)",
)
async def patch_availability(
    availability_id: HourId,
    body: AvailabilityPatch,
    db: DatabaseDep,
    tenant: TenantDep,
    ignored: IgnoredDep,
) -> Envelope[WorkingHourOut]:
    fields = body.availability
    async with _v2_names():
        return await _update(
            db,
            tenant,
            availability_id,
            fields.to_input(extra_type_ids=fields.appointment_category_ids),
            ignored,
        )


@router.delete(
    "/availabilities/{availability_id}",
    status_code=204,
    response_class=Response,
    responses=error_responses(400, 401, 403, 404),
    summary="Delete an availability (v2)",
)
async def delete_availability(
    availability_id: HourId, db: DatabaseDep, tenant: TenantDep
) -> Response:
    return await _delete(db, tenant, availability_id)
