"""Dependencies every NexHealth-style route uses: the caller and the tenant."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query

from carebook.api.kit.auth import PrincipalDep
from carebook.api.kit.state import DatabaseDep
from carebook.core.tenancy import Tenant, resolve_tenant


async def current_tenant(
    principal: PrincipalDep,
    db: DatabaseDep,
    subdomain: Annotated[
        str, Query(description="The institution the request acts in.", min_length=1)
    ],
) -> Tenant:
    return await resolve_tenant(db, principal, subdomain)


TenantDep = Annotated[Tenant, Depends(current_tenant)]
