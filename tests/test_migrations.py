"""The migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from collections.abc import Iterator
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
    await _upgrade(url, "0002")
    await _store_zones(url, zones)


async def _upgrade(url: str, revision: str = "head") -> None:
    import asyncio

    from alembic import command

    await asyncio.to_thread(command.upgrade, alembic_config(url), revision)


async def _downgrade(url: str, revision: str) -> None:
    import asyncio

    from alembic import command

    await asyncio.to_thread(command.downgrade, alembic_config(url), revision)


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
    tables = ("locations", "providers", "patients", "portal_users")
    return {table: (await _fetch(url, f"SELECT tz FROM {table}"))[0][0] for table in tables}


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
    await _upgrade(url)
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
        await _upgrade(url)
    assert str(stopped.value) == (
        "stored zones that are not IANA zones: locations.tz = 'Mars/Base', "
        "patients.tz = 'right/Nowhere'; set them to IANA zone names (for example "
        "America/New_York), then migrate again"
    )
    assert await _stored_zones(url) == zones


@pytest.fixture(params=["sqlite", "postgres"])
def scratch_url(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[str]:
    """An empty database of its own (migrations run on it from scratch)."""
    import asyncio
    import uuid

    from sqlalchemy import make_url

    from tests.conftest import (
        _create_postgres_database,
        _drop_postgres_database,
        _postgres_admin_url,
    )

    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"
        return
    request.getfixturevalue("postgres_url")  # skips, or fails, as every PostgreSQL test does
    admin_url = _postgres_admin_url()
    name = f"carebook_test_migration_{uuid.uuid4().hex[:12]}"
    asyncio.run(_create_postgres_database(admin_url, name))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_drop_postgres_database(admin_url, name))


async def _fetch(url: str, sql: str) -> list[tuple[Any, ...]]:
    from sqlalchemy import text

    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            return [tuple(row) for row in await connection.execute(text(sql))]
    finally:
        await engine.dispose()


async def _execute(url: str, *statements: str) -> None:
    from sqlalchemy import text

    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            for statement in statements:
                await connection.execute(text(statement))
    finally:
        await engine.dispose()


async def _store_hours_and_closure(url: str) -> None:
    """Working hour 7 (with appointment type link) and closure 5 ("Holidays") in a new clinic."""
    from datetime import date

    from carebook.db.database import Database
    from carebook.db.tables import (
        AppointmentType,
        Institution,
        Location,
        LocationClosure,
        Provider,
        WorkingHour,
        WorkingHourAppointmentType,
    )

    db = Database(url)

    async def work(session: Any) -> None:
        institution = Institution(name="Old", subdomain="old")
        session.add(institution)
        await session.flush()
        iid = institution.id
        location = Location(institution_id=iid, name="L", tz="UTC")
        provider = Provider(institution_id=iid, first_name="P", last_name="Q")
        kind = AppointmentType(institution_id=iid, name="T", minutes=30)
        session.add_all([location, provider, kind])
        await session.flush()
        session.add_all(
            [
                WorkingHour(
                    id=7,
                    institution_id=iid,
                    location_id=location.id,
                    provider_id=provider.id,
                    begin_time="09:00",
                    end_time="17:00",
                    specific_date=date(2027, 1, 4),
                ),
                LocationClosure(
                    id=5,
                    institution_id=iid,
                    location_id=location.id,
                    start_date=date(2026, 12, 24),
                    end_date=date(2026, 12, 26),
                    reason="Holidays",
                ),
            ]
        )
        await session.flush()
        session.add(WorkingHourAppointmentType(working_hour_id=7, appointment_type_id=kind.id))

    try:
        await db.write(work)
    finally:
        await db.dispose()


async def test_0004_keeps_every_row_and_link_and_stores_empty_json_as_null(
    scratch_url: str,
) -> None:
    """Rows written before 0004 (a working hour with its appointment types, a closure, JSON
    'null' texts) come through it whole; on SQLite the two tables no longer reuse ids."""
    url = scratch_url
    await _upgrade(url, "0003")
    await _store_hours_and_closure(url)
    # What the ORM wrote for None before 0004: the JSON text 'null'.
    null = "'null'::json" if url.startswith("postgresql") else "'null'"
    await _execute(url, f"UPDATE working_hours SET days = {null}")
    await _upgrade(url)

    assert await _fetch(url, "SELECT id, days IS NULL FROM working_hours") == [(7, True)]
    assert await _fetch(url, "SELECT * FROM working_hour_appointment_types") == [(7, 1)]
    assert await _fetch(url, "SELECT id, reason FROM location_closures") == [(5, "Holidays")]
    if url.startswith("sqlite"):
        # The last row deleted, the next one still gets a new id.
        await _execute(
            url,
            "DELETE FROM location_closures WHERE id = 5",
            "INSERT INTO location_closures (institution_id, location_id, start_date, end_date, "
            "created_at, updated_at) VALUES (1, 1, '2027-01-01', '2027-01-01', "
            "'2026-01-01 00:00:00.000000', '2026-01-01 00:00:00.000000')",
        )
        assert await _fetch(url, "SELECT id FROM location_closures") == [(6,)]
        schema = await _fetch(
            url,
            "SELECT name, sql FROM sqlite_master WHERE name IN ('working_hours', "
            "'location_closures')",
        )
        assert all("PRIMARY KEY AUTOINCREMENT" in sql for _, sql in schema), schema
    await _downgrade(url, "0003")
    assert await _fetch(url, "SELECT * FROM working_hour_appointment_types") == [(7, 1)]
    await _upgrade(url)
    assert await _fetch(url, "SELECT * FROM working_hour_appointment_types") == [(7, 1)]


async def _overlap_definitions(url: str) -> dict[str, str]:
    """The exclusion constraints' definitions and the operatory start index's, as the database
    prints them (SQLite has no exclusion constraints)."""
    if url.startswith("sqlite"):
        sql = "SELECT name, sql FROM sqlite_master WHERE name = 'ix_appointments_operatory_start'"
    else:
        sql = (
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE contype = 'x' "
            "UNION ALL SELECT indexname, indexdef FROM pg_indexes "
            "WHERE indexname = 'ix_appointments_operatory_start'"
        )
    return {str(name): str(definition) for name, definition in await _fetch(url, sql)}


async def test_lean_overlap_constraints_go_down_to_0002s_and_back(scratch_url: str) -> None:
    """Migration 0007: each exclusion constraint compares the resource alone and covers only
    rows that have it, and so does the operatory start index; downgraded, they are as before
    (institution and resource, every active row)."""
    await _upgrade(scratch_url)
    lean = await _overlap_definitions(scratch_url)
    assert lean["ix_appointments_operatory_start"].endswith(
        "(institution_id, operatory_id, start_at) WHERE operatory_id IS NOT NULL"
        if scratch_url.startswith("sqlite")
        else "(institution_id, operatory_id, start_at) WHERE (operatory_id IS NOT NULL)"
    )
    if not scratch_url.startswith("sqlite"):
        assert lean["ex_appointments_patient_overlap"] == (
            "EXCLUDE USING gist (patient_id WITH =, tstzrange(start_at, end_at, '[)'::text) "
            "WITH &&) WHERE (((NOT cancelled) AND (NOT deleted) AND (patient_id IS NOT NULL)))"
        )
        assert lean["ex_appointments_operatory_overlap"] == (
            "EXCLUDE USING gist (operatory_id WITH =, tstzrange(start_at, end_at, '[)'::text) "
            "WITH &&) WHERE (((NOT cancelled) AND (NOT deleted) AND (operatory_id IS NOT NULL)))"
        )
        provider = lean["ex_appointments_provider_overlap"]
        assert provider.startswith("EXCLUDE USING gist (provider_id WITH =, tstzrange(")
        assert "int8range(id, id, '[]'::text)" in provider
        assert provider.endswith("AND (provider_id IS NOT NULL)))")

    await _downgrade(scratch_url, "0006")
    before = await _overlap_definitions(scratch_url)
    assert before["ix_appointments_operatory_start"].endswith(
        "(institution_id, operatory_id, start_at)"
    )
    if not scratch_url.startswith("sqlite"):
        assert before["ex_appointments_patient_overlap"] == (
            "EXCLUDE USING gist (institution_id WITH =, patient_id WITH =, "
            "tstzrange(start_at, end_at, '[)'::text) WITH &&) "
            "WHERE (((NOT cancelled) AND (NOT deleted)))"
        )
        provider = before["ex_appointments_provider_overlap"]
        assert provider.startswith(
            "EXCLUDE USING gist (institution_id WITH =, provider_id WITH =, tstzrange("
        )
        assert "int8range(id, id, '[]'::text)" in provider
        assert provider.endswith("WHERE (((NOT cancelled) AND (NOT deleted)))")

    await _upgrade(scratch_url)
    assert await _overlap_definitions(scratch_url) == lean
