"""A database error's text never carries the statement's parameters (patients' names, dates of
birth, SSNs): it is logged with every 500, and its type with every outage warning."""

from __future__ import annotations

import logging
from datetime import date

import pytest
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from carebook.db.tables import Patient
from tests.support import Api

pytestmark = pytest.mark.anyio

PRIVATE = ("Hopperton", "Gracelyn", "078-05-1120", "1961-07-04")


async def test_a_failed_statement_names_no_parameters(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    clinic = await api.clinic("acme")
    caplog.set_level(logging.DEBUG)

    async def duplicate(session: AsyncSession) -> None:
        # The id of an existing patient: the INSERT fails in the database, with its parameters.
        session.add(
            Patient(
                id=clinic.patient_ids[0],
                institution_id=clinic.institution_id,
                location_id=clinic.location_id,
                first_name="Gracelyn",
                last_name="Hopperton",
                email="g@acme.test",
                date_of_birth=date(1961, 7, 4),
                phone_number="5551234567",
                gender="Female",
                bio={"ssn": "078-05-1120"},
            )
        )
        await session.flush()

    with pytest.raises(IntegrityError) as raised:
        await api.db.write(duplicate)
    text = str(raised.value)
    assert "INSERT INTO patients" in text
    assert "[SQL parameters hidden due to hide_parameters=True]" in text
    for secret in PRIVATE:
        assert secret not in text
        assert secret not in caplog.text
    for engine in (api.db.write_engine, api.db.read_engine):
        assert engine.sync_engine.hide_parameters is True
