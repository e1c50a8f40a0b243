"""The NexHealth-style API: routes, request/response schemas, the envelope."""

from __future__ import annotations

from fastapi import APIRouter

from carebook.api.nexhealth.routes import appointments, authenticates, institutions


def build_router() -> APIRouter:
    router = APIRouter()
    for module in (authenticates, institutions, appointments):
        router.include_router(module.router)
    return router
