"""hotline_notices_checks: 热线通报 and the 核查 of each line, its audit (append-only), and the 核查 rule in deadline_rule

Revision ID: a5d3c8e1f702
Revises: f1c8a4d27e95
Create Date: 2026-12-06 05:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import tracker.models

revision: str = "a5d3c8e1f702"
down_revision: str | Sequence[str] | None = "f1c8a4d27e95"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STAGES = "'first_contact', 'closure', 'return_decision', 'extension_decision', 'redo', 'supervision'"
OLD_RULE_STAGE = f"stage IN ({_STAGES})"
NEW_RULE_STAGE = f"(stage IN ({_STAGES}) OR stage = 'verification')"


def _rule_stage(check: str) -> None:
    with op.batch_alter_table("deadline_rule", recreate="always") as batch_op:
        batch_op.drop_constraint("ck_deadline_rule_stage", type_="check")
        batch_op.create_check_constraint("ck_deadline_rule_stage", check)


def upgrade() -> None:
    op.create_table(
        "hotline_notice",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("notice_no", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("file_name", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("imported_at", tracker.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("imported_by", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("imported_by_name", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source", "notice_no", name="uq_hotline_notice_source_no"),
    )
    op.create_table(
        "notice_check",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("order_no", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("notice_date", sa.Date(), nullable=True),
        sa.Column("requirement", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("due_at", tracker.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("due_basis", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("rule_label", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("conclusion", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("cause", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("measures", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("answered_at", tracker.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("answered_by", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
        sa.Column("answered_by_name", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
        sa.Column("decided_at", tracker.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
        sa.Column("return_reason", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("return_count", sa.Integer(), nullable=False),
        sa.Column("alert_level", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("alert_changed_at", tracker.models.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'answered', 'returned', 'accepted')", name="ck_notice_check_status"
        ),
        sa.CheckConstraint(
            "conclusion IS NULL OR conclusion IN ('属实', '部分属实', '不属实')", name="ck_notice_check_conclusion"
        ),
        sa.CheckConstraint(
            "alert_level IS NULL OR alert_level IN ('blue', 'yellow', 'red')", name="ck_notice_check_alert"
        ),
        sa.CheckConstraint("due_basis IN ('notice', 'rule')", name="ck_notice_check_due_basis"),
        sa.ForeignKeyConstraint(["notice_id"], ["hotline_notice.id"]),
        sa.ForeignKeyConstraint(["order_id"], ["work_order.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("notice_id", "order_no", "kind", name="uq_notice_check_line"),
    )
    with op.batch_alter_table("notice_check", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notice_check_notice_id"), ["notice_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_notice_check_order_id"), ["order_id"], unique=False)
        batch_op.create_index("ix_notice_check_status_due", ["status", "due_at"], unique=False)
    op.create_table(
        "notice_check_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("check_id", sa.Integer(), nullable=False),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("status_after", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("actor_name", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("at", tracker.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.CheckConstraint(
            "action IN ('import', 'link', 'answer', 'accept', 'return', 'redo')", name="ck_notice_check_event_action"
        ),
        sa.ForeignKeyConstraint(["check_id"], ["notice_check.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("notice_check_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notice_check_event_check_id"), ["check_id"], unique=False)
    for statement in tracker.models.append_only_ddl("notice_check_event", op.get_bind().dialect.name):
        op.execute(statement)
    _rule_stage(NEW_RULE_STAGE)


def downgrade() -> None:
    op.execute("DELETE FROM deadline_rule WHERE stage = 'verification'")
    _rule_stage(OLD_RULE_STAGE)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS notice_check_event_no_change ON notice_check_event")
        op.execute("DROP TRIGGER IF EXISTS notice_check_event_no_truncate ON notice_check_event")
    with op.batch_alter_table("notice_check_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notice_check_event_check_id"))
    op.drop_table("notice_check_event")
    with op.batch_alter_table("notice_check", schema=None) as batch_op:
        batch_op.drop_index("ix_notice_check_status_due")
        batch_op.drop_index(batch_op.f("ix_notice_check_order_id"))
        batch_op.drop_index(batch_op.f("ix_notice_check_notice_id"))
    op.drop_table("notice_check")
    op.drop_table("hotline_notice")
