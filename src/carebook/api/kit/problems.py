"""Errors, normalised once, rendered by each API dialect in its own shape.

Every failure (a typed domain error, a request FastAPI could not parse, an unknown route, a bug)
becomes a :class:`Problem`; the dialect that owns the request path renders it. A 500 is a bug, but
even then the client gets its API's error shape.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from carebook.api.kit.auth import current_principal, requires_principal
from carebook.core.errors import (
    Conflict,
    DomainError,
    FieldError,
    Forbidden,
    InvalidInput,
    NotFound,
    Unauthorized,
    Unavailable,
)

logger = logging.getLogger("carebook.api")


@dataclass
class Problem:
    status: int
    message: str
    field_errors: list[FieldError] = field(default_factory=list)
    headers: dict[str, str] | None = None

    @property
    def messages(self) -> list[str]:
        if self.field_errors:
            return [f"{e.field}: {e.message}" for e in self.field_errors]
        return [self.message]


Renderer = Callable[[Request, Problem], Response]


class Dialects:
    """Which renderer owns which path prefix (case-insensitive, longest prefix wins)."""

    def __init__(self, default: Renderer) -> None:
        self._default = default
        self._prefixes: list[tuple[str, Renderer]] = []

    def register(self, prefix: str, render: Renderer) -> None:
        self._prefixes.append((prefix.lower(), render))
        self._prefixes.sort(key=lambda item: len(item[0]), reverse=True)

    def render(self, request: Request, problem: Problem) -> Response:
        path = request.url.path.lower()
        for prefix, render in self._prefixes:
            if path.startswith(prefix):
                return render(request, problem)
        return self._default(request, problem)


def render_problem(request: Request, problem: Problem) -> Response:
    dialects: Dialects = request.app.state.dialects
    return dialects.render(request, problem)


def problem_from_domain(error: DomainError) -> Problem:
    if isinstance(error, InvalidInput):
        return Problem(400, error.message, list(error.errors))
    if isinstance(error, Unauthorized):
        return Problem(401, error.message)
    if isinstance(error, Forbidden):
        return Problem(403, error.message)
    if isinstance(error, NotFound):
        return Problem(404, error.message)
    if isinstance(error, Conflict):
        return Problem(409, error.message)
    if isinstance(error, Unavailable):
        return Problem(503, error.message, headers={"Retry-After": str(error.retry_after)})
    return Problem(400, error.message)


def _printable(text: str) -> str:
    """``text`` with any lone surrogate escaped (``\\ud800``): client text named in an answer
    (a field's name is a key of the body) must be text every JSON encoder writes."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _loc_to_field(loc: Sequence[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    if not parts and loc:
        return _printable(str(loc[0]))
    return _printable(".".join(parts))


def _validation_message(error: dict[str, Any]) -> str:
    kind = error.get("type", "")
    if kind == "missing":
        return "is required"
    if kind == "json_invalid":
        return "the body is not valid JSON"
    if kind == "extra_forbidden":
        return "is not a known field"
    if kind == "string_unicode" and isinstance(error.get("input"), str):
        # pydantic's ``str`` refuses text with a lone surrogate (JSON's "\\ud800")
        return "must not contain unpaired surrogates"
    message = _printable(str(error.get("msg", "is invalid")))
    return message[:1].lower() + message[1:]


def field_errors_from_validation(errors: Sequence[Any]) -> list[FieldError]:
    result: list[FieldError] = []
    for error in errors:
        loc = error.get("loc", ())
        if error.get("type") == "json_invalid":
            result.append(FieldError("body", "the body is not valid JSON"))
            continue
        result.append(FieldError(_loc_to_field(loc) or "body", _validation_message(error)))
    return result


# Set on an exception once it has been logged and answered with a 500 (see :func:`answered`).
_ANSWERED = "_carebook_answered"


def answered(error: BaseException) -> bool:
    """Whether the app's 500 handler has already logged ``error`` and answered the request.

    Starlette's ServerErrorMiddleware raises the exception again after its handler has
    answered, so that the server logs it; the handler logs it already (with the method and
    path), so the app stops it there instead of having every failure logged twice."""
    return getattr(error, _ANSWERED, False) is True


def install_handlers(app: FastAPI, dialects: Dialects) -> None:
    app.state.dialects = dialects

    async def on_domain(request: Request, error: Exception) -> Response:
        assert isinstance(error, DomainError)
        return render_problem(request, problem_from_domain(error))

    async def on_validation(request: Request, error: Exception) -> Response:
        assert isinstance(error, RequestValidationError)
        # FastAPI reads a JSON body before it authenticates: a caller without a valid token
        # hears that first, as for any other body.
        route = request.scope.get("route")
        dependant = getattr(route, "dependant", None)
        if dependant is not None and requires_principal(dependant):
            try:
                await current_principal(request)
            except Unauthorized as refused:
                return render_problem(request, problem_from_domain(refused))
        fields = field_errors_from_validation(error.errors())
        return render_problem(request, Problem(400, "the request is invalid", fields))

    async def on_http(request: Request, error: Exception) -> Response:
        assert isinstance(error, StarletteHTTPException)
        message = {
            404: f"no route for {request.method} {request.url.path}",
            405: f"{request.method} is not allowed on {request.url.path}",
        }.get(error.status_code, str(error.detail))
        headers = dict(error.headers) if error.headers else None
        return render_problem(request, Problem(error.status_code, message, headers=headers))

    async def on_bug(request: Request, error: Exception) -> Response:
        logger.exception("unhandled error on %s %s", request.method, request.url.path)
        setattr(error, _ANSWERED, True)
        return render_problem(request, Problem(500, "internal server error"))

    app.add_exception_handler(DomainError, on_domain)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_bug)
