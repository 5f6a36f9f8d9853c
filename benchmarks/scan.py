"""Scan benchmark (issue 4): one overdue scan over 1,000,000 orders (300,000 open) in SQLite.

Reference, measured in the same run on the same indexed table: the single raw SQL statement
that finds the overdue open stages. Figures: the first scan (which raises every alert), a
steady-state scan ten minutes later (nothing changes), and their ratios to the reference.
Target: a scan at most 2× the reference and under 5 seconds. The last line printed is one
JSON object with every figure and ratio.
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
from datetime import UTC, datetime, timedelta
from pathlib import Path

FMT = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy stores datetimes in SQLite (naive UTC)


def migrate(db: Path) -> None:
    """Bring the SQLite file ``db`` to the newest schema (the engine is disposed afterwards)."""
    os.environ["TRACKER_DATABASE_URL"] = f"sqlite:///{db}"
    from tracker import create_app
    from tracker.cli import upgrade_database
    from tracker.db import get_engine

    app = create_app()
    with app.app_context():
        upgrade_database()
    get_engine(app).dispose()


def build(db: Path, orders: int, open_orders: int, now: datetime, seed: int = 1) -> None:
    """Migrate an empty database and fill it with orders and stage deadlines (raw inserts, for speed)."""
    migrate(db)
    rng = random.Random(seed)
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    stamp = now.strftime(FMT)
    order_rows = []
    deadline_rows = []
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
                dispatched.strftime(FMT),
                dispatched.strftime(FMT),
                "none",
                0,
                0,
                "{}",
                stamp,
                stamp,
            )
        )
        contact_due = dispatched + timedelta(days=1)
        closure_due = dispatched + timedelta(days=7)
        contact_done = not is_open or rng.random() < 0.8
        for stage, due, done in (("first_contact", contact_due, contact_done), ("closure", closure_due, not is_open)):
            completed = (due - timedelta(hours=2)).strftime(FMT) if done else None
            deadline_rows.append(
                (
                    i + 1,
                    1,
                    stage,
                    dispatched.strftime(FMT),
                    1,
                    "working_days",
                    "rule",
                    due.strftime(FMT),
                    completed,
                    "met" if done else None,
                )
            )
    conn.executemany(
        "INSERT INTO work_order (id, source, order_no, cycle, state, dispatched_at, cycle_started_at, extension_status,"
        " return_count, is_repeat, extras, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
        order_rows,
    )
    conn.executemany(
        "INSERT INTO order_deadline (order_id, cycle, stage, started_at, amount, unit, rule_label, due_at,"
        " completed_at, outcome) VALUES (?,?,?,?,?,?,?,?,?,?)",
        deadline_rows,
    )
    conn.commit()
    conn.execute("ANALYZE")
    conn.close()


def reference(db: Path, now: datetime) -> tuple[float, int]:
    """The raw statement: overdue open stages on the indexed table."""
    conn = sqlite3.connect(db)
    started = time.perf_counter()
    rows = conn.execute(
        "SELECT id, order_id, stage, due_at FROM order_deadline WHERE completed_at IS NULL AND due_at < ?",
        (now.strftime(FMT),),
    ).fetchall()
    seconds = time.perf_counter() - started
    conn.close()
    return seconds, len(rows)


def timed_scan(db: Path, now: datetime) -> tuple[float, dict[str, object]]:
    """One scan through the service, committed, as the job runs it."""
    from sqlmodel import Session

    from tracker.db import make_engine
    from tracker.services.alerts import scan
    from tracker.services.calendar import WorkCalendar, package_arrangements

    calendar = WorkCalendar.from_arrangements(package_arrangements())
    engine = make_engine(f"sqlite:///{db}")
    with Session(engine) as session:
        started = time.perf_counter()
        result = scan(session, now=now, calendar=calendar)
        session.commit()
        seconds = time.perf_counter() - started
    engine.dispose()
    return seconds, result.counts()


def main() -> None:
    parser = argparse.ArgumentParser(description="预警扫描基准：100 万件工单（30 万件未办结）")
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--open", type=int, default=300_000)
    args = parser.parse_args()
    now = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)  # a Thursday morning in Beijing
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "scan.db"
        started = time.perf_counter()
        build(db, args.orders, args.open, now.replace(tzinfo=None))
        built = time.perf_counter() - started
        reference_s, overdue = reference(db, now.replace(tzinfo=None))
        first_s, first = timed_scan(db, now)
        steady_s, steady = timed_scan(db, now + timedelta(minutes=10))
        reference_again, _ = reference(db, now.replace(tzinfo=None))
    ref = min(reference_s, reference_again)
    figures = {
        "benchmark": "scan",
        "orders": args.orders,
        "open_orders": args.open,
        "overdue_open_stages": overdue,
        "build_s": round(built, 1),
        "reference_raw_sql_s": round(ref, 3),
        "first_scan_s": round(first_s, 3),
        "first_scan_vs_reference": round(first_s / ref, 2),
        "steady_scan_s": round(steady_s, 3),
        "steady_scan_vs_reference": round(steady_s / ref, 2),
        "first_counts": first,
        "steady_counts": steady,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    print(
        f"原始 SQL（超期的未完成阶段 {overdue:,} 个）：{ref:.3f} 秒；"
        f"首次扫描 {first_s:.3f} 秒（{first_s / ref:.1f} 倍）；"
        f"十分钟后再扫描 {steady_s:.3f} 秒（{steady_s / ref:.1f} 倍）；目标 ≤ 2 倍且 < 5 秒"
    )
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
