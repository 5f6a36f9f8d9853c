"""Attachments (photos, PDF) and notes on an order; order_event accepts the note/attach/detach actions

order_attachment holds one photo or PDF of an order (stored under a generated name in
instance/attachments/, the sanitised original name for display only, content type, size, SHA-256,
capture time, who uploaded it and when, and who withdrew it, when and why; ``purged_at`` when
retention deleted the file). order_note holds a 备注 as written. The audit trail's action check
gains 'note', 'attach' and 'detach'.

SQLite cannot alter a CHECK constraint, and rebuilding order_event would drop its append-only
triggers, so the constraint's text is widened in place (SQLite documents this for CHECK
constraints; every existing row satisfies the wider check). PostgreSQL drops and adds it.

Revision ID: a7c4e2f91b06
Revises: 5d1e8c3b9a72
Create Date: 2026-12-03 17:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import tracker.models

revision: str = "a7c4e2f91b06"
down_revision: str | Sequence[str] | None = "b4e7d2a9c6f1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_ACTIONS = (
    "'dispatch', 'sign', 'first_contact', 'request_extension', 'approve_extension', 'reject_extension', "
    "'request_return', 'approve_return', 'reject_return', 'close', 'redo', 'supervise', 'redispatch', "
    "'platform_close', 'update'"
)
NEW_ACTIONS = OLD_ACTIONS + ", 'note', 'attach', 'detach'"


def _set_action_check(actions: str, previous: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("ALTER TABLE order_event DROP CONSTRAINT ck_order_event_action")
        op.execute(f"ALTER TABLE order_event ADD CONSTRAINT ck_order_event_action CHECK (action IN ({actions}))")
        return
    version = bind.exec_driver_sql("PRAGMA schema_version").scalar_one()
    bind.exec_driver_sql("PRAGMA writable_schema = ON")
    bind.exec_driver_sql(
        "UPDATE sqlite_master SET sql = replace(sql, ?, ?) WHERE type = 'table' AND name = 'order_event'",
        (f"action IN ({previous})", f"action IN ({actions})"),
    )
    bind.exec_driver_sql(f"PRAGMA schema_version = {int(version) + 1}")
    bind.exec_driver_sql("PRAGMA writable_schema = OFF")


def upgrade() -> None:
    op.create_table(
        "order_attachment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("stored_name", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("thumbnail_name", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
        sa.Column("original_name", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("content_type", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("purpose", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("captured_at", tracker.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("uploaded_by", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("uploaded_by_name", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("uploaded_at", tracker.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("removed_at", tracker.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("removed_by", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
        sa.Column("removed_reason", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("purged_at", tracker.models.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "content_type IN ('image/jpeg', 'image/png', 'application/pdf')", name="ck_order_attachment_type"
        ),
        sa.CheckConstraint(
            "purpose IN ('first_contact', 'close', 'verification', 'other')", name="ck_order_attachment_purpose"
        ),
        sa.ForeignKeyConstraint(["order_id"], ["work_order.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("stored_name"),
    )
    op.create_index(op.f("ix_order_attachment_order_id"), "order_attachment", ["order_id"], unique=False)
    op.create_table(
        "order_note",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("text", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("author", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("author_name", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("at", tracker.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["work_order.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_order_note_order_id"), "order_note", ["order_id"], unique=False)
    _set_action_check(NEW_ACTIONS, OLD_ACTIONS)


def downgrade() -> None:
    op.drop_index(op.f("ix_order_note_order_id"), table_name="order_note")
    op.drop_table("order_note")
    op.drop_index(op.f("ix_order_attachment_order_id"), table_name="order_attachment")
    op.drop_table("order_attachment")
    _set_action_check(OLD_ACTIONS, NEW_ACTIONS)  # fails on PostgreSQL while such events exist, as it should
