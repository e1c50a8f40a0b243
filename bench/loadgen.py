"""A lean HTTP/1.1 keep-alive load generator (asyncio streams), so the client costs little CPU
next to the server on a 2-core machine. Loopback only."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    elapsed: float = 0.0

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        if not ordered:
            return float("nan")
        index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))
        return ordered[index] * 1000

    def summary(self, label: str) -> str:
        total = len(self.latencies)
        rate = total / self.elapsed if self.elapsed else 0.0
        mean = statistics.fmean(self.latencies) * 1000 if total else float("nan")
        statuses = ", ".join(f"{k}: {v}" for k, v in sorted(self.statuses.items()))
        return (
            f"{label}: {total} requests in {self.elapsed:.2f} s = {rate:,.0f} req/s; "
            f"latency p50 {self.percentile(50):.2f} ms, p99 {self.percentile(99):.2f} ms, "
            f"mean {mean:.2f} ms; statuses {{{statuses}}}"
        )


async def _request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: bytes) -> int:
    writer.write(raw)
    status_line = await reader.readline()
    status = int(status_line.split()[1])
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    if length:
        await reader.readexactly(length)
    return status


def build_request(method: str, url: str, body: bytes, headers: dict[str, str]) -> bytes:
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    lines = [
        f"{method} {path} HTTP/1.1",
        f"Host: {parts.netloc}",
        "Connection: keep-alive",
        f"Content-Length: {len(body)}",
    ]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def run(
    base_urls: Sequence[str],
    requests: Sequence[bytes],
    *,
    clients: int,
    max_seconds: float,
    on_status: Callable[[int], None] | None = None,
) -> Result:
    """Send ``requests`` (prebuilt raw HTTP) over ``clients`` keep-alive connections, spread
    over ``base_urls`` round-robin, until all are sent or ``max_seconds`` pass."""
    result = Result()
    queue = iter(requests)
    deadline = time.perf_counter() + max_seconds

    async def client(index: int) -> None:
        parts = urlsplit(base_urls[index % len(base_urls)])
        host = parts.hostname or "127.0.0.1"
        assert host in ("127.0.0.1", "localhost", "::1"), "load tests stay on loopback"
        reader, writer = await asyncio.open_connection(host, parts.port or 80)
        try:
            for raw in queue:
                if time.perf_counter() > deadline:
                    break
                began = time.perf_counter()
                status = await _request(reader, writer, raw)
                result.latencies.append(time.perf_counter() - began)
                result.statuses[status] += 1
                if on_status:
                    on_status(status)
        finally:
            writer.close()

    began = time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(clients)))
    result.elapsed = time.perf_counter() - began
    return result
