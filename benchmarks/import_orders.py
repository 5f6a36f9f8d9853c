"""Import benchmark (issues 3 and 16): a generated export against raw loading of the same file, in the same run.

Figures, each as a ratio with its reference (medians of ``--repeat`` runs):
- fresh import into SQLite (validation, deadlines, audit) vs `sqlite3` CLI `.import` into a table
  with a unique key on the order number (issue 16 target ≤ 12×), and the same file through
  ``--backfill`` (secondary indexes built after the rows; target ≤ 8×);
- re-import of the same rows, all unchanged, from another file (target ≤ 0.5×);
- the write floor: the very rows the fresh import stored, written again into an empty schema in one
  transaction with nothing else (DB-API ``executemany``), at the schema before issue 16 (IN-list
  checks, ix_order_event_at) and at head, with and without the secondary indexes;
- reading a 100,000-row XLSX (open_export and its rows) vs python-calamine alone (target ≤ 2×);
- peak memory of the fresh import (target < 1 GB);
- the fresh import into PostgreSQL vs `psql \\copy` (when --pg-url is given; target ≤ 15×), and its floor
  (the stored rows copied out and COPY'd into an empty schema).
Every import runs in a child process, so its time and peak memory are its own. The last line
printed is one JSON object with every figure and ratio.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.import_floor import BEFORE_ISSUE_16, pg_floor, reset_pg, sqlite_floor
from sample_orders.generate import STREETS

HEADER = [
    "工单编号",
    "受理时间",
    "派单时间",
    "诉求类型",
    "问题分类",
    "紧急程度",
    "诉求内容",
    "地址",
    "所属街镇",
    "承办单位",
    "诉求人",
    "联系电话",
    "工单状态",
    "签收时间",
    "联系时间",
    "联系结果",
    "办结时间",
    "答复内容",
    "结案评判",
    "满意度",
]
CATEGORIES = (
    "油烟扰民",
    "噪声扰民",
    "违法搭建",
    "群租",
    "占道经营 / 无证设摊",
    "跨门营业",
    "建筑垃圾",
    "工地扬尘",
    "户外广告 / 店招",
    "暴露垃圾 / 垃圾分类",
    "非机动车乱停放",
)
TEXTS = (
    "楼下饭店油烟直排，开窗满屋油烟味，要求处理。",
    "夜间施工噪声扰民，晚上十点后仍在作业，影响休息。",
    "小区内有住户在屋顶违法搭建，要求拆除。",
    "路口有流动摊贩占道经营，影响通行。",
)
REPLY = "经现场查看，反映情况属实，已责令当事人整改，复查时已整改到位。"


def generate_csv(path: Path, rows: int, seed: int = 20261126) -> None:
    """A 12345-style export: 60 % closed, 25 % handling, 15 % awaiting signature, dispatched over 2023–2025.

    (Over 2024–2026 until issue 22: an import now refuses a step dated after the import, and late-2026
    dates lay in the future of a run in December 2026.)
    """
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for i in range(rows):
            day = 1 + (i * 7) % 1000
            month, mday = 1 + (day // 28) % 12, 1 + day % 28
            year = 2023 + (day // 336) % 3
            base = f"{year}-{month:02d}-{mday:02d}"
            street = STREETS[i % len(STREETS)]
            roll = rng.random()
            status = "已办结" if roll < 0.6 else "处理中" if roll < 0.85 else "待签收"
            signed = status != "待签收"
            closed = status == "已办结"
            writer.writerow(
                [
                    f"SH{i:010d}",
                    f"{base} 08:50:00",
                    f"{base} 09:00:00",
                    rng.choice(("投诉举报", "求助", "咨询")),
                    rng.choice(CATEGORIES),
                    "普通",
                    rng.choice(TEXTS),
                    f"上海市静安区某路{i % 5000}号",
                    street,
                    f"{street}综合行政执法队",
                    "王先生",
                    f"138{i % 100000000:08d}",
                    status,
                    f"{base} 09:30:00" if signed else "",
                    f"{base} 10:00:00" if signed else "",
                    "已联" if signed else "",
                    f"{base} 16:00:00" if closed else "",
                    REPLY if closed else "",
                    "实际解决" if closed else "",
                    "满意" if closed else "",
                ]
            )


def generate_xlsx(path: Path, rows: int) -> None:
    """The same layout as an XLSX (write-only openpyxl)."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("工单")
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "x.csv"
        generate_csv(source, rows)
        with source.open(encoding="utf-8") as handle:
            for record in csv.reader(handle):
                sheet.append(record)
    book.save(path)


