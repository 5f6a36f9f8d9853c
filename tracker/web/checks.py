"""热线通报核查 on the web: the administrator imports a notice, the squad answers on the order page, the bureau
accepts or sends back; the notice list and the reply to the centre."""

from __future__ import annotations

import tempfile
from io import BytesIO
from pathlib import Path
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, send_file, url_for
from werkzeug.wrappers import Response

from tracker.db import begin_write, get_session
from tracker.domain import labels
from tracker.domain.errors import TrackerError
from tracker.domain.roles import Role, may_take
from tracker.domain.vocabulary import Action, CheckConclusion, CheckStatus
from tracker.models import Order, utcnow
from tracker.services.accounts import Actor, export_log
from tracker.services.imports import Limits
from tracker.services.orders import Context, load_calendar, rule_table
from tracker.services.verifications import (
    Answer,
    CheckView,
    accept_check,
    answer_check,
    check_events,
    check_level,
    import_notice,
    load_layout,
    notice_list,
    order_checks,
    reply_xlsx,
    return_check,
    visible_check,
)
from tracker.web import attachments, live
from tracker.web.auth import requires, viewer

bp = Blueprint("checks", __name__, template_folder="templates")
BUREAU = (Role.SUPERVISOR, Role.ADMIN)


def for_order(order: Order) -> dict[str, Any]:
    """What the order page shows of the order's 核查 and what the viewer may do with them."""
    db = get_session()
    me = viewer()
    bounds = live.bounds()
    views = order_checks(db, order=order)
    return {
        "checks": [(v, check_level(v.check, bounds), check_events(db, v.check.id or 0)) for v in views],
        "may_answer_checks": me.role is Role.SQUAD,
        "may_decide_checks": me.role in BUREAU,
        "may_redo": may_take(me.role, Action.REDO),
        "conclusions": [c.value for c in CheckConclusion],
        "check_labels": labels.CHECK_STATUS_LABELS,
        "check_action_labels": labels.CHECK_ACTION_LABELS,
        "CheckStatus": CheckStatus,
    }


def actor_of_viewer() -> Actor:
    """The audit actor for the signed-in person (as tracker.web.orders makes it; that module includes this one)."""
    me = viewer()
    return Actor(id=f"user:{me.user_id}", name=me.label, source="web")


def _check_or_404(order_id: int, check_id: int) -> CheckView:
    found = visible_check(get_session(), viewer(), check_id)
    if found is None or found.check.order_id != order_id:
        abort(404)
    return found


def _ctx() -> Context:
    db = get_session()
    return Context(actor_of_viewer(), utcnow(), load_calendar(db), rule_table(db))


def _back(order_id: int) -> Response:
    return redirect(url_for("orders.detail", order_id=order_id) + "#checks")


@bp.post("/orders/<int:order_id>/checks/<int:check_id>/answer")
def answer(order_id: int, check_id: int) -> Response:
    """提交核查：核查结论、原因分析、整改措施，可附照片或文件（与核查一并保存，或都不保存）。"""
    db = get_session()
    begin_write(db)
    view = _check_or_404(order_id, check_id)
    written: list[Path] = []
    form = request.form
    try:
        ctx = _ctx()
        answer_check(
            db,
            view=view,
            viewer=viewer(),
            answer=Answer(form.get("conclusion", ""), form.get("cause", ""), form.get("measures", "")),
            ctx=ctx,
        )
        assert view.order is not None
        added, written = attachments.store_with_action(view.order, "verification", ctx)
        db.commit()
    except TrackerError as exc:
        db.rollback()
        attachments.discard_files(written)
        flash(f"核查未提交：{exc.message}", "error")
        return _back(order_id)
    except BaseException:
        db.rollback()
        attachments.discard_files(written)
        raise
    flash("已提交核查" + (f"，并添加 {added} 个附件。" if added else "。") + "待区局审核。")
    return _back(order_id)


