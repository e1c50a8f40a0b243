"""Procedures: coded work planned or done for a patient, optionally tied to an appointment."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from carebook.core.clinic.common import required_text
from carebook.core.clinic.locations import require_location
from carebook.core.errors import FieldError, InvalidInput, NotFound
from carebook.db.database import Database
from carebook.db.repositories import clinic as repo
from carebook.db.repositories.pagination import Page, PageRequest
from carebook.db.tables import Procedure

STATUSES = ("planned", "scheduled", "completed", "inactive", "referred")
MAX_FEE = Decimal("9999999999.99")


@dataclass(frozen=True)
class ProcedureFields:
    patient_id: int
    code: str
    name: str
    status: str
    provider_id: int | None = None
    appointment_id: int | None = None
    location_id: int | None = None
    body_site: dict[str, Any] | None = None
    fee_amount: Decimal | None = None
    fee_currency: str | None = None
    start_date: date | None = None
    end_date: date | None = None


@dataclass(frozen=True)
class ProcedureFilters:
    patient_id: int | None = None
    provider_id: int | None = None
    appointment_id: int | None = None
    location_id: int | None = None


def _check(given: ProcedureFields) -> tuple[str, str]:
    errors: list[FieldError] = []
    code = required_text(errors, "procedure.code", given.code)
    name = required_text(errors, "procedure.name", given.name)
    if given.status not in STATUSES:
        errors.append(FieldError("procedure.status", f"must be one of {', '.join(STATUSES)}"))
    if given.fee_amount is not None and not Decimal(0) <= given.fee_amount <= MAX_FEE:
        errors.append(FieldError("procedure.fee.amount", f"must be between 0 and {MAX_FEE}"))
    if given.start_date and given.end_date and given.end_date < given.start_date:
        errors.append(FieldError("procedure.end_date", "must not be before start_date"))
    if errors:
        raise InvalidInput(errors)
    return code, name


async def create_procedure(
    db: Database, *, institution_id: int, given: ProcedureFields
) -> Procedure:
    """A procedure of a patient; its location is the one given, else the appointment's."""
    code, name = _check(given)

    async def work(session: AsyncSession) -> Procedure:
        patient = await repo.patient_by_id(session, given.patient_id, institution_id=institution_id)
        if patient is None:
            raise NotFound("patient", given.patient_id)
        if given.provider_id is not None and (
            await repo.provider_by_id(session, given.provider_id, institution_id=institution_id)
            is None
        ):
            raise NotFound("provider", given.provider_id)
        location_id = given.location_id
        if location_id is not None:
            await require_location(session, location_id, institution_id=institution_id)
        if given.appointment_id is not None:
            appointment = await repo.appointment_by_id(
                session, given.appointment_id, institution_id=institution_id
            )
            if appointment is None:
                raise NotFound("appointment", given.appointment_id)
            if appointment.patient_id != patient.id:
                raise InvalidInput.one(
                    "procedure.appointment_id",
                    f"appointment {appointment.id} is not patient {patient.id}'s",
                )
            if location_id is not None and location_id != appointment.location_id:
                raise InvalidInput.one(
                    "procedure.location_id",
                    f"appointment {appointment.id} is at location {appointment.location_id}",
                )
            location_id = appointment.location_id
        procedure = Procedure(
            institution_id=institution_id,
            location_id=location_id,
            patient_id=patient.id,
            provider_id=given.provider_id,
            appointment_id=given.appointment_id,
            code=code,
            name=name,
            status=given.status,
            body_site=given.body_site,
            fee_amount=given.fee_amount,
            fee_currency=given.fee_currency if given.fee_amount is not None else None,
            start_date=given.start_date,
            end_date=given.end_date,
        )
        return await repo.add(session, procedure)

    return await db.write(work)


async def get_procedure(db: Database, *, institution_id: int, procedure_id: int) -> Procedure:
    async with db.read() as session:
        found = await repo.procedure_by_id(session, procedure_id, institution_id=institution_id)
    if found is None:
        raise NotFound("procedure", procedure_id)
    return found


async def list_procedures(
    db: Database, *, institution_id: int, page: PageRequest, filters: ProcedureFilters
) -> Page[Procedure]:
    """Procedures matching every filter given; at least one of patient, provider or appointment
    is required (``location_id`` only narrows), as NexHealth requires."""
    if (
        filters.patient_id is None
        and filters.provider_id is None
        and filters.appointment_id is None
    ):
        raise InvalidInput.one(
            "patient_id", "give at least one of patient_id, provider_id or appointment_id"
        )
    async with db.read() as session:
        return await repo.page_procedures(
            session,
            page,
            institution_id=institution_id,
            patient_id=filters.patient_id,
            provider_id=filters.provider_id,
            appointment_id=filters.appointment_id,
            location_id=filters.location_id,
        )
