"""The ASGI application: ``create_app(settings)``; ``carebook.app:app`` for uvicorn."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from carebook import __version__
from carebook.api import calendar, nexhealth
from carebook.api.kit.problems import Dialects, install_handlers
from carebook.api.kit.state import AppState
from carebook.api.nexhealth import envelope
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


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = Database(settings.async_database_url, pool_size=settings.pool_size)
        app.state.carebook = AppState(
            settings=settings, db=db, secret=settings.resolved_secret_key()
        )
        try:
            yield
        finally:
            await db.dispose()

    app = FastAPI(
        title="Carebook",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    dialects = Dialects(default=envelope.render)
    dialects.register(calendar.PREFIX, calendar.render)
    install_handlers(app, dialects)
    app.include_router(nexhealth.build_router())
    app.include_router(calendar.build_router())
    return app


def app_from_environment() -> FastAPI:
    """Factory for ``uvicorn --factory`` (each worker process builds its own app)."""
    logging.basicConfig(level=logging.INFO)
    return create_app(Settings())
