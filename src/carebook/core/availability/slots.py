"""The slot engine: free time in, bookable slots out. Pure; no database, no zones.

A provider's search is described by *resources*, one per operatory a booking could use (or a
single resource with no operatory where the location books by provider): the working hours that
apply there and the time that operatory is busy. ``blocked`` is time no resource may use: the
provider's own busy time, the patient's, and closed days.

Slot starts step by ``interval`` from the start of each stretch of time the provider is free
inside working hours (so a search never offers two slots that clash on the provider when
``interval >= length``); a start is offered when ``[start, start + length)`` is free on some
resource, and the first such resource in the given order is named (every one of them with
``overlapping``). Nothing starts before ``not_before``.
"""

from __future__ import annotations

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


def find_slots(
    resources: Sequence[Resource],
    *,
    blocked: Sequence[Interval],
    length: timedelta,
    interval: timedelta,
    not_before: datetime,
    overlapping: bool = False,
    memo: dict[tuple[object, ...], list[Interval]] | None = None,
) -> list[Slot]:
    """``memo`` may carry ``hours − busy`` between calls for resources that share them (every
    provider of a location sees the same operatories).

    A start is tested against a resource's ``hours − busy`` alone: ``[start, start + length)``
    lies inside one stretch of ``base``, which is clear of ``blocked``, so it fits inside
    ``hours − busy − blocked`` exactly when it fits inside ``hours − busy``. That keeps the
    per-call work to the provider's own stretches, whatever the operatories hold.
    """
    assert length > timedelta(0)
    assert interval > timedelta(0)
    frees: list[list[Interval]] = []
    for r in resources:
        key = (r.operatory_id, *r.hours)
        open_time = memo.get(key) if memo is not None else None
        if open_time is None:
            open_time = subtract(r.hours, r.busy)
            if memo is not None:
                memo[key] = open_time
        frees.append(open_time)
    base = subtract(normalize(iv for r in resources for iv in r.hours), blocked)
    # One cursor per resource: starts only grow, so a free interval ending before a slot's end
    # can never hold a later slot either.
    cursors = [0] * len(resources)
    sizes = [len(free) for free in frees]
    ids = [r.operatory_id for r in resources]
    order = range(len(frees))
    slots: list[Slot] = []
    append = slots.append
    for low, high in base:
        start = first_start(low, not_before, interval)
        end = start + length
        while end <= high:
            for index in order:
                free = frees[index]
                cursor = cursors[index]
                size = sizes[index]
                while cursor < size and free[cursor][1] < end:
                    cursor += 1
                cursors[index] = cursor
                if cursor < size and free[cursor][0] <= start:
                    append(Slot(start, end, ids[index]))
                    if not overlapping:
                        break
            start += interval
            end += interval
    return slots
