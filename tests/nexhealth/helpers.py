"""Shared helpers of the NexHealth resource tests."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.support import Clinic

INSTANT_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


class _Instant:
    """Equal to any UTC instant written as NexHealth writes them (``...T15:00:00.000Z``)."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and bool(INSTANT_RE.match(other))

    def __hash__(self) -> int:
        return 0

    def __repr__(self) -> str:
        return "<UTC instant>"


INSTANT = _Instant()


def url(clinic: Clinic | str, path: str, **params: Any) -> str:
    subdomain = clinic if isinstance(clinic, str) else clinic.subdomain
    query = f"subdomain={subdomain}"
    for key, value in params.items():
        query += f"&{key}={value}"
    return f"{path}?{query}"


def ok(response: httpx.Response, status: int = 200) -> Any:
    """The ``data`` of a successful envelope (and checks the envelope around it)."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] is True
    assert body["error"] is None
    return body["data"]


def errors(response: httpx.Response, status: int) -> list[str]:
    """The messages of a failed envelope (and checks the envelope around them)."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"code", "description", "error", "data", "count"}
    assert body["code"] is False
    assert body["data"] is None
    assert body["count"] is None
    messages: list[str] = body["error"]
    return messages


UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


class _Guid:
    """Equal to any version-4 UUID in its canonical text form (the Calendar API's ids)."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and bool(UUID_RE.match(other))

    def __hash__(self) -> int:
        return 0

    def __repr__(self) -> str:
        return "<GUID>"


GUID = _Guid()
