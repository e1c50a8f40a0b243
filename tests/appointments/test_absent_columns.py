"""A booking's INSERT leaves out the columns it leaves empty, and stores the same row.

``appointments.absent_columns`` names the columns a booking's values leave at None that may be
left out of its INSERT (nullable, no server default, None stored as SQL NULL); the database then
stores NULL there, exactly as when the INSERT named them.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from carebook.db.repositories import booking_sql
from carebook.db.repositories.appointments import absent_columns, empty_columns, guarded_insert
from carebook.db.tables import Appointment
from tests.support import Api, book, future

pytestmark = pytest.mark.anyio

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def booking_values(**given: Any) -> dict[str, Any]:
    """Every column of a new row (as the booking service writes them): the given ones, else
    None, with the NOT NULL ones set."""
    values: dict[str, Any] = {column.key: None for column in Appointment.__table__.c}
    del values["id"]
    values.update(
        guid=uuid.uuid4(),
        institution_id=1,
        location_id=2,
        start_at=NOW,
        end_at=NOW + timedelta(minutes=30),
        provider_exclusive=True,
        unavailable=False,
        cancelled=False,
        deleted=False,
        confirmed=False,
        patient_confirmed=False,
        patient_missed=False,
        checked_out=False,
        is_guardian=False,
        is_new_clients_patient=False,
        is_past_patient=False,
        sooner_if_possible=False,
        misc={},
        booked_via="nexhealth",
        status_id=1,
        created_at=NOW,
        updated_at=NOW,
    )
    values.update(given)
    return values


def test_absent_columns_are_the_empty_nullable_ones() -> None:
    values = booking_values(provider_id=3, patient_id=4, note="Bring the X-rays", doc_ids=["a"])

    absent = absent_columns(values)

    assert {"note", "doc_ids", "provider_id", "patient_id"}.isdisjoint(absent)
    assert {
        "operatory_id",
        "referrer",
        "booking_details",
        "cancelled_at",
        "secondary_start_at",
    } <= absent
    assert absent == {key for key, value in values.items() if value is None}
    # The hot path's key names the same columns.
    assert absent_columns(empty_columns(values)) == absent


def test_a_not_null_column_is_never_left_out() -> None:
    """A NOT NULL column left at None stays in the INSERT, so the database refuses it as
    before rather than storing its own default."""
    values = booking_values(
        misc=None, status_id=None, booked_via=None, is_past_patient=None, guid=None
    )

    absent = absent_columns(values)

    assert {"misc", "status_id", "booked_via", "is_past_patient", "guid"}.isdisjoint(absent)


@pytest.mark.parametrize(
    "dialect",
    [postgresql.asyncpg.dialect(), sqlite.pysqlite.dialect()],  # type: ignore[no-untyped-call]
)
def test_the_insert_names_every_column_but_the_absent_ones(dialect: Any) -> None:
    absent = frozenset({"note", "referrer", "operatory_id"})

    full = str(guarded_insert(False, True, None, versioned=True).compile(dialect=dialect))
    lean = str(
        guarded_insert(False, True, None, versioned=True, absent=absent).compile(dialect=dialect)
    )

    def named(sql: str) -> list[str]:
        return [name.strip() for name in sql.split("(", 1)[1].split(")", 1)[0].split(",")]

    assert named(lean) == [name for name in named(full) if name not in absent]
    assert {"note", "referrer", "operatory_id"} <= set(named(full))


async def test_a_booking_stores_null_where_it_left_a_column_out(api: Api) -> None:
    clinic = await api.clinic()
    start = future(days=20)

    with_note = await book(api, clinic, start, 0, 0, note="Bring the X-rays", referrer="Dr. Who")
    without = await book(api, clinic, start, 1, 1)

    async with api.db.read() as session:
        rows = {
            row.id: row
            for row in (
                await session.execute(
                    select(Appointment).where(Appointment.id.in_([with_note, without]))
                )
            ).scalars()
        }
    assert (rows[with_note].note, rows[with_note].referrer) == ("Bring the X-rays", "Dr. Who")
    assert (rows[without].note, rows[without].referrer) == (None, None)
    for row in rows.values():
        assert row.operatory_id is None
        assert row.cancelled_at is None
        assert row.booking_details is None
        assert row.misc == {"is_booked_on_carebook": True, "booked_via": "nexhealth"}
        assert row.status_id == 1


async def test_the_kept_inserts_stay_bounded(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """Which columns a booking leaves empty is up to its client: each process keeps at most
    ``MAX_INSERT_SHAPES`` compiled inserts, and books on past the bound."""
    monkeypatch.setattr(booking_sql, "MAX_INSERT_SHAPES", 1)
    for compiled in booking_sql._BY_DIALECT.values():  # kept by earlier tests: a cache
        compiled.inserts.clear()
    clinic = await api.clinic()
    start = future(days=21)
    shapes: list[dict[str, Any]] = [{}, {"note": "n"}, {"referrer": "r"}, {}]
    for half_hours, fields in enumerate(shapes):
        await book(api, clinic, start + timedelta(minutes=30 * half_hours), **fields)
        assert [len(c.inserts) for c in booking_sql._BY_DIALECT.values() if c.inserts] == [1]
