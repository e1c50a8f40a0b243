"""Checks shared by the clinic services."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Sequence
from datetime import date
from typing import TypeVar

from carebook.core.errors import FieldError, NotFound
from carebook.core.time import is_valid_zone
from carebook.db.repositories.pagination import Page

T = TypeVar("T")
R = TypeVar("R")

EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")


def map_page(page: Page[T], render: Callable[[T], R]) -> Page[R]:
    return Page(
        items=[render(item) for item in page.items],
        total=page.total,
        has_previous_page=page.has_previous_page,
        has_next_page=page.has_next_page,
        start_cursor=page.start_cursor,
        end_cursor=page.end_cursor,
    )


def required_text(errors: list[FieldError], field: str, value: str) -> str:
    """``value`` without surrounding blanks; an error when nothing is left."""
    stripped = value.strip()
    if not stripped:
        errors.append(FieldError(field, "must not be blank"))
    return stripped


def optional_text(value: str | None) -> str | None:
    """Surrounding blanks dropped; an empty string means no value."""
    if value is None:
        return None
    return value.strip() or None


def check_email(errors: list[FieldError], field: str, value: str | None) -> str | None:
    value = optional_text(value)
    if value is not None and not EMAIL_RE.fullmatch(value):
        errors.append(FieldError(field, "is not a valid email address"))
    return value


def check_zone(errors: list[FieldError], field: str, value: str | None) -> None:
    if value is not None and not is_valid_zone(value):
        errors.append(FieldError(field, f"'{value}' is not an IANA time zone name"))


def phone_digits(value: str) -> str:
    """A phone number as it is searched on: its digits only."""
    return "".join(ch for ch in value if ch.isascii() and ch.isdigit())


def years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


# Nobody alive was born longer ago than this: an earlier date of birth is a typing mistake.
MAX_AGE_YEARS = 130


def check_birth_date(errors: list[FieldError], field: str, born: date, today: date) -> None:
    """Every person's date of birth (patients, dependants, portal users): not after ``today``,
    not more than :data:`MAX_AGE_YEARS` before it."""
    if born > today:
        errors.append(FieldError(field, "must not be in the future"))
    elif born < years_before(today, MAX_AGE_YEARS):
        errors.append(FieldError(field, f"must not be more than {MAX_AGE_YEARS} years ago"))


def require_all(resource: str, wanted: Sequence[int], found: Collection[int]) -> None:
    """``NotFound`` for the first of ``wanted`` that is not in ``found`` (the tenant's rows)."""
    for record_id in wanted:
        if record_id not in found:
            raise NotFound(resource, record_id)
