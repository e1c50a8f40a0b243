"""Pieces every NexHealth resource schema shares: instants, ids, strings, dates, paging."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from datetime import date, datetime
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Query
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

from carebook.api.kit.nesting import nests_deeper_than
from carebook.api.nexhealth.envelope import PagedEnvelope, PageInfo, describe
from carebook.core.time import OUT_OF_RANGE, format_utc, in_range
from carebook.db.repositories.pagination import DEFAULT_PER_PAGE, MAX_PER_PAGE, Page, PageRequest

T = TypeVar("T")
R = TypeVar("R")

# Ids are 64-bit in the database; anything larger is not an id we could have issued.
MAX_ID = 2**63 - 1

UtcInstant = Annotated[
    datetime,
    PlainSerializer(format_utc, return_type=str, when_used="json"),
    WithJsonSchema(
        {"type": "string", "format": "date-time", "examples": ["2026-03-02T15:00:00.000Z"]}
    ),
]
"""An instant, written as NexHealth writes them: UTC with milliseconds and ``Z``."""

Id = Annotated[int, Field(ge=1, le=MAX_ID)]
"""A record id in a request body."""


def _nul_error() -> PydanticCustomError:
    return PydanticCustomError("nul_character", "must not contain NUL characters")


def no_nul(value: str) -> str:
    if "\x00" in value:
        raise _nul_error()
    return value


Str200 = Annotated[str, StringConstraints(max_length=200), AfterValidator(no_nul)]
Str100 = Annotated[str, StringConstraints(max_length=100), AfterValidator(no_nul)]
Str50 = Annotated[str, StringConstraints(max_length=50), AfterValidator(no_nul)]
Str40 = Annotated[str, StringConstraints(max_length=40), AfterValidator(no_nul)]
Str64 = Annotated[str, StringConstraints(max_length=64), AfterValidator(no_nul)]
Str20 = Annotated[str, StringConstraints(max_length=20), AfterValidator(no_nul)]
Email = Annotated[str, StringConstraints(max_length=254), AfterValidator(no_nul)]
QueryText = Annotated[str, StringConstraints(max_length=200), AfterValidator(no_nul)]
"""A free-text query parameter (search terms and the like)."""


MAX_JSON_DEPTH = 32
"""How deep free-form JSON (a provider's bio, a descriptor's data, a dependant's bio) may nest
objects and arrays, the field itself the first level. Such data nests a few levels in practice;
32 leaves room for any of it, and keeps every stored value far below each depth limit it meets
later: pydantic serialises at most 255 levels (and the response nests the field a few levels
down, so a value that passed validation could be written and then never be answered again),
Python's stack holds about 1000 recursive calls, SQLite's JSON functions stop at 1000 levels."""


def text_error(text: str) -> PydanticCustomError | None:
    """Why ``text`` (a value or a key) cannot be stored and answered, if it cannot: a NUL
    (PostgreSQL's text refuses it) or a lone surrogate (no UTF-8 encoder writes one; Python's
    JSON parser reads ``"\\ud800"`` as one)."""
    if "\x00" in text:
        return _nul_error()
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return PydanticCustomError("string_unicode", "must not contain unpaired surrogates")
    return None


def storable_text(value: str) -> str:
    """``value``, if it holds neither a NUL nor a lone surrogate (see :func:`text_error`); for
    text that reaches no ``str`` field (pydantic's own ``str`` refuses lone surrogates)."""
    error = text_error(value)
    if error is not None:
        raise error
    return value


def _json_error(value: object) -> PydanticCustomError | None:
    """The first thing in ``value`` (any depth: keys, strings, numbers) that cannot be stored
    and answered again. Walked with a stack, not recursively."""
    pending: list[object] = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            error = text_error(item)
            if error is not None:
                return error
        elif isinstance(item, float):
            if not math.isfinite(item):
                return PydanticCustomError("json_number", "must not contain NaN or Infinity")
        elif isinstance(item, dict):
            for key, inner in item.items():
                pending.append(inner)
                pending.append(key)
        elif isinstance(item, list):
            pending.extend(item)
    return None


def storable_json(value: object) -> object:
    """A free-form JSON object that can be stored and answered: at most :data:`MAX_JSON_DEPTH`
    levels deep (measured without recursion, whatever the depth); no NaN or Infinity (Python's
    JSON parser reads them; JSON and PostgreSQL do not); no NUL and no lone surrogate in any
    string or key, at any depth.

    Runs on the value as parsed (a before-validator): pydantic's ``dict[str, ...]`` turns a lone
    surrogate in a key into U+FFFD characters, and a check after it would see none. Anything
    but an object is left to the field's type, which refuses it."""
    if not isinstance(value, dict):
        return value
    if nests_deeper_than(value, MAX_JSON_DEPTH):
        raise PydanticCustomError(
            "json_depth",
            "must not nest objects and arrays more than {max_depth} levels deep",
            {"max_depth": MAX_JSON_DEPTH},
        )
    error = _json_error(value)
    if error is not None:
        raise error
    return value


JsonObject = Annotated[dict[str, Any], BeforeValidator(storable_json)]
"""A free-form JSON object, kept as given (see :func:`storable_json`)."""

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _iso_date(value: object) -> object:
    # Bodies are validated in pydantic's python mode, where a strict ``date`` refuses strings.
    if isinstance(value, str):
        if not _ISO_DATE.fullmatch(value):
            raise PydanticCustomError("date_format", "must be a date as YYYY-MM-DD")
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise PydanticCustomError("date_value", "is not a calendar date") from None
    return value


IsoDate = Annotated[
    date,
    BeforeValidator(_iso_date),
    WithJsonSchema({"type": "string", "format": "date", "examples": ["1990-04-21"]}),
]
"""A calendar date in a request body, exactly ``YYYY-MM-DD``."""


def _in_range(value: date) -> date:
    if not in_range(value):
        raise PydanticCustomError("date_range", OUT_OF_RANGE)
    return value


InRange = AfterValidator(_in_range)
"""For a date the core computes days around (a slot search's start): within the years the API
takes (``core.time.in_range``), so no step runs off the calendar."""


def _not_null(value: object) -> object:
    if value is None:
        raise PydanticCustomError("not_null", "must not be null")
    return value


NotNull = BeforeValidator(_not_null)
"""For PATCH fields that may be left out but not set to null (the column is not nullable)."""


async def page_request(
    per_page: Annotated[
        int, Query(ge=1, le=MAX_PER_PAGE, description="Page size (at most 1000).")
    ] = DEFAULT_PER_PAGE,
    start_cursor: Annotated[
        str | None,
        Query(max_length=100, description="Page backwards: records before this cursor."),
    ] = None,
    end_cursor: Annotated[
        str | None,
        Query(max_length=100, description="Page forwards: records after this cursor."),
    ] = None,
) -> PageRequest:
    return PageRequest(per_page=per_page, start_cursor=start_cursor, end_cursor=end_cursor)


PageDep = Annotated[PageRequest, Depends(page_request)]


def paged(
    page: Page[R], render: Callable[[R], T], *, ignored: Iterable[str] = ()
) -> PagedEnvelope[list[T]]:
    """The envelope of one page: ``count`` is the total over all pages; the description names
    the ``ignored`` query parameters (``deps.IgnoredDep``)."""
    return PagedEnvelope[list[T]](
        data=[render(item) for item in page.items],
        count=page.total,
        description=describe(None, ignored),
        page_info=PageInfo(
            has_previous_page=page.has_previous_page,
            has_next_page=page.has_next_page,
            start_cursor=page.start_cursor,
            end_cursor=page.end_cursor,
        ),
    )


class RequestModel(BaseModel):
    """A request object: unknown fields are refused, and values are not coerced across types."""

    model_config = ConfigDict(extra="forbid", strict=True)
