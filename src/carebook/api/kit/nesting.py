"""How deep a JSON value nests, measured without recursion (any depth, constant stack)."""

from __future__ import annotations


def nests_deeper_than(value: object, limit: int) -> bool:
    """Whether ``value`` (JSON as ``json.loads`` gives it: dicts, lists, scalars) nests objects
    and arrays more than ``limit`` levels deep; an object or array is itself the first level.

    Walked level by level, never recursively, and never past level ``limit + 1``: a value too
    deep for a recursive walk (or for pydantic's serialiser) is measured like any other."""
    level: list[object] = [value]
    depth = 0
    while True:
        inside: list[object] = []
        containers = False
        for item in level:
            if isinstance(item, dict):
                inside.extend(item.values())
                containers = True
            elif isinstance(item, list):
                inside.extend(item)
                containers = True
        if not containers:
            return False
        depth += 1
        if depth > limit:
            return True
        level = inside
