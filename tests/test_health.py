"""``GET /healthz``: 200 while the database answers, a 503 in the envelope when it does not."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import httpx
import pytest

from carebook.app import create_app
from carebook.config import Settings
from carebook.core import health
from tests.support import Api
from tests.test_outage import assert_nexhealth_503

pytestmark = pytest.mark.anyio

SECRET = "health-test-secret-key-long-enough-for-hs256"


async def test_a_process_whose_database_answers_is_healthy_without_a_token(api: Api) -> None:
    for headers in ({}, {"Authorization": "Bearer not-a-token"}):
        response = await api.client.get("/healthz", headers=headers)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/json"
        assert response.json() == {
            "code": True,
            "description": None,
            "error": None,
            "data": {"status": "ok"},
            "count": None,
        }
    # As every answer in the envelope does, it names the query parameters it ignores.
    response = await api.client.get("/healthz?subdomain=acme")
    assert response.status_code == 200, response.text
    assert (
        response.json()["description"] == "Note that following parameters are ignored: subdomain."
    )


async def _healthz(settings: Settings) -> httpx.Response:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://carebook.test") as c:
            # Far below asyncpg's own connect timeout (60 s): the answer must not wait for it.
            async with asyncio.timeout(10):
                return await c.get("/healthz")


async def test_a_database_that_cannot_be_reached_is_a_503(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    # Nothing listens on port 1: every connection attempt is refused.
    settings = Settings(
        database_url="postgresql://postgres@127.0.0.1:1/carebook",
        secret_key=SECRET,
        var_dir=tmp_path / "var",
    )
    assert_nexhealth_503(await _healthz(settings))
    assert [r.getMessage()[:22] for r in caplog.records if r.name.startswith("carebook")] == [
        "database unavailable: "
    ]


async def test_a_database_that_never_answers_is_a_503_after_the_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    monkeypatch.setattr(health, "TIMEOUT_SECONDS", 0.5)
    accepted: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # Takes the connection and the client's start-up message, and never answers.
        accepted.append(writer)
        await reader.read()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    settings = Settings(
        database_url=f"postgresql://postgres@127.0.0.1:{port}/carebook",
        secret_key=SECRET,
        var_dir=tmp_path / "var",
    )
    async with server:
        assert_nexhealth_503(await _healthz(settings))
        for writer in accepted:
            writer.close()
            await writer.wait_closed()
    assert accepted  # it was the silence that timed out, not a refused connection
    messages = [r.getMessage() for r in caplog.records if r.name.startswith("carebook")]
    assert messages == ["database unavailable: no answer within 0.5 s"]
