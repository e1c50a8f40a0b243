"""Operatories in and out."""

from __future__ import annotations

from typing import Annotated, cast
from uuid import UUID

from pydantic import BaseModel, Field

from carebook.api.nexhealth.schemas.common import NotNull, RequestModel, Str200, UtcInstant
from carebook.core.clinic.operatories import OperatoryChanges, OperatoryFields
from carebook.db.tables import Operatory


class OperatoryIn(RequestModel):
    name: Str200
    display_name: Str200 | None = None
    bookable_online: bool = True
    active: bool = True

    def to_core(self) -> OperatoryFields:
        return OperatoryFields(**self.model_dump())


class OperatoryPatchIn(RequestModel):
    """Only the fields sent change; ``display_name`` sent as null is cleared."""

    name: Annotated[Str200 | None, NotNull] = None
    display_name: Str200 | None = None
    bookable_online: Annotated[bool | None, NotNull] = None
    active: Annotated[bool | None, NotNull] = None

    def changes(self) -> OperatoryChanges:
        return cast(OperatoryChanges, self.model_dump(exclude_unset=True))


class OperatoryCreate(RequestModel):
    operatory: OperatoryIn


class OperatoryUpdate(RequestModel):
    operatory: OperatoryPatchIn


class OperatoryOut(BaseModel):
    id: int
    guid: UUID = Field(description="The same record's GUID, as the Calendar API names it.")
    name: str
    display_name: str | None
    location_id: int
    institution_id: int
    active: bool
    bookable_online: bool
    foreign_id: str | None
    foreign_id_type: str | None
    last_sync_time: UtcInstant | None
    created_at: UtcInstant
    updated_at: UtcInstant


def operatory_out(row: Operatory) -> OperatoryOut:
    return OperatoryOut.model_validate(row, from_attributes=True)
