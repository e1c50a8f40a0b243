"""Settings: the token-signing key generated into var/ (one key for every worker, whole from the
start), the checks on each setting, and the log level reaching Carebook's own loggers."""

from __future__ import annotations

import logging
import stat
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from pydantic import ValidationError

from carebook.config import MIN_SECRET_KEY_LENGTH, Settings


def _settings(var_dir: Path) -> Settings:
    return Settings(var_dir=var_dir, secret_key=None)


def _resolve_at_once(var_dir: Path, workers: int) -> set[str]:
    """The keys ``workers`` threads resolve, all let go at the same moment."""
    everyone = [_settings(var_dir) for _ in range(workers)]
    start = threading.Barrier(workers)

    def resolve(settings: Settings) -> str:
        start.wait()
        return settings.resolved_secret_key()

    with ThreadPoolExecutor(workers) as pool:
        return set(pool.map(resolve, everyone))


def test_workers_starting_at_once_share_one_whole_private_key(tmp_path: Path) -> None:
    """Workers of a first start race to create the key: each gets the winner's key, never an
    empty one, and the file is never readable by others."""
    for round_ in range(20):  # the unguarded version lost a race in the first round or two
        var_dir = tmp_path / f"var{round_}"
        keys = _resolve_at_once(var_dir, workers=16)
        assert len(keys) == 1, (round_, keys)
        (key,) = keys
        assert len(key) >= MIN_SECRET_KEY_LENGTH
        path = var_dir / "secret_key"
        assert path.read_text() == key
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(var_dir.stat().st_mode) == 0o700  # made by Carebook: private
        assert [p.name for p in var_dir.iterdir()] == ["secret_key"]  # no temporary files left
        # A later start reads the same key.
        assert _settings(var_dir).resolved_secret_key() == key


def test_a_key_file_too_short_to_sign_with_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "secret_key"
    for text in ("", "\n", "short\n", "x" * (MIN_SECRET_KEY_LENGTH - 1)):
        path.write_text(text)
        with pytest.raises(ValueError, match="holds no token-signing key") as refused:
            _settings(tmp_path).resolved_secret_key()
        assert str(refused.value) == (
            f"{path} holds no token-signing key of at least {MIN_SECRET_KEY_LENGTH} characters: "
            "delete it to have one generated, or set CAREBOOK_SECRET_KEY"
        )
        assert path.read_text() == text  # left for the operator to look at
    path.write_text("k" * MIN_SECRET_KEY_LENGTH + "\n")
    assert _settings(tmp_path).resolved_secret_key() == "k" * MIN_SECRET_KEY_LENGTH


def test_a_configured_key_is_used_and_nothing_is_written(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path / "var", secret_key="configured-" + "k" * 40)
    assert settings.resolved_secret_key() == "configured-" + "k" * 40
    assert not (tmp_path / "var").exists()


def test_a_configured_key_too_short_to_sign_with_is_refused(tmp_path: Path) -> None:
    for short in ("short", "k" * (MIN_SECRET_KEY_LENGTH - 1), " " * 40 + "k"):
        with pytest.raises(ValidationError) as refused:
            Settings(var_dir=tmp_path, secret_key=short)
        assert [(e["loc"], e["msg"]) for e in refused.value.errors()] == [
            (
                ("secret_key",),
                f"Value error, must be at least {MIN_SECRET_KEY_LENGTH} characters "
                "(generate one with: openssl rand -base64 48)",
            )
        ]
    # Empty is unset: a key is generated and kept under var/.
    generated = Settings(var_dir=tmp_path / "var", secret_key="").resolved_secret_key()
    assert (tmp_path / "var" / "secret_key").read_text() == generated


def test_the_sqlite_file_lives_in_the_var_dir_unless_a_url_is_given(tmp_path: Path) -> None:
    assert (
        Settings(var_dir=tmp_path / "v").database_url == f"sqlite:///{tmp_path / 'v'}/carebook.db"
    )
    assert Settings().database_url == "sqlite:///var/carebook.db"  # ./var by default
    given = Settings(var_dir=tmp_path, database_url="postgresql://db/carebook")
    assert given.database_url == "postgresql://db/carebook"


def test_token_life_pool_size_and_log_level_are_checked() -> None:
    for fields in ({"token_ttl_seconds": 0}, {"token_ttl_seconds": 10**12}, {"pool_size": 0}):
        with pytest.raises(ValidationError):
            Settings(**fields)  # type: ignore[arg-type]
    with pytest.raises(ValidationError) as refused:
        Settings(log_level="verbose")
    assert refused.value.errors()[0]["msg"] == (
        "Value error, must be one of critical, error, warning, info, debug, trace"
    )
    assert Settings(log_level=" WARNING ").log_level == "warning"


def test_an_admin_key_too_short_to_resist_guessing_is_refused(tmp_path: Path) -> None:
    for short in ("admin", "k" * (MIN_SECRET_KEY_LENGTH - 1), " " * 40 + "k"):
        with pytest.raises(ValidationError) as refused:
            Settings(var_dir=tmp_path, admin_api_key=short)
        assert [(e["loc"], e["msg"]) for e in refused.value.errors()] == [
            (
                ("admin_api_key",),
                f"Value error, must be at least {MIN_SECRET_KEY_LENGTH} characters "
                "(generate one with: openssl rand -base64 48)",
            )
        ]
    assert Settings(admin_api_key="a" * MIN_SECRET_KEY_LENGTH).admin_api_key == "a" * 32
    assert Settings(admin_api_key=" " + "a" * 40 + "\n").admin_api_key == "a" * 40
    assert Settings(admin_api_key="").admin_api_key is None  # empty: no admin key


@pytest.fixture
def carebook_logger() -> Iterator[None]:
    """Carebook's root logger's level, put back after the test."""
    logger = logging.getLogger("carebook")
    level = logger.level
    yield
    logger.setLevel(level)


@pytest.mark.parametrize(
    ("setting", "level"),
    [
        ("critical", logging.CRITICAL),
        ("error", logging.ERROR),
        ("warning", logging.WARNING),
        ("info", logging.INFO),
        ("debug", logging.DEBUG),
        ("trace", logging.DEBUG),  # uvicorn's level below debug; logging's lowest is DEBUG
    ],
)
@pytest.mark.usefixtures("carebook_logger")
def test_carebooks_own_loggers_follow_the_log_level(
    setting: str, level: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from carebook.app import app_from_environment

    monkeypatch.setenv("CAREBOOK_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("CAREBOOK_DATABASE_URL", raising=False)
    monkeypatch.setenv("CAREBOOK_LOG_LEVEL", setting)
    app_from_environment()
    for name in ("carebook.db", "carebook.api"):  # the loggers Carebook writes to
        assert logging.getLogger(name).getEffectiveLevel() == level, name
