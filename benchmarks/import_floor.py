"""The write floor of an import: the very rows it stored, written again into an empty schema with nothing else.

What a fresh import could cost at best with its schema: no reading, parsing, planning or conversion,
one transaction. Used by ``import_orders`` beside its references (issue 16).
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any


def reset_pg(url: str) -> None:
    from sqlalchemy import create_engine

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    engine.dispose()


TABLES = ("work_order", "order_deadline", "order_event")
BEFORE_ISSUE_16 = "a5d3c8e1f702"  # IN-list checks and ix_order_event_at


def migrate(url: str, revision: str) -> None:
    """An empty schema at ``revision``."""
    from alembic import command
    from alembic.config import Config

    config = Config("alembic.ini")
    config.set_main_option("sqlalchemy.url", url)
    command.upgrade(config, revision)


def sqlite_floor(source: Path, folder: Path, revision: str, *, bare: bool) -> float:
    """Seconds to write the rows ``source`` holds into an empty schema at ``revision``, nothing else.

    One transaction, ``executemany`` per table, the import's pragmas (WAL, foreign keys, 256 MB cache);
    ``bare`` drops the secondary indexes first. Only the writing is timed, not reading the rows.
    """
    dest = folder / f"floor-{revision}-{'bare' if bare else 'indexed'}.db"
    dest.unlink(missing_ok=True)
    migrate(f"sqlite:///{dest}", revision)
    src = sqlite3.connect(source)
    out = sqlite3.connect(dest, isolation_level=None)
    out.execute("PRAGMA journal_mode=WAL")
    out.execute("PRAGMA foreign_keys=ON")
    out.execute(f"PRAGMA cache_size=-{256 * 1024}")
    if bare:
        for (name,) in out.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN "
            "('work_order', 'order_deadline', 'order_event') AND upper(sql) NOT LIKE 'CREATE UNIQUE%'"
        ).fetchall():
            out.execute(f'DROP INDEX "{name}"')
    seconds = 0.0
    out.execute("BEGIN")
    for table in TABLES:
        cursor = src.execute(f"SELECT * FROM {table} ORDER BY id")
        names = [d[0] for d in cursor.description]
        sql = f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
        while batch := cursor.fetchmany(20_000):
            started = time.perf_counter()
            out.executemany(sql, batch)
            seconds += time.perf_counter() - started
    started = time.perf_counter()
    out.execute("COMMIT")
    seconds += time.perf_counter() - started
    src.close()
    out.close()
    dest.unlink()
    return seconds


def pg_floor(url: str, folder: Path) -> tuple[float, float]:
    """Seconds to write the rows the fresh PostgreSQL import stored back into an empty schema at head,
    nothing else: through COPY (binary), and through ``executemany`` (what the import used before issue 16).
    """
    import psycopg

    plain = url.replace("postgresql+psycopg://", "postgresql://")
    files = {table: folder / f"{table}.copy" for table in TABLES}
    with psycopg.connect(plain) as conn, conn.cursor() as cursor:
        for table, path in files.items():
            with path.open("wb") as handle, cursor.copy(f"COPY {table} TO STDOUT (FORMAT binary)") as copy:
                for data in copy:
                    handle.write(data)
    seconds = []
    for through_copy in (True, False):
        reset_pg(url)
        migrate(url, "head")
        with psycopg.connect(plain) as conn, conn.cursor() as cursor:
            spent = 0.0
            for table, path in files.items():
                spent += _pg_write(cursor, table, path, through_copy=through_copy)
            started = time.perf_counter()
            conn.commit()
            seconds.append(spent + time.perf_counter() - started)
    for path in files.values():
        path.unlink()
    return seconds[0], seconds[1]


def _pg_write(cursor: Any, table: str, path: Path, *, through_copy: bool) -> float:
    """One table's rows from its binary COPY file: COPY'd back, or read into a staging table and inserted
    with ``executemany`` (only the writing is timed)."""
    if through_copy:
        started = time.perf_counter()
        with path.open("rb") as handle, cursor.copy(f"COPY {table} FROM STDIN (FORMAT binary)") as copy:
            while block := handle.read(1 << 20):
                copy.write(block)
        return time.perf_counter() - started
    cursor.execute(f"CREATE TEMP TABLE staging (LIKE {table})")
    with path.open("rb") as handle, cursor.copy("COPY staging FROM STDIN (FORMAT binary)") as copy:
        while block := handle.read(1 << 20):
            copy.write(block)
    from psycopg.types.json import Json

    rows = [
        tuple(Json(v) if isinstance(v, dict) else v for v in row)  # JSON columns as the import bound them
        for row in cursor.execute("SELECT * FROM staging ORDER BY id").fetchall()
    ]
    names = [d.name for d in cursor.description]
    cursor.execute("DROP TABLE staging")
    sql = f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join(['%s'] * len(names))})"
    started = time.perf_counter()
    cursor.executemany(sql, rows)
    return time.perf_counter() - started
