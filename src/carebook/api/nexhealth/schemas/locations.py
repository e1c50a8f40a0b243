"""Locations in and out."""

from __future__ import annotations

from typing import Annotated, cast
from uuid import UUID

from pydantic import BaseModel, Field

from carebook.api.nexhealth.schemas.common import (
    Email,
    NotNull,
    RequestModel,
    Str20,
    Str40,
    Str64,
    Str100,
    Str200,
    UtcInstant,
)
from carebook.core.clinic.locations import LocationChanges, LocationFields
from carebook.db.tables import Location


class LocationIn(RequestModel):
    name: Str200
    tz: Str64 = Field(description="IANA time zone name.", examples=["America/New_York"])
    map_by_operatory: bool = Field(
        default=False, description="Appointments here need an operatory."
    )
    allow_provider_overlap: bool = Field(
        default=False, description="A provider may be booked in overlapping appointments here."
    )
    street_address: Str200 | None = None
    street_address_2: Str200 | None = None
    city: Str100 | None = None
    state: Str100 | None = None
    zip_code: Str20 | None = None
    country_code: Str20 = Field(default="US", description="ISO 3166 two-letter code.")
    phone_number: Str40 | None = None
    email: Email | None = None
    inactive: bool = False

    def to_core(self) -> LocationFields:
        return LocationFields(**self.model_dump())


class LocationPatchIn(RequestModel):
    """Only the fields sent change; a nullable field sent as null is cleared."""

    name: Annotated[Str200 | None, NotNull] = None
    tz: Annotated[Str64 | None, NotNull] = None
    map_by_operatory: Annotated[bool | None, NotNull] = None
    allow_provider_overlap: Annotated[bool | None, NotNull] = None
    street_address: Str200 | None = None
    street_address_2: Str200 | None = None
    city: Str100 | None = None
    state: Str100 | None = None
    zip_code: Str20 | None = None
    country_code: Annotated[Str20 | None, NotNull] = None
    phone_number: Str40 | None = None
    email: Email | None = None
    inactive: Annotated[bool | None, NotNull] = None

    def changes(self) -> LocationChanges:
        return cast(LocationChanges, self.model_dump(exclude_unset=True))


class LocationCreate(RequestModel):
    location: LocationIn


class LocationUpdate(RequestModel):
    location: LocationPatchIn


class LocationOut(BaseModel):
    id: int
    guid: UUID = Field(description="The same record's GUID, as the Calendar API names it.")
    name: str
    institution_id: int
    street_address: str | None
    street_address_2: str | None
    city: str | None
    state: str | None
    zip_code: str | None
    country_code: str
    phone_number: str | None
    email: str | None
    tz: str
    map_by_operatory: bool
    allow_provider_overlap: bool
    inactive: bool
    foreign_id: str | None
    foreign_id_type: str | None
    last_sync_time: UtcInstant | None
    created_at: UtcInstant
    updated_at: UtcInstant


def location_out(row: Location) -> LocationOut:
    return LocationOut.model_validate(row, from_attributes=True)
