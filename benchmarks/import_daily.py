"""The clerk's morning (issue 16): a 2,000-row export (1,500 new orders, 500 updates of open ones) into a
database of ``--base-rows`` orders, against raw loading of the same rows in the same run.

Figures (medians of ``--repeat`` runs, each on a fresh copy of the base database):
- the CLI import (``import_file`` as ``flask import-orders`` runs it, committed) into SQLite, against
  ``sqlite3 .import`` of the same 2,000 rows into a table of ``--base-rows`` rows with a unique order
  number (target ≤ 30×);
- the same into PostgreSQL (``--pg-url``), against ``psql \\copy`` into a table of the same size
  (target ≤ 30×); PostgreSQL has no cheap copy of a database, so each run's import is rolled back
  instead of committed (the commit itself is one WAL flush);
- the web flow on SQLite: the uploads service's dry run, then its commit (确认导入) of the stored file,
  as the web runs them (target ≤ 2.5× the CLI import).

The base database is built once by the importer itself (the rows the tracker writes) and kept under
instance/ beside the reference table, like benchmarks/web.py's; the PostgreSQL base is kept between runs
in the schema ``bench_daily_base`` (out of the test suite's way) and analysed before it is measured.
Every measurement runs in a child process of its own. The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.import_orders import HEADER, REPLY, generate_csv, reset_pg, run_child

ROOT = Path(__file__).resolve().parents[1]
NEW_ROWS = 1500
UPDATED_ROWS = 500
NEW_DAYS = ("2025-12-01", "2025-12-02", "2025-12-03", "2025-12-04", "2025-12-05")
TIME_COLUMNS = ("受理时间", "派单时间", "签收时间", "联系时间", "办结时间")


def daily_rows(base_csv: Path, seed: int = 20261206) -> list[list[str]]:
    """The morning's file: 500 open orders of the base moved on a step (signed, or closed), then 1,500 new ones."""
    with base_csv.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        next(reader)
        open_rows = [row for row in reader if row[HEADER.index("工单状态")] != "已办结"]
    step = max(len(open_rows) // UPDATED_ROWS, 1)
    updates = [_moved_on(row) for row in open_rows[::step][:UPDATED_ROWS]]
    with tempfile.TemporaryDirectory() as folder:
        fresh = Path(folder) / "new.csv"
        generate_csv(fresh, NEW_ROWS, seed=seed)
        with fresh.open(encoding="utf-8", newline="") as handle:
            reader = csv.reader(handle)
            next(reader)
            news = [_renumbered(i, row) for i, row in enumerate(reader)]
    return updates + news


def _moved_on(row: list[str]) -> list[str]:
    """An open order one step further: 待签收 signed and contacted, 处理中 closed."""
    out = list(row)
    day = row[HEADER.index("派单时间")][:10]
    if row[HEADER.index("工单状态")] == "待签收":
        values = {"工单状态": "处理中", "签收时间": f"{day} 09:30:00", "联系时间": f"{day} 10:00:00"}
        values["联系结果"] = "已联"
    else:
        values = {"工单状态": "已办结", "办结时间": f"{day} 16:00:00", "答复内容": REPLY, "结案评判": "实际解决"}
        values["满意度"] = "满意"
    for name, value in values.items():
        out[HEADER.index(name)] = value
    return out


def _renumbered(i: int, row: list[str]) -> list[str]:
    """A generated row as a new order of the last days (its own number, its times moved to a recent day)."""
    out = list(row)
    out[HEADER.index("工单编号")] = f"SD{i:010d}"
    day = NEW_DAYS[i % len(NEW_DAYS)]
    for name in TIME_COLUMNS:
        value = out[HEADER.index(name)]
        if value:
            out[HEADER.index(name)] = f"{day}{value[10:]}"
    return out


def write_csv(path: Path, rows: list[list[str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(rows)


def _complete(path: Path, info: dict[str, Any]) -> bool:
    marker = path.with_suffix(path.suffix + ".complete.json")
    return path.exists() and marker.exists() and json.loads(marker.read_text()) == info


def _mark(path: Path, info: dict[str, Any]) -> None:
    path.with_suffix(path.suffix + ".complete.json").write_text(json.dumps(info))


def base_files(folder: Path, base_rows: int) -> tuple[Path, Path, Path, bool]:
    """The base export, the tracker database built from it, and the reference table: built once, reused."""
    folder.mkdir(parents=True, exist_ok=True)
    base_csv, base_db, ref_db = (folder / f"base-{base_rows}{s}" for s in (".csv", ".db", "-ref.db"))
    info = {"base_rows": base_rows}
    reused = _complete(base_db, info) and _complete(ref_db, info) and base_csv.exists()
    if not reused:
        generate_csv(base_csv, base_rows)
        base_db.unlink(missing_ok=True)
        with tempfile.TemporaryDirectory() as scratch:
            made = run_child(f"sqlite:///{base_db}", base_csv, Path(scratch))
        assert made["created"] == base_rows, made
        _mark(base_db, info)
        ref_db.unlink(missing_ok=True)
        columns = ", ".join(f'"{name}" TEXT' + (" UNIQUE" if name == "工单编号" else "") for name in HEADER)
        script = (
            f"CREATE TABLE t({columns});\n.mode csv\n.import --skip 1 {base_csv} t\n"
            'UPDATE t SET "工单编号" = \'R\' || "工单编号";\n'  # the morning's rows are all new to it
        )
        subprocess.run(["sqlite3", str(ref_db)], input=script, text=True, check=True)
        _mark(ref_db, info)
    else:
        run_mode("migrate", f"sqlite:///{base_db}", base_csv, folder)
    return base_csv, base_db, ref_db, reused


def sqlite_daily_reference(ref_db: Path, daily: Path, scratch: Path) -> float:
    """`sqlite3 .import` of the morning's rows into a fresh copy of the reference table."""
    db = scratch / "ref.db"
    shutil.copyfile(ref_db, db)
    script = f".mode csv\n.import --skip 1 {daily} t\n"
    started = time.perf_counter()
    subprocess.run(["sqlite3", str(db)], input=script, text=True, check=True)
    seconds = time.perf_counter() - started
    db.unlink()
    return seconds


PG_KEPT = "bench_daily_base"  # the schema a measured PostgreSQL base is kept in between runs


def pg_keep(url: str, base_rows: int) -> None:
    """After a run: the base's schema renamed aside (its size in the schema's comment) and an empty public
    schema left in its place, so that the test suite, which drops public, leaves the base alone."""
    _psql(
        url,
        f"SET client_min_messages = warning; DROP SCHEMA IF EXISTS {PG_KEPT} CASCADE;"
        f" ALTER SCHEMA public RENAME TO {PG_KEPT}; CREATE SCHEMA public;"
        f" COMMENT ON SCHEMA {PG_KEPT} IS '{json.dumps({'base_rows': base_rows})}';",
    )


def pg_restore_kept(url: str, base_rows: int) -> bool:
    """Before a run: a kept base of the same size brought back as public (renames: instant); whether it was."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            comment = conn.execute(
                text("SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace WHERE nspname = :name"),
                {"name": PG_KEPT},
            ).scalar()
    finally:
        engine.dispose()
    if comment is None or json.loads(comment) != {"base_rows": base_rows}:
        return False
    _psql(url, f"DROP SCHEMA IF EXISTS public CASCADE; ALTER SCHEMA {PG_KEPT} RENAME TO public;")
    return True


def _psql(url: str, script: str) -> None:
    plain = url.replace("postgresql+psycopg://", "postgresql://")
    subprocess.run(["psql", plain, "-q", "-v", "ON_ERROR_STOP=1", "-c", script], check=True)


def pg_base(url: str, base_csv: Path, base_rows: int, scratch: Path) -> None:
    """The PostgreSQL base: the importer's rows and the reference table, kept while the database holds them
    or in a schema of their own between runs (:func:`pg_keep`), with fresh planner statistics
    (:func:`pg_analyze`). Building it takes the importer about 2 minutes for 200,000 orders."""
    from sqlalchemy import create_engine, text

    if pg_restore_kept(url, base_rows):
        run_mode("migrate", url, base_csv, scratch)  # kept by an earlier schema: brought to the newest
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            found = conn.execute(text("SELECT count(*) FROM work_order")).scalar_one()
            ref = conn.execute(text("SELECT count(*) FROM bench_daily_ref")).scalar_one()
        if found == base_rows and ref == base_rows:
            pg_analyze(url)
            return
    except Exception:  # no schema yet (a test run dropped it): built below
        pass
    finally:
        engine.dispose()
    started = time.perf_counter()
    reset_pg(url)
    made = run_child(url, base_csv, scratch)
    assert made["created"] == base_rows, made
    plain = url.replace("postgresql+psycopg://", "postgresql://")
    columns = ", ".join(f'"{name}" TEXT' + (" UNIQUE" if name == "工单编号" else "") for name in HEADER)
    script = (
        f"CREATE TABLE bench_daily_ref({columns});\n"
        f"\\copy bench_daily_ref FROM '{base_csv}' WITH (FORMAT csv, HEADER true)\n"
        'UPDATE bench_daily_ref SET "工单编号" = \'R\' || "工单编号";\nVACUUM ANALYZE bench_daily_ref;\n'
    )
    subprocess.run(["psql", plain, "-q", "-v", "ON_ERROR_STOP=1"], input=script, text=True, check=True)
    pg_analyze(url)
    print(f"PostgreSQL 基准库（{base_rows:,} 单）由导入程序建成，用时 {time.perf_counter() - started:.0f} 秒")


def pg_analyze(url: str) -> None:
    """Planner statistics of the base's tables, as autovacuum keeps them in production.

    A test server runs with autovacuum off, and a base just written by the importer has none: the
    planner then guessed a few hundred orders where there were 200,000 and read the whole table for
    the survey's lookups and the updates' loads (1.7 s a morning instead of about 1 s). The reference
    table is analysed when it is built; so is the base, each run (about 2 s, outside the figures).
    """
    _psql(url, "ANALYZE work_order, order_deadline, order_event;")


def pg_daily_reference(url: str, daily: Path) -> float:
    """`psql \\copy` of the morning's rows into the same-size reference table (its rows removed afterwards)."""
    plain = url.replace("postgresql+psycopg://", "postgresql://")
    started = time.perf_counter()
    subprocess.run(
        ["psql", plain, "-q", "-c", f"\\copy bench_daily_ref FROM '{daily}' WITH (FORMAT csv, HEADER true)"],
        check=True,
    )
    seconds = time.perf_counter() - started
    subprocess.run(["psql", plain, "-q", "-c", "DELETE FROM bench_daily_ref WHERE \"工单编号\" NOT LIKE 'R%'"])
    return seconds


def child(mode: str, url: str, path: Path, result: Path) -> None:
    """In a child process: one import of the morning's file (``cli``, ``cli-rollback`` or ``web``)."""
    os.environ["TRACKER_DATABASE_URL"] = url
    from tracker import create_app

    app = create_app()
    with app.app_context():
        if mode == "migrate":  # a base built by an earlier schema: brought to the newest before it is measured
            from tracker.cli.common import upgrade_database

            before, after = upgrade_database()
            figures: dict[str, Any] = {"before": before, "after": after}
        else:
            figures = _web(app, path) if mode == "web" else _cli(path, commit=mode == "cli")
    result.write_text(json.dumps(figures))


def _cli(path: Path, *, commit: bool) -> dict[str, Any]:
    """``import_file`` with the options ``flask import-orders`` gives it; committed, or rolled back (PostgreSQL)."""
    from datetime import timedelta

    from flask import current_app

    from tracker.cli.common import unit_of_work
    from tracker.models import utcnow
    from tracker.services.accounts.actors import Actor
    from tracker.services.imports.importer import ImportOptions, import_file, lock_imports, plan_first_default
    from tracker.services.imports.profiles import load_profile
    from tracker.services.imports.reader import Limits
    from tracker.services.orders import load_calendar, rule_table

    started = time.perf_counter()
    with unit_of_work() as session:
        plan_first = plan_first_default(session)
        if not plan_first:
            lock_imports(session)
        options = ImportOptions(
            actor=Actor(id="cli", name="bench", source="cli"),
            now=utcnow(),
            calendar=load_calendar(session),
            rules=rule_table(session),
            profile=load_profile("12345"),
            limits=Limits.from_config(current_app.config),
            repeat_window=timedelta(days=current_app.config["REPEAT_WINDOW_DAYS"]),
            plan_first=plan_first,
        )
        report = import_file(session, path, options=options)
        if not commit:
            session.flush()
            seconds = time.perf_counter() - started
            session.rollback()
    if commit:
        seconds = time.perf_counter() - started
    return {"seconds": seconds, "created": report.created, "updated": report.updated, "issues": _issues(report)}


def _issues(report: Any) -> int:
    return len(report.rejected) + len(report.conflicts)


def _web(app: Any, path: Path) -> dict[str, Any]:
    """The uploads service as the web runs it: dry run (committed record), then 确认导入 (committed)."""
    from datetime import timedelta

    from tracker.db import get_session
    from tracker.models import utcnow
    from tracker.services.accounts.actors import Actor
    from tracker.services.imports.reader import Limits
    from tracker.services.imports.uploads import ImportSettings, commit_upload, receive_upload

    folder = path.parent / "uploads"
    settings = ImportSettings(
        actor=Actor(id="bench", name="bench", source="web"),
        now=utcnow(),
        limits=Limits.from_config(app.config),
        repeat_window=timedelta(days=app.config["REPEAT_WINDOW_DAYS"]),
    )
    started = time.perf_counter()
    session = get_session()
    with path.open("rb") as stream:
        upload = receive_upload(
            session, stream=stream, original_name=path.name, profile="12345", folder=folder, settings=settings
        )
    session.commit()
    dry = time.perf_counter() - started
    session.close()
    session = get_session()
    settings = ImportSettings(settings.actor, utcnow(), settings.limits, settings.repeat_window)
    again = session.get(type(upload), upload.id)
    report = commit_upload(session, upload=again, folder=folder, settings=settings)
    session.commit()
    seconds = time.perf_counter() - started
    session.close()
    shutil.rmtree(folder, ignore_errors=True)
    return {"seconds": seconds, "dry_run_s": dry, "created": report.created, "updated": report.updated}


def run_mode(mode: str, url: str, daily: Path, scratch: Path) -> dict[str, Any]:
    result = scratch / "child.json"
    subprocess.run(
        [sys.executable, "-m", "benchmarks.import_daily", "--child", mode, url, str(daily), str(result)], check=True
    )
    data: dict[str, Any] = json.loads(result.read_text())
    result.unlink()
    return data


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def run(base_rows: int = 1_000_000, repeat: int = 3, pg_url: str = "", folder: Path | None = None) -> dict[str, Any]:
    """Every figure of the morning's import, with its reference measured in the same run."""
    folder = folder or ROOT / "instance" / "bench-daily"
    figures: dict[str, Any] = {"benchmark": "import_daily", "base_rows": base_rows, "repeat": repeat}
    base_csv, base_db, ref_db, reused = base_files(folder, base_rows)
    figures["base_reused"] = reused
    figures["load_before"] = _load()
    with tempfile.TemporaryDirectory() as name:
        scratch = Path(name)
        daily = scratch / "daily.csv"
        write_csv(daily, daily_rows(base_csv))
        refs, clis, webs, drys = [], [], [], []
        for _ in range(repeat):
            refs.append(sqlite_daily_reference(ref_db, daily, scratch))
            for mode, times in (("cli", clis), ("web", webs)):
                db = scratch / "run.db"
                shutil.copyfile(base_db, db)
                done = run_mode(mode, f"sqlite:///{db}", daily, scratch)
                assert done["created"] == NEW_ROWS and done["updated"] == UPDATED_ROWS, done
                times.append(done["seconds"])
                if mode == "web":
                    drys.append(done["dry_run_s"])
                for companion in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
                    companion.unlink(missing_ok=True)
        ref, cli, web = (statistics.median(x) for x in (refs, clis, webs))
        figures.update(
            {
                "daily_sqlite_reference_s": round(ref, 4),
                "daily_sqlite_s": round(cli, 3),
                "daily_sqlite_vs_reference": round(cli / ref, 1),
                "web_daily_s": round(web, 3),
                "web_dry_run_s": round(statistics.median(drys), 3),
                "web_daily_vs_cli": round(web / cli, 2),
                "daily_sqlite_runs_s": [round(x, 3) for x in clis],
                "web_daily_runs_s": [round(x, 3) for x in webs],
            }
        )
        print(
            f"SQLite（{base_rows:,} 单）：每日 2,000 行导入 {cli:.2f} 秒，为 sqlite3 .import（{ref:.3f} 秒）的 "
            f"{cli / ref:.1f} 倍（目标 ≤ 30）；网页试导入 + 确认导入 {web:.2f} 秒，"
            f"为命令行的 {web / cli:.2f} 倍（目标 ≤ 2.5）"
        )
        if pg_url:
            pg_base(pg_url, base_csv, base_rows, scratch)
            pg_refs, pgs = [], []
            for _ in range(repeat):
                pg_refs.append(pg_daily_reference(pg_url, daily))
                done = run_mode("cli-rollback", pg_url, daily, scratch)
                assert done["created"] == NEW_ROWS and done["updated"] == UPDATED_ROWS, done
                pgs.append(done["seconds"])
            pg_keep(pg_url, base_rows)
            pg_ref, pg = statistics.median(pg_refs), statistics.median(pgs)
            figures.update(
                {
                    "daily_pg_reference_s": round(pg_ref, 4),
                    "daily_pg_s": round(pg, 3),
                    "daily_pg_vs_reference": round(pg / pg_ref, 1),
                    "daily_pg_runs_s": [round(x, 3) for x in pgs],
                }
            )
            print(
                f"PostgreSQL：每日 2,000 行导入 {pg:.2f} 秒，为 psql \\copy（{pg_ref:.3f} 秒）的 {pg / pg_ref:.1f} 倍"
                "（目标 ≤ 30）"
            )
    figures["load_after"] = _load()
    figures["cpus"] = os.cpu_count()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description="每日导入基准：2,000 行（1,500 新单、500 更新）导入大库")
    parser.add_argument("--base-rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("TRACKER_BENCH_PG_URL", ""),
        help="PostgreSQL URL whose public schema may be dropped (e.g. the test database)",
    )
    parser.add_argument("--child", nargs=4, metavar=("MODE", "URL", "FILE", "RESULT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], Path(args.child[2]), Path(args.child[3]))
        return
    if not shutil.which("sqlite3"):
        raise SystemExit("需要 sqlite3 命令行工具（Debian 包 sqlite3）作为参照")
    print(json.dumps(run(args.base_rows, args.repeat, args.pg_url), ensure_ascii=False))


if __name__ == "__main__":
    main()
