"""Working hours (v3) / availabilities (v2), closures, and slot answers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, tzinfo
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from carebook.api.nexhealth.schemas.common import Id, IsoDate, Str200, UtcInstant, no_nul
from carebook.core.availability.hours import (
    MAX_RECURRENCE_NUM,
    RecurrenceInput,
    WorkingHourInput,
    WorkingHourView,
)
from carebook.core.availability.slots import Slot
from carebook.db.tables import LocationClosure

HHMM = Annotated[str, Field(max_length=5, examples=["09:00"]), AfterValidator(no_nul)]
DayName = Annotated[str, Field(max_length=10, examples=["Monday"]), AfterValidator(no_nul)]

# --- working hours in ---------------------------------------------------------------------------


class CustomRecurrenceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    num: int = Field(description=f"Every `num` units, from 1 to {MAX_RECURRENCE_NUM}.")
    unit: Annotated[str, AfterValidator(no_nul)] = Field(
        description="day, week or month", examples=["week"]
    )
    ref: IsoDate = Field(description="The first date (YYYY-MM-DD); counting starts here.")


class _WorkingHourFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    operatory_id: Id | None = None
    appointment_type_ids: list[Id] | None = Field(default=None, max_length=100)
    days: list[DayName] | None = Field(
        default=None, max_length=7, description="Weekly: English day names."
    )
    specific_date: IsoDate | None = Field(default=None, description="One date only.")
    custom_recurrence: CustomRecurrenceIn | None = None
    active: bool | None = None

    def to_input(self, *, extra_type_ids: list[int] | None = None) -> WorkingHourInput:
        given = set(self.model_fields_set)
        type_ids = self.appointment_type_ids
        if extra_type_ids is not None:
            given.add("appointment_type_ids")
            type_ids = [*(type_ids or []), *extra_type_ids]
        recurrence = self.custom_recurrence
        return WorkingHourInput(
            provider_id=getattr(self, "provider_id", None),
            begin_time=getattr(self, "begin_time", None),
            end_time=getattr(self, "end_time", None),
            operatory_id=self.operatory_id,
            appointment_type_ids=type_ids,
            days=self.days,
            specific_date=self.specific_date,
            custom_recurrence=(
                RecurrenceInput(recurrence.num, recurrence.unit, recurrence.ref)
                if recurrence is not None
                else None
            ),
            active=self.active,
            given=frozenset(given),
        )


class WorkingHourCreateFields(_WorkingHourFields):
    provider_id: Id
    begin_time: HHMM = Field(description="Local wall-clock start, HH:MM.")
    end_time: HHMM = Field(description="Local wall-clock end, HH:MM, after begin_time.")


class WorkingHourPatchFields(_WorkingHourFields):
    provider_id: Id | None = None
    begin_time: HHMM | None = None
    end_time: HHMM | None = None


class _Categories(BaseModel):
    """v2 named appointment types "appointment categories"."""

    appointment_category_ids: list[Id] | None = Field(default=None, max_length=100)


class AvailabilityCreateFields(WorkingHourCreateFields, _Categories):
    pass


class AvailabilityPatchFields(WorkingHourPatchFields, _Categories):
    pass


class WorkingHourCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    working_hour: WorkingHourCreateFields


class WorkingHourPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    working_hour: WorkingHourPatchFields


class AvailabilityCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    availability: AvailabilityCreateFields


class AvailabilityPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    availability: AvailabilityPatchFields


# --- working hours out --------------------------------------------------------------------------


class AppointmentTypeRef(BaseModel):
    id: int
    name: str
    minutes: int


class CustomRecurrenceOut(BaseModel):
    num: int
    unit: str
    ref: date


class WorkingHourOut(BaseModel):
    id: int
    provider_id: int
    location_id: int
    operatory_id: int | None
    begin_time: str
    end_time: str
    days: list[str] | None
    specific_date: date | None
    custom_recurrence: CustomRecurrenceOut | None
    tz_offset: str = Field(description="The location's UTC offset now, e.g. -0500.")
    active: bool
    appointment_types: list[AppointmentTypeRef]

    @classmethod
    def of(cls, view: WorkingHourView) -> WorkingHourOut:
        hour = view.hour
        recurrence = None
        if hour.recurrence_num and hour.recurrence_unit and hour.recurrence_ref:
            recurrence = CustomRecurrenceOut(
                num=hour.recurrence_num, unit=hour.recurrence_unit, ref=hour.recurrence_ref
            )
        return cls(
            id=hour.id,
            provider_id=hour.provider_id,
            location_id=hour.location_id,
            operatory_id=hour.operatory_id,
            begin_time=hour.begin_time,
            end_time=hour.end_time,
            days=hour.days,
            specific_date=hour.specific_date,
            custom_recurrence=recurrence,
            tz_offset=view.tz_offset,
            active=hour.active,
            appointment_types=[
                AppointmentTypeRef(id=t.id, name=t.name, minutes=t.minutes)
                for t in view.appointment_types
            ],
        )


# --- closures -----------------------------------------------------------------------------------


class ClosureFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start_date: IsoDate = Field(description="First closed local date.")
    end_date: IsoDate | None = Field(
        default=None, description="Last closed local date (inclusive); default start_date."
    )
    reason: Str200 | None = None


class ClosureCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    closure: ClosureFields


class ClosureOut(BaseModel):
    id: int
    location_id: int
    start_date: date
    end_date: date
    reason: str | None
    created_at: UtcInstant

    @classmethod
    def of(cls, closure: LocationClosure) -> ClosureOut:
        return cls(
            id=closure.id,
            location_id=closure.location_id,
            start_date=closure.start_date,
            end_date=closure.end_date,
            reason=closure.reason,
            created_at=closure.created_at,
        )


# --- slots --------------------------------------------------------------------------------------


class SlotOut(BaseModel):
    time: str = Field(examples=["2026-03-02T09:00:00.000-05:00"])
    end_time: str = Field(examples=["2026-03-02T09:15:00.000-05:00"])
    provider_id: int
    operatory_id: int | None


class SlotGroupOut(BaseModel):
    lid: int
    pid: int
    operatory_id: int | None = Field(
        default=None, description="Only when the search named operatory_ids[]."
    )
    slots: list[SlotOut]
    next_available_date: date | None = Field(
        description="When the range has no slot: the next local date with one (within 180 days)."
    )


class SlotV2Out(BaseModel):
    time: str
    provider_id: int
    operatory_id: int | None


class SlotGroupV2Out(BaseModel):
    lid: int
    pid: int
    operatory_id: int | None = None
    slots: list[SlotV2Out]
    next_available_date: date | None


def fast_local(value: datetime, tz: tzinfo) -> str:
    """:func:`carebook.core.time.format_local` (``2026-03-02T10:00:00.000-05:00``) at a tenth of
    the cost, for answers of thousands of slots; the tests hold the two to the same output."""
    return value.astimezone(tz).isoformat(timespec="milliseconds")


def slot_json(slot: Slot, *, provider_id: int, tz: tzinfo, with_end: bool) -> dict[str, Any]:
    """One slot as JSON, built by hand: a search may answer thousands."""
    out: dict[str, Any] = {"time": fast_local(slot.start, tz)}
    if with_end:
        out["end_time"] = fast_local(slot.end, tz)
    out["provider_id"] = provider_id
    out["operatory_id"] = slot.operatory_id
    return out


class LocalTimes:
    """:func:`fast_local` in one zone, each distinct instant converted once: the providers of a
    search share one grid of starts, and a slot's end is usually the next slot's start."""

    def __init__(self, tz: tzinfo) -> None:
        self.tz = tz
        self.seen: dict[datetime, str] = {}

    def __call__(self, value: datetime) -> str:
        text = self.seen.get(value)
        if text is None:
            text = self.seen[value] = fast_local(value, self.tz)
        return text


def slots_json(
    slots: Sequence[Slot], *, provider_id: int, local: LocalTimes, with_end: bool
) -> str:
    """``[slot_json(...), ...]`` as compact JSON text, written directly: every value is an int,
    null, or a local time of ISO digits and signs (nothing to escape), so a search of thousands
    of slots makes no dict per slot and no pass of the generic encoder over them."""
    pid = int(provider_id)
    parts = []
    for start, end, operatory_id in slots:
        op = "null" if operatory_id is None else str(int(operatory_id))
        if with_end:
            parts.append(
                f'{{"time":"{local(start)}","end_time":"{local(end)}",'
                f'"provider_id":{pid},"operatory_id":{op}}}'
            )
        else:
            parts.append(f'{{"time":"{local(start)}","provider_id":{pid},"operatory_id":{op}}}')
    return "[" + ",".join(parts) + "]"
