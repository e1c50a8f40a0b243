"""the provider-overlap rule, whole, in PostgreSQL's exclusion constraint

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 12:30:00

Two of a provider's active rows may not overlap when *either* of them holds the provider alone
(``provider_exclusive``: a block, or an appointment at a location that forbids provider overlap).
The first constraint expressed only "both hold the provider alone", which left two cases to the
booking's probe: a block against an appointment at a location that allows overlap, and an
appointment there against one at a location that forbids it (the latter was not refused at
all). A probe runs on its statement's snapshot, so on PostgreSQL two such bookings racing each
other could both commit. Now the constraint expresses the rule whole, so the database refuses
every overlap it forbids, whoever writes the row.

How: besides the instants, each row claims an ``int8range``: the whole line when it holds the
provider alone, else the point of its own id. Two claims overlap exactly when either row holds
the provider alone (two shared rows claim distinct points), so ``WITH &&`` on the claim adds the
"either" to the constraint. Rows already in the table that break the rule make this migration
fail with PostgreSQL's own error naming them: resolve those bookings, then run it again.

SQLite has no exclusion constraints (its writers are serialised, and the probe runs under
``BEGIN IMMEDIATE``): nothing changes there.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = "ex_appointments_provider_overlap"
CLAIM = "(CASE WHEN provider_exclusive THEN '(,)'::int8range ELSE int8range(id, id, '[]') END)"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"ALTER TABLE appointments DROP CONSTRAINT {NAME}")
    op.execute(
        f"ALTER TABLE appointments ADD CONSTRAINT {NAME} EXCLUDE USING gist "
        "(institution_id WITH =, provider_id WITH =, tstzrange(start_at, end_at, '[)') WITH &&, "
        f"{CLAIM} WITH &&) WHERE (NOT cancelled AND NOT deleted)"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"ALTER TABLE appointments DROP CONSTRAINT {NAME}")
    op.execute(
        f"ALTER TABLE appointments ADD CONSTRAINT {NAME} EXCLUDE USING gist "
        "(institution_id WITH =, provider_id WITH =, tstzrange(start_at, end_at, '[)') WITH &&) "
        "WHERE (NOT cancelled AND NOT deleted AND provider_exclusive)"
    )
