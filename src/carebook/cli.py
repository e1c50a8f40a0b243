"""The ``carebook`` command: serve, migrate, demo, keys create/list/revoke."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import socket
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, TypeVar

from pydantic import ValidationError

from carebook.config import Settings, make_private_dir
from carebook.core.errors import DomainError, Unavailable

if TYPE_CHECKING:  # imported where used: the CLI starts without loading the database layer
    from carebook.db.database import Database
    from carebook.db.tables import ApiKey

T = TypeVar("T")

NOT_MIGRATED = "the database has no Carebook tables yet: run `carebook migrate` first"
# What a shell reports for a command killed by SIGPIPE (128 + 13), as `yes | head -1` is.
BROKEN_PIPE_STATUS = 141


class Refused(Exception):
    """An ordinary mistake the CLI found itself; its text is the one line the operator reads."""


class _ReaderGone(Exception):
    """Our standard output was closed by its reader (``carebook demo | head -2``)."""


class _UsageError(Exception):
    """A command line argparse refuses (raised by ``_Parser.error`` instead of exiting)."""


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors said in one line as every other ordinary mistake is (its own
    would print the usage first) and returned as status 2 by ``main`` rather than exited."""

    def error(self, message: str) -> NoReturn:
        raise _UsageError(message)


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 1 to 65535, not {port}")
    return port


def _workers(text: str) -> int:
    try:
        workers = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of workers: {text!r}") from None
    if workers < 1:
        raise argparse.ArgumentTypeError(f"at least 1 worker, not {workers}")
    return workers


def shown_url(url: str) -> str:
    """A database URL as the CLI prints it: with its password, if it has one, as ``***``."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        return url.partition("://")[0] + "://…"  # unreadable: the password cannot be found
    if parsed.password is None:
        return url  # as the operator wrote it (rendering would re-quote its query)
    return parsed.render_as_string(hide_password=True)


def _say(text: str) -> None:
    """Print ``text`` to standard output now, a reader that has gone raising ``_ReaderGone``
    (a BrokenPipeError elsewhere, on a database connection, stays what it is)."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        raise _ReaderGone from None


def _create_private_sqlite_file(settings: Settings) -> None:
    """Create the SQLite file, if it is missing, mode 0600 in a directory made 0700: it will hold
    patient data (SQLite gives its -wal and -shm files the database file's mode). An empty file
    is an empty database to SQLite. A file that exists is left as it is."""
    if not settings.is_sqlite:
        return
    from sqlalchemy.engine import make_url

    database = make_url(settings.async_database_url).database
    if not database or database == ":memory:":
        return  # refused by the database layer, which says why
    path = Path(database)
    make_private_dir(path.parent)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _migrate(settings: Settings) -> None:
    from carebook.db.migrate import upgrade

    _create_private_sqlite_file(settings)
    asyncio.run(upgrade(settings.async_database_url))
    _say(f"migrated {shown_url(settings.database_url)}")


def _demo(settings: Settings, host: str, port: int) -> None:
    from carebook.demo import load_demo

    _create_private_sqlite_file(settings)
    summary = asyncio.run(load_demo(settings))
    _say(summary.describe(host=host, port=port))


def _with_database(settings: Settings, use: Callable[[Database], Awaitable[T]]) -> T:
    """Run ``use`` on a database of ``settings``, closed after it, to its result."""
    from carebook.db.database import Database

    async def run() -> T:
        db = Database(settings.async_database_url)
        try:
            return await use(db)
        finally:
            await db.dispose()

    return asyncio.run(run())


def _keys_create(settings: Settings, subdomains: list[str], name: str | None) -> None:
    from carebook.core.tenancy import create_api_key

    _create_private_sqlite_file(settings)
    key = _with_database(
        settings,
        lambda db: db.write(
            lambda session: create_api_key(session, subdomains=subdomains, name=name)
        ),
    )
    _say(key)