def timed_run(args: list[str], env: dict[str, str] | None = None) -> float:
    """Wall-clock seconds of a child process (which must succeed)."""
    started = time.perf_counter()
    subprocess.run(args, check=True, env=env, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def child_import(url: str, path: Path, result: Path, *, backfill: bool = False) -> None:
    """In a child process: migrate, import one file (or backfill it), commit; seconds and counts to ``result``."""
    os.environ["TRACKER_DATABASE_URL"] = url
    from tracker import create_app
    from tracker.cli.common import unit_of_work, upgrade_database
    from tracker.models import utcnow
    from tracker.services.accounts.actors import Actor
    from tracker.services.imports.backfill import backfill_file
    from tracker.services.imports.importer import ImportOptions, import_file, lock_imports
    from tracker.services.imports.profiles import load_profile
    from tracker.services.orders.calendar import load_calendar, seed_from_package
    from tracker.services.orders.rules import rule_table, seed_default_rules

    app = create_app()
    with app.app_context():
        upgrade_database()
        with unit_of_work() as session:
            seed_from_package(session, actor=Actor.cli("bench"), now=utcnow())
            seed_default_rules(session)
        started = time.perf_counter()
        with unit_of_work() as session:
            if not backfill:
                lock_imports(session)
            options = ImportOptions(
                actor=Actor.cli("bench"),
                now=utcnow(),
                calendar=load_calendar(session),
                rules=rule_table(session),
                profile=load_profile("12345"),
            )
            if backfill:
                report = backfill_file(session, path, options=options)
            else:
                report = import_file(session, path, options=options)
        seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    result.write_text(
        json.dumps(
            {
                "seconds": seconds,
                "peak_bytes": peak,
                "created": report.created,
                "unchanged": report.unchanged,
                "rejected": len(report.rejected),
            }
        )
    )


def run_child(url: str, path: Path, folder: Path, *, backfill: bool = False) -> dict[str, float]:
    result = folder / "child.json"
    args = [sys.executable, "-m", "benchmarks.import_orders", "--child", url, str(path), str(result)]
    subprocess.run(args + (["--backfill"] if backfill else []), check=True)
    data: dict[str, float] = json.loads(result.read_text())
    return data


def sqlite_reference(csv_path: Path, folder: Path) -> float:
    """`sqlite3 .import` of the CSV into a table of TEXT columns with a unique order number."""
    db = folder / "reference.db"
    columns = ", ".join(f'"{name}" TEXT' + (" UNIQUE" if name == "工单编号" else "") for name in HEADER)
    script = f"CREATE TABLE t({columns});\n.mode csv\n.import --skip 1 {csv_path} t\n"
    started = time.perf_counter()
    subprocess.run(["sqlite3", str(db)], input=script, text=True, check=True)
    return time.perf_counter() - started


def pg_reference(csv_path: Path, url: str) -> float:
    """`psql \\copy` of the CSV into a table with a unique order number."""
    plain = url.replace("postgresql+psycopg://", "postgresql://")
    columns = ", ".join(f'"{name}" TEXT' + (" UNIQUE" if name == "工单编号" else "") for name in HEADER)
    subprocess.run(
        ["psql", plain, "-q", "-c", f"DROP TABLE IF EXISTS bench_ref; CREATE TABLE bench_ref({columns})"], check=True
    )
    started = time.perf_counter()
    subprocess.run(
        ["psql", plain, "-q", "-c", f"\\copy bench_ref FROM '{csv_path}' WITH (FORMAT csv, HEADER true)"], check=True
    )
    seconds = time.perf_counter() - started
    subprocess.run(["psql", plain, "-q", "-c", "DROP TABLE bench_ref"], check=True)
    return seconds


def median(values: list[float]) -> float:
    return statistics.median(values)


def xlsx_figures(folder: Path, rows: int) -> dict[str, float]:
    """Reading a generated XLSX: calamine alone vs the tracker's reader (header, merged cells, rows as text)."""
    from python_calamine import CalamineWorkbook

    from tracker.services.imports.profiles import load_profile
    from tracker.services.imports.reader import open_export

    path = folder / "export.xlsx"
    generate_xlsx(path, rows)
    started = time.perf_counter()
    CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()
    calamine = time.perf_counter() - started
    started = time.perf_counter()
    export = open_export(path, profile=load_profile("12345"))
    count = sum(1 for _ in export.rows())
    ours = time.perf_counter() - started
    assert count == rows
    return {
        "xlsx_rows": rows,
        "xlsx_calamine_s": round(calamine, 3),
        "xlsx_reader_s": round(ours, 3),
        "xlsx_ratio": round(ours / calamine, 2),
    }


def sqlite_figures(export: Path, folder: Path, rows: int, repeat: int) -> dict[str, object]:
    """Fresh, backfill and unchanged imports into SQLite, the reference and the write floors; medians."""
    references, fresh, backfill, unchanged, peaks = [], [], [], [], []
    again = folder / "export-again.csv"
    again.write_bytes(export.read_bytes() + b"\n")  # same rows, another file
    kept = folder / "fresh-kept.db"
    for attempt in range(repeat):
        (folder / "reference.db").unlink(missing_ok=True)
        references.append(sqlite_reference(export, folder))
        db = folder / f"fresh{attempt}.db"
        run = run_child(f"sqlite:///{db}", export, folder)
        again_run = run_child(f"sqlite:///{db}", again, folder)
        assert run["created"] == rows and again_run["unchanged"] == rows, (run, again_run)
        fresh.append(run["seconds"])
        unchanged.append(again_run["seconds"])
        peaks.append(run["peak_bytes"])
        db.replace(kept)
        filled = folder / f"backfill{attempt}.db"
        run = run_child(f"sqlite:///{filled}", export, folder, backfill=True)
        assert run["created"] == rows, run
        backfill.append(run["seconds"])
        filled.unlink()
    floors = {
        f"floor_{name}_s": median([sqlite_floor(kept, folder, revision, bare=bare) for _ in range(repeat)])
        for name, revision, bare in (
            ("before_indexed", BEFORE_ISSUE_16, False),
            ("before_bare", BEFORE_ISSUE_16, True),
            ("indexed", "head", False),
            ("bare", "head", True),
        )
    }
    reference = median(references)
    figures: dict[str, object] = {
        "sqlite_import_reference_s": round(reference, 3),
        "fresh_sqlite_s": round(median(fresh), 3),
        "fresh_vs_reference": round(median(fresh) / reference, 2),
        "backfill_sqlite_s": round(median(backfill), 3),
        "backfill_vs_reference": round(median(backfill) / reference, 2),
        "unchanged_sqlite_s": round(median(unchanged), 3),
        "unchanged_vs_reference": round(median(unchanged) / reference, 2),
        "fresh_peak_mb": round(max(peaks) / 1048576),
        "rows_per_second_fresh": round(rows / median(fresh)),
    }
    for key, value in floors.items():
        figures[key] = round(value, 3)
        figures[key.removesuffix("_s") + "_vs_reference"] = round(value / reference, 2)
    figures["runs"] = {"fresh_s": fresh, "backfill_s": backfill, "unchanged_s": unchanged, "reference_s": references}
    return figures


def pg_figures(export: Path, folder: Path, url: str, rows: int, repeat: int) -> dict[str, object]:
    """The fresh import into PostgreSQL against `psql \\copy`, and its COPY floor; medians."""
    references, fresh = [], []
    for _ in range(repeat):
        reset_pg(url)
        references.append(pg_reference(export, url))
        run = run_child(url, export, folder)
        assert run["created"] == rows, run
        fresh.append(run["seconds"])
    floor, floor_executemany = pg_floor(url, folder)
    reset_pg(url)
    reference = median(references)
    return {
        "pg_copy_reference_s": round(reference, 3),
        "fresh_pg_s": round(median(fresh), 3),
        "fresh_pg_vs_reference": round(median(fresh) / reference, 2),
        "floor_pg_copy_s": round(floor, 3),
        "floor_pg_vs_reference": round(floor / reference, 2),
        "floor_pg_executemany_s": round(floor_executemany, 3),
        "floor_pg_executemany_vs_reference": round(floor_executemany / reference, 2),
        "pg_runs": {"fresh_s": fresh, "reference_s": references},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="导入基准：生成的导出文件与原始载入速度对比")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--xlsx-rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=1, help="每项重复次数，取中位数")
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("TRACKER_BENCH_PG_URL", ""),
        help="PostgreSQL URL whose public schema may be dropped (e.g. the test database)",
    )
    parser.add_argument(
        "--daily-base-rows",
        type=int,
        default=1_000_000,
        help="每日导入（1,500 新单、500 更新）所入大库的工单数；0 则不测（benchmarks.import_daily）",
    )
    parser.add_argument("--child", nargs=3, metavar=("URL", "FILE", "RESULT"), help=argparse.SUPPRESS)
    parser.add_argument("--backfill", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_import(args.child[0], Path(args.child[1]), Path(args.child[2]), backfill=args.backfill)
        return
    if not shutil.which("sqlite3"):
        raise SystemExit("需要 sqlite3 命令行工具（Debian 包 sqlite3）作为参照")
    figures: dict[str, object] = {"benchmark": "import_orders", "rows": args.rows, "repeat": args.repeat}
    figures["load_before"] = round(os.getloadavg()[0], 2)
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        export = folder / "export.csv"
        generate_csv(export, args.rows)
        figures["csv_mb"] = round(export.stat().st_size / 1048576, 1)
        got = sqlite_figures(export, folder, args.rows, args.repeat)
        figures.update(got)
        print(
            f"SQLite：全新导入 {args.rows:,} 行 {got['fresh_sqlite_s']} 秒，为 sqlite3 .import"
            f"（{got['sqlite_import_reference_s']} 秒）的 {got['fresh_vs_reference']} 倍（目标 ≤ 12）；"
            f"--backfill {got['backfill_vs_reference']} 倍（目标 ≤ 8）；全部未变的重新导入 "
            f"{got['unchanged_vs_reference']} 倍（目标 ≤ 0.5）；峰值内存 {got['fresh_peak_mb']} MB；"
            f"只写同样的行（下限）{got['floor_indexed_vs_reference']} 倍"
            f"（无辅助索引 {got['floor_bare_vs_reference']} 倍；"
            f"改动前 {got['floor_before_indexed_vs_reference']} / {got['floor_before_bare_vs_reference']} 倍）"
        )
        if args.pg_url:
            got = pg_figures(export, folder, args.pg_url, args.rows, args.repeat)
            figures.update(got)
            print(
                f"PostgreSQL：全新导入 {got['fresh_pg_s']} 秒，为 psql \\copy（{got['pg_copy_reference_s']} 秒）"
                f"的 {got['fresh_pg_vs_reference']} 倍（目标 ≤ 15）；"
                f"COPY 同样的行（下限）{got['floor_pg_vs_reference']} 倍"
            )
        if args.xlsx_rows:
            xlsx = xlsx_figures(folder, args.xlsx_rows)
            figures.update(xlsx)
            print(
                f"XLSX {args.xlsx_rows:,} 行：读取 {xlsx['xlsx_reader_s']} 秒，为 calamine 单独读取"
                f"（{xlsx['xlsx_calamine_s']} 秒）的 {xlsx['xlsx_ratio']} 倍（目标 ≤ 2）"
            )
    if args.daily_base_rows:  # the clerk's morning: its figures join this run's one JSON line
        from benchmarks import import_daily  # it builds on this module's generator

        daily = import_daily.run(args.daily_base_rows, max(args.repeat, 3), args.pg_url)
        del daily["benchmark"]
        figures.update({key if key.startswith(("daily_", "web_")) else f"daily_{key}": v for key, v in daily.items()})
    figures["load_after"] = round(os.getloadavg()[0], 2)
    figures.update({"python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count()})
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
