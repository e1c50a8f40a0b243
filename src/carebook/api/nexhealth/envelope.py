"""NexHealth's response envelope: ``{code, description, error, data, count}`` on every answer."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Generic, TypeVar

from fastapi import Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from carebook.api.kit.problems import Problem

T = TypeVar("T")


class PageInfo(BaseModel):
    has_previous_page: bool
    has_next_page: bool
    start_cursor: str | None
    end_cursor: str | None


class Envelope(BaseModel, Generic[T]):
    model_config = ConfigDict(title="Envelope")

    code: bool = True
    description: str | None = None
    error: list[str] | None = None
    data: T
    count: int | None = None


class PagedEnvelope(Envelope[T], Generic[T]):
    page_info: PageInfo


class ErrorEnvelope(BaseModel):
    """Every failure: ``code`` false, the reasons in ``error``, ``data`` null."""

    code: bool = False
    description: str | None = None
    error: list[str]
    data: None = None
    count: None = None


def ignored_parameters(names: Iterable[str]) -> str | None:
    """The note naming the parameters a request gave and the route does not take, as NexHealth
    words it; None when there are none."""
    ignored = sorted(set(names))
    return f"Note that following parameters are ignored: {', '.join(ignored)}." if ignored else None


def describe(description: str | None, ignored: Iterable[str]) -> str | None:
    """A success answer's description: the route's own (``Closure created``), then the note
    naming the ``ignored`` parameters (``deps.ignored_query``), one sentence after the other."""
    note = ignored_parameters(ignored)
    if note is None or description is None:
        return note or description
    return f"{description}. {note}"


def ok(
    data: T,
    *,
    count: int | None = None,
    description: str | None = None,
    ignored: Iterable[str] = (),
) -> Envelope[T]:
    if ignored:
        description = describe(description, ignored)
    # ``Envelope[T]`` is Envelope itself, but looking that up costs a few µs on every answer.
    return Envelope(data=data, count=count, description=description)


def respond(envelope: BaseModel, *, status_code: int = 200) -> Response:
    """Serialise an envelope straight to JSON bytes (pydantic-core, one pass).

    Routes still declare ``response_model`` for the OpenAPI document; returning a ready
    ``Response`` skips FastAPI's second validation of a model we just built.
    """
    return Response(
        content=envelope.model_dump_json(), status_code=status_code, media_type="application/json"
    )


def render(_request: Request, problem: Problem) -> Response:
    body = ErrorEnvelope(description=problem.message, error=problem.messages)
    return JSONResponse(body.model_dump(), status_code=problem.status, headers=problem.headers)


_DESCRIPTIONS = {
    400: "Malformed input: the messages in `error` name each failing field.",
    401: "Missing, invalid or expired credentials.",
    403: "The key does not reach this institution.",
    404: "No such record in this institution (or location).",
    409: "The request clashes with the current state (for example an overlapping booking).",
    500: "A bug; the envelope is still returned.",
    503: "The database is unavailable (an outage, not a bug): send the request again after "
    "`Retry-After` seconds. Should the connection have been lost just as a booking was stored, "
    "the retry answers 409 naming that booking.",
}
RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer"},
    }
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the error statuses a route can answer."""
    wanted = statuses or (400, 401, 403, 404)
    responses: dict[int | str, dict[str, Any]] = {
        status: {"model": ErrorEnvelope, "description": _DESCRIPTIONS[status]}
        for status in (*wanted, 500, 503)
    }
    responses[503]["headers"] = RETRY_AFTER
    return responses
