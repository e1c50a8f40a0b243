"""The Calendar API's slot search: one provider, one visit option, a range of dates.

Dates are counted in the provider's zone (``providers.tz``, else the zone of their first
location); each slot is given in the provider's zone and in the patient's (``patients.tz``, else
the slot's location's). Slots come from the same engine and rules as the NexHealth search.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from carebook.core.auth import Principal
from carebook.core.availability.service import MAX_DAYS, SlotQuery, search_slots
from carebook.core.errors import Forbidden, InvalidInput, NotFound
from carebook.db.repositories import availability as repo
from carebook.db.tables import AppointmentTypeMode, Patient, Provider


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
    if to_date < from_date:
        raise InvalidInput.one("ToDate", "ToDate must not be before FromDate.")
    days = (to_date - from_date).days + 1
    if days > MAX_DAYS:
        raise InvalidInput.one("ToDate", f"A search spans at most {MAX_DAYS} days.")
    institution = await repo.institution_by_guid(session, account_id)
    if institution is None or not principal.can_reach(institution.id):
        if principal.is_admin:
            raise _not_found("account", account_id, "AccountId")
        raise Forbidden(f"Authorization has been denied for account {account_id}.")
    iid = institution.id
    provider = await repo.by_guid(session, Provider, institution_id=iid, guid=provider_id)
    if provider is None:
        raise _not_found("provider", provider_id, "ProviderId")
    mode = await repo.by_guid(session, AppointmentTypeMode, institution_id=iid, guid=mode_id)
    if mode is None:
        raise _not_found("visit option", mode_id, "EncounterTypeModeDurationId")
    patient = None
    if patient_id is not None:
        patient = await repo.by_guid(session, Patient, institution_id=iid, guid=patient_id)
        if patient is None:
            raise _not_found("patient", patient_id, "PatientId")
    rows = await repo.active_hours(
        session, institution_id=iid, location_ids=None, provider_ids=[provider.id]
    )
    location_ids = sorted({row.hour.location_id for row in rows})
    home = await repo.provider_location_ids(session, institution_id=iid, provider_id=provider.id)
    zones = {
        loc.id: loc.tz
        for loc in await repo.locations(
            session, institution_id=iid, location_ids=[*home[:1], *location_ids]
        )
    }
    first_location = home[0] if home else (location_ids[0] if location_ids else None)
    provider_tz = provider.tz or (zones[first_location] if first_location else "UTC")
    if not location_ids:
        return []
    groups = await search_slots(
        session,
        institution_id=iid,
        query=SlotQuery(
            start_date=from_date,
            days=days,
            location_ids=location_ids,
            provider_ids=[provider.id],
            appointment_type_id=mode.appointment_type_id,
            minutes=mode.minutes,
            patient_id=patient.id if patient is not None else None,
            dates_zone=provider_tz,
        ),
    )
    guids = await repo.guids_of(
        session,
        institution_id=iid,
        location_ids=location_ids,
        operatory_ids=sorted(
            {s.operatory_id for g in groups for s in g.slots if s.operatory_id is not None}
        ),
    )
    found = [
        CalendarSlot(
            start=slot.start,
            end=slot.end,
            provider_tz=provider_tz,
            patient_tz=(patient.tz if patient is not None and patient.tz else group.location.tz),
            minutes=mode.minutes,
            provider_guid=provider.guid,
            location_guid=guids[("location", group.location.id)],
            operatory_guid=(
                guids[("operatory", slot.operatory_id)] if slot.operatory_id is not None else None
            ),
        )
        for group in groups
        for slot in group.slots
    ]
    return sorted(found, key=lambda s: (s.start, str(s.location_guid)))
