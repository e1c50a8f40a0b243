"""Typed domain errors. Each API package renders them in its own error shape."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date


class DomainError(Exception):
    """Base of every error the core raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Unauthorized(DomainError):
    """No credentials, or credentials that are not accepted."""


class Forbidden(DomainError):
    """Valid credentials that do not reach this institution."""


class NotFound(DomainError):
    """A record that does not exist in this institution (or location)."""

    def __init__(self, resource: str, identifier: object, *, field: str | None = None) -> None:
        super().__init__(f"{resource} {identifier} not found")
        self.resource = resource
        self.identifier = identifier
        self.field = field


@dataclass(frozen=True)
class FieldError:
    """One problem with one input field; ``field`` is a dotted path such as ``appt.start_time``."""

    field: str
    message: str


class InvalidInput(DomainError):
    """Input that breaks a rule; carries every problem found, each naming its field."""

    def __init__(self, errors: list[FieldError]) -> None:
        assert errors, "InvalidInput needs at least one error"
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = errors

    @classmethod
    def one(cls, field: str, message: str) -> InvalidInput:
        return cls([FieldError(field, message)])


class Conflict(DomainError):
    """The request is valid but the current state forbids it."""


class Unavailable(DomainError):
    """The database cannot be reached or cannot take the work now (an outage, not a bug): the
    request may be sent again after ``retry_after`` seconds. Almost always nothing was written;
    if the connection was lost just as a write committed, the write stands (a booking sent
    again then answers 409 naming it)."""

    def __init__(self, message: str, *, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Clash:
    """An existing appointment or block that a booking would overlap."""

    resource: str  # "operatory", "patient" or "provider"
    appointment_id: int | None
    unavailable: bool = False


@dataclass
class SlotTaken(Conflict):
    """The time overlaps active appointments or blocks on a resource the booking needs."""

    clashes: list[Clash] = field(default_factory=list)

    def __post_init__(self) -> None:
        parts = []
        for clash in self.clashes:
            what = "block" if clash.unavailable else "appointment"
            ref = f" {clash.appointment_id}" if clash.appointment_id is not None else ""
            parts.append(f"the {clash.resource}'s {what}{ref}")
        detail = ", ".join(parts) if parts else "another booking"
        DomainError.__init__(self, f"the requested time overlaps {detail}")


class OutsideWorkingHours(Conflict):
    """The provider has working hours at the location and the time is not inside them, or the
    location is closed then (``closed_on``: the local day it is closed)."""

    def __init__(self, message: str, *, closed_on: date | None = None) -> None:
        super().__init__(message)
        self.closed_on = closed_on
