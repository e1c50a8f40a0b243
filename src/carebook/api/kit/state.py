"""Per-app state reached from requests: settings, database, signing secret."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from carebook.config import Settings
from carebook.db.database import Database


@dataclass
class AppState:
    settings: Settings
    db: Database
    secret: str


def get_app_state(request: Request) -> AppState:
    state: AppState = request.app.state.carebook
    return state


def get_db(request: Request) -> Database:
    return get_app_state(request).db


StateDep = Annotated[AppState, Depends(get_app_state)]
DatabaseDep = Annotated[Database, Depends(get_db)]
