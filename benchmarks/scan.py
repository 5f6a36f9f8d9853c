"""Scan benchmark (issue 4): one overdue scan over 1,000,000 orders (300,000 open), SQLite and PostgreSQL.

Reference, measured in the same run on the same indexed table: the single raw SQL statement
that finds the overdue open stages, fetched whole through the database's own Python driver.
Figures: the first scan (which raises every alert, once in a deployment's life), the scan every
ten minutes after it (levels that rose, nothing else changed), a scan after a busy ten minutes
(2 % of the open stages completed, their orders' next stages and 1 % new orders added), and
their ratios to the reference. Target: a scan at most 2× the reference and under 5 seconds.
``--pg-url`` (or TRACKER_BENCH_PG_URL) adds the same run on PostgreSQL; its public schema is
dropped. The last line printed is one JSON object with every figure and ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sqlite3
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

FMT = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy stores datetimes in SQLite (naive UTC)


def migrate(db: Path) -> None:
    """Bring the SQLite file ``db`` to the newest schema (the engine is disposed afterwards)."""
    os.environ["TRACKER_DATABASE_URL"] = f"sqlite:///{db}"
    from tracker import create_app
    from tracker.cli.common import upgrade_database
    from tracker.db import get_engine

    app = create_app()
    with app.app_context():
        upgrade_database()
    get_engine(app).dispose()


def generate(orders: int, open_orders: int, now: datetime, seed: int = 1) -> tuple[list[tuple], list[tuple]]:
    """Orders and their two stage deadlines (first contact, closure), times aware UTC."""
    rng = random.Random(seed)
    order_rows: list[tuple] = []
    deadline_rows: list[tuple] = []
    for i in range(orders):
        is_open = i < open_orders
        dispatched = now - timedelta(days=rng.uniform(0, 20 if is_open else 700))
        order_rows.append(
            (
                i + 1,
                "12345",
                f"SH{i:010d}",
                1,
                "handling" if is_open else "closed",
                dispatched,
                dispatched,
                "none",
                0,
                False,
                "{}",
                now,
                now,
            )
        )
        contact_due = dispatched + timedelta(days=1)
        closure_due = dispatched + timedelta(days=7)
        contact_done = not is_open or rng.random() < 0.8
        for stage, due, done in (("first_contact", contact_due, contact_done), ("closure", closure_due, not is_open)):
            deadline_rows.append(
                (
                    i + 1,
                    1,
                    stage,
                    dispatched,
                    1,
                    "working_days",
                    "rule",
                    due,
                    due - timedelta(hours=2) if done else None,
                    "met" if done else None,
                )
            )
    return order_rows, deadline_rows


ORDER_COLUMNS = (
    "id, source, order_no, cycle, state, dispatched_at, cycle_started_at, extension_status, return_count,"
    " is_repeat, extras, created_at, updated_at"
)
DEADLINE_COLUMNS = "order_id, cycle, stage, started_at, amount, unit, rule_label, due_at, completed_at, outcome"


def _sqlite_value(value: object) -> object:
    return value.astimezone(UTC).strftime(FMT) if isinstance(value, datetime) else value


def build(db: Path, orders: int, open_orders: int, now: datetime, seed: int = 1) -> None:
    """Migrate an empty SQLite database and fill it with orders and stage deadlines (raw inserts, for speed)."""
    migrate(db)
    order_rows, deadline_rows = generate(orders, open_orders, now, seed)
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.executemany(
        f"INSERT INTO work_order ({ORDER_COLUMNS}) VALUES ({','.join('?' * 13)})",
        ([_sqlite_value(v) for v in row] for row in order_rows),
    )
    conn.executemany(
        f"INSERT INTO order_deadline ({DEADLINE_COLUMNS}) VALUES ({','.join('?' * 10)})",
        ([_sqlite_value(v) for v in row] for row in deadline_rows),
    )
    conn.commit()
    conn.execute("ANALYZE")
    conn.close()


def psycopg_url(url: str) -> str:
    """The SQLAlchemy URL as libpq takes it."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def build_pg(url: str, orders: int, open_orders: int, now: datetime, seed: int = 1) -> None:
    """Drop the public schema, migrate it and fill it with the same rows by COPY."""
    import psycopg

    from benchmarks.import_orders import reset_pg

    reset_pg(url)
    os.environ["TRACKER_DATABASE_URL"] = url
    from tracker import create_app
    from tracker.cli.common import upgrade_database
    from tracker.db import get_engine

    app = create_app()
    with app.app_context():
        upgrade_database()
    get_engine(app).dispose()
    order_rows, deadline_rows = generate(orders, open_orders, now, seed)
    with psycopg.connect(psycopg_url(url)) as conn:
        with conn.cursor() as cur:
            with cur.copy(f"COPY work_order ({ORDER_COLUMNS}) FROM STDIN") as copy:
                for row in order_rows:
                    copy.write_row(row)
            with cur.copy(f"COPY order_deadline ({DEADLINE_COLUMNS}) FROM STDIN") as copy:
                for row in deadline_rows:
                    copy.write_row(row)
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")


