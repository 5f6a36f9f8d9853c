"""sample plans may allocate per stratum (the size rule applied to each stratum: domain.md's default)

Revision ID: 5d1e7c2a9b40
Revises: 28488f2b58ff
Create Date: 2026-11-26 21:10:00

"""

from collections.abc import Sequence

from alembic import op

revision: str = "5d1e7c2a9b40"
down_revision: str | Sequence[str] | None = "28488f2b58ff"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Allow 'per_stratum' in sample_plan.allocation."""
    with op.batch_alter_table("sample_plan", schema=None) as batch_op:
        batch_op.drop_constraint("ck_sample_plan_allocation", type_="check")
        batch_op.create_check_constraint(
            "ck_sample_plan_allocation", "allocation IN ('proportional', 'equal', 'per_stratum')"
        )


def downgrade() -> None:
    """Back to proportional / equal only (per-stratum plans become proportional)."""
    op.execute("UPDATE sample_plan SET allocation = 'proportional' WHERE allocation = 'per_stratum'")
    with op.batch_alter_table("sample_plan", schema=None) as batch_op:
        batch_op.drop_constraint("ck_sample_plan_allocation", type_="check")
        batch_op.create_check_constraint("ck_sample_plan_allocation", "allocation IN ('proportional', 'equal')")
