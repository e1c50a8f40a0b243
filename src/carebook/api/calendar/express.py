"""``POST /api/Calendar/PatientAppointmentPost`` (and ``_v1``) in the express lane
(:mod:`carebook.api.kit.express`).

Takes a JSON body (``application/json`` or ``text/json``) that parses as a valid
``AppointmentModel`` with a bearer token that verifies; anything else (a form body, a field that
fails, no token) goes to the FastAPI route, which answers it.
"""

from __future__ import annotations

import time
from functools import partial

from carebook.api.calendar import PREFIX
from carebook.api.calendar.model import JSON_TYPES, parse_model
from carebook.api.calendar.routes import ACTIONS, book_schedule
from carebook.api.kit.auth import token_of
from carebook.api.kit.express import ExpressRequest, ExpressResponse, Lane, Run

_JSON = {media.encode() for media in JSON_TYPES}


async def prepare(request: ExpressRequest) -> Run | None:
    content_type = request.headers.get(b"content-type")
    if content_type is None or content_type.split(b";", 1)[0].strip().lower() not in _JSON:
        return None
    authorization = request.headers.get(b"authorization")
    state = request.state
    principal = await state.principal(
        token_of(authorization.decode("latin-1") if authorization else None), now=time.time()
    )
    given = parse_model(content_type.decode("latin-1"), request.body)
    book = partial(book_schedule, state.db, principal, given)

    async def run() -> ExpressResponse:
        return ExpressResponse(200, await book())

    return run


LANE = Lane(
    frozenset(f"{PREFIX}/{action}" for action, _ in ACTIONS), prepare, case_insensitive=True
)
