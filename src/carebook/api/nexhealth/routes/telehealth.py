"""What the Calendar API books with, created and listed here: ``/specialties``, ``/services``,
``/visit_reasons``, ``/portal_users`` (and their dependants) and
``/appointment_types/{id}/modes``. Translation only; rules live in ``core.telehealth_catalog``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from carebook.api.kit.state import DatabaseDep
from carebook.api.nexhealth.deps import IgnoredDep, TenantDep
from carebook.api.nexhealth.envelope import Envelope, PagedEnvelope, error_responses, ok
from carebook.api.nexhealth.schemas.common import MAX_ID, PageDep, paged
from carebook.api.nexhealth.schemas.telehealth import (
    DependantCreate,
    ModeCreate,
    ModeOut,
    PortalUserCreate,
    PortalUserOut,
    ServiceCreate,
    ServiceOut,
    SpecialtyCreate,
    SpecialtyOut,
    VisitReasonCreate,
    VisitReasonOut,
    mode_out,
    portal_user_out,
    service_out,
    specialty_out,
    visit_reason_out,
)
from carebook.core import telehealth_catalog as catalog

router = APIRouter(tags=["Telehealth"])

PortalUserId = Annotated[int, Path(ge=1, le=MAX_ID, description="The portal user's id.")]
AppointmentTypeId = Annotated[int, Path(ge=1, le=MAX_ID, description="The appointment type's id.")]


@router.post(
    "/specialties",
    status_code=201,
    response_model=Envelope[SpecialtyOut],
    responses=error_responses(400, 401, 403, 409),
    summary="Create a specialty (Calendar SpecialityId)",
)
async def create_specialty(
    body: SpecialtyCreate, tenant: TenantDep, db: DatabaseDep, ignored: IgnoredDep
) -> Envelope[SpecialtyOut]:
    created = await catalog.create_specialty(
        db, institution_id=tenant.id, name=body.specialty.name, code=body.specialty.code
    )
    return ok(specialty_out(created), count=1, ignored=ignored)


@router.get(
    "/specialties",
    response_model=PagedEnvelope[list[SpecialtyOut]],
    responses=error_responses(400, 401, 403),
    summary="The institution's specialties",
)
async def list_specialties(
    tenant: TenantDep, db: DatabaseDep, page: PageDep, ignored: IgnoredDep
) -> PagedEnvelope[list[SpecialtyOut]]:
    found = await catalog.list_specialties(db, institution_id=tenant.id, page=page)
    return paged(found, specialty_out, ignored=ignored)


@router.post(
    "/services",
    status_code=201,
    response_model=Envelope[ServiceOut],
    responses=error_responses(400, 401, 403, 404, 409),
    summary="Create a priced service (Calendar ServiceId)",
)
async def create_service(
    body: ServiceCreate, tenant: TenantDep, db: DatabaseDep, ignored: IgnoredDep
) -> Envelope[ServiceOut]:
    created = await catalog.create_service(
        db, institution_id=tenant.id, given=body.service.to_core()
    )
    return ok(service_out(created), count=1, ignored=ignored)


@router.get(
    "/services",
    response_model=PagedEnvelope[list[ServiceOut]],
    responses=error_responses(400, 401, 403),
    summary="The institution's services",
)
async def list_services(
    tenant: TenantDep, db: DatabaseDep, page: PageDep, ignored: IgnoredDep
) -> PagedEnvelope[list[ServiceOut]]:
    found = await catalog.list_services(db, institution_id=tenant.id, page=page)
    return paged(found, service_out, ignored=ignored)


@router.post(
    "/visit_reasons",
    status_code=201,
    response_model=Envelope[VisitReasonOut],
    responses=error_responses(400, 401, 403, 409),
    summary="Create a coded visit reason (Calendar Reasons[].ReasonId)",
)
async def create_visit_reason(
    body: VisitReasonCreate, tenant: TenantDep, db: DatabaseDep, ignored: IgnoredDep
) -> Envelope[VisitReasonOut]:
    created = await catalog.create_visit_reason(
        db, institution_id=tenant.id, name=body.visit_reason.name, code=body.visit_reason.code
    )
    return ok(visit_reason_out(created), count=1, ignored=ignored)


@router.get(
    "/visit_reasons",
    response_model=PagedEnvelope[list[VisitReasonOut]],
    responses=error_responses(400, 401, 403),
    summary="The institution's visit reasons",
)
async def list_visit_reasons(
    tenant: TenantDep, db: DatabaseDep, page: PageDep, ignored: IgnoredDep
) -> PagedEnvelope[list[VisitReasonOut]]:
    found = await catalog.list_visit_reasons(db, institution_id=tenant.id, page=page)
    return paged(found, visit_reason_out, ignored=ignored)


@router.post(
    "/portal_users",
    status_code=201,
    response_model=Envelope[PortalUserOut],
    responses=error_responses(400, 401, 403, 404, 409),
    summary="Create a portal user (Calendar UserId) with their own patient",
)
async def create_portal_user(
    body: PortalUserCreate, tenant: TenantDep, db: DatabaseDep, ignored: IgnoredDep
) -> Envelope[PortalUserOut]:
    created = await catalog.create_portal_user(
        db, institution_id=tenant.id, given=body.portal_user.to_core()
    )
    return ok(portal_user_out(created), count=1, ignored=ignored)


@router.get(
    "/portal_users",
    response_model=PagedEnvelope[list[PortalUserOut]],
    responses=error_responses(400, 401, 403),
    summary="The institution's portal users, each with the patients they book for",
)
async def list_portal_users(
    tenant: TenantDep, db: DatabaseDep, page: PageDep, ignored: IgnoredDep
) -> PagedEnvelope[list[PortalUserOut]]:
    found = await catalog.list_portal_users(db, institution_id=tenant.id, page=page)
    return paged(found, portal_user_out, ignored=ignored)


@router.get(
    "/portal_users/{portal_user_id}",
    response_model=Envelope[PortalUserOut],
    responses=error_responses(400, 401, 403, 404),
    summary="One portal user with the patients they book for",
)
async def get_portal_user(
    portal_user_id: PortalUserId, tenant: TenantDep, db: DatabaseDep, ignored: IgnoredDep
) -> Envelope[PortalUserOut]:
    found = await catalog.get_portal_user(
        db, institution_id=tenant.id, portal_user_id=portal_user_id
    )
    return ok(portal_user_out(found), count=1, ignored=ignored)


@router.post(
    "/portal_users/{portal_user_id}/dependants",
    status_code=201,
    response_model=Envelope[PortalUserOut],
    responses=error_responses(400, 401, 403, 404, 409),
    summary="Add a dependant: a patient the user books for as guardian",
)
async def create_dependant(
    portal_user_id: PortalUserId,
    body: DependantCreate,
    tenant: TenantDep,
    db: DatabaseDep,
    ignored: IgnoredDep,
) -> Envelope[PortalUserOut]:
    found = await catalog.create_dependant(
        db, institution_id=tenant.id, portal_user_id=portal_user_id, given=body.patient.to_core()
    )
    return ok(portal_user_out(found), count=1, ignored=ignored)


@router.post(
    "/appointment_types/{appointment_type_id}/modes",
    status_code=201,
    response_model=Envelope[ModeOut],
    responses=error_responses(400, 401, 403, 404, 409),
    summary="Add a visit option (Calendar EncounterTypeModeDurationId): a mode and a length",
)
async def create_mode(
    appointment_type_id: AppointmentTypeId,
    body: ModeCreate,
    tenant: TenantDep,
    db: DatabaseDep,
    ignored: IgnoredDep,
) -> Envelope[ModeOut]:
    created = await catalog.create_mode(
        db,
        institution_id=tenant.id,
        appointment_type_id=appointment_type_id,
        mode_id=body.mode.mode_id,
        minutes=body.mode.minutes,
    )
    return ok(mode_out(created), count=1, ignored=ignored)


@router.get(
    "/appointment_types/{appointment_type_id}/modes",
    response_model=PagedEnvelope[list[ModeOut]],
    responses=error_responses(400, 401, 403, 404),
    summary="The visit options of an appointment type",
)
async def list_modes(
    appointment_type_id: AppointmentTypeId,
    tenant: TenantDep,
    db: DatabaseDep,
    page: PageDep,
    ignored: IgnoredDep,
) -> PagedEnvelope[list[ModeOut]]:
    appointment_type, modes = await catalog.list_modes(
        db, institution_id=tenant.id, appointment_type_id=appointment_type_id, page=page
    )
    return paged(
        modes, lambda mode: mode_out(catalog.ModeRecord(mode, appointment_type)), ignored=ignored
    )
