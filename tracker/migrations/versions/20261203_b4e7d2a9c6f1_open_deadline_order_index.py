"""Open deadlines by order: the work queue's next due time per order read from a small covering index

``ix_order_deadline_open_order`` (order_id, due_at) WHERE completed_at IS NULL holds only the open
deadlines; the queue's ``min(due_at) … GROUP BY order_id`` is one pass over it instead of a walk
over every deadline (100,000 orders: 160 ms → 5 ms, docs/benchmarks.md).

Revision ID: b4e7d2a9c6f1
Revises: 5d1e8c3b9a72
Create Date: 2026-12-03 17:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b4e7d2a9c6f1"
down_revision: str | Sequence[str] | None = "5d1e8c3b9a72"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_order_deadline_open_order",
        "order_deadline",
        ["order_id", "due_at"],
        sqlite_where=sa.text("completed_at IS NULL"),
        postgresql_where=sa.text("completed_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_order_deadline_open_order", table_name="order_deadline")
