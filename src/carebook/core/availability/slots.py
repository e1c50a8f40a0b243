"""The slot engine: free time in, bookable slots out. Pure; no database, no zones.

A provider's search is described by *resources*, one per operatory a booking could use (or a
single resource with no operatory where the location books by provider): the working hours that
apply there and the time that operatory is busy. ``blocked`` is time no resource may use: the
provider's own busy time, the patient's, and closed days.

Slot starts step by ``interval`` from the start of each stretch of time the provider is free
inside working hours (so a search never offers two slots that clash on the provider when
``interval >= length``); a start is offered when ``[start, start + length)`` is free on some
resource, and the first such resource in the given order is named (every one of them with
``overlapping``). Nothing starts before ``not_before``. Slots come in time order (with
``overlapping``, a start's resources in the given order), and a search stops at ``cap`` slots,
so a caller bounds what one search builds.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from carebook.core.availability.intervals import Interval, normalize, subtract


@dataclass(frozen=True)
class Resource:
    operatory_id: int | None
    hours: list[Interval]  # normalized
    busy: list[Interval]  # normalized


class Slot(NamedTuple):
    """A tuple, not a dataclass: a search may make thousands."""

    start: datetime
    end: datetime
    operatory_id: int | None


def first_start(anchor: datetime, not_before: datetime, interval: timedelta) -> datetime:
    """The first of ``anchor + k * interval`` (k ≥ 0) that is not before ``not_before``."""
    if anchor >= not_before:
        return anchor
    steps = -((anchor - not_before) // interval)  # ceiling division
    return anchor + steps * interval


_TICK = timedelta(microseconds=1)  # the resolution of instants


def fitting_starts(free: Sequence[Interval], length: timedelta) -> list[Interval]:
    """The starts ``s`` with ``[s, s + length)`` inside one interval of ``free`` (normalized), as
    half-open ranges: ``[a, b)`` of free time holds the starts ``a`` … ``b − length``, which is
    ``[a, b − length + 1 µs)``."""
    last = length - _TICK
    return [(a, b - last) for a, b in free if b - a >= length]


@dataclass(frozen=True)
class Fits:
    """What a set of resources offers for one slot length, whichever provider asks."""

    hours: list[Interval]  # every resource's hours, merged
    starts: list[list[Interval]]  # per resource: the starts that fit its free time
    # The starts that fit some resource, each range with the first such resource (its index).
    first: list[tuple[datetime, datetime, int]]


def fits_of(frees: Sequence[Sequence[Interval]], hours: list[Interval], length: timedelta) -> Fits:
    starts = [fitting_starts(free, length) for free in frees]
    taken: list[Interval] = []
    first: list[tuple[datetime, datetime, int]] = []
    for index, ranges in enumerate(starts):
        first += [(a, b, index) for a, b in subtract(ranges, taken)]
        taken = normalize([*taken, *ranges])
    first.sort()
    return Fits(hours, starts, first)


def find_slots(
    resources: Sequence[Resource],
    *,
    blocked: Sequence[Interval],
    length: timedelta,
    interval: timedelta,
    not_before: datetime,
    overlapping: bool = False,
    memo: dict[tuple[object, ...], list[Interval]] | None = None,
    fits: dict[tuple[object, ...], Fits] | None = None,
    cap: int = sys.maxsize,
) -> list[Slot]:
    """The first ``cap`` slots (all of them when there are fewer): a caller that must refuse
    more than ``n`` asks for ``n + 1`` and is never given more to build.

    ``memo`` may carry ``hours − busy`` between calls for resources that share them (every
    provider of a location sees the same operatories), and ``fits`` the :class:`Fits` built
    from them.

    A start is tested against a resource's ``hours − busy`` alone: ``[start, start + length)``
    lies inside one stretch of ``base``, which is clear of ``blocked``, so it fits inside
    ``hours − busy − blocked`` exactly when it fits inside ``hours − busy``. What the resources
    offer is thus the same for every provider that shares them, and a provider's own work is one
    pass over its stretches of free time.
    """
    assert length > timedelta(0)
    assert interval > timedelta(0)
    assert cap > 0
    keys = [(r.operatory_id, *r.hours) for r in resources]
    fits_key = (length, *keys)
    found = fits.get(fits_key) if fits is not None else None
    if found is None:
        frees: list[list[Interval]] = []
        for r, key in zip(resources, keys, strict=True):
            open_time = memo.get(key) if memo is not None else None
            if open_time is None:
                open_time = subtract(r.hours, r.busy)
                if memo is not None:
                    memo[key] = open_time
            frees.append(open_time)
        found = fits_of(frees, normalize(iv for r in resources for iv in r.hours), length)
        if fits is not None:
            fits[fits_key] = found
    base = subtract(found.hours, blocked)
    ids = [r.operatory_id for r in resources]
    if overlapping:
        return _every(found.starts, ids, base, length, interval, not_before, cap)
    first = found.first
    size = len(first)
    cursor = 0
    room = cap  # one count per slot made, never per start tried
    slots: list[Slot] = []
    append = slots.append
    make = tuple.__new__  # Slot(...) without the Python-level __new__ of a named tuple
    for low, high in base:
        start = first_start(low, not_before, interval)
        last = high - length  # the last start whose slot ends inside the stretch
        while start <= last:
            # Starts only grow, so a range ending before this start can hold no later one.
            while cursor < size and first[cursor][1] <= start:
                cursor += 1
            if cursor == size:
                return slots
            range_start, _, index = first[cursor]
            if range_start > start:  # nothing fits before it: skip to the grid start there
                start = first_start(start, range_start, interval)
                continue
            append(make(Slot, (start, start + length, ids[index])))
            room -= 1
            if not room:
                return slots
            start += interval
    return slots


def _every(
    starts: Sequence[Sequence[Interval]],
    ids: Sequence[int | None],
    base: Sequence[Interval],
    length: timedelta,
    interval: timedelta,
    not_before: datetime,
    cap: int,
) -> list[Slot]:
    """Each grid start with every resource it fits, in resource order; the first ``cap``."""
    cursors = [0] * len(starts)
    sizes = [len(ranges) for ranges in starts]
    order = range(len(starts))
    slots: list[Slot] = []
    room = cap
    for low, high in base:
        start = first_start(low, not_before, interval)
        end = start + length
        while end <= high:
            for index in order:
                ranges = starts[index]
                cursor = cursors[index]
                size = sizes[index]
                while cursor < size and ranges[cursor][1] <= start:
                    cursor += 1
                cursors[index] = cursor
                if cursor < size and ranges[cursor][0] <= start:
                    slots.append(Slot(start, end, ids[index]))
                    room -= 1
                    if not room:
                        return slots
            start += interval
            end += interval
    return slots
