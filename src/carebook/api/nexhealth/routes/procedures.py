"""Procedures: create, list (by patient, provider or appointment) and get."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from carebook.api.kit.state import DatabaseDep
from carebook.api.nexhealth.deps import IgnoredDep, TenantDep
from carebook.api.nexhealth.envelope import Envelope, PagedEnvelope, error_responses, ok
from carebook.api.nexhealth.schemas.common import MAX_ID, PageDep, paged
from carebook.api.nexhealth.schemas.procedures import ProcedureCreate, ProcedureOut, procedure_out
from carebook.core.clinic import procedures

router = APIRouter(tags=["Procedures"])


def _filter(what: str) -> object:
    return Query(ge=1, le=MAX_ID, description=f"Only procedures of this {what}.")


@router.post(
    "/procedures",
    status_code=201,
    response_model=Envelope[ProcedureOut],
    responses=error_responses(400, 401, 403, 404),
    summary="Record a procedure of a patient",
)
async def create_procedure(
    body: ProcedureCreate, tenant: TenantDep, db: DatabaseDep, ignored: IgnoredDep
) -> Envelope[ProcedureOut]:
    """The patient, provider, appointment and location must be the institution's (404); the
    appointment must be the patient's (400)."""
    created = await procedures.create_procedure(
        db, institution_id=tenant.id, given=body.procedure.to_core()
    )
    return ok(procedure_out(created), count=1, ignored=ignored)


@router.get(
    "/procedures",
    response_model=PagedEnvelope[list[ProcedureOut]],
    responses=error_responses(400, 401, 403),
    summary="Procedures of a patient, provider or appointment",
)
async def list_procedures(
    tenant: TenantDep,
    db: DatabaseDep,
    page: PageDep,
    ignored: IgnoredDep,
    patient_id: Annotated[int | None, _filter("patient")] = None,
    provider_id: Annotated[int | None, _filter("provider")] = None,
    appointment_id: Annotated[int | None, _filter("appointment")] = None,
    location_id: Annotated[int | None, _filter("location")] = None,
) -> PagedEnvelope[list[ProcedureOut]]:
    """At least one of patient_id, provider_id or appointment_id is required; location_id only
    narrows. Filters combine with AND."""
    found = await procedures.list_procedures(
        db,
        institution_id=tenant.id,
        page=page,
        filters=procedures.ProcedureFilters(
            patient_id=patient_id,
            provider_id=provider_id,
            appointment_id=appointment_id,
            location_id=location_id,
        ),
    )
    return paged(found, procedure_out, ignored=ignored)


@router.get(
    "/procedures/{procedure_id}",
    response_model=Envelope[ProcedureOut],
    responses=error_responses(400, 401, 403, 404),
    summary="One procedure",
)
async def get_procedure(
    procedure_id: Annotated[int, Path(ge=1, le=MAX_ID, description="The procedure's id.")],
    tenant: TenantDep,
    db: DatabaseDep,
    ignored: IgnoredDep,
) -> Envelope[ProcedureOut]:
    found = await procedures.get_procedure(db, institution_id=tenant.id, procedure_id=procedure_id)
    return ok(procedure_out(found), count=1, ignored=ignored)
