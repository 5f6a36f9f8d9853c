"""`backup create DIR` and `backup restore FILE`: the database and instance/'s uploads, inbox and attachments in one
archive."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from tracker.cli.common import fail, upgrade_database
from tracker.db import get_engine
from tracker.domain.errors import TrackerError
from tracker.models import utcnow
from tracker.services.operations import create_backup, restore_backup


def _file_folders() -> dict[str, Path]:
    instance = Path(current_app.instance_path)
    return {
        "uploads": Path(current_app.config.get("UPLOAD_DIR") or instance / "uploads"),
        "inbox": Path(current_app.config["INBOX_DIR"]),
        "attachments": Path(current_app.config.get("ATTACHMENT_DIR") or instance / "attachments"),
    }


@click.group("backup")
def backup_group() -> None:
    """备份与恢复：数据库（SQLite 在线备份 / PostgreSQL pg_dump）以及上传文件、收件箱和工单附件，打包为一个文件。"""


@backup_group.command("create")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@with_appcontext
def backup_create_command(folder: Path) -> None:
    """在 FOLDER 中生成一个备份文件（系统运行中也可执行）。"""
    try:
        result = create_backup(get_engine(), folder=folder, file_folders=_file_folders(), now=utcnow())
    except TrackerError as exc:
        raise fail(exc) from None
    click.echo(
        f"备份完成：{result.path}（{result.dialect}，结构版本 {result.revision or '未知'}，"
        f"{result.files} 个文件，{result.size / 1048576:.1f} MB）"
    )


@backup_group.command("restore")
@click.argument("archive", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="不再询问，直接恢复")
@with_appcontext
def backup_restore_command(archive: Path, yes: bool) -> None:
    """用备份文件 ARCHIVE 替换当前数据库和上传文件。请先停止 Web 服务和定时任务进程。"""
    if not yes:
        click.confirm("将用备份替换当前数据库和上传文件（原文件夹保留为 *.before-restore-*）。继续？", abort=True)
    try:
        result = restore_backup(get_engine(), archive=archive, file_folders=_file_folders(), now=utcnow())
    except TrackerError as exc:
        raise fail(exc) from None
    upgrade_database()  # an older archive is brought to this code's schema
    click.echo(f"恢复完成：结构版本 {result.revision or '未知'}，{result.files} 个文件，已升级到最新结构。")
    for folder in result.kept:
        click.echo(f"原文件夹保留在：{folder}")
