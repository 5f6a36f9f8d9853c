"""Backfill: a history imported into an empty database, its secondary indexes built after the rows.

A large history written into indexed tables pays for every index on every row, in the order the
rows arrive; built afterwards, each index is one sort. Only for a database with no order yet: on a
database in use, the pages and jobs that read through those indexes would crawl meanwhile.

What stays while the rows are written: the primary keys and unique keys (the import looks orders up
by (source, 工单编号), and the unique key is what refuses a duplicate), and ``ix_work_order_repeat``,
which every chunk's repeat lookup reads (without it each chunk would read the growing table whole).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from sqlalchemy import text
from sqlmodel import Session

from tracker.domain.errors import TrackerError
from tracker.services.imports.importer import ImportOptions, import_file, lock_imports
from tracker.services.imports.report import ImportReport

BACKFILL_TABLES = ("work_order", "order_deadline", "order_event")
KEPT_INDEXES = frozenset({"ix_work_order_repeat"})

_PG_INDEXES = text(
    "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
    " WHERE i.indrelid = CAST(:table AS regclass) AND NOT i.indisunique AND NOT i.indisprimary ORDER BY c.relname"
)
_SQLITE_INDEXES = text(
    "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = :table AND sql IS NOT NULL"
    " AND upper(sql) NOT LIKE 'CREATE UNIQUE%' ORDER BY name"
)


class BackfillRefused(TrackerError):
    """A backfill asked for on a database that already holds orders."""

    def __init__(self, orders: int) -> None:
        super().__init__(
            f"数据库中已有 {orders} 条工单，不能按 --backfill 导入：该方式只用于向空数据库导入历史数据"
            "（导入期间先去掉辅助索引，导入后重建）。请去掉 --backfill，按日常方式导入。"
        )


def secondary_indexes(session: Session) -> list[tuple[str, str]]:
    """The droppable indexes of the import's tables, as (name, the database's own CREATE statement)."""
    query = _PG_INDEXES if session.get_bind().dialect.name == "postgresql" else _SQLITE_INDEXES
    found: list[tuple[str, str]] = []
    for table in BACKFILL_TABLES:
        found += [(name, sql) for name, sql in session.execute(query, {"table": table}).all()]
    return [(name, sql) for name, sql in found if name not in KEPT_INDEXES]


def backfill_file(session: Session, path: Path, *, options: ImportOptions) -> ImportReport:
    """Import ``path`` into a database with no order, the secondary indexes dropped first and built after.

    Everything happens in the caller's one transaction, under the import lock (taken first, so no
    order can arrive between the check and the import): the indexes are dropped, the file imported
    chunk by chunk, the indexes built again from the statements the database itself gave. Both
    databases roll DDL back with the transaction, so an import that fails (and is rolled back by
    the caller) leaves every index as it was; a dry run likewise.
    """
    lock_imports(session)
    if session.execute(text("SELECT id FROM work_order LIMIT 1")).first() is not None:
        raise BackfillRefused(int(session.execute(text("SELECT count(*) FROM work_order")).scalar_one()))
    indexes = secondary_indexes(session)
    connection = session.connection()
    for name, _sql in indexes:
        connection.exec_driver_sql(f'DROP INDEX "{name}"')
    # chunked under the lock already held: planning first would end this transaction (and its drops)
    report = import_file(session, path, options=replace(options, plan_first=False))
    for _name, sql in indexes:
        connection.exec_driver_sql(sql)
    if connection.dialect.name == "postgresql":
        # the planner's statistics of tables that were empty: without them the next import's lookups read
        # whole tables until autovacuum gets round to them (or never, where it is off)
        connection.exec_driver_sql(f"ANALYZE {', '.join(BACKFILL_TABLES)}")
    return report
