"""The Calendar booking's look-up on the driver's connection equals the ORM's.

``telehealth_sql.calendar_context_driver`` (what booking uses) and
``telehealth.calendar_context`` (the ORM original) run the same statement; here both read the
same database for many combinations of found, unknown and other-tenant GUIDs, and must return
equal contexts: every entity with the same column values (and value types), the same
operatories and reasons in the same order.
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import inspect, select, true, update

from carebook.db.database import DriverConnection
from carebook.db.repositories import booking_sql, telehealth_sql
from carebook.db.repositories import telehealth as repo
from carebook.db.tables import (
    Appointment,
    AppointmentType,
    AppointmentTypeMode,
    Operatory,
    Service,
    VisitReason,
)
from tests.calendar.helpers import Tele, telehealth_clinic
from tests.support import Api

pytestmark = pytest.mark.anyio


@dataclass
class SetUp:
    """The sample clinic, widened: reasons, operatories, a second type, another tenant."""

    tele: Tele
    other: Tele
    reasons: list[uuid.UUID]  # Cough, Fever, Rash: oldest (lowest id) first
    chairs: list[int]  # the Berlin location's active operatories, oldest first
    follow_up: uuid.UUID  # a type that is not location-scoped
    follow_up_mode: uuid.UUID  # its phone option


async def widened_clinic(api: Api) -> SetUp:
    tele = await telehealth_clinic(api)
    other = await telehealth_clinic(api, "other", sample_guids=False)
    berlin = tele.clinic.op_location_id

    async def build(session: Any) -> dict[str, Any]:
        iid = tele.clinic.institution_id
        fever = VisitReason(institution_id=iid, name="Fever", code="R50.9")
        rash = VisitReason(institution_id=iid, name="Rash", code=None)
        chair_3 = Operatory(institution_id=iid, location_id=berlin, name="Chair 3")
        retired = Operatory(institution_id=iid, location_id=berlin, name="Old chair", active=False)
        follow_up = AppointmentType(institution_id=iid, name="Follow-up", minutes=20)
        session.add_all([fever, rash, chair_3, retired, follow_up])
        await session.flush()
        phone = AppointmentTypeMode(
            institution_id=iid, appointment_type_id=follow_up.id, mode_id=3, minutes=20
        )
        session.add(phone)
        # The consult is scoped to Berlin, which maps by operatory: one row per (operatory,
        # reason) pair.
        await session.execute(
            update(AppointmentType)
            .where(AppointmentType.id == tele.ids["consult"])
            .values(parent_type="Location", parent_id=berlin)
        )
        # Values whose conversions differ per type: a fraction (Decimal, not float), JSON.
        await session.execute(
            update(Service)
            .where(Service.id == tele.ids["service"])
            .values(price=Decimal("49.95"), currency="EUR")
        )
        await session.execute(
            update(Appointment)
            .where(Appointment.id == tele.ids["referred"])
            .values(
                paid_amount=Decimal("12.50"),
                doc_ids=["doc-1", "doc-2"],
                booking_details={"source": "portal", "nested": {"n": 1}},
                note="First visit",
                secondary_start_at=datetime(2030, 5, 6, 7, 8, 9, 123456, tzinfo=UTC),
            )
        )
        await session.flush()
        reasons = (
            await session.execute(
                select(VisitReason.guid)
                .where(VisitReason.institution_id == iid)
                .order_by(VisitReason.id)
            )
        ).scalars()
        chairs = (
            await session.execute(
                select(Operatory.id)
                .where(Operatory.location_id == berlin, Operatory.active == true())
                .order_by(Operatory.id)
            )
        ).scalars()
        return {
            "reasons": list(reasons),
            "chairs": list(chairs),
            "follow_up": follow_up.guid,
            "follow_up_mode": phone.guid,
        }

    made = await api.db.write(build)
    return SetUp(tele=tele, other=other, **made)


def columns_of(instance: Any) -> dict[str, Any] | None:
    """Every column attribute's value and type (None for no instance)."""
    if instance is None:
        return None
    values: dict[str, Any] = {"class": type(instance).__name__}
    for attr in inspect(type(instance)).column_attrs:
        value = getattr(instance, attr.key)
        values[attr.key] = (value, _kind(value))
    return values


def _kind(value: Any) -> type:
    # asyncpg returns its own UUID subclass; the ORM hands it on as well, but a UUID is a UUID.
    return uuid.UUID if isinstance(value, uuid.UUID) else type(value)


def id_of(instance: Any) -> int | None:
    return None if instance is None else int(instance.id)


def guid_of(instance: Any) -> uuid.UUID | None:
    return None if instance is None else uuid.UUID(str(instance.guid))


