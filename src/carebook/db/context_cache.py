"""What a process read for its recent bookings, kept to book from again.

A booking reads the records it refers to and the facts it is decided by (the booking context:
one statement, about a fifth of a booking's cost on SQLite and a third of a round trip's worth
of PostgreSQL's). Those change rarely, bookings repeat them constantly, and a process cannot
see another's writes; so each read is kept with the institution's *reference version* it was
read at (``tables.ReferenceVersion``, kept by triggers), and the booking's INSERT inserts only
while the version is still that one. A kept read is therefore never booked from once anything
it holds has changed, whichever process changed it; the booking then reads afresh.

Only the booking hot path uses this, and only for bookings: every refusal is decided on a
fresh read (a kept read may say a record is missing or a time outside hours only because it is
old). Entries are bounded in number, the oldest going first.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Generic, TypeVar

T = TypeVar("T")

# About a few kilobytes each (five records and a provider's hours): a few megabytes in all.
DEFAULT_LIMIT = 4096


class ContextCache(Generic[T]):
    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        self._limit = limit
        self._entries: dict[tuple[int, Hashable], tuple[int, T]] = {}
        # Per institution: entries put before its last forget() are not handed out.
        self._generations: dict[int, int] = {}

    def get(self, institution_id: int, key: Hashable) -> T | None:
        entry = self._entries.get((institution_id, key))
        if entry is None or entry[0] != self._generations.get(institution_id, 0):
            return None
        return entry[1]

    def put(self, institution_id: int, key: Hashable, value: T) -> None:
        entries = self._entries
        full_key = (institution_id, key)
        entries.pop(full_key, None)  # re-inserted last: the newest
        entries[full_key] = (self._generations.get(institution_id, 0), value)
        if len(entries) > self._limit:
            del entries[next(iter(entries))]

    def forget(self, institution_id: int) -> None:
        """Everything kept for ``institution_id`` is out of date."""
        self._generations[institution_id] = self._generations.get(institution_id, 0) + 1

    def __len__(self) -> int:
        return len(self._entries)


__all__ = ["ContextCache"]
