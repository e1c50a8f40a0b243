"""Managing working hours and location closures: validation and the records they point at."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from carebook.core.availability.rules import (
    DAY_NAMES,
    RECURRENCE_UNITS,
    HoursRule,
    Recurrence,
    day_index,
    parse_hhmm,
)
from carebook.core.errors import FieldError, InvalidInput, NotFound
from carebook.core.time import local_date, utc_now, zone
from carebook.db.repositories import availability as repo
from carebook.db.repositories.pagination import Page, PageRequest
from carebook.db.tables import AppointmentType, Location, LocationClosure, WorkingHour

RULE_FIELDS = ("days", "specific_date", "custom_recurrence")
# The rarest custom recurrence: every 366 units. In days that is a leap year's worth, so any
# rule up to yearly can be said in days, and a rarer one in weeks or months (366 weeks are seven
# years, 366 months thirty); a rule rarer still keeps no working hours. It also keeps ``num``
# well inside the column's 32-bit integer.
MAX_RECURRENCE_NUM = 366


@dataclass(frozen=True)
class RecurrenceInput:
    num: int
    unit: str
    ref: date


@dataclass(frozen=True)
class WorkingHourInput:
    """A working hour as a client sent it; ``given`` names the fields present (for PATCH)."""

    provider_id: int | None = None
    begin_time: str | None = None
    end_time: str | None = None
    operatory_id: int | None = None
    appointment_type_ids: list[int] | None = None
    days: list[str] | None = None
    specific_date: date | None = None
    custom_recurrence: RecurrenceInput | None = None
    active: bool | None = None
    given: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class WorkingHourView:
    hour: WorkingHour
    appointment_types: list[AppointmentType]
    location_tz: str

    @property
    def tz_offset(self) -> str:
        """The location's UTC offset now, as ``-0500``."""
        return utc_now().astimezone(zone(self.location_tz)).strftime("%z")


def rule_of(hour: WorkingHour) -> HoursRule | None:
    """The engine's view of a stored working hour (None if it cannot occur)."""
    begin, end = parse_hhmm(hour.begin_time), parse_hhmm(hour.end_time)
    if begin is None or end is None or end <= begin:
        return None
    recurrence = None
    if hour.recurrence_num and hour.recurrence_unit and hour.recurrence_ref:
        unit = next(u for u in RECURRENCE_UNITS if u == hour.recurrence_unit)
        recurrence = Recurrence(hour.recurrence_num, unit, hour.recurrence_ref)
    weekdays = frozenset(i for i in (day_index(d) for d in hour.days or []) if i is not None)
    return HoursRule(begin, end, weekdays, hour.specific_date, recurrence)


def _check_times(begin: str | None, end: str | None, prefix: str) -> list[FieldError]:
    errors = []
    begin_at = parse_hhmm(begin) if begin is not None else None
    end_at = parse_hhmm(end) if end is not None else None
    if begin_at is None:
        errors.append(FieldError(f"{prefix}.begin_time", "must be HH:MM (00:00 to 23:59)"))
    if end_at is None:
        errors.append(FieldError(f"{prefix}.end_time", "must be HH:MM (00:00 to 23:59)"))
    if begin_at is not None and end_at is not None and end_at <= begin_at:
        errors.append(FieldError(f"{prefix}.end_time", "must be after begin_time"))
    return errors


def _check_rule(data: WorkingHourInput, prefix: str, *, required: bool) -> list[FieldError]:
    chosen = [
        name
        for name, value in (
            ("days", data.days),
            ("specific_date", data.specific_date),
            ("custom_recurrence", data.custom_recurrence),
        )
        if value is not None
    ]
    if len(chosen) > 1:
        return [
            FieldError(
                f"{prefix}.{chosen[0]}",
                "give only one of days, specific_date or custom_recurrence",
            )
        ]
    if not chosen:
        if required:
            return [
                FieldError(f"{prefix}.days", "give one of days, specific_date or custom_recurrence")
            ]
        return []
    errors = []
    if data.days is not None:
        if not data.days:
            errors.append(FieldError(f"{prefix}.days", "must name at least one day"))
        for index, name in enumerate(data.days):
            if day_index(name) is None:
                errors.append(
                    FieldError(
                        f"{prefix}.days.{index}",
                        f"'{name}' is not a day; use one of {', '.join(DAY_NAMES)}",
                    )
                )
    if data.custom_recurrence is not None:
        if data.custom_recurrence.num < 1:
            errors.append(FieldError(f"{prefix}.custom_recurrence.num", "must be at least 1"))
        elif data.custom_recurrence.num > MAX_RECURRENCE_NUM:
            errors.append(
                FieldError(
                    f"{prefix}.custom_recurrence.num", f"must be at most {MAX_RECURRENCE_NUM}"
                )
            )
        if data.custom_recurrence.unit not in RECURRENCE_UNITS:
            errors.append(
                FieldError(f"{prefix}.custom_recurrence.unit", "must be day, week or month")
            )
    return errors


