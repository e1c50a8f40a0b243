"""Per-app state reached from requests: settings, database, signing secret."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request

from carebook.config import Settings
from carebook.core.auth import Principal, TokenCache
from carebook.core.tenancy import LiveKeys
from carebook.db.database import Database


@dataclass
class AppState:
    settings: Settings
    db: Database
    secret: str
    tokens: TokenCache = field(init=False)
    live_keys: LiveKeys = field(init=False)

    def __post_init__(self) -> None:
        self.tokens = TokenCache(secret=self.secret, admin_key=self.settings.admin_api_key)
        self.live_keys = LiveKeys(self.db)

    async def principal(self, token: str, *, now: float) -> Principal:
        """Who a bearer token speaks for: its signature, expiry and admin key checked, and its
        API key still not revoked."""
        principal = self.tokens.principal(token, now=now)
        await self.live_keys.ensure_live(principal, now=now)
        return principal


def get_app_state(request: Request) -> AppState:
    state: AppState = request.app.state.carebook
    return state


async def get_db(request: Request) -> Database:
    return get_app_state(request).db


async def app_state(request: Request) -> AppState:
    """The dependency form (``async`` so FastAPI does not hop to its thread pool for it)."""
    return get_app_state(request)


StateDep = Annotated[AppState, Depends(app_state)]
DatabaseDep = Annotated[Database, Depends(get_db)]
