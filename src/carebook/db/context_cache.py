"""What a process read for its recent bookings, kept to book from again.

A booking reads the records it refers to and the facts it is decided by (the booking context:
one statement, about a fifth of a booking's cost on SQLite and a third of a round trip's worth
of PostgreSQL's). Those change rarely, bookings repeat them constantly, and a process cannot
see another's writes; so each read is kept with the institution's *reference version* it was
read at (``tables.ReferenceVersion``, kept by triggers), and the booking's INSERT inserts only
while the version is still that one. A kept read is therefore never booked from once anything
it holds has changed, whichever process changed it; the booking then reads afresh.

The Calendar API keeps its GUID look-up the same way (``core.telehealth``): the look-up reads
the version with the records, and its booking inserts only while the version is still that one.

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
    """Values by key, each belonging to one institution, whose values can be forgotten at once.

    The key is the caller's whole key (the institution's id in it, or the GUID that names the
    institution: the Calendar look-up knows the institution's id only once it has read it)."""

    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        self._limit = limit
        # key -> (institution id, its generation when put, value)
        self._entries: dict[Hashable, tuple[int, int, T]] = {}
        # Per institution: entries put before its last forget() are not handed out.
        self._generations: dict[int, int] = {}

    def get(self, key: Hashable) -> T | None:
        entry = self._entries.get(key)
        if entry is None or entry[1] != self._generations.get(entry[0], 0):
            return None
        return entry[2]

    def put(self, institution_id: int, key: Hashable, value: T) -> None:
        entries = self._entries
        entries.pop(key, None)  # re-inserted last: the newest
        entries[key] = (institution_id, self._generations.get(institution_id, 0), value)
        if len(entries) > self._limit:
            del entries[next(iter(entries))]

    def forget(self, institution_id: int) -> None:
        """Everything kept for ``institution_id`` is out of date."""
        self._generations[institution_id] = self._generations.get(institution_id, 0) + 1

    def __len__(self) -> int:
        return len(self._entries)


__all__ = ["ContextCache"]