def _apply_rule(hour: WorkingHour, data: WorkingHourInput) -> None:
    """Set the one rule ``data`` gives, clearing the others."""
    hour.days = None
    hour.specific_date = None
    hour.recurrence_num = hour.recurrence_unit = hour.recurrence_ref = None
    if data.days is not None:
        indexes = sorted({i for i in (day_index(d) for d in data.days) if i is not None})
        hour.days = [DAY_NAMES[i] for i in indexes]
    elif data.specific_date is not None:
        hour.specific_date = data.specific_date
    elif data.custom_recurrence is not None:
        hour.recurrence_num = data.custom_recurrence.num
        hour.recurrence_unit = data.custom_recurrence.unit
        hour.recurrence_ref = data.custom_recurrence.ref


async def _location(session: AsyncSession, institution_id: int, location_id: int) -> Location:
    found = await repo.location(session, institution_id=institution_id, location_id=location_id)
    if found is None:
        raise NotFound("location", location_id, field="location_id")
    return found


async def _check_references(
    session: AsyncSession,
    *,
    institution_id: int,
    location_id: int,
    provider_id: int | None,
    operatory_id: int | None,
    type_ids: list[int] | None,
    prefix: str,
) -> list[AppointmentType] | None:
    """404 for a provider, operatory (at this location) or type not in the institution."""
    if provider_id is not None and not await repo.providers(
        session, institution_id=institution_id, provider_ids=[provider_id]
    ):
        raise NotFound("provider", provider_id, field=f"{prefix}.provider_id")
    if operatory_id is not None and not await repo.operatories(
        session,
        institution_id=institution_id,
        location_ids=[location_id],
        operatory_ids=[operatory_id],
    ):
        raise NotFound("operatory", operatory_id, field=f"{prefix}.operatory_id")
    if type_ids is None:
        return None
    found = await repo.appointment_types(session, institution_id=institution_id, type_ids=type_ids)
    missing = sorted(set(type_ids) - {t.id for t in found})
    if missing:
        raise NotFound("appointment type", missing[0], field=f"{prefix}.appointment_type_ids")
    return found


async def _view(session: AsyncSession, hour: WorkingHour, tz: str) -> WorkingHourView:
    types = await repo.types_of_working_hours(
        session, institution_id=hour.institution_id, working_hour_ids=[hour.id]
    )
    return WorkingHourView(hour, types.get(hour.id, []), tz)


async def create_working_hour(
    session: AsyncSession,
    *,
    institution_id: int,
    location_id: int,
    data: WorkingHourInput,
    prefix: str = "working_hour",
) -> WorkingHourView:
    errors = []
    if data.provider_id is None:
        errors.append(FieldError(f"{prefix}.provider_id", "is required"))
    errors += _check_times(data.begin_time, data.end_time, prefix)
    errors += _check_rule(data, prefix, required=True)
    if errors:
        raise InvalidInput(errors)
    location = await _location(session, institution_id, location_id)
    await _check_references(
        session,
        institution_id=institution_id,
        location_id=location_id,
        provider_id=data.provider_id,
        operatory_id=data.operatory_id,
        type_ids=data.appointment_type_ids,
        prefix=prefix,
    )
    assert data.provider_id is not None
    assert data.begin_time is not None
    assert data.end_time is not None
    hour = WorkingHour(
        institution_id=institution_id,
        location_id=location_id,
        provider_id=data.provider_id,
        operatory_id=data.operatory_id,
        begin_time=data.begin_time,
        end_time=data.end_time,
        active=True if data.active is None else data.active,
    )
    _apply_rule(hour, data)
    await repo.add_working_hour(session, hour, type_ids=data.appointment_type_ids or [])
    return await _view(session, hour, location.tz)


async def _owned_hour(
    session: AsyncSession, institution_id: int, working_hour_id: int
) -> tuple[WorkingHour, Location]:
    hour = await repo.working_hour(
        session, institution_id=institution_id, working_hour_id=working_hour_id
    )
    if hour is None:
        raise NotFound("working hour", working_hour_id)
    return hour, await _location(session, institution_id, hour.location_id)


async def get_working_hour(
    session: AsyncSession, *, institution_id: int, working_hour_id: int
) -> WorkingHourView:
    hour, location = await _owned_hour(session, institution_id, working_hour_id)
    return await _view(session, hour, location.tz)


