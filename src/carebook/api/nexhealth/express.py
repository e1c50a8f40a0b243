"""``POST /appointments`` in the express lane (:mod:`carebook.api.kit.express`).

Takes only the plain case: a JSON body that validates, a bearer token that verifies, a tenant
the token reaches, and exactly the query parameters ``subdomain``, ``location_id`` and
optionally ``notify_patient`` in their canonical spelling. Anything else goes to the FastAPI
route (:func:`carebook.api.nexhealth.routes.appointments.create_appointment`), which answers it:
so a query parameter the route ignores, and names in the description (``deps.IgnoredDep``),
never reaches the lane, and the lane's answer names only the ``appt`` keys it ignored.
"""

from __future__ import annotations

import json
import time
from functools import partial
from urllib.parse import parse_qsl

from carebook.api.kit.auth import token_of
from carebook.api.kit.express import ExpressRequest, ExpressResponse, Lane, Run
from carebook.api.nexhealth.routes.appointments import book_appointment
from carebook.api.nexhealth.schemas.appointments import AppointmentCreate
from carebook.api.nexhealth.schemas.common import MAX_ID
from carebook.core.tenancy import resolve_tenant

_FLAGS = {"true": True, "false": False}


def _is_json(content_type: bytes | None) -> bool:
    if content_type is None:
        return False
    media = content_type.split(b";", 1)[0].strip().lower()
    return media == b"application/json"


async def prepare(request: ExpressRequest) -> Run | None:
    pairs = parse_qsl(request.query.decode("latin-1"), keep_blank_values=True)
    query = dict(pairs)
    if len(query) != len(pairs) or not {"subdomain", "location_id"} <= query.keys():
        return None
    if not query.keys() <= {"subdomain", "location_id", "notify_patient"}:
        return None
    subdomain, raw_location = query["subdomain"], query["location_id"]
    if not subdomain or not raw_location.isascii() or not raw_location.isdigit():
        return None
    location_id = int(raw_location)
    notify_patient = _FLAGS.get(query.get("notify_patient", "false"))
    if not 1 <= location_id <= MAX_ID or notify_patient is None:
        return None
    if not _is_json(request.headers.get(b"content-type")):
        return None
    authorization = request.headers.get(b"authorization")
    state = request.state
    principal = await state.principal(
        token_of(authorization.decode("latin-1") if authorization else None), now=time.time()
    )
    tenant = await resolve_tenant(state.db, principal, subdomain)
    # As FastAPI does: JSON decoded first, then the model validated in Python mode.
    body = AppointmentCreate.model_validate(json.loads(request.body), from_attributes=True)
    book = partial(book_appointment, state.db, tenant, body, location_id, notify_patient)

    async def run() -> ExpressResponse:
        return ExpressResponse(201, await book())

    return run


LANE = Lane(frozenset({"/appointments"}), prepare)
