"""Cheaper import rows: the import's CHECKs as comparisons instead of IN lists; ix_order_event_at dropped

SQLite evaluates ``x IN ('a', 'b', …)`` by building a small lookup table for every row an
``executemany`` inserts, which on order_event cost as much as storing the row; ``x = 'a' OR
x = 'b' …`` accepts exactly the same values (NULL included) and costs nothing measurable
(issue 16). The tables an import writes (work_order, order_deadline, order_event, import_issue)
get the comparison form; ix_order_event_at is read by no statement (an order's trail is read
by order_id) and only slowed every event written.

SQLite cannot alter a CHECK constraint, and rebuilding these tables is not an option: it would
drop order_event's append-only triggers, rewrite every row, and, with foreign keys on, dropping
work_order would delete or refuse its deadlines and events. So, as in a7c4e2f91b06, the
constraint's text is rewritten in place (SQLite documents this for CHECK constraints; every
stored row satisfies the equivalent check). PostgreSQL drops and adds each constraint.

The value lists are written out here rather than imported, so this revision keeps meaning
what it meant.

Revision ID: c8f2e4a6b913
Revises: a5d3c8e1f702
Create Date: 2026-12-06 07:00:00

"""

from collections.abc import Callable, Sequence

from alembic import op

revision: str = "c8f2e4a6b913"
down_revision: str | Sequence[str] | None = "a5d3c8e1f702"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIONS = (
    "dispatch sign first_contact request_extension approve_extension reject_extension request_return "
    "approve_return reject_return close redo supervise redispatch platform_close update note attach detach"
)
# (table, constraint, column, values, NULL allowed)
CHECKS = (
    ("work_order", "ck_work_order_state", "state", "dispatched handling return_requested returned closed", False),
    (
        "work_order",
        "ck_work_order_extension_status",
        "extension_status",
        "none requested approved rejected cancelled",
        False,
    ),
    (
        "order_deadline",
        "ck_order_deadline_stage",
        "stage",
        "first_contact closure return_decision extension_decision redo supervision",
        False,
    ),
    ("order_deadline", "ck_order_deadline_unit", "unit", "working_days hours fixed", False),
    ("order_deadline", "ck_order_deadline_outcome", "outcome", "met late missed cancelled", True),
    ("order_event", "ck_order_event_action", "action", ACTIONS, False),
    ("import_issue", "ck_import_issue_kind", "kind", "rejected conflict warning", False),
)


def in_list(column: str, values: str, nullable: bool) -> str:
    """The check as the earlier revisions wrote it."""
    listed = ", ".join(f"'{v}'" for v in values.split())
    return ("" if not nullable else f"{column} IS NULL OR ") + f"{column} IN ({listed})"


def comparisons(column: str, values: str, nullable: bool) -> str:
    """The same check as comparisons (the text tracker.models writes)."""
    compared = "(" + " OR ".join(f"{column} = '{v}'" for v in values.split()) + ")"
    return ("" if not nullable else f"{column} IS NULL OR ") + compared


def _rewrite(old: Callable[[str, str, bool], str], new: Callable[[str, str, bool], str]) -> None:
    """Each import table's checks from ``old`` form to ``new`` (functions of column, values, nullable)."""
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        for table, name, column, values, nullable in CHECKS:
            op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
            op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} CHECK ({new(column, values, nullable)})")
        return
    version = bind.exec_driver_sql("PRAGMA schema_version").scalar_one()
    bind.exec_driver_sql("PRAGMA writable_schema = ON")
    for table, name, column, values, nullable in CHECKS:
        before = f"CONSTRAINT {name} CHECK ({old(column, values, nullable)})"
        after = f"CONSTRAINT {name} CHECK ({new(column, values, nullable)})"
        bind.exec_driver_sql(
            "UPDATE sqlite_master SET sql = replace(sql, ?, ?) WHERE type = 'table' AND name = ?",
            (before, after, table),
        )
        found = bind.exec_driver_sql(
            "SELECT instr(sql, ?) FROM sqlite_master WHERE type = 'table' AND name = ?", (after, table)
        ).scalar_one()
        if not found:  # a schema this revision does not know: stop rather than leave it half rewritten
            raise RuntimeError(f"{table}.{name}: the constraint is not as expected ({before})")
    bind.exec_driver_sql(f"PRAGMA schema_version = {int(version) + 1}")
    bind.exec_driver_sql("PRAGMA writable_schema = OFF")


def upgrade() -> None:
    _rewrite(in_list, comparisons)
    op.drop_index("ix_order_event_at", table_name="order_event")


def downgrade() -> None:
    op.create_index("ix_order_event_at", "order_event", ["at"], unique=False)
    _rewrite(comparisons, in_list)
