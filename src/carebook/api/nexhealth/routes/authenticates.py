from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Header
from pydantic import BaseModel

from carebook.api.kit.state import StateDep
from carebook.api.nexhealth.deps import IgnoredDep
from carebook.api.nexhealth.envelope import Envelope, error_responses, ok
from carebook.core.tenancy import authenticate

router = APIRouter(tags=["Authentication"])


class TokenData(BaseModel):
    token: str


@router.post(
    "/authenticates",
    status_code=201,
    response_model=Envelope[TokenData],
    responses=error_responses(400, 401),
    summary="Trade an API key for a bearer token (an hour by default: CAREBOOK_TOKEN_TTL_SECONDS)",
)
async def post_authenticates(
    state: StateDep,
    ignored: IgnoredDep,
    authorization: Annotated[
        str | None, Header(description="Your API key, as it was shown when created.")
    ] = None,
) -> Envelope[TokenData]:
    token = await authenticate(
        state.db,
        authorization,
        admin_key=state.settings.admin_api_key,
        secret=state.secret,
        ttl=timedelta(seconds=state.settings.token_ttl_seconds),
    )
    return ok(TokenData(token=token), description="Authenticated", ignored=ignored)