def comparable(context: repo.CalendarContext | None) -> dict[str, Any] | None:
    if context is None:
        return None
    out: dict[str, Any] = {}
    for field in dataclasses.fields(context):
        value = getattr(context, field.name)
        if field.name == "operatories":
            out[field.name] = [columns_of(o) for o in value]
        elif field.name == "reasons":
            out[field.name] = [(guid, columns_of(r)) for guid, r in value.items()]
        elif field.name == "reference_version":
            out[field.name] = (value, type(value))
        elif field.name == "memo":
            out[field.name] = value  # nothing worked out yet from a fresh look-up: {}
        else:
            out[field.name] = columns_of(value)
    return out


async def both(api: Api, **ids: Any) -> tuple[repo.CalendarContext | None, Any]:
    """The driver's context (for further checks) and, asserted equal, the ORM's."""
    lookup = repo.CalendarLookup(**ids)
    async with api.db.read() as session:
        by_orm = await repo.calendar_context(session, lookup)

    async def load(conn: DriverConnection) -> repo.CalendarContext | None:
        return await telehealth_sql.calendar_context_driver(conn, lookup)

    by_driver = await api.db.read_driver(load)
    assert comparable(by_driver) == comparable(by_orm)
    return by_driver, by_orm


def request_ids(setup: SetUp, **given: Any) -> dict[str, Any]:
    """The ids of a full request (every GUID found); ``given`` replaces some."""
    tele = setup.tele
    ids: dict[str, Any] = {
        "account_id": uuid.UUID(tele.account),
        "user_id": uuid.UUID(tele.user),
        "provider_id": uuid.UUID(tele.provider),
        "patient_id": uuid.UUID(tele.dependant),
        "parent_id": uuid.UUID(tele.guardian),
        "mode_id": uuid.UUID(tele.mode),
        "type_id": uuid.UUID(tele.encounter_type),
        "speciality_id": uuid.UUID(tele.speciality),
        "service_id": uuid.UUID(tele.service),
        "referred_id": uuid.UUID(tele.referred),
        "reason_ids": (),
    }
    ids.update(given)
    return ids


async def test_every_guid_found_with_three_reasons(api: Api) -> None:
    setup = await widened_clinic(api)
    tele = setup.tele
    cough, fever, rash = setup.reasons
    # Given newest first: the context's order is the rows' (by id), not the request's.
    found, _ = await both(api, **request_ids(setup, reason_ids=(rash, fever, cough)))
    assert found is not None
    assert found.institution.id == tele.clinic.institution_id
    iid = found.institution.id
    version = await api.db.read_driver(
        lambda conn: booking_sql.current_reference_version(conn, iid)
    )
    assert found.reference_version == version > 0  # the set-up moved it: read, not defaulted
    assert id_of(found.user) == tele.ids["user"]
    assert id_of(found.self_patient) == tele.ids["guardian"]
    assert id_of(found.patient) == tele.ids["dependant"]
    assert id_of(found.parent) == tele.ids["guardian"]
    assert id_of(found.mode) == tele.ids["video"]
    assert id_of(found.type_by_guid) == tele.ids["consult"]
    assert id_of(found.type_of_mode) == tele.ids["consult"]
    assert id_of(found.location) == tele.clinic.op_location_id
    assert [o.id for o in found.operatories] == setup.chairs
    assert [o.name for o in found.operatories] == ["Chair 1", "Chair 2", "Chair 3"]
    assert id_of(found.specialty_by_guid) == tele.ids["specialty"]
    assert id_of(found.provider_specialty) == tele.ids["specialty"]
    assert found.service is not None
    assert found.service.price == Decimal("49.95")
    assert found.referred is not None
    assert found.referred.doc_ids == ["doc-1", "doc-2"]
    assert found.referred.booking_details == {"source": "portal", "nested": {"n": 1}}
    assert list(found.reasons) == [cough, fever, rash]
    assert [r.name for r in found.reasons.values()] == ["Cough", "Fever", "Rash"]
    # A record named twice is one object on both paths (the ORM's identity map; the driver
    # shares what it read once).
    _, by_orm = await both(api, **request_ids(setup, reason_ids=(rash, fever, cough)))
    for context in (found, by_orm):
        assert context.self_patient is context.parent
        assert context.type_by_guid is context.type_of_mode
        assert context.specialty_by_guid is context.provider_specialty


async def test_one_reason_and_repeated_reasons(api: Api) -> None:
    setup = await widened_clinic(api)
    fever = setup.reasons[1]
    for reason_ids in [(fever,), (fever, fever)]:
        found, _ = await both(api, **request_ids(setup, reason_ids=reason_ids))
        assert found is not None
        assert list(found.reasons) == [fever]
        assert len(found.operatories) == 3


