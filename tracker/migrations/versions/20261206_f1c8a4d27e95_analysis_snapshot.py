"""analysis_snapshot: the 分析 page per scope ('' = the district, else a street) as the nightly metrics job computed it

Counts and building-level places only (JSON); the page reads today's row instead of the orders.

Revision ID: f1c8a4d27e95
Revises: e3b9c71d5a24
Create Date: 2026-12-06 04:30:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import tracker.models

revision: str = "f1c8a4d27e95"
down_revision: str | Sequence[str] | None = "e3b9c71d5a24"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "analysis_snapshot",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("computed_at", tracker.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("scope"),
    )


def downgrade() -> None:
    op.drop_table("analysis_snapshot")
