"""Dashboard benchmark (`make bench-dashboard`): the 统计 page over 1,000,000 orders in SQLite.

Reuses the web benchmark's database (benchmarks/web.py: instance/bench-web-N.db, built once, about
7 minutes for 1,000,000 orders; reused while its .complete.json marker is there). That database
has no nightly metric snapshot, so for the run the benchmark writes one like the nightly job's: a
row per street, metric and day for the 13 months before today, and one per street, category,
metric and day, with made-up numerators and denominators (timing depends on the number of rows,
not their values), marked by a computed_at of 2000-01-01 and deleted at the end. Days that already
have a snapshot are left alone.

Timed, each ``--repeat`` times (median reported), for a supervisor (district) and a squad user
(one street), with the default filter (the last 30 days): the service call ``build_dashboard``
and the whole page through the Flask test client (signed in through the real form), then the page
with a category chosen (rates from the snapshot's category rows). Reference, measured in the same
run: ``SELECT count(*) FROM work_order``. Target (issue): every page under 1 second server time.
The last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sqlite3
import statistics
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.web import PASSWORD, SUPERVISOR, database, machine, squad_username
from sample_orders.generate import CATEGORIES, STREETS

ROOT = Path(__file__).resolve().parent.parent
TARGET_S = 1.0
SENTINEL = "2000-01-01 00:00:00.000000"  # computed_at of the rows this benchmark writes (and deletes)


def add_snapshot(db: Path, today: date) -> int:
    """Snapshot rows for the 13 months before today where a day has none; returns how many were written."""
    from tracker.services.stats.metrics import METRICS

    conn = sqlite3.connect(db)
    try:
        first = today - timedelta(days=400)
        have = {row[0] for row in conn.execute("SELECT DISTINCT day FROM metric_snapshot WHERE day >= ?", (first,))}
        rows = []
        day = first
        while day < today:
            if day.isoformat() not in have:
                for n, street in enumerate(STREETS):
                    for c, category in enumerate(("", *CATEGORIES)):  # "": the street over every category
                        for m, metric in enumerate(METRICS):
                            denominator = 60 + (n * 7 + m * 3 + c * 5 + day.toordinal()) % 40
                            rows.append(
                                (
                                    day.isoformat(),
                                    street,
                                    category,
                                    metric.key,
                                    denominator * 0.8,
                                    denominator,
                                    metric.basis,
                                )
                            )
            day += timedelta(days=1)
        conn.executemany(
            "INSERT INTO metric_snapshot (day, street, category, metric, numerator, denominator, basis, computed_at)"
            f" VALUES (?, ?, ?, ?, ?, ?, ?, '{SENTINEL}')",
            rows,
        )
        conn.commit()
        return len(rows)
    finally:
        conn.close()


def remove_snapshot(db: Path) -> None:
    """Delete the rows add_snapshot wrote."""
    conn = sqlite3.connect(db)
    try:
        conn.execute("DELETE FROM metric_snapshot WHERE computed_at = ?", (SENTINEL,))
        conn.commit()
    finally:
        conn.close()


def timed(action: Callable[[], Any], repeat: int) -> tuple[float, list[float], Any]:
    """Median seconds of ``repeat`` runs, every run's seconds, and the last result."""
    runs, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = action()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs), [round(r, 3) for r in runs], result


