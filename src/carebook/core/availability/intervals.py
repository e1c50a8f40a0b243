"""Half-open ``[start, end)`` intervals of UTC instants, kept sorted and merged.

A *normalized* list is sorted by start, holds no empty interval, and no two of its intervals
overlap or touch (``[9, 10)`` and ``[10, 11)`` merge into ``[9, 11)``). Every function here takes
and returns normalized lists, except :func:`normalize`, which makes one from anything.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from datetime import datetime

Interval = tuple[datetime, datetime]


def normalize(intervals: Iterable[Interval]) -> list[Interval]:
    """Sort, drop empty intervals, and merge those that overlap or touch."""
    merged: list[Interval] = []
    for start, end in sorted(iv for iv in intervals if iv[0] < iv[1]):
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def subtract(base: Sequence[Interval], cut: Sequence[Interval]) -> list[Interval]:
    """The parts of ``base`` outside every interval of ``cut`` (both normalized)."""
    result: list[Interval] = []
    j = 0
    for start, end in base:
        # Cuts that end before this base interval starts can never matter again.
        while j < len(cut) and cut[j][1] <= start:
            j += 1
        cursor = start
        k = j
        while k < len(cut) and cut[k][0] < end:
            cut_start, cut_end = cut[k]
            if cut_start > cursor:
                result.append((cursor, cut_start))
            cursor = max(cursor, cut_end)
            k += 1
        if cursor < end:
            result.append((cursor, end))
    return result


def intersect(a: Sequence[Interval], b: Sequence[Interval]) -> list[Interval]:
    """The instants in both ``a`` and ``b`` (both normalized)."""
    result: list[Interval] = []
    i = j = 0
    while i < len(a) and j < len(b):
        start = max(a[i][0], b[j][0])
        end = min(a[i][1], b[j][1])
        if start < end:
            result.append((start, end))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return result


def contains(intervals: Sequence[Interval], start: datetime, end: datetime) -> bool:
    """Whether ``[start, end)`` (non-empty) lies inside one interval of ``intervals``."""
    index = bisect_right(intervals, start, key=lambda iv: iv[0]) - 1
    return index >= 0 and intervals[index][1] >= end


def overlaps(intervals: Sequence[Interval], start: datetime, end: datetime) -> bool:
    """Whether ``[start, end)`` (non-empty) shares an instant with ``intervals``."""
    index = bisect_right(intervals, start, key=lambda iv: iv[0]) - 1
    if index >= 0 and intervals[index][1] > start:
        return True
    return index + 1 < len(intervals) and intervals[index + 1][0] < end
