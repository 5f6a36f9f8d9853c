"""`retention run [--dry-run]`: remove personal data past its retention period now (the nightly job's work)."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from tracker.cli.common import fail, unit_of_work
from tracker.db import get_engine
from tracker.domain.errors import TrackerError
from tracker.models import utcnow
from tracker.services.operations import RetentionPolicy, retention_job, run_recorded, run_retention


def retention_folders() -> list[Path]:
    """The raw export files retention looks at: uploads, and the inbox's done/ and failed/."""
    inbox = Path(current_app.config["INBOX_DIR"])
    return [Path(current_app.config["UPLOAD_DIR"]), inbox / "done", inbox / "failed"]


def attachment_folder() -> Path:
    """Where order attachments are kept."""
    return Path(current_app.config.get("ATTACHMENT_DIR") or Path(current_app.instance_path) / "attachments")


@click.group("retention")
def retention_group() -> None:
    """个人信息保留期限：匿名化办结超过期限的工单，删除过期的原始导出文件、登录记录和查看号码记录。"""


@retention_group.command("run")
@click.option("--dry-run", is_flag=True, help="只统计将处理的数量，不作任何改动")
@with_appcontext
def retention_run_command(dry_run: bool) -> None:
    """立即按保留期限处理一次（与每晚的 retention 定时任务相同，并记录为一次任务运行）。"""
    try:
        policy = RetentionPolicy.from_config(current_app.config)
        if dry_run:
            with unit_of_work() as session:
                result = run_retention(
                    session,
                    now=utcnow(),
                    policy=policy,
                    folders=retention_folders(),
                    dry_run=True,
                    attachment_dir=attachment_folder(),
                )
                session.rollback()
            click.echo(result.summary())
            return
    except TrackerError as exc:
        raise fail(exc) from None
    job = retention_job(policy, retention_folders(), attachment_folder())
    run = run_recorded(get_engine(), "retention", job, now=utcnow(), runner="命令行")
    click.echo(run.summary)
    if run.outcome == "error":
        raise SystemExit(1)
