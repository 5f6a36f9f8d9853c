"""Analysis benchmark (`make bench-analysis`): the 分析 page over BENCH_ORDERS orders in SQLite.

Reuses the web benchmark's database (benchmarks/web.py: instance/bench-web-N.db, built once, about
7 minutes for 1,000,000 orders over two years; reused while its .complete.json marker is there).

First, once, what the nightly metrics job does: ``store_analyses`` computes the page (hotspots over
90 days against the 90 before, rises of the last week against 8, time patterns) for the district
and each street and stores it (timed: ``nightly_store_s``). Then, each ``--repeat`` times (median
reported), for a supervisor (district) and a squad user (one street): the service call
``stored_analysis`` and the whole page through the Flask test client (signed in through the real
form), which reads today's stored analysis. Reference, measured in the same run over the same rows: a raw SQL
``GROUP BY address, category`` of the orders dispatched in the 180 days the page reads (through
SQLAlchemy, district-wide). Target (issue 17): the page under 1 second server time for both users.
The last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.web import PASSWORD, SUPERVISOR, database, machine, squad_username
from sample_orders.generate import STREETS

ROOT = Path(__file__).resolve().parent.parent
TARGET_S = 1.0


def timed(action: Callable[[], Any], repeat: int) -> tuple[float, list[float], Any]:
    """Median seconds of ``repeat`` runs, every run's seconds, and the last result."""
    runs, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = action()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs), [round(r, 3) for r in runs], result


def main() -> None:
    parser = argparse.ArgumentParser(description="分析页基准：SQLite，督察与执法队各一人")
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="每项计时的次数（取中位数）")
    parser.add_argument("--db-dir", type=Path, default=ROOT / "instance")
    args = parser.parse_args()
    started = time.perf_counter()
    db, info, reused = database(args.db_dir, args.orders, 0.05, False)
    print(f"数据库 {db}：{'沿用' if reused else '新建'}（{time.perf_counter() - started:.1f} 秒）")

    from sqlalchemy import text
    from sqlmodel import Session

    from tracker import create_app
    from tracker.db import get_engine
    from tracker.domain.roles import Role
    from tracker.services.accounts.users import Viewer
    from tracker.services.orders import all_streets
    from tracker.services.stats import store_analyses, stored_analysis

    app = create_app({"DATABASE_URL": f"sqlite:///{db}", "SECRET_KEY": "bench-analysis", "TESTING": False})
    engine = get_engine(app)
    now = datetime.now(UTC)
    since = (now - timedelta(days=180)).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S")
    group_by = text(
        "SELECT address, category, count(*) FROM work_order WHERE dispatched_at >= :since GROUP BY address, category"
    )
    figures: dict[str, Any] = {}
    with Session(engine) as session:
        rows_read = session.execute(
            text("SELECT count(*) FROM work_order WHERE dispatched_at >= :since"), {"since": since}
        ).scalar_one()
        session.execute(group_by, {"since": since}).all()  # warm the cache once
        reference, runs, groups = timed(lambda: session.execute(group_by, {"since": since}).all(), args.repeat)
    figures["reference_group_by_s"] = round(reference, 4)
    figures["reference_runs"] = runs
    figures["rows_in_180_days"] = rows_read
    figures["groups"] = len(groups)
    with Session(engine) as session:  # what the nightly metrics job does before anyone opens the page
        streets = [s.name for s in all_streets(session)]
        stored_started = time.perf_counter()
        scopes = store_analyses(session, now=datetime.now(UTC), streets=streets, marked=[])
        session.commit()
        figures["nightly_store_s"] = round(time.perf_counter() - stored_started, 1)
        figures["nightly_scopes"] = scopes
    print(f"每晚分析快照：{scopes} 份，{figures['nightly_store_s']} 秒")
    viewers = {
        "supervisor": (Viewer(0, SUPERVISOR, "督察", Role.SUPERVISOR, None), SUPERVISOR),
        "squad": (Viewer(0, squad_username(0), "执法队", Role.SQUAD, STREETS[0]), squad_username(0)),
    }
    for name, (viewer, username) in viewers.items():
        with Session(engine) as session:

            def service(v: Viewer = viewer, s: Session = session) -> Any:
                found = stored_analysis(s, viewer=v, now=datetime.now(UTC))
                assert found is not None, "没有今天的分析快照"
                return found[0]

            service_s, service_runs, result = timed(service, args.repeat)
        client = app.test_client()
        login = client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', login)
        assert token, "登录页没有 CSRF 令牌"
        signed = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token[1]})
        assert signed.status_code == 302, f"{username} 登录失败"

        def page(c: Any = client) -> Any:
            response = c.get("/analysis/")
            assert response.status_code == 200, response.status_code
            return response

        page_s, page_runs, response = timed(page, args.repeat)
        figures[name] = {
            "service_s": round(service_s, 3),
            "service_runs": service_runs,
            "page_s": round(page_s, 3),
            "page_runs": page_runs,
            "page_kb": round(len(response.data) / 1024, 1),
            "page_vs_group_by": round(page_s / reference, 1) if reference else None,
            "hotspots": len(result.hotspots.items),
            "rises": len(result.rises),
            "within_target": page_s < TARGET_S,
        }
        print(
            f"{name}：服务 {service_s:.3f} 秒，页面 {page_s:.3f} 秒（{len(response.data) / 1024:.0f} KB，"
            f"热点 {len(result.hotspots.items)} 处，异常上升 {len(result.rises)} 项），"
            f"参照 GROUP BY {reference:.3f} 秒，页面为其 {page_s / reference:.1f} 倍"
        )
    summary = {
        "benchmark": "analysis",
        "orders": args.orders,
        "database_reused": reused,
        "database": info,
        "repeat": args.repeat,
        **figures,
        "target_s": TARGET_S,
        "met": all(figures[n]["within_target"] for n in ("supervisor", "squad")),
        "load_avg_1min": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        **machine(),
    }
    print(json.dumps(summary, ensure_ascii=False))


if __name__ == "__main__":
    main()
