"""Append-only audit tables (TRUNCATE refused too), the export log, forced password change

order_event gains a statement-level BEFORE TRUNCATE trigger on PostgreSQL (its UPDATE/DELETE
triggers came with the initial schema); phone_reveal becomes append-only on both databases; the
new export_log (who exported what, when, with which filter and how many rows) is append-only
from birth. app_user.must_change_password marks an account whose password someone else chose;
login_attempt.device (hash of a known-device cookie's id) gives a known browser its own back-off.

The trigger SQL is written out here rather than imported, so this revision keeps meaning what it
meant when it was written.

Revision ID: 8d4b2f6a0e19
Revises: 3f6a2d8e1c47
Create Date: 2026-12-03 09:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import tracker.models

revision: str = "8d4b2f6a0e19"
down_revision: str | Sequence[str] | None = "3f6a2d8e1c47"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PG_FUNCTION = (
    "CREATE OR REPLACE FUNCTION refuse_append_only_change() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN RAISE EXCEPTION USING MESSAGE = TG_TABLE_NAME || ' is append-only'; END $$"
)


def _append_only(table: str, dialect: str) -> list[str]:
    if dialect == "sqlite":
        return [
            f"CREATE TRIGGER IF NOT EXISTS {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            for verb in ("UPDATE", "DELETE")
        ]
    if dialect == "postgresql":
        return [
            PG_FUNCTION,
            f"DROP TRIGGER IF EXISTS {table}_no_change ON {table}",
            f"CREATE TRIGGER {table}_no_change BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION refuse_append_only_change()",
            f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}",
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION refuse_append_only_change()",
        ]
    return []


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.create_table(
        "export_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("user_name", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("at", tracker.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("row_count", sa.Integer(), nullable=False),
        sa.Column("masked", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("export_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_export_log_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_export_log_user_id"), ["user_id"], unique=False)
    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.add_column(sa.Column("must_change_password", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("login_attempt", schema=None) as batch_op:
        batch_op.add_column(sa.Column("device", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
    for table in ("order_event", "phone_reveal", "export_log"):
        for statement in _append_only(table, dialect):
            op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for verb in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS phone_reveal_no_{verb}")
    elif dialect == "postgresql":
        for table in ("order_event", "phone_reveal"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_change ON {table}")
        # order_event goes back to the row trigger of the initial schema
        op.execute(
            "CREATE TRIGGER order_event_no_change BEFORE UPDATE OR DELETE ON order_event "
            "FOR EACH ROW EXECUTE FUNCTION order_event_append_only()"
        )
    with op.batch_alter_table("login_attempt", schema=None) as batch_op:
        batch_op.drop_column("device")
    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.drop_column("must_change_password")
    op.drop_table("export_log")  # its triggers go with it
    if dialect == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS refuse_append_only_change()")
