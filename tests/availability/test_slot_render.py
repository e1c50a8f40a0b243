"""The hand-written slot JSON is exactly what the generic encoder writes for the same dicts."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from carebook.api.nexhealth.schemas.availability import (
    LocalTimes,
    fast_local,
    slot_json,
    slots_json,
)
from carebook.core.availability.slots import Slot
from carebook.core.time import format_local, zone

ZONES = ["America/New_York", "Asia/Kolkata", "Pacific/Chatham", "UTC"]


@settings(max_examples=100)
@given(
    st.sampled_from(ZONES),
    st.lists(
        st.tuples(
            st.datetimes(datetime(2020, 1, 1), datetime(2030, 12, 31)),
            st.integers(1, 240),
            st.none() | st.integers(1, 2**31),
        ),
        max_size=6,
    ),
    st.integers(1, 2**31),
    st.booleans(),
)
def test_slots_json_matches_the_encoder(
    name: str,
    raw: list[tuple[datetime, int, int | None]],
    provider_id: int,
    with_end: bool,
) -> None:
    tz = zone(name)
    found = [
        Slot(at.replace(tzinfo=UTC), at.replace(tzinfo=UTC) + timedelta(minutes=minutes), op)
        for at, minutes, op in raw
    ]
    local = LocalTimes(tz)
    text = slots_json(found, provider_id=provider_id, local=local, with_end=with_end)
    expected = [slot_json(s, provider_id=provider_id, tz=tz, with_end=with_end) for s in found]
    assert text == json.dumps(expected, ensure_ascii=False, separators=(",", ":"))
    for slot in found:
        # The cache answers what format_local would, however often it is asked.
        assert local(slot.start) == format_local(slot.start, tz) == fast_local(slot.start, tz)
        assert local(slot.start) == format_local(slot.start, tz)
