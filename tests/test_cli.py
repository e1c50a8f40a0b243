"""The ``carebook`` command: migrate, demo (idempotent), keys create."""

from __future__ import annotations

from pathlib import Path

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
