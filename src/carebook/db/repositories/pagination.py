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
MAX_ID = 2**63 - 1  # the largest id a cursor names (64-bit ids)


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
        if record_id > MAX_ID:
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
    if not rows and (page.start_cursor or page.end_cursor):
        return _empty_page(page, total)
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


def _empty_page(page: PageRequest, total: int) -> Page[T]:
    """An empty page reached by a cursor: an empty run of ids at the cursor, whose cursors lead
    on from it as a page's do (``start_cursor``: the rows before it, ``end_cursor``: the rows
    after it), so a client can always walk back.

    Past the last row (``end_cursor`` = id ``n``, nothing after it) the page is the gap after
    ``n``: ``start_cursor`` is ``n + 1`` (paging back gives the rows up to ``n``, the page the
    client came from), ``end_cursor`` is ``n`` (rows added later come next). Before the first
    row (``start_cursor`` = id ``n``) it is the gap before ``n``: ``start_cursor`` is ``n``,
    ``end_cursor`` ``n - 1`` (paging forward gives the rows from ``n``). Every row of the list
    lies on the other side, so the flag of that side says whether there is any."""
    if page.end_cursor:
        after = decode_cursor(page.end_cursor, "end_cursor")
        # An id past the largest 64-bit one is no cursor: the largest stands for it (ids are
        # assigned from 1 upwards, so none is that large).
        start, end = min(after + 1, MAX_ID), after
        has_previous, has_next = total > 0, False
    else:
        assert page.start_cursor
        before = decode_cursor(page.start_cursor, "start_cursor")
        start, end = before, max(before - 1, 0)  # ids start at 1: id:0 is before them all
        has_previous, has_next = False, total > 0
    return Page(
        items=[],
        total=total,
        has_previous_page=has_previous,
        has_next_page=has_next,
        start_cursor=encode_cursor(start),
        end_cursor=encode_cursor(end),
    )
