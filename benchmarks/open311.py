"""Open311 benchmark (issue 19 item 2): one bounded page of ``requests.json`` over a large SQLite database.

The app answers through its test client (no network, no server cache: TRACKER_OPEN311_CACHE_SECONDS=0, except
the cached case): the first page of 1,000 requests of a 90-day window, a deep page of the same window
(page 40), one category's closed requests, 1,000 requests by id, and the first page again from the cache.
Reference, measured in the same run on the same indexed table: the raw SQL that reads the same 1,001 rows
of the first page through Python's sqlite3. Figures: milliseconds (best of ``--repeat``) and the ratio to the
reference. The last line printed is one JSON object.

``make bench-open311`` (BENCH_OPEN311_ORDERS orders, default 300,000, 30 % open, over 700 days).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmarks import best
from benchmarks.scan import _sqlite_value, build

STREETS = ("静安寺街道", "曹家渡街道", "江宁路街道", "石门二路街道", "南京西路街道", "天目西路街道", "北站街道")
CATEGORIES = ("油烟扰民", "噪声扰民", "违法搭建", "群租", "跨门营业", "渣土", "工地扬尘", "毁绿占绿")
REFERENCE = (
    "SELECT id, state, cycle, category, address, dispatched_at, updated_at, extras FROM work_order"
    " WHERE dispatched_at >= ? AND dispatched_at <= ? ORDER BY dispatched_at DESC, id DESC LIMIT 1001"
)


def fill_details(db: Path) -> None:
    """Streets with their squads, categories and addresses with flats, as real orders have."""
    conn = sqlite3.connect(db)
    conn.executemany(
        "INSERT INTO street (name, squad_name, active) VALUES (?, ?, 1)", [(s, f"{s}综合行政执法队") for s in STREETS]
    )
    conn.create_function("pick", 2, lambda values, i: values.split(",")[i % len(values.split(","))])
    conn.execute(
        "UPDATE work_order SET street = pick(?, id), category = pick(?, id * 7),"
        " address = '上海市静安区常德路' || (id % 900) || '弄' || (id % 40) || '号' || (id % 600) || '室'",
        (",".join(STREETS), ",".join(CATEGORIES)),
    )
    conn.commit()
    conn.execute("ANALYZE")
    conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=int(os.environ.get("BENCH_OPEN311_ORDERS", "300000")))
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    now = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
    start, end = now - timedelta(days=90), now
    db = Path(tempfile.mkdtemp(prefix="bench-open311-")) / "open311.db"
    started = time.perf_counter()
    build(db, args.orders, args.orders * 3 // 10, now)
    fill_details(db)
    print(f"built {args.orders:,} orders in {time.perf_counter() - started:.1f} s")

    conn = sqlite3.connect(db)
    reference_ms, rows = best(
        lambda: conn.execute(REFERENCE, (_sqlite_value(start), _sqlite_value(end))).fetchall(), args.repeat
    )
    in_window = conn.execute(
        "SELECT count(*) FROM work_order WHERE dispatched_at >= ? AND dispatched_at <= ?",
        (_sqlite_value(start), _sqlite_value(end)),
    ).fetchone()[0]
    ids = ",".join(str(i) for i in range(1, args.orders, max(args.orders // 1000, 1)))
    conn.close()

    from tracker import create_app

    window = f"start_date={start.isoformat()}&end_date={end.isoformat()}".replace("+", "%2B")
    cases = {
        "first_page": f"/open311/v2/requests.json?{window}",
        "page_40": f"/open311/v2/requests.json?{window}&page=40",
        "category_closed": f"/open311/v2/requests.json?{window}&service_code=噪声扰民&status=closed",
        "by_1000_ids": f"/open311/v2/requests.json?service_request_id={ids}",
    }
    settings = {"DATABASE_URL": f"sqlite:///{db}", "SECRET_KEY": "bench", "OPEN311": True}
    app = create_app({**settings, "OPEN311_RATE_LIMIT": 10**9, "OPEN311_CACHE_SECONDS": 0})
    client = app.test_client()
    figures: dict[str, object] = {"benchmark": "open311", "orders": args.orders, "in_window": in_window}
    figures["reference_ms"] = round(reference_ms, 1)
    print(f"参照：原始 SQL 读第一页 {len(rows)} 行 {reference_ms:.1f} ms（90 天内共 {in_window:,} 件）")
    for name, url in cases.items():
        ms, response = best(lambda url=url: client.get(url), args.repeat)  # type: ignore[misc]
        assert response.status_code == 200, response.get_data(as_text=True)
        count = len(response.get_json())
        figures[f"{name}_ms"], figures[f"{name}_ratio"] = round(ms, 1), round(ms / reference_ms, 2)
        print(f"{name}: {count} 件 {ms:.1f} ms，为参照的 {ms / reference_ms:.1f} 倍")
    cached_app = create_app({**settings, "OPEN311_RATE_LIMIT": 10**9, "OPEN311_CACHE_SECONDS": 600})
    cached = cached_app.test_client()
    cached.get(cases["first_page"])
    ms, _ = best(lambda: cached.get(cases["first_page"]), args.repeat)
    figures["cached_ms"], figures["cached_ratio"] = round(ms, 1), round(ms / reference_ms, 2)
    print(f"cached first_page: {ms:.1f} ms，为参照的 {ms / reference_ms:.2f} 倍")
    figures["load_average"] = round(os.getloadavg()[0], 1)
    figures["machine"] = f"{platform.machine()} {os.cpu_count()} CPU, Python {platform.python_version()}"
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
