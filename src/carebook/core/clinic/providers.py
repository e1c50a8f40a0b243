"""Providers and the locations they work at."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, TypedDict

from sqlalchemy.ext.asyncio import AsyncSession

from carebook.core.clinic.common import (
    check_email,
    check_zone,
    map_page,
    optional_text,
    require_all,
    required_text,
)
from carebook.core.errors import FieldError, InvalidInput, NotFound
from carebook.db.database import Database
from carebook.db.repositories import clinic as repo
from carebook.db.repositories.pagination import Page, PageRequest
from carebook.db.tables import Location, Provider


@dataclass(frozen=True)
class ProviderFields:
    first_name: str
    last_name: str
    middle_name: str | None = None
    display_name: str | None = None
    email: str | None = None
    npi: str | None = None
    specialty_code: str | None = None
    tz: str | None = None
    bio: dict[str, Any] = field(default_factory=dict)
    inactive: bool = False
    location_ids: tuple[int, ...] = ()


class ProviderChanges(TypedDict, total=False):
    """A partial update: only the keys given change; ``location_ids`` replaces the set."""

    first_name: str
    last_name: str
    middle_name: str | None
    display_name: str | None
    email: str | None
    npi: str | None
    specialty_code: str | None
    tz: str | None
    bio: dict[str, Any]
    inactive: bool
    location_ids: tuple[int, ...]


@dataclass(frozen=True)
class ProviderRecord:
    provider: Provider
    locations: list[Location]


def _validated(given: ProviderFields) -> ProviderFields:
    errors: list[FieldError] = []
    first_name = required_text(errors, "provider.first_name", given.first_name)
    last_name = required_text(errors, "provider.last_name", given.last_name)
    email = check_email(errors, "provider.email", given.email)
    npi = optional_text(given.npi)
    if npi is not None and not (len(npi) == 10 and npi.isascii() and npi.isdigit()):
        errors.append(FieldError("provider.npi", "must be 10 digits"))
    check_zone(errors, "provider.tz", given.tz)
    if errors:
        raise InvalidInput(errors)
    return replace(
        given,
        first_name=first_name,
        last_name=last_name,
        middle_name=optional_text(given.middle_name),
        display_name=optional_text(given.display_name),
        email=email,
        npi=npi,
        specialty_code=optional_text(given.specialty_code),
        location_ids=tuple(dict.fromkeys(given.location_ids)),
    )


async def _write(
    session: AsyncSession,
    provider: Provider,
    values: ProviderFields,
    *,
    institution_id: int,
    new: bool,
) -> ProviderRecord:
    locations = await repo.locations_by_ids(
        session, values.location_ids, institution_id=institution_id
    )
    require_all("location", values.location_ids, {location.id for location in locations})
    provider.first_name = values.first_name
    provider.last_name = values.last_name
    provider.middle_name = values.middle_name
    provider.display_name = values.display_name
    provider.email = values.email
    provider.npi = values.npi
    provider.specialty_code = values.specialty_code
    provider.tz = values.tz
    provider.bio = dict(values.bio)
    provider.inactive = values.inactive
    if new:
        await repo.add(session, provider)
    await repo.set_provider_locations(
        session, provider.id, values.location_ids, institution_id=institution_id
    )
    return ProviderRecord(provider, locations)


async def _require(
    session: AsyncSession, provider_id: int, *, institution_id: int, for_update: bool = False
) -> Provider:
    provider = await repo.provider_by_id(
        session, provider_id, institution_id=institution_id, for_update=for_update
    )
    if provider is None:
        raise NotFound("provider", provider_id)
    return provider


async def create_provider(
    db: Database, *, institution_id: int, given: ProviderFields
) -> ProviderRecord:
    values = _validated(given)

    async def work(session: AsyncSession) -> ProviderRecord:
        provider = Provider(institution_id=institution_id)
        return await _write(session, provider, values, institution_id=institution_id, new=True)

    return await db.write(work)


async def update_provider(
    db: Database, *, institution_id: int, provider_id: int, changes: ProviderChanges
) -> ProviderRecord:
    async def work(session: AsyncSession) -> ProviderRecord:
        # Locked: two changes of one provider's locations must not interleave.
        provider = await _require(
            session, provider_id, institution_id=institution_id, for_update=True
        )
        current_locations = await repo.locations_of_providers(
            session, [provider.id], institution_id=institution_id
        )
        current = ProviderFields(
            first_name=provider.first_name,
            last_name=provider.last_name,
            middle_name=provider.middle_name,
            display_name=provider.display_name,
            email=provider.email,
            npi=provider.npi,
            specialty_code=provider.specialty_code,
            tz=provider.tz,
            bio=dict(provider.bio or {}),
            inactive=provider.inactive,
            location_ids=tuple(location.id for location in current_locations[provider.id]),
        )
        values = _validated(replace(current, **changes))
        return await _write(session, provider, values, institution_id=institution_id, new=False)

    return await db.write(work)


async def get_provider(db: Database, *, institution_id: int, provider_id: int) -> ProviderRecord:
    async with db.read() as session:
        provider = await _require(session, provider_id, institution_id=institution_id)
        locations = await repo.locations_of_providers(
            session, [provider.id], institution_id=institution_id
        )
    return ProviderRecord(provider, locations[provider.id])


async def list_providers(
    db: Database,
    *,
    institution_id: int,
    page: PageRequest,
    location_id: int | None,
    inactive: bool | None,
) -> Page[ProviderRecord]:
    async with db.read() as session:
        if location_id is not None and (
            await repo.location_by_id(session, location_id, institution_id=institution_id) is None
        ):
            raise NotFound("location", location_id)
        found = await repo.page_providers(
            session, page, institution_id=institution_id, location_id=location_id, inactive=inactive
        )
        locations = await repo.locations_of_providers(
            session, [p.id for p in found.items], institution_id=institution_id
        )
    return map_page(found, lambda provider: ProviderRecord(provider, locations[provider.id]))
