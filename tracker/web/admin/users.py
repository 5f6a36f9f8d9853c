"""Administration of users: create, edit, disable, reset a password, issue an API token."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from tracker.db import begin_write, get_session
from tracker.domain.errors import TrackerError
from tracker.domain.roles import ROLE_LABELS, Role
from tracker.models import utcnow
from tracker.services.accounts import users
from tracker.services.operations import admin_views
from tracker.services.orders import directory
from tracker.web.admin.common import (
    bp,
)
from tracker.web.auth import requires, viewer

# --- users


def _street_options(current: str | None = None) -> list[str]:
    names = directory.street_names(get_session())
    return [*names, current] if current and current not in names else names


def _users_page(error: str | None = None, form: dict[str, str] | None = None, status: int = 200) -> tuple[str, int]:
    db = get_session()
    return render_template(
        "admin/users.html",
        users=admin_views.list_users(db),
        streets=_street_options(),
        roles=ROLE_LABELS,
        error=error,
        form=form or {},
        me=viewer(),
    ), status


@bp.get("/users")
@requires(Role.ADMIN)
def users_list() -> tuple[str, int]:
    """用户列表与新建用户。"""
    return _users_page()


@bp.post("/users/create")
@requires(Role.ADMIN)
def user_create() -> Response | tuple[str, int]:
    """新建用户。"""
    db = get_session()
    form = {k: request.form.get(k, "") for k in ("username", "display_name", "role", "street")}
    begin_write(db)
    try:
        user = users.create_user(
            db,
            username=form["username"],
            display_name=form["display_name"],
            role=users.parse_role(form["role"]),
            street=form["street"],
            password=request.form.get("password", ""),
            now=utcnow(),
            must_change_password=True,  # the administrator chose it: the user replaces it at first sign-in
        )
    except TrackerError as exc:
        db.rollback()
        return _users_page(f"新建用户未完成：{exc.message}", form, 422)
    db.commit()
    flash(f"已新建用户 {user.username}（{ROLE_LABELS[Role(user.role)]}{'，' + user.street if user.street else ''}）。")
    return redirect(url_for("admin.users_list"))


def _user_page(user_id: int, error: str | None = None, form: dict[str, Any] | None = None, status: int = 200) -> Any:
    user = users.user_by_id(get_session(), user_id)
    if user is None:
        abort(404)
    values = form or {
        "display_name": user.display_name,
        "role": user.role,
        "street": user.street or "",
        "active": user.active,
    }
    return render_template(
        "admin/user.html",
        user=user,
        form=values,
        streets=_street_options(user.street),
        roles=ROLE_LABELS,
        error=error,
        is_me=user.id == viewer().user_id,
    ), status


@bp.get("/users/<int:user_id>")
@requires(Role.ADMIN)
def user_edit(user_id: int) -> Any:
    """修改用户：姓名、角色、街镇、启用状态；重设密码；生成 API 令牌。"""
    return _user_page(user_id)


@bp.post("/users/<int:user_id>/update")
@requires(Role.ADMIN)
def user_update(user_id: int) -> Any:
    """保存用户修改；停用或改变角色、街镇时，该用户的所有会话立即失效。"""
    db = get_session()
    form: dict[str, Any] = {k: request.form.get(k, "") for k in ("display_name", "role", "street")}
    form["active"] = request.form.get("active") == "1"
    begin_write(db)
    user = users.user_by_id(db, user_id)
    if user is None:
        abort(404)
    try:
        users.update_user_by(
            db,
            acting_user_id=viewer().user_id,
            user=user,
            display_name=form["display_name"],
            role=users.parse_role(form["role"]),
            street=form["street"],
            active=form["active"],
        )
    except TrackerError as exc:
        db.rollback()
        return _user_page(user_id, f"修改未保存：{exc.message}", form, 422)
    db.commit()
    flash(f"已保存用户 {user.username} 的修改（如停用或改变了角色、街镇，其已登录的会话已立即失效）。")
    return redirect(url_for("admin.user_edit", user_id=user_id))


@bp.post("/users/<int:user_id>/password")
@requires(Role.ADMIN)
def user_password(user_id: int) -> Any:
    """重设用户密码；该用户的所有会话立即失效。"""
    db = get_session()
    if user_id == viewer().user_id:
        return _user_page(user_id, "不能在此重设自己的密码：请用“修改密码”（须输入原密码）", None, 422)
    password = request.form.get("password", "")
    if password != request.form.get("confirm_password", ""):
        return _user_page(user_id, "重设密码未完成：两次输入的新密码不一致", None, 422)
    begin_write(db)
    user = users.user_by_id(db, user_id)
    if user is None:
        abort(404)
    try:
        users.set_password(db, user=user, password=password, now=utcnow(), must_change=True)
    except TrackerError as exc:
        db.rollback()
        return _user_page(user_id, f"重设密码未完成：{exc.message}", None, 422)
    db.commit()
    flash(f"已重设 {user.username} 的密码，其所有已登录的会话已失效。")
    return redirect(url_for("admin.user_edit", user_id=user_id))


@bp.post("/users/<int:user_id>/token")
@requires(Role.ADMIN)
def user_token(user_id: int) -> str:
    """生成新的 API 令牌：只在本页显示一次，旧令牌随即失效。"""
    db = get_session()
    begin_write(db)
    user = users.user_by_id(db, user_id)
    if user is None:
        abort(404)
    token = users.issue_api_token(db, user=user)
    db.commit()
    return render_template("admin/token.html", user=user, token=token)
