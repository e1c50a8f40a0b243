"""Each process keeps the Calendar booking's GUID look-up (``db.calendar_contexts``) and books
from it again only while the institution's reference version is the one the look-up read.

A change committed through another process must be seen by the very next booking here, as a
process that never kept anything sees it; a change between a look-up and its booking (kept or
not) sends the booking back to a fresh look-up. Every table the look-up reads but appointments
moves the version; a look-up naming an appointment (``ReferredParentId``) is never kept.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import delete, select, text, update

from carebook.config import Settings
from carebook.core import telehealth
from carebook.db.repositories import appointments as appointments_repo
from carebook.db.repositories import telehealth_sql
from carebook.db.tables import (
    Appointment,
    AppointmentType,
    AppointmentTypeMode,
    Institution,
    PortalUser,
    Provider,
    ReferenceVersion,
    Service,
    Specialty,
    VisitReason,
)
from tests.calendar.helpers import DOCTOR_TZ, URL, Tele, body, future_day, telehealth_clinic
from tests.support import Api, OtherProcess, reference_version

pytestmark = pytest.mark.anyio


def at(hour: int) -> str:
    """``hour`` o'clock, the provider's local time (no offset), on one future day."""
    return f"{future_day().isoformat()}T{hour:02d}:00:00"


async def book(client: httpx.AsyncClient, tele: Tele, hour: int, **fields: Any) -> httpx.Response:
    return await client.post(URL, json=body(tele, at(hour), **fields), headers=tele.auth)


def count_lookups(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One entry per GUID look-up a booking runs."""
    lookups: list[int] = []
    real = telehealth_sql.calendar_context_driver

    async def counted(*args: Any) -> Any:
        lookups.append(1)
        return await real(*args)

    monkeypatch.setattr(telehealth_sql, "calendar_context_driver", counted)
    return lookups


async def booked(api: Api, tele: Tele) -> int:
    """How many appointments there are besides the set-up's own (the one followed up)."""
    async with api.db.read() as session:
        query = select(Appointment.id).where(Appointment.id != tele.ids["referred"])
        return len((await session.execute(query)).all())


