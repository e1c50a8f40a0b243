"""The ``carebook`` command: migrate, demo (idempotent), keys create, serve's checks, and the
promise that an ordinary mistake is one line and status 2."""

from __future__ import annotations

import asyncio
import os
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from carebook.cli import BROKEN_PIPE_STATUS, main, shown_url
from carebook.serving import CoalescingHttpToolsProtocol


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
    arguments = ["--subdomain", "north", "--subdomain", "south", "--name", "front desk"]
    assert main(["keys", "create", *arguments]) == 0
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

    async def named() -> str | None:
        db = Database(settings.async_database_url)
        try:
            async with db.read() as session:
                query = select(ApiKey.name).where(ApiKey.key_digest == digest_key(key))
                name: str | None = (await session.execute(query)).scalar_one()
                return name
        finally:
            await db.dispose()

    assert asyncio.run(named()) == "front desk"


# --- serve: the checks before uvicorn starts -------------------------------------------------


@pytest.fixture
def uvicorn_runs(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Each ``uvicorn.run`` that ``carebook serve`` reaches, recorded instead of serving."""
    import uvicorn

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: calls.append(options))
    return calls


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _head_revision() -> str:
    from alembic.script import ScriptDirectory

    from carebook.db.migrate import alembic_config

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def test_serve_refuses_a_database_not_migrated_to_the_head(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    uvicorn_runs: list[dict[str, Any]],
) -> None:
    import sqlite3

    from carebook.db.migrate import upgrade

    database = tmp_path / "var" / "carebook.db"
    monkeypatch.setenv("CAREBOOK_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("CAREBOOK_DATABASE_URL", raising=False)
    port = str(_free_port())
    not_migrated = (
        "carebook: the database has no Carebook tables yet: run `carebook migrate` first\n"
    )
    # No database at all: refused, and no empty file is left behind to look like one.
    assert main(["serve", "--port", port]) == 2
    assert capsys.readouterr().err == not_migrated
    assert not database.exists()
    # An empty file (what connecting to a new SQLite path makes).
    database.touch()
    assert main(["serve", "--port", port]) == 2
    assert capsys.readouterr().err == not_migrated
    # An older revision: the schema this Carebook expects is not all there.
    database.unlink()
    asyncio.run(upgrade(f"sqlite+aiosqlite:///{database}", "0002"))
    assert main(["serve", "--port", port]) == 2
    assert capsys.readouterr().err == (
        f"carebook: the database is at migration 0002 and this Carebook needs {_head_revision()}: "
        "run `carebook migrate` first\n"
    )
    # A revision this Carebook has never heard of (a newer Carebook migrated it).
    with sqlite3.connect(database) as connection:
        connection.execute("UPDATE alembic_version SET version_num = 'f00d'")
    assert main(["serve", "--port", port]) == 2
    assert capsys.readouterr().err == (
        "carebook: the database is at migration f00d, which this Carebook does not know "
        f"(it needs {_head_revision()}): was it migrated by a newer Carebook?\n"
    )
    assert uvicorn_runs == []
    # Migrated: serve goes on to uvicorn.
    with sqlite3.connect(database) as connection:
        connection.execute("UPDATE alembic_version SET version_num = '0002'")
    assert main(["migrate"]) == 0
    assert main(["serve", "--port", port, "--workers", "2"]) == 0
    assert [(c["host"], c["port"], c["workers"]) for c in uvicorn_runs] == [
        ("127.0.0.1", int(port), 2)
    ]
    assert uvicorn_runs[0]["http"] is CoalescingHttpToolsProtocol  # one write per answer
    assert capsys.readouterr().err == (
        "note: SQLite serialises writes; more workers add little. Use PostgreSQL to scale.\n"
    )


def test_serve_checks_the_revision_on_either_database(
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    uvicorn_runs: list[dict[str, Any]],
) -> None:
    """The session's databases are migrated to the head: serve starts on each."""
    monkeypatch.setenv("CAREBOOK_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("CAREBOOK_DATABASE_URL", database_url)
    assert main(["serve", "--port", str(_free_port())]) == 0
    assert len(uvicorn_runs) == 1
    assert capsys.readouterr().err == ""


def test_serve_on_an_unreachable_database_is_one_line(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    uvicorn_runs: list[dict[str, Any]],
) -> None:
    monkeypatch.setenv("CAREBOOK_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("CAREBOOK_DATABASE_URL", "postgresql://postgres@127.0.0.1:1/carebook")
    assert main(["serve", "--port", str(_free_port())]) == 2
    err = capsys.readouterr().err
    assert err.startswith("carebook: cannot use the database postgresql://postgres@127.0.0.1:1/")
    assert err.count("\n") == 1
    assert uvicorn_runs == []


@pytest.mark.parametrize(
    ("arguments", "said"),
    [
        (["serve", "--port", "99999"], "argument --port: a port is 1 to 65535, not 99999"),
        (["serve", "--port", "65536"], "argument --port: a port is 1 to 65535, not 65536"),
        (["serve", "--port", "0"], "argument --port: a port is 1 to 65535, not 0"),
        (["serve", "--port", "http"], "argument --port: not a port number: 'http'"),
        (["serve", "--workers", "0"], "argument --workers: at least 1 worker, not 0"),
        (["serve", "--workers", "-1"], "argument --workers: at least 1 worker, not -1"),
        (["serve", "--workers", "two"], "argument --workers: not a number of workers: 'two'"),
        (["demo", "--port", "99999"], "argument --port: a port is 1 to 65535, not 99999"),
        (["serve", "--bogus"], "unrecognized arguments: --bogus"),
        ([], "the following arguments are required: command"),
    ],
)
def test_bad_arguments_are_one_line_and_status_2(
    arguments: list[str],
    said: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    uvicorn_runs: list[dict[str, Any]],
) -> None:
    monkeypatch.setenv("CAREBOOK_VAR_DIR", str(tmp_path / "var"))
    assert main(arguments) == 2
    assert capsys.readouterr() == ("", f"carebook: {said}\n")
    assert uvicorn_runs == []
    assert not (tmp_path / "var").exists()


def test_the_edge_ports_are_taken() -> None:
    from carebook.cli import _parser

    for port in ("1", "65535"):
        assert _parser().parse_args(["serve", "--port", port]).port == int(port)
    assert _parser().parse_args(["serve", "--workers", "1"]).workers == 1


def test_serve_says_when_it_cannot_listen(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    uvicorn_runs: list[dict[str, Any]],
) -> None:
    monkeypatch.setenv("CAREBOOK_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("CAREBOOK_DATABASE_URL", raising=False)
    assert main(["migrate"]) == 0
    capsys.readouterr()
    # A port another process listens on.
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--port", str(port)]) == 2
        assert capsys.readouterr().err == (
            f"carebook: cannot listen on 127.0.0.1:{port}: Address already in use\n"
        )
    # A host that does not resolve (the .invalid domain never does: RFC 2606); the resolver's
    # words vary ("Name or service not known", "Temporary failure in name resolution").
    assert main(["serve", "--host", "nohost.invalid", "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"carebook: cannot listen on nohost.invalid:{port}: "), err
    assert err.count("\n") == 1
    # An address that is not this machine's.
    assert main(["serve", "--host", "192.0.2.1", "--port", str(port)]) == 2  # TEST-NET-1
    assert capsys.readouterr().err == (
        f"carebook: cannot listen on 192.0.2.1:{port}: Cannot assign requested address\n"
    )
    assert uvicorn_runs == []
    # Free again: serve goes on.
    assert main(["serve", "--port", str(port)]) == 0
    assert len(uvicorn_runs) == 1


def test_serve_serves(tmp_path: Path) -> None:
    """The real thing: `carebook serve` on a migrated database answers HTTP, then stops."""
    environment = {
        **os.environ,
        "CAREBOOK_VAR_DIR": str(tmp_path / "var"),
        "CAREBOOK_LOG_LEVEL": "warning",
    }
    environment.pop("CAREBOOK_DATABASE_URL", None)
    command = [sys.executable, "-m", "carebook.cli"]
    subprocess.run([*command, "migrate"], env=environment, check=True, capture_output=True)
    port = _free_port()
    server = subprocess.Popen(
        [*command, "serve", "--port", str(port)],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert server.poll() is None, server.communicate()
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the server did not answer in 30 s"
                time.sleep(0.1)
        assert answer.status_code == 200
        assert answer.json()["info"]["title"] == "Carebook"
    finally:
        server.terminate()
        server.communicate(timeout=30)


# --- output: a reader that goes away, passwords -----------------------------------------------


def test_a_reader_that_goes_away_is_not_a_database_problem(tmp_path: Path) -> None:
    """`carebook demo | head -2`: the rest of the output has no reader; stop quietly."""
    environment = {**os.environ, "CAREBOOK_VAR_DIR": str(tmp_path / "var")}
    environment.pop("CAREBOOK_DATABASE_URL", None)
    command = [sys.executable, "-m", "carebook.cli"]
    subprocess.run([*command, "migrate"], env=environment, check=True, capture_output=True)
    for arguments in (["demo"], ["migrate"]):
        read_end, write_end = os.pipe()
        os.close(read_end)  # the reader has gone before the first byte: every write fails
        try:
            done = subprocess.run(
                [*command, *arguments],
                env=environment,
                stdout=write_end,
                stderr=subprocess.PIPE,
                text=True,
            )
        finally:
            os.close(write_end)
        assert (done.returncode, done.stderr) == (BROKEN_PIPE_STATUS, ""), arguments


def test_the_database_password_is_never_printed(
    postgres_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from sqlalchemy.engine import make_url

    monkeypatch.setenv("CAREBOOK_VAR_DIR", str(tmp_path / "var"))
    # The test server trusts local connections, so the password is carried but not needed.
    url = make_url(postgres_url).set(drivername="postgresql", password="s3cretPW")
    monkeypatch.setenv("CAREBOOK_DATABASE_URL", url.render_as_string(hide_password=False))
    assert main(["migrate"]) == 0
    assert capsys.readouterr().out == (f"migrated {url.render_as_string(hide_password=True)}\n")
    assert "postgresql://postgres:***@" in url.render_as_string(hide_password=True)
    # ... nor when the database cannot be reached.
    monkeypatch.setenv(
        "CAREBOOK_DATABASE_URL", "postgresql://postgres:s3cretPW@127.0.0.1:1/carebook"
    )
    for arguments in (["migrate"], ["keys", "create", "--subdomain", "demo"]):
        assert main(arguments) == 2
        err = capsys.readouterr().err
        assert err.startswith(
            "carebook: cannot use the database postgresql://postgres:***@127.0.0.1:1/carebook: "
        ), err
        assert "s3cretPW" not in err


def test_shown_url_hides_only_a_password() -> None:
    assert shown_url("sqlite:///./var/carebook.db") == "sqlite:///./var/carebook.db"
    socket_url = "postgresql://postgres@/carebook?host=/var/run/postgresql"
    assert shown_url(socket_url) == socket_url  # as written: nothing to hide
    assert shown_url("postgresql://u:p%40ss@db/cb") == "postgresql://u:***@db/cb"


# --- what the CLI creates is private -----------------------------------------------------------


def test_the_var_dir_and_the_sqlite_file_are_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    var = tmp_path / "deep" / "var"
    monkeypatch.setenv("CAREBOOK_VAR_DIR", str(var))
    monkeypatch.delenv("CAREBOOK_DATABASE_URL", raising=False)
    assert main(["migrate"]) == 0
    assert main(["demo"]) == 0
    modes = {path.name: stat.S_IMODE(path.stat().st_mode) for path in [var, *var.iterdir()]}
    # SQLite's -wal and -shm files, while they exist, take the database file's mode.
    private_files = {"carebook.db", "demo_api_key", "carebook.db-wal", "carebook.db-shm"}
    expected = {"var": 0o700} | {name: 0o600 for name in private_files if name in modes}
    assert modes == expected
    assert {"carebook.db", "demo_api_key"} <= set(modes)
    # A SQLite file named by URL, in a directory Carebook makes, is private too.
    elsewhere = tmp_path / "data" / "clinic.db"
    monkeypatch.setenv("CAREBOOK_DATABASE_URL", f"sqlite:///{elsewhere}")
    assert main(["migrate"]) == 0
    assert stat.S_IMODE(elsewhere.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(elsewhere.stat().st_mode) == 0o600
    # What exists already keeps the mode its owner gave it.
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)
    (shared / "clinic.db").touch(mode=0o640)
    (shared / "clinic.db").chmod(0o640)
    monkeypatch.setenv("CAREBOOK_VAR_DIR", str(shared))
    monkeypatch.setenv("CAREBOOK_DATABASE_URL", f"sqlite:///{shared / 'clinic.db'}")
    assert main(["migrate"]) == 0
    assert stat.S_IMODE(shared.stat().st_mode) == 0o755
    assert stat.S_IMODE((shared / "clinic.db").stat().st_mode) == 0o640


def test_a_short_admin_key_is_refused_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CAREBOOK_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("CAREBOOK_ADMIN_API_KEY", "admin")
    assert main(["serve"]) == 2
    assert capsys.readouterr().err == (
        "carebook: CAREBOOK_ADMIN_API_KEY: must be at least 32 characters "
        "(generate one with: openssl rand -base64 48)\n"
    )


def test_an_outage_is_one_line_from_the_command_itself(tmp_path: Path) -> None:
    """Not also the database layer's logged warning (Python prints it when nothing is set up
    for logging, as in a CLI process; pytest's own handlers would hide it in-process)."""
    environment = {
        **os.environ,
        "CAREBOOK_VAR_DIR": str(tmp_path / "var"),
        "CAREBOOK_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/carebook",
    }
    for arguments in (["demo"], ["keys", "create", "--subdomain", "demo"], ["migrate"]):
        done = subprocess.run(
            [sys.executable, "-m", "carebook.cli", *arguments],
            env=environment,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 2, arguments
        assert done.stderr.startswith(
            "carebook: cannot use the database postgresql://postgres@127.0.0.1:1/carebook: "
        ), (arguments, done.stderr)
        assert done.stderr.count("\n") == 1, (arguments, done.stderr)


def test_keys_list_and_revoke(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A key is revoked by its id or by itself; it then no longer authenticates. Listing shows
    ids, prefixes and states, never a key."""
    from carebook.app import create_app
    from carebook.config import Settings

    monkeypatch.setenv("CAREBOOK_DATABASE_URL", f"sqlite:///{tmp_path / 'var' / 'c.db'}")
    monkeypatch.setenv("CAREBOOK_VAR_DIR", str(tmp_path / "var"))
    assert main(["migrate"]) == 0
    assert main(["demo"]) == 0
    demo_key = next(
        line.removeprefix("Demo API key: ")
        for line in capsys.readouterr().out.splitlines()
        if line.startswith("Demo API key: ")
    )
    assert main(["keys", "create", "--subdomain", "demo", "--name", "front desk"]) == 0
    second_key = capsys.readouterr().out.strip()

    assert main(["keys", "list"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert listed[0] == "id\tprefix\tstate\tcreated\tsubdomains\tname"
    rows = [line.split("\t") for line in listed[1:]]
    assert [(r[0], r[1], r[2], r[4], r[5]) for r in rows] == [
        ("1", f"{demo_key[:8]}…", "live", "demo", rows[0][5]),
        ("2", f"{second_key[:8]}…", "live", "demo", "front desk"),
    ]
    assert demo_key not in "\n".join(listed)
    assert second_key not in "\n".join(listed)

    assert main(["keys", "revoke", "2"]) == 0
    said = capsys.readouterr().out
    assert said == (
        f"revoked 2\t{second_key[:8]}…: it no longer authenticates, and the tokens it was "
        "traded for stop working within 10 seconds\n"
    )
    assert main(["keys", "revoke", demo_key]) == 0
    assert capsys.readouterr().out.startswith(f"revoked 1\t{demo_key[:8]}…")
    assert main(["keys", "revoke", "2"]) == 0  # again: nothing changes
    capsys.readouterr()
    assert main(["keys", "revoke", "99"]) == 2
    assert capsys.readouterr().err == "carebook: API key 99 not found\n"
    assert main(["keys", "revoke", "cbk_not-a-key"]) == 2
    assert capsys.readouterr().err == "carebook: API key cbk_not-… not found\n"
    assert main(["keys", "list"]) == 0
    states = [line.split("\t")[2] for line in capsys.readouterr().out.splitlines()[1:]]
    assert states == ["revoked", "revoked"]

    async def authenticate(key: str) -> int:
        app = create_app(Settings())
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                answer = await client.post("/authenticates", headers={"Authorization": key})
                return answer.status_code

    assert asyncio.run(authenticate(second_key)) == 401
    assert asyncio.run(authenticate(demo_key)) == 401
    # The demo replaces its revoked key rather than print a dead one.
    assert main(["demo"]) == 0
    new_demo_key = next(
        line.removeprefix("Demo API key: ")
        for line in capsys.readouterr().out.splitlines()
        if line.startswith("Demo API key: ")
    )
    assert new_demo_key != demo_key
    assert asyncio.run(authenticate(new_demo_key)) == 201
    assert main(["keys", "revoke", "99999999999999999999"]) == 2  # no id: looked up as a key
    assert capsys.readouterr().err == "carebook: API key 99999999… not found\n"


def test_keys_commands_create_nothing_where_there_is_no_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CAREBOOK_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("CAREBOOK_DATABASE_URL", raising=False)
    for arguments in (["keys", "list"], ["keys", "revoke", "1"]):
        assert main(arguments) == 2
        assert capsys.readouterr().err == (
            "carebook: the database has no Carebook tables yet: run `carebook migrate` first\n"
        )
    assert not (tmp_path / "var" / "carebook.db").exists()


def test_a_database_that_cannot_be_used_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Not an outage, not a bug: a file that is no database, a login PostgreSQL refuses."""
    monkeypatch.setenv("CAREBOOK_VAR_DIR", str(tmp_path / "var"))
    not_a_database = tmp_path / "notes.db"
    not_a_database.write_text("these are notes, not a database " * 10)
    cases = [
        (f"sqlite:///{not_a_database}", "file is not a database"),
        ("postgresql://no_such_role_here@127.0.0.1:5432/test", 'role "no_such_role_here"'),
    ]
    for url, said in cases:
        monkeypatch.setenv("CAREBOOK_DATABASE_URL", url)
        for arguments in (["serve", "--port", str(_free_port())], ["migrate"], ["keys", "list"]):
            assert main(arguments) == 2, (url, arguments)
            err = capsys.readouterr().err
            assert err.startswith(f"carebook: cannot use the database {url}: "), err
            assert said in err
            assert err.count("\n") == 1, err
