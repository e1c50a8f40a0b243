"""The Calendar API's slot search: one provider, one visit option, a range of dates.

``PatientAppointmentPost`` names no facility: it books at the visit option's type's location for
a location-scoped type, else at the provider's first active location (lowest id). The search
offers that facility only, the one a booking of the same provider and visit option would take,
so every slot offered is booked where it was offered. Both read it with the booking's own
look-up (``telehealth.calendar_context_query``: one statement, so the two cannot drift); a
provider with no such facility is offered nothing.

Dates are counted in the provider's zone (``providers.tz``, else the facility's, as a booking
reads a time without an offset: ``telehealth.provider_zone``); each slot is given in the
provider's zone and in the patient's, as a booking of the patient gives it
(``telehealth.patient_zone``: their own, else that of the portal user who books for them, else
the facility's; without ``PatientId``, the facility's). ``FromDate`` and ``ToDate`` lie in the
years 1900 to 8999 (``core.time.in_range``, as for the NexHealth search): the engine computes
zones, days either side and months of look-ahead around them, and every slot it can offer is
inside the years a booking takes. Slots come from the same engine and rules as the NexHealth
search, and as many at most (``service.MAX_SLOTS``: a 400 on ``ToDate``). A visit option whose
type was deleted is not found, as for a booking (``telehealth.type_of_visit_option``), and an
inactive ``PatientId`` is refused as a booking refuses it (400: "The patient is inactive.").
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from carebook.core.auth import Principal
from carebook.core.availability.service import (
    MAX_DAYS,
    MAX_SLOTS,
    SlotQuery,
    TooManySlots,
    search_slots,
)
from carebook.core.errors import FieldError, Forbidden, InvalidInput, NotFound
from carebook.core.telehealth import (
    patient_zone,
    portal_user_of,
    provider_zone,
    type_of_visit_option,
)
from carebook.core.time import OUT_OF_RANGE, in_range
from carebook.db.repositories import availability as repo
from carebook.db.repositories import telehealth as telehealth_repo


@dataclass(frozen=True)
class CalendarSlot:
    start: datetime
    end: datetime
    provider_tz: str
    patient_tz: str
    minutes: int
    provider_guid: uuid.UUID
    location_guid: uuid.UUID
    operatory_guid: uuid.UUID | None


def _not_found(what: str, guid: uuid.UUID, field: str) -> NotFound:
    error = NotFound(what, guid, field=field)
    error.message = f"No {what} with ID {guid} was found in this account."
    return error


def _check_dates(from_date: date, to_date: date) -> int:
    """The number of dates searched; raises for dates out of range or a range too long."""
    errors = [
        FieldError(name, f"{name} {OUT_OF_RANGE}.")
        for name, value in (("FromDate", from_date), ("ToDate", to_date))
        if not in_range(value)
    ]
    if errors:
        raise InvalidInput(errors)
    if to_date < from_date:
        raise InvalidInput.one("ToDate", "ToDate must not be before FromDate.")
    days = (to_date - from_date).days + 1
    if days > MAX_DAYS:
        raise InvalidInput.one("ToDate", f"A search spans at most {MAX_DAYS} days.")
    return days


async def provider_slots(
    session: AsyncSession,
    *,
    principal: Principal,
    account_id: uuid.UUID,
    provider_id: uuid.UUID,
    mode_id: uuid.UUID,
    from_date: date,
    to_date: date,
    patient_id: uuid.UUID | None,
) -> list[CalendarSlot]:
    days = _check_dates(from_date, to_date)
    # The booking's look-up, for a booking of this provider and visit option (no user): it
    # reads the records by GUID in the account and the facility the booking would take.
    found = await telehealth_repo.calendar_context(
        session,
        telehealth_repo.CalendarLookup(
            account_id=account_id,
            user_id=telehealth_repo.NO_GUID,
            provider_id=provider_id,
            patient_id=patient_id,
            parent_id=None,
            mode_id=mode_id,
            type_id=None,
            speciality_id=None,
            service_id=None,
            referred_id=None,
            reason_ids=(),
        ),
    )
    if found is None or not principal.can_reach(found.institution.id):
        if principal.is_admin:
            raise _not_found("account", account_id, "AccountId")
        raise Forbidden(f"Authorization has been denied for account {account_id}.")
    iid = found.institution.id
    provider = found.provider
    if provider is None:
        raise _not_found("provider", provider_id, "ProviderId")
    mode = found.mode
    if mode is None:
        raise _not_found("visit option", mode_id, "EncounterTypeModeDurationId")
    type_of_visit_option(found, mode)  # a visit option of a deleted type is gone with it
    patient = None
    if patient_id is not None:
        patient = found.patient
        if patient is None:
            raise _not_found("patient", patient_id, "PatientId")
        if patient.inactive:  # as the booking refuses them (``telehealth._patients``)
            raise InvalidInput.one("PatientId", "The patient is inactive.")
    facility = found.location
    if facility is None:
        return []  # a booking would find no active facility: there is nothing to offer
    provider_tz = provider_zone(provider, facility)
    try:
        groups = await search_slots(
            session,
            institution_id=iid,
            query=SlotQuery(
                start_date=from_date,
                days=days,
                location_ids=[facility.id],
                provider_ids=[provider.id],
                appointment_type_id=mode.appointment_type_id,
                minutes=mode.minutes,
                patient_id=patient.id if patient is not None else None,
                dates_zone=provider_tz,
            ),
        )
    except TooManySlots as error:
        # One provider at one facility, slots as long as the visit option: only the dates
        # narrow this search.
        raise InvalidInput.one(
            "ToDate",
            f"The search finds more than {MAX_SLOTS} slots, the most one search returns: "
            "search fewer days (an earlier ToDate).",
        ) from error
    operatories = await repo.operatory_guids(
        session,
        institution_id=iid,
        operatory_ids=sorted(
            {s.operatory_id for g in groups for s in g.slots if s.operatory_id is not None}
        ),
    )
    patient_tz = facility.tz
    if patient is not None:
        user = None
        if not patient.tz:  # only then is the user's zone read
            user = await portal_user_of(session, institution_id=iid, patient=patient)
        patient_tz = patient_zone(patient, user, facility)
    slots = [
        CalendarSlot(
            start=slot.start,
            end=slot.end,
            provider_tz=provider_tz,
            patient_tz=patient_tz,
            minutes=mode.minutes,
            provider_guid=provider.guid,
            location_guid=facility.guid,
            operatory_guid=(
                operatories[slot.operatory_id] if slot.operatory_id is not None else None
            ),
        )
        for group in groups
        for slot in group.slots
    ]
    return sorted(slots, key=lambda s: s.start)