async def test_the_next_booking_with_the_same_guids_books_from_the_kept_look_up(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    tele = await telehealth_clinic(api)
    lookups = count_lookups(monkeypatch)
    first = await book(api.client, tele, 9)
    second = await book(api.client, tele, 10)
    assert (first.status_code, second.status_code) == (200, 200), second.text
    assert len(lookups) == 1
    assert len(api.db.calendar_contexts) == 1
    # The same answer but for the booking's own id and times (ModifiedOn: when it was made).
    differing = {k for k, v in first.json().items() if second.json()[k] != v}
    times = {"ID", "AppointmentOn", "FromDate", "ToDate", "AppointmentOnUTC"}
    assert times <= differing <= {*times, "ModifiedOn"}
    assert second.json()["AppointmentOn"].startswith(f"{future_day().isoformat()}T10:00:00")
    # Other GUIDs are another look-up.
    third = await book(api.client, tele, 11, EncounterTypeModeDurationId=tele.phone_mode)
    assert (third.status_code, third.json()["Duration"]) == (200, 45)
    assert len(lookups) == 2
    assert await booked(api, tele) == 3


Change = Callable[[Tele], Any]

# Changes a kept look-up must not hide, on the tables only the look-up reads and on the records
# it hands the booking; each refuses the next booking.
REFUSING: dict[str, Change] = {
    "provider made inactive": lambda t: (
        update(Provider).where(Provider.id == t.clinic.provider_ids[0]).values(inactive=True)
    ),
    "user's own patient unlinked": lambda t: (
        update(PortalUser).where(PortalUser.id == t.ids["user"]).values(self_patient_id=None)
    ),
    "encounter type deleted": lambda t: (
        update(AppointmentType).where(AppointmentType.id == t.ids["consult"]).values(deleted=True)
    ),
    "account given another GUID": lambda t: (
        update(Institution)
        .where(Institution.id == t.clinic.institution_id)
        .values(guid=uuid.UUID(int=1))
    ),
}


@pytest.mark.parametrize(
    ("change", "patient"),
    [
        (change, patient)
        for change in sorted(REFUSING)
        for patient in ("own", "dependant")
        # The dependant is the user's own as well (they added it): still theirs to book.
        if (change, patient) != ("user's own patient unlinked", "dependant")
    ],
)
async def test_a_change_made_elsewhere_refuses_the_next_booking_as_a_fresh_process_does(
    api: Api,
    other: OtherProcess,
    settings: Settings,
    change: str,
    patient: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """For the user's own patient (the driver path) and for a dependant (a guardian booking:
    the session path)."""
    tele = await telehealth_clinic(api)
    lookups = count_lookups(monkeypatch)
    whom = {"PatientId": tele.dependant if patient == "dependant" else None}
    assert (await book(api.client, tele, 9, **whom)).status_code == 200
    statement = REFUSING[change](tele)
    await other.db.write(lambda session: session.execute(statement))

    kept = await book(api.client, tele, 10, **whom)
    async with OtherProcess(settings) as fresh:
        truth = await book(fresh, tele, 10, **whom)
    assert kept.status_code in (400, 403, 404), kept.text
    assert (kept.status_code, kept.json()) == (truth.status_code, truth.json())
    # The first booking's look-up, the fresh one after the kept one was found old, and the
    # fresh process's own.
    assert len(lookups) == 3
    assert await booked(api, tele) == 1


@pytest.mark.parametrize("what", ["visit option", "specialty"])
@pytest.mark.parametrize("patient", ["own", "dependant"])
async def test_a_change_made_elsewhere_is_in_the_next_booking(
    api: Api, other: OtherProcess, what: str, patient: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """For the user's own patient (the driver path) and for a dependant (a guardian booking:
    the session path)."""
    tele = await telehealth_clinic(api)
    lookups = count_lookups(monkeypatch)
    whom = {"PatientId": tele.dependant if patient == "dependant" else None}
    first = await book(api.client, tele, 9, **whom)
    assert first.json()["IsGuardian"] == (1 if patient == "dependant" else 0)
    assert (first.json()["Duration"], first.json()["Speciality"]["Name"]) == (15, "Family")
    statement: Any = (
        update(AppointmentTypeMode)
        .where(AppointmentTypeMode.id == tele.ids["video"])
        .values(minutes=50)
        if what == "visit option"
        else update(Specialty).where(Specialty.id == tele.ids["specialty"]).values(name="General")
    )
    await other.db.write(lambda session: session.execute(statement))

    second = await book(api.client, tele, 10, **whom)
    assert second.status_code == 200, second.text
    expected = (50, "Family") if what == "visit option" else (15, "General")
    assert (second.json()["Duration"], second.json()["Speciality"]["Name"]) == expected
    assert len(lookups) == 2


async def test_a_change_between_a_look_up_and_its_booking_is_looked_up_again(
    api: Api, other: OtherProcess, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Kept or not: the look-up read the provider active; by the booking they are not."""
    tele = await telehealth_clinic(api)
    lookups = count_lookups(monkeypatch)
    real = telehealth._load_context

    async def then_deactivate(db: Any, lookup: Any) -> Any:
        found = await real(db, lookup)
        if len(lookups) == 1:
            deactivate = REFUSING["provider made inactive"](tele)
            await other.db.write(lambda session: session.execute(deactivate))
        return found

    monkeypatch.setattr(telehealth, "_load_context", then_deactivate)
    refused = await book(api.client, tele, 9)
    async with OtherProcess(settings) as fresh:
        truth = await book(fresh, tele, 9)
    assert refused.status_code == 400, refused.text
    assert refused.json() == truth.json()
    assert len(lookups) == 3  # the first, found old by the booking; the second; the fresh one's
    assert await booked(api, tele) == 0


@pytest.mark.postgres_only  # on SQLite the booking's write lock keeps every writer out
async def test_a_change_committed_inside_the_booking_transaction_is_looked_up_again(
    api: Api, other: OtherProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A guardian booking (the session path): the specialty is renamed after its context query
    and before its insert. Under READ COMMITTED only the versioned insert sees it."""
    tele = await telehealth_clinic(api)
    lookups = count_lookups(monkeypatch)
    real = appointments_repo.load_booking_context
    renamed: list[int] = []

    async def then_rename(*args: Any, **kwargs: Any) -> Any:
        context = await real(*args, **kwargs)
        if not renamed:
            renamed.append(1)
            rename = (
                update(Specialty).where(Specialty.id == tele.ids["specialty"]).values(name="New")
            )
            await other.db.write(lambda session: session.execute(rename))
        return context

    monkeypatch.setattr(appointments_repo, "load_booking_context", then_rename)
    response = await book(api.client, tele, 9, PatientId=tele.dependant)
    assert response.status_code == 200, response.text
    assert (response.json()["IsGuardian"], response.json()["Speciality"]["Name"]) == (1, "New")
    assert len(lookups) == 2
    assert await booked(api, tele) == 1


async def test_reference_data_changing_under_every_look_up_still_books(
    api: Api, other: OtherProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After three look-ups found old, the booking reads its records itself rather than fail.

    What only the look-up reads (the specialty here) is then the last look-up's, read a moment
    before the booking, even though it was renamed again in between: the one window the
    versions leave open, and only while reference data changes between every look-up and its
    booking."""
    tele = await telehealth_clinic(api)
    lookups = count_lookups(monkeypatch)
    real = telehealth._load_context
    rename = update(Specialty).where(Specialty.id == tele.ids["specialty"])

    async def then_rename(db: Any, lookup: Any) -> Any:
        found = await real(db, lookup)
        statement = rename.values(name=f"Family {len(lookups)}")
        await other.db.write(lambda session: session.execute(statement))
        return found

    monkeypatch.setattr(telehealth, "_load_context", then_rename)
    response = await book(api.client, tele, 9)
    assert response.status_code == 200, response.text
    assert len(lookups) == 4
    # The name the last look-up read; "Family 4" by the time of the booking (see above).
    assert response.json()["Speciality"]["Name"] == "Family 3"
    assert len(api.db.calendar_contexts) == 0  # booked from no versioned look-up: none kept
    assert await booked(api, tele) == 1


async def test_a_look_up_naming_an_appointment_is_never_kept(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    tele = await telehealth_clinic(api)
    lookups = count_lookups(monkeypatch)
    for hour in (9, 10):
        response = await book(api.client, tele, hour, ReferredParentId=tele.referred)
        assert response.status_code == 200, response.text
    assert len(lookups) == 2
    assert len(api.db.calendar_contexts) == 0


async def test_a_refusal_from_a_kept_look_up_is_decided_on_a_fresh_one(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    tele = await telehealth_clinic(api)
    lookups = count_lookups(monkeypatch)
    assert (await book(api.client, tele, 9)).status_code == 200
    # An hour ago in the provider's zone: no offset, so only the look-up's zone says it passed.
    passed = await api.client.post(
        URL,
        json=body(tele, _an_hour_ago()),
        headers=tele.auth,
    )
    assert passed.status_code == 400
    assert passed.json()["ModelState"] == {
        "model.AppointmentOn": ["AppointmentOn must be in the future; the time given has passed."]
    }
    assert len(lookups) == 2


def _an_hour_ago() -> str:
    now = datetime.now(ZoneInfo(DOCTOR_TZ)) - timedelta(hours=1)
    return now.replace(tzinfo=None, microsecond=0).isoformat()


@pytest.mark.parametrize(
    "table",
    [
        "portal_users",
        "appointment_type_modes",
        "specialties",
        "services",
        "visit_reasons",
        "institutions",
    ],
)
async def test_every_table_only_the_look_up_reads_moves_the_version(api: Api, table: str) -> None:
    tele = await telehealth_clinic(api)
    other = await telehealth_clinic(api, "other", sample_guids=False)
    iid, other_iid = tele.clinic.institution_id, other.clinic.institution_id
    column = "id" if table == "institutions" else "institution_id"
    seen, others = await reference_version(api.db, iid), await reference_version(api.db, other_iid)
    count = text(f"SELECT count(*) FROM {table} WHERE {column} = :i")
    async with api.db.read() as session:
        touched = int((await session.execute(count, {"i": iid})).scalar_one())
    assert touched >= 1
    touch = text(f"UPDATE {table} SET {column} = {column} WHERE {column} = :i")
    await api.db.write(lambda session: session.execute(touch, {"i": iid}))
    # Each row's UPDATE bumps the institution it left and the one it is in.
    assert await reference_version(api.db, iid) == seen + 2 * touched
    assert await reference_version(api.db, other_iid) == others  # tenants apart


NEW_ROWS: dict[str, Callable[[Tele], Any]] = {
    "portal_users": lambda t: PortalUser(
        institution_id=t.clinic.institution_id,
        email="new@example.test",
        first_name="N",
        last_name="U",
    ),
    "appointment_type_modes": lambda t: AppointmentTypeMode(
        institution_id=t.clinic.institution_id,
        appointment_type_id=t.ids["consult"],
        mode_id=1,
        minutes=20,
    ),
    "specialties": lambda t: Specialty(institution_id=t.clinic.institution_id, name="New"),
    "services": lambda t: Service(
        institution_id=t.clinic.institution_id, name="New", price=1, currency="USD"
    ),
    "visit_reasons": lambda t: VisitReason(institution_id=t.clinic.institution_id, name="New"),
}


@pytest.mark.parametrize("table", sorted(NEW_ROWS))
async def test_a_row_added_or_deleted_moves_the_version(api: Api, table: str) -> None:
    tele = await telehealth_clinic(api)
    iid = tele.clinic.institution_id
    row = NEW_ROWS[table](tele)
    seen = await reference_version(api.db, iid)

    async def add(session: Any) -> None:
        session.add(row)
        await session.flush()

    await api.db.write(add)
    assert await reference_version(api.db, iid) == seen + 1
    await api.db.write(
        lambda session: session.execute(delete(type(row)).where(type(row).id == row.id))
    )
    assert await reference_version(api.db, iid) == seen + 2


async def test_an_institution_added_or_deleted_moves_its_own_version(api: Api) -> None:
    added = Institution(subdomain="brand-new", name="Brand new")
    # An id may have been an earlier institution's (versions are never deleted), so from what
    # every id had before.
    async with api.db.read() as session:
        before = dict(
            (
                await session.execute(
                    select(ReferenceVersion.institution_id, ReferenceVersion.version)
                )
            )
            .tuples()
            .all()
        )

    async def add(session: Any) -> None:
        session.add(added)
        await session.flush()

    await api.db.write(add)
    assert await reference_version(api.db, added.id) == before.get(added.id, 0) + 1
    await api.db.write(
        lambda session: session.execute(delete(Institution).where(Institution.id == added.id))
    )
    assert await reference_version(api.db, added.id) == before.get(added.id, 0) + 2
