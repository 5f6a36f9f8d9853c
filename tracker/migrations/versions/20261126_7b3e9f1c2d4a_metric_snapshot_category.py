"""metric_snapshot gains a category dimension (blank = every category), so the dashboard's category view reads sums

Revision ID: 7b3e9f1c2d4a
Revises: 5d1e7c2a9b40
Create Date: 2026-11-26 23:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "7b3e9f1c2d4a"
down_revision: str | Sequence[str] | None = "5d1e7c2a9b40"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Existing rows are the streets' all-category rates (category blank); the next nightly run adds the rest."""
    with op.batch_alter_table("metric_snapshot", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("category", sqlmodel.sql.sqltypes.AutoString(), server_default="", nullable=False)
        )
        batch_op.drop_constraint("uq_metric_snapshot", type_="unique")
        batch_op.create_unique_constraint("uq_metric_snapshot", ["day", "street", "category", "metric"])
        batch_op.create_index("ix_metric_snapshot_category_day", ["category", "day"], unique=False)


def downgrade() -> None:
    """Back to one row per street, day and metric: the per-category rows are dropped."""
    op.execute("DELETE FROM metric_snapshot WHERE category <> ''")
    with op.batch_alter_table("metric_snapshot", schema=None) as batch_op:
        batch_op.drop_index("ix_metric_snapshot_category_day")
        batch_op.drop_constraint("uq_metric_snapshot", type_="unique")
        batch_op.create_unique_constraint("uq_metric_snapshot", ["day", "street", "metric"])
        batch_op.drop_column("category")
