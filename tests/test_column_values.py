"""``column_values`` reads a record's columns as attribute access reads them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import inspect

from carebook.db.base import column_values
from carebook.db.tables import Patient


def _by_attribute(record: Any) -> dict[str, Any]:
    return {attr.key: getattr(record, attr.key) for attr in inspect(type(record)).column_attrs}


def _every_column_set() -> Patient:
    now = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    patient = Patient(
        id=7,
        institution_id=3,
        first_name="Ada",
        middle_name=None,
        last_name="Lovelace",
        email="ada@example.test",
        bio={"date_of_birth": "1815-12-10"},
        created_at=now,
        updated_at=now,
    )
    for attr in inspect(Patient).column_attrs:  # the rest at None, but set
        if attr.key not in patient.__dict__:
            setattr(patient, attr.key, None)
    return patient


def test_a_record_with_every_column_loaded_is_read_from_its_own_dict() -> None:
    patient = _every_column_set()

    values = column_values(patient)

    assert values is patient.__dict__
    assert {key: values[key] for key in _by_attribute(patient)} == _by_attribute(patient)
    assert values["first_name"] == "Ada"
    assert values["bio"] == {"date_of_birth": "1815-12-10"}


def test_a_record_missing_a_column_is_read_through_its_attributes() -> None:
    patient = Patient(first_name="Ada", last_name="Lovelace", institution_id=3)

    values = column_values(patient)

    # Unset columns read as attribute access reads them on a new record (None), and the
    # instance is left as it was: nothing is set on it by the reading.
    assert values is not patient.__dict__
    assert dict(values) == _by_attribute(patient)
    assert values["first_name"] == "Ada"
    assert values["email"] is None
    assert "email" not in patient.__dict__


def test_a_record_with_an_expired_column_is_read_through_its_attributes() -> None:
    patient = _every_column_set()
    del patient.__dict__["email"]  # as expiring the attribute leaves the instance

    values = column_values(patient)

    assert values is not patient.__dict__
    assert values["email"] is None
    assert values["first_name"] == "Ada"
