"""Appointment descriptors in and out."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from carebook.api.nexhealth.schemas.common import (
    JsonObject,
    RequestModel,
    Str50,
    Str200,
    UtcInstant,
)
from carebook.core.clinic.descriptors import DescriptorFields
from carebook.db.tables import AppointmentDescriptor


class DescriptorIn(RequestModel):
    descriptor_type: Str50 = Field(examples=["Procedure Code", "Appointment Type"])
    name: Str200
    code: Str50 | None = Field(default=None, examples=["D1110"])
    data: JsonObject | None = Field(default=None, description="EHR-specific data, kept.")
    active: bool = True

    def to_core(self) -> DescriptorFields:
        return DescriptorFields(**self.model_dump())


class DescriptorCreate(RequestModel):
    appointment_descriptor: DescriptorIn


class DescriptorOut(BaseModel):
    id: int
    descriptor_type: str
    name: str
    code: str | None
    location_id: int
    foreign_id: str | None
    foreign_id_type: str | None
    data: dict[str, Any] | None
    active: bool
    last_sync_time: UtcInstant | None
    created_at: UtcInstant
    updated_at: UtcInstant


def descriptor_out(row: AppointmentDescriptor) -> DescriptorOut:
    return DescriptorOut.model_validate(row, from_attributes=True)
