"""Appointment descriptors (EHR appointment types and procedure codes) of a location."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from carebook.api.kit.state import DatabaseDep
from carebook.api.nexhealth.deps import IgnoredDep, TenantDep
from carebook.api.nexhealth.envelope import Envelope, PagedEnvelope, error_responses, ok
from carebook.api.nexhealth.schemas.common import MAX_ID, PageDep, QueryText, paged
from carebook.api.nexhealth.schemas.descriptors import (
    DescriptorCreate,
    DescriptorOut,
    descriptor_out,
)
from carebook.core.clinic import descriptors

router = APIRouter(tags=["Appointment descriptors"])


@router.post(
    "/appointment_descriptors",
    status_code=201,
    response_model=Envelope[DescriptorOut],
    responses=error_responses(400, 401, 403, 404),
    summary="Create an appointment descriptor at a location",
)
async def create_descriptor(
    body: DescriptorCreate,
    tenant: TenantDep,
    db: DatabaseDep,
    location_id: Annotated[int, Query(ge=1, le=MAX_ID, description="The descriptor's location.")],
    ignored: IgnoredDep,
) -> Envelope[DescriptorOut]:
    created = await descriptors.create_descriptor(
        db,
        institution_id=tenant.id,
        location_id=location_id,
        given=body.appointment_descriptor.to_core(),
    )
    return ok(descriptor_out(created), count=1, ignored=ignored)


@router.get(
    "/locations/{location_id}/appointment_descriptors",
    response_model=PagedEnvelope[list[DescriptorOut]],
    responses=error_responses(400, 401, 403, 404),
    summary="The appointment descriptors of a location",
)
async def list_descriptors(
    location_id: Annotated[int, Path(ge=1, le=MAX_ID, description="The location's id.")],
    tenant: TenantDep,
    db: DatabaseDep,
    page: PageDep,
    ignored: IgnoredDep,
    descriptor_type: Annotated[
        QueryText | None, Query(description="Only this type, e.g. 'Procedure Code'.")
    ] = None,
) -> PagedEnvelope[list[DescriptorOut]]:
    found = await descriptors.list_descriptors(
        db,
        institution_id=tenant.id,
        location_id=location_id,
        page=page,
        descriptor_type=descriptor_type,
    )
    return paged(found, descriptor_out, ignored=ignored)


@router.get(
    "/appointment_descriptors/{descriptor_id}",
    response_model=Envelope[DescriptorOut],
    responses=error_responses(400, 401, 403, 404),
    summary="One appointment descriptor",
)
async def get_descriptor(
    descriptor_id: Annotated[int, Path(ge=1, le=MAX_ID, description="The descriptor's id.")],
    tenant: TenantDep,
    db: DatabaseDep,
    ignored: IgnoredDep,
) -> Envelope[DescriptorOut]:
    found = await descriptors.get_descriptor(
        db, institution_id=tenant.id, descriptor_id=descriptor_id
    )
    return ok(descriptor_out(found), count=1, ignored=ignored)
