"""Where the CPU goes during a benchmark run, read from Linux's /proc (None elsewhere).

A booking's cost is split between the API processes, PostgreSQL and everything else (the load
generator, the kernel's network stack): on a 2-core machine that split says what a faster API
process can and cannot buy.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

_PROC = Path("/proc")


def _stat(pid: int) -> tuple[str, int, float] | None:
    """(command name, parent pid, CPU seconds used) of one process, or None if it is gone."""
    try:
        text = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # "pid (comm) state ppid ... utime stime ...": comm may hold spaces and parentheses.
    name = text[text.index("(") + 1 : text.rindex(")")]
    fields = text[text.rindex(")") + 2 :].split()
    ticks = int(fields[11]) + int(fields[12])
    return name, int(fields[1]), ticks / os.sysconf("SC_CLK_TCK")


def _all() -> dict[int, tuple[str, int, float]]:
    found = {}
    for entry in _PROC.iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None:
                found[int(entry.name)] = stat
    return found


@dataclass(frozen=True)
class Snapshot:
    api: float  # the given processes and their descendants
    postgres: float  # every process named postgres
    machine: float  # all CPUs, busy time of any kind (steal excluded)
    steal: float  # all CPUs: time the hypervisor gave to other guests while this one was ready
    total: float  # all CPUs: every kind of time, idle and steal included


def snapshot(api_pids: Iterable[int]) -> Snapshot | None:
    if not (_PROC / "stat").exists():
        return None
    processes = _all()
    tree = set(api_pids)
    grew = True
    while grew:  # the servers' workers, and theirs
        children = {pid for pid, (_, ppid, _) in processes.items() if ppid in tree} - tree
        tree |= children
        grew = bool(children)
    api = sum(cpu for pid, (_, _, cpu) in processes.items() if pid in tree)
    postgres = sum(cpu for name, _, cpu in processes.values() if name.startswith("postgres"))
    # /proc/stat's first line: user nice system idle iowait irq softirq steal ... (ticks).
    values = [int(v) for v in (_PROC / "stat").read_text().split("\n", 1)[0].split()[1:]]
    busy = sum(values[:3]) + sum(values[5:7])
    tick = os.sysconf("SC_CLK_TCK")
    steal = values[7] if len(values) > 7 else 0
    return Snapshot(api, postgres, busy / tick, steal / tick, sum(values[:8]) / tick)


def per_booking(before: Snapshot | None, after: Snapshot | None, bookings: int) -> str | None:
    """``CPU per booking: API … ms, PostgreSQL … ms, whole machine … ms``, and the share of the
    CPUs' time the hypervisor took (steal) when it took any: on a shared host that time is
    lost to the run, so fewer bookings a second at the same CPU per booking."""
    if before is None or after is None or bookings <= 0:
        return None

    def ms(seconds: float) -> str:
        return f"{seconds / bookings * 1000:.2f} ms"

    parts = [f"API processes {ms(after.api - before.api)}"]
    if after.postgres > before.postgres:
        parts.append(f"PostgreSQL {ms(after.postgres - before.postgres)}")
    parts.append(f"whole machine {ms(after.machine - before.machine)}")
    line = "CPU per booking: " + ", ".join(parts)
    steal, total = after.steal - before.steal, after.total - before.total
    if steal > 0 and total > 0:
        line += f"; steal {steal / total:.0%} of the CPUs' time"
    return line