async def update_working_hour(
    session: AsyncSession,
    *,
    institution_id: int,
    working_hour_id: int,
    data: WorkingHourInput,
    prefix: str = "working_hour",
) -> WorkingHourView:
    hour, location = await _owned_hour(session, institution_id, working_hour_id)
    given = data.given
    errors = []
    if "provider_id" in given and data.provider_id is None:
        errors.append(FieldError(f"{prefix}.provider_id", "must not be null"))
    if "active" in given and data.active is None:
        errors.append(FieldError(f"{prefix}.active", "must not be null"))
    errors += _check_times(
        data.begin_time if "begin_time" in given else hour.begin_time,
        data.end_time if "end_time" in given else hour.end_time,
        prefix,
    )
    errors += _check_rule(data, prefix, required=False)
    if errors:
        raise InvalidInput(errors)
    await _check_references(
        session,
        institution_id=institution_id,
        location_id=hour.location_id,
        provider_id=data.provider_id if "provider_id" in given else None,
        operatory_id=data.operatory_id if "operatory_id" in given else None,
        type_ids=data.appointment_type_ids if "appointment_type_ids" in given else None,
        prefix=prefix,
    )
    if data.provider_id is not None:
        hour.provider_id = data.provider_id
    if data.begin_time is not None:
        hour.begin_time = data.begin_time
    if data.end_time is not None:
        hour.end_time = data.end_time
    if "operatory_id" in given:
        hour.operatory_id = data.operatory_id
    if data.active is not None:
        hour.active = data.active
    if any(
        getattr(data, name) is not None for name in RULE_FIELDS
    ):  # a new rule replaces the old one
        _apply_rule(hour, data)
    await session.flush()
    if "appointment_type_ids" in given:
        await repo.replace_working_hour_types(
            session,
            institution_id=institution_id,
            working_hour_id=hour.id,
            type_ids=data.appointment_type_ids or [],
        )
    return await _view(session, hour, location.tz)


async def delete_working_hour(
    session: AsyncSession, *, institution_id: int, working_hour_id: int
) -> None:
    if not await repo.delete_working_hour(
        session, institution_id=institution_id, working_hour_id=working_hour_id
    ):
        raise NotFound("working hour", working_hour_id)


async def list_working_hours(
    session: AsyncSession,
    *,
    institution_id: int,
    location_id: int,
    provider_id: int | None,
    operatory_id: int | None,
    active: bool | None,
    ignore_past_dates: bool,
    page: PageRequest,
) -> Page[WorkingHourView]:
    location = await _location(session, institution_id, location_id)
    today = local_date(utc_now(), zone(location.tz))
    rows = await repo.page_working_hours(
        session,
        page,
        institution_id=institution_id,
        location_id=location_id,
        provider_id=provider_id,
        operatory_id=operatory_id,
        active=active,
        ends_on_or_after=today if ignore_past_dates else None,
    )
    types = await repo.types_of_working_hours(
        session, institution_id=institution_id, working_hour_ids=[h.id for h in rows.items]
    )
    views = [WorkingHourView(h, types.get(h.id, []), location.tz) for h in rows.items]
    return Page(
        items=views,
        total=rows.total,
        has_previous_page=rows.has_previous_page,
        has_next_page=rows.has_next_page,
        start_cursor=rows.start_cursor,
        end_cursor=rows.end_cursor,
    )


# --- closures -----------------------------------------------------------------------------------


async def create_closure(
    session: AsyncSession,
    *,
    institution_id: int,
    location_id: int,
    start_date: date,
    end_date: date | None,
    reason: str | None,
) -> LocationClosure:
    end = start_date if end_date is None else end_date
    if end < start_date:
        raise InvalidInput.one("closure.end_date", "must not be before start_date")
    await _location(session, institution_id, location_id)
    return await repo.add_closure(
        session,
        LocationClosure(
            institution_id=institution_id,
            location_id=location_id,
            start_date=start_date,
            end_date=end,
            reason=reason,
        ),
    )


async def list_closures(
    session: AsyncSession, *, institution_id: int, location_id: int, page: PageRequest
) -> Page[LocationClosure]:
    await _location(session, institution_id, location_id)
    return await repo.page_closures(
        session, page, institution_id=institution_id, location_id=location_id
    )


async def delete_closure(
    session: AsyncSession, *, institution_id: int, location_id: int, closure_id: int
) -> None:
    await _location(session, institution_id, location_id)
    if not await repo.delete_closure(
        session, institution_id=institution_id, location_id=location_id, closure_id=closure_id
    ):
        raise NotFound("closure", closure_id)
