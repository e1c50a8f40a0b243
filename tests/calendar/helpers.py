"""A telehealth clinic whose records carry the GUIDs of the reference's sample request."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from carebook.db.tables import (
    Appointment,
    AppointmentType,
    AppointmentTypeMode,
    Institution,
    Patient,
    PortalUser,
    Provider,
    Service,
    Specialty,
    VisitReason,
)
from tests.support import Api, Clinic

REFERENCE = Path(__file__).with_name("calendar-patient-appointment-post.txt")
URL = "/api/Calendar/PatientAppointmentPost"

# The reference's sample request, verbatim.
SAMPLE_TEXT = """{
"EncounterTypeId": "8baaaf69-e51c-4683-b8c5-328c7fb72dfb",
"EncounterTypeModeDurationId": "23afb820-f1cd-499f-be69-9d4871dedd11",
"ProviderId": "a2a35519-6b6b-4551-a0de-b65d0668d3e7",
"UserId": "7e8c9f05-e295-482c-802e-ab1463a9f415",
"PatientId": "971f7309-170a-42d4-87bc-d1124ec48065",
"SpecialityId": "6ab37218-5c44-4a64-b69d-6c2c9005617b",
"AppointmentOn": "2026-02-03T21:03:34.4822474-06:00",
"SecondaryAppointmentOn": "2026-02-03T21:03:34.4822474-06:00",
"Reason": "sample string 3",
"Note": "sample string 4",
"ParentId": "d6c27ba1-ef49-45cc-8352-f40f21f3497e",
"ReferredParentId": "cf8c1b22-a9dd-4674-943f-2e2a513a755c",
"PaidAmount": 5.0,
"AccountId": "75f1e193-e6ed-4a68-8719-1619a705e538",
"ServiceId": "4d34970b-d9b2-407a-ab38-bf98d352f051",
"MethodId": 1,
"IsCustomFormFlow": "sample string 7",
"DocIds": "sample string 8",
"Reasons": [
{
"ReasonId": "41f6b1e8-a80f-406b-8f79-1b774e4306a2"
},
{
"ReasonId": "41f6b1e8-a80f-406b-8f79-1b774e4306a2"
}
]
}"""

ENCOUNTER_TYPE = "8baaaf69-e51c-4683-b8c5-328c7fb72dfb"
MODE = "23afb820-f1cd-499f-be69-9d4871dedd11"
PROVIDER = "a2a35519-6b6b-4551-a0de-b65d0668d3e7"
USER = "7e8c9f05-e295-482c-802e-ab1463a9f415"
PATIENT = "971f7309-170a-42d4-87bc-d1124ec48065"  # the dependant
SPECIALITY = "6ab37218-5c44-4a64-b69d-6c2c9005617b"
PARENT = "d6c27ba1-ef49-45cc-8352-f40f21f3497e"  # the user's own patient, the guardian
REFERRED = "cf8c1b22-a9dd-4674-943f-2e2a513a755c"
ACCOUNT = "75f1e193-e6ed-4a68-8719-1619a705e538"
SERVICE = "4d34970b-d9b2-407a-ab38-bf98d352f051"
REASON = "41f6b1e8-a80f-406b-8f79-1b774e4306a2"

DOCTOR_TZ = "America/Chicago"
PATIENT_TZ = "America/Denver"


@dataclass
class Tele:
    """The clinic, its Calendar GUIDs and the database ids behind them."""

    clinic: Clinic
    account: str
    user: str
    guardian: str  # the user's own patient
    dependant: str
    provider: str
    other_provider: str
    encounter_type: str
    mode: str  # video, 15 minutes
    phone_mode: str  # phone, 45 minutes
    speciality: str
    service: str
    reason: str
    referred: str
    ids: dict[str, int]

    @property
    def auth(self) -> dict[str, str]:
        return self.clinic.auth


async def telehealth_clinic(
    api: Api, subdomain: str = "acme", *, sample_guids: bool = True, providers: int = 3
) -> Tele:
    """``api.clinic()`` plus the Calendar records; with ``sample_guids`` the reference's GUIDs."""
    clinic = await api.clinic(subdomain, providers=providers)

    def guid(sample: str) -> uuid.UUID:
        return uuid.UUID(sample) if sample_guids else uuid.uuid4()

    async def build(session: AsyncSession) -> dict[str, Any]:
        iid = clinic.institution_id
        account = guid(ACCOUNT)
        await session.execute(update(Institution).where(Institution.id == iid).values(guid=account))
        specialty = Specialty(institution_id=iid, guid=guid(SPECIALITY), name="Family", code="FM")
        session.add(specialty)
        await session.flush()
        provider_guid = guid(PROVIDER)
        await session.execute(
            update(Provider)
            .where(Provider.id == clinic.provider_ids[0])
            .values(guid=provider_guid, tz=DOCTOR_TZ, specialty_id=specialty.id)
        )
        other = uuid.uuid4()
        await session.execute(
            update(Provider).where(Provider.id == clinic.provider_ids[1]).values(guid=other)
        )
        service = Service(
            institution_id=iid, guid=guid(SERVICE), name="Video visit", price=49, currency="USD"
        )
        reason = VisitReason(institution_id=iid, guid=guid(REASON), name="Cough", code="R05")
        consult = AppointmentType(
            institution_id=iid, guid=guid(ENCOUNTER_TYPE), name="Telehealth consult", minutes=30
        )
        user = PortalUser(
            institution_id=iid,
            guid=guid(USER),
            email="maria@example.test",
            first_name="Maria",
            last_name="Garcia",
            tz=PATIENT_TZ,
        )
        session.add_all([service, reason, consult, user])
        await session.flush()
        video = AppointmentTypeMode(
            institution_id=iid,
            guid=guid(MODE),
            appointment_type_id=consult.id,
            mode_id=2,
            minutes=15,
        )
        phone = AppointmentTypeMode(
            institution_id=iid, appointment_type_id=consult.id, mode_id=3, minutes=45
        )
        guardian = Patient(
            institution_id=iid,
            guid=guid(PARENT),
            location_id=clinic.location_id,
            first_name="Maria",
            last_name="Garcia",
            email="maria@example.test",
            date_of_birth=date(1985, 4, 12),
            gender="Female",
            phone_number="2125550111",
            bio={"date_of_birth": "1985-04-12"},
            portal_user_id=user.id,
            tz=PATIENT_TZ,
        )
        session.add_all([video, phone, guardian])
        await session.flush()
        user.self_patient_id = guardian.id
        dependant = Patient(
            institution_id=iid,
            guid=guid(PATIENT),
            location_id=clinic.location_id,
            first_name="Lucia",
            last_name="Garcia",
            date_of_birth=date(2016, 9, 1),
            gender="Female",
            bio={"date_of_birth": "2016-09-01", "gender": "Female"},
            guarantor_id=guardian.id,
            portal_user_id=user.id,
        )
        session.add(dependant)
        await session.flush()
        earlier = datetime.now(UTC).replace(microsecond=0) - timedelta(days=30)
        referred = Appointment(
            institution_id=iid,
            guid=guid(REFERRED),
            location_id=clinic.location_id,
            provider_id=clinic.provider_ids[0],
            patient_id=dependant.id,
            start_at=earlier,
            end_at=earlier + timedelta(minutes=30),
            booked_via="calendar",
        )
        session.add(referred)
        await session.flush()
        return {
            "account": str(account),
            "user": str(user.guid),
            "guardian": str(guardian.guid),
            "dependant": str(dependant.guid),
            "provider": str(provider_guid),
            "other_provider": str(other),
            "encounter_type": str(consult.guid),
            "mode": str(video.guid),
            "phone_mode": str(phone.guid),
            "speciality": str(specialty.guid),
            "service": str(service.guid),
            "reason": str(reason.guid),
            "referred": str(referred.guid),
            "ids": {
                "user": user.id,
                "guardian": guardian.id,
                "dependant": dependant.id,
                "consult": consult.id,
                "video": video.id,
                "phone": phone.id,
                "specialty": specialty.id,
                "service": service.id,
                "reason": reason.id,
                "referred": referred.id,
            },
        }

    made = await api.db.write(build)
    return Tele(clinic=clinic, **made)


