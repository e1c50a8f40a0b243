"""Cursor pagination by id, as NexHealth's v3 lists page (``start_cursor`` / ``end_cursor``)."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import QueryableAttribute

from carebook.core.errors import InvalidInput

T = TypeVar("T")

DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 1000


def encode_cursor(record_id: int) -> str:
    return base64.urlsafe_b64encode(f"id:{record_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str, field: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, value = raw.partition(":")
        # Digits only, and within a 64-bit id: anything else would reach the database.
        if prefix != "id" or not value.isascii() or not value.isdigit() or len(value) > 19:
            raise ValueError(raw)
        record_id = int(value)
        if record_id > 2**63 - 1:
            raise ValueError(raw)
        return record_id
    except (ValueError, binascii.Error, UnicodeDecodeError) as error:
        raise InvalidInput.one(field, "is not a cursor this API issued") from error


@dataclass(frozen=True)
class PageRequest:
    per_page: int = DEFAULT_PER_PAGE
    start_cursor: str | None = None  # page backwards: rows before this cursor
    end_cursor: str | None = None  # page forwards: rows after this cursor


@dataclass
class Page(Generic[T]):
    items: list[T]
    total: int
    has_previous_page: bool
    has_next_page: bool
    start_cursor: str | None
    end_cursor: str | None


async def paginate(
    session: AsyncSession,
    query: Select[tuple[T]],
    id_column: ColumnElement[int] | QueryableAttribute[int],
    page: PageRequest,
    id_of: Any = lambda row: row.id,
) -> Page[T]:
    """Run ``query`` (already filtered, tenant included) one page at a time, ordered by id."""
    if page.start_cursor and page.end_cursor:
        raise InvalidInput.one("start_cursor", "give start_cursor or end_cursor, not both")
    total = (
        await session.execute(select(func.count()).select_from(query.order_by(None).subquery()))
    ).scalar_one()
    backwards = bool(page.start_cursor)
    if page.end_cursor:
        query = query.where(id_column > decode_cursor(page.end_cursor, "end_cursor"))
    if page.start_cursor:
        query = query.where(id_column < decode_cursor(page.start_cursor, "start_cursor"))
    query = query.order_by(id_column.desc() if backwards else id_column).limit(page.per_page + 1)
    rows = list((await session.execute(query)).scalars())
    more = len(rows) > page.per_page
    rows = rows[: page.per_page]
    if backwards:
        rows.reverse()
    first = encode_cursor(id_of(rows[0])) if rows else None
    last = encode_cursor(id_of(rows[-1])) if rows else None
    return Page(
        items=rows,
        total=total,
        has_previous_page=more if backwards else bool(page.end_cursor),
        has_next_page=bool(page.start_cursor) if backwards else more,
        start_cursor=first,
        end_cursor=last,
    )
