"""Locations: the offices of an institution, each in one IANA time zone."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import TypedDict

from sqlalchemy.ext.asyncio import AsyncSession

from carebook.core.clinic.common import check_email, check_zone, optional_text, required_text
from carebook.core.errors import FieldError, InvalidInput, NotFound
from carebook.db.database import Database
from carebook.db.repositories import clinic as repo
from carebook.db.repositories.pagination import Page, PageRequest
from carebook.db.tables import Location


@dataclass(frozen=True)
class LocationFields:
    name: str
    tz: str
    map_by_operatory: bool = False
    allow_provider_overlap: bool = False
    street_address: str | None = None
    street_address_2: str | None = None
    city: str | None = None
    state: str | None = None
    zip_code: str | None = None
    country_code: str = "US"
    phone_number: str | None = None
    email: str | None = None
    inactive: bool = False

    @classmethod
    def of(cls, row: Location) -> LocationFields:
        return cls(**{f.name: getattr(row, f.name) for f in fields(cls)})


class LocationChanges(TypedDict, total=False):
    """A partial update: only the keys given change."""

    name: str
    tz: str
    map_by_operatory: bool
    allow_provider_overlap: bool
    street_address: str | None
    street_address_2: str | None
    city: str | None
    state: str | None
    zip_code: str | None
    country_code: str
    phone_number: str | None
    email: str | None
    inactive: bool


def _validated(given: LocationFields) -> LocationFields:
    errors: list[FieldError] = []
    name = required_text(errors, "location.name", given.name)
    check_zone(errors, "location.tz", given.tz)
    country_code = given.country_code.strip().upper()
    if len(country_code) != 2 or not country_code.isascii() or not country_code.isalpha():
        errors.append(FieldError("location.country_code", "must be a two-letter ISO 3166 code"))
    email = check_email(errors, "location.email", given.email)
    if errors:
        raise InvalidInput(errors)
    return replace(
        given,
        name=name,
        country_code=country_code,
        email=email,
        street_address=optional_text(given.street_address),
        street_address_2=optional_text(given.street_address_2),
        city=optional_text(given.city),
        state=optional_text(given.state),
        zip_code=optional_text(given.zip_code),
        phone_number=optional_text(given.phone_number),
    )


async def require_location(
    session: AsyncSession, location_id: int, *, institution_id: int
) -> Location:
    location = await repo.location_by_id(session, location_id, institution_id=institution_id)
    if location is None:
        raise NotFound("location", location_id)
    return location


async def create_location(db: Database, *, institution_id: int, given: LocationFields) -> Location:
    values = _validated(given)

    async def work(session: AsyncSession) -> Location:
        return await repo.add(session, Location(institution_id=institution_id, **asdict(values)))

    return await db.write(work)


async def update_location(
    db: Database, *, institution_id: int, location_id: int, changes: LocationChanges
) -> Location:
    async def work(session: AsyncSession) -> Location:
        location = await require_location(session, location_id, institution_id=institution_id)
        values = _validated(replace(LocationFields.of(location), **changes))
        for name, value in asdict(values).items():
            setattr(location, name, value)
        await repo.flush(session)
        return location

    return await db.write(work)


async def get_location(db: Database, *, institution_id: int, location_id: int) -> Location:
    async with db.read() as session:
        return await require_location(session, location_id, institution_id=institution_id)


async def list_locations(
    db: Database, *, institution_id: int, page: PageRequest, inactive: bool | None
) -> Page[Location]:
    async with db.read() as session:
        return await repo.page_locations(
            session, page, institution_id=institution_id, inactive=inactive
        )
