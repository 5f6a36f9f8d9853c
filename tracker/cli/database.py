"""`init-db`: migrate the schema and store the holiday calendar and default deadline rules."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from tracker.cli.common import unit_of_work, upgrade_database
from tracker.models import utcnow
from tracker.services.accounts import Actor
from tracker.services.orders import calendar as calendar_service
from tracker.services.orders import rules as rules_service


@click.command("init-db")
@with_appcontext
def init_db_command() -> None:
    """迁移数据库到最新结构，并载入节假日安排与默认期限规则（可重复运行）。"""
    before, after = upgrade_database()
    with unit_of_work() as session:
        years = calendar_service.seed_from_package(session, actor=Actor.cli("init-db"), now=utcnow())
        rules = rules_service.seed_default_rules(session)
    if before is None:
        click.echo(f"已建立新数据库（结构版本 {after}）。")
    elif before != after:
        click.echo(f"数据库结构已从版本 {before} 升级到 {after}。")
    else:
        click.echo(f"数据库已是最新结构（版本 {after}），无需升级。")
    click.echo(f"新载入节假日年份：{', '.join(map(str, years)) if years else '无（已全部载入）'}")
    click.echo(f"新写入默认期限规则：{rules} 条")
