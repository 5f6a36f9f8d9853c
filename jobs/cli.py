"""`flask --app wsgi run-job NAME [--now ISO]`: run any job once, for operators and tests.

The command lives beside the job registry it names; ``wsgi.py`` (the composition root) registers it
with ``init_app``, so that nothing in ``tracker`` imports ``jobs``.
"""

from __future__ import annotations

from datetime import UTC

import click
from flask import Flask
from flask.cli import with_appcontext

from jobs.registry import JOBS


@click.command("run-job")
@click.argument("name", type=click.Choice(sorted(JOBS)))
@click.option("--now", "now_text", default=None, help="以此时刻（ISO-8601，北京时间）运行，默认当前时间")
@with_appcontext
def run_job_command(name: str, now_text: str | None) -> None:
    """立即运行一个定时任务一次，并记录运行结果。

    NAME：scan 预警扫描、inbox 收件箱导入、digest 街镇日报、metrics 指标快照、calendar_watch 次年节假日检查、
    retention 个人信息保留期限、notify 群消息与邮件提醒。
    """
    from jobs.runner import run_job
    from tracker.cli.common import parse_local_time

    now = parse_local_time(now_text).astimezone(UTC) if now_text else None
    run = run_job(name, now, guarded=False)
    click.echo(run.summary)
    if run.outcome == "error":
        raise SystemExit(1)


def init_app(app: Flask) -> None:
    """Register ``run-job`` on the app's command line."""
    app.cli.add_command(run_job_command)
