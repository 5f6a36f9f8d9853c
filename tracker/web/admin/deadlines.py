"""Administration of the deadline rule table and the holiday calendar (with the deadlines a new year moved)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from tracker.db import begin_write, get_session
from tracker.domain.deadlines import LOCAL_TZ, DeadlineRule
from tracker.domain.errors import TrackerError
from tracker.domain.labels import VERIFICATION_LABEL, unit_amount_label
from tracker.domain.roles import Role
from tracker.domain.vocabulary import VERIFICATION_STAGE, Stage, Unit
from tracker.models import utcnow
from tracker.services.operations import admin_views
from tracker.services.orders import calendar as calendar_service
from tracker.services.orders import rules
from tracker.web.admin.common import (
    CALENDAR_FILE_MAX_BYTES,
    MOVED_SHOWN,
    REQUEST_TYPES,
    RULE_UNITS,
    STAGE_CHOICES,
    URGENCIES,
    FormError,
    bp,
    int_field,
)
from tracker.web.auth import requires, viewer
from tracker.web.orders import actor_of_viewer
from tracker.web.params import in_id_range

# --- deadline rules


def _rule_label(row: Any) -> str:
    if row.stage == VERIFICATION_STAGE:
        return f"{VERIFICATION_LABEL}：{unit_amount_label(row.amount, Unit(row.unit))}"
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
    rule_id = rule_id if rule_id is not None and in_id_range(rule_id) else None
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
            amount=int_field("amount", "期限数值"),
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
