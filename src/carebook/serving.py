"""uvicorn's HTTP protocol, sending each response in one write.

uvicorn's httptools protocol writes a response's status line and headers, then its body, each
straight to the socket: two ``send()`` calls and two TCP segments for every answer (uvloop's
transport sends at once while its buffer is empty). On loopback each send does the receiver's
work too, in the sender's time. Here the protocol's transport holds what is written during one
turn of the event loop and sends it as one write at the end of that turn (or at once before the
connection is closed), so a booking's answer is one segment. Nothing else changes: the same
bytes, in the same order, a moment later within the same turn.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class _CoalescingTransport:
    """A transport whose writes during one turn of the loop go out as one; everything else is
    the wrapped transport's own (``close`` sends what is held first)."""

    __slots__ = ("_transport", "_loop", "_held")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not self._held:
            self._loop.call_soon(self._flush)
        self._held.append(data)

    def _flush(self) -> None:
        held = self._held
        if held:
            self._held = []
            # A transport closed under us (the peer gone, a fatal error) would refuse the write
            # from a loop callback, where nothing could answer it; what it holds is undeliverable.
            if not self._transport.is_closing():
                self._transport.write(b"".join(held))

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class CoalescingHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol over a :class:`_CoalescingTransport`."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        coalescing: Any = _CoalescingTransport(transport, self.loop)
        super().connection_made(coalescing)


__all__ = ["CoalescingHttpToolsProtocol"]