@bp.post("/orders/<int:order_id>/checks/<int:check_id>/accept")
def accept(order_id: int, check_id: int) -> Response:
    """采纳核查；勾选“发起重办”时同时对工单发起重办（按工单生命周期，不可重办时都不保存）。"""
    db = get_session()
    begin_write(db)
    view = _check_or_404(order_id, check_id)
    redo = request.form.get("redo") == "1"
    try:
        accept_check(
            db,
            view=view,
            viewer=viewer(),
            ctx=_ctx(),
            redo_reason=request.form.get("redo_reason", "") if redo else None,
        )
        db.commit()
    except TrackerError as exc:
        db.rollback()
        flash(f"未采纳：{exc.message}", "error")
        return _back(order_id)
    flash("已采纳核查" + ("，并已发起重办。" if redo else "。"))
    return _back(order_id)


@bp.post("/orders/<int:order_id>/checks/<int:check_id>/return")
def send_back(order_id: int, check_id: int) -> Response:
    """退回核查：须填写理由，执法队修改后重新提交。"""
    db = get_session()
    begin_write(db)
    view = _check_or_404(order_id, check_id)
    try:
        return_check(db, view=view, viewer=viewer(), ctx=_ctx(), reason=request.form.get("reason", ""))
        db.commit()
    except TrackerError as exc:
        db.rollback()
        flash(f"未退回：{exc.message}", "error")
        return _back(order_id)
    flash("已退回核查，执法队将重新提交。")
    return _back(order_id)


def _import_page(report: Any = None, error: str | None = None, status: int = 200) -> tuple[str, int]:
    notices = notice_list(get_session(), viewer=viewer())
    return render_template("checks/import.html", report=report, error=error, notices=notices), status


@bp.get("/imports/notices")
@requires(Role.ADMIN)
def import_form() -> tuple[str, int]:
    """导入热线通报（XLSX 或 CSV）：每行一个被通报的工单，生成核查任务。"""
    return _import_page()


@bp.post("/imports/notices/upload")
@requires(Role.ADMIN)
def import_post() -> tuple[str, int]:
    """导入热线通报：同一通报重复导入不会改变已有内容；未找到的工单逐行列出。"""
    db = get_session()
    file = request.files.get("file")
    if file is None or not file.filename:
        return _import_page(error="请选择通报文件", status=422)
    suffix = Path(file.filename).suffix.lower()
    begin_write(db)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"notice{suffix}"
        file.save(path)
        try:
            report = import_notice(
                db,
                path,
                layout=load_layout(),
                actor=actor_of_viewer(),
                now=utcnow(),
                calendar=load_calendar(db),
                limits=Limits.from_config(current_app.config),
                file_name=Path(file.filename).name,
            )
        except TrackerError as exc:
            db.rollback()
            return _import_page(error=exc.message, status=422)
    if not report.stored:
        db.rollback()
        return _import_page(report=report, status=422)
    db.commit()
    return _import_page(report=report)


@bp.get("/notices")
@requires(*BUREAU)
def notices() -> str:
    """热线通报：每份通报的核查进度，下载给热线中心的回复表。"""
    return render_template("checks/notices.html", notices=notice_list(get_session(), viewer=viewer()))


@bp.get("/notices/<int:notice_id>/reply.xlsx")
@requires(*BUREAU)
def reply(notice_id: int) -> Response:
    """回复热线中心：该通报已采纳的核查（按热线中心的列顺序；个人信息脱敏；不会被当作公式）。"""
    db = get_session()
    made = reply_xlsx(db, notice_id=notice_id, layout=load_layout())
    if made is None:
        abort(404)
    content, notice_no, rows = made
    begin_write(db)
    export_log.record_export(
        db,
        viewer=viewer(),
        kind=export_log.KIND_NOTICE_REPLY,
        parameters={"notice": notice_no},
        row_count=rows,
        masked=True,
        now=utcnow(),
    )
    db.commit()
    return send_file(
        BytesIO(content),
        as_attachment=True,
        download_name=f"通报回复_{notice_no}.xlsx",
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
