"""The ``carebook`` command: migrate, demo (idempotent), keys create."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from carebook.cli import main


def test_migrate_demo_and_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CAREBOOK_DATABASE_URL", f"sqlite:///{tmp_path / 'var' / 'c.db'}")
    monkeypatch.setenv("CAREBOOK_VAR_DIR", str(tmp_path / "var"))
    assert main(["migrate"]) == 0
    assert main(["demo"]) == 0
    first = capsys.readouterr().out
    assert "Demo institution 'demo' loaded." in first
    key_line = next(line for line in first.splitlines() if line.startswith("Demo API key: "))
    assert main(["demo"]) == 0
    again = capsys.readouterr().out
    assert "Demo institution 'demo' already present." in again
    assert key_line in again, "re-running prints the same key"
    assert main(["keys", "create", "--subdomain", "demo"]) == 0
    assert capsys.readouterr().out.startswith("cbk_")
    assert main(["keys", "create", "--subdomain", "nope"]) == 2
    assert capsys.readouterr().err == "carebook: institution nope not found\n"


def test_bad_configuration_is_named_without_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CAREBOOK_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("CAREBOOK_SECRET_KEY", "too-short")
    monkeypatch.setenv("CAREBOOK_DATABASE_URL", "mysql://localhost/carebook")
    assert main(["migrate"]) == 2
    assert capsys.readouterr().err == (
        "carebook: CAREBOOK_DATABASE_URL: unsupported database 'mysql': "
        "use sqlite:// or postgresql://\n"
        "carebook: CAREBOOK_SECRET_KEY: must be at least 32 characters "
        "(generate one with: openssl rand -base64 48)\n"
    )
    assert not (tmp_path / "var").exists()


def test_ordinary_mistakes_are_one_line_not_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CAREBOOK_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("CAREBOOK_DATABASE_URL", raising=False)
    # Before `carebook migrate`: the default database (in the var dir) has no tables.
    assert main(["keys", "create", "--subdomain", "demo"]) == 2
    assert capsys.readouterr().err == (
        "carebook: the database has no Carebook tables yet: run `carebook migrate` first\n"
    )
    # A database that cannot be reached.
    monkeypatch.setenv("CAREBOOK_DATABASE_URL", "postgresql://postgres@127.0.0.1:1/carebook")
    assert main(["migrate"]) == 2
    assert capsys.readouterr().err.startswith(
        "carebook: cannot use the database postgresql://postgres@127.0.0.1:1/carebook: "
    )
    # A var dir that cannot be made.
    monkeypatch.delenv("CAREBOOK_DATABASE_URL")
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("CAREBOOK_VAR_DIR", str(tmp_path / "file" / "var"))
    assert main(["demo"]) == 2
    assert "Not a directory" in capsys.readouterr().err
    # A damaged key file stops `serve` before it starts.
    monkeypatch.setenv("CAREBOOK_VAR_DIR", str(tmp_path / "var"))
    (tmp_path / "var" / "secret_key").write_text("short\n")
    assert main(["serve"]) == 2
    assert capsys.readouterr().err == (
        f"carebook: {tmp_path / 'var' / 'secret_key'} holds no token-signing key of at least "
        "32 characters: delete it to have one generated, or set CAREBOOK_SECRET_KEY\n"
    )


def test_a_key_for_several_institutions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import asyncio

    from sqlalchemy import select

    from carebook.config import Settings
    from carebook.core.auth import digest_key
    from carebook.db.database import Database
    from carebook.db.tables import ApiKey, ApiKeyInstitution, Institution

    monkeypatch.setenv("CAREBOOK_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("CAREBOOK_DATABASE_URL", raising=False)
    assert main(["migrate"]) == 0
    settings = Settings()

    async def add_institutions() -> None:
        db = Database(settings.async_database_url)

        async def work(session: Any) -> None:
            session.add_all(
                [Institution(name=n.title(), subdomain=n) for n in ("north", "south", "east")]
            )

        try:
            await db.write(work)
        finally:
            await db.dispose()

    asyncio.run(add_institutions())
    capsys.readouterr()
    assert main(["keys", "create", "--subdomain", "north", "--subdomain", "south"]) == 0
    key = capsys.readouterr().out.strip()

    async def reached() -> list[str]:
        db = Database(settings.async_database_url)
        try:
            async with db.read() as session:
                query = (
                    select(Institution.subdomain)
                    .join(ApiKeyInstitution, ApiKeyInstitution.institution_id == Institution.id)
                    .join(ApiKey, ApiKey.id == ApiKeyInstitution.api_key_id)
                    .where(ApiKey.key_digest == digest_key(key))
                    .order_by(Institution.subdomain)
                )
                return list((await session.execute(query)).scalars())
        finally:
            await db.dispose()

    assert asyncio.run(reached()) == ["north", "south"]
