"""work_order.line_hash: the digest of the CSV line an order was last imported from

An unchanged row of a re-exported CSV is then recognised from its line's bytes, without the
row being parsed; an index on (source, order_no, line_hash) lets the re-import read a run of
order numbers' line digests from the index alone. Orders imported before have none; their rows
are compared field by field as before, and gain one the next time they change.

Revision ID: 3f6a2d8e1c47
Revises: 9c2f5a7e1b38
Create Date: 2026-12-02 17:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "3f6a2d8e1c47"
down_revision: str | Sequence[str] | None = "9c2f5a7e1b38"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("work_order", schema=None) as batch_op:
        batch_op.add_column(sa.Column("line_hash", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True))
        batch_op.create_index("ix_work_order_source_no_line", ["source", "order_no", "line_hash"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("work_order", schema=None) as batch_op:
        batch_op.drop_index("ix_work_order_source_no_line")
        batch_op.drop_column("line_hash")
