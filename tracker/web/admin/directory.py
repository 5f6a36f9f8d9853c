"""Administration of streets and their squads, and of complaint categories."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from tracker.db import begin_write, get_session
from tracker.domain.errors import TrackerError
from tracker.domain.roles import Role
from tracker.services.orders import directory
from tracker.web.admin.common import (
    bp,
    int_field,
)
from tracker.web.auth import requires

# --- streets, squads and categories


def _streets_page(error: str | None = None, form: dict[str, str] | None = None, status: int = 200) -> tuple[str, int]:
    return render_template(
        "admin/streets.html", streets=directory.all_streets(get_session()), error=error, form=form or {}
    ), status


@bp.get("/streets")
@requires(Role.ADMIN)
def streets() -> tuple[str, int]:
    """街镇与执法队。"""
    return _streets_page()


@bp.post("/streets/add")
@requires(Role.ADMIN)
def street_add() -> Response | tuple[str, int]:
    """新增街镇（及其执法队）。"""
    db = get_session()
    form = {k: request.form.get(k, "") for k in ("name", "squad_name")}
    begin_write(db)
    try:
        street = directory.add_street(db, name=form["name"], squad_name=form["squad_name"])
    except TrackerError as exc:
        db.rollback()
        return _streets_page(f"新增街镇未完成：{exc.message}", form, 422)
    db.commit()
    flash(f"已新增街镇 {street.name}（{street.squad_name}）。")
    return redirect(url_for("admin.streets"))


@bp.post("/streets/squad")
@requires(Role.ADMIN)
def street_squad() -> Response | tuple[str, int]:
    """修改执法队名称。"""
    db = get_session()
    begin_write(db)
    try:
        street = directory.rename_squad(
            db, street_id=int_field("street_id", "街镇编号"), squad_name=request.form.get("squad_name", "")
        )
    except TrackerError as exc:
        db.rollback()
        return _streets_page(f"修改执法队名称未完成：{exc.message}", None, 422)
    db.commit()
    flash(f"{street.name}的执法队名称已改为 {street.squad_name}。")
    return redirect(url_for("admin.streets"))


@bp.post("/streets/active")
@requires(Role.ADMIN)
def street_active() -> Response | tuple[str, int]:
    """启用或停用街镇（停用后不再出现在表单和筛选中；已有工单和用户不受影响）。"""
    db = get_session()
    begin_write(db)
    try:
        street = directory.set_street_active(
            db, street_id=int_field("street_id", "街镇编号"), active=request.form.get("active") == "1"
        )
    except TrackerError as exc:
        db.rollback()
        return _streets_page(exc.message, None, 422)
    db.commit()
    flash(f"已{'启用' if street.active else '停用'}街镇 {street.name}。")
    return redirect(url_for("admin.streets"))


def _categories_page(error: str | None = None, name: str = "", status: int = 200) -> tuple[str, int]:
    return render_template(
        "admin/categories.html", categories=directory.all_categories(get_session()), error=error, name=name
    ), status


@bp.get("/categories")
@requires(Role.ADMIN)
def categories() -> tuple[str, int]:
    """问题分类。"""
    return _categories_page()


@bp.post("/categories/add")
@requires(Role.ADMIN)
def category_add() -> Response | tuple[str, int]:
    """新增问题分类。"""
    db = get_session()
    name = request.form.get("name", "")
    begin_write(db)
    try:
        category = directory.add_category(db, name=name)
    except TrackerError as exc:
        db.rollback()
        return _categories_page(f"新增问题分类未完成：{exc.message}", name, 422)
    db.commit()
    flash(f"已新增问题分类 {category.name}。")
    return redirect(url_for("admin.categories"))


@bp.post("/categories/active")
@requires(Role.ADMIN)
def category_active() -> Response | tuple[str, int]:
    """启用或停用问题分类。"""
    db = get_session()
    begin_write(db)
    try:
        category = directory.set_category_active(
            db, category_id=int_field("category_id", "问题分类编号"), active=request.form.get("active") == "1"
        )
    except TrackerError as exc:
        db.rollback()
        return _categories_page(exc.message, "", 422)
    db.commit()
    flash(f"已{'启用' if category.active else '停用'}问题分类 {category.name}。")
    return redirect(url_for("admin.categories"))


@bp.post("/directory/adopt")
@requires(Role.ADMIN)
def adopt() -> Response:
    """把已导入工单中出现、但名单中没有的街镇和问题分类加入名单。"""
    db = get_session()
    begin_write(db)
    new_streets, new_categories = directory.adopt_from_orders(db)
    db.commit()
    flash(f"已从工单中补充街镇 {new_streets} 个、问题分类 {new_categories} 个。")
    return redirect(url_for("admin.categories" if request.form.get("back") == "categories" else "admin.streets"))
