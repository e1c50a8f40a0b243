from __future__ import annotations

from typing import Any

import pytest

from carebook.config import Settings
from tests.support import Api

pytestmark = pytest.mark.anyio


async def test_authenticate_with_api_key_returns_token_in_envelope(api: Api) -> None:
    clinic = await api.clinic("acme")
    response = await api.client.post("/authenticates", headers={"Authorization": clinic.api_key})
    assert response.status_code == 201
    body = response.json()
    assert body["code"] is True
    assert body["description"] == "Authenticated"
    assert body["error"] is None
    assert isinstance(body["data"]["token"], str)
    assert body["data"]["token"].count(".") == 2


async def test_authenticate_with_unknown_key_is_401_envelope(api: Api) -> None:
    response = await api.client.post("/authenticates", headers={"Authorization": "cbk_nope"})
    assert response.status_code == 401
    assert response.json() == {
        "code": False,
        "description": "the API key is not valid",
        "error": ["the API key is not valid"],
        "data": None,
        "count": None,
    }


async def test_missing_authorization_is_401(api: Api) -> None:
    response = await api.client.post("/authenticates")
    assert response.status_code == 401
    response = await api.client.get("/institutions")
    assert response.status_code == 401
    assert response.json()["code"] is False


async def test_without_a_valid_token_a_malformed_body_is_still_401(api: Api) -> None:
    # FastAPI reads a JSON body before it authenticates; the caller hears about the token first.
    acme = await api.clinic("acme")
    cases = [
        ("/institutions", {}),
        ("/institutions", {"Authorization": "Bearer x.y.z"}),
        (f"/appointments?subdomain=acme&location_id={acme.location_id}", {}),
        ("/locations?subdomain=acme", {"Authorization": "Basic abc"}),
    ]
    for path, headers in cases:
        response = await api.client.post(
            path, content=b"{not json", headers={**headers, "Content-Type": "application/json"}
        )
        assert response.status_code == 401, (path, response.text)
        assert response.json()["code"] is False
    # With a valid token the body's fault is named.
    response = await api.client.post(
        "/locations?subdomain=acme",
        content=b"{not json",
        headers={**acme.auth, "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["error"] == ["body: the body is not valid JSON"]


async def test_garbage_bearer_token_is_401(api: Api) -> None:
    response = await api.client.get("/institutions", headers={"Authorization": "Bearer x.y.z"})
    assert response.status_code == 401
    assert response.json()["error"] == ["the bearer token is not valid"]


async def test_a_signed_token_with_an_infinite_expiry_is_401_not_500(
    api: Api, settings: Settings
) -> None:
    # Only the signing key's holder can make one; still an answer, not a crash.
    import jwt

    secret = settings.secret_key or ""
    for claims in (
        {"sub": "admin", "adm": True, "exp": 1e400},
        {"sub": "1", "ins": {"acme": 1e400}, "exp": 4102444800},
    ):
        token = jwt.encode(claims, secret, algorithm="HS256")
        response = await api.client.get(
            "/institutions", headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 401, response.text
        assert response.json()["error"] == ["the bearer token is not valid"]


async def test_admin_creates_and_lists_institutions(api: Api) -> None:
    headers = await api.admin_auth()
    response = await api.client.post(
        "/institutions",
        headers=headers,
        json={"institution": {"name": "Smile Clinic", "subdomain": "smile"}},
    )
    assert response.status_code == 201, response.text
    created = response.json()["data"]
    assert created["subdomain"] == "smile"
    assert created["name"] == "Smile Clinic"
    listed = await api.client.get("/institutions", headers=headers)
    assert [i["subdomain"] for i in listed.json()["data"]] == ["smile"]
    duplicate = await api.client.post(
        "/institutions",
        headers=headers,
        json={"institution": {"name": "Again", "subdomain": "smile"}},
    )
    assert duplicate.status_code == 409


async def test_institutions_are_paged_by_cursor(api: Api) -> None:
    """The institution list pages like every other list: ``count`` is the total, and the
    cursors walk it both ways; a scoped key pages over its own institutions only."""
    acme = await api.clinic("acme")
    await api.clinic("bravo")
    await api.clinic("carol")
    headers = await api.admin_auth()

    async def page(**params: Any) -> Any:
        response = await api.client.get("/institutions", headers=headers, params=params)
        assert response.status_code == 200, response.text
        return response.json()

    first = await page(per_page=2)
    assert [i["subdomain"] for i in first["data"]] == ["acme", "bravo"]
    assert (first["code"], first["count"], first["error"]) == (True, 3, None)
    assert first["page_info"]["has_previous_page"] is False
    assert first["page_info"]["has_next_page"] is True
    second = await page(per_page=2, end_cursor=first["page_info"]["end_cursor"])
    assert [i["subdomain"] for i in second["data"]] == ["carol"]
    assert second["count"] == 3
    assert second["page_info"]["has_previous_page"] is True
    assert second["page_info"]["has_next_page"] is False
    back = await page(per_page=2, start_cursor=second["page_info"]["start_cursor"])
    assert [i["subdomain"] for i in back["data"]] == ["acme", "bravo"]
    scoped = await api.client.get("/institutions", headers=acme.auth, params={"per_page": 1})
    body = scoped.json()
    assert [i["subdomain"] for i in body["data"]] == ["acme"]
    assert body["count"] == 1
    assert body["page_info"]["has_next_page"] is False
    tampered = await api.client.get(
        "/institutions", headers=headers, params={"end_cursor": "not-a-cursor"}
    )
    assert tampered.status_code == 400
    assert tampered.json()["error"] == ["end_cursor: is not a cursor this API issued"]


async def test_scoped_key_cannot_create_institutions_or_see_others(api: Api) -> None:
    acme = await api.clinic("acme")
    other = await api.clinic("other")
    response = await api.client.post(
        "/institutions",
        headers=acme.auth,
        json={"institution": {"name": "Mine", "subdomain": "mine"}},
    )
    assert response.status_code == 403
    listed = await api.client.get("/institutions", headers=acme.auth)
    assert [i["subdomain"] for i in listed.json()["data"]] == ["acme"]
    hidden = await api.client.get(f"/institutions/{other.institution_id}", headers=acme.auth)
    assert hidden.status_code == 404


async def test_institution_ids_beyond_64_bits_are_a_400_not_a_database_error(api: Api) -> None:
    headers = await api.admin_auth()
    for institution_id, message in (
        (2**63, "input should be less than or equal to 9223372036854775807"),
        (0, "input should be greater than or equal to 1"),
    ):
        response = await api.client.get(f"/institutions/{institution_id}", headers=headers)
        assert response.status_code == 400, response.text
        assert response.json() == {
            "code": False,
            "description": "the request is invalid",
            "error": [f"institution_id: {message}"],
            "data": None,
            "count": None,
        }
    largest = await api.client.get(f"/institutions/{2**63 - 1}", headers=headers)
    assert largest.status_code == 404
    assert largest.json() == {
        "code": False,
        "description": f"institution {2**63 - 1} not found",
        "error": [f"institution {2**63 - 1} not found"],
        "data": None,
        "count": None,
    }


async def test_bad_institution_body_is_400_naming_fields(api: Api) -> None:
    headers = await api.admin_auth()
    response = await api.client.post(
        "/institutions", headers=headers, json={"institution": {"subdomain": "Bad Name!"}}
    )
    assert response.status_code == 400
    assert response.json()["error"] == ["institution.name: is required"]
    response = await api.client.post(
        "/institutions",
        headers=headers,
        json={"institution": {"name": "X", "subdomain": "Bad Name!"}},
    )
    assert response.status_code == 400
    assert response.json()["error"][0].startswith("institution.subdomain:")
    # The whole name: a final newline made a second tenant that prints like "acme".
    for subdomain in ("acme\n", "acme\n\n", "\nacme"):
        response = await api.client.post(
            "/institutions",
            headers=headers,
            json={"institution": {"name": "X", "subdomain": subdomain}},
        )
        assert response.status_code == 400, subdomain
        assert response.json()["error"] == [
            "institution.subdomain: must be 1-63 lowercase letters, digits or hyphens, "
            "not starting or ending with '-'"
        ]
    response = await api.client.post(
        "/institutions",
        headers=headers,
        content=b"{not json",
    )
    assert response.status_code == 400


async def test_unknown_route_is_404_envelope(api: Api) -> None:
    response = await api.client.get("/nope")
    assert response.status_code == 404
    assert response.json()["code"] is False


def test_token_cache_checks_expiry_on_every_use() -> None:
    from datetime import UTC, datetime, timedelta

    from carebook.core.auth import Principal, TokenCache, issue_token
    from carebook.core.errors import Unauthorized

    secret = "s" * 40
    issued = datetime(2030, 1, 1, tzinfo=UTC)
    principal = Principal(key_id=7, is_admin=False, institutions=(("acme", 1),))
    token = issue_token(principal, secret=secret, now=issued, ttl=timedelta(hours=1))
    cache = TokenCache(secret=secret, max_entries=2)
    within = issued.timestamp() + 10
    assert cache.principal(token, now=within) == principal
    assert cache.principal(token, now=within) == principal  # served from the cache
    with pytest.raises(Unauthorized):
        cache.principal(token, now=issued.timestamp() + 3601)
    with pytest.raises(Unauthorized):
        cache.principal(token[:-2] + "xx", now=within)


async def test_a_revoked_keys_tokens_stop_working_within_the_recheck_time(
    api: Api, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In this process after KEY_RECHECK_SECONDS, in a process that has not seen the key yet at
    once; on every route, the booking express lanes included, each in its API's shape."""
    import time

    import httpx
    from sqlalchemy import select

    from carebook.app import create_app
    from carebook.core.auth import digest_key
    from carebook.core.tenancy import KEY_RECHECK_SECONDS, revoke_api_key
    from carebook.db.tables import ApiKey

    acme = await api.clinic("acme")
    other = await api.clinic("other")  # its key stays live
    requests: list[tuple[str, str, Any]] = [
        ("GET", "/locations?subdomain=acme", None),
        ("POST", f"/appointments?subdomain=acme&location_id={acme.location_id}", {"appt": {}}),
        ("POST", "/api/Calendar/PatientAppointmentPost", {}),
    ]

    async def statuses(client: httpx.AsyncClient, clinic: Any) -> list[int]:
        answers = [
            await client.request(method, path, json=body, headers=clinic.auth)
            for method, path, body in requests
        ]
        return [answer.status_code for answer in answers]

    assert await statuses(api.client, acme) == [200, 400, 400]

    async def revoke(session: Any) -> None:
        found = await session.execute(
            select(ApiKey.id).where(ApiKey.key_digest == digest_key(acme.api_key))
        )
        await revoke_api_key(session, found.scalar_one())

    await api.db.write(revoke)
    # This process saw the key live a moment ago: it trusts that for a few seconds more.
    assert await statuses(api.client, acme) == [200, 400, 400]
    # A process that has not seen the key refuses its tokens at once.
    fresh = create_app(settings)
    async with fresh.router.lifespan_context(fresh):
        transport = httpx.ASGITransport(app=fresh)
        async with httpx.AsyncClient(transport=transport, base_url="http://carebook.test") as c:
            assert await statuses(c, acme) == [401, 401, 401]
            assert await statuses(c, other) == [403, 403, 400]
    later = time.time() + KEY_RECHECK_SECONDS + 1
    monkeypatch.setattr(time, "time", lambda: later)
    answers = [
        await api.client.request(method, path, json=body, headers=acme.auth)
        for method, path, body in requests
    ]
    message = "the API key this token was issued for has been revoked"
    assert [a.status_code for a in answers] == [401, 401, 401]
    assert answers[0].json() == {
        "code": False,
        "description": message,
        "error": [message],
        "data": None,
        "count": None,
    }
    assert answers[1].json() == answers[0].json()
    assert answers[2].json() == {"Message": message}
    revoked = await api.client.post("/authenticates", headers={"Authorization": acme.api_key})
    assert revoked.status_code == 401
    assert await statuses(api.client, other) == [403, 403, 400]


async def test_an_admin_token_dies_with_the_admin_key_it_was_issued_for(
    api: Api, settings: Settings
) -> None:
    import httpx

    from carebook.app import create_app
    from tests.support import ADMIN_KEY

    token = await api.token(ADMIN_KEY)
    auth = {"Authorization": f"Bearer {token}"}
    assert (await api.client.get("/institutions", headers=auth)).status_code == 200
    for admin_key in ["another-admin-key-that-is-long-enough-to-use", None]:
        rotated = create_app(settings.model_copy(update={"admin_api_key": admin_key}))
        async with rotated.router.lifespan_context(rotated):
            transport = httpx.ASGITransport(app=rotated)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                refused = await client.get("/institutions", headers=auth)
        assert refused.status_code == 401, admin_key
        assert refused.json()["description"] == (
            "the admin API key this token was issued for has been replaced or removed"
        )


async def test_a_revoked_key_is_refused_without_reading_again(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Revocation is final: once a process has seen a key revoked, its tokens cost no read."""
    from carebook.core.auth import Principal
    from carebook.core.errors import Unauthorized
    from carebook.core.tenancy import LiveKeys, revoke_api_key
    from carebook.db.repositories import tenancy as repo

    acme = await api.clinic("acme")
    reads: list[int] = []
    real = repo.api_key_is_live

    async def counted(session: Any, key_id: int) -> bool:
        reads.append(key_id)
        return await real(session, key_id)

    monkeypatch.setattr(repo, "api_key_is_live", counted)
    key_id = (await api.db.write(lambda session: revoke_api_key(session, acme.api_key))).id
    keys = LiveKeys(api.db)
    principal = Principal(key_id=key_id, is_admin=False, institutions=(("acme", 1),))
    for _ in range(3):
        with pytest.raises(Unauthorized):
            await keys.ensure_live(principal, now=1_000.0)
    assert reads == [key_id]
