"""The demo's telehealth set-up, for the Calendar API (``PatientAppointmentPost``).

Specialties, a priced service, coded visit reasons, the appointment type "Telehealth consult" with
its visit options (video 15 and 30 minutes, phone 15 minutes), and a portal user whose own
patient is the demo's first patient, with a dependant. Idempotent: each record is looked up
(by name, email or its identity) before it is made.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from carebook.db.repositories import appointments as appointments_repo
from carebook.db.repositories import telehealth as repo
from carebook.db.tables import (
    AppointmentType,
    AppointmentTypeMode,
    Institution,
    Location,
    Patient,
    PortalUser,
    Provider,
    ProviderLocation,
    Service,
    Specialty,
    VisitReason,
)

VIDEO, PHONE = 2, 3
USER_EMAIL = "maria@example.test"


async def _specialty(session: AsyncSession, iid: int, name: str, code: str) -> Specialty:
    found = await repo.named(session, Specialty, institution_id=iid, name=name)
    return found or await repo.add(session, Specialty(institution_id=iid, name=name, code=code))


async def _reason(session: AsyncSession, iid: int, name: str, code: str) -> VisitReason:
    found = await repo.named(session, VisitReason, institution_id=iid, name=name)
    return found or await repo.add(session, VisitReason(institution_id=iid, name=name, code=code))


async def _mode(
    session: AsyncSession, iid: int, appointment_type: AppointmentType, mode_id: int, minutes: int
) -> AppointmentTypeMode:
    found = await repo.mode_matching(
        session,
        institution_id=iid,
        appointment_type_id=appointment_type.id,
        mode_id=mode_id,
        minutes=minutes,
    )
    return found or await repo.add(
        session,
        AppointmentTypeMode(
            institution_id=iid,
            appointment_type_id=appointment_type.id,
            mode_id=mode_id,
            minutes=minutes,
        ),
    )


async def _provider(session: AsyncSession, iid: int) -> Provider:
    """The demo's first provider, given a zone (their first location's) if they have none."""
    provider = (
        await session.execute(
            select(Provider).where(Provider.institution_id == iid).order_by(Provider.id).limit(1)
        )
    ).scalar_one()
    if provider.tz is None:
        location = (
            await session.execute(
                select(Location)
                .join(ProviderLocation, ProviderLocation.location_id == Location.id)
                .where(Location.institution_id == iid, ProviderLocation.provider_id == provider.id)
                .order_by(Location.id)
                .limit(1)
            )
        ).scalar_one_or_none()
        provider.tz = location.tz if location is not None else "America/New_York"
    return provider


async def _portal_user(session: AsyncSession, iid: int) -> tuple[PortalUser, Patient]:
    """Maria's login: her own patient record (the demo's first patient) and a dependant."""
    user = await repo.portal_user_by_email(session, institution_id=iid, email=USER_EMAIL)
    if user is None:
        user = await repo.add(
            session,
            PortalUser(
                institution_id=iid,
                email=USER_EMAIL,
                first_name="Maria",
                last_name="Garcia",
                tz="America/New_York",
            ),
        )
    own = None
    if user.self_patient_id is not None:
        own = await repo.by_id(session, Patient, institution_id=iid, row_id=user.self_patient_id)
    if own is None:
        own = (
            await session.execute(
                select(Patient)
                .where(
                    Patient.institution_id == iid,
                    Patient.guarantor_id.is_(None),
                    Patient.portal_user_id.is_(None),
                )
                .order_by(Patient.id)
                .limit(1)
            )
        ).scalar_one_or_none()
        if own is None:
            own = await repo.add(
                session,
                Patient(
                    institution_id=iid,
                    first_name="Maria",
                    last_name="Garcia",
                    email=USER_EMAIL,
                    date_of_birth=date(1985, 4, 12),
                    gender="Female",
                    bio={"date_of_birth": "1985-04-12", "gender": "Female"},
                ),
            )
        own.portal_user_id = user.id
        own.tz = own.tz or user.tz
        await session.flush()
        user.self_patient_id = own.id
    born = date(2016, 9, 1)
    dependant = await appointments_repo.find_dependant(
        session,
        institution_id=iid,
        guardian_id=own.id,
        first_name="Lucia",
        last_name=own.last_name,
        date_of_birth=born,
    )
    if dependant is None:
        await repo.add(
            session,
            Patient(
                institution_id=iid,
                location_id=own.location_id,
                first_name="Lucia",
                last_name=own.last_name,
                date_of_birth=born,
                gender="Female",
                phone_number=own.phone_number,
                bio={"date_of_birth": born.isoformat(), "gender": "Female"},
                guarantor_id=own.id,
                portal_user_id=user.id,
                tz=own.tz,
            ),
        )
    await session.flush()
    return user, own


async def seed_telehealth(session: AsyncSession, *, institution_id: int) -> dict[str, str]:
    """Create (once) the telehealth set-up; return the ``AppointmentModel`` GUIDs that book the
    portal user's own patient with the first provider by video for 30 minutes."""
    iid = institution_id
    institution = await session.get(Institution, iid)
    assert institution is not None
    family = await _specialty(session, iid, "Family Medicine", "FM")
    await _specialty(session, iid, "Cardiology", "CARD")
    provider = await _provider(session, iid)
    if provider.specialty_id is None:
        provider.specialty_id = family.id
    service = await repo.named(session, Service, institution_id=iid, name="Telehealth visit")
    if service is None:
        service = await repo.add(
            session,
            Service(
                institution_id=iid,
                name="Telehealth visit",
                price=Decimal("49.00"),
                currency="USD",
                specialty_id=family.id,
            ),
        )
    await _reason(session, iid, "Blood pressure check", "BP")
    await _reason(session, iid, "Prescription refill", "RX")
    consult = await repo.appointment_type_named(
        session, institution_id=iid, name="Telehealth consult"
    )
    if consult is None:
        consult = await repo.add(
            session,
            AppointmentType(
                institution_id=iid, name="Telehealth consult", minutes=30, specialty_id=family.id
            ),
        )
    await _mode(session, iid, consult, VIDEO, 15)
    video_30 = await _mode(session, iid, consult, VIDEO, 30)
    await _mode(session, iid, consult, PHONE, 15)
    user, own = await _portal_user(session, iid)
    await session.flush()
    return {
        "AccountId": str(institution.guid),
        "UserId": str(user.guid),
        "PatientId": str(own.guid),
        "ProviderId": str(provider.guid),
        "EncounterTypeId": str(consult.guid),
        "EncounterTypeModeDurationId": str(video_30.guid),
        "SpecialityId": str(family.guid),
        "ServiceId": str(service.guid),
    }
