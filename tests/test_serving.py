"""``carebook serve``'s HTTP protocol (``carebook.serving``): each answer goes out in one write,
and every answer still arrives whole (keep-alive, HEAD, ``Connection: close``, large bodies)."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from carebook.config import Settings
from carebook.serving import _CoalescingTransport
from tests.support import Api

pytestmark = pytest.mark.anyio


class _RecordingTransport:
    """What a transport was asked to do, in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.closing = False

    def write(self, data: bytes) -> None:
        self.calls.append(("write", data))

    def close(self) -> None:
        self.calls.append(("close", None))
        self.closing = True

    def is_closing(self) -> bool:
        return self.closing

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("extra", name)


async def _next_turn() -> None:
    await asyncio.sleep(0)


async def test_writes_in_one_turn_go_out_as_one_at_its_end() -> None:
    recorded = _RecordingTransport()
    transport: Any = _CoalescingTransport(recorded, asyncio.get_running_loop())  # type: ignore[arg-type]
    transport.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
    transport.write(b"{}")
    assert recorded.calls == []
    await _next_turn()
    assert recorded.calls == [("write", b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}")]
    # The next turn's writes are the next write.
    transport.write(b"more")
    await _next_turn()
    await _next_turn()  # nothing held: nothing more written
    assert recorded.calls[1:] == [("write", b"more")]
    assert transport.get_extra_info("sockname") == ("extra", "sockname")


async def test_close_sends_what_is_held_first() -> None:
    recorded = _RecordingTransport()
    transport: Any = _CoalescingTransport(recorded, asyncio.get_running_loop())  # type: ignore[arg-type]
    transport.write(b"head")
    transport.write(b"body")
    transport.close()
    assert recorded.calls == [("write", b"headbody"), ("close", None)]
    await _next_turn()  # the turn's own flush finds nothing left
    assert recorded.calls == [("write", b"headbody"), ("close", None)]


async def test_what_a_transport_closed_under_it_holds_is_dropped() -> None:
    recorded = _RecordingTransport()
    transport: Any = _CoalescingTransport(recorded, asyncio.get_running_loop())  # type: ignore[arg-type]
    transport.write(b"head")
    recorded.closing = True  # closed by the loop (the peer gone), not through this transport
    await _next_turn()
    assert recorded.calls == []


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server(settings: Settings) -> Iterator[tuple[str, int]]:
    """``carebook serve`` itself, on the test database: (host, port)."""
    port = _free_port()
    env = {
        **os.environ,
        "CAREBOOK_DATABASE_URL": settings.database_url,
        "CAREBOOK_SECRET_KEY": settings.secret_key or "",
        "CAREBOOK_VAR_DIR": str(settings.var_dir),
        "CAREBOOK_LOG_LEVEL": "warning",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "carebook", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.1)
        yield "127.0.0.1", port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


class _Reader:
    """Responses read off one connection, in order (several may come in one ``recv``)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""

    def _more(self) -> None:
        chunk = self.sock.recv(65536)
        assert chunk, f"connection closed mid-response: {self.buffer[:200]!r}"
        self.buffer += chunk

    def response(self, *, head: bool = False) -> tuple[bytes, bytes]:
        """The next response's head and body (none for a HEAD request: only its length)."""
        while b"\r\n\r\n" not in self.buffer:
            self._more()
        header, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        length = next(
            int(line.split(b":", 1)[1])
            for line in header.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        if head:
            return header, b""
        while len(self.buffer) < length:
            self._more()
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return header, body


async def test_every_answer_arrives_whole_through_carebook_serve(
    api: Api, server: tuple[str, int]
) -> None:
    clinic = await api.clinic()
    host, port = server
    expected_openapi = (await api.client.get("/openapi.json")).content
    assert len(expected_openapi) > 64 * 1024  # several segments' worth
    token = clinic.auth["Authorization"].encode()
    with socket.create_connection((host, port), timeout=10) as sock:
        # Three requests at once on one keep-alive connection, a HEAD among them.
        sock.sendall(
            b"GET /openapi.json HTTP/1.1\r\nHost: x\r\n\r\n"
            b"HEAD /openapi.json HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /locations/"
            + str(clinic.location_id).encode()
            + b"?subdomain="
            + clinic.subdomain.encode()
            + b" HTTP/1.1\r\nHost: x\r\nAuthorization: "
            + token
            + b"\r\n\r\n"
        )
        reader = _Reader(sock)
        header, body = reader.response()
        assert header.startswith(b"HTTP/1.1 200 OK")
        assert body == expected_openapi
        # HEAD: the head alone (uvicorn writes no body for it), sent, not held.
        header, _ = reader.response(head=True)
        assert header.startswith(b"HTTP/1.1 200 OK")
        assert f"content-length: {len(expected_openapi)}".encode() in header
        header, body = reader.response()
        assert header.startswith(b"HTTP/1.1 200 OK")
        location = httpx.Response(200, content=body).json()["data"]
        assert location["id"] == clinic.location_id
        # Connection: close: the whole answer, then the end of the stream.
        sock.sendall(b"GET /openapi.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        header, body = reader.response()
        assert body == expected_openapi
        assert reader.buffer == b""
        assert sock.recv(1) == b""
