"""Institutions and API keys (the tenant roots themselves)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from carebook.db.repositories.pagination import Page, PageRequest, paginate
from carebook.db.tables import ApiKey, ApiKeyInstitution, Institution


async def institution_by_subdomain(session: AsyncSession, subdomain: str) -> Institution | None:
    result = await session.execute(select(Institution).where(Institution.subdomain == subdomain))
    return result.scalar_one_or_none()


async def institution_by_id(session: AsyncSession, institution_id: int) -> Institution | None:
    return await session.get(Institution, institution_id)


async def page_of_institutions(
    session: AsyncSession, *, only_ids: Sequence[int] | None, page: PageRequest
) -> Page[Institution]:
    """The institutions (``only_ids`` of them, when given: what a scoped key reaches), one page
    at a time by id."""
    query = select(Institution)
    if only_ids is not None:
        query = query.where(Institution.id.in_(only_ids))
    return await paginate(session, query, Institution.id, page)


async def add_institution(session: AsyncSession, institution: Institution) -> Institution:
    session.add(institution)
    await session.flush()
    return institution


async def api_key_by_digest(
    session: AsyncSession, digest: str
) -> tuple[ApiKey, list[tuple[str, int]]] | None:
    key = (
        await session.execute(select(ApiKey).where(ApiKey.key_digest == digest))
    ).scalar_one_or_none()
    if key is None:
        return None
    rows = await session.execute(
        select(Institution.subdomain, Institution.id)
        .join(ApiKeyInstitution, ApiKeyInstitution.institution_id == Institution.id)
        .where(ApiKeyInstitution.api_key_id == key.id)
    )
    return key, [(subdomain, institution_id) for subdomain, institution_id in rows.tuples()]


async def all_api_keys(session: AsyncSession) -> list[tuple[ApiKey, list[str]]]:
    """Every API key with the subdomains it reaches, oldest first (keys are platform-wide)."""
    keys = (await session.execute(select(ApiKey).order_by(ApiKey.id))).scalars().all()
    rows = await session.execute(
        select(ApiKeyInstitution.api_key_id, Institution.subdomain)
        .join(Institution, Institution.id == ApiKeyInstitution.institution_id)
        .order_by(Institution.subdomain)
    )
    reach: dict[int, list[str]] = {}
    for key_id, subdomain in rows.tuples():
        reach.setdefault(key_id, []).append(subdomain)
    return [(key, reach.get(key.id, [])) for key in keys]


async def api_key_is_live(session: AsyncSession, key_id: int) -> bool:
    """Whether API key ``key_id`` exists and is not revoked (keys are platform-wide, not a
    tenant's: there is no institution to filter on)."""
    revoked = (
        await session.execute(select(ApiKey.revoked).where(ApiKey.id == key_id))
    ).scalar_one_or_none()
    return revoked is False


async def add_api_key(
    session: AsyncSession, key: ApiKey, *, institution_ids: Sequence[int]
) -> ApiKey:
    session.add(key)
    await session.flush()
    for institution_id in institution_ids:
        session.add(ApiKeyInstitution(api_key_id=key.id, institution_id=institution_id))
    await session.flush()
    return key


async def serialize_setup(session: AsyncSession, name: str) -> None:
    """Make concurrent transactions doing the check-then-create set-up ``name`` (the demo
    clinic) take turns, until each commits: PostgreSQL, a transaction-scoped advisory lock;
    SQLite, nothing (its write transactions take turns already)."""
    if session.bind.dialect.name == "postgresql":
        await session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:name, 0))"), {"name": name}
        )
