"""Import benchmark (issue 3): a generated export against raw loading of the same file, in the same run.

Figures, each as a ratio with its reference:
- fresh import into SQLite (validation, deadlines, audit) vs `sqlite3` CLI `.import` into a table
  with a unique key on the order number (target ≤ 3×);
- re-import of the same rows, all unchanged, from another file (target ≤ 1×);
- reading a 100,000-row XLSX (open_export and its rows) vs python-calamine alone (target ≤ 2×);
- peak memory of the fresh import (target < 1 GB);
- the fresh import into PostgreSQL vs `psql \\copy` (when --pg-url is given).
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
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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


def child_import(url: str, path: Path, result: Path) -> None:
    """In a child process: migrate, import one file, commit; write seconds and counts to ``result``."""
    os.environ["TRACKER_DATABASE_URL"] = url
    from tracker import create_app
    from tracker.cli.common import unit_of_work, upgrade_database
    from tracker.models import utcnow
    from tracker.services.accounts.actors import Actor
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
            lock_imports(session)
            options = ImportOptions(
                actor=Actor.cli("bench"),
                now=utcnow(),
                calendar=load_calendar(session),
                rules=rule_table(session),
                profile=load_profile("12345"),
            )
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


def run_child(url: str, path: Path, folder: Path) -> dict[str, float]:
    result = folder / "child.json"
    subprocess.run(
        [sys.executable, "-m", "benchmarks.import_orders", "--child", url, str(path), str(result)], check=True
    )
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


def reset_pg(url: str) -> None:
    from sqlalchemy import create_engine

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description="导入基准：生成的导出文件与原始载入速度对比")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--xlsx-rows", type=int, default=100_000)
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("TRACKER_BENCH_PG_URL", ""),
        help="PostgreSQL URL whose public schema may be dropped (e.g. the test database)",
    )
    parser.add_argument("--child", nargs=3, metavar=("URL", "FILE", "RESULT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_import(args.child[0], Path(args.child[1]), Path(args.child[2]))
        return
    if not shutil.which("sqlite3"):
        raise SystemExit("需要 sqlite3 命令行工具（Debian 包 sqlite3）作为参照")
    figures: dict[str, object] = {"benchmark": "import_orders", "rows": args.rows}
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        export = folder / "export.csv"
        generate_csv(export, args.rows)
        figures["csv_mb"] = round(export.stat().st_size / 1048576, 1)
        reference = sqlite_reference(export, folder)
        url = f"sqlite:///{folder / 'tracker.db'}"
        fresh = run_child(url, export, folder)
        again = folder / "export-again.csv"
        again.write_bytes(export.read_bytes() + b"\n")  # same rows, another file
        unchanged = run_child(url, again, folder)
        assert fresh["created"] == args.rows and unchanged["unchanged"] == args.rows, (fresh, unchanged)
        figures.update(
            {
                "sqlite_import_reference_s": round(reference, 3),
                "fresh_sqlite_s": round(fresh["seconds"], 3),
                "fresh_vs_reference": round(fresh["seconds"] / reference, 2),
                "unchanged_sqlite_s": round(unchanged["seconds"], 3),
                "unchanged_vs_reference": round(unchanged["seconds"] / reference, 2),
                "fresh_peak_mb": round(fresh["peak_bytes"] / 1048576),
                "rows_per_second_fresh": round(args.rows / fresh["seconds"]),
            }
        )
        print(
            f"SQLite：全新导入 {args.rows:,} 行 {fresh['seconds']:.1f} 秒，为 sqlite3 .import（{reference:.1f} 秒）的 "
            f"{fresh['seconds'] / reference:.1f} 倍（目标 ≤ 3）；全部未变的重新导入 {unchanged['seconds']:.1f} 秒，"
            f"{unchanged['seconds'] / reference:.1f} 倍（目标 ≤ 1）；峰值内存 {fresh['peak_bytes'] / 1048576:.0f} MB"
        )
        if args.pg_url:
            reset_pg(args.pg_url)
            pg_ref = pg_reference(export, args.pg_url)
            pg = run_child(args.pg_url, export, folder)
            reset_pg(args.pg_url)
            figures.update(
                {
                    "pg_copy_reference_s": round(pg_ref, 3),
                    "fresh_pg_s": round(pg["seconds"], 3),
                    "fresh_pg_vs_reference": round(pg["seconds"] / pg_ref, 2),
                }
            )
            print(
                f"PostgreSQL：全新导入 {pg['seconds']:.1f} 秒，为 psql \\copy（{pg_ref:.1f} 秒）的 "
                f"{pg['seconds'] / pg_ref:.1f} 倍"
            )
        if args.xlsx_rows:
            xlsx = xlsx_figures(folder, args.xlsx_rows)
            figures.update(xlsx)
            print(
                f"XLSX {args.xlsx_rows:,} 行：读取 {xlsx['xlsx_reader_s']} 秒，为 calamine 单独读取"
                f"（{xlsx['xlsx_calamine_s']} 秒）的 {xlsx['xlsx_ratio']} 倍（目标 ≤ 2）"
            )
    figures.update({"python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count()})
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
