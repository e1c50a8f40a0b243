"""Bearer-token authentication shared by every API dialect."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import Depends, Request
from fastapi.dependencies.models import Dependant

from carebook.api.kit.dependants import walk
from carebook.api.kit.state import get_app_state
from carebook.core.auth import Principal
from carebook.core.errors import Unauthorized


def bearer_token(request: Request) -> str:
    return token_of(request.headers.get("authorization"))


def token_of(header: str | None) -> str:
    """The token of an ``Authorization: Bearer <token>`` header; Unauthorized otherwise."""
    if not header:
        raise Unauthorized(
            "missing Authorization header: send 'Bearer <token>' from /authenticates"
        )
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("the Authorization header must be 'Bearer <token>'")
    return token.strip()


async def current_principal(request: Request) -> Principal:
    # ``async``: FastAPI runs plain ``def`` dependencies on a thread pool, a thread hop per call.
    return await get_app_state(request).principal(bearer_token(request), now=time.time())


PrincipalDep = Annotated[Principal, Depends(current_principal)]


def requires_principal(dependant: Dependant) -> bool:
    """Whether a route (its dependency tree) authenticates the caller."""
    return any(current.call is current_principal for current in walk(dependant))
