"""Flask commands for users: the first administrator, password resets, API tokens."""

from __future__ import annotations

import click
from flask.cli import with_appcontext
from sqlmodel import select

from tracker.cli.common import fail, unit_of_work
from tracker.domain.errors import TrackerError
from tracker.domain.roles import ROLE_LABELS, Role
from tracker.models import AppUser, utcnow
from tracker.services.accounts import users

ROLE_NAMES = {**{r.value: r for r in Role}, **{label: role for role, label in ROLE_LABELS.items()}}


def _role(value: str) -> Role:
    if value not in ROLE_NAMES:
        raise click.BadParameter(f"角色“{value}”无效，可选：管理员(admin) / 督察(supervisor) / 执法队(squad)")
    return ROLE_NAMES[value]


@click.command("create-user")
@click.option("--username", required=True, help="登录用户名")
@click.option("--name", "display_name", required=True, help="姓名")
@click.option("--role", default="admin", show_default=True, help="管理员(admin) / 督察(supervisor) / 执法队(squad)")
@click.option("--street", default=None, help="执法队用户绑定的街镇（须已在街镇名单中）")
@click.password_option("--password", prompt="密码", confirmation_prompt="再次输入密码", help="不填则交互输入")
@with_appcontext
def create_user_command(username: str, display_name: str, role: str, street: str | None, password: str) -> None:
    """新建用户（首次部署时用它建第一个管理员）。"""
    try:
        with unit_of_work() as session:
            user = users.create_user(
                session,
                username=username,
                display_name=display_name,
                role=_role(role),
                street=street,
                password=password,
                now=utcnow(),
                must_change_password=True,  # typed by the operator: the user replaces it at first sign-in
            )
    except TrackerError as exc:
        raise fail(exc) from None
    where = f"，{user.street}" if user.street else ""
    click.echo(f"已创建用户 {user.username}（{ROLE_LABELS[Role(user.role)]}{where}）")


@click.command("set-password")
@click.option("--username", required=True)
@click.password_option("--password", prompt="新密码", confirmation_prompt="再次输入新密码")
@with_appcontext
def set_password_command(username: str, password: str) -> None:
    """重设用户密码（该用户所有已登录会话立即失效）。"""
    try:
        with unit_of_work() as session:
            user = session.exec(select(AppUser).where(AppUser.username == username)).first()
            if user is None:
                raise click.ClickException(f"用户“{username}”不存在")
            users.set_password(session, user=user, password=password, now=utcnow(), must_change=True)
    except TrackerError as exc:
        raise fail(exc) from None
    click.echo(f"已重设 {username} 的密码，其所有会话已失效。")


@click.command("api-token")
@click.option("--username", required=True)
@with_appcontext
def api_token_command(username: str) -> None:
    """为用户生成新的 API 令牌（只显示一次；旧令牌随即失效）。"""
    with unit_of_work() as session:
        user = session.exec(select(AppUser).where(AppUser.username == username)).first()
        if user is None:
            raise click.ClickException(f"用户“{username}”不存在")
        token = users.issue_api_token(session, user=user)
    click.echo(token)
