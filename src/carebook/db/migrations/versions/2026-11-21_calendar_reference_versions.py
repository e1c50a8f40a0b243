"""calendar reference versions: the tables only the Calendar booking's GUID look-up reads move
the reference version too

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21 22:00:00

The Calendar API names everything by GUID; its booking first looks every GUID up in one
statement (``telehealth.calendar_context_query``), and each API process keeps what it found to
book from again while the institution's reference version is unchanged, as it keeps the
booking context (migration 0005, ``carebook.db.context_cache``). Besides the tables 0005
versions, the look-up reads portal users, visit options, specialties, services, visit reasons
and the institution itself: their triggers are here. (Appointments are not versioned: a
look-up that names one, ``ReferredParentId``, is never kept.)

As in 0005, a later migration that rebuilds one of these tables on SQLite must create its
triggers again (:func:`create_sqlite_triggers`).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Tables with their own institution_id...
WITH_INSTITUTION = (
    "portal_users",
    "appointment_type_modes",
    "specialties",
    "services",
    "visit_reasons",
)
# ...and the institution itself, whose id is the institution's.
INSTITUTIONS = "institutions"
OPERATIONS = ("INSERT", "UPDATE", "DELETE")

_PG_INSTITUTION_ROW = """
CREATE FUNCTION carebook_institution_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        PERFORM carebook_bump_reference_version(OLD.id);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        PERFORM carebook_bump_reference_version(NEW.id);
    END IF;
    RETURN NULL;
END
$$
"""


def _trigger_name(table: str, operation: str) -> str:
    return f"trg_{table}_reference_{operation.lower()}"


def _institution_column(table: str) -> str:
    return "id" if table == INSTITUTIONS else "institution_id"


def create_sqlite_triggers(table: str) -> None:
    """``table``'s three triggers on SQLite (also for a later migration that rebuilds it)."""
    column = _institution_column(table)
    for operation in OPERATIONS:
        # An UPDATE bumps the institution the row left as well as the one it is in.
        rows = {"INSERT": ["NEW"], "UPDATE": ["OLD", "NEW"], "DELETE": ["OLD"]}[operation]
        bumps = "".join(
            f"INSERT INTO reference_versions (institution_id, version) "
            f"SELECT {row}.{column}, 1 WHERE true "
            f"ON CONFLICT (institution_id) DO UPDATE SET version = version + 1; "
            for row in rows
        )
        op.execute(
            f"CREATE TRIGGER {_trigger_name(table, operation)} AFTER {operation} ON {table} "
            f"FOR EACH ROW BEGIN {bumps}END"
        )


def upgrade() -> None:
    tables = (*WITH_INSTITUTION, INSTITUTIONS)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_INSTITUTION_ROW)
        for table in tables:
            # carebook_reference_changed() and the bump itself come from 0005.
            function = (
                "carebook_institution_changed"
                if table == INSTITUTIONS
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
    tables = (*WITH_INSTITUTION, INSTITUTIONS)
    if op.get_bind().dialect.name == "postgresql":
        for table in tables:
            op.execute(f"DROP TRIGGER {_trigger_name(table, 'row')} ON {table}")
        op.execute("DROP FUNCTION carebook_institution_changed()")
    else:
        for table in tables:
            for operation in OPERATIONS:
                op.execute(f"DROP TRIGGER {_trigger_name(table, operation)}")
