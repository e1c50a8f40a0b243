"""Providers: create, list, get and change (Carebook lets a clinic create them)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from carebook.api.kit.state import DatabaseDep
from carebook.api.nexhealth.deps import IgnoredDep, TenantDep
from carebook.api.nexhealth.envelope import Envelope, PagedEnvelope, error_responses, ok
from carebook.api.nexhealth.schemas.common import MAX_ID, PageDep, paged
from carebook.api.nexhealth.schemas.providers import (
    ProviderCreate,
    ProviderOut,
    ProviderUpdate,
    provider_out,
)
from carebook.core.clinic import providers

router = APIRouter(tags=["Providers"])

ProviderId = Annotated[int, Path(ge=1, le=MAX_ID, description="The provider's id.")]


@router.post(
    "/providers",
    status_code=201,
    response_model=Envelope[ProviderOut],
    responses=error_responses(400, 401, 403, 404),
    summary="Create a provider",
)
async def create_provider(
    body: ProviderCreate, tenant: TenantDep, db: DatabaseDep, ignored: IgnoredDep
) -> Envelope[ProviderOut]:
    """A location in ``location_ids`` that is not the institution's answers 404."""
    created = await providers.create_provider(
        db, institution_id=tenant.id, given=body.provider.to_core()
    )
    return ok(provider_out(created), count=1, ignored=ignored)


@router.get(
    "/providers",
    response_model=PagedEnvelope[list[ProviderOut]],
    responses=error_responses(400, 401, 403, 404),
    summary="The institution's providers",
)
async def list_providers(
    tenant: TenantDep,
    db: DatabaseDep,
    page: PageDep,
    ignored: IgnoredDep,
    location_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="Only providers working at this location.")
    ] = None,
    inactive: Annotated[
        bool, Query(description="Inactive providers (true) or active ones (false, the default).")
    ] = False,
) -> PagedEnvelope[list[ProviderOut]]:
    found = await providers.list_providers(
        db, institution_id=tenant.id, page=page, location_id=location_id, inactive=inactive
    )
    return paged(found, provider_out, ignored=ignored)


@router.get(
    "/providers/{provider_id}",
    response_model=Envelope[ProviderOut],
    responses=error_responses(400, 401, 403, 404),
    summary="One provider",
)
async def get_provider(
    provider_id: ProviderId, tenant: TenantDep, db: DatabaseDep, ignored: IgnoredDep
) -> Envelope[ProviderOut]:
    found = await providers.get_provider(db, institution_id=tenant.id, provider_id=provider_id)
    return ok(provider_out(found), count=1, ignored=ignored)


@router.patch(
    "/providers/{provider_id}",
    response_model=Envelope[ProviderOut],
    responses=error_responses(400, 401, 403, 404),
    summary="Change a provider (only the fields sent; location_ids replaces the set)",
)
async def update_provider(
    provider_id: ProviderId,
    body: ProviderUpdate,
    tenant: TenantDep,
    db: DatabaseDep,
    ignored: IgnoredDep,
) -> Envelope[ProviderOut]:
    updated = await providers.update_provider(
        db, institution_id=tenant.id, provider_id=provider_id, changes=body.provider.changes()
    )
    return ok(provider_out(updated), count=1, ignored=ignored)
