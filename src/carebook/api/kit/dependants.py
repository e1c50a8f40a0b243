"""A route's dependency tree, walked once for what the kit asks of it."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi.dependencies.models import Dependant


def walk(dependant: Dependant) -> Iterator[Dependant]:
    """``dependant`` (a route's) and every dependency under it."""
    pending = [dependant]
    while pending:
        current = pending.pop()
        yield current
        pending.extend(current.dependencies)
