"""the closure index covers what a spot-check draw reads (state, street, category, satisfaction, returns, repeat)

Revision ID: 4e8a1b6c9d20
Revises: 7b3e9f1c2d4a
Create Date: 2026-11-26 23:10:00

"""

from collections.abc import Sequence

from alembic import op

revision: str = "4e8a1b6c9d20"
down_revision: str | Sequence[str] | None = "7b3e9f1c2d4a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COVERED = ["closed_at", "state", "street", "category", "satisfaction", "return_count", "is_repeat"]


def upgrade() -> None:
    """A draw over a month of closures reads the index alone instead of one table row per order."""
    op.drop_index("ix_work_order_closed", table_name="work_order")
    op.create_index("ix_work_order_closed", "work_order", COVERED, unique=False)


def downgrade() -> None:
    """Back to the closure time alone."""
    op.drop_index("ix_work_order_closed", table_name="work_order")
    op.create_index("ix_work_order_closed", "work_order", ["closed_at"], unique=False)
