"""Appointment types in and out."""

from __future__ import annotations

from typing import Annotated, Literal, cast
from uuid import UUID

from pydantic import BaseModel, Field

from carebook.api.nexhealth.schemas.common import Id, NotNull, RequestModel, Str200, UtcInstant
from carebook.core.clinic.appointment_types import (
    MAX_MINUTES,
    AppointmentTypeChanges,
    AppointmentTypeFields,
    AppointmentTypeRecord,
)

Minutes = Annotated[int, Field(ge=1, le=MAX_MINUTES, description="Default length in minutes.")]
ParentType = Literal["Institution", "Location"]
DescriptorIds = Annotated[
    list[Id],
    Field(max_length=100, description="Appointment descriptors booked with this type."),
]


class AppointmentTypeIn(RequestModel):
    name: Str200 = Field(description="Unique in the institution (any case).")
    minutes: Minutes
    parent_type: ParentType = "Institution"
    parent_id: Id | None = Field(
        default=None, description="The location, required when parent_type is Location."
    )
    bookable_online: bool = True
    emr_appt_descriptor_ids: DescriptorIds = Field(default_factory=list)

    def to_core(self) -> AppointmentTypeFields:
        values = self.model_dump()
        values["emr_appt_descriptor_ids"] = tuple(self.emr_appt_descriptor_ids)
        return AppointmentTypeFields(**values)


class AppointmentTypePatchIn(RequestModel):
    """Only the fields sent change; ``emr_appt_descriptor_ids`` replaces the set."""

    name: Annotated[Str200 | None, NotNull] = None
    minutes: Annotated[Minutes | None, NotNull] = None
    parent_type: Annotated[ParentType | None, NotNull] = None
    parent_id: Id | None = None
    bookable_online: Annotated[bool | None, NotNull] = None
    emr_appt_descriptor_ids: Annotated[DescriptorIds | None, NotNull] = None

    def changes(self) -> AppointmentTypeChanges:
        changes = cast(AppointmentTypeChanges, self.model_dump(exclude_unset=True))
        if self.emr_appt_descriptor_ids is not None:
            changes["emr_appt_descriptor_ids"] = tuple(self.emr_appt_descriptor_ids)
        return changes


class AppointmentTypeCreate(RequestModel):
    location_id: Id | None = Field(
        default=None, description="The location acted at; a Location type's parent_id."
    )
    appointment_type: AppointmentTypeIn


class AppointmentTypeUpdate(RequestModel):
    location_id: Id | None = None
    appointment_type: AppointmentTypePatchIn


class AppointmentTypeOut(BaseModel):
    id: int
    guid: UUID = Field(description="The same record's GUID, as the Calendar API names it.")
    name: str
    parent_type: str
    parent_id: int = Field(description="The institution's id, or the location's.")
    minutes: int
    bookable_online: bool
    emr_appt_descriptor_ids: list[int]
    created_at: UtcInstant
    updated_at: UtcInstant


def appointment_type_out(record: AppointmentTypeRecord) -> AppointmentTypeOut:
    row = record.appointment_type
    return AppointmentTypeOut(
        id=row.id,
        guid=row.guid,
        name=row.name,
        parent_type=row.parent_type,
        parent_id=row.parent_id if row.parent_id is not None else row.institution_id,
        minutes=row.minutes,
        bookable_online=row.bookable_online,
        emr_appt_descriptor_ids=list(record.descriptor_ids),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )
