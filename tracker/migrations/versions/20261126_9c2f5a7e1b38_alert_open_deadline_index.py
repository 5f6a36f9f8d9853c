"""open alerts indexed by stage (resolved_at, deadline_id, level_rank, due_at) instead of (resolved_at, level_rank)

Revision ID: 9c2f5a7e1b38
Revises: 4e8a1b6c9d20
Create Date: 2026-11-26 23:40:00

"""

from collections.abc import Sequence

from alembic import op

revision: str = "9c2f5a7e1b38"
down_revision: str | Sequence[str] | None = "4e8a1b6c9d20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """The scan reads every open alert with its stage from the index alone, in stage order.

    (resolved_at, level_rank) goes: ix_alert_open_order (resolved_at, level_rank DESC, due_at, id)
    serves the counts per level it served.
    """
    op.drop_index("ix_alert_open", table_name="alert")
    op.create_index(
        "ix_alert_open_deadline", "alert", ["resolved_at", "deadline_id", "level_rank", "due_at"], unique=False
    )


def downgrade() -> None:
    """Back to (resolved_at, level_rank)."""
    op.drop_index("ix_alert_open_deadline", table_name="alert")
    op.create_index("ix_alert_open", "alert", ["resolved_at", "level_rank"], unique=False)
