"""``GET /healthz``: the probe for load balancers and orchestrators (no token needed).

Answered in the envelope, as every path outside the Calendar API's is: 200 while the process
can serve (its database answers), else the usual 503 with ``Retry-After``; query parameters
are ignored and named, as everywhere in the envelope.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel

from carebook.api.kit.state import DatabaseDep
from carebook.api.nexhealth.deps import IgnoredDep
from carebook.api.nexhealth.envelope import Envelope, error_responses, ok, respond
from carebook.core import health

router = APIRouter(tags=["Operations"])


class HealthOut(BaseModel):
    status: Literal["ok"] = "ok"


@router.get(
    "/healthz",
    response_model=Envelope[HealthOut],
    responses=error_responses(503),
    summary="Whether this process can serve: its database answers (no token needed)",
    description=(
        "200 while the database answers a query within "
        f"{health.TIMEOUT_SECONDS:g} s; 503 with Retry-After when it does not or cannot be "
        "reached. Point load balancers' and orchestrators' health probes here."
    ),
)
async def healthz(db: DatabaseDep, ignored: IgnoredDep) -> Response:
    await health.ensure_serving(db)
    return respond(ok(HealthOut(), ignored=ignored))
