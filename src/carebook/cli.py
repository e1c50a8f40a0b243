"""The ``carebook`` command: serve, migrate, demo, keys create."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from carebook.config import Settings
from carebook.core.errors import DomainError, Unavailable


def _migrate(settings: Settings) -> None:
    from carebook.db.migrate import upgrade

    asyncio.run(upgrade(settings.async_database_url))
    print(f"migrated {settings.database_url}")


def _demo(settings: Settings, host: str, port: int) -> None:
    from carebook.demo import load_demo

    summary = asyncio.run(load_demo(settings))
    print(summary.describe(host=host, port=port))


def _keys_create(settings: Settings, subdomains: list[str], name: str | None) -> None:
    from carebook.core.tenancy import create_api_key
    from carebook.db.database import Database

    async def run() -> str:
        db = Database(settings.async_database_url)
        try:
            return await db.write(
                lambda session: create_api_key(session, subdomains=subdomains, name=name)
            )
        finally:
            await db.dispose()

    print(asyncio.run(run()))


def _serve(settings: Settings, host: str, port: int, workers: int) -> None:
    import uvicorn

    settings.resolved_secret_key()  # a damaged key file stops here, said plainly, not at start-up

    if settings.is_sqlite and workers > 1:
        print(
            "note: SQLite serialises writes; more workers add little. Use PostgreSQL to scale.",
            file=sys.stderr,
        )
    uvicorn.run(
        "carebook.app:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=settings.log_level,
        access_log=False,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="carebook", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    commands.add_parser("migrate", help="create or upgrade the database schema")
    demo = commands.add_parser("demo", help="load the demo institution (idempotent)")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8000)
    keys = commands.add_parser("keys", help="API keys")
    key_commands = keys.add_subparsers(dest="keys_command", required=True)
    create = key_commands.add_parser(
        "create", help="print a new API key for one institution, or several (repeat --subdomain)"
    )
    create.add_argument("--subdomain", required=True, action="append", dest="subdomains")
    create.add_argument("--name", default=None)

    args = parser.parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as error:
        for problem in error.errors():
            variable = "CAREBOOK_" + "_".join(str(part) for part in problem["loc"]).upper()
            message = problem["msg"].removeprefix("Value error, ")
            print(f"carebook: {variable}: {message}", file=sys.stderr)
        return 2
    try:
        _run(args, settings)
    except Exception as error:
        said = _plain(error, settings)
        if said is None:
            raise
        print(f"carebook: {said}", file=sys.stderr)
        return 2
    return 0


def _plain(error: Exception, settings: Settings) -> str | None:
    """What an ordinary mistake means, in one line (None: a bug, left to its traceback)."""
    from carebook.db.database import is_outage

    cause = error.__cause__ if isinstance(error, Unavailable) else error
    if cause is not None and is_outage(cause):
        return f"cannot use the database {settings.database_url}: {cause}"
    if isinstance(error, DomainError):
        return error.message
    text = str(error)
    if "no such table" in text or "UndefinedTable" in type(getattr(error, "orig", None)).__name__:
        return "the database has no Carebook tables yet: run `carebook migrate` first"
    if isinstance(error, OSError | ValueError):
        return text
    return None


def _run(args: argparse.Namespace, settings: Settings) -> None:
    if args.command == "serve":
        _serve(settings, args.host, args.port, args.workers)
    elif args.command == "migrate":
        _migrate(settings)
    elif args.command == "demo":
        _demo(settings, args.host, args.port)
    elif args.command == "keys":
        _keys_create(settings, args.subdomains, args.name)
