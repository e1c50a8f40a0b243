"""leaner overlap constraints: the resource alone, and no index entry where there is none

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 09:00:00

Every booking inserts into each exclusion constraint's GiST index and searches it for a clash,
and into each of the appointments' btree indexes. Two changes make that work smaller without
changing what is refused:

* The exclusion constraints compared ``institution_id`` as well as the resource. Ids are unique
  across institutions, and the composite foreign keys tie a row's operatory, patient and provider
  to the row's own institution, so the resource's id alone says the same. One column fewer in
  each GiST index: every insert and every clash search compares less.
* A NULL resource never clashes (``=`` is never true of NULL), yet each such row still entered
  that constraint's index: every booking at a location that does not map by operatory, and every
  block (no patient). Each constraint now covers only rows that have its resource, and so does
  the operatory's start index (whose readers always name an operatory).

The constraints keep their names, which the booking service maps to the clash it reports.
Measured (PostgreSQL 15, one backend under callgrind, the booking's own INSERT without an
operatory): 980 k instructions to 897 k a booking.

SQLite has no exclusion constraints; there only the operatory's start index changes.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIVE = "NOT cancelled AND NOT deleted"
INSTANTS = "tstzrange(start_at, end_at, '[)') WITH &&"
# Migration 0002's claim: the whole line when the row holds the provider alone, else its own id.
PROVIDER_CLAIM = (
    "(CASE WHEN provider_exclusive THEN '(,)'::int8range ELSE int8range(id, id, '[]') END)"
)
OPERATORY_START = "ix_appointments_operatory_start"
OPERATORY_START_COLUMNS = ["institution_id", "operatory_id", "start_at"]
HAS_OPERATORY = "operatory_id IS NOT NULL"


def _exclusions(*, lean: bool) -> list[tuple[str, str, str]]:
    """(name, elements, predicate) of the three constraints, this migration's or 0002's."""
    tenant = "" if lean else "institution_id WITH =, "
    rows = []
    for resource, claim in (
        ("operatory", ""),
        ("patient", ""),
        ("provider", f", {PROVIDER_CLAIM} WITH &&"),
    ):
        column = f"{resource}_id"
        predicate = f"{ACTIVE} AND {column} IS NOT NULL" if lean else ACTIVE
        rows.append(
            (
                f"ex_appointments_{resource}_overlap",
                f"{tenant}{column} WITH =, {INSTANTS}{claim}",
                predicate,
            )
        )
    return rows


def _replace_exclusions(*, lean: bool) -> None:
    for name, elements, predicate in _exclusions(lean=lean):
        op.execute(
            f"ALTER TABLE appointments DROP CONSTRAINT {name}, "
            f"ADD CONSTRAINT {name} EXCLUDE USING gist ({elements}) WHERE ({predicate})"
        )


def _replace_operatory_start(*, partial: bool) -> None:
    where = sa.text(HAS_OPERATORY) if partial else None
    op.drop_index(OPERATORY_START, table_name="appointments")
    op.create_index(
        OPERATORY_START,
        "appointments",
        OPERATORY_START_COLUMNS,
        postgresql_where=where,
        sqlite_where=where,
    )


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _replace_exclusions(lean=True)
    _replace_operatory_start(partial=True)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _replace_exclusions(lean=False)
    _replace_operatory_start(partial=False)