REFERENCE_SQL = "SELECT id, order_id, stage, due_at FROM order_deadline WHERE completed_at IS NULL AND due_at < {}"


def reference(db: Path, now: datetime) -> tuple[float, int]:
    """The raw statement: overdue open stages on the indexed table (SQLite)."""
    conn = sqlite3.connect(db)
    started = time.perf_counter()
    rows = conn.execute(REFERENCE_SQL.format("?"), (_sqlite_value(now),)).fetchall()
    seconds = time.perf_counter() - started
    conn.close()
    return seconds, len(rows)


def reference_pg(url: str, now: datetime) -> tuple[float, int]:
    """The raw statement on PostgreSQL, through psycopg."""
    import psycopg

    with psycopg.connect(psycopg_url(url)) as conn:
        started = time.perf_counter()
        rows = conn.execute(REFERENCE_SQL.format("%s"), (now,)).fetchall()
        seconds = time.perf_counter() - started
    return seconds, len(rows)


def timed_scan(url: str, now: datetime) -> tuple[float, dict[str, object]]:
    """One scan through the service, committed, as the job runs it."""
    from sqlmodel import Session

    from tracker.db import make_engine
    from tracker.services.orders.alerts import scan
    from tracker.services.orders.calendar import WorkCalendar, package_arrangements

    calendar = WorkCalendar.from_arrangements(package_arrangements())
    engine = make_engine(url)
    with Session(engine) as session:
        started = time.perf_counter()
        result = scan(session, now=now, calendar=calendar)
        session.commit()
        seconds = time.perf_counter() - started
    engine.dispose()
    return seconds, result.counts()


def busy_ten_minutes(url: str, now: datetime, orders: int, open_orders: int) -> dict[str, int]:
    """What ten busy minutes change: 2 % of the open stages completed and 1 % new orders with their deadlines."""
    from sqlalchemy import text

    from tracker.db import make_engine

    value = _sqlite_value if url.startswith("sqlite") else (lambda v: v)
    engine = make_engine(url)
    completing = open_orders // 50
    added = open_orders // 100
    order_rows, deadline_rows = generate(added, added, now, seed=2)
    order_names = ORDER_COLUMNS.replace(" ", "").split(",")
    deadline_names = DEADLINE_COLUMNS.replace(" ", "").split(",")
    with engine.begin() as conn:
        done = conn.execute(
            text(
                "UPDATE order_deadline SET completed_at = :now, outcome = 'met' WHERE id IN"
                " (SELECT id FROM order_deadline WHERE completed_at IS NULL ORDER BY id LIMIT :n)"
            ),
            {"now": value(now), "n": completing},
        ).rowcount
        conn.execute(
            text(f"INSERT INTO work_order ({ORDER_COLUMNS}) VALUES ({', '.join(':' + n for n in order_names)})"),
            [
                dict(zip(order_names, [value(v) for v in (orders + r[0], r[1], f"NEW{r[0]:08d}", *r[3:])], strict=True))
                for r in order_rows
            ],
        )
        conn.execute(
            text(
                f"INSERT INTO order_deadline ({DEADLINE_COLUMNS}) VALUES ({', '.join(':' + n for n in deadline_names)})"
            ),
            [
                dict(zip(deadline_names, [value(v) for v in (orders + r[0], *r[1:])], strict=True))
                for r in deadline_rows
            ],
        )
    engine.dispose()
    return {"stages_completed": done, "orders_added": added}


