"""Live counts benchmark (issue 15): the one count of overdue and due-soon work, over a large SQLite database.

``services.orders.counts.live_counts`` is what every page reads (the navigation badge on every page): open
stage deadlines per level, in stages and in orders (each at its open stage due first), district-wide and for
one street's squad. Reference, measured in the same run on the same indexed tables: the raw SQL that counts
the overdue open stages and the orders they belong to, through Python's sqlite3. Figures: milliseconds
(best of ``--repeat``) and the ratio to the reference. The last line printed is one JSON object.

``make bench-counts`` (BENCH_COUNTS_ORDERS orders, default 300,000, 30 % open).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from benchmarks import best
from benchmarks.scan import _sqlite_value, build

STREETS = 14
REFERENCE = (
    "SELECT count(*), count(DISTINCT order_id) FROM order_deadline"
    " WHERE completed_at IS NULL AND due_at IS NOT NULL AND due_at < ?"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=int(os.environ.get("BENCH_COUNTS_ORDERS", "300000")))
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    now = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
    open_orders = args.orders * 3 // 10
    folder = Path(tempfile.mkdtemp(prefix="bench-counts-"))
    db = folder / "counts.db"
    started = time.perf_counter()
    build(db, args.orders, open_orders, now)
    conn = sqlite3.connect(db)
    conn.execute("UPDATE work_order SET street = '街镇' || (id % ?)", (STREETS,))
    conn.commit()
    conn.execute("ANALYZE")
    print(f"built {args.orders:,} orders ({open_orders:,} open) in {time.perf_counter() - started:.1f} s")

    reference_ms, reference_rows = best(lambda: conn.execute(REFERENCE, (_sqlite_value(now),)).fetchone(), args.repeat)
    conn.close()

    from sqlmodel import Session

    from tracker.db import make_engine
    from tracker.domain.roles import Role
    from tracker.domain.vocabulary import AlertLevel
    from tracker.services.accounts import Viewer
    from tracker.services.orders.calendar import WorkCalendar, package_arrangements
    from tracker.services.orders.counts import bounds_at, live_counts

    calendar = WorkCalendar.from_arrangements(package_arrangements())
    bounds = bounds_at(now, calendar)
    engine = make_engine(f"sqlite:///{db}")
    figures: dict[str, object] = {"orders": args.orders, "open_orders": open_orders, "reference_ms": reference_ms}
    for name, viewer in (
        ("district", Viewer(1, "duchao", "督察", Role.SUPERVISOR, None)),
        ("squad", Viewer(2, "squad", "执法队", Role.SQUAD, "街镇3")),
    ):

        def count(viewer: Viewer = viewer):  # type: ignore[no-untyped-def]
            with Session(engine) as session:  # a fresh session: no per-request cache
                return live_counts(session, viewer=viewer, bounds=bounds)

        ms, counts = best(count, args.repeat)
        assert counts is not None
        red_stages, red_orders = counts.stages[AlertLevel.RED], counts.orders[AlertLevel.RED]  # type: ignore[attr-defined]
        if name == "district":
            assert (red_stages, red_orders) == tuple(reference_rows), (red_stages, red_orders, reference_rows)  # type: ignore[arg-type]
        figures[f"{name}_ms"] = ms
        figures[f"{name}_ratio"] = ms / reference_ms
        figures[f"{name}_overdue_orders"] = red_orders
        print(
            f"{name}: {ms:.1f} ms (reference {reference_ms:.1f} ms, ratio {ms / reference_ms:.2f}); "
            f"已超期 {red_orders} 件工单 / {red_stages} 个环节"
        )
    engine.dispose()
    figures["machine"] = f"{platform.machine()} {os.cpu_count()} CPU, Python {platform.python_version()}"
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
