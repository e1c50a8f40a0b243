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