def run(
    url: str, now: datetime, ref: Callable[[], tuple[float, int]], orders: int, open_orders: int
) -> dict[str, object]:
    """Reference, first scan, steady scan, busy scan on a built database; figures and ratios."""
    reference_s, overdue = ref()
    first_s, first = timed_scan(url, now)
    steady_s, steady = timed_scan(url, now + timedelta(minutes=10))
    reference_again, _ = ref()
    changed = busy_ten_minutes(url, now + timedelta(minutes=15), orders, open_orders)
    busy_s, busy = timed_scan(url, now + timedelta(minutes=20))
    best = min(reference_s, reference_again)
    return {
        "overdue_open_stages": overdue,
        "reference_raw_sql_s": round(best, 3),
        "first_scan_s": round(first_s, 3),
        "first_scan_vs_reference": round(first_s / best, 2),
        "steady_scan_s": round(steady_s, 3),
        "steady_scan_vs_reference": round(steady_s / best, 2),
        "busy_scan_s": round(busy_s, 3),
        "busy_scan_vs_reference": round(busy_s / best, 2),
        "busy_changes": changed,
        "first_counts": first,
        "steady_counts": steady,
        "busy_counts": busy,
        "met": steady_s <= 2 * best and busy_s <= 2 * best and max(steady_s, busy_s) < 5,
    }


def line(name: str, figures: dict[str, object]) -> str:
    """The human summary of one database's run."""
    f = figures
    return (
        f"{name}：原始 SQL（超期的未完成阶段 {f['overdue_open_stages']:,} 个）{f['reference_raw_sql_s']:.3f} 秒；"
        f"首次扫描 {f['first_scan_s']:.3f} 秒（{f['first_scan_vs_reference']} 倍）；"
        f"十分钟后 {f['steady_scan_s']:.3f} 秒（{f['steady_scan_vs_reference']} 倍）；"
        f"繁忙十分钟后 {f['busy_scan_s']:.3f} 秒（{f['busy_scan_vs_reference']} 倍）；目标 ≤ 2 倍且 < 5 秒"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="预警扫描基准：100 万件工单（30 万件未办结），SQLite 与 PostgreSQL")
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--open", type=int, default=300_000)
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("TRACKER_BENCH_PG_URL", ""),
        help="PostgreSQL URL whose public schema may be dropped (e.g. the test database)",
    )
    args = parser.parse_args()
    now = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)  # a Thursday morning in Beijing
    figures: dict[str, object] = {"benchmark": "scan", "orders": args.orders, "open_orders": args.open}
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "scan.db"
        started = time.perf_counter()
        build(db, args.orders, args.open, now)
        figures["build_s"] = round(time.perf_counter() - started, 1)
        url = f"sqlite:///{db}"
        figures["sqlite"] = run(url, now, lambda: reference(db, now), args.orders, args.open)
        print(line("SQLite", figures["sqlite"]))  # type: ignore[arg-type]
    if args.pg_url:
        from benchmarks.import_orders import reset_pg

        started = time.perf_counter()
        build_pg(args.pg_url, args.orders, args.open, now)
        figures["pg_build_s"] = round(time.perf_counter() - started, 1)
        try:
            figures["postgresql"] = run(
                args.pg_url, now, lambda: reference_pg(args.pg_url, now), args.orders, args.open
            )
        finally:
            reset_pg(args.pg_url)
        print(line("PostgreSQL", figures["postgresql"]))  # type: ignore[arg-type]
    from benchmarks.web import machine  # web imports this module

    figures |= {"load_avg_1min": round(os.getloadavg()[0], 2), "python": platform.python_version(), **machine()}
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
