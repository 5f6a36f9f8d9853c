"""`flask --app wsgi run-job NAME [--now ISO]`: run any job once, for operators and tests."""

from __future__ import annotations

from datetime import UTC

import click
from flask.cli import with_appcontext

from jobs.registry import JOBS


@click.command("run-job")
@click.argument("name", type=click.Choice(sorted(JOBS)))
@click.option("--now", "now_text", default=None, help="以此时刻（ISO-8601，北京时间）运行，默认当前时间")
@with_appcontext
def run_job_command(name: str, now_text: str | None) -> None:
    """立即运行一个定时任务一次，并记录运行结果。

    NAME：scan 预警扫描、inbox 收件箱导入、digest 街镇日报、metrics 指标快照、calendar_watch 次年节假日检查。
    """
    from jobs.runner import run_job
    from tracker.cli import parse_local_time

    now = parse_local_time(now_text).astimezone(UTC) if now_text else None
    run = run_job(name, now, guarded=False)
    click.echo(run.summary)
    if run.outcome == "error":
        raise SystemExit(1)


@click.command("snapshot-metrics")
@click.option("--from", "first_text", required=True, help="第一天（北京日期，YYYY-MM-DD）")
@click.option("--to", "last_text", required=True, help="最后一天（北京日期，YYYY-MM-DD），含当天")
@with_appcontext
def snapshot_metrics_command(first_text: str, last_text: str) -> None:
    """重新计算一段日期的指标快照（按街镇、按街镇和问题分类），例如补录历史工单或升级后补齐分类快照。

    每晚的 metrics 任务只重算最近 31 天；更早的日期用本命令补算。每天单独提交，中断后可重新运行。
    """
    from datetime import date, timedelta

    from tracker.db import get_session, take_write_lock
    from tracker.models import utcnow
    from tracker.services.metrics import snapshot_day

    try:
        first, last = date.fromisoformat(first_text), date.fromisoformat(last_text)
    except ValueError as exc:
        raise click.BadParameter(f"日期「{first_text}」或「{last_text}」无效：应为 YYYY-MM-DD（{exc}）") from None
    if last < first:
        raise click.BadParameter(f"结束日期 {last.isoformat()} 早于开始日期 {first.isoformat()}")
    session, rows, day = get_session(), 0, first
    with click.progressbar(length=(last - first).days + 1, label="指标快照") as bar:
        while day <= last:
            take_write_lock(session)
            rows += len(snapshot_day(session, day=day, now=utcnow()))
            session.commit()
            day += timedelta(days=1)
            bar.update(1)
    click.echo(f"指标快照：{first.isoformat()} 至 {last.isoformat()}，共 {(last - first).days + 1} 天、{rows} 项")
