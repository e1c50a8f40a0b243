"""``carebook demo``: the demo institution, loaded idempotently.

Institution ``demo`` with two locations in different zones (New York books by provider; San
Francisco maps by operatory), providers, operatories, patients, appointment types, descriptors,
working hours, a telehealth set-up, and a few appointments. The demo API key is generated once and
kept in ``var/demo_api_key`` so that re-running prints the same key.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from carebook.config import Settings, make_private_dir, publish_private_file
from carebook.core.auth import KEY_PREFIX, digest_key, new_api_key
from carebook.core.time import local_datetime, utc_now, zone
from carebook.db.database import Database
from carebook.db.repositories import tenancy as tenancy_repo
from carebook.db.tables import (
    ApiKey,
    Appointment,
    AppointmentDescriptor,
    AppointmentType,
    Institution,
    Location,
    Operatory,
    Patient,
    Provider,
    ProviderLocation,
)
from carebook.demo.availability import seed_availability
from carebook.demo.telehealth import seed_telehealth

DEMO_SUBDOMAIN = "demo"
# The demo's times, New York wall clock on weekdays. The printed bookings and the README's
# walk-through all book provider 1 with patient 1, so each has an hour of its own: pasting any of
# them after any other never meets a 409, and none meets the seeded appointments (10:00) or
# provider 1's lunch block (12:00-13:00). The walk-through books next Monday at
# README_WALK_THROUGH_AT (tests/calendar/test_demo.py holds the README to it).
SEEDED_AT, LUNCH_AT = time(10, 0), time(12, 0)
PRINTED_BOOKING_AT, PRINTED_CALENDAR_AT = time(14, 0), time(15, 0)
README_WALK_THROUGH_AT = time(16, 0)


@dataclass
class DemoSummary:
    api_key: str
    institution_id: int
    location_id: int
    provider_id: int
    patient_id: int
    appointment_type_id: int
    created: bool
    telehealth: dict[str, str] = field(default_factory=dict)

    def booking_body(self) -> dict[str, Any]:
        """The ``POST /appointments`` body ``describe`` prints: the next weekday at 14:00."""
        start = _next_weekday_at(zone("America/New_York"), PRINTED_BOOKING_AT)
        return {
            "appt": {
                "patient_id": self.patient_id,
                "provider_id": self.provider_id,
                "start_time": start.isoformat(),
                "appointment_type_id": self.appointment_type_id,
            }
        }

    def describe(self, *, host: str = "127.0.0.1", port: int = 8000) -> str:
        base = f"http://{host}:{port}"
        lines = [
            "Demo institution 'demo' " + ("loaded." if self.created else "already present."),
            f"Demo API key: {self.api_key}",
            "",
            "Try it (the times below are fixed now: run `carebook demo` again for current ones):",
            f"  TOKEN=$(curl -s -X POST {base}/authenticates -H 'Authorization: {self.api_key}' "
            '| python3 -c \'import json,sys; print(json.load(sys.stdin)["data"]["token"])\')',
            f"  curl -s -X POST '{base}/appointments?subdomain={DEMO_SUBDOMAIN}"
            f"&location_id={self.location_id}&notify_patient=false' \\",
            "    -H \"Authorization: Bearer $TOKEN\" -H 'Content-Type: application/json' \\",
            f"    -d '{json.dumps(self.booking_body())}'",
        ]
        if self.telehealth:
            lines += [
                "",
                "Calendar API (telehealth):",
                f"  curl -s -X POST {base}/api/Calendar/PatientAppointmentPost \\",
                "    -H \"Authorization: Bearer $TOKEN\" -H 'Content-Type: application/json' \\",
                f"    -d '{json.dumps(self.telehealth_body())}'",
            ]
        return "\n".join(lines)

    def telehealth_body(self) -> dict[str, Any]:
        """The Calendar body ``describe`` prints: the next weekday at 15:00."""
        start = _next_weekday_at(zone("America/New_York"), PRINTED_CALENDAR_AT)
        body: dict[str, Any] = dict(self.telehealth)
        body["AppointmentOn"] = start.astimezone(zone("America/New_York")).isoformat()
        body.setdefault("Reason", "Follow-up on blood pressure")
        return body


def _next_weekday_at(tz: Any, at: time, skip_days: int = 1) -> datetime:
    day = utc_now().astimezone(tz).date() + timedelta(days=skip_days)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return local_datetime(day, at, tz).astimezone(tz)


def _demo_key(var_dir: Path) -> str:
    path = var_dir / "demo_api_key"
    if path.exists():
        key = path.read_text().strip()
        if key.startswith(KEY_PREFIX):
            return key
        path.unlink(missing_ok=True)  # damaged: a new key replaces it
    make_private_dir(var_dir)
    # Private from its first byte, and whole: of demo runs racing here, one key wins for all.
    publish_private_file(path, new_api_key() + "\n")
    return path.read_text().strip()


async def _ensure_key(session: AsyncSession, key: str, institution_id: int) -> None:
    if await tenancy_repo.api_key_by_digest(session, digest_key(key)) is None:
        await tenancy_repo.add_api_key(
            session,
            ApiKey(key_digest=digest_key(key), prefix=key[:8], name="demo"),
            institution_ids=[institution_id],
        )


async def _build_clinic(session: AsyncSession) -> Institution:
    institution = Institution(name="Demo Family Practice", subdomain=DEMO_SUBDOMAIN)
    session.add(institution)
    await session.flush()
    iid = institution.id
    new_york = Location(
        institution_id=iid,
        name="Downtown (New York)",
        tz="America/New_York",
        street_address="100 Broadway",
        city="New York",
        state="NY",
        zip_code="10005",
        phone_number="+12125550100",
    )
    san_francisco = Location(
        institution_id=iid,
        name="Bay Clinic (San Francisco)",
        tz="America/Los_Angeles",
        map_by_operatory=True,
        street_address="1 Market St",
        city="San Francisco",
        state="CA",
        zip_code="94105",
        phone_number="+14155550100",
    )
    session.add_all([new_york, san_francisco])
    await session.flush()
    providers = [
        Provider(
            institution_id=iid,
            first_name="Ada",
            last_name="Okafor",
            npi="1234567893",
            email="ada.okafor@demo.test",
            tz="America/New_York",
        ),
        Provider(
            institution_id=iid,
            first_name="Ben",
            last_name="Lindqvist",
            npi="1245319599",
            email="ben.lindqvist@demo.test",
            tz="America/New_York",
        ),
        Provider(
            institution_id=iid,
            first_name="Chen",
            last_name="Wu",
            npi="1679576722",
            email="chen.wu@demo.test",
            tz="America/Los_Angeles",
        ),
    ]
    session.add_all(providers)
    await session.flush()
    links = [
        (providers[0], new_york),
        (providers[1], new_york),
        (providers[1], san_francisco),
        (providers[2], san_francisco),
    ]
    session.add_all(
        ProviderLocation(institution_id=iid, provider_id=p.id, location_id=loc.id)
        for p, loc in links
    )
    session.add_all(
        Operatory(institution_id=iid, location_id=san_francisco.id, name=f"Room {n}")
        for n in (1, 2, 3)
    )
    patients = [
        Patient(
            institution_id=iid,
            location_id=new_york.id,
            first_name=first,
            last_name=last,
            email=f"{first.lower()}@example.test",
            date_of_birth=dob,
            gender=gender,
            phone_number=phone,
            bio={"date_of_birth": dob.isoformat(), "gender": gender, "phone_number": phone},
        )
        for first, last, dob, gender, phone in (
            ("Maria", "Garcia", date(1985, 4, 12), "Female", "2125550111"),
            ("James", "Smith", date(1979, 11, 3), "Male", "2125550122"),
            ("Aiko", "Tanaka", date(1992, 7, 28), "Female", "4155550133"),
            ("Sam", "Rivera", date(2001, 2, 9), "Other", "4155550144"),
        )
    ]
    session.add_all(patients)
    session.add_all(
        [
            AppointmentType(institution_id=iid, name="Cleaning", minutes=30),
            AppointmentType(institution_id=iid, name="New patient exam", minutes=60),
            AppointmentDescriptor(
                institution_id=iid,
                location_id=new_york.id,
                descriptor_type="Procedure Code",
                name="Prophylaxis - adult",
                code="D1110",
            ),
            AppointmentDescriptor(
                institution_id=iid,
                location_id=san_francisco.id,
                descriptor_type="Appointment Type",
                name="Hygiene",
                code="HYG",
            ),
        ]
    )
    await session.flush()
    return institution


async def _seed_appointments(session: AsyncSession, institution_id: int) -> None:
    """A few upcoming appointments (New York, weekdays 10:00 local) and one lunch block."""
    if (
        await session.execute(
            select(Appointment.id).where(Appointment.institution_id == institution_id).limit(1)
        )
    ).first():
        return
    new_york = (
        await session.execute(
            select(Location).where(
                Location.institution_id == institution_id, Location.tz == "America/New_York"
            )
        )
    ).scalar_one()
    provider_ids = list(
        (
            await session.execute(
                select(ProviderLocation.provider_id)
                .where(ProviderLocation.location_id == new_york.id)
                .order_by(ProviderLocation.provider_id)
            )
        ).scalars()
    )
    patient_ids = list(
        (
            await session.execute(
                select(Patient.id)
                .where(Patient.institution_id == institution_id, Patient.guarantor_id.is_(None))
                .order_by(Patient.id)
                .limit(2)
            )
        ).scalars()
    )
    tz = zone(new_york.tz)
    for offset, (provider_id, patient_id) in enumerate(
        zip(provider_ids, patient_ids, strict=False)
    ):
        start = _next_weekday_at(tz, SEEDED_AT, skip_days=2 + offset)
        session.add(
            Appointment(
                institution_id=institution_id,
                location_id=new_york.id,
                provider_id=provider_id,
                patient_id=patient_id,
                start_at=start,
                end_at=start + timedelta(minutes=30),
                note="Demo appointment",
            )
        )
    lunch = _next_weekday_at(tz, LUNCH_AT, skip_days=2)
    session.add(
        Appointment(
            institution_id=institution_id,
            location_id=new_york.id,
            provider_id=provider_ids[0],
            unavailable=True,
            start_at=lunch,
            end_at=lunch + timedelta(hours=1),
            note="Lunch",
        )
    )
    await session.flush()


async def _revoked(db: Database, key: str) -> bool:
    async with db.read() as session:
        found = await tenancy_repo.api_key_by_digest(session, digest_key(key))
    return found is not None and found[0].revoked


async def load_demo(settings: Settings) -> DemoSummary:
    db = Database(settings.async_database_url)
    key = _demo_key(settings.var_dir)
    if await _revoked(db, key):
        # Revoked (`carebook keys revoke`): a new demo key, rather than print one that is dead.
        (settings.var_dir / "demo_api_key").unlink(missing_ok=True)
        key = _demo_key(settings.var_dir)

    async def work(session: AsyncSession) -> DemoSummary:
        # Runs racing on PostgreSQL would each see no demo yet and each create it.
        await tenancy_repo.serialize_setup(session, "carebook demo")
        institution = await tenancy_repo.institution_by_subdomain(session, DEMO_SUBDOMAIN)
        created = institution is None
        if institution is None:
            institution = await _build_clinic(session)
        iid = institution.id
        await _ensure_key(session, key, iid)
        await seed_availability(session, institution_id=iid)
        telehealth = await seed_telehealth(session, institution_id=iid)
        await _seed_appointments(session, iid)
        location = (
            await session.execute(
                select(Location).where(
                    Location.institution_id == iid, Location.tz == "America/New_York"
                )
            )
        ).scalar_one()
        provider = (
            (
                await session.execute(
                    select(Provider).where(Provider.institution_id == iid).order_by(Provider.id)
                )
            )
            .scalars()
            .first()
        )
        patient = (
            (
                await session.execute(
                    select(Patient).where(Patient.institution_id == iid).order_by(Patient.id)
                )
            )
            .scalars()
            .first()
        )
        appointment_type = (
            await session.execute(
                select(AppointmentType).where(
                    AppointmentType.institution_id == iid, AppointmentType.name == "Cleaning"
                )
            )
        ).scalar_one()
        assert provider is not None
        assert patient is not None
        return DemoSummary(
            api_key=key,
            institution_id=iid,
            location_id=location.id,
            provider_id=provider.id,
            patient_id=patient.id,
            appointment_type_id=appointment_type.id,
            created=created,
            telehealth=telehealth,
        )

    try:
        return await db.write(work)
    finally:
        await db.dispose()
