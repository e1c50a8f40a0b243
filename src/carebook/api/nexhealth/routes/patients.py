"""Patients: ``POST /patients`` (NexHealth's body and ``data.user``), list and get."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from carebook.api.kit.state import DatabaseDep
from carebook.api.nexhealth.deps import IgnoredDep, TenantDep
from carebook.api.nexhealth.envelope import Envelope, PagedEnvelope, error_responses, ok
from carebook.api.nexhealth.schemas.common import MAX_ID, IsoDate, PageDep, QueryText, paged
from carebook.api.nexhealth.schemas.patients import (
    PatientCreate,
    PatientCreated,
    PatientOut,
    patient_out,
)
from carebook.core.clinic import patients

router = APIRouter(tags=["Patients"])

PatientId = Annotated[int, Path(ge=1, le=MAX_ID, description="The patient's id.")]
LocationQuery = Annotated[int, Query(ge=1, le=MAX_ID, description="The location acted at.")]


@router.post(
    "/patients",
    status_code=201,
    response_model=Envelope[PatientCreated],
    responses={
        200: {"description": "An existing patient matched (return_existing_if_match)."},
        **error_responses(400, 401, 403, 404),
    },
    summary="Create a patient at a location, with their provider",
)
async def create_patient(
    body: PatientCreate,
    tenant: TenantDep,
    db: DatabaseDep,
    location_id: LocationQuery,
    response: Response,
    ignored: IgnoredDep,
) -> Envelope[PatientCreated]:
    """A patient with the same name (any case), date of birth and phone number already in the
    institution is a duplicate: 400, or 200 with that patient when ``return_existing_if_match``."""
    result = await patients.create_patient(
        db,
        institution_id=tenant.id,
        location_id=location_id,
        provider_id=body.provider.provider_id,
        given=body.patient.to_core(),
        return_existing_if_match=body.return_existing_if_match,
    )
    if not result.created:
        response.status_code = 200
    return ok(PatientCreated(user=patient_out(result.patient)), count=1, ignored=ignored)


@router.get(
    "/patients",
    response_model=PagedEnvelope[list[PatientOut]],
    responses=error_responses(400, 401, 403, 404),
    summary="Search the institution's patients",
)
async def list_patients(
    tenant: TenantDep,
    db: DatabaseDep,
    page: PageDep,
    location_id: LocationQuery,
    ignored: IgnoredDep,
    location_strict: Annotated[
        bool, Query(description="Only patients of this location (default: the institution's).")
    ] = False,
    name: Annotated[
        QueryText | None, Query(description="Part of the first, last or full name, any case.")
    ] = None,
    email: Annotated[QueryText | None, Query(description="The email, any case.")] = None,
    phone_number: Annotated[
        QueryText | None, Query(description="The phone number (its digits are compared).")
    ] = None,
    date_of_birth: Annotated[IsoDate | None, Query(description="YYYY-MM-DD.")] = None,
    inactive: Annotated[bool | None, Query(description="Only inactive (or active) ones.")] = None,
) -> PagedEnvelope[list[PatientOut]]:
    """Filters combine with AND."""
    found = await patients.list_patients(
        db,
        institution_id=tenant.id,
        page=page,
        search=patients.PatientSearch(
            location_id=location_id,
            location_strict=location_strict,
            name=name,
            email=email,
            phone_number=phone_number,
            date_of_birth=date_of_birth,
            inactive=inactive,
        ),
    )
    return paged(found, patient_out, ignored=ignored)


@router.get(
    "/patients/{patient_id}",
    response_model=Envelope[PatientOut],
    responses=error_responses(400, 401, 403, 404),
    summary="One patient",
)
async def get_patient(
    patient_id: PatientId, tenant: TenantDep, db: DatabaseDep, ignored: IgnoredDep
) -> Envelope[PatientOut]:
    found = await patients.get_patient(db, institution_id=tenant.id, patient_id=patient_id)
    return ok(patient_out(found), count=1, ignored=ignored)
