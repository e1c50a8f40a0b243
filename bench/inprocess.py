"""A booking's own CPU cost in the API process, with no HTTP server, network or load generator.

    python bench/inprocess.py --database postgres                 # CPU µs per booking
    python bench/inprocess.py --api calendar --profile 25         # and cProfile's top 25
    python bench/inprocess.py --profile 5 --callers attributes.py  # who calls what
    valgrind --tool=callgrind python bench/inprocess.py --bookings 1200   # instructions

It seeds the same clinic as bench/booking.py, builds the same requests, and hands them to the
ASGI app in this process (four in flight at a time, on uvloop), every one of which must answer
201/200. It prints the process's CPU time per booking. On a shared 2-core machine whose speed
moves from minute to minute, instruction counts are the figure that code changes move and the
day does not: run it under callgrind with two ``--bookings`` counts (say 200 and 1,200) and
divide the difference of the totals by the difference of the counts.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.booking import analyze, requests_for, seeded_database
from carebook.app import create_app
from carebook.config import Settings

Message = dict[str, Any]


def scope_of(raw: bytes) -> tuple[dict[str, Any], bytes]:
    """The ASGI scope and body of one prebuilt HTTP/1.1 request (``loadgen.build_request``)."""
    head, _, body = raw.partition(b"\r\n\r\n")
    request_line, *header_lines = head.split(b"\r\n")
    method, target, _ = request_line.split(b" ")
    path, _, query = target.partition(b"?")
    headers = []
    for line in header_lines:
        name, _, value = line.partition(b":")
        headers.append((name.strip().lower(), value.strip()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method.decode(),
        "scheme": "http",
        "path": path.decode(),
        "raw_path": path,
        "query_string": query,
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    return scope, body


async def call(app: Callable[..., Awaitable[None]], scope: dict[str, Any], body: bytes) -> int:
    """One request through the app; its status."""
    status = 0
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)  # as a server would: no disconnect while answering
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(dict(scope), receive, send)
    return status


async def lifespan(app: Callable[..., Awaitable[None]]) -> Callable[[], Awaitable[None]]:
    """Start the app's lifespan; the coroutine function that shuts it down."""
    inbox: asyncio.Queue[Message] = asyncio.Queue()
    outbox: asyncio.Queue[Message] = asyncio.Queue()
    task = asyncio.ensure_future(app({"type": "lifespan", "state": {}}, inbox.get, outbox.put))
    await inbox.put({"type": "lifespan.startup"})
    started = await outbox.get()
    assert started["type"] == "lifespan.startup.complete", started

    async def shutdown() -> None:
        await inbox.put({"type": "lifespan.shutdown"})
        await outbox.get()
        await task

    return shutdown


async def token_of(app: Callable[..., Awaitable[None]], scope: dict[str, Any]) -> str:
    chunks: list[bytes] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return str(json.loads(b"".join(chunks))["data"]["token"])


async def drive(url: str, data: dict[str, Any], args: argparse.Namespace) -> float:
    """Book ``args.warmup`` then ``args.bookings`` requests; the CPU seconds of the latter."""
    warmup, profile = args.warmup, args.profile
    app = create_app(
        Settings(database_url=url, secret_key=uuid.uuid4().hex * 2, log_level="warning")
    )
    shutdown = await lifespan(app)
    try:
        token_scope, _ = scope_of(
            b"POST /authenticates HTTP/1.1\r\nAuthorization: " + data["key"].encode() + b"\r\n\r\n"
        )
        token = await token_of(app, token_scope)
        raws = requests_for(
            args.api, "http://127.0.0.1:8000", token, data, warmup + args.bookings, 0
        )
        requests = [scope_of(raw) for raw in raws]

        async def run(batch: list[tuple[dict[str, Any], bytes]]) -> None:
            for i in range(0, len(batch), 4):
                statuses = await asyncio.gather(*(call(app, s, b) for s, b in batch[i : i + 4]))
                bad = [s for s in statuses if s not in (200, 201)]
                if bad:
                    raise SystemExit(f"a booking answered {bad[0]}")

        await run(requests[:warmup])
        if url.startswith("postgresql"):
            # As bench/booking.py does (and autovacuum would on a live database): the plans
            # are then made with statistics that know the warm-up's bookings.
            await analyze(url)
        # Process time, not wall time: a coroutine waiting on the database costs nothing here.
        profiler = cProfile.Profile(time.process_time) if profile else None
        started = time.process_time()
        if profiler is not None:
            profiler.enable()
        await run(requests[warmup:])
        if profiler is not None:
            profiler.disable()
        spent = time.process_time() - started
        if profiler is not None:
            stats = pstats.Stats(profiler).sort_stats("tottime")
            stats.print_stats(profile)
            if args.callers:
                stats.print_callers(args.callers)
        return spent
    finally:
        await shutdown()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "CAREBOOK_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument("--api", choices=["nexhealth", "calendar"], default="nexhealth")
    parser.add_argument("--bookings", type=int, default=2_000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="cProfile's top N")
    parser.add_argument(
        "--callers", default="", metavar="PATTERN", help="with --profile: who calls these"
    )
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="carebook-inprocess-"))
    try:
        url, data = seeded_database(args, tmp, "carebook_inprocess")
        spent = uvloop.run(drive(url, data, args))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(
        f"in-process {args.api} on {args.database}: {args.bookings} bookings, "
        f"{spent / args.bookings * 1e6:.0f} µs CPU each (this process)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
