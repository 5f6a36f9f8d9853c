"""`notify load-channels FILE`: load the streets' notification channels from a TOML file (all or none)."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from tracker.cli.common import fail, unit_of_work
from tracker.db import begin_write
from tracker.domain.errors import TrackerError
from tracker.domain.notify import KIND_LABELS, redact_webhook
from tracker.models import utcnow
from tracker.services.notify import load_channels_file


@click.group("notify")
def notify_group() -> None:
    """街镇通知渠道（企业微信、钉钉群机器人与邮件）。"""


@notify_group.command("load-channels")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def load_channels_command(file: Path) -> None:
    """从 TOML 文件载入通知渠道（每个 [[channel]] 一项）；有一项不合格则全部不保存。"""
    try:
        with unit_of_work() as session:
            begin_write(session)
            saved = load_channels_file(
                session,
                path=file,
                actor="命令行操作员",
                now=utcnow(),
                allow_loopback=current_app.config["NOTIFY_ALLOW_LOOPBACK"],
            )
    except TrackerError as exc:
        raise fail(exc) from None
    for channel in saved:
        where = channel.emails if channel.kind == "email" else (channel.webhook_file or redact_webhook(channel.webhook))
        click.echo(f"已保存 {channel.street} {KIND_LABELS[channel.kind]}：{where}")
    click.echo(f"共载入 {len(saved)} 个通知渠道")
