"""`deadline`, `calendar …` and `rules …`: working-day arithmetic, the holiday calendar and the rule table."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import click
from flask.cli import with_appcontext

from tracker.cli.common import fail, parse_local_time, unit_of_work
from tracker.db import get_session
from tracker.domain.deadlines import LOCAL_TZ, compute_due, explain_due
from tracker.domain.errors import TrackerError
from tracker.domain.labels import STAGE_LABELS, VERIFICATION_LABEL, format_local, unit_amount_label
from tracker.domain.vocabulary import VERIFICATION_STAGE, Stage, Unit
from tracker.models import utcnow
from tracker.services.accounts import Actor
from tracker.services.orders import calendar as calendar_service
from tracker.services.orders import rules as rules_service


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
    check = rules_service.verification_rule(get_session())  # the 核查 of a 热线通报 line without a 反馈时限
    click.echo(
        f"{VERIFICATION_LABEL:<6}{'通用':<10}{unit_amount_label(check.amount, check.unit):<10}"
        + ("" if check.stored else "默认：通报未给反馈时限时按 3 个工作日")
    )


STAGE_CHOICES: dict[str, str] = {
    **{s.value: s.value for s in Stage},
    **{label: stage.value for stage, label in STAGE_LABELS.items()},
    VERIFICATION_STAGE: VERIFICATION_STAGE,  # the 核查 of a 热线通报 line without a 反馈时限
    VERIFICATION_LABEL: VERIFICATION_STAGE,
}


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
                stage=STAGE_CHOICES[stage],
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
