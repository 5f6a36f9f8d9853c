"""Flask commands for operators; each opens one session, calls services and commits once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import click
from alembic import command as alembic_command
from alembic.config import Config as AlembicConfig
from flask import Flask
from flask.cli import with_appcontext
from sqlmodel import Session

from tracker.db import get_engine, get_session
from tracker.domain.deadlines import LOCAL_TZ, compute_due, explain_due
from tracker.domain.errors import TrackerError
from tracker.domain.labels import STAGE_LABELS, format_local, unit_amount_label
from tracker.domain.vocabulary import Stage, Unit
from tracker.models import utcnow
from tracker.services import calendar as calendar_service
from tracker.services import rules as rules_service
from tracker.services.actors import Actor

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config() -> AlembicConfig:
    """Alembic configured for the tracker's migrations folder."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def upgrade_database() -> None:
    """Bring the configured database to the newest schema (safe to run again)."""
    cfg = alembic_config()
    with get_engine().begin() as connection:
        cfg.attributes["connection"] = connection
        alembic_command.upgrade(cfg, "head")


@contextmanager
def unit_of_work() -> Iterator[Session]:
    """The command's session: commits once at the end, rolls back on any error."""
    session = get_session()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise


def fail(exc: TrackerError) -> click.ClickException:
    """A tracker error as a command-line failure with its Chinese message."""
    return click.ClickException(exc.message)


@click.command("init-db")
@with_appcontext
def init_db_command() -> None:
    """迁移数据库到最新结构，并载入节假日安排与默认期限规则（可重复运行）。"""
    upgrade_database()
    with unit_of_work() as session:
        years = calendar_service.seed_from_package(session, actor=Actor.cli("init-db"), now=utcnow())
        rules = rules_service.seed_default_rules(session)
    click.echo("数据库已是最新结构。")
    click.echo(f"新载入节假日年份：{', '.join(map(str, years)) if years else '无（已全部载入）'}")
    click.echo(f"新写入默认期限规则：{rules} 条")


def parse_local_time(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"起算时间「{value}」不是 ISO-8601 格式，例如 2026-02-13T10:00") from None
    return moment.replace(tzinfo=LOCAL_TZ) if moment.tzinfo is None else moment


@click.command("deadline")
@click.argument("start")
@click.option("--working-days", "working_days", type=click.IntRange(min=0), help="工作日数")
@click.option("--hours", type=click.IntRange(min=0), help="自然小时数")
@with_appcontext
def deadline_command(start: str, working_days: int | None, hours: int | None) -> None:
    """按已载入的节假日安排计算期限并逐日说明。START 为北京时间，例如 2026-02-13T10:00。"""
    if (working_days is None) == (hours is None):
        raise click.UsageError("请指定 --working-days 或 --hours 其中之一")
    moment = parse_local_time(start)
    amount, unit = (working_days, Unit.WORKING_DAYS) if working_days is not None else (hours, Unit.HOURS)
    assert amount is not None
    session = get_session()
    calendar = calendar_service.load_calendar(session)
    try:
        due = compute_due(moment, amount, unit, calendar)
        lines = explain_due(moment, amount, unit, calendar)
    except TrackerError as exc:
        raise fail(exc) from None
    click.echo(f"截止时间：{format_local(due)}（北京时间）")
    for line in lines:
        click.echo(f"  {line}")


@click.group("calendar")
def calendar_group() -> None:
    """节假日安排：查看已载入年份、载入新一年的安排。"""


@calendar_group.command("status")
@with_appcontext
def calendar_status_command() -> None:
    """列出已载入的年份，并提示明年是否已载入。"""
    session = get_session()
    years = calendar_service.loaded_years(session)
    for row in years:
        click.echo(f"{row.year} 年：来源 {row.source}，载入于 {format_local(row.loaded_at)}，载入人 {row.loaded_by}")
    next_year = datetime.now(LOCAL_TZ).year + 1
    if next_year not in {row.year for row in years}:
        click.echo(f"注意：{next_year} 年节假日安排尚未载入。国务院通常于每年 11 月公布次年安排。")


@calendar_group.command("load")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def calendar_load_command(path: Path) -> None:
    """从 TOML 文件载入（或替换）一年的节假日安排，并重算所有未办结工单的期限。"""
    try:
        with unit_of_work() as session:
            result = calendar_service.load_year(
                session, path.read_text(encoding="utf-8"), source=f"文件 {path.name}", actor=Actor.cli(), now=utcnow()
            )
    except TrackerError as exc:
        raise fail(exc) from None
    verb = "替换" if result.replaced else "载入"
    click.echo(
        f"已{verb} {result.year} 年节假日安排：节假日 {result.holidays} 天，调休补班 {result.workdays} 天；"
        f"重算未办结工单期限 {result.recomputed} 项。"
    )


@click.group("rules")
def rules_group() -> None:
    """期限规则表：查看与修改。"""


@rules_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
@with_appcontext
def rules_list_command(as_json: bool) -> None:
    """列出期限规则（越具体的规则优先）。"""
    table = rules_service.rule_table(get_session())
    if as_json:
        click.echo(
            json.dumps(
                [{**r.__dict__, "stage": r.stage.value, "unit": r.unit.value} for r in table.rules],
                ensure_ascii=False,
                indent=2,
            )
        )
        return
    for rule in table.rules:
        scope = "，".join(x for x in (rule.request_type, rule.urgency) if x) or "通用"
        click.echo(
            f"{STAGE_LABELS[rule.stage]:<6}{scope:<10}{unit_amount_label(rule.amount, rule.unit):<10}{rule.note}"
        )


STAGE_CHOICES = {**{s.value: s for s in Stage}, **{label: stage for stage, label in STAGE_LABELS.items()}}


@rules_group.command("set")
@click.argument("stage", type=click.Choice(list(STAGE_CHOICES)))
@click.argument("amount", type=int)
@click.option("--unit", type=click.Choice([Unit.WORKING_DAYS.value, Unit.HOURS.value]), default=Unit.WORKING_DAYS.value)
@click.option("--request-type", default=None, help="诉求类型，如 投诉举报；不填为通用")
@click.option("--urgency", default=None, help="紧急程度，如 紧急；不填为通用")
@click.option("--note", default="", help="规则依据说明")
@with_appcontext
def rules_set_command(
    stage: str, amount: int, unit: str, request_type: str | None, urgency: str | None, note: str
) -> None:
    """新增或修改一条期限规则；只影响此后新开始的阶段期限。STAGE 可写中文，如 办结、先行联系。"""
    try:
        with unit_of_work() as session:
            rules_service.set_rule(
                session,
                stage=STAGE_CHOICES[stage].value,
                amount=amount,
                unit=unit,
                request_type=request_type,
                urgency=urgency,
                note=note,
                now=utcnow(),
            )
    except TrackerError as exc:
        raise fail(exc) from None
    click.echo("规则已保存。")


def init_app(app: Flask) -> None:
    """Register the tracker's commands."""
    from jobs.cli import run_job_command, snapshot_metrics_command
    from tracker.cli_import import demo_load_command, import_orders_command
    from tracker.cli_sampling import sample_size_command
    from tracker.cli_users import api_token_command, create_user_command, set_password_command

    for cmd in (
        init_db_command,
        deadline_command,
        calendar_group,
        rules_group,
        demo_load_command,
        import_orders_command,
        run_job_command,
        snapshot_metrics_command,
        create_user_command,
        set_password_command,
        api_token_command,
        sample_size_command,
    ):
        app.cli.add_command(cmd)
