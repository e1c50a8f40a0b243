"""deleted rows' ids never come back on SQLite; an empty JSON column is NULL; a dependants index

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21 18:00:00

Three changes to the data layer:

* ``working_hours`` and ``location_closures`` rows are deleted for real (their DELETE answers
  204). SQLite gives a new row the highest id in use plus one, so the id of a deleted last row
  was handed out again: a retried DELETE, or a stale link, then reached a different record.
  Both tables now use SQLite's ``AUTOINCREMENT`` (PostgreSQL's identities never went back). SQLite
  cannot alter that in place: each table is rebuilt, rows and indexes kept. A working hour's
  appointment types are set aside during the rebuild and put back, because dropping the old
  table deletes them (``ON DELETE CASCADE``) where foreign keys are enforced.
* The nullable JSON columns stored Python None as the JSON text ``null`` when written through the
  ORM and as SQL NULL through the booking's driver path. Both now write NULL
  (``types.NullableJSON``), and existing ``null`` texts become NULL.
* An index on ``patients (institution_id, guarantor_id)``: every guardian booking looks for the
  guardian's dependants, and the Calendar API lists them per portal user.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NEVER_REUSE_IDS = ("working_hours", "location_closures")
# (table, column) of every nullable JSON column.
NULLABLE_JSON = (
    ("appointments", "booking_details"),
    ("appointments", "doc_ids"),
    ("procedures", "body_site"),
    ("appointment_descriptors", "data"),
    ("working_hours", "days"),
)
GUARANTOR_INDEX = "ix_patients_institution_guarantor"
_SET_ASIDE = "_carebook_0004_working_hour_types"
_TYPE_COLUMNS = "working_hour_id, appointment_type_id"


def _rebuild_sqlite_tables(*, autoincrement: bool) -> None:
    op.execute(
        f"CREATE TEMP TABLE {_SET_ASIDE} AS "
        f"SELECT {_TYPE_COLUMNS} FROM working_hour_appointment_types"
    )
    # Gone either way, cascaded or not, so that putting them back cannot meet a copy.
    op.execute("DELETE FROM working_hour_appointment_types")
    for table in NEVER_REUSE_IDS:
        with op.batch_alter_table(
            table, recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
        ):
            pass
    op.execute(
        f"INSERT INTO working_hour_appointment_types ({_TYPE_COLUMNS}) "
        f"SELECT {_TYPE_COLUMNS} FROM {_SET_ASIDE}"
    )
    op.execute(f"DROP TABLE {_SET_ASIDE}")


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        _rebuild_sqlite_tables(autoincrement=True)
    for table, column in NULLABLE_JSON:
        stored = f"{column}::text" if dialect == "postgresql" else column
        op.execute(f"UPDATE {table} SET {column} = NULL WHERE {stored} = 'null'")
    op.create_index(GUARANTOR_INDEX, "patients", ["institution_id", "guarantor_id"])


def downgrade() -> None:
    op.drop_index(GUARANTOR_INDEX, table_name="patients")
    # NULL reads as None under either rule: the JSON columns need nothing back.
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite_tables(autoincrement=False)