async def test_no_optional_guid_and_no_reason(api: Api) -> None:
    setup = await widened_clinic(api)
    ids = request_ids(
        setup,
        patient_id=None,
        parent_id=None,
        mode_id=None,
        type_id=None,
        speciality_id=None,
        service_id=None,
        referred_id=None,
    )
    found, _ = await both(api, **ids)
    assert found is not None
    assert id_of(found.user) == setup.tele.ids["user"]
    assert id_of(found.provider) == setup.tele.clinic.provider_ids[0]
    assert id_of(found.self_patient) == setup.tele.ids["guardian"]
    assert (found.patient, found.parent, found.mode, found.type_by_guid) == (None,) * 4
    assert (found.type_of_mode, found.specialty_by_guid, found.service) == (None,) * 3
    assert found.referred is None
    assert found.provider_specialty is not None
    # No type: the provider's first active location, which books by provider.
    assert id_of(found.location) == setup.tele.clinic.location_id
    assert found.operatories == []
    assert found.reasons == {}


async def test_visit_option_of_an_unscoped_type(api: Api) -> None:
    setup = await widened_clinic(api)
    cough, _, rash = setup.reasons
    ids = request_ids(setup, mode_id=setup.follow_up_mode, type_id=None, reason_ids=(rash, cough))
    found, _ = await both(api, **ids)
    assert found is not None
    assert found.type_by_guid is None
    assert guid_of(found.type_of_mode) == setup.follow_up
    assert id_of(found.location) == setup.tele.clinic.location_id
    assert found.operatories == []
    assert list(found.reasons) == [cough, rash]
    # The same type by its GUID too; the patient is the user's own (patient and parent the
    # same row, loaded twice).
    ids = request_ids(
        setup,
        mode_id=setup.follow_up_mode,
        type_id=setup.follow_up,
        patient_id=uuid.UUID(setup.tele.guardian),
    )
    found, _ = await both(api, **ids)
    assert found is not None
    assert guid_of(found.type_by_guid) == setup.follow_up
    guardian = setup.tele.ids["guardian"]
    assert id_of(found.patient) == id_of(found.parent) == id_of(found.self_patient) == guardian


async def test_unknown_guids(api: Api) -> None:
    setup = await widened_clinic(api)
    cough = setup.reasons[0]
    unknown = {
        name: uuid.uuid4()
        for name in (
            "user_id",
            "provider_id",
            "patient_id",
            "parent_id",
            "mode_id",
            "type_id",
            "speciality_id",
            "service_id",
            "referred_id",
        )
    }
    # Each one unknown in turn, then all at once.
    for name, guid in unknown.items():
        found, _ = await both(api, **request_ids(setup, **{name: guid}))
        assert found is not None
        assert found.institution.id == setup.tele.clinic.institution_id
    found, _ = await both(api, **request_ids(setup, **unknown, reason_ids=(uuid.uuid4(),)))
    assert found is not None
    assert (found.user, found.provider, found.self_patient, found.location) == (None,) * 4
    assert found.operatories == []
    assert found.reasons == {}
    # Three reasons, one unknown: the two known come back.
    reason_ids = (uuid.uuid4(), cough, setup.reasons[2])
    found, _ = await both(api, **request_ids(setup, reason_ids=reason_ids))
    assert found is not None
    assert list(found.reasons) == [cough, setup.reasons[2]]


async def test_another_tenants_guids_are_not_found(api: Api) -> None:
    setup = await widened_clinic(api)
    other = setup.other
    ids = request_ids(
        setup,
        user_id=uuid.UUID(other.user),
        provider_id=uuid.UUID(other.provider),
        patient_id=uuid.UUID(other.dependant),
        mode_id=uuid.UUID(other.mode),
        service_id=uuid.UUID(other.service),
        reason_ids=(uuid.UUID(other.reason), setup.reasons[1]),
    )
    found, _ = await both(api, **ids)
    assert found is not None
    assert (found.user, found.provider, found.patient, found.mode, found.service) == (None,) * 5
    assert list(found.reasons) == [setup.reasons[1]]
    # The other tenant's own look-up finds them.
    found, _ = await both(
        api,
        **request_ids(
            setup,
            account_id=uuid.UUID(other.account),
            user_id=uuid.UUID(other.user),
            provider_id=uuid.UUID(other.provider),
            patient_id=uuid.UUID(other.dependant),
            parent_id=uuid.UUID(other.guardian),
            mode_id=uuid.UUID(other.mode),
            type_id=uuid.UUID(other.encounter_type),
            speciality_id=uuid.UUID(other.speciality),
            service_id=uuid.UUID(other.service),
            referred_id=uuid.UUID(other.referred),
            reason_ids=(uuid.UUID(other.reason),),
        ),
    )
    assert found is not None
    assert found.institution.id == other.clinic.institution_id
    assert id_of(found.user) is not None
    assert id_of(found.referred) is not None
    assert list(found.reasons) == [uuid.UUID(other.reason)]


async def test_unknown_account_is_none(api: Api) -> None:
    setup = await widened_clinic(api)
    for reason_ids in [(), (setup.reasons[0],), tuple(setup.reasons)]:
        by_driver, by_orm = await both(
            api, **request_ids(setup, account_id=uuid.uuid4(), reason_ids=reason_ids)
        )
        assert by_driver is None
        assert by_orm is None
