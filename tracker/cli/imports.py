"""Import commands: `import-orders` for export files and `demo-load` for the samples; one transaction per file."""

from __future__ import annotations

import json
import os
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext

from tracker.cli.common import fail, parse_local_time, unit_of_work
from tracker.domain.errors import TrackerError
from tracker.domain.spreadsheets import rows_to_csv
from tracker.models import utcnow
from tracker.services.accounts import Actor
from tracker.services.imports import (
    ImportOptions,
    ImportReport,
    Limits,
    backfill_file,
    import_file,
    load_profile,
    lock_imports,
    plan_first_default,
    report_sheets,
    reports_to_xlsx,
)
from tracker.services.orders import load_calendar, rule_table

PROGRESS_FROM_ROWS = 1000
TOTAL_KEYS = ("rows_read", "created", "updated", "unchanged", "rejected", "conflicts")


def print_report(report: ImportReport, *, limit: int = 50) -> None:
    """The summary line and the first rejected and conflicting rows."""
    click.echo(report.summary())
    for label, issues in (("拒绝", report.rejected), ("冲突", report.conflicts), ("提示", report.warnings)):
        for issue in issues[:limit]:
            click.echo(f"  [{label}] {issue}")
        if len(issues) > limit:
            click.echo(f"  [{label}] ……另有 {len(issues) - limit} 行，见 --report-json / --report-xlsx")


@click.command("import-orders")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--source", default=None, help="来源标记（默认取导入配置中的 source）")
@click.option(
    "--profile",
    "profile_name",
    default=None,
    help="内置导入配置名（12345、城管诉件、nyc311）或 TOML 文件路径；不填则按表头自动识别",
)
@click.option("--dry-run", is_flag=True, help="完整试导入并报告结果，但不保存任何改动")
@click.option(
    "--backfill",
    is_flag=True,
    help="向空数据库导入历史数据：导入期间先去掉辅助索引，导入后重建（更快）；数据库中已有工单时拒绝执行",
)
@click.option("--report-json", type=click.Path(dir_okay=False, path_type=Path), help="把导入报告写成 JSON 文件")
@click.option("--report-xlsx", type=click.Path(dir_okay=False, path_type=Path), help="把导入报告写成 Excel 文件")
@click.option(
    "--report-csv",
    type=click.Path(dir_okay=False, path_type=Path),
    help="把导入报告的明细（拒绝、冲突、提示、跳过的行）写成 CSV 文件（UTF-8 带 BOM，Excel 可直接打开）",
)
@click.option("--user", default="命令行操作员", help="导入人姓名，记入导入批次")
@with_appcontext
def import_orders_command(
    paths: tuple[Path, ...],
    source: str | None,
    profile_name: str | None,
    dry_run: bool,
    backfill: bool,
    report_json: Path | None,
    report_xlsx: Path | None,
    report_csv: Path | None,
    user: str,
) -> None:
    """导入 12345 / 城管诉件等平台导出的工单文件（.xlsx / .xls / .csv），按工单编号新建或更新。

    每个文件单独成一个事务：文件本身有问题（无法读取、缺少必需列、超过大小或行数上限）时不做任何改动，
    退出码非 0；个别行有问题时其余行照常导入，问题行在报告中列出行号、列、值和原因，退出码为 0。
    """
    try:
        profile = load_profile(profile_name) if profile_name else None
    except TrackerError as exc:
        raise fail(exc) from None
    for option, report_path in (
        ("--report-json", report_json),
        ("--report-xlsx", report_xlsx),
        ("--report-csv", report_csv),
    ):
        if report_path is not None:
            _check_writable(option, report_path)
    reports: list[ImportReport] = []
    refused: list[dict[str, str]] = []
    for path in paths:
        try:
            reports.append(
                _import_one_file(path, profile=profile, source=source, dry_run=dry_run, user=user, backfill=backfill)
            )
        except TrackerError as exc:
            click.echo(f"{path.name}：整个文件未导入。{exc.message}", err=True)
            refused.append({"file": path.name, "reason": exc.message})
    if dry_run:
        click.echo("（试导入：以上结果均未保存）")
    if report_json:
        report_json.write_text(json.dumps(_json(reports, refused), ensure_ascii=False, indent=2), encoding="utf-8")
    if report_xlsx and reports:
        report_xlsx.write_bytes(reports_to_xlsx(reports))
    if report_csv and reports:
        report_csv.write_bytes(rows_to_csv(report_sheets(reports)["明细"]))
    if refused:
        raise SystemExit(1)


