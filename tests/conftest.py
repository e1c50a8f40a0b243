"""Every database test runs twice: on SQLite and on PostgreSQL.

PostgreSQL comes from ``CAREBOOK_TEST_POSTGRES_URL`` (default: the local server, database
``test``). Each pytest session works in a database of its own, created next to that one and
dropped at the end, so parallel runs never meet. Without a server the PostgreSQL half skips,
unless ``CAREBOOK_REQUIRE_POSTGRES=1``, when it fails.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from carebook.app import create_app
from carebook.config import Settings, async_database_url
from carebook.db.base import Base
from carebook.db.migrate import upgrade
from tests.support import ADMIN_KEY, Api, OtherProcess

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``postgres_only`` run only in their PostgreSQL variant."""
    selected, deselected = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_sqlite = callspec is not None and callspec.params.get("database_url") == "sqlite"
        if on_sqlite and item.get_closest_marker("postgres_only"):
            deselected.append(item)
        else:
            selected.append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = selected


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


def _postgres_admin_url() -> str:
    return async_database_url(os.environ.get("CAREBOOK_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL))


async def _create_postgres_database(admin_url: str, name: str) -> None:
    engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await engine.dispose()


async def _drop_postgres_database(admin_url: str, name: str) -> None:
    engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A freshly migrated PostgreSQL database for this session (async URL)."""
    admin_url = _postgres_admin_url()
    name = f"carebook_test_{uuid.uuid4().hex[:12]}"
    try:
        asyncio.run(_create_postgres_database(admin_url, name))
    except Exception as error:
        message = f"PostgreSQL not reachable at {admin_url} ({error.__class__.__name__}: {error})"
        if os.environ.get("CAREBOOK_REQUIRE_POSTGRES") == "1":
            pytest.fail(message + "; CAREBOOK_REQUIRE_POSTGRES=1 makes this a failure")
        pytest.skip(message + "; set CAREBOOK_TEST_POSTGRES_URL to run the PostgreSQL tests")
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    asyncio.run(upgrade(url))
    yield url
    asyncio.run(_drop_postgres_database(admin_url, name))


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("sqlite") / "carebook.db"
    url = f"sqlite+aiosqlite:///{path}"
    asyncio.run(upgrade(url))
    return url


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    """The database under test: each test using it runs once per backend."""
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url


async def _empty_all_tables(url: str) -> None:
    engine = create_async_engine(url)
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    try:
        async with engine.begin() as conn:
            # DELETE beats TRUNCATE by ~9x on tables this small. portal_users and patients
            # point at each other, so that link is cut first.
            await conn.execute(text("UPDATE portal_users SET self_patient_id = NULL"))
            for table in tables:
                await conn.execute(text(f"DELETE FROM {table}"))
    finally:
        await engine.dispose()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        admin_api_key=ADMIN_KEY,
        secret_key="test-secret-key-that-is-long-enough-for-hs256",
        var_dir=tmp_path / "var",
        pool_size=5,
    )


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[Api]:
    """An HTTP client speaking to a fresh app on an empty database."""
    await _empty_all_tables(settings.async_database_url)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://carebook.test") as c:
            yield Api(client=c, app=app)


@pytest.fixture
async def other(settings: Settings) -> AsyncIterator[OtherProcess]:
    """Another app on the test's database (see OtherProcess)."""
    process = OtherProcess(settings)
    async with process:
        yield process
