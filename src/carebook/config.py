"""Settings, read from the environment (prefix ``CAREBOOK_``)."""

from __future__ import annotations

import secrets
from functools import cached_property
from pathlib import Path

from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///./var/carebook.db"


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

    database_url: str = DEFAULT_DATABASE_URL
    admin_api_key: str | None = None
    secret_key: str | None = None
    var_dir: Path = Path("./var")
    token_ttl_seconds: int = 3600
    # Connections per process; PostgreSQL only (SQLite writes go through one connection).
    pool_size: int = 10
    log_level: str = "info"
    # Serve the booking POSTs through the express lane (carebook.api.kit.express); off, every
    # request goes through FastAPI's routing. Same answers either way.
    express: bool = True

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        async_database_url(value)
        return value

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
        if path.exists():
            return path.read_text().strip()
        self.var_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        try:
            with path.open("x") as handle:  # "x": a concurrent worker may have won the race
                handle.write(key)
            path.chmod(0o600)
        except FileExistsError:
            return path.read_text().strip()
        return key
