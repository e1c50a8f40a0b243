"""stored zone names that tzdata does not know, renamed to the IANA zone each stood for

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 16:00:00

Zones used to be looked up in the machine's zoneinfo directory as well as in the tzdata
package, which let names through that are not IANA zones: "posixrules" (a link to
America/New_York), the "posix/" and "right/" variants of real zones, and "localtime" (the
machine's own zone). Carebook now knows tzdata's zones only (``core.time``), so a location,
provider, patient or portal user stored with such a name would fail every booking. This renames
each to the zone it stood for ("localtime": the zone the machine's /etc/localtime links to).
A stored name it cannot place makes the migration fail, naming the table and the name: set
that column to an IANA zone, then run it again.
"""

import os
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from carebook.core.time import IANA_ZONES

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("locations", "providers", "patients", "portal_users")  # each has a ``tz`` column


def _machine_zone() -> str | None:
    """The IANA zone the machine's own zone is (what "localtime" loaded), if it names one."""
    for link in ("/etc/localtime", "/usr/share/zoneinfo/localtime"):
        target = os.path.realpath(link)
        _, found, name = target.partition("zoneinfo/")
        if found and name in IANA_ZONES:
            return name
    return None


def zone_for(name: str) -> str | None:
    """The IANA zone a stored legacy name stood for; None if it is none of them."""
    if name == "posixrules":
        return "America/New_York"
    if name == "localtime":
        return _machine_zone()
    for prefix in ("posix/", "right/"):
        rest = name.removeprefix(prefix)
        if rest != name and rest in IANA_ZONES:
            return rest
    return None


def upgrade() -> None:
    bind = op.get_bind()
    unplaced: list[str] = []
    for table in TABLES:
        rows = bind.execute(sa.text(f"SELECT DISTINCT tz FROM {table} WHERE tz IS NOT NULL"))
        for (name,) in rows.all():
            if name in IANA_ZONES:
                continue
            zone = zone_for(name)
            if zone is None:
                unplaced.append(f"{table}.tz = {name!r}")
                continue
            bind.execute(
                sa.text(f"UPDATE {table} SET tz = :zone WHERE tz = :name"),
                {"zone": zone, "name": name},
            )
    if unplaced:
        raise RuntimeError(
            "stored zones that are not IANA zones: "
            + ", ".join(unplaced)
            + "; set them to IANA zone names (for example America/New_York), then migrate again"
        )


def downgrade() -> None:
    """Nothing to undo: each new name is the zone the old one stood for."""
