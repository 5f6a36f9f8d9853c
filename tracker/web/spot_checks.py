"""Quality spot checks (诉件质量抽查): sampling plans, reviews against the checklist, results with intervals.

Supervisors and administrators only: every route answers 403 to a squad user. Pages read; every
change is a POST (CSRF-checked) that goes through the spot-check service and is committed once.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from tracker.db import begin_write, get_session
from tracker.domain.checklist import MARK_LABELS
from tracker.domain.errors import TrackerError
from tracker.domain.labels import STATE_LABELS
from tracker.domain.roles import Role
from tracker.domain.sampling import RISK_REASON_LABELS
from tracker.domain.vocabulary import State
from tracker.models import SampleItem, SamplePlan, utcnow
from tracker.services import spot_checks as service
from tracker.services.accounts import export_log, visible_order
from tracker.services.orders import Context, load_calendar, order_detail, rule_table
from tracker.services.spot_checks import forms
from tracker.services.spot_checks import results as results_service
from tracker.services.spot_checks import reviews as review_service
from tracker.web import attachments, csv_download
from tracker.web.auth import viewer
from tracker.web.orders import actor_of_viewer
from tracker.web.params import in_id_range

bp = Blueprint("spot_checks", __name__, template_folder="templates", url_prefix="/spot-checks")
MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
ALLOWED = frozenset({Role.SUPERVISOR, Role.ADMIN})
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
RESULT_SHEETS = ("合格率", "问题项", "评查明细")  # the sheets of results_workbook, each offered as CSV


@bp.before_request
def supervisors_only() -> None:
    """A squad user cannot open any spot-check page (403), whatever the plan or order."""
    if viewer().role not in ALLOWED:
        abort(403)


def configured_checklist() -> Any:
    """The checklist new plans snapshot: TRACKER_SPOT_CHECK_CHECKLIST (a TOML file), else the default one."""
    path = current_app.config.get("SPOT_CHECK_CHECKLIST") or os.environ.get("TRACKER_SPOT_CHECK_CHECKLIST")
    return service.load_checklist(path)


def _plan_or_404(plan_id: int) -> SamplePlan:
    plan = service.get_plan(get_session(), plan_id)
    if plan is None:
        abort(404)
    return plan


def _item_or_404(plan: SamplePlan, item_id: int) -> SampleItem:
    item = service.get_item(get_session(), plan=plan, item_id=item_id)
    if item is None:
        abort(404)
    return item


def _link(**query: str) -> str:
    values: dict[str, Any] = {k: v for k, v in query.items() if v}
    return url_for("spot_checks.reviews", **values)


# ---------------------------------------------------------------------------- plans


@bp.get("/")
def index() -> str:
    """质量抽查：全部抽查计划及评查进度。"""
    return render_template("spot_checks/index.html", plans=service.list_plans(get_session()))


def _form_page(form: dict[str, Any], *, error: str | None = None, preview: Any = None, status: int = 200) -> Any:
    db = get_session()
    return (
        render_template(
            "spot_checks/new.html",
            form=form,
            error=error,
            preview=preview,
            choices=service.population_choices(db),
            stratify_choices=forms.STRATIFY_CHOICES,
            allocation_choices=forms.ALLOCATION_CHOICES,
            size_choices=forms.SIZE_CHOICES,
            states={s.value: STATE_LABELS[s] for s in State},
        ),
        status,
    )


def _submitted(source: Any) -> tuple[dict[str, str], dict[str, list[str]]]:
    values = {key: source.get(key, "") for key in (*forms.TEXT_FIELDS, *forms.CHECKBOX_FIELDS)}
    lists = {key: source.getlist(key) for key in forms.LIST_FIELDS}
    return values, lists


@bp.get("/plans/new")
def new_plan() -> Any:
    """新建抽查计划：定义总体与抽样方法，先预览总体件数和各层样本量，再确认抽取（预览不保存任何内容）。"""
    if "preview" not in request.args:
        return _form_page(forms.default_form(utcnow()))
    values, lists = _submitted(request.args)
    form = forms.form_values(values, lists)
    db = get_session()
    try:
        data = forms.parse_plan_form(values, lists)
        preview, _ = service.preview_plan(db, viewer=viewer(), data=data)
    except TrackerError as exc:
        return _form_page(form, error=exc.message, status=400)
    if not preview.seed_given:  # the draw uses the seed of this preview, so it takes exactly what is stated here
        form["seed"] = preview.sample.seed
    return _form_page(form, preview=preview)


@bp.post("/plans")
def create_plan() -> Any:
    """按预览的条件抽取样本并保存（抽取人、时间、总体、方法、种子一并记录）。"""
    values, lists = _submitted(request.form)
    form = forms.form_values(values, lists)
    db = get_session()
    begin_write(db)
    try:
        data = forms.parse_plan_form(values, lists)
        plan = service.draw_plan(
            db,
            viewer=viewer(),
            actor=actor_of_viewer(),
            now=utcnow(),
            data=data,
            checklist=configured_checklist(),
            allow_census=bool(values.get("allow_census")),
        )
    except TrackerError as exc:
        db.rollback()
        return _form_page(form, error=f"未抽取：{exc.message}", status=400)
    db.commit()
    flash(
        f"已抽取样本：{plan.strata.get('sample_size', 0)} 件（总体 {plan.population_size} 件，随机种子 {plan.seed}）。"
    )
    return redirect(url_for("spot_checks.plan", plan_id=plan.id))


@bp.get("/plans/<int:plan_id>")
def plan(plan_id: int) -> str:
    """抽查计划：抽样依据（可复核）、样本工单与评查进度、增减工单、操作记录。"""
    return _plan_page(plan_id, verify=False)


@bp.get("/plans/<int:plan_id>/verify")
def verify(plan_id: int) -> str:
    """复核：按保存的条件重新取得总体、比较摘要，用保存的种子重新抽取，说明结果是否相同（只读）。"""
    return _plan_page(plan_id, verify=True)


def _plan_page(plan_id: int, *, verify: bool) -> str:
    db = get_session()
    found = _plan_or_404(plan_id)
    lines = service.plan_items(db, viewer=viewer(), plan=found)
    return render_template(
        "spot_checks/plan.html",
        plan=found,
        result_sheets=RESULT_SHEETS,
        lines=lines,
        progress=service.progress_of(lines),
        population=service.population_of(found),
        method=service.describe_method(found),
        events=service.plan_events(db, found),
        event_labels=service.EVENT_LABELS,
        verification=service.verify_plan(db, viewer=viewer(), plan=found) if verify else None,
    )


@bp.post("/plans/<int:plan_id>/items")
def add_item(plan_id: int) -> Response:
    """向样本增加一件工单（须填原因，记入操作记录）。"""
    db = get_session()
    begin_write(db)
    found = _plan_or_404(plan_id)
    try:
        service.add_order(
            db,
            viewer=viewer(),
            actor=actor_of_viewer(),
            now=utcnow(),
            plan=found,
            order_no=request.form.get("order_no", ""),
            reason=request.form.get("reason", ""),
        )
    except TrackerError as exc:
        db.rollback()
        flash(f"未增加：{exc.message}", "error")
        return redirect(url_for("spot_checks.plan", plan_id=plan_id))
    db.commit()
    flash(f"已将工单「{request.form.get('order_no', '').strip()}」加入样本。")
    return redirect(url_for("spot_checks.plan", plan_id=plan_id))


@bp.post("/plans/<int:plan_id>/items/<int:item_id>/drop")
def drop_item(plan_id: int, item_id: int) -> Response:
    """从样本移出一件工单（须填原因，记入操作记录；评查记录保留）。"""
    db = get_session()
    begin_write(db)
    found = _plan_or_404(plan_id)
    item = _item_or_404(found, item_id)
    try:
        service.drop_item(
            db, actor=actor_of_viewer(), now=utcnow(), plan=found, item=item, reason=request.form.get("reason", "")
        )
    except TrackerError as exc:
        db.rollback()
        flash(f"未移出：{exc.message}", "error")
        return redirect(url_for("spot_checks.plan", plan_id=plan_id))
    db.commit()
    flash("已将该工单移出样本。")
    return redirect(url_for("spot_checks.plan", plan_id=plan_id))


# ---------------------------------------------------------------------------- reviews


def _review_page(
    plan: SamplePlan, item: SampleItem, *, error: str | None = None, form: Any = None, status: int = 200
) -> Any:
    db = get_session()
    me = viewer()
    now = utcnow()
    detail = order_detail(db, viewer=me, order_id=item.order_id, now=now, calendar=load_calendar(db))
    if detail is None:
        abort(404)
    lines = service.plan_items(db, viewer=me, plan=plan, include_removed=False)
    position = next((i for i, line in enumerate(lines) if line.item.id == item.id), None)
    next_open = next(
        (
            line.item
            for line in (lines[position + 1 :] if position is not None else lines)
            if line.item.reviewed_at is None
        ),
        None,
    )
    return (
        render_template(
            "spot_checks/review.html",
            plan=plan,
            item=item,
            d=detail,
            checklist=service.plan_checklist(plan),
            reasons=service.item_reasons(plan, item),
            progress=service.progress_of(lines),
            next_item=next_open,
            redo_refusal=review_service.redo_refusal(db, viewer=me, item=item, order=detail.order, now=now),
            error=error,
            form=form,
            mark_labels=MARK_LABELS,
            **attachments.evidence(detail.order),
        ),
        status,
    )


@bp.get("/plans/<int:plan_id>/items/<int:item_id>")
def review(plan_id: int, item_id: int) -> Any:
    """评查一件样本工单：诉求、答复、时间线、期限、联系记录，旁边是评分表（得分和等级自动计算）。"""
    found = _plan_or_404(plan_id)
    return _review_page(found, _item_or_404(found, item_id))


@bp.post("/plans/<int:plan_id>/items/<int:item_id>/review")
def save_review(plan_id: int, item_id: int) -> Any:
    """保存评查：各项评分与意见、否决项；得分与等级由评分表计算，不可手填。"""
    db = get_session()
    begin_write(db)
    found = _plan_or_404(plan_id)
    item = _item_or_404(found, item_id)
    checklist = service.plan_checklist(found)
    data = review_service.review_input(request.form.to_dict(), request.form.getlist("hard_fail"), checklist)
    written: list[Path] = []
    added = 0
    try:
        scored = review_service.review_item(db, actor=actor_of_viewer(), now=utcnow(), plan=found, item=item, data=data)
        order = visible_order(db, viewer(), item.order_id, for_update=True)
        if order is not None:  # photos of the 核查 are kept on the order, in the same transaction as the review
            ctx = Context(actor_of_viewer(), utcnow(), load_calendar(db), rule_table(db))
            added, written = attachments.store_with_action(order, "verification", ctx)
        db.commit()
    except TrackerError as exc:
        db.rollback()
        attachments.discard_files(written)
        return _review_page(found, _item_or_404(found, item_id), error=f"未保存：{exc.message}", form=data, status=400)
    except BaseException:
        db.rollback()
        attachments.discard_files(written)
        raise
    flash(f"已保存评查：{scored.score:g} 分，{scored.grade}。" + (f"已添加 {added} 个核查附件。" if added else ""))
    return redirect(url_for("spot_checks.review", plan_id=plan_id, item_id=item_id))


@bp.post("/plans/<int:plan_id>/items/<int:item_id>/redo")
def redo(plan_id: int, item_id: int) -> Any:
    """评查不合格的工单发起重办（经工单生命周期：仅已办结的工单可以，记入样本与工单的操作记录）。"""
    db = get_session()
    begin_write(db)
    found = _plan_or_404(plan_id)
    item = _item_or_404(found, item_id)
    try:
        ctx = Context(actor_of_viewer(), utcnow(), load_calendar(db), rule_table(db))
        order = review_service.start_redo(
            db, viewer=viewer(), ctx=ctx, plan=found, item=item, reason=request.form.get("reason", "")
        )
    except TrackerError as exc:
        db.rollback()
        flash(exc.message, "error")
        return redirect(url_for("spot_checks.review", plan_id=plan_id, item_id=item_id))
    db.commit()
    flash(f"已发起重办：工单「{order.order_no}」进入第 {order.cycle} 轮办理。")
    return redirect(url_for("spot_checks.review", plan_id=plan_id, item_id=item_id))


# ---------------------------------------------------------------------------- results


def _month_args() -> tuple[str | None, str | None, list[str]]:
    errors = []
    chosen: list[str | None] = []
    for name, label in (("month_from", "起始月份"), ("month_to", "截止月份")):
        text = request.args.get(name, "").strip()
        if text and not MONTH.fullmatch(text):
            errors.append(f"{label}「{text}」无效：应为 2026-11 这样的年月，已忽略。")
            text = ""
        chosen.append(text or None)
    return chosen[0], chosen[1], errors


@bp.get("/plans/<int:plan_id>/results")
def plan_results(plan_id: int) -> str:
    """本计划的评查结果：按街镇、执法队、问题分类的合格率与等级分布（样本量与 95% 区间），常见问题项。"""
    db = get_session()
    found = _plan_or_404(plan_id)
    rows, labels = results_service.reviewed_rows(db, viewer=viewer(), plan_ids=[plan_id])
    link = lambda **q: _link(plan=str(plan_id), **q)  # noqa: E731
    outcome = results_service.compute_results(rows, labels, link)
    lines = service.plan_items(db, viewer=viewer(), plan=found, include_removed=False)
    return render_template(
        "spot_checks/results.html",
        plan=found,
        result_sheets=RESULT_SHEETS,
        results=outcome,
        progress=service.progress_of(lines),
        rate_text=results_service.rate_text,
        export_url=url_for("spot_checks.plan_export", plan_id=plan_id),
        month_from=None,
        month_to=None,
    )


def _log_export(kind: str, parameters: dict[str, Any], row_count: int) -> None:
    """Record the download in the export log, committed before the file is sent."""
    db = get_session()
    begin_write(db)
    export_log.record_export(
        db, viewer=viewer(), kind=kind, parameters=parameters, row_count=row_count, masked=True, now=utcnow()
    )
    db.commit()


@bp.get("/plans/<int:plan_id>/results.xlsx")
def plan_export(plan_id: int) -> Response:
    """导出本计划的评查结果（XLSX，用于向街镇通报；以 = + - @ 开头的文字不会被当作公式）。"""
    db = get_session()
    found = _plan_or_404(plan_id)
    rows, labels = results_service.reviewed_rows(db, viewer=viewer(), plan_ids=[plan_id])
    outcome = results_service.compute_results(rows, labels, lambda **q: "")
    content = results_service.results_workbook(outcome, title=f"诉件质量抽查结果：{found.name}")
    download = csv_download.prepare(content)
    _log_export(export_log.KIND_SPOT_CHECK_PLAN, download.logged({"plan_id": plan_id, "plan": found.name}), len(rows))
    return download.response(content, name=f"质量抽查结果_{found.id}", xlsx_mimetype=XLSX_MIMETYPE)


@bp.get("/results")
def results() -> str:
    """跨计划按月汇总：各月及各街镇、执法队、问题分类的合格率（样本量与 95% 区间）、趋势、常见问题项。"""
    db = get_session()
    month_from, month_to, errors = _month_args()
    for message in errors:
        flash(message, "error")
    rows, labels = results_service.reviewed_rows(db, viewer=viewer(), month_from=month_from, month_to=month_to)
    link = lambda **q: _link(month_from=month_from or "", month_to=month_to or "", **q)  # noqa: E731
    outcome = results_service.compute_results(rows, labels, link)
    args: dict[str, Any] = {k: v for k, v in (("month_from", month_from), ("month_to", month_to)) if v}
    return render_template(
        "spot_checks/results.html",
        plan=None,
        result_sheets=RESULT_SHEETS,
        results=outcome,
        progress=None,
        rate_text=results_service.rate_text,
        export_url=url_for("spot_checks.results_export", **args),
        month_from=month_from,
        month_to=month_to,
    )


@bp.get("/results.xlsx")
def results_export() -> Response:
    """导出跨计划按月汇总（XLSX，公式安全）。"""
    db = get_session()
    month_from, month_to, _ = _month_args()
    rows, labels = results_service.reviewed_rows(db, viewer=viewer(), month_from=month_from, month_to=month_to)
    outcome = results_service.compute_results(rows, labels, lambda **q: "")
    period = f"{month_from or '最早'} 至 {month_to or '最近'}"
    content = results_service.results_workbook(outcome, title=f"诉件质量抽查结果汇总（办结月份 {period}）")
    download = csv_download.prepare(content)
    parameters = download.logged({"month_from": month_from, "month_to": month_to})
    _log_export(export_log.KIND_SPOT_CHECK_SUMMARY, parameters, len(rows))
    return download.response(content, name="质量抽查结果汇总", xlsx_mimetype=XLSX_MIMETYPE)


@bp.get("/reviews")
def reviews() -> str:
    """钻取：某个合格率背后的已评查工单。"""
    db = get_session()
    plan_text = request.args.get("plan", "").strip()
    in_range = plan_text.isdigit() and len(plan_text) < 19 and in_id_range(int(plan_text))  # else PostgreSQL refuses
    plan_ids = [int(plan_text)] if in_range else None
    month_from, month_to, _ = _month_args()
    rows, _labels = results_service.reviewed_rows(
        db, viewer=viewer(), plan_ids=plan_ids, month_from=month_from, month_to=month_to
    )
    dimension, value, part = (request.args.get(k, "").strip() for k in ("dimension", "value", "part"))
    chosen = results_service.filter_rows(rows, dimension=dimension, value=value, part=part)
    label = results_service.DIMENSIONS.get(dimension, "办结月份" if dimension == "month" else "")
    return render_template(
        "spot_checks/reviews.html",
        rows=chosen,
        label=label,
        value=value,
        part=results_service.PARTS.get(part, "全部"),
        plan_id=plan_ids[0] if plan_ids else None,
        risk_labels=RISK_REASON_LABELS,
    )
