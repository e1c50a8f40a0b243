"""The booking-time check that a provider is working then (see issue 3).

It applies exactly the rules the slot search uses (``service.py``): the location's closures, and
the provider's active working hours there that fit the operatory and the appointment type. A
provider with no active working hours at the location is bookable at any time.
"""

from __future__ import annotations

from collections.abc import MutableMapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from carebook.core.availability.hours import rule_of
from carebook.core.availability.intervals import Interval, contains, normalize
from carebook.core.availability.rules import closed_intervals, expand
from carebook.core.errors import OutsideWorkingHours
from carebook.core.time import format_local, local_date, zone
from carebook.db.repositories import availability as repo

_TICK = timedelta(microseconds=1)

# What ``ensure_within_hours`` may keep in a caller's memo: a handful of days per read.
MEMO_LIMIT = 64

HoursMemo = MutableMapping[tuple[object, ...], list[Interval]]


@dataclass(frozen=True)
class KnownFacts:
    """What the caller already read in its own query, so the check can skip round trips.

    ``closures_near`` / ``has_hours`` may over-approximate (True when unsure), never the reverse.
    """

    tz: str
    closures_near: bool
    has_hours: bool


def closure_window(start: datetime, end: datetime) -> tuple[date, date]:
    """The dates whose closures can touch ``[start, end)`` in any zone."""
    return (start - timedelta(days=1)).date(), (end + timedelta(days=1)).date()


def ensure_not_closed(
    *,
    location_id: int,
    tz: ZoneInfo,
    start: datetime,
    end: datetime,
    closures: Sequence[tuple[date, date]],
) -> None:
    """Raise ``OutsideWorkingHours`` when one of ``closures`` covers a day ``[start, end)``
    touches (the pure half of the check: both booking paths call it with what they read)."""
    first, last = local_date(start, tz), local_date(end - _TICK, tz)
    for closed_start, closed_end in normalize(closed_intervals(closures, first, last, tz)):
        if closed_start < end and start < closed_end:
            day = local_date(max(start, closed_start), tz)
            raise OutsideWorkingHours(
                f"location {location_id} is closed on {day.isoformat()}", closed_on=day
            )


def ensure_within_hours(
    *,
    location_id: int,
    provider_id: int,
    operatory_id: int | None,
    appointment_type_id: int | None,
    tz: ZoneInfo,
    start: datetime,
    end: datetime,
    rows: Sequence[repo.HoursRow],
    has_hours: bool = False,
    memo: HoursMemo | None = None,
) -> None:
    """Raise ``OutsideWorkingHours`` when the provider has working hours (``rows``: their active
    ones at the location) and ``[start, end)`` is not inside those that fit the operatory and the
    appointment type (the pure half of the check).

    ``has_hours`` says the provider has hours at the location even if ``rows`` holds none: the
    rows were then read for the booking's dates only, and none of them falls there.

    ``memo`` keeps the hours worked on each local date span, for a caller that checks many
    bookings against the same ``rows`` (a kept booking context): the caller's promise is that
    ``rows`` do not change while it passes the same memo.
    """
    if not rows and not has_hours:
        return
    first, last = local_date(start, tz), local_date(end - _TICK, tz)
    key = (operatory_id, appointment_type_id, first, last, tz.key)
    hours = memo.get(key) if memo is not None else None
    if hours is None:
        hours = working_intervals(
            rows,
            operatory_id=operatory_id,
            appointment_type_id=appointment_type_id,
            first=first,
            last=last,
            tz=tz,
        )
        if memo is not None:
            if len(memo) >= MEMO_LIMIT:
                memo.clear()
            memo[key] = hours
    if not contains(hours, start, end):
        raise OutsideWorkingHours(
            f"provider {provider_id} does not work at location {location_id} "
            f"at {format_local(start, tz)}"
        )


def working_intervals(
    rows: Sequence[repo.HoursRow],
    *,
    operatory_id: int | None,
    appointment_type_id: int | None,
    first: date,
    last: date,
    tz: ZoneInfo,
) -> list[Interval]:
    """The instants of local dates ``first`` … ``last`` that ``rows`` give to a booking in
    ``operatory_id`` of ``appointment_type_id`` (normalized)."""
    return normalize(
        interval
        for row in rows
        if (operatory_id is None or row.hour.operatory_id in (None, operatory_id))
        and (appointment_type_id is None or not row.type_ids or appointment_type_id in row.type_ids)
        and (rule := rule_of(row.hour)) is not None
        for interval in expand(rule, first, last, tz)
    )


async def ensure_bookable_time(
    session: AsyncSession,
    *,
    institution_id: int,
    location_id: int,
    provider_id: int,
    operatory_id: int | None,
    appointment_type_id: int | None,
    start: datetime,
    end: datetime,
    known: KnownFacts | None = None,
) -> None:
    """Raise ``OutsideWorkingHours`` when the location is closed on a day ``[start, end)``
    touches, or when the provider has working hours at the location and ``[start, end)`` is not
    inside them. At most two indexed queries, none when ``known`` says there is nothing to read
    (the booking service learns that in its context query); a location not in the institution
    is left to the caller."""
    first, last = closure_window(start, end)
    if known is None:
        found = await repo.zone_and_closures(
            session, institution_id=institution_id, location_id=location_id, first=first, last=last
        )
        if found is None:
            return
        tz_name, closures = found
        check_hours = True
    else:
        tz_name, closures = known.tz, []
        if known.closures_near:
            found = await repo.zone_and_closures(
                session,
                institution_id=institution_id,
                location_id=location_id,
                first=first,
                last=last,
            )
            closures = found[1] if found is not None else []
        check_hours = known.has_hours
    tz = zone(tz_name)
    ensure_not_closed(location_id=location_id, tz=tz, start=start, end=end, closures=closures)
    if not check_hours:
        return
    rows = await repo.active_hours(
        session,
        institution_id=institution_id,
        location_ids=[location_id],
        provider_ids=[provider_id],
    )
    ensure_within_hours(
        location_id=location_id,
        provider_id=provider_id,
        operatory_id=operatory_id,
        appointment_type_id=appointment_type_id,
        tz=tz,
        start=start,
        end=end,
        rows=rows,
    )
