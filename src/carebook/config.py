"""Settings, read from the environment (prefix ``CAREBOOK_``)."""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from functools import cached_property
from pathlib import Path

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///./var/carebook.db"
# HS256 wants a key of at least 256 bits (RFC 7518, 3.2); a generated key has 64 characters.
MIN_SECRET_KEY_LENGTH = 32
LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")  # uvicorn's


def async_database_url(url: str) -> str:
    """Pick the async driver for a plain URL, so users can write ``postgresql://user@host/db``."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError(f"not a database URL: {url!r}")
    base = scheme.split("+", 1)[0]
    if base in ("postgres", "postgresql"):
        return f"postgresql+asyncpg://{rest}"
    if base == "sqlite":
        return f"sqlite+aiosqlite://{rest}"
    raise ValueError(f"unsupported database {scheme!r}: use sqlite:// or postgresql://")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CAREBOOK_", extra="ignore")

    # Unset: the SQLite file ``carebook.db`` in ``var_dir`` (see ``_default_database_in_var``).
    database_url: str = DEFAULT_DATABASE_URL
    admin_api_key: str | None = None
    secret_key: str | None = None
    var_dir: Path = Path("./var")
    # A bearer token's life: a minute to thirty days.
    token_ttl_seconds: int = Field(default=3600, ge=60, le=30 * 24 * 3600)
    # Connections per process; PostgreSQL only (SQLite writes go through one connection).
    pool_size: int = Field(default=10, ge=1)
    log_level: str = "info"
    # Serve the booking POSTs through the express lane (carebook.api.kit.express); off, every
    # request goes through FastAPI's routing. Same answers either way.
    express: bool = True

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        async_database_url(value)
        return value

    @field_validator("log_level")
    @classmethod
    def _known_log_level(cls, value: str) -> str:
        level = value.strip().lower()
        if level not in LOG_LEVELS:
            raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")
        return level

    @model_validator(mode="after")
    def _default_database_in_var(self) -> Settings:
        # The README's promise: var_dir is where the SQLite file lives, unless a URL is given.
        if "database_url" not in self.model_fields_set:
            self.database_url = f"sqlite:///{self.var_dir / 'carebook.db'}"
        return self

    @field_validator("secret_key", "admin_api_key")
    @classmethod
    def _long_enough(cls, value: str | None) -> str | None:
        # Empty means unset (a signing key is generated; no admin key is accepted). A short
        # signing key would sign weak tokens, and a short admin key (it reaches every
        # institution) could be guessed, so either is refused at start-up rather than used.
        if value and len(value.strip()) < MIN_SECRET_KEY_LENGTH:
            raise ValueError(
                f"must be at least {MIN_SECRET_KEY_LENGTH} characters "
                "(generate one with: openssl rand -base64 48)"
            )
        return value.strip() if value else None

    @cached_property
    def async_database_url(self) -> str:
        return async_database_url(self.database_url)

    @property
    def is_sqlite(self) -> bool:
        return self.async_database_url.startswith("sqlite")

    def resolved_secret_key(self) -> str:
        """The token-signing key: the configured one, else one generated once and kept in var/.

        Several worker processes on one machine read the same file, so their tokens agree.
        """
        if self.secret_key:
            return self.secret_key
        path = self.var_dir / "secret_key"
        if not path.exists():
            make_private_dir(self.var_dir)
            publish_private_file(path, secrets.token_urlsafe(48))
        return _read_secret_key(path)


def make_private_dir(path: Path) -> None:
    """Make the directory ``path`` (and its parents) unless it exists; the directory itself is
    made mode 0700, as it holds keys and, by default, the SQLite file with patient data. One
    that exists is left as it is: its mode is the operator's choice."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)


def publish_private_file(path: Path, key: str) -> None:
    """Create ``path`` holding ``key`` (a secret: the signing key, the demo API key), unless it
    exists already, in one step.

    The key is written whole to a temporary file in the same directory, created with mode 0600,
    and that file is then linked to the name: ``os.link`` fails if the name exists, so of the
    workers racing on a first start exactly one wins, and the file has its name only once it
    is complete and private. A loser reads the winner's key."""
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)  # mode 0600
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(key)
            handle.flush()
            os.fsync(handle.fileno())  # on disk before it has its name, should the host crash
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        os.unlink(temporary)


def _read_secret_key(path: Path) -> str:
    """The key in ``path``; an empty or short one (a damaged file) is refused, never used."""
    key = path.read_text().strip()
    if len(key) < MIN_SECRET_KEY_LENGTH:
        raise ValueError(
            f"{path} holds no token-signing key of at least {MIN_SECRET_KEY_LENGTH} characters: "
            "delete it to have one generated, or set CAREBOOK_SECRET_KEY"
        )
    return key
