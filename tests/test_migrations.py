"""The migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine

from carebook.db.base import Base
from carebook.db.migrate import alembic_config

pytestmark = pytest.mark.anyio


async def test_models_match_migrations(database_url: str) -> None:
    engine = create_async_engine(database_url)

    def diff(connection: Any) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    try:
        async with engine.connect() as connection:
            differences = await connection.run_sync(diff)
    finally:
        await engine.dispose()
    assert differences == []


def test_downgrade_to_empty_and_back(tmp_path: Any) -> None:
    """The initial revision is reversible (SQLite file; PostgreSQL runs the same operations)."""
    from alembic import command

    from carebook.db.migrate import alembic_config

    config = alembic_config(f"sqlite+aiosqlite:///{tmp_path / 'm.db'}")
    command.upgrade(config, "head")
    command.downgrade(config, "base")
    command.upgrade(config, "head")


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+asyncpg://carebook:p%40ss%25word@db.internal/carebook",
        "postgresql+asyncpg://postgres@/carebook?host=%2Fvar%2Frun%2Fpostgresql",
    ],
)
def test_a_url_with_percent_signs_reaches_alembic_unchanged(url: str) -> None:
    """alembic keeps its options in a configparser, which treats "%" as interpolation."""
    assert alembic_config(url).get_main_option("sqlalchemy.url") == url


def _machine_zone() -> str | None:
    """The migration's own reading of the machine's zone (what "localtime" stood for)."""
    import importlib

    zones = importlib.import_module("carebook.db.migrations.versions.2026-11-21_zones_tzdata_knows")
    machine: str | None = zones._machine_zone()
    return machine


async def _at_0002_with_zones(url: str, zones: dict[str, str]) -> None:
    """A database migrated to 0002 (before zones came from tzdata only) holding ``zones``."""
    import asyncio

    from alembic import command

    await asyncio.to_thread(command.upgrade, alembic_config(url), "0002")
    await _store_zones(url, zones)


async def _upgrade_to_head(url: str) -> None:
    import asyncio

    from alembic import command

    await asyncio.to_thread(command.upgrade, alembic_config(url), "head")


async def _store_zones(url: str, zones: dict[str, str]) -> None:
    """One location, provider, patient and portal user with the given (legacy) ``tz``s."""
    from carebook.db.database import Database
    from carebook.db.tables import Institution, Location, Patient, PortalUser, Provider

    db = Database(url)

    async def work(session: Any) -> None:
        institution = Institution(name="Old", subdomain="old")
        session.add(institution)
        await session.flush()
        iid = institution.id
        session.add_all(
            [
                Location(institution_id=iid, name="L", tz=zones["locations"]),
                Provider(institution_id=iid, first_name="P", last_name="Q", tz=zones["providers"]),
                Patient(
                    institution_id=iid, first_name="A", last_name="B", bio={}, tz=zones["patients"]
                ),
                PortalUser(
                    institution_id=iid,
                    email="u@old.test",
                    first_name="U",
                    last_name="V",
                    tz=zones["portal_users"],
                ),
            ]
        )

    try:
        await db.write(work)
    finally:
        await db.dispose()


async def _stored_zones(url: str) -> dict[str, str]:
    from sqlalchemy import text

    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            return {
                table: (await connection.execute(text(f"SELECT tz FROM {table}"))).scalar_one()
                for table in ("locations", "providers", "patients", "portal_users")
            }
    finally:
        await engine.dispose()


async def test_legacy_zone_names_are_renamed_to_the_iana_zones_they_stood_for(
    tmp_path: Any,
) -> None:
    # Before 0003 a zone could be any name the machine's zoneinfo directory loaded.
    url = f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"
    legacy = {
        "locations": "posixrules",
        "providers": "right/Europe/Berlin",
        "patients": "posix/Asia/Tokyo",
        "portal_users": "localtime" if _machine_zone() else "America/Chicago",
    }
    await _at_0002_with_zones(url, legacy)
    await _upgrade_to_head(url)
    assert await _stored_zones(url) == {
        "locations": "America/New_York",
        "providers": "Europe/Berlin",
        "patients": "Asia/Tokyo",
        "portal_users": _machine_zone() or "America/Chicago",
    }


async def test_a_stored_zone_that_is_no_zone_stops_the_migration_naming_it(
    tmp_path: Any,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"
    zones = {
        "locations": "Mars/Base",
        "providers": "UTC",
        "patients": "right/Nowhere",
        "portal_users": "Europe/Paris",
    }
    await _at_0002_with_zones(url, zones)
    with pytest.raises(RuntimeError) as stopped:
        await _upgrade_to_head(url)
    assert str(stopped.value) == (
        "stored zones that are not IANA zones: locations.tz = 'Mars/Base', "
        "patients.tz = 'right/Nowhere'; set them to IANA zone names (for example "
        "America/New_York), then migrate again"
    )
    assert await _stored_zones(url) == zones
