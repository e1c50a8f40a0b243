"""Operatories: the chairs and rooms of a location."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import TypedDict

from sqlalchemy.ext.asyncio import AsyncSession

from carebook.core.clinic.common import optional_text, required_text
from carebook.core.clinic.locations import require_location
from carebook.core.errors import FieldError, InvalidInput, NotFound
from carebook.db.database import Database
from carebook.db.repositories import clinic as repo
from carebook.db.repositories.pagination import Page, PageRequest
from carebook.db.tables import Operatory


@dataclass(frozen=True)
class OperatoryFields:
    name: str
    display_name: str | None = None
    bookable_online: bool = True
    active: bool = True


class OperatoryChanges(TypedDict, total=False):
    name: str
    display_name: str | None
    bookable_online: bool
    active: bool


def _validated(given: OperatoryFields) -> OperatoryFields:
    errors: list[FieldError] = []
    name = required_text(errors, "operatory.name", given.name)
    if errors:
        raise InvalidInput(errors)
    return replace(given, name=name, display_name=optional_text(given.display_name))


async def _require(session: AsyncSession, operatory_id: int, *, institution_id: int) -> Operatory:
    operatory = await repo.operatory_by_id(session, operatory_id, institution_id=institution_id)
    if operatory is None:
        raise NotFound("operatory", operatory_id)
    return operatory


async def create_operatory(
    db: Database, *, institution_id: int, location_id: int, given: OperatoryFields
) -> Operatory:
    values = _validated(given)

    async def work(session: AsyncSession) -> Operatory:
        await require_location(session, location_id, institution_id=institution_id)
        operatory = Operatory(
            institution_id=institution_id, location_id=location_id, **asdict(values)
        )
        return await repo.add(session, operatory)

    return await db.write(work)


async def update_operatory(
    db: Database, *, institution_id: int, operatory_id: int, changes: OperatoryChanges
) -> Operatory:
    async def work(session: AsyncSession) -> Operatory:
        operatory = await _require(session, operatory_id, institution_id=institution_id)
        current = OperatoryFields(
            name=operatory.name,
            display_name=operatory.display_name,
            bookable_online=operatory.bookable_online,
            active=operatory.active,
        )
        for name, value in asdict(_validated(replace(current, **changes))).items():
            setattr(operatory, name, value)
        await repo.flush(session)
        return operatory

    return await db.write(work)


async def get_operatory(db: Database, *, institution_id: int, operatory_id: int) -> Operatory:
    async with db.read() as session:
        return await _require(session, operatory_id, institution_id=institution_id)


async def list_operatories(
    db: Database,
    *,
    institution_id: int,
    location_id: int,
    page: PageRequest,
    search_name: str | None,
    active: bool | None,
) -> Page[Operatory]:
    async with db.read() as session:
        await require_location(session, location_id, institution_id=institution_id)
        return await repo.page_operatories(
            session,
            page,
            institution_id=institution_id,
            location_id=location_id,
            search_name=search_name,
            active=active,
        )
