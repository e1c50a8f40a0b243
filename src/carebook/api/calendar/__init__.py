"""The Calendar API of an ASP.NET telehealth product (``api/Calendar/...``)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from carebook.api.kit.problems import Problem

PREFIX = "/api/Calendar"


def render(_request: Request, problem: Problem) -> Response:
    """ASP.NET Web API's error shapes: ``{"Message"}``, plus ``ModelState`` for a 400."""
    if problem.status == 400 and problem.field_errors:
        model_state: dict[str, list[str]] = {}
        for error in problem.field_errors:
            key = error.field if error.field.startswith("model") else f"model.{error.field}"
            model_state.setdefault(key, []).append(error.message)
        body: dict[str, object] = {"Message": "The request is invalid.", "ModelState": model_state}
    else:
        body = {"Message": problem.message}
    return JSONResponse(body, status_code=problem.status, headers=problem.headers)


def build_router() -> APIRouter:
    """Booking (``routes``) and slot search (``slots``); imported here, as they import PREFIX."""
    from carebook.api.calendar import routes, slots

    router = APIRouter()
    router.include_router(routes.router)
    router.include_router(slots.router)
    return router
