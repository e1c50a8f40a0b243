"""Appointment descriptors: EHR-native appointment types and procedure codes of a location."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from carebook.core.clinic.common import optional_text, required_text
from carebook.core.clinic.locations import require_location
from carebook.core.errors import FieldError, InvalidInput, NotFound
from carebook.db.database import Database
from carebook.db.repositories import clinic as repo
from carebook.db.repositories.pagination import Page, PageRequest
from carebook.db.tables import AppointmentDescriptor


@dataclass(frozen=True)
class DescriptorFields:
    descriptor_type: str
    name: str
    code: str | None = None
    data: dict[str, Any] | None = None
    active: bool = True


async def create_descriptor(
    db: Database, *, institution_id: int, location_id: int, given: DescriptorFields
) -> AppointmentDescriptor:
    errors: list[FieldError] = []
    descriptor_type = required_text(
        errors, "appointment_descriptor.descriptor_type", given.descriptor_type
    )
    name = required_text(errors, "appointment_descriptor.name", given.name)
    if errors:
        raise InvalidInput(errors)

    async def work(session: AsyncSession) -> AppointmentDescriptor:
        await require_location(session, location_id, institution_id=institution_id)
        descriptor = AppointmentDescriptor(
            institution_id=institution_id,
            location_id=location_id,
            descriptor_type=descriptor_type,
            name=name,
            code=optional_text(given.code),
            data=given.data,
            active=given.active,
        )
        return await repo.add(session, descriptor)

    return await db.write(work)


async def get_descriptor(
    db: Database, *, institution_id: int, descriptor_id: int
) -> AppointmentDescriptor:
    async with db.read() as session:
        found = await repo.descriptor_by_id(session, descriptor_id, institution_id=institution_id)
    if found is None:
        raise NotFound("appointment descriptor", descriptor_id)
    return found


async def list_descriptors(
    db: Database,
    *,
    institution_id: int,
    location_id: int,
    page: PageRequest,
    descriptor_type: str | None,
) -> Page[AppointmentDescriptor]:
    async with db.read() as session:
        await require_location(session, location_id, institution_id=institution_id)
        return await repo.page_descriptors(
            session,
            page,
            institution_id=institution_id,
            location_id=location_id,
            descriptor_type=descriptor_type,
        )