def main() -> None:
    parser = argparse.ArgumentParser(description="统计页基准：100 万件工单（SQLite），督察与执法队各一人")
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5, help="每项计时的次数（取中位数）")
    parser.add_argument("--db-dir", type=Path, default=ROOT / "instance")
    args = parser.parse_args()

    started = time.perf_counter()
    db, info, reused = database(args.db_dir, args.orders, 0.05, False)
    print(f"数据库 {db}：{'沿用' if reused else '新建'}（{time.perf_counter() - started:.1f} 秒）")
    os.environ["TRACKER_DATABASE_URL"] = f"sqlite:///{db}"

    from sqlalchemy import text
    from sqlmodel import Session

    from tracker import create_app
    from tracker.db import get_engine
    from tracker.domain.deadlines import to_local
    from tracker.domain.roles import Role
    from tracker.services.accounts.users import Viewer
    from tracker.services.stats import build_dashboard, default_filter

    now = datetime.now(UTC)
    written = add_snapshot(db, to_local(now).date())
    try:
        app = create_app({"DATABASE_URL": f"sqlite:///{db}", "SECRET_KEY": "bench-dashboard", "TESTING": False})
        engine = get_engine(app)
        figures: dict[str, Any] = {}
        with Session(engine) as session:
            session.execute(text("SELECT count(*) FROM work_order")).one()  # warm the cache once
            reference, runs, _ = timed(lambda: session.execute(text("SELECT count(*) FROM work_order")).one(), 5)
        figures["reference_count_s"] = round(reference, 4)
        figures["reference_runs"] = runs
        viewers = {
            "supervisor": (Viewer(0, SUPERVISOR, "督察", Role.SUPERVISOR, None), SUPERVISOR),
            "squad": (Viewer(0, squad_username(0), "执法队", Role.SQUAD, STREETS[0]), squad_username(0)),
        }
        for name, (viewer, username) in viewers.items():
            with Session(engine) as session:

                def service(v: Viewer = viewer, s: Session = session) -> Any:
                    moment = datetime.now(UTC)
                    return build_dashboard(s, viewer=v, filters=default_filter(moment), now=moment)

                service_s, service_runs, board = timed(service, args.repeat)
            client = app.test_client()
            login = client.get("/login").get_data(as_text=True)
            token = re.search(r'name="csrf_token" value="([^"]+)"', login)
            assert token, "登录页没有 CSRF 令牌"
            signed = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token[1]})
            assert signed.status_code == 302, f"{username} 登录失败"

            def page(c: Any = client) -> Any:
                response = c.get("/dashboard/")
                assert response.status_code == 200, response.status_code
                return response

            page_s, page_runs, response = timed(page, args.repeat)

            def by_category(c: Any = client) -> Any:
                response = c.get("/dashboard/?category=违法搭建")
                assert response.status_code == 200, response.status_code
                return response

            category_s, category_runs, category_response = timed(by_category, args.repeat)
            category_source = (
                "snapshot" if "指标取自每晚计算的指标快照" in category_response.get_data(as_text=True) else "live"
            )
            figures[name] = {
                "service_s": round(service_s, 3),
                "service_runs": service_runs,
                "page_s": round(page_s, 3),
                "page_runs": page_runs,
                "page_kb": round(len(response.data) / 1024, 1),
                "page_vs_reference": round(page_s / reference, 1) if reference else None,
                "orders_in_period": board.intake_total,
                "rate_source": board.rate_source.kind,
                "category_page_s": round(category_s, 3),
                "category_page_runs": category_runs,
                "category_rate_source": category_source,
                "category_page_vs_reference": round(category_s / reference, 1) if reference else None,
                "within_target": page_s < TARGET_S and category_s < TARGET_S,
            }
            print(
                f"{name}：服务 {service_s:.3f} 秒，页面 {page_s:.3f} 秒（{len(response.data) / 1024:.0f} KB，"
                f"期间内 {board.intake_total} 件，指标来源 {board.rate_source.kind}），"
                f"参照 count(*) {reference:.4f} 秒；"
                f"按分类筛选 {category_s:.3f} 秒（指标来源 {category_source}）"
            )
    finally:
        remove_snapshot(db)
    result = {
        "benchmark": "dashboard",
        "orders": args.orders,
        "database_reused": reused,
        "database": info,
        "snapshot_rows_written": written,
        "repeat": args.repeat,
        **figures,
        "target_s": TARGET_S,
        "met": all(figures[n]["within_target"] for n in ("supervisor", "squad")),
        "load_avg_1min": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        **machine(),
    }
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
