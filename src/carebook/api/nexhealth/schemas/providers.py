"""Providers in and out."""

from __future__ import annotations

from typing import Annotated, Any, cast
from uuid import UUID

from pydantic import BaseModel, Field

from carebook.api.nexhealth.schemas.common import (
    Email,
    Id,
    JsonObject,
    NotNull,
    RequestModel,
    Str20,
    Str50,
    Str64,
    Str100,
    Str200,
    UtcInstant,
)
from carebook.api.nexhealth.schemas.locations import LocationOut, location_out
from carebook.core.clinic.providers import ProviderChanges, ProviderFields, ProviderRecord

LocationIds = Annotated[
    list[Id],
    Field(max_length=1000, description="The locations the provider works at (replaces the set)."),
]


class ProviderIn(RequestModel):
    first_name: Str100
    middle_name: Str100 | None = None
    last_name: Str100
    display_name: Str200 | None = None
    email: Email | None = None
    npi: Str20 | None = Field(default=None, description="National Provider Identifier: 10 digits.")
    specialty_code: Str50 | None = None
    tz: Str64 | None = Field(
        default=None, description="IANA zone; empty means the zone of the provider's location."
    )
    bio: JsonObject = Field(default_factory=dict)
    inactive: bool = False
    location_ids: LocationIds = Field(default_factory=list)

    def to_core(self) -> ProviderFields:
        values = self.model_dump()
        values["location_ids"] = tuple(self.location_ids)
        return ProviderFields(**values)


class ProviderPatchIn(RequestModel):
    """Only the fields sent change; a nullable field sent as null is cleared."""

    first_name: Annotated[Str100 | None, NotNull] = None
    middle_name: Str100 | None = None
    last_name: Annotated[Str100 | None, NotNull] = None
    display_name: Str200 | None = None
    email: Email | None = None
    npi: Str20 | None = None
    specialty_code: Str50 | None = None
    tz: Str64 | None = None
    bio: Annotated[JsonObject | None, NotNull] = None
    inactive: Annotated[bool | None, NotNull] = None
    location_ids: Annotated[LocationIds | None, NotNull] = None

    def changes(self) -> ProviderChanges:
        changes = cast(ProviderChanges, self.model_dump(exclude_unset=True))
        if self.location_ids is not None:
            changes["location_ids"] = tuple(self.location_ids)
        return changes


class ProviderCreate(RequestModel):
    provider: ProviderIn


class ProviderUpdate(RequestModel):
    provider: ProviderPatchIn


class ProviderOut(BaseModel):
    id: int
    guid: UUID = Field(description="The same record's GUID, as the Calendar API names it.")
    email: str | None
    first_name: str
    middle_name: str | None
    last_name: str
    name: str
    created_at: UtcInstant
    updated_at: UtcInstant
    institution_id: int
    foreign_id: str | None
    foreign_id_type: str | None
    bio: dict[str, Any]
    inactive: bool
    last_sync_time: UtcInstant | None
    display_name: str | None
    npi: str | None
    specialty_code: str | None
    tz: str | None
    locations: list[LocationOut]


def full_name(first: str, middle: str | None, last: str) -> str:
    return " ".join(part for part in (first, middle, last) if part)


def provider_out(record: ProviderRecord) -> ProviderOut:
    provider = record.provider
    return ProviderOut(
        id=provider.id,
        guid=provider.guid,
        email=provider.email,
        first_name=provider.first_name,
        middle_name=provider.middle_name,
        last_name=provider.last_name,
        name=full_name(provider.first_name, provider.middle_name, provider.last_name),
        created_at=provider.created_at,
        updated_at=provider.updated_at,
        institution_id=provider.institution_id,
        foreign_id=provider.foreign_id,
        foreign_id_type=provider.foreign_id_type,
        bio=dict(provider.bio or {}),
        inactive=provider.inactive,
        last_sync_time=provider.last_sync_time,
        display_name=provider.display_name,
        npi=provider.npi,
        specialty_code=provider.specialty_code,
        tz=provider.tz,
        locations=[location_out(location) for location in record.locations],
    )
