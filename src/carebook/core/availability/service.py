"""Slot search: load what a window needs in a few bounded queries, then run the pure engine.

Slots = working hours − active appointments and blocks − closures, in the resources a booking
would take: the provider (unless the location allows provider overlap), the operatory (where the
location maps by operatory, or a working hour names one) and, when known, the patient. These are
exactly the clashes the booking service refuses, so every slot offered can be booked as offered.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo

from sqlalchemy.ext.asyncio import AsyncSession

from carebook.core.availability.hours import rule_of
from carebook.core.availability.intervals import Interval, intersect, normalize
from carebook.core.availability.rules import HoursRule, closed_intervals, expand
from carebook.core.availability.slots import Fits, Resource, Slot, find_slots
from carebook.core.errors import FieldError, InvalidInput, NotFound
from carebook.core.time import local_date, local_datetime, utc_now, zone
from carebook.db.repositories import availability as repo
from carebook.db.repositories.availability import BusyRow, HoursRow
from carebook.db.tables import Location, Operatory

MAX_DAYS = 90
MAX_MINUTES = 24 * 60
# The most slots one search returns, counted while the engine makes them: a larger search is a
# 400 that says how to narrow it, never a response built whole first (90 days of 1-minute starts
# for 20 providers on 10 operatories is ~10.8M slots, over a gigabyte of JSON). Real searches
# are far inside it: a week for a dozen providers at 15 minutes in 10-hour days is 3,360 slots,
# 90 days for one provider 3,600 (10,800 at 5 minutes), bench/slots.py's 28 days for twenty
# providers about 9,000. 20,000 slots are about 2.5 MB of JSON.
MAX_SLOTS = 20_000
# The most ids in each of lids[], pids[] and operatory_ids[].
MAX_IDS = 100
NEXT_AVAILABLE_DAYS = 180
# The look-ahead for ``next_available_date`` goes in growing chunks, so a provider free soon
# costs one small query and one never free costs a handful.
NEXT_AVAILABLE_CHUNKS = (14, 28, 56, 82)


@dataclass(frozen=True)
class SlotQuery:
    start_date: date
    days: int
    location_ids: list[int]
    provider_ids: list[int] | None = None
    operatory_ids: list[int] | None = None
    appointment_type_id: int | None = None
    slot_length: int | None = None
    slot_interval: int | None = None
    overlapping_operatory_slots: bool = False
    # The patient to book, when known: their own appointments are busy time too.
    patient_id: int | None = None
    # The zone ``start_date`` and ``days`` are counted in; None: each location's own.
    dates_zone: str | None = None
    # A length that wins over the appointment type's (the Calendar API's visit option).
    minutes: int | None = None


@dataclass(frozen=True)
class SlotGroup:
    location: Location
    provider_id: int
    operatory_id: int | None  # set when the search was grouped by operatory
    slots: list[Slot]
    next_available_date: date | None


@dataclass
class _Plan:
    """One answer group: its rules, and the operatories a booking may take."""

    location: Location
    provider_id: int
    operatory_id: int | None
    rules: list[tuple[HoursRule, int | None]]  # (rule, the working hour's operatory)
    # Candidate operatories in order, or None where bookings take no operatory.
    operatories: list[int] | None
    slots: list[Slot] = field(default_factory=list)


class TooManySlots(InvalidInput):
    """A search that finds more than :data:`MAX_SLOTS` slots, named in the NexHealth API's
    parameters (the Calendar API names its own)."""

    def __init__(self, query: SlotQuery) -> None:
        ways = [
            "fewer days",
            "fewer providers (pids[]) or operatories (operatory_ids[])",
            "a longer slot_interval",
        ]
        if query.overlapping_operatory_slots:
            ways.append("overlapping_operatory_slots=false")
        super().__init__(
            [
                FieldError(
                    "days",
                    f"the search finds more than {MAX_SLOTS} slots, the most one search "
                    f"returns; narrow it: {', '.join(ways[:-1])}, or {ways[-1]}",
                )
            ]
        )


def _check(query: SlotQuery) -> None:
    errors = []
    if not query.location_ids:
        errors.append(FieldError("lids", "give at least one location id"))
    for name, ids in (
        ("lids", query.location_ids),
        ("pids", query.provider_ids),
        ("operatory_ids", query.operatory_ids),
    ):
        if ids is not None and len(ids) > MAX_IDS:
            errors.append(FieldError(name, f"give at most {MAX_IDS} ids"))
    if not query.provider_ids and query.appointment_type_id is None and query.minutes is None:
        errors.append(FieldError("pids", "give pids[] or appointment_type_id"))
    if not 1 <= query.days <= MAX_DAYS:
        errors.append(FieldError("days", f"must be from 1 to {MAX_DAYS}"))
    for name in ("slot_length", "slot_interval"):
        value = getattr(query, name)
        if value is not None and not 1 <= value <= MAX_MINUTES:
            errors.append(FieldError(name, f"must be from 1 to {MAX_MINUTES} minutes"))
    if errors:
        raise InvalidInput(errors)


def _window(location: Location, dates_tz: tzinfo | None, first: date, days: int) -> Interval:
    tz = dates_tz or zone(location.tz)
    return (
        local_datetime(first, time(0), tz),
        local_datetime(first + timedelta(days=days), time(0), tz),
    )


def _local_dates(window: Interval, tz: tzinfo) -> tuple[date, date]:
    return local_date(window[0], tz), local_date(window[1] - timedelta(microseconds=1), tz)


def _busy_index(
    rows: Iterable[BusyRow], patient_id: int | None
) -> tuple[
    dict[int, list[Interval]], dict[int, list[Interval]], list[Interval], dict[int, list[Interval]]
]:
    """Busy time by provider (all their rows), by operatory, of the patient, and by provider
    for the rows that hold the provider alone (their blocks, and their appointments at
    locations that forbid provider overlap): what a location that allows overlap must avoid."""
    provider: dict[int, list[Interval]] = defaultdict(list)
    alone: dict[int, list[Interval]] = defaultdict(list)
    operatory: dict[int, list[Interval]] = defaultdict(list)
    patient: list[Interval] = []
    for row in rows:
        interval = (row.start_at, row.end_at)
        if row.provider_id is not None:
            provider[row.provider_id].append(interval)
            if row.provider_exclusive or row.unavailable:
                alone[row.provider_id].append(interval)
        if row.operatory_id is not None:
            operatory[row.operatory_id].append(interval)
        if patient_id is not None and row.patient_id == patient_id:
            patient.append(interval)
    return (
        {k: normalize(v) for k, v in provider.items()},
        {k: normalize(v) for k, v in operatory.items()},
        normalize(patient),
        {k: normalize(v) for k, v in alone.items()},
    )


class _Search:
    def __init__(self, query: SlotQuery, length: timedelta, interval: timedelta) -> None:
        self.query = query
        self.length = length
        self.interval = interval
        self.dates_tz = zone(query.dates_zone) if query.dates_zone else None
        self.room = MAX_SLOTS  # the slots the search may still return

    def dates_tz_of(self, location: Location) -> tzinfo:
        return self.dates_tz or zone(location.tz)

    async def run_window(
        self,
        session: AsyncSession,
        plans: Sequence[_Plan],
        first: date,
        days: int,
        now: datetime,
        *,
        first_only: bool = False,
    ) -> None:
        """Fill ``plan.slots`` for the local dates ``first`` … ``first + days - 1``: with
        ``first_only`` (the look-ahead) each plan's first slot, else every slot, all plans
        together at most :data:`MAX_SLOTS` (the engine stops at the first one past it)."""
        windows = {p.location.id: _window(p.location, self.dates_tz, first, days) for p in plans}
        # Expand the rules first: a window with no working hours needs no query at all.
        hours: dict[int, list[tuple[Interval, int | None]]] = {}
        # Providers of a location mostly share their rules: expand each distinct one once.
        expanded: dict[tuple[object, ...], list[Interval]] = {}
        for index, plan in enumerate(plans):
            window = windows[plan.location.id]
            tz = zone(plan.location.tz)
            lo, hi = _local_dates(window, tz)
            found: list[tuple[Interval, int | None]] = []
            for rule, operatory_id in plan.rules:
                key = (rule, tz, window)
                occurrences = expanded.get(key)
                if occurrences is None:
                    occurrences = expanded[key] = [
                        iv for iv in intersect(expand(rule, lo, hi, tz), [window]) if iv[1] > now
                    ]
                found += [(iv, operatory_id) for iv in occurrences]
            hours[index] = found
        live = [i for i, found in hours.items() if found]
        if not live:
            return
        start = min(windows[plans[i].location.id][0] for i in live)
        end = max(windows[plans[i].location.id][1] for i in live)
        location_ids = sorted({plans[i].location.id for i in live})
        closures: dict[int, list[tuple[date, date]]] = defaultdict(list)
        lo_date, hi_date = start.date() - timedelta(days=1), end.date() + timedelta(days=1)
        for closure in await repo.closures_between(
            session,
            institution_id=plans[0].location.institution_id,
            location_ids=location_ids,
            first=lo_date,
            last=hi_date,
        ):
            closures[closure.location_id].append((closure.start_date, closure.end_date))
        operatory_ids: set[int] = set()
        for i in live:
            operatory_ids.update(plans[i].operatories or ())
            operatory_ids.update(op for _, op in hours[i] if op is not None)
        rows = await repo.busy_between(
            session,
            institution_id=plans[0].location.institution_id,
            provider_ids=sorted({plans[i].provider_id for i in live}),
            operatory_ids=sorted(operatory_ids),
            patient_id=self.query.patient_id,
            start=start,
            end=end,
        )
        by_provider, by_operatory, patient, alone = _busy_index(rows, self.query.patient_id)
        memo: dict[tuple[object, ...], list[Interval]] = {}
        fits: dict[tuple[object, ...], Fits] = {}
        # Plans with the same operatories and hours share their resources.
        shapes: dict[tuple[object, ...], list[Resource]] = {}
        for i in live:
            plan = plans[i]
            tz = zone(plan.location.tz)
            lo, hi = _local_dates(windows[plan.location.id], tz)
            # The booking rule (repositories.appointments.provider_mode): a new appointment
            # here shares the provider where the location allows overlap, else holds them alone.
            own = (
                alone.get(plan.provider_id, [])
                if plan.location.allow_provider_overlap
                else by_provider.get(plan.provider_id, [])
            )
            blocked = normalize(
                [*own, *patient, *closed_intervals(closures[plan.location.id], lo, hi, tz)]
            )
            shape = (
                tuple(plan.operatories) if plan.operatories is not None else None,
                *hours[i],
            )
            resources = shapes.get(shape)
            if resources is None:
                resources = shapes[shape] = _resources(plan, hours[i], by_operatory)
            plan.slots = find_slots(
                resources,
                blocked=blocked,
                length=self.length,
                interval=self.interval,
                not_before=now,
                overlapping=self.query.overlapping_operatory_slots,
                memo=memo,
                fits=fits,
                cap=1 if first_only else self.room + 1,
            )
            if not first_only:
                self.room -= len(plan.slots)
                if self.room < 0:
                    raise TooManySlots(self.query)


def _resources(
    plan: _Plan,
    hours: Sequence[tuple[Interval, int | None]],
    busy: dict[int, list[Interval]],
) -> list[Resource]:
    if plan.operatories is not None:
        # Each candidate operatory: hours that name it or name none.
        return [
            Resource(
                op,
                normalize(iv for iv, hour_op in hours if hour_op is None or hour_op == op),
                busy.get(op, []),
            )
            for op in plan.operatories
        ]
    # Booking by provider: hours naming no operatory book none; hours naming one book that one.
    keys = sorted({op for _, op in hours if op is not None})
    resources = [Resource(None, normalize(iv for iv, op in hours if op is None), [])]
    resources += [
        Resource(key, normalize(iv for iv, op in hours if op == key), busy.get(key, []))
        for key in keys
    ]
    return resources


def _applies(row: HoursRow, appointment_type_id: int | None) -> bool:
    return appointment_type_id is None or not row.type_ids or appointment_type_id in row.type_ids


async def search_slots(
    session: AsyncSession, *, institution_id: int, query: SlotQuery
) -> list[SlotGroup]:
    """Slots per location and provider (and operatory, when ``operatory_ids`` are given)."""
    _check(query)
    locations = await repo.locations(
        session, institution_id=institution_id, location_ids=query.location_ids
    )
    missing = sorted(set(query.location_ids) - {loc.id for loc in locations})
    if missing:
        raise NotFound("location", missing[0], field="lids")
    if query.provider_ids:
        known = await repo.providers(
            session, institution_id=institution_id, provider_ids=query.provider_ids
        )
        missing = sorted(set(query.provider_ids) - {p.id for p in known})
        if missing:
            raise NotFound("provider", missing[0], field="pids")
    minutes = query.minutes
    appointment_type = None
    if query.appointment_type_id is not None:
        types = await repo.appointment_types(
            session, institution_id=institution_id, type_ids=[query.appointment_type_id]
        )
        if not types:
            raise NotFound(
                "appointment type", query.appointment_type_id, field="appointment_type_id"
            )
        appointment_type = types[0]
        minutes = minutes or appointment_type.minutes
    length = timedelta(minutes=minutes or query.slot_length or 15)
    interval = timedelta(minutes=query.slot_interval) if query.slot_interval else length
    search = _Search(query, length, interval)
    location_ids = [loc.id for loc in locations]
    operatories = await repo.operatories(
        session, institution_id=institution_id, location_ids=location_ids
    )
    if query.operatory_ids:
        by_id = {op.id: op for op in operatories}
        unknown = [op for op in query.operatory_ids if op not in by_id]
        if unknown:
            raise NotFound("operatory", unknown[0], field="operatory_ids")
    rows = await repo.active_hours(
        session,
        institution_id=institution_id,
        location_ids=location_ids,
        provider_ids=query.provider_ids or None,
    )
    pairs = await repo.bookable_pairs(
        session,
        institution_id=institution_id,
        location_ids=location_ids,
        provider_ids=query.provider_ids or None,
    )
    # Only where a booking would be accepted: an active location the provider belongs to, and
    # the appointment type's own location if it has one.
    open_ids = {
        loc.id
        for loc in locations
        if not loc.inactive
        and (
            appointment_type is None
            or appointment_type.parent_type != "Location"
            or appointment_type.parent_id == loc.id
        )
    }
    plans = [
        p
        for p in _plans(query, locations, operatories, rows)
        if p.location.id in open_ids and (p.location.id, p.provider_id) in pairs
    ]
    now = utc_now()
    await search.run_window(session, plans, query.start_date, query.days, now)
    # next_available_date: look further only for groups with nothing in the window.
    pending = [p for p in plans if not p.slots]
    next_dates: dict[int, date] = {}
    first = query.start_date + timedelta(days=query.days)
    for chunk in NEXT_AVAILABLE_CHUNKS:
        if not pending:
            break
        await search.run_window(session, pending, first, chunk, now, first_only=True)
        for plan in pending:
            if plan.slots:
                next_dates[id(plan)] = local_date(
                    plan.slots[0].start, search.dates_tz_of(plan.location)
                )
                plan.slots = []
        pending = [p for p in pending if id(p) not in next_dates]
        first += timedelta(days=chunk)
    return [
        SlotGroup(p.location, p.provider_id, p.operatory_id, p.slots, next_dates.get(id(p)))
        for p in plans
    ]


def _plans(
    query: SlotQuery,
    locations: Sequence[Location],
    operatories: Sequence[Operatory],
    rows: Sequence[HoursRow],
) -> list[_Plan]:
    active_ops: dict[int, list[int]] = defaultdict(list)
    for op in operatories:
        if op.active and (not query.operatory_ids or op.id in query.operatory_ids):
            active_ops[op.location_id].append(op.id)
    by_group: dict[tuple[int, int], list[tuple[HoursRule, int | None]]] = defaultdict(list)
    for row in rows:
        rule = rule_of(row.hour)
        if rule is None or not _applies(row, query.appointment_type_id):
            continue
        by_group[(row.hour.location_id, row.hour.provider_id)].append((rule, row.hour.operatory_id))
    plans: list[_Plan] = []
    for location in locations:
        provider_ids = query.provider_ids or sorted(
            pid for lid, pid in by_group if lid == location.id
        )
        ops = active_ops[location.id]
        by_operatory = location.map_by_operatory or bool(query.operatory_ids)
        for provider_id in dict.fromkeys(provider_ids):
            # A working hour naming an operatory that cannot be booked offers nothing.
            rules = [
                (rule, op)
                for rule, op in by_group.get((location.id, provider_id), [])
                if op is None or op in ops
            ]
            if query.operatory_ids:
                plans += [
                    _Plan(location, provider_id, op, [r for r in rules if r[1] in (None, op)], [op])
                    for op in ops
                ]
            else:
                plans.append(
                    _Plan(location, provider_id, None, rules, ops if by_operatory else None)
                )
    return plans
