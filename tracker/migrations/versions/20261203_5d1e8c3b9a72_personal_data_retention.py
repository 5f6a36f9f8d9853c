"""Personal-data retention: work_order.anonymised_at, and the audit trail's personal values masked once

From this revision on, an order event records a personal field masked (name 王**, phone
138****5678, address at road level, phone numbers inside texts masked), so retention can remove
the personal data from an order without touching the append-only trail. The events written
before are masked here, once: the append-only guard against UPDATE is lifted for this one
statement and put back in the same transaction, and the step is recorded as a job run
(``audit-masking``) with the number of events it changed.

The log of revealed phone numbers stays append-only, but a row older than 365 days may now be
deleted (retention keeps it TRACKER_REVEAL_RETENTION_DAYS, 1095 by default, never below 365).

Revision ID: 5d1e8c3b9a72
Revises: 8d4b2f6a0e19
Create Date: 2026-12-03 09:00:00

"""

import json
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import tracker.models
from tracker.domain.privacy import audit_changes, mask_phones_in_text

revision: str = "5d1e8c3b9a72"
down_revision: str | Sequence[str] | None = "8d4b2f6a0e19"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _lift_guard(dialect: str) -> None:
    if dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS order_event_no_update")
    elif dialect == "postgresql":
        op.execute("ALTER TABLE order_event DISABLE TRIGGER USER")


def _restore_guard(dialect: str) -> None:
    if dialect == "postgresql":
        op.execute("ALTER TABLE order_event ENABLE TRIGGER USER")
    else:
        for statement in tracker.models.append_only_statements(dialect):
            op.execute(statement)


REVEAL_SQLITE = (
    "CREATE TRIGGER phone_reveal_no_delete BEFORE DELETE ON phone_reveal{when} "
    "BEGIN SELECT RAISE(ABORT, 'phone_reveal is append-only'); END"
)
REVEAL_PG_FUNCTION = (
    "CREATE OR REPLACE FUNCTION refuse_phone_reveal_change() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    "IF TG_OP = 'DELETE' AND OLD.at < now() - interval '365 days' THEN RETURN OLD; END IF; "
    "RAISE EXCEPTION USING MESSAGE = TG_TABLE_NAME || ' is append-only'; END $$"
)


def _reveal_guard(dialect: str, *, purgeable: bool) -> None:
    if dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS phone_reveal_no_delete")
        op.execute(REVEAL_SQLITE.format(when=" WHEN OLD.at > datetime('now', '-365 days')" if purgeable else ""))
    elif dialect == "postgresql":
        if purgeable:
            op.execute(REVEAL_PG_FUNCTION)
        function = "refuse_phone_reveal_change()" if purgeable else "refuse_append_only_change()"
        op.execute("DROP TRIGGER IF EXISTS phone_reveal_no_change ON phone_reveal")
        op.execute(
            "CREATE TRIGGER phone_reveal_no_change BEFORE UPDATE OR DELETE ON phone_reveal "
            f"FOR EACH ROW EXECUTE FUNCTION {function}"
        )
        if not purgeable:
            op.execute("DROP FUNCTION IF EXISTS refuse_phone_reveal_change()")


def upgrade() -> None:
    _reveal_guard(op.get_bind().dialect.name, purgeable=True)
    with op.batch_alter_table("work_order", schema=None) as batch_op:
        batch_op.add_column(sa.Column("anonymised_at", tracker.models.UTCDateTime(timezone=True), nullable=True))

    bind = op.get_bind()
    dialect = bind.dialect.name
    rows = bind.execute(sa.text("SELECT id, note, changes FROM order_event")).all()
    masked = []
    for event_id, note, changes in rows:
        values = json.loads(changes) if isinstance(changes, str) else (changes or {})
        new_values, new_note = audit_changes(values), mask_phones_in_text(note or "")
        if new_values != values or new_note != (note or ""):
            masked.append({"id": event_id, "note": new_note, "changes": json.dumps(new_values, ensure_ascii=False)})
    if masked:
        _lift_guard(dialect)
        cast = "CAST(:changes AS JSON)" if dialect == "postgresql" else ":changes"
        bind.execute(sa.text(f"UPDATE order_event SET note = :note, changes = {cast} WHERE id = :id"), masked)
        _restore_guard(dialect)
    now = datetime.now(UTC)
    bind.execute(
        sa.text(
            "INSERT INTO job_run (job_id, started_at, finished_at, outcome, counts, summary, runner)"
            " VALUES ('audit-masking', :now, :now, 'ok', :counts, :summary, 'alembic 5d1e8c3b9a72')"
        ).bindparams(sa.bindparam("now", type_=tracker.models.UTCDateTime(timezone=True))),
        {
            "now": now,
            "counts": json.dumps({"events": len(rows), "masked": len(masked)}),
            "summary": f"审计记录中的个人信息已遮盖：共 {len(rows)} 条记录，改动 {len(masked)} 条",
        },
    )


def downgrade() -> None:
    _reveal_guard(op.get_bind().dialect.name, purgeable=False)
    with op.batch_alter_table("work_order", schema=None) as batch_op:
        batch_op.drop_column("anonymised_at")
