"""All tables. Every tenant-owned row carries ``institution_id``; see CONTRIBUTING.md."""

from carebook.db.tables.appointments import (
    Appointment,
    AppointmentDescriptorLink,
    AppointmentReason,
    PatientNotification,
    Procedure,
)
from carebook.db.tables.availability import LocationClosure, WorkingHour, WorkingHourAppointmentType
from carebook.db.tables.clinic import (
    AppointmentDescriptor,
    AppointmentType,
    AppointmentTypeDescriptor,
    AppointmentTypeMode,
    Location,
    Operatory,
    Patient,
    PortalUser,
    Provider,
    ProviderLocation,
    Service,
    Specialty,
    VisitReason,
)
from carebook.db.tables.tenancy import ApiKey, ApiKeyInstitution, Institution, ReferenceVersion

__all__ = [
    "ApiKey",
    "ApiKeyInstitution",
    "Appointment",
    "AppointmentDescriptor",
    "AppointmentDescriptorLink",
    "AppointmentReason",
    "AppointmentType",
    "AppointmentTypeDescriptor",
    "AppointmentTypeMode",
    "Institution",
    "Location",
    "LocationClosure",
    "Operatory",
    "Patient",
    "PatientNotification",
    "PortalUser",
    "Procedure",
    "Provider",
    "ProviderLocation",
    "ReferenceVersion",
    "Service",
    "Specialty",
    "VisitReason",
    "WorkingHour",
    "WorkingHourAppointmentType",
]
