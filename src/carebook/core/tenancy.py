"""Institutions, API keys, authentication and reaching a tenant."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from carebook.core.auth import Principal, digest_key, issue_token, keys_match, new_api_key
from carebook.core.errors import (
    Conflict,
    FieldError,
    Forbidden,
    InvalidInput,
    NotFound,
    Unauthorized,
)
from carebook.core.time import utc_now
from carebook.db.database import Database
from carebook.db.repositories import tenancy as repo
from carebook.db.tables import ApiKey, Institution

SUBDOMAIN_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


@dataclass(frozen=True)
class Tenant:
    """The institution a request acts in, after access was checked."""

    id: int
    subdomain: str


async def authenticate(
    db: Database, raw_key: str | None, *, admin_key: str | None, secret: str, ttl: timedelta
) -> str:
    """Trade an API key for a bearer token."""
    if not raw_key or not raw_key.strip():
        raise Unauthorized("missing Authorization header: send your API key")
    raw_key = raw_key.strip()
    if raw_key.lower().startswith("bearer "):
        raw_key = raw_key[7:].strip()
    if admin_key and keys_match(raw_key, admin_key):
        principal = Principal(key_id=None, is_admin=True)
    else:
        async with db.read() as session:
            found = await repo.api_key_by_digest(session, digest_key(raw_key))
        if found is None or found[0].revoked:
            raise Unauthorized("the API key is not valid")
        key, institutions = found
        principal = Principal(key_id=key.id, is_admin=False, institutions=tuple(institutions))
    return issue_token(principal, secret=secret, now=utc_now(), ttl=ttl, admin_key=admin_key)


# How long this process trusts that an API key it has seen is not revoked: a revoked key's
# tokens stop working within this many seconds, in every process, at the cost of one indexed
# read per key and process this often.
KEY_RECHECK_SECONDS = 10.0


class LiveKeys:
    """Refuses the tokens of revoked API keys. A token carries what its key reached when it was
    issued, so verifying its signature says nothing about the key since: this re-reads each
    key's state at most every :data:`KEY_RECHECK_SECONDS` (admin tokens are tied to the admin
    key by ``auth.admin_key_mark`` instead)."""

    def __init__(self, db: Database, *, recheck_seconds: float = KEY_RECHECK_SECONDS) -> None:
        self._db = db
        self._recheck_seconds = recheck_seconds
        self._live_until: dict[int, float] = {}  # key id -> until when it is known live
        # Revocation is final: a revoked key's tokens are refused without reading again (a
        # client retrying one would otherwise cost a read per request).
        self._revoked: dict[int, None] = {}

    async def ensure_live(self, principal: Principal, *, now: float) -> None:
        key_id = principal.key_id
        if key_id is None:
            return
        until = self._live_until.get(key_id)
        if until is not None and now < until:
            return
        if key_id not in self._revoked:
            async with self._db.read() as session:
                live = await repo.api_key_is_live(session, key_id)
            if live:
                if key_id not in self._live_until:
                    _forget_oldest(self._live_until)
                self._live_until[key_id] = now + self._recheck_seconds
                return
            _forget_oldest(self._revoked)
            self._revoked[key_id] = None
        self._live_until.pop(key_id, None)
        raise Unauthorized("the API key this token was issued for has been revoked")


def _forget_oldest(entries: dict[int, Any], limit: int = 10_000) -> None:
    """Make room for one more entry: the caches stay bounded, oldest entries go first."""
    if len(entries) >= limit:
        entries.pop(next(iter(entries)))


async def list_api_keys(session: AsyncSession) -> list[tuple[ApiKey, list[str]]]:
    """Every API key (never the key itself: its id, prefix, name, state) and its subdomains."""
    return await repo.all_api_keys(session)


async def revoke_api_key(session: AsyncSession, key: int | str) -> ApiKey:
    """Revoke an API key, named by its id or by the key itself: it no longer authenticates, and
    its tokens stop working within :data:`KEY_RECHECK_SECONDS`. Revoking twice changes
    nothing."""
    if isinstance(key, int):
        found = await session.get(ApiKey, key)
    else:
        by_digest = await repo.api_key_by_digest(session, digest_key(key.strip()))
        found = by_digest[0] if by_digest is not None else None
    if found is None:
        raise NotFound("API key", key if isinstance(key, int) else f"{key.strip()[:8]}…")
    found.revoked = True
    return found


async def resolve_tenant(db: Database, principal: Principal, subdomain: str | None) -> Tenant:
    """The institution named by ``subdomain``, if the caller may reach it.

    A scoped key gets 403 for any subdomain it does not hold, existing or not, so keys cannot
    probe for other tenants; the admin gets 404 for one that does not exist.
    """
    if not subdomain:
        raise InvalidInput.one("subdomain", "is required")
    known = principal.institution_id_for(subdomain)
    if known is not None:
        return Tenant(known, subdomain)
    if not principal.is_admin:
        raise Forbidden(f"you don't have access to institution '{subdomain}'")
    async with db.read() as session:
        institution = await repo.institution_by_subdomain(session, subdomain)
    if institution is None:
        raise NotFound("institution", subdomain, field="subdomain")
    return Tenant(institution.id, institution.subdomain)


def validate_subdomain(subdomain: str) -> list[FieldError]:
    if not SUBDOMAIN_RE.fullmatch(subdomain):
        return [
            FieldError(
                "institution.subdomain",
                "must be 1-63 lowercase letters, digits or hyphens, "
                "not starting or ending with '-'",
            )
        ]
    return []


async def create_institution(
    session: AsyncSession,
    *,
    name: str,
    subdomain: str,
    phone_number: str | None = None,
    country_code: str = "US",
) -> Institution:
    errors = validate_subdomain(subdomain)
    if not name.strip():
        errors.append(FieldError("institution.name", "must not be blank"))
    if errors:
        raise InvalidInput(errors)
    if await repo.institution_by_subdomain(session, subdomain) is not None:
        raise Conflict(f"an institution with subdomain '{subdomain}' already exists")
    institution = Institution(
        name=name.strip(), subdomain=subdomain, phone_number=phone_number, country_code=country_code
    )
    try:
        async with session.begin_nested():
            return await repo.add_institution(session, institution)
    except IntegrityError as error:
        raise Conflict(f"an institution with subdomain '{subdomain}' already exists") from error


async def create_api_key(
    session: AsyncSession, *, subdomains: list[str], name: str | None = None
) -> str:
    """Create a key reaching ``subdomains``; returns the key itself, which is never stored."""
    ids = []
    for subdomain in subdomains:
        institution = await repo.institution_by_subdomain(session, subdomain)
        if institution is None:
            raise NotFound("institution", subdomain, field="subdomain")
        ids.append(institution.id)
    raw = new_api_key()
    key = ApiKey(key_digest=digest_key(raw), prefix=raw[:8], name=name)
    await repo.add_api_key(session, key, institution_ids=ids)
    return raw
