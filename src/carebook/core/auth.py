"""API keys and bearer tokens.

Keys are random, shown once, and kept only as SHA-256 digests (they are high-entropy, so a fast
digest is enough and makes lookup a single indexed read). ``POST /authenticates`` trades a key for
a signed token that carries what the key may reach, so authenticated requests need no key lookup.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt

from carebook.core.errors import Forbidden, Unauthorized

KEY_PREFIX = "cbk_"
TOKEN_ALGORITHM = "HS256"


def new_api_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def digest_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def keys_match(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def admin_key_mark(admin_key: str | None, secret: str) -> str | None:
    """What an admin token carries of the admin key it was issued for: a MAC of the key under
    the signing secret (the token's claims are readable by whoever holds it; a plain digest of
    a chosen key could be guessed against offline). A token of a replaced admin key, or one
    issued while there was an admin key when there is none now, no longer verifies: rotating
    the key revokes its tokens at once."""
    if not admin_key:
        return None
    mac = hmac.new(secret.encode(), b"admin-token:" + admin_key.encode(), hashlib.sha256)
    return mac.hexdigest()[:32]


@dataclass(frozen=True)
class Principal:
    """Who is calling: the platform admin, or a key scoped to some institutions."""

    key_id: int | None
    is_admin: bool
    # subdomain -> institution id, for every institution a scoped key reaches.
    institutions: tuple[tuple[str, int], ...] = ()

    def institution_id_for(self, subdomain: str) -> int | None:
        """The id of ``subdomain`` if the token already names it (saves a lookup)."""
        for name, institution_id in self.institutions:
            if name == subdomain:
                return institution_id
        return None

    def can_reach(self, institution_id: int) -> bool:
        return self.is_admin or any(i == institution_id for _, i in self.institutions)

    def require(self, institution_id: int, subdomain: str) -> None:
        if not self.can_reach(institution_id):
            raise Forbidden(f"you don't have access to institution '{subdomain}'")


def issue_token(
    principal: Principal,
    *,
    secret: str,
    now: datetime,
    ttl: timedelta,
    admin_key: str | None = None,
) -> str:
    """A signed token for ``principal``; an admin's names ``admin_key`` (its mark)."""
    claims: dict[str, object] = {
        "sub": str(principal.key_id) if principal.key_id is not None else "admin",
        "adm": principal.is_admin,
        "ins": dict(principal.institutions),
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
    }
    if principal.is_admin:
        claims["akm"] = admin_key_mark(admin_key, secret)
    return jwt.encode(claims, secret, algorithm=TOKEN_ALGORITHM)


def read_token(
    token: str, *, secret: str, now: float | None = None, admin_key: str | None = None
) -> Principal:
    """The principal a token names; raises ``Unauthorized`` if it is forged or expired, or an
    admin token of another admin key than ``admin_key``."""
    when = time.time() if now is None else now
    mark = admin_key_mark(admin_key, secret)
    return _verify(token, secret=secret, now=when, admin_mark=mark)[0]


def _verify(
    token: str, *, secret: str, now: float, admin_mark: str | None
) -> tuple[Principal, int]:
    try:
        # Expiry is checked below against the caller's clock, so cache and check agree.
        claims = jwt.decode(
            token,
            secret,
            algorithms=[TOKEN_ALGORITHM],
            options={"require": ["exp", "sub"], "verify_exp": False, "verify_iat": False},
        )
        expires = int(claims["exp"])
        sub = claims["sub"]
        principal = Principal(
            key_id=None if sub == "admin" else int(sub),
            is_admin=bool(claims.get("adm", False)),
            institutions=tuple(sorted((str(k), int(v)) for k, v in claims.get("ins", {}).items())),
        )
    except (jwt.PyJWTError, ValueError, TypeError, AttributeError, OverflowError) as error:
        raise Unauthorized("the bearer token is not valid") from error
    if now >= expires:
        raise Unauthorized("the bearer token has expired; authenticate again")
    if principal.is_admin and (admin_mark is None or claims.get("akm") != admin_mark):
        raise Unauthorized(
            "the admin API key this token was issued for has been replaced or removed"
        )
    return principal, expires


class TokenCache:
    """Tokens this process has already verified, until they expire.

    A client sends the same token for an hour; verifying its signature and decoding its claims
    once instead of on every request is measurable on the booking hot path. The expiry is still
    checked on every use, and the cache is bounded (oldest entries go first).
    """

    def __init__(
        self, *, secret: str, admin_key: str | None = None, max_entries: int = 10_000
    ) -> None:
        self._secret = secret
        self._admin_mark = admin_key_mark(admin_key, secret)
        self._max_entries = max_entries
        self._verified: dict[str, tuple[Principal, int]] = {}

    def principal(self, token: str, *, now: float) -> Principal:
        found = self._verified.get(token)
        if found is not None:
            principal, expires = found
            if now < expires:
                return principal
            del self._verified[token]
        principal, expires = _verify(
            token, secret=self._secret, now=now, admin_mark=self._admin_mark
        )
        if len(self._verified) >= self._max_entries:
            self._verified.pop(next(iter(self._verified)))
        self._verified[token] = (principal, expires)
        return principal
