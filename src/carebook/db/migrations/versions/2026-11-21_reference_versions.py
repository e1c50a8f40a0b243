"""reference versions: a number per institution that every change to booking reference data bumps

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21 20:00:00

A booking reads the records it refers to (location, provider, patient, operatory, appointment
type), whether the provider works at the location, the provider's working hours and whether the
location has closures near the booking. Each API process keeps what it read, per institution,
and books from it again while the institution's *reference version* is unchanged: the booking's
INSERT itself checks the version, so a change committed by any process is seen by the next
booking everywhere (``carebook.db.context_cache``).

The version is kept by triggers, in the transaction that makes the change, on every table
those reads touch: no write path, present or future, can forget it. ``reference_versions`` has
no foreign key and its rows are never deleted, so a version only ever grows (see
``tables.tenancy.ReferenceVersion``).

SQLite drops a table's triggers when a batch migration rebuilds the table: a later migration
that rebuilds one of these tables must create its triggers again, as ``create_sqlite_triggers``
here does.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The tables the booking context reads, each with its own institution_id...
WITH_INSTITUTION = (
    "locations",
    "providers",
    "patients",
    "operatories",
    "appointment_types",
    "provider_locations",
    "working_hours",
    "location_closures",
)
# ...and the one that has none: a working hour's appointment types (its institution is the
# working hour's).
WORKING_HOUR_TYPES = "working_hour_appointment_types"
OPERATIONS = ("INSERT", "UPDATE", "DELETE")

_PG_BUMP = """
CREATE FUNCTION carebook_bump_reference_version(changed bigint) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO reference_versions AS r (institution_id, version) VALUES (changed, 1)
    ON CONFLICT (institution_id) DO UPDATE SET version = r.version + 1
$$
"""
_PG_TENANT_ROW = """
CREATE FUNCTION carebook_reference_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- An UPDATE bumps the institution the row left as well as the one it is in (the same one,
    -- bumped twice, for every UPDATE today: no write path moves a row between institutions).
    IF TG_OP <> 'INSERT' THEN
        PERFORM carebook_bump_reference_version(OLD.institution_id);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        PERFORM carebook_bump_reference_version(NEW.institution_id);
    END IF;
    RETURN NULL;
END
$$
"""
_PG_WORKING_HOUR_TYPE_ROW = """
CREATE FUNCTION carebook_working_hour_types_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- No working hour is found when it is itself being deleted: its own trigger bumps then.
    IF TG_OP <> 'INSERT' THEN
        PERFORM carebook_bump_reference_version(institution_id)
            FROM working_hours WHERE id = OLD.working_hour_id;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        PERFORM carebook_bump_reference_version(institution_id)
            FROM working_hours WHERE id = NEW.working_hour_id;
    END IF;
    RETURN NULL;
END
$$
"""


def _trigger_name(table: str, operation: str) -> str:
    return f"trg_{table}_reference_{operation.lower()}"


def create_sqlite_triggers(table: str) -> None:
    """``table``'s three triggers on SQLite (also for a later migration that rebuilds it)."""
    for operation in OPERATIONS:
        # An UPDATE bumps the institution the row left as well as the one it is in.
        rows = {"INSERT": ["NEW"], "UPDATE": ["OLD", "NEW"], "DELETE": ["OLD"]}[operation]
        bumps = []
        for row in rows:
            if table == WORKING_HOUR_TYPES:
                source = (
                    f"SELECT institution_id, 1 FROM working_hours WHERE id = {row}.working_hour_id"
                )
            else:
                source = f"SELECT {row}.institution_id, 1 WHERE true"
            bumps.append(
                f"INSERT INTO reference_versions (institution_id, version) {source} "
                f"ON CONFLICT (institution_id) DO UPDATE SET version = version + 1; "
            )
        op.execute(
            f"CREATE TRIGGER {_trigger_name(table, operation)} AFTER {operation} ON {table} "
            f"FOR EACH ROW BEGIN {''.join(bumps)}END"
        )


def upgrade() -> None:
    op.create_table(
        "reference_versions",
        sa.Column("institution_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("institution_id", name=op.f("pk_reference_versions")),
    )
    tables = (*WITH_INSTITUTION, WORKING_HOUR_TYPES)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_BUMP)
        op.execute(_PG_TENANT_ROW)
        op.execute(_PG_WORKING_HOUR_TYPE_ROW)
        for table in tables:
            function = (
                "carebook_working_hour_types_changed"
                if table == WORKING_HOUR_TYPES
                else "carebook_reference_changed"
            )
            op.execute(
                f"CREATE TRIGGER {_trigger_name(table, 'row')} "
                f"AFTER INSERT OR UPDATE OR DELETE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION {function}()"
            )
    else:
        for table in tables:
            create_sqlite_triggers(table)


def downgrade() -> None:
    tables = (*WITH_INSTITUTION, WORKING_HOUR_TYPES)
    if op.get_bind().dialect.name == "postgresql":
        for table in tables:
            op.execute(f"DROP TRIGGER {_trigger_name(table, 'row')} ON {table}")
        op.execute("DROP FUNCTION carebook_working_hour_types_changed()")
        op.execute("DROP FUNCTION carebook_reference_changed()")
        op.execute("DROP FUNCTION carebook_bump_reference_version(bigint)")
    else:
        for table in tables:
            for operation in OPERATIONS:
                op.execute(f"DROP TRIGGER {_trigger_name(table, operation)}")
    op.drop_table("reference_versions")
