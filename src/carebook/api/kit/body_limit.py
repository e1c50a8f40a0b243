"""The limit on request bodies, kept in front of everything that reads one.

FastAPI reads (and parses) a body before it authenticates the caller, and the express lane reads
one before it looks at the token: without a limit anyone could make the server buffer a body of
any size. The app (``CarebookApp.__call__``) checks every HTTP request here first:

* a ``Content-Length`` over :data:`MAX_BODY_BYTES` is answered 413 at once, nothing read;
* a body without one (chunked, or streamed over HTTP/2) is read through :func:`limited`, which
  counts its bytes and raises :class:`BodyTooLarge` (a 413) as soon as they pass the limit.

A body with a ``Content-Length`` within the limit is not counted again: ASGI servers deliver
exactly the bytes it declares (h11 and httptools refuse a body longer than its header). So the
booking hot path pays one scan of the header list, nothing per chunk.

:class:`BodyTooLarge` is Starlette's ``HTTPException``: raised while FastAPI reads a body, the
app's exception handler renders it in the path's API dialect like any other HTTP error; raised
while the express lane reads, the app renders it itself (:func:`too_large`).
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import Message, Receive, Scope

MAX_BODY_BYTES = 1024 * 1024
"""The largest request body taken, in bytes. The largest legitimate bodies are a booking (a few
hundred bytes; a Calendar booking with 50 reasons and 4,000 characters of DocIds under 10 KiB) and
a catalogue item or provider with free-form JSON (kept at most 32 levels deep): 1 MiB leaves
room for any of them many times over."""

TOO_LARGE_MESSAGE = f"the request body is larger than {MAX_BODY_BYTES} bytes"

_CONTENT_LENGTH = b"content-length"


class BodyTooLarge(HTTPException):
    """A request body over :data:`MAX_BODY_BYTES` (413)."""

    def __init__(self) -> None:
        super().__init__(status_code=413, detail=TOO_LARGE_MESSAGE)


def declared_length(scope: Scope) -> int | None:
    """The request's ``Content-Length``; None when it has none (or none that is a number, which
    the server would have refused)."""
    for name, value in scope["headers"]:
        # ASGI servers give header names in lower case; the length test keeps the rest cheap.
        if len(name) == len(_CONTENT_LENGTH) and name.lower() == _CONTENT_LENGTH:
            try:
                length = int(value)
            except ValueError:
                return None
            return length if length >= 0 else None
    return None


def limited(receive: Receive) -> Receive:
    """``receive``, raising :class:`BodyTooLarge` once the body read passes the limit."""
    size = 0

    async def receive_within_limit() -> Message:
        nonlocal size
        message = await receive()
        if message["type"] == "http.request":
            size += len(message.get("body", b""))
            if size > MAX_BODY_BYTES:
                raise BodyTooLarge
        return message

    return receive_within_limit


__all__ = [
    "MAX_BODY_BYTES",
    "TOO_LARGE_MESSAGE",
    "BodyTooLarge",
    "declared_length",
    "limited",
]
