"""Administration: users, streets and squads, categories, deadline rules, holiday calendar, job runs, reveal log.

Only the administrator opens these pages. Every change goes through a service, is committed
once, and on a refused input nothing is stored: the form comes back with the Chinese reason.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from tracker.db import begin_write, get_session
from tracker.domain.deadlines import LOCAL_TZ, DeadlineRule
from tracker.domain.errors import TrackerError
from tracker.domain.labels import STAGE_LABELS, unit_amount_label
from tracker.domain.roles import ROLE_LABELS, Role
from tracker.domain.vocabulary import Stage, Unit
from tracker.models import utcnow
from tracker.services import admin_views, directory, job_runs, rules, users
from tracker.services import calendar as calendar_service
from tracker.web.auth import requires, viewer
from tracker.web.orders import actor_of_viewer

bp = Blueprint("admin", __name__, template_folder="templates", url_prefix="/admin")

REVEALS_PAGE_SIZE = 50
JOB_RUNS_SHOWN = 100
MOVED_SHOWN = 500
CALENDAR_FILE_MAX_BYTES = 64 * 1024

JOB_OUTCOME_LABELS = {"ok": "成功", "error": "失败", "skipped": "跳过"}
# the stage as the CLI accepts it: its identifier or its Chinese label
STAGE_CHOICES = {**{s.value: s for s in Stage}, **{label: stage for stage, label in STAGE_LABELS.items()}}
RULE_UNITS = {Unit.WORKING_DAYS.value: "工作日", Unit.HOURS.value: "小时"}
REQUEST_TYPES = ("投诉举报", "求助", "咨询", "意见建议", "其他")
URGENCIES = ("紧急", "普通")


class FormError(TrackerError):
    """A form field that could not be read (the message names the field and the value)."""


def _int_field(name: str, label: str) -> int:
    text = request.form.get(name, "").strip()
    try:
        return int(text)
    except ValueError:
        raise FormError(f"{label}「{text}」不是整数") from None


# --- overview


@bp.get("/")
@requires(Role.ADMIN)
def index() -> str:
    """管理首页：各部分的入口与数量。"""
    return render_template("admin/index.html", counts=admin_views.section_counts(get_session()))


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
        users.set_password(db, user=user, password=password, now=utcnow())
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
            db, street_id=_int_field("street_id", "街镇编号"), squad_name=request.form.get("squad_name", "")
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
            db, street_id=_int_field("street_id", "街镇编号"), active=request.form.get("active") == "1"
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
            db, category_id=_int_field("category_id", "问题分类编号"), active=request.form.get("active") == "1"
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


# --- deadline rules


def _rule_label(row: Any) -> str:
    return DeadlineRule(
        stage=Stage(row.stage),
        amount=row.amount,
        unit=Unit(row.unit),
        request_type=row.request_type,
        urgency=row.urgency,
    ).label()


def _rules_page(error: str | None = None, form: dict[str, str] | None = None, status: int = 200) -> tuple[str, int]:
    rows = admin_views.rule_rows(get_session())
    return render_template(
        "admin/rules.html",
        rows=rows,
        amount_label=lambda row: unit_amount_label(row.amount, Unit(row.unit)),
        error=error,
        form=form or {"unit": Unit.WORKING_DAYS.value},
        units=RULE_UNITS,
        request_types=REQUEST_TYPES,
        urgencies=URGENCIES,
    ), status


@bp.get("/rules")
@requires(Role.ADMIN)
def rules_list() -> tuple[str, int]:
    """期限规则表（越具体的规则优先）与新增、修改规则的表单。"""
    rule_id = request.args.get("edit", type=int)
    if rule_id is None:
        return _rules_page()
    row = admin_views.rule_by_id(get_session(), rule_id)
    if row is None:
        abort(404)
    form = {
        "stage": row.stage,
        "request_type": row.request_type or "",
        "urgency": row.urgency or "",
        "amount": str(row.amount),
        "unit": row.unit,
        "note": row.note,
    }
    return _rules_page(form=form)


@bp.post("/rules/save")
@requires(Role.ADMIN)
def rule_set() -> Response | tuple[str, int]:
    """新增或修改一条期限规则；只影响此后新开始的阶段期限。"""
    db = get_session()
    form = {k: request.form.get(k, "").strip() for k in ("stage", "request_type", "urgency", "amount", "unit", "note")}
    begin_write(db)
    try:
        stage = STAGE_CHOICES.get(form["stage"])
        row = rules.set_rule(
            db,
            stage=stage.value if stage else form["stage"],
            amount=_int_field("amount", "期限数值"),
            unit=form["unit"],
            request_type=form["request_type"] or None,
            urgency=form["urgency"] or None,
            note=form["note"],
            now=utcnow(),
        )
    except TrackerError as exc:
        db.rollback()
        return _rules_page(f"规则未保存：{exc.message}", form, 422)
    db.commit()
    flash(f"规则已保存：{_rule_label(row)}。只影响此后新开始的阶段期限，已开始的期限不重算。")
    return redirect(url_for("admin.rules_list"))


# --- holiday calendar


def _calendar_page(
    error: str | None = None, text: str = "", result: Any = None, moved: Any = None, status: int = 200
) -> tuple[str, int]:
    db = get_session()
    years = calendar_service.loaded_years(db)
    next_year = datetime.now(LOCAL_TZ).year + 1
    return render_template(
        "admin/calendar.html",
        years=years,
        next_year=next_year,
        next_missing=next_year not in {row.year for row in years},
        error=error,
        text=text,
        result=result,
        moved=moved,
        moved_shown=MOVED_SHOWN,
        max_kb=CALENDAR_FILE_MAX_BYTES // 1024,
    ), status


@bp.get("/calendar")
@requires(Role.ADMIN)
def calendar() -> tuple[str, int]:
    """节假日安排：已载入的年份，载入（或替换）一年的安排。"""
    return _calendar_page()


def _calendar_text() -> tuple[str, str]:
    """The TOML from the uploaded file, else from the text box; and where it came from."""
    upload = request.files.get("file")
    if upload is not None and upload.filename:
        content = upload.read(CALENDAR_FILE_MAX_BYTES + 1)
        if len(content) > CALENDAR_FILE_MAX_BYTES:
            raise FormError(f"文件“{upload.filename}”超过 {CALENDAR_FILE_MAX_BYTES // 1024} KB，不像是节假日安排文件")
        try:
            return content.decode("utf-8-sig"), f"网页上传 {upload.filename}"[:200]
        except UnicodeDecodeError:
            raise FormError(f"文件“{upload.filename}”不是 UTF-8 编码的文本（请用 UTF-8 保存 TOML 文件）") from None
    text = request.form.get("text", "")
    if not text.strip():
        raise FormError("请选择节假日安排文件（TOML），或把文件内容粘贴到文本框中")
    if len(text.encode()) > CALENDAR_FILE_MAX_BYTES:
        raise FormError(f"粘贴的内容超过 {CALENDAR_FILE_MAX_BYTES // 1024} KB，不像是节假日安排文件")
    return text, "网页粘贴"


@bp.post("/calendar/load")
@requires(Role.ADMIN)
def calendar_load() -> tuple[str, int]:
    """载入（或替换）一年的节假日安排，重算未办结工单的期限，并列出期限有变化的工单。"""
    db = get_session()
    me = viewer()
    pasted = request.form.get("text", "")
    try:
        text, source = _calendar_text()
    except FormError as exc:
        return _calendar_page(f"节假日安排未载入：{exc.message}", pasted, status=422)
    begin_write(db)
    try:
        before = admin_views.open_due_snapshot(db, viewer=me)
        result = calendar_service.load_year(db, text, source=source, actor=actor_of_viewer(), now=utcnow())
        moved = admin_views.moved_deadlines(db, viewer=me, before=before)
    except TrackerError as exc:
        db.rollback()
        return _calendar_page(f"节假日安排未载入，原有安排未作任何改动：{exc.message}", pasted, status=422)
    db.commit()
    return _calendar_page(result=result, moved=moved)


# --- job runs


def _job_titles() -> dict[str, str]:
    from jobs.registry import JOBS  # the scheduler's registry names each job

    return {job_id: spec.title for job_id, spec in JOBS.items()}


@bp.get("/jobs")
@requires(Role.ADMIN)
def jobs() -> str:
    """定时任务的运行记录（最新在前），可按任务筛选。"""
    db = get_session()
    titles = _job_titles()
    job_id = request.args.get("job", "").strip() or None
    choices = list(titles) + [j for j in admin_views.job_ids_seen(db) if j not in titles]
    return render_template(
        "admin/jobs.html",
        runs=job_runs.recent_runs(db, job_id=job_id, limit=JOB_RUNS_SHOWN),
        job_id=job_id,
        choices=choices,
        titles=titles,
        outcome_labels=JOB_OUTCOME_LABELS,
        shown=JOB_RUNS_SHOWN,
    )


# --- phone-reveal audit


@bp.get("/reveals")
@requires(Role.ADMIN)
def reveals() -> str:
    """查看完整电话号码的记录：谁、何时、哪个工单、事由（最新在前）。"""
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    lines, total = admin_views.phone_reveals(
        get_session(), viewer=viewer(), limit=REVEALS_PAGE_SIZE, offset=(page - 1) * REVEALS_PAGE_SIZE
    )
    return render_template(
        "admin/reveals.html",
        lines=lines,
        total=total,
        page=page,
        pages=max((total + REVEALS_PAGE_SIZE - 1) // REVEALS_PAGE_SIZE, 1),
    )
