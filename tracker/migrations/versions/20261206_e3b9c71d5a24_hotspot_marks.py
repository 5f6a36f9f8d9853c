"""源头治理 marks on recurring places (hotspot_mark) and their append-only audit (hotspot_event)

hotspot_mark: one row per (building-level place, category) a supervisor marked 源头治理中, with the
responsible street, the note, the hotspot's count when marked, and when it ended. hotspot_event:
every mark, change and end, refusing UPDATE and DELETE at the database like order_event.

Revision ID: e3b9c71d5a24
Revises: 6e2b9d4c1f83
Create Date: 2026-12-06 04:10:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import tracker.models

revision: str = "e3b9c71d5a24"
down_revision: str | Sequence[str] | None = "6e2b9d4c1f83"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "hotspot_mark",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("place", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("category", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("street", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("count_at_mark", sa.Integer(), nullable=False),
        sa.Column("window_days", sa.Integer(), nullable=False),
        sa.Column("marked_at", tracker.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("marked_by", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("marked_by_name", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("ended_at", tracker.models.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('treating', 'ended')", name="ck_hotspot_mark_status"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("place", "category", name="uq_hotspot_mark_place_category"),
    )
    op.create_table(
        "hotspot_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mark_id", sa.Integer(), nullable=False),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("street", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("actor_name", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("at", tracker.models.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("action IN ('mark', 'update', 'end')", name="ck_hotspot_event_action"),
        sa.ForeignKeyConstraint(["mark_id"], ["hotspot_mark.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_hotspot_event_mark_id"), "hotspot_event", ["mark_id"], unique=False)
    for statement in tracker.models.append_only_ddl("hotspot_event", op.get_bind().dialect.name):
        op.execute(statement)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS hotspot_event_no_change ON hotspot_event")
        op.execute("DROP TRIGGER IF EXISTS hotspot_event_no_truncate ON hotspot_event")
    op.drop_index(op.f("ix_hotspot_event_mark_id"), table_name="hotspot_event")
    op.drop_table("hotspot_event")
    op.drop_table("hotspot_mark")