def _keys_list(settings: Settings) -> None:
    from carebook.core.tenancy import list_api_keys

    check_migrated(settings)  # reads only: creates nothing where there is no database

    async def listed(db: Database) -> list[tuple[ApiKey, list[str]]]:
        async with db.read() as session:
            return await list_api_keys(session)

    lines = [
        "\t".join(
            [
                str(key.id),
                f"{key.prefix}…",
                "revoked" if key.revoked else "live",
                key.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                ",".join(subdomains) or "-",
                " ".join((key.name or "").split()),  # a tab or newline would break columns
            ]
        )
        for key, subdomains in _with_database(settings, listed)
    ]
    _say("\n".join(["id\tprefix\tstate\tcreated\tsubdomains\tname", *lines]))


def _keys_revoke(settings: Settings, key: str) -> None:
    from carebook.core.tenancy import KEY_RECHECK_SECONDS, revoke_api_key

    check_migrated(settings)
    # An id is a positive 64-bit integer; any other number names no key, as a key would not.
    is_id = key.isascii() and key.isdigit() and 1 <= int(key) < 2**63
    named: int | str = int(key) if is_id else key
    revoked = _with_database(
        settings, lambda db: db.write(lambda session: revoke_api_key(session, named))
    )
    _say(
        f"revoked {revoked.id}\t{revoked.prefix}…: it no longer authenticates, and the tokens "
        f"it was traded for stop working within {KEY_RECHECK_SECONDS:g} seconds"
    )


async def _schema_revision(async_url: str) -> str | None:
    """The Alembic revision the database is at (None: never migrated)."""
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import Connection, pool
    from sqlalchemy.ext.asyncio import create_async_engine

    def revision(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    engine = create_async_engine(async_url, poolclass=pool.NullPool)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(revision)
    finally:
        await engine.dispose()


def check_migrated(settings: Settings) -> None:
    """Refuse a database that is not at this Carebook's head revision: the API would answer
    500s on it (missing tables, or a schema the code does not expect)."""
    from alembic.script import ScriptDirectory
    from sqlalchemy.engine import make_url

    from carebook.db.migrate import alembic_config

    if settings.is_sqlite:
        database = make_url(settings.async_database_url).database
        if database and not Path(database).exists():
            raise Refused(NOT_MIGRATED)  # and connecting would create an empty file
    scripts = ScriptDirectory.from_config(alembic_config())
    head = scripts.get_current_head()
    current = asyncio.run(_schema_revision(settings.async_database_url))
    if current is None:
        raise Refused(NOT_MIGRATED)
    if current == head:
        return
    if current in {script.revision for script in scripts.walk_revisions()}:
        raise Refused(
            f"the database is at migration {current} and this Carebook needs {head}: "
            "run `carebook migrate` first"
        )
    raise Refused(
        f"the database is at migration {current}, which this Carebook does not know "
        f"(it needs {head}): was it migrated by a newer Carebook?"
    )


def check_can_listen(host: str, port: int) -> None:
    """Bind ``host:port`` as uvicorn will, and let go: a port in use or a host that does not
    resolve is said in one line here, where uvicorn would log it and exit with status 1 (or, with
    several workers, after their start). A port taken in between still fails in uvicorn."""
    shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    probes: list[socket.socket] = []
    try:
        for family, kind, protocol, _, address in socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        ):
            probe = socket.socket(family, kind, protocol)
            probes.append(probe)
            # As asyncio and uvicorn bind: a port whose last connections are in TIME_WAIT is free.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            probe.bind(address)
    except OSError as error:  # socket.gaierror included
        raise Refused(f"cannot listen on {shown}: {error.strerror or error}") from None
    finally:
        for probe in probes:
            probe.close()


