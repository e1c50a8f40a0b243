"""Appointment types: create, list, get, change and (soft) delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from carebook.api.kit.state import DatabaseDep
from carebook.api.nexhealth.deps import IgnoredDep, TenantDep
from carebook.api.nexhealth.envelope import Envelope, PagedEnvelope, error_responses, ok
from carebook.api.nexhealth.schemas.appointment_types import (
    AppointmentTypeCreate,
    AppointmentTypeOut,
    AppointmentTypeUpdate,
    appointment_type_out,
)
from carebook.api.nexhealth.schemas.common import MAX_ID, PageDep, paged
from carebook.core.clinic import appointment_types

router = APIRouter(tags=["Appointment types"])

AppointmentTypeId = Annotated[int, Path(ge=1, le=MAX_ID, description="The appointment type's id.")]


@router.post(
    "/appointment_types",
    status_code=201,
    response_model=Envelope[AppointmentTypeOut],
    responses=error_responses(400, 401, 403, 404, 409),
    summary="Create an appointment type",
)
async def create_appointment_type(
    body: AppointmentTypeCreate, tenant: TenantDep, db: DatabaseDep, ignored: IgnoredDep
) -> Envelope[AppointmentTypeOut]:
    """409 when another type already has the name (any case). Descriptors must be the
    institution's (404), and at the type's location when it has one (400)."""
    created = await appointment_types.create_appointment_type(
        db,
        institution_id=tenant.id,
        location_id=body.location_id,
        given=body.appointment_type.to_core(),
    )
    return ok(appointment_type_out(created), count=1, ignored=ignored)


@router.get(
    "/appointment_types",
    response_model=PagedEnvelope[list[AppointmentTypeOut]],
    responses=error_responses(400, 401, 403, 404),
    summary="The institution's appointment types",
)
async def list_appointment_types(
    tenant: TenantDep,
    db: DatabaseDep,
    page: PageDep,
    ignored: IgnoredDep,
    location_id: Annotated[
        int | None,
        Query(
            ge=1,
            le=MAX_ID,
            description="Only types offered at this location (institution-wide or its own).",
        ),
    ] = None,
) -> PagedEnvelope[list[AppointmentTypeOut]]:
    found = await appointment_types.list_appointment_types(
        db, institution_id=tenant.id, page=page, location_id=location_id
    )
    return paged(found, appointment_type_out, ignored=ignored)


@router.get(
    "/appointment_types/{appointment_type_id}",
    response_model=Envelope[AppointmentTypeOut],
    responses=error_responses(400, 401, 403, 404),
    summary="One appointment type",
)
async def get_appointment_type(
    appointment_type_id: AppointmentTypeId, tenant: TenantDep, db: DatabaseDep, ignored: IgnoredDep
) -> Envelope[AppointmentTypeOut]:
    found = await appointment_types.get_appointment_type(
        db, institution_id=tenant.id, appointment_type_id=appointment_type_id
    )
    return ok(appointment_type_out(found), count=1, ignored=ignored)


@router.patch(
    "/appointment_types/{appointment_type_id}",
    response_model=Envelope[AppointmentTypeOut],
    responses=error_responses(400, 401, 403, 404, 409),
    summary="Change an appointment type (only the fields sent)",
)
async def update_appointment_type(
    appointment_type_id: AppointmentTypeId,
    body: AppointmentTypeUpdate,
    tenant: TenantDep,
    db: DatabaseDep,
    ignored: IgnoredDep,
) -> Envelope[AppointmentTypeOut]:
    """Setting ``parent_type`` to Institution clears the parent location."""
    updated = await appointment_types.update_appointment_type(
        db,
        institution_id=tenant.id,
        appointment_type_id=appointment_type_id,
        location_id=body.location_id,
        changes=body.appointment_type.changes(),
    )
    return ok(appointment_type_out(updated), count=1, ignored=ignored)


@router.delete(
    "/appointment_types/{appointment_type_id}",
    response_model=Envelope[AppointmentTypeOut],
    responses=error_responses(400, 401, 403, 404),
    summary="Delete an appointment type (answers the deleted type)",
)
async def delete_appointment_type(
    appointment_type_id: AppointmentTypeId, tenant: TenantDep, db: DatabaseDep, ignored: IgnoredDep
) -> Envelope[AppointmentTypeOut]:
    """Appointments already booked keep their type; the type is gone from this API."""
    deleted = await appointment_types.delete_appointment_type(
        db, institution_id=tenant.id, appointment_type_id=appointment_type_id
    )
    return ok(appointment_type_out(deleted), count=1, ignored=ignored)
