"""Procedures in and out; ``procedure_out`` is also the appointment's ``procedures[]``."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field
from pydantic_core import PydanticCustomError

from carebook.api.nexhealth.schemas.common import (
    Id,
    IsoDate,
    RequestModel,
    Str50,
    Str200,
    UtcInstant,
    no_nul,
)
from carebook.core.clinic.procedures import ProcedureFields
from carebook.db.tables import Procedure

# ASCII digits only, the whole string (``$`` would also match before a final newline, and
# ``\d`` any script's digits).
_AMOUNT = re.compile(r"[0-9]{1,10}(\.[0-9]{1,2})?")
_CURRENCY = re.compile(r"[A-Z]{3}")


def _amount(value: str) -> str:
    if not _AMOUNT.fullmatch(value):
        raise PydanticCustomError("amount", "must be an amount in whole units, like 62.00")
    return value


def _currency(value: str) -> str:
    if not _CURRENCY.fullmatch(value):
        raise PydanticCustomError("currency", "must be an ISO 4217 code, like USD")
    return value


Status = Literal["planned", "scheduled", "completed", "inactive", "referred"]


class FeeIn(RequestModel):
    amount: Annotated[str, AfterValidator(_amount)] = Field(examples=["62.00"])
    currency: Annotated[str, AfterValidator(_currency)] = "USD"


class BodySiteIn(RequestModel):
    tooth: list[Annotated[str, Field(max_length=10), AfterValidator(no_nul)]] | None = Field(
        default=None, max_length=64, examples=[["3"]]
    )
    surface: Annotated[str, Field(max_length=20), AfterValidator(no_nul)] | None = Field(
        default=None, examples=["MOD"]
    )


class ProcedureIn(RequestModel):
    patient_id: Id
    provider_id: Id | None = None
    appointment_id: Id | None = None
    location_id: Id | None = Field(default=None, description="Default: the appointment's location.")
    code: Str50 = Field(examples=["D1110"])
    name: Str200
    status: Status
    body_site: BodySiteIn | None = None
    fee: FeeIn | None = None
    start_date: IsoDate | None = None
    end_date: IsoDate | None = None

    def to_core(self) -> ProcedureFields:
        return ProcedureFields(
            patient_id=self.patient_id,
            provider_id=self.provider_id,
            appointment_id=self.appointment_id,
            location_id=self.location_id,
            code=self.code,
            name=self.name,
            status=self.status,
            body_site=(
                self.body_site.model_dump(exclude_none=True) if self.body_site is not None else None
            ),
            fee_amount=Decimal(self.fee.amount) if self.fee is not None else None,
            fee_currency=self.fee.currency if self.fee is not None else None,
            start_date=self.start_date,
            end_date=self.end_date,
        )


class ProcedureCreate(RequestModel):
    procedure: ProcedureIn


class FeeOut(BaseModel):
    amount: str | None = Field(examples=["62.00"])
    currency: str | None = Field(examples=["USD"])


class ProcedureOut(BaseModel):
    id: int
    patient_id: int
    provider_id: int | None
    appointment_id: int | None
    code: str
    name: str
    status: str
    body_site: dict[str, Any] | None
    fee: FeeOut
    start_date: date | None
    end_date: date | None
    location_id: int | None
    updated_at: UtcInstant


def procedure_out(row: Procedure) -> ProcedureOut:
    return ProcedureOut(
        id=row.id,
        patient_id=row.patient_id,
        provider_id=row.provider_id,
        appointment_id=row.appointment_id,
        code=row.code,
        name=row.name,
        status=row.status,
        body_site=row.body_site,
        fee=FeeOut(
            amount=f"{row.fee_amount:.2f}" if row.fee_amount is not None else None,
            currency=row.fee_currency,
        ),
        start_date=row.start_date,
        end_date=row.end_date,
        location_id=row.location_id,
        updated_at=row.updated_at,
    )
