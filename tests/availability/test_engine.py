"""The pure slot engine: intervals, working-hour rules, slots. Unit and property tests."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from carebook.core.availability.enforcement import MEMO_LIMIT, ensure_within_hours
from carebook.core.availability.intervals import (
    Interval,
    contains,
    intersect,
    normalize,
    overlaps,
    subtract,
)
from carebook.core.availability.rules import (
    HoursRule,
    Recurrence,
    closed_intervals,
    dates,
    day_index,
    expand,
    parse_hhmm,
)
from carebook.core.availability.slots import (
    Fits,
    Resource,
    Slot,
    find_slots,
    first_start,
    fits_of,
    fitting_starts,
)
from carebook.core.errors import OutsideWorkingHours
from carebook.core.time import zone
from carebook.db.repositories.availability import HoursRow
from carebook.db.tables import WorkingHour

BASE = datetime(2026, 3, 2, tzinfo=UTC)


def m(minutes: int) -> datetime:
    return BASE + timedelta(minutes=minutes)


def ivs(*pairs: tuple[int, int]) -> list[Interval]:
    return [(m(a), m(b)) for a, b in pairs]


raw_intervals = st.lists(
    st.tuples(st.integers(0, 200), st.integers(0, 60)).map(lambda t: (m(t[0]), m(t[0] + t[1]))),
    max_size=8,
)


def member(intervals: list[Interval], minute: int) -> bool:
    point = m(minute)
    return any(a <= point < b for a, b in intervals)


def is_normalized(intervals: list[Interval]) -> bool:
    return all(a < b for a, b in intervals) and all(
        intervals[i][1] < intervals[i + 1][0] for i in range(len(intervals) - 1)
    )


# --- intervals ----------------------------------------------------------------------------------


def test_normalize_merges_touching_and_overlapping() -> None:
    assert normalize(ivs((10, 20), (0, 5), (5, 7), (15, 18), (30, 30), (19, 25))) == ivs(
        (0, 7), (10, 25)
    )


def test_subtract_intersect_examples() -> None:
    base = ivs((0, 60), (100, 160))
    cut = ivs((-10, 0), (10, 20), (50, 110), (150, 200))
    assert subtract(base, cut) == ivs((0, 10), (20, 50), (110, 150))
    assert subtract(base, []) == base
    assert intersect(base, cut) == ivs((10, 20), (50, 60), (100, 110), (150, 160))
    assert intersect(base, []) == []


def test_contains_and_overlaps_edges() -> None:
    free = ivs((0, 60), (100, 160))
    assert contains(free, m(0), m(60))
    assert not contains(free, m(50), m(70))
    assert not contains(free, m(-10), m(0))
    assert not contains([], m(0), m(1))
    assert overlaps(free, m(59), m(61))
    assert overlaps(free, m(90), m(101))
    assert not overlaps(free, m(60), m(100))
    assert not overlaps(free, m(-5), m(0))
    assert not overlaps(free, m(170), m(180))


@given(raw_intervals)
def test_normalize_keeps_the_same_instants(raw: list[Interval]) -> None:
    result = normalize(raw)
    assert is_normalized(result)
    for minute in range(-1, 262):
        assert member(result, minute) == member(raw, minute)


@given(raw_intervals, raw_intervals)
def test_subtract_and_intersect_are_set_operations(a: list[Interval], b: list[Interval]) -> None:
    na, nb = normalize(a), normalize(b)
    difference, common = subtract(na, nb), intersect(na, nb)
    assert is_normalized(difference)
    assert all(x < y for x, y in common)
    for minute in range(-1, 262):
        assert member(difference, minute) == (member(na, minute) and not member(nb, minute))
        assert member(common, minute) == (member(na, minute) and member(nb, minute))


@given(raw_intervals, st.integers(-5, 265), st.integers(1, 60))
def test_contains_and_overlaps_agree_with_brute_force(
    raw: list[Interval], start: int, length: int
) -> None:
    free = normalize(raw)
    minutes = range(start, start + length)
    assert contains(free, m(start), m(start + length)) == any(
        a <= m(start) and m(start + length) <= b for a, b in free
    )
    assert overlaps(free, m(start), m(start + length)) == any(member(free, x) for x in minutes)


# --- rules --------------------------------------------------------------------------------------


def test_parse_hhmm_and_day_names() -> None:
    assert parse_hhmm("09:30") == time(9, 30)
    assert parse_hhmm("23:59") == time(23, 59)
    for bad in ("9:30", "24:00", "09:60", "09:30:00", "", "ab:cd"):
        assert parse_hhmm(bad) is None
    assert day_index("Monday") == 0
    assert day_index(" sunday ") == 6
    assert day_index("Funday") is None


def test_recurrences() -> None:
    ref = date(2026, 1, 31)
    every_3_days = Recurrence(3, "day", ref)
    assert every_3_days.hits(ref)
    assert every_3_days.hits(date(2026, 2, 3))
    assert not every_3_days.hits(date(2026, 2, 2))
    assert not every_3_days.hits(date(2026, 1, 28))
    fortnightly = Recurrence(2, "week", ref)
    assert fortnightly.hits(date(2026, 2, 14))
    assert not fortnightly.hits(date(2026, 2, 7))
    monthly = Recurrence(1, "month", ref)
    # The 31st: months without one are skipped.
    assert [d for d in dates(ref, date(2026, 5, 31)) if monthly.hits(d)] == [
        date(2026, 1, 31),
        date(2026, 3, 31),
        date(2026, 5, 31),
    ]
    quarterly = Recurrence(3, "month", date(2026, 1, 15))
    assert quarterly.hits(date(2026, 4, 15))
    assert not quarterly.hits(date(2026, 2, 15))


def test_rule_kinds_occur_on_their_days() -> None:
    weekly = HoursRule(time(9), time(17), weekdays=frozenset({0, 2}))
    assert [
        d.weekday() for d in dates(date(2026, 3, 2), date(2026, 3, 8)) if weekly.occurs_on(d)
    ] == [0, 2]
    one_day = HoursRule(time(9), time(17), specific_date=date(2026, 3, 4))
    assert [d for d in dates(date(2026, 3, 2), date(2026, 3, 8)) if one_day.occurs_on(d)] == [
        date(2026, 3, 4)
    ]
    recurring = HoursRule(time(9), time(17), recurrence=Recurrence(2, "day", date(2026, 3, 3)))
    assert [d.day for d in dates(date(2026, 3, 2), date(2026, 3, 8)) if recurring.occurs_on(d)] == [
        3,
        5,
        7,
    ]


def test_expand_and_closures_in_a_zone() -> None:
    ny = zone("America/New_York")
    rule = HoursRule(time(9), time(17), weekdays=frozenset(range(5)))
    got = expand(rule, date(2026, 3, 6), date(2026, 3, 9), ny)
    assert got == [
        (datetime(2026, 3, 6, 14, tzinfo=UTC), datetime(2026, 3, 6, 22, tzinfo=UTC)),
        # After spring-forward (Sunday 8 March) 09:00 is still 09:00: 13:00 UTC.
        (datetime(2026, 3, 9, 13, tzinfo=UTC), datetime(2026, 3, 9, 21, tzinfo=UTC)),
    ]
    closed = closed_intervals(
        [(date(2026, 3, 1), date(2026, 3, 8)), (date(2026, 4, 1), date(2026, 4, 2))],
        date(2026, 3, 7),
        date(2026, 3, 31),
        ny,
    )
    # 7 March 00:00 EST to 9 March 00:00 EDT: 47 hours.
    assert closed == [
        (datetime(2026, 3, 7, 5, tzinfo=UTC), datetime(2026, 3, 9, 4, tzinfo=UTC)),
    ]


# --- DST: the one rule, in two zones per hemisphere ---------------------------------------------

ZONES = ["America/New_York", "Europe/Berlin", "Australia/Sydney", "America/Santiago"]


def transitions(name: str, year: int) -> list[tuple[date, bool]]:
    """Local dates in ``year`` on which ``name`` changes offset, and whether it springs forward."""
    tz = zone(name)
    found = []
    day = date(year, 1, 1)
    while day.year == year:
        before = datetime.combine(day, time(0), tzinfo=UTC) - timedelta(hours=12)
        after = before + timedelta(days=1, hours=12)
        o1, o2 = before.astimezone(tz).utcoffset(), after.astimezone(tz).utcoffset()
        assert o1 is not None
        assert o2 is not None
        if o1 != o2:
            # Narrow to the local date the change happens on.
            instant = before
            while instant.astimezone(tz).utcoffset() == o1:
                instant += timedelta(minutes=15)
            found.append(((instant - timedelta(minutes=1)).astimezone(tz).date(), o2 > o1))
            day = after.date() + timedelta(days=1)
            continue
        day += timedelta(days=1)
    return found


def test_each_zone_has_both_changes_in_2026_and_2027() -> None:
    for name in ZONES:
        for year in (2026, 2027):
            kinds = sorted(forward for _, forward in transitions(name, year))
            assert kinds == [False, True], (name, year)


def wall_times() -> list[time]:
    return [time(h, q) for h in range(24) for q in (0, 15, 30, 45)]


@pytest.mark.parametrize("name", ZONES)
def test_dst_days_follow_the_documented_rule(name: str) -> None:
    """Skipped wall times move forward by the gap; repeated ones mean the first occurrence."""
    tz = zone(name)
    for year in (2026, 2027):
        for day, forward in transitions(name, year):
            for day_ in (day, day + timedelta(days=1)):
                for at in wall_times():
                    wall = datetime.combine(day_, at)
                    rule = HoursRule(at, time(23, 59), specific_date=day_)
                    got = expand(rule, day_, day_, tz)
                    start = got[0][0] if got else None
                    first = wall.replace(tzinfo=tz, fold=0)
                    second = wall.replace(tzinfo=tz, fold=1)
                    exists = first.astimezone(UTC).astimezone(tz).replace(tzinfo=None) == wall
                    if not exists:
                        assert forward
                        gap = second.utcoffset() - first.utcoffset()  # type: ignore[operator]
                        assert gap > timedelta(0)
                        if start is not None:
                            assert start.astimezone(tz).replace(tzinfo=None) == wall + gap
                    elif first.utcoffset() != second.utcoffset():
                        assert not forward
                        assert start == min(first.astimezone(UTC), second.astimezone(UTC))
                    else:
                        assert start == first.astimezone(UTC)


def test_gap_and_fold_examples() -> None:
    ny = zone("America/New_York")
    spring, fall = date(2026, 3, 8), date(2026, 11, 1)

    def one(begin: str, end: str, day: date) -> list[Interval]:
        b, e = parse_hhmm(begin), parse_hhmm(end)
        assert b is not None
        assert e is not None
        return expand(HoursRule(b, e, specific_date=day), day, day, ny)

    def utc(h: int, mi: int = 0) -> datetime:
        return datetime(2026, 3, 8, h, mi, tzinfo=UTC)

    # 01:30 EST to 02:30 (skipped, so 03:30 EDT): one hour of instants.
    assert one("01:30", "02:30", spring) == [(utc(6, 30), utc(7, 30))]
    # Both ends skipped: both move forward.
    assert one("02:00", "02:30", spring) == [(utc(7), utc(7, 30))]
    # 02:30 becomes 03:30, after 03:00: the occurrence is empty.
    assert one("02:30", "03:00", spring) == []

    def futc(h: int, mi: int = 0) -> datetime:
        return datetime(2026, 11, 1, h, mi, tzinfo=UTC)

    # 01:30 occurs twice; it means the first (EDT, 05:30 UTC).
    assert one("01:30", "03:00", fall) == [(futc(5, 30), futc(8))]
    assert one("00:30", "01:30", fall) == [(futc(4, 30), futc(5, 30))]
    # Working hours across the change keep their wall times: 9 to 17 is 8 hours both days.
    assert one("09:00", "17:00", fall) == [(futc(14), futc(22))]


@settings(max_examples=300)
@given(
    st.sampled_from(ZONES),
    st.dates(date(2026, 1, 1), date(2027, 12, 31)),
    st.integers(0, 24 * 60 - 2),
    st.integers(1, 24 * 60 - 1),
)
# The DST edges, which random draws rarely meet: a start moved past the end (empty), both ends
# in the gap (both moved: one occurrence), an ambiguous start, and a gap at midnight (Santiago).
@example("America/New_York", date(2026, 3, 8), 150, 30)
@example("America/New_York", date(2026, 3, 8), 90, 60)
@example("Australia/Sydney", date(2026, 10, 4), 135, 30)
@example("America/New_York", date(2026, 11, 1), 90, 30)
@example("America/Santiago", date(2026, 9, 6), 0, 30)
def test_expansion_keeps_wall_clock_times(name: str, day: date, begin: int, length: int) -> None:
    tz = zone(name)
    end = min(begin + length, 24 * 60 - 1)
    b, e = time(begin // 60, begin % 60), time(end // 60, end % 60)
    got = expand(HoursRule(b, e, specific_date=day), day - timedelta(days=1), day, tz)
    # The instants wanted, from the standard library: ``fold=0`` (the default) reads a skipped
    # wall time with the offset before the gap, which moves it forward by the gap, and an
    # ambiguous one as its first occurrence: the house rule. The occurrence is empty only when
    # the start, so moved, is not before the end (e.g. 02:30-03:00 on a spring-forward day).
    first = datetime.combine(day, b, tzinfo=tz).astimezone(UTC)
    last = datetime.combine(day, e, tzinfo=tz).astimezone(UTC)
    assert got == ([(first, last)] if first < last else [])
    for start, stop in got:
        assert start < stop
        # Each end is its wall time on the day, or later by the gap it fell into (< 2 hours).
        for instant, at in ((start, b), (stop, e)):
            local = instant.astimezone(tz).replace(tzinfo=None)
            wanted = datetime.combine(day, at)
            assert timedelta(0) <= local - wanted < timedelta(hours=2)
            assert local.date() == day


# --- slots --------------------------------------------------------------------------------------


def test_first_start_steps_on_the_grid() -> None:
    step = timedelta(minutes=15)
    assert first_start(m(0), m(-5), step) == m(0)
    assert first_start(m(0), m(1), step) == m(15)
    assert first_start(m(0), m(30), step) == m(30)


def test_find_slots_example() -> None:
    resources = [
        Resource(1, ivs((0, 60)), ivs((0, 30))),
        Resource(2, ivs((0, 60)), ivs((15, 45))),
    ]
    got = find_slots(
        resources,
        blocked=ivs((45, 50)),
        length=timedelta(minutes=15),
        interval=timedelta(minutes=15),
        not_before=m(-100),
    )
    # Base (free of the provider) is [0,45) and [50,60): starts 0, 15, 30 and 50 (45-60 blocked).
    assert got == [Slot(m(0), m(15), 2), Slot(m(30), m(45), 1)]
    every = find_slots(
        resources,
        blocked=[],
        length=timedelta(minutes=15),
        interval=timedelta(minutes=15),
        not_before=m(20),
        overlapping=True,
    )
    assert every == [Slot(m(30), m(45), 1), Slot(m(45), m(60), 1), Slot(m(45), m(60), 2)]
    assert (
        find_slots([], blocked=[], length=timedelta(1), interval=timedelta(1), not_before=m(0))
        == []
    )


resource_sets = st.lists(st.tuples(raw_intervals, raw_intervals), min_size=1, max_size=3).map(
    lambda rs: [Resource(i + 1, normalize(h), normalize(b)) for i, (h, b) in enumerate(rs)]
)


@settings(max_examples=300)
@given(
    resource_sets,
    raw_intervals,
    st.integers(1, 40),
    st.integers(1, 40),
    st.integers(-10, 200),
    st.booleans(),
    st.integers(1, 30),
)
def test_slots_are_free_inside_hours_and_unique(
    resources: list[Resource],
    blocked_raw: list[Interval],
    length_min: int,
    interval_min: int,
    now: int,
    overlapping: bool,
    cap: int,
) -> None:
    blocked = normalize(blocked_raw)
    length, interval = timedelta(minutes=length_min), timedelta(minutes=interval_min)
    got = find_slots(
        resources,
        blocked=blocked,
        length=length,
        interval=interval,
        not_before=m(now),
        overlapping=overlapping,
    )
    # A cap keeps the first slots and makes no other.
    capped = find_slots(
        resources,
        blocked=blocked,
        length=length,
        interval=interval,
        not_before=m(now),
        overlapping=overlapping,
        cap=cap,
    )
    assert capped == got[:cap]
    by_id = {r.operatory_id: r for r in resources}
    keys = [(s.start, s.operatory_id) for s in got]
    assert len(keys) == len(set(keys))  # no duplicates
    assert keys == sorted(keys, key=lambda k: k[0])  # in time order
    if not overlapping:
        assert len({s.start for s in got}) == len(got)
    for slot in got:
        assert slot.end - slot.start == length
        assert slot.start >= m(now)  # nothing in the past
        resource = by_id[slot.operatory_id]
        assert contains(resource.hours, slot.start, slot.end)  # inside working hours
        assert not overlaps(resource.busy, slot.start, slot.end)  # never on busy time
        assert not overlaps(blocked, slot.start, slot.end)
    if interval >= length and not overlapping:
        # Slots of one provider never overlap each other: all can be booked.
        for a, b in zip(got, got[1:], strict=False):
            assert a.end <= b.start
    # Nothing missed: every grid start free somewhere is offered.
    base = subtract(normalize(iv for r in resources for iv in r.hours), blocked)
    expected = set()
    for low, high in base:
        start = first_start(low, m(now), interval)
        while start + length <= high:
            for r in resources:
                free = subtract(subtract(r.hours, r.busy), blocked)
                if contains(free, start, start + length):
                    expected.add(start)
            start += interval
    assert {s.start for s in got} == expected


def test_memo_shares_open_time_between_providers() -> None:
    memo: dict[tuple[object, ...], list[Interval]] = {}
    resources = [Resource(1, ivs((0, 60)), ivs((0, 30)))]
    step = timedelta(minutes=15)
    first = find_slots(
        resources, blocked=[], length=step, interval=step, not_before=m(0), memo=memo
    )
    assert memo == {(1, *ivs((0, 60))): ivs((30, 60))}
    again = find_slots(
        resources, blocked=ivs((30, 45)), length=step, interval=step, not_before=m(0), memo=memo
    )
    assert first == [Slot(m(30), m(45), 1), Slot(m(45), m(60), 1)]
    assert again == [Slot(m(45), m(60), 1)]


def test_fitting_starts_are_half_open_ranges_of_starts() -> None:
    length = timedelta(minutes=15)
    # [0, 60) holds starts 0 … 45: [0, 45 min + 1 µs); [70, 80) is too short for any.
    assert fitting_starts(ivs((0, 60), (70, 80)), length) == [
        (m(0), m(45) + timedelta(microseconds=1))
    ]
    assert fitting_starts(ivs((0, 15)), length) == [(m(0), m(0) + timedelta(microseconds=1))]


def test_fits_names_the_first_resource_that_fits() -> None:
    length = timedelta(minutes=15)
    found = fits_of([ivs((30, 60)), ivs((0, 60))], ivs((0, 60)), length)
    tick = timedelta(microseconds=1)
    assert found.starts == [[(m(30), m(45) + tick)], [(m(0), m(45) + tick)]]
    assert found.first == [(m(0), m(30), 1), (m(30), m(45) + tick, 0)]


def test_fits_are_shared_between_providers_and_lengths_kept_apart() -> None:
    fits: dict[tuple[object, ...], Fits] = {}
    memo: dict[tuple[object, ...], list[Interval]] = {}
    resources = [Resource(1, ivs((0, 60)), ivs((0, 30))), Resource(2, ivs((0, 60)), [])]
    step = timedelta(minutes=15)

    def run(blocked: list[Interval], length: timedelta = step) -> list[Slot]:
        return find_slots(
            resources,
            blocked=blocked,
            length=length,
            interval=step,
            not_before=m(0),
            memo=memo,
            fits=fits,
        )

    first = run([])
    assert list(fits) == [(step, (1, *ivs((0, 60))), (2, *ivs((0, 60))))]
    shared = fits[(step, (1, *ivs((0, 60))), (2, *ivs((0, 60))))]
    # A second provider with its own busy time reuses what the operatories offer.
    second = run(ivs((15, 30)))
    assert fits == {(step, (1, *ivs((0, 60))), (2, *ivs((0, 60)))): shared}
    assert first == [
        Slot(m(0), m(15), 2),
        Slot(m(15), m(30), 2),
        Slot(m(30), m(45), 1),
        Slot(m(45), m(60), 1),
    ]
    assert second == [Slot(m(0), m(15), 2), Slot(m(30), m(45), 1), Slot(m(45), m(60), 1)]
    # Another length is another entry, and the same answer as without any cache.
    half = timedelta(minutes=30)
    assert run([], half) == find_slots(
        resources, blocked=[], length=half, interval=step, not_before=m(0)
    )
    assert len(fits) == 2


def test_slots_skip_ahead_to_the_next_start_that_fits() -> None:
    step = timedelta(minutes=15)
    # The operatory is busy 0-50: the grid from 0 resumes at 60, the first start past 50.
    resources = [Resource(7, ivs((0, 120)), ivs((0, 50)))]
    got = find_slots(resources, blocked=[], length=step, interval=step, not_before=m(0))
    assert [s.start for s in got] == [m(60), m(75), m(90), m(105)]
    # Nothing fits after the last free range: the search ends there.
    busy_late = [Resource(7, ivs((0, 120)), ivs((30, 120)))]
    got = find_slots(busy_late, blocked=[], length=step, interval=step, not_before=m(0))
    assert got == [Slot(m(0), m(15), 7), Slot(m(15), m(30), 7)]


def test_a_search_stops_at_its_cap() -> None:
    step = timedelta(minutes=15)
    # Two stretches of free time (30-45 is blocked), two operatories.
    resources = [Resource(1, ivs((0, 60)), ivs((0, 15))), Resource(2, ivs((0, 60)), [])]

    def run(cap: int, *, overlapping: bool = False) -> list[Slot]:
        return find_slots(
            resources,
            blocked=ivs((30, 45)),
            length=step,
            interval=step,
            not_before=m(0),
            overlapping=overlapping,
            cap=cap,
        )

    first = [Slot(m(0), m(15), 2), Slot(m(15), m(30), 1), Slot(m(45), m(60), 1)]
    assert [run(cap) for cap in (1, 2, 3, 4)] == [first[:1], first[:2], first, first]
    every = [
        Slot(m(0), m(15), 2),
        Slot(m(15), m(30), 1),
        Slot(m(15), m(30), 2),
        Slot(m(45), m(60), 1),
        Slot(m(45), m(60), 2),
    ]
    # With every operatory, the cap may fall between the operatories of one start.
    assert [run(cap, overlapping=True) for cap in (1, 2, 3, 5, 6)] == [
        every[:1],
        every[:2],
        every[:3],
        every,
        every,
    ]
    with pytest.raises(AssertionError):
        run(0)


def test_the_hours_memo_holds_each_date_span_apart_and_stays_bounded() -> None:
    """``ensure_within_hours`` with a memo answers as without one, for each local date span,
    and keeps at most ``MEMO_LIMIT`` spans."""
    tz = zone("America/New_York")
    # Mondays 09:00-10:00 only.
    rows = [
        HoursRow(
            WorkingHour(begin_time="09:00", end_time="10:00", days=["Monday"], operatory_id=None),
            frozenset(),
        )
    ]
    monday = date(2026, 3, 2)

    def check(day: date, hour: int, memo: dict[tuple[object, ...], list[Interval]]) -> bool:
        start = datetime.combine(day, time(hour, 15), tzinfo=tz).astimezone(UTC)
        try:
            ensure_within_hours(
                location_id=1,
                provider_id=1,
                operatory_id=None,
                appointment_type_id=None,
                tz=tz,
                start=start,
                end=start + timedelta(minutes=30),
                rows=rows,
                memo=memo,
            )
        except OutsideWorkingHours:
            return False
        return True

    memo: dict[tuple[object, ...], list[Interval]] = {}
    assert check(monday, 9, memo)
    assert not check(monday, 10, memo)  # the same span, from the memo
    assert len(memo) == 1
    assert not check(monday + timedelta(days=1), 9, memo)  # Tuesday: its own span
    assert check(monday + timedelta(days=7), 9, memo)
    assert len(memo) == 3
    for week in range(MEMO_LIMIT + 5):
        assert check(monday + timedelta(days=7 * week), 9, memo) == check(
            monday + timedelta(days=7 * week), 9, {}
        )
        assert len(memo) <= MEMO_LIMIT
