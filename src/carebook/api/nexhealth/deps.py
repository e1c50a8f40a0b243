"""Dependencies every NexHealth-style route uses: the caller, the tenant, and the query
parameters the request gave that the route does not take."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from fastapi.dependencies.models import Dependant
from pydantic import AfterValidator

from carebook.api.kit.auth import PrincipalDep
from carebook.api.kit.dependants import walk
from carebook.api.kit.state import DatabaseDep
from carebook.api.nexhealth.schemas.common import no_nul
from carebook.core.tenancy import Tenant, resolve_tenant


async def current_tenant(
    principal: PrincipalDep,
    db: DatabaseDep,
    subdomain: Annotated[
        str,
        Query(description="The institution the request acts in.", min_length=1),
        AfterValidator(no_nul),  # looked up as given: PostgreSQL's text refuses NUL
    ],
) -> Tenant:
    return await resolve_tenant(db, principal, subdomain)


TenantDep = Annotated[Tenant, Depends(current_tenant)]


def query_names(dependant: Dependant) -> frozenset[str]:
    """Every query parameter a route takes, its dependencies' included, as clients spell them
    (the alias where there is one: ``lids[]``)."""
    return frozenset(field.alias for current in walk(dependant) for field in current.query_params)


# Per endpoint function, not per route object: the app is built again for each test, and a
# route's parameters are those of its endpoint's signature (no router adds dependencies).
_ACCEPTED: dict[Callable[..., Any], frozenset[str]] = {}


async def ignored_query(request: Request) -> tuple[str, ...]:
    """The query parameters the request gave that its route does not take, sorted: NexHealth
    still answers, and names them in the description (``envelope.describe``). Derived from the
    route itself (``scope["route"]``), so it cannot drift from the route's signature."""
    given = request.query_params.keys()
    route = request.scope["route"]
    accepted = _ACCEPTED.get(route.endpoint)
    if accepted is None:
        accepted = _ACCEPTED[route.endpoint] = query_names(route.dependant)
    if given <= accepted:
        return ()
    return tuple(sorted(given - accepted))


IgnoredDep = Annotated[tuple[str, ...], Depends(ignored_query)]
"""Every route answering an envelope takes it, and passes it to ``ok`` or ``paged``."""