def _check_writable(option: str, path: Path) -> None:
    """Refuse before importing anything when a report could not be written afterwards."""
    folder = path.parent if str(path.parent) else Path(".")
    if path.exists():
        problem = None if os.access(path, os.W_OK) else "文件不可写"
    elif not folder.is_dir():
        problem = "所在目录不存在"
    else:
        problem = None if os.access(folder, os.W_OK | os.X_OK) else "所在目录不可写（当前用户无写权限）"
    if problem:
        raise click.ClickException(f"{option} {path}：{problem}。未导入任何文件，请换一个可写的路径。")


def _import_one_file(
    path: Path, *, profile: Any, source: str | None, dry_run: bool, user: str, backfill: bool = False
) -> ImportReport:
    bar: Any = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if total < PROGRESS_FROM_ROWS:
            return
        if bar is None:
            bar = click.progressbar(length=total, label=f"导入 {path.name}")
            bar.__enter__()
        bar.update(done - bar.pos)

    try:
        with unit_of_work() as session:
            # SQLite: plan before taking the write lock (a backfill holds it throughout: nobody else uses the database)
            plan_first = plan_first_default(session) and not backfill
            if not plan_first and not backfill:
                lock_imports(session)  # before any read: see lock_imports
            options = ImportOptions(
                actor=Actor(id="cli", name=user, source="cli"),
                now=utcnow(),
                calendar=load_calendar(session),
                rules=rule_table(session),
                profile=profile,
                source=source,
                limits=Limits.from_config(current_app.config),
                repeat_window=timedelta(days=current_app.config["REPEAT_WINDOW_DAYS"]),
                progress=progress,
                plan_first=plan_first,
            )
            if backfill:  # indexes dropped, the file imported, indexes built again; refused if any order is stored
                report = backfill_file(session, path, options=options)
            else:
                report = import_file(session, path, options=options)
            if dry_run:
                session.rollback()
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    print_report(report)
    return report


def _json(reports: list[ImportReport], refused: list[dict[str, str]]) -> dict[str, Any]:
    if len(reports) == 1 and not refused:
        return reports[0].as_json()
    files = [r.as_json() for r in reports]
    totals: dict[str, Any] = {key: sum(f[key] for f in files) for key in TOTAL_KEYS}
    totals["errors"] = [{**e, "file": f["file"]} for f in files for e in f["errors"]]
    return {**totals, "refused_files": refused, "files": files}


@click.command("demo-load")
@click.option("--now", "now_text", default=None, help="以此时刻（ISO-8601）为“今天”，默认当前时间")
@with_appcontext
def demo_load_command(now_text: str | None) -> None:
    """载入 sample_orders/ 中的示例导出文件，时间按工作日平移到今天（已导入过的文件不重复导入）。"""
    from tracker.services.operations import load_samples

    now = parse_local_time(now_text).astimezone(UTC) if now_text else utcnow()
    try:
        with unit_of_work() as session:
            loaded = load_samples(session, now=now)
    except TrackerError as exc:
        raise fail(exc) from None
    if loaded.note:
        click.echo(f"注意：{loaded.note}")
    for report in loaded.reports:
        print_report(report, limit=10)
    if loaded.users:
        click.echo("已创建示例用户（仅供演示，正式使用前请停用或改密码）：")
    for username, password, who in loaded.users:
        click.echo(f"  {who}：用户名 {username}  密码 {password}")
    if not loaded.users:
        click.echo("示例用户已存在，密码未改动（忘记密码可用 flask --app wsgi set-password --username 用户名 重设）。")