def future_day(days: int = 10) -> date:
    return datetime.now(UTC).date() + timedelta(days=days)


def sample_text(day: date | None = None) -> str:
    """The sample, verbatim, with its dates moved to ``day`` when given."""
    if day is None:
        return SAMPLE_TEXT
    return SAMPLE_TEXT.replace("2026-02-03", day.isoformat())


def body(tele: Tele, start: str, **fields: Any) -> dict[str, Any]:
    """A minimal booking of the user's own patient with the first provider, video 15 minutes."""
    out: dict[str, Any] = {
        "AccountId": tele.account,
        "UserId": tele.user,
        "ProviderId": tele.provider,
        "EncounterTypeId": tele.encounter_type,
        "EncounterTypeModeDurationId": tele.mode,
        "AppointmentOn": start,
        "Reason": "Cough",
    }
    out.update(fields)
    return {k: v for k, v in out.items() if v is not None}


async def post(
    api: Api, tele: Tele, payload: Any, *, url: str = URL, **kwargs: Any
) -> httpx.Response:
    headers = dict(tele.auth)
    headers.update(kwargs.pop("headers", {}))
    if isinstance(payload, str | bytes):
        headers.setdefault("Content-Type", "application/json")
        return await api.client.post(url, content=payload, headers=headers, **kwargs)
    return await api.client.post(url, json=payload, headers=headers, **kwargs)


def model_state(response: httpx.Response) -> dict[str, list[str]]:
    assert response.status_code == 400, response.text
    data = response.json()
    assert list(data) == ["Message", "ModelState"], data
    assert data["Message"] == "The request is invalid."
    state: dict[str, list[str]] = data["ModelState"]
    return state
