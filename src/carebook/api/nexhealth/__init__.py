"""The NexHealth-style API: routes, request/response schemas, the envelope."""

from __future__ import annotations

from fastapi import APIRouter

from carebook.api.nexhealth.routes import (
    appointment_types,
    appointments,
    authenticates,
    closures,
    descriptors,
    institutions,
    locations,
    operatories,
    patients,
    procedures,
    providers,
    slots,
    telehealth,
    working_hours,
)


def build_router() -> APIRouter:
    router = APIRouter()
    for module in (
        authenticates,
        institutions,
        appointments,
        locations,
        providers,
        operatories,
        patients,
        appointment_types,
        descriptors,
        procedures,
        working_hours,
        closures,
        slots,
        telehealth,
    ):
        router.include_router(module.router)
    return router
