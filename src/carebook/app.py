"""The ASGI application: ``create_app(settings)``; ``carebook.app:app`` for uvicorn."""

from __future__ import annotations

import gc
import json
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from carebook import __version__
from carebook.api import calendar, health, nexhealth
from carebook.api.calendar import express as calendar_express
from carebook.api.calendar import routes as calendar_routes
from carebook.api.kit import body_limit, express
from carebook.api.kit.problems import Dialects, Problem, answered, install_handlers
from carebook.api.kit.state import AppState
from carebook.api.nexhealth import envelope
from carebook.api.nexhealth import express as nexhealth_express
from carebook.config import Settings
from carebook.db.database import Database

DESCRIPTION = """
Carebook keeps providers' calendars, finds free slots and books patients, with no double
bookings and no time-zone mistakes. It speaks two booking APIs over one scheduling core:

* a **NexHealth-style API** (`POST /authenticates`, then `Authorization: Bearer <token>`;
  every response in the envelope `{code, description, error, data, count}`);
* the **Calendar API** of an ASP.NET telehealth product (`POST /api/Calendar/...`), with
  ASP.NET Web API's error shapes.
"""


class CarebookApp(FastAPI):
    """FastAPI, with the booking POSTs offered to the express lane first."""

    express_router: express.ExpressRouter | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":  # bodies are limited before anything reads one
            declared = body_limit.declared_length(scope)
            if declared is None:
                receive = body_limit.limited(receive)
            elif declared > body_limit.MAX_BODY_BYTES:
                await self._too_large(scope, receive, send)
                return
        router = self.express_router
        prepare = router.match(scope) if router is not None else None
        if prepare is None:
            await self._fastapi(scope, receive, send)
            return
        try:
            await express.serve(
                prepare,
                state=getattr(self.state, "carebook", None),
                dialects=self.state.dialects,
                scope=scope,
                receive=receive,
                send=send,
                fallback=self._fastapi,
            )
        except body_limit.BodyTooLarge:  # the lane's own read passed the limit; nothing sent
            await self._too_large(scope, receive, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        problem = Problem(413, body_limit.TOO_LARGE_MESSAGE)
        dialects: Dialects = self.state.dialects
        await dialects.render(Request(scope), problem)(scope, receive, send)

    async def _fastapi(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        except Exception as error:
            if not answered(error):  # logged and answered (500) already: nothing left to do
                raise


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = Database(settings.async_database_url, pool_size=settings.pool_size)
        app.state.carebook = AppState(
            settings=settings, db=db, secret=settings.resolved_secret_key()
        )
        # Everything allocated so far (modules, models, compiled statements) lives as long as
        # the process: move it out of the collector's sight so full collections, triggered by
        # requests that build many objects (a 4,000-slot answer), stay short.
        gc.freeze()
        try:
            yield
        finally:
            await db.dispose()

    app = CarebookApp(
        title="Carebook",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        # A NexHealth path with a trailing slash is no route (404 in the envelope), not a 307 to
        # a URL built from the client's Host header; the Calendar API's routes take the slash
        # themselves, as ASP.NET does (``calendar.routes.AspNetRoute``).
        redirect_slashes=False,
    )
    dialects = Dialects(default=envelope.render)
    dialects.register(calendar.PREFIX, calendar.render)
    install_handlers(app, dialects)
    app.include_router(nexhealth.build_router())
    app.include_router(calendar.build_router())
    app.include_router(health.router)
    app.openapi = _with_413(_without_422(app.openapi))  # type: ignore[method-assign]
    if settings.express:
        app.express_router = express.ExpressRouter([nexhealth_express.LANE, calendar_express.LANE])
    return app


def _without_422(build: Callable[[], dict[str, Any]]) -> Callable[[], dict[str, Any]]:
    """FastAPI documents a 422 on every route, but validation errors are answered as 400 (each
    route declares its 400): drop the 422 entries and the schemas only they used."""

    def openapi() -> dict[str, Any]:
        schema = build()  # built once, then cached by FastAPI; trimming again is a no-op
        for path_item in schema.get("paths", {}).values():
            for operation in path_item.values():
                if isinstance(operation, dict):
                    operation.get("responses", {}).pop("422", None)
        schemas = schema.get("components", {}).get("schemas", {})
        for name in ("HTTPValidationError", "ValidationError"):
            if f'"#/components/schemas/{name}"' not in json.dumps(schema):
                schemas.pop(name, None)
        return schema

    return openapi


_TOO_LARGE = (
    f"The request body is larger than {body_limit.MAX_BODY_BYTES} bytes (answered before "
    "the body is read or the credentials are checked)."
)


def _with_413(build: Callable[[], dict[str, Any]]) -> Callable[[], dict[str, Any]]:
    """Every operation may answer 413 (``api/kit/body_limit``: the app checks every request's
    body before any route sees it): documented on each, in its API's error shape."""

    def openapi() -> dict[str, Any]:
        schema = build()
        nexhealth_error = {
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}
            }
        }
        for path, path_item in schema.get("paths", {}).items():
            shape = calendar_routes.MESSAGE if path.startswith(calendar.PREFIX) else nexhealth_error
            for operation in path_item.values():
                if isinstance(operation, dict) and "responses" in operation:
                    responses = operation["responses"]
                    if "413" not in responses:
                        responses["413"] = {"description": _TOO_LARGE, **shape}
                        operation["responses"] = dict(
                            sorted(responses.items(), key=lambda item: item[0])
                        )
        return schema

    return openapi


def app_from_environment() -> FastAPI:
    """Factory for ``uvicorn --factory`` (each worker process builds its own app)."""
    settings = Settings()
    # CAREBOOK_LOG_LEVEL is uvicorn's level for its loggers; Carebook's own follow it too
    # (uvicorn's "trace", below DEBUG, is DEBUG to the logging module). Other libraries' loggers
    # stay at INFO or above, so "debug" shows Carebook's detail, not every dependency's.
    named = settings.log_level.upper()
    level = logging.DEBUG if named == "TRACE" else logging.getLevelNamesMapping()[named]
    logging.basicConfig(level=max(level, logging.INFO))
    logging.getLogger("carebook").setLevel(level)
    return create_app(settings)
