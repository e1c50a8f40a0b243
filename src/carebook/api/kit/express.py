"""The express lane: the two booking endpoints served without FastAPI's per-request machinery.

Booking is the hot path (the throughput goal is set on it), and on a 2-core machine FastAPI's
routing, middleware stack and dependency solving cost about 0.16 ms of CPU per request: a fifth
of a booking. So the app answers the booking POSTs through this lane first. A lane is two steps:

1. ``prepare`` reads the request (query, headers, JSON body, bearer token, tenant) without
   side effects. It returns None (or raises) for *anything* it does not take in its stride: a
   form body, a missing token, a field that fails validation. The request then goes, body
   replayed, to the FastAPI route, which answers it exactly as always. So every error answer
   and every unusual request is still the documented route's, and the lane can stay small.
2. ``run`` books through the same translation function the FastAPI route calls (one place
   builds the core request and the response bytes). Errors from here on are rendered by the
   path's API dialect, as the app's exception handlers would render them; nothing is replayed
   once the core has been called.

The FastAPI routes stay the OpenAPI document's source and the fallback; tests run every case
through the app, so both lanes are exercised, and ``Settings.express`` can switch the lane off.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.types import Message, Receive, Scope, Send

from carebook.api.kit.problems import Dialects, Problem, problem_from_domain
from carebook.api.kit.state import AppState
from carebook.core.errors import DomainError

logger = logging.getLogger("carebook.api")

# Larger bodies go to FastAPI (a booking is a few hundred bytes): the lane buffers little.
MAX_EXPRESS_BODY = 64 * 1024


@dataclass(frozen=True)
class ExpressResponse:
    status: int
    body: bytes
    media_type: bytes = b"application/json"


@dataclass(frozen=True)
class ExpressRequest:
    scope: Scope
    query: bytes
    headers: dict[bytes, bytes]  # lower-cased names; a repeated header sends it to FastAPI
    body: bytes
    state: AppState


Run = Callable[[], Awaitable[ExpressResponse]]
Prepare = Callable[[ExpressRequest], Awaitable[Run | None]]


@dataclass(frozen=True)
class Lane:
    """POST to one of ``paths`` (compared lower-cased, trailing slash ignored when
    ``case_insensitive``: ASP.NET's routing) goes through ``prepare``."""

    paths: frozenset[str]
    prepare: Prepare
    case_insensitive: bool = False


class ExpressRouter:
    def __init__(self, lanes: list[Lane]) -> None:
        self._exact: dict[str, Prepare] = {}
        self._folded: dict[str, Prepare] = {}
        for lane in lanes:
            for path in lane.paths:
                if lane.case_insensitive:
                    self._folded[path.lower().rstrip("/")] = lane.prepare
                else:
                    self._exact[path] = lane.prepare

    def match(self, scope: Scope) -> Prepare | None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope.get("root_path"):
            return None
        path: str = scope["path"]
        found = self._exact.get(path)
        if found is None and self._folded:
            found = self._folded.get(path.lower().rstrip("/"))
        return found


async def _read_body(receive: Receive) -> tuple[bytes, bool, bool]:
    """What was read of the body, whether that is all of it, and whether it stayed within
    :data:`MAX_EXPRESS_BODY` (reading stops as soon as it does not)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), False, False
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        complete = not message.get("more_body", False)
        if complete or size > MAX_EXPRESS_BODY:
            return b"".join(chunks), complete, size <= MAX_EXPRESS_BODY


def _replaying(body: bytes, complete: bool, receive: Receive) -> Receive:
    """A ``receive`` that hands the already-read body on first, then the real one's messages."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": not complete}
        return await receive()

    return replay


async def _send(send: Send, response: ExpressResponse) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": response.status,
            "headers": [
                (b"content-type", response.media_type),
                (b"content-length", str(len(response.body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": response.body})


async def serve(
    prepare: Prepare,
    *,
    state: AppState | None,
    dialects: Dialects,
    scope: Scope,
    receive: Receive,
    send: Send,
    fallback: Callable[[Scope, Receive, Send], Awaitable[None]],
) -> None:
    body, complete, small = await _read_body(receive)
    run: Run | None = None
    if complete and small and state is not None:
        headers: dict[bytes, bytes] = {}
        unique = True
        for name, value in scope["headers"]:
            lowered = name.lower()
            if lowered in headers:
                unique = False
                break
            headers[lowered] = value
        if unique:
            request = ExpressRequest(scope, scope.get("query_string", b""), headers, body, state)
            try:
                run = await prepare(request)
            except Exception:  # whatever it is, the FastAPI route will say it properly
                run = None
    if run is None:
        await fallback(scope, _replaying(body, complete, receive), send)
        return
    try:
        response = await run()
    except DomainError as error:
        await dialects.render(Request(scope), problem_from_domain(error))(scope, receive, send)
        return
    except Exception:
        logger.exception("unhandled error on %s %s", scope["method"], scope["path"])
        problem = Problem(500, "internal server error")
        await dialects.render(Request(scope), problem)(scope, receive, send)
        return
    await _send(send, response)


__all__ = [
    "ExpressRequest",
    "ExpressResponse",
    "ExpressRouter",
    "Lane",
    "Prepare",
    "Run",
    "serve",
]
