"""Sampling benchmark (spot checks): preview, draw and store a sample from a 100,000-order population in SQLite.

The database is migrated to the newest schema and filled with closed orders by raw inserts (the
14 streets, categories, satisfaction, returns and repeats spread at random), all closed in October
2026. Timed through the spot-check service: the preview (population by a Core select of the eight
columns the draw needs, allocation, SHA-256 ranking) and the draw (the same, plus storing the plan,
its items and the "drawn" event, committed). Reference, measured in the same run: the plain
``SELECT id FROM work_order WHERE …`` of the same population in the ``sqlite3`` module. Target: a draw
(the plan, its items and the event stored and committed) under 2 seconds; the preview is a request
of its own and is reported beside it. The last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sqlite3
import statistics
import tempfile
import time
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from benchmarks.scan import migrate
from benchmarks.web import machine
from sample_orders.generate import STREETS

FMT = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy stores datetimes in SQLite (naive UTC)
CATEGORIES = ("油烟扰民", "噪声扰民", "违法搭建", "群租", "占道经营 / 无证设摊", "建筑垃圾", "渣土", "其他")
SATISFACTION = (("满意", 55), ("基本满意", 20), ("一般", 8), ("不满意", 3), ("未评价", 14))
MONTH_START = datetime(2026, 9, 30, 16, 0)  # 2026-10-01 00:00 in Beijing, as naive UTC
TARGET_S = 2.0


def build(db: Path, orders: int, seed: int = 1) -> None:
    """Migrate an empty database and fill it with ``orders`` closed orders (raw inserts, for speed)."""
    migrate(db)
    rng = random.Random(seed)
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    stamp = datetime.now(UTC).replace(tzinfo=None).strftime(FMT)
    conn.executemany(
        "INSERT INTO street (name, squad_name, active) VALUES (?, ?, 1)",
        [(name, f"{name}综合行政执法队") for name in STREETS],
    )
    labels, weights = zip(*SATISFACTION, strict=True)
    rows = []
    for i in range(orders):
        closed = MONTH_START + timedelta(seconds=rng.uniform(60, 31 * 86400 - 60))
        dispatched = closed - timedelta(hours=rng.uniform(0.5, 240))
        street = STREETS[rng.randrange(len(STREETS))]
        rows.append(
            (
                i + 1,
                "12345",
                f"SH{i:010d}",
                1,
                "closed",
                dispatched.strftime(FMT),
                dispatched.strftime(FMT),
                street,
                CATEGORIES[rng.randrange(len(CATEGORIES))],
                rng.choices(labels, weights)[0],
                "none",
                1 if rng.random() < 0.03 else 0,
                1 if rng.random() < 0.05 else 0,
                closed.strftime(FMT),
                "{}",
                stamp,
                stamp,
            )
        )
    conn.executemany(
        "INSERT INTO work_order (id, source, order_no, cycle, state, dispatched_at, cycle_started_at, street,"
        " category, satisfaction, extension_status, return_count, is_repeat, closed_at, extras, created_at,"
        " updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        rows,
    )
    conn.commit()
    conn.close()


def reference(db: Path) -> tuple[float, int]:
    """The plain statement: the population's ids (October closures, state closed)."""
    conn = sqlite3.connect(db)
    end = MONTH_START + timedelta(days=31)
    started = time.perf_counter()
    ids = conn.execute(
        "SELECT id FROM work_order WHERE closed_at >= ? AND closed_at < ? AND state = 'closed'",
        (MONTH_START.strftime(FMT), end.strftime(FMT)),
    ).fetchall()
    seconds = time.perf_counter() - started
    conn.close()
    return seconds, len(ids)


def timed_draw(db: Path, repeat: int = 5) -> dict[str, object]:
    """Preview, draw and store (committed), verify the default plan of domain.md §6 ``repeat`` times; medians."""
    from sqlmodel import Session

    from tracker.db import make_engine
    from tracker.domain.checklist import DEFAULT_CHECKLIST
    from tracker.domain.roles import Role
    from tracker.domain.sampling import DEFAULT_PLAN
    from tracker.services.accounts.actors import Actor
    from tracker.services.accounts.users import Viewer
    from tracker.services.spot_checks import PlanInput, Population, draw_plan, preview_plan, verify_plan

    viewer = Viewer(1, "bench", "基准督察", Role.SUPERVISOR, None)
    actor = Actor(id="user:1", name="督察 基准督察", source="bench")
    data = PlanInput("基准：2026 年 10 月", Population(date(2026, 10, 1), date(2026, 10, 31)), DEFAULT_PLAN, "bench-1")
    engine = make_engine(f"sqlite:///{db}")
    previews, draws, verifies = [], [], []
    with Session(engine) as session:
        for n in range(repeat):  # each run a plan of its own, as a supervisor drawing again would store
            started = time.perf_counter()
            preview, _ = preview_plan(session, viewer=viewer, data=data)
            previews.append(time.perf_counter() - started)
            session.rollback()
            started = time.perf_counter()
            plan = draw_plan(
                session,
                viewer=viewer,
                actor=actor,
                now=datetime.now(UTC),
                data=replace(data, name=f"{data.name}（第 {n + 1} 次）"),
                checklist=DEFAULT_CHECKLIST,
            )
            session.commit()
            draws.append(time.perf_counter() - started)
            started = time.perf_counter()
            verification = verify_plan(session, viewer=viewer, plan=plan)
            verifies.append(time.perf_counter() - started)
    engine.dispose()
    return {
        "population": preview.population_size,
        "sample": len(preview.sample.orders),
        "random": preview.random_size,
        "risk_only": preview.risk_only,
        "strata": len(preview.sample.strata),
        "repeat": repeat,
        "preview_s": round(statistics.median(previews), 3),
        "draw_and_store_s": round(statistics.median(draws), 3),
        "draw_and_store_runs": [round(d, 3) for d in draws],
        "verify_s": round(statistics.median(verifies), 3),
        "verified_same": verification.same_population and verification.same_orders,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="抽样基准：从 10 万件已办结工单的总体中预览、抽取并保存样本")
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5, help="抽取次数（取中位数；每次保存一个计划）")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "sampling.db"
        started = time.perf_counter()
        build(db, args.orders)
        built = time.perf_counter() - started
        reference_s, population = reference(db)
        figures = timed_draw(db, args.repeat)
        reference_again, _ = reference(db)
    ref = min(reference_s, reference_again)
    draw_s = float(figures["draw_and_store_s"])  # type: ignore[arg-type]
    preview_s = float(figures["preview_s"])  # type: ignore[arg-type]
    result = {
        "benchmark": "sampling",
        "orders": args.orders,
        "reference_population": population,
        "build_s": round(built, 1),
        "reference_select_ids_s": round(ref, 4),
        **figures,
        "preview_vs_reference": round(preview_s / ref, 1),
        "draw_vs_reference": round(draw_s / ref, 1),
        "target_s": TARGET_S,
        "met": draw_s < TARGET_S,
        "python": platform.python_version(),
        **machine(),
    }
    print(
        f"总体 {figures['population']:,} 件，样本 {figures['sample']:,} 件（{figures['strata']} 层）；"
        f"参照 SELECT id {ref:.3f} 秒；预览 {preview_s:.3f} 秒（{preview_s / ref:.0f} 倍）；"
        f"抽取并保存 {draw_s:.3f} 秒（{draw_s / ref:.0f} 倍）；复核 {figures['verify_s']} 秒；"
        f"目标：抽取并保存 < {TARGET_S:g} 秒，{'达到' if result['met'] else '未达到'}"
    )
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