def _serve(settings: Settings, host: str, port: int, workers: int) -> None:
    import uvicorn

    from carebook.serving import CoalescingHttpToolsProtocol

    settings.resolved_secret_key()  # a damaged key file stops here, said plainly, not at start-up
    check_can_listen(host, port)
    check_migrated(settings)

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
        # Carebook never uses the client's address (no access log, nothing keyed by it), so
        # uvicorn's X-Forwarded-For middleware would only add a hop to every request.
        proxy_headers=False,
        # Each answer in one write (carebook.serving).
        http=CoalescingHttpToolsProtocol,
    )


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="carebook", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=_port, default=8000, help="1 to 65535 (default 8000)")
    serve.add_argument("--workers", type=_workers, default=1, help="processes (default 1)")
    commands.add_parser("migrate", help="create or upgrade the database schema")
    demo = commands.add_parser("demo", help="load the demo institution (idempotent)")
    demo.add_argument("--host", default="127.0.0.1", help="the host the printed commands call")
    demo.add_argument("--port", type=_port, default=8000, help="the port they call")
    keys = commands.add_parser("keys", help="API keys")
    key_commands = keys.add_subparsers(dest="keys_command", required=True)
    create = key_commands.add_parser(
        "create", help="print a new API key for one institution, or several (repeat --subdomain)"
    )
    create.add_argument("--subdomain", required=True, action="append", dest="subdomains")
    create.add_argument("--name", default=None, help="a label kept with the key")
    key_commands.add_parser("list", help="list the API keys (never the keys themselves)")
    revoke = key_commands.add_parser(
        "revoke", help="revoke an API key: it and its tokens stop working"
    )
    revoke.add_argument("key", help="the key's id (see keys list), or the key itself")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
    except _UsageError as error:
        print(f"carebook: {error}", file=sys.stderr)
        return 2
    try:
        settings = Settings()
    except ValidationError as error:
        for problem in error.errors():
            variable = "CAREBOOK_" + "_".join(str(part) for part in problem["loc"]).upper()
            message = problem["msg"].removeprefix("Value error, ")
            print(f"carebook: {variable}: {message}", file=sys.stderr)
        return 2
    carebook_logger = logging.getLogger("carebook")
    if not carebook_logger.handlers:
        # The CLI says an outage itself, in one line. With no handler configured anywhere,
        # Python's last resort would print the database layer's warning about it as another.
        # (Under `serve`, records still propagate to the handlers the app configures.)
        carebook_logger.addHandler(logging.NullHandler())
    try:
        _run(args, settings)
    except _ReaderGone:
        # The reader of our output has gone (`carebook demo | head -2`): stop quietly, as Unix
        # tools do. Python would flush stdout again at exit and complain: point it at devnull.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return BROKEN_PIPE_STATUS
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

    if isinstance(error, Refused):
        return str(error)
    cause = error.__cause__ if isinstance(error, Unavailable) else error
    if cause is not None and is_outage(cause):
        return f"cannot use the database {shown_url(settings.database_url)}: {cause}"
    if cause is not None and _unusable(cause):
        said = getattr(cause, "orig", None) or cause  # the driver's words, not the SQL
        return f"cannot use the database {shown_url(settings.database_url)}: {said}"
    if isinstance(error, DomainError):
        return error.message
    text = str(error)
    if "no such table" in text or "UndefinedTable" in type(getattr(error, "orig", None)).__name__:
        return NOT_MIGRATED
    if isinstance(error, OSError | ValueError):
        return text
    return None


def _unusable(error: BaseException) -> bool:
    """A database the settings name but that cannot be used, for a reason an operator fixes
    (not an outage, not a bug): PostgreSQL refusing the login (SQLSTATE class 28), or a file
    at the SQLite path that is not a database."""
    original = getattr(error, "orig", None) or error
    code = getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)
    if isinstance(code, str) and code.startswith("28"):
        return True
    return "file is not a database" in str(original)


def _run(args: argparse.Namespace, settings: Settings) -> None:
    if args.command == "serve":
        _serve(settings, args.host, args.port, args.workers)
    elif args.command == "migrate":
        _migrate(settings)
    elif args.command == "demo":
        _demo(settings, args.host, args.port)
    elif args.keys_command == "create":
        _keys_create(settings, args.subdomains, args.name)
    elif args.keys_command == "list":
        _keys_list(settings)
    else:
        _keys_revoke(settings, args.key)


if __name__ == "__main__":
    sys.exit(main())
