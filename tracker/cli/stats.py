"""`snapshot-metrics`: recompute the nightly metric snapshot for older days (after a backfill or an upgrade)."""

from __future__ import annotations

from datetime import date, timedelta

import click
from flask.cli import with_appcontext

from tracker.db import get_session, take_write_lock
from tracker.models import utcnow
from tracker.services.stats import snapshot_day


@click.command("snapshot-metrics")
@click.option("--from", "first_text", required=True, help="第一天（北京日期，YYYY-MM-DD）")
@click.option("--to", "last_text", required=True, help="最后一天（北京日期，YYYY-MM-DD），含当天")
@with_appcontext
def snapshot_metrics_command(first_text: str, last_text: str) -> None:
    """重新计算一段日期的指标快照（按街镇、按街镇和问题分类），例如补录历史工单或升级后补齐分类快照。

    每晚的 metrics 任务只重算最近 31 天；更早的日期用本命令补算。每天单独提交，中断后可重新运行。
    """
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
