"""``POST /api/Calendar/PatientAppointmentPost`` (and its twin ``..._v1``): translation only.

Routes match as ASP.NET matches them: the path without regard to case, a trailing slash allowed.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.routing import APIRoute
from starlette.routing import Match
from starlette.types import Scope

from carebook.api.calendar import PREFIX
from carebook.api.calendar.model import FIELDS, FORM_TYPE, JSON_TYPES, REQUIRED, read_model
from carebook.api.calendar.schedule import Schedule, schedule_json
from carebook.api.kit.auth import PrincipalDep
from carebook.api.kit.state import DatabaseDep
from carebook.core import telehealth
from carebook.core.auth import Principal
from carebook.core.telehealth import CalendarBooking
from carebook.db.database import Database


class AspNetRoute(APIRoute):
    """A route whose (parameterless) path matches case-insensitively, with or without a trailing
    slash: the request is matched as if it had used the route's own spelling."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope.get("type") == "http":
            path: str = scope["path"]
            root: str = scope.get("root_path", "")
            if root and path.startswith(root):
                path = path[len(root) :]
            if path != self.path and path.rstrip("/").lower() == self.path.lower():
                scope = {**scope, "path": self.path, "root_path": ""}
        return super().matches(scope)


router = APIRouter(route_class=AspNetRoute, tags=["Calendar"])

_KINDS: dict[str, dict[str, Any]] = {
    "guid": {"type": "string", "format": "uuid"},
    "date": {"type": "string", "format": "date-time"},
    "decimal": {"type": "number"},
    "integer": {"type": "integer", "format": "int32"},
    "string": {"type": "string"},
    "reasons": {
        "type": "array",
        "items": {
            "type": "object",
            "properties": {"ReasonId": {"type": "string", "format": "uuid"}},
        },
    },
}
_LENGTHS = {"Reason": 250, "Note": 1000}
_MODEL_SCHEMA = {
    "title": "AppointmentModel",
    "type": "object",
    "required": list(REQUIRED),
    "properties": {
        name: {**_KINDS[kind], **({"maxLength": _LENGTHS[name]} if name in _LENGTHS else {})}
        for name, kind in FIELDS
    },
}
_BODY = {
    "requestBody": {
        "required": True,
        "content": {media: {"schema": _MODEL_SCHEMA} for media in (*JSON_TYPES, FORM_TYPE)},
    }
}
# The body of every error answer (ASP.NET's HttpError).
MESSAGE: dict[str, Any] = {
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {
                    "Message": {"type": "string"},
                    "ModelState": {
                        "type": "object",
                        "additionalProperties": {"type": "array", "items": {"type": "string"}},
                    },
                },
                "required": ["Message"],
            }
        }
    }
}
# An outage (not a bug): the request may be sent again (a booking that was stored just as the
# connection was lost then answers 409, naming it).
UNAVAILABLE: dict[str, Any] = {
    "description": "The database is unavailable: send the request again after Retry-After seconds.",
    "headers": {
        "Retry-After": {
            "description": "Seconds to wait before trying again.",
            "schema": {"type": "integer"},
        }
    },
    **MESSAGE,
}
_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "Invalid model: ModelState lists every failing field.", **MESSAGE},
    401: {"description": "Missing or invalid bearer token.", **MESSAGE},
    403: {
        "description": "The token does not reach the account, or the user that patient.",
        **MESSAGE,
    },
    404: {"description": "An id not found in the account.", **MESSAGE},
    409: {"description": "The time overlaps another booking (named).", **MESSAGE},
    415: {"description": "A body that is not JSON or a form.", **MESSAGE},
    503: UNAVAILABLE,
}


async def _book(request: Request, principal: PrincipalDep, db: DatabaseDep) -> Response:
    given = await read_model(request)
    return Response(await book_schedule(db, principal, given), media_type="application/json")


async def book_schedule(db: Database, principal: Principal, given: CalendarBooking) -> bytes:
    """Book ``given`` and answer the ``Schedule``'s JSON: the one translation both the route
    and the express lane (:mod:`carebook.api.calendar.express`) use."""
    booked = await telehealth.book_appointment(db, principal, given)
    return schedule_json(booked)


ACTIONS = (
    ("PatientAppointmentPost", "Patient Book Appointment"),
    ("PatientAppointmentPost_v1", "Patient Book Appointment (v1, same behaviour)"),
)
for _action, _summary in ACTIONS:
    router.add_api_route(
        f"{PREFIX}/{_action}",
        _book,
        methods=["POST"],
        response_model=Schedule,
        responses=_RESPONSES,
        summary=_summary,
        name=_action,
        openapi_extra=_BODY,
    )
