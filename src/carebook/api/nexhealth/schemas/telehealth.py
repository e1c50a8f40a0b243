"""The Calendar API's catalogue in and out: specialties, services, visit reasons, portal users
(with their patients) and the visit options of appointment types. Every record shows the
``guid`` the Calendar API names it by."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, Field, PlainSerializer

from carebook.api.nexhealth.schemas.common import (
    Email,
    Id,
    IsoDate,
    RequestModel,
    Str40,
    Str50,
    Str64,
    Str100,
    Str200,
    UtcInstant,
)
from carebook.core.telehealth import MAX_AMOUNT, MODE_NAMES
from carebook.core.telehealth_catalog import (
    ModeRecord,
    PersonFields,
    PortalUserFields,
    PortalUserRecord,
    ServiceFields,
)
from carebook.db.tables import Patient, Service, Specialty, VisitReason

Gender = Literal["Male", "Female", "Other"]
Money = Annotated[
    Decimal,
    Field(ge=0, le=MAX_AMOUNT, decimal_places=2, strict=False),
    PlainSerializer(lambda v: f"{v:.2f}", return_type=str, when_used="json"),
]


# Specialties -----------------------------------------------------------------------------------


class SpecialtyIn(RequestModel):
    name: Str200
    code: Str50 | None = None


class SpecialtyCreate(RequestModel):
    specialty: SpecialtyIn


class SpecialtyOut(BaseModel):
    id: int
    guid: str = Field(description="The Calendar API's SpecialityId.")
    name: str
    code: str | None
    created_at: UtcInstant
    updated_at: UtcInstant


def specialty_out(row: Specialty) -> SpecialtyOut:
    return SpecialtyOut(
        id=row.id,
        guid=str(row.guid),
        name=row.name,
        code=row.code,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


# Services --------------------------------------------------------------------------------------


class ServiceIn(RequestModel):
    name: Str200
    price: Money | None = Field(default=None, description="As a JSON number or string.")
    currency: Str40 = "USD"
    specialty_id: Id | None = None

    def to_core(self) -> ServiceFields:
        return ServiceFields(
            name=self.name,
            price=self.price,
            currency=self.currency,
            specialty_id=self.specialty_id,
        )


class ServiceCreate(RequestModel):
    service: ServiceIn


class ServiceOut(BaseModel):
    id: int
    guid: str = Field(description="The Calendar API's ServiceId.")
    name: str
    price: str | None
    currency: str
    specialty_id: int | None
    created_at: UtcInstant
    updated_at: UtcInstant


def service_out(row: Service) -> ServiceOut:
    return ServiceOut(
        id=row.id,
        guid=str(row.guid),
        name=row.name,
        price=f"{row.price:.2f}" if row.price is not None else None,
        currency=row.currency,
        specialty_id=row.specialty_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


# Visit reasons ---------------------------------------------------------------------------------


class VisitReasonIn(RequestModel):
    name: Str200
    code: Str50 | None = None


class VisitReasonCreate(RequestModel):
    visit_reason: VisitReasonIn


class VisitReasonOut(BaseModel):
    id: int
    guid: str = Field(description="The Calendar API's Reasons[].ReasonId.")
    name: str
    code: str | None
    created_at: UtcInstant
    updated_at: UtcInstant


def visit_reason_out(row: VisitReason) -> VisitReasonOut:
    return VisitReasonOut(
        id=row.id,
        guid=str(row.guid),
        name=row.name,
        code=row.code,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


# Visit options (modes) of appointment types ----------------------------------------------------


class ModeIn(RequestModel):
    mode_id: Literal[1, 2, 3] = Field(description="1 in person, 2 video, 3 phone.")
    minutes: int = Field(ge=1, le=24 * 60)


class ModeCreate(RequestModel):
    mode: ModeIn


class ModeOut(BaseModel):
    id: int
    guid: str = Field(description="The Calendar API's EncounterTypeModeDurationId.")
    appointment_type_id: int
    appointment_type_guid: str = Field(description="The Calendar API's EncounterTypeId.")
    mode_id: int = Field(description="The Calendar API's EncounterTypeModeId.")
    mode: str = Field(examples=["Video"])
    minutes: int
    created_at: UtcInstant
    updated_at: UtcInstant


def mode_out(found: ModeRecord) -> ModeOut:
    mode = found.mode
    return ModeOut(
        id=mode.id,
        guid=str(mode.guid),
        appointment_type_id=found.appointment_type.id,
        appointment_type_guid=str(found.appointment_type.guid),
        mode_id=mode.mode_id,
        mode=MODE_NAMES.get(mode.mode_id, str(mode.mode_id)),
        minutes=mode.minutes,
        created_at=mode.created_at,
        updated_at=mode.updated_at,
    )


# Portal users and their patients ---------------------------------------------------------------


class PersonIn(RequestModel):
    first_name: Str100 | None = None
    last_name: Str100 | None = None
    date_of_birth: IsoDate | None = None
    gender: Gender | None = None
    email: Email | None = None
    phone_number: Str40 | None = None
    tz: Str64 | None = Field(default=None, description="IANA zone (Calendar PatientTimeZone).")
    location_id: Id | None = None

    def to_core(self) -> PersonFields:
        return PersonFields(
            first_name=self.first_name,
            last_name=self.last_name,
            date_of_birth=self.date_of_birth,
            gender=self.gender,
            email=self.email,
            phone_number=self.phone_number,
            tz=self.tz,
            location_id=self.location_id,
        )


class DependantIn(PersonIn):
    first_name: Str100
    last_name: Str100
    date_of_birth: IsoDate


class DependantCreate(RequestModel):
    patient: DependantIn


class PortalUserIn(RequestModel):
    email: Email
    first_name: Str100
    last_name: Str100
    tz: Str64 | None = Field(default=None, description="IANA zone of the user.")
    self_patient_id: Id | None = Field(
        default=None, description="An existing patient to link as the user's own."
    )
    self_patient: PersonIn | None = Field(
        default=None,
        description="The user's own patient, created (names and email default to the user's).",
    )

    def to_core(self) -> PortalUserFields:
        return PortalUserFields(
            email=self.email,
            first_name=self.first_name,
            last_name=self.last_name,
            tz=self.tz,
            self_patient_id=self.self_patient_id,
            self_patient=self.self_patient.to_core() if self.self_patient is not None else None,
        )


class PortalUserCreate(RequestModel):
    portal_user: PortalUserIn


class OwnedPatientOut(BaseModel):
    id: int
    guid: str = Field(description="The Calendar API's PatientId (or ParentId for the user's own).")
    first_name: str
    last_name: str
    date_of_birth: str | None
    gender: str | None
    tz: str | None
    guarantor_id: int | None
    is_self: bool = Field(description="The user's own patient record.")


class PortalUserOut(BaseModel):
    id: int
    guid: str = Field(description="The Calendar API's UserId.")
    email: str
    first_name: str
    last_name: str
    tz: str | None
    self_patient_id: int | None
    self_patient_guid: str | None
    patients: list[OwnedPatientOut]
    created_at: UtcInstant
    updated_at: UtcInstant


def _owned(patient: Patient, self_id: int | None) -> OwnedPatientOut:
    return OwnedPatientOut(
        id=patient.id,
        guid=str(patient.guid),
        first_name=patient.first_name,
        last_name=patient.last_name,
        date_of_birth=patient.date_of_birth.isoformat() if patient.date_of_birth else None,
        gender=patient.gender,
        tz=patient.tz,
        guarantor_id=patient.guarantor_id,
        is_self=patient.id == self_id,
    )


def portal_user_out(found: PortalUserRecord) -> PortalUserOut:
    user = found.user
    own = next((p for p in found.patients if p.id == user.self_patient_id), None)
    return PortalUserOut(
        id=user.id,
        guid=str(user.guid),
        email=user.email,
        first_name=user.first_name,
        last_name=user.last_name,
        tz=user.tz,
        self_patient_id=user.self_patient_id,
        self_patient_guid=str(own.guid) if own is not None else None,
        patients=[_owned(p, user.self_patient_id) for p in found.patients],
        created_at=user.created_at,
        updated_at=user.updated_at,
    )
