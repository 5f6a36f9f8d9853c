"""Order pages: the filtered list and its XLSX export, one order with its actions, revealing a phone number."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from tracker.db import begin_write, get_session
from tracker.domain import labels
from tracker.domain.errors import TrackerError
from tracker.domain.roles import Role, may_reveal_phone, may_take
from tracker.domain.vocabulary import Action, AlertLevel, Stage, State
from tracker.models import utcnow
from tracker.services.accounts import Actor, export_log, reveal_phone, street_choices, visible_order
from tracker.services.orders import (
    CURRENT_SHEET,
    DEADLINE_SORT,
    ORDERS_SHEET,
    SORTS,
    Context,
    ExportTooLarge,
    OrderFilter,
    apply_action,
    category_names,
    export_order_sheets,
    list_orders,
    load_calendar,
    order_detail,
    rule_table,
    sheets_xlsx,
    state_counts,
    street_choices_all,
)
from tracker.web import attachments, checks, csv_download, live
from tracker.web.action_forms import ATTACHABLE, FIELDS, FormError, parse_action_form
from tracker.web.auth import viewer

bp = Blueprint("orders", __name__, template_folder="templates")
PAGE_SIZE = 50
EXPORT_MAX_ROWS = 100_000


def actor_of_viewer() -> Actor:
    """The audit actor for the signed-in person (name as it is now, kept in the event)."""
    me = viewer()
    return Actor(id=f"user:{me.user_id}", name=me.label, source="web")


def date_arg(name: str, label: str, *, fallback: str = "已忽略") -> date | None:
    """A YYYY-MM-DD query argument; a bad value is named in a Chinese message and treated as absent."""
    text = request.args.get(name, "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        flash(f"筛选条件“{label}”的值「{text[:40]}」不是有效日期（应为 2026-11-20），{fallback}", "error")
        return None


def _day(name: str) -> date | None:
    return date_arg(name, labels.FILTER_LABELS.get(name, name))


def _enum(enum: Any, name: str) -> Any:
    text = request.args.get(name, "")
    return enum(text) if text in enum._value2member_map_ else None


OPEN_STATE = "open"  # the state filter's value for every state not yet closed
QUEUE_ARGS = {"state": OPEN_STATE, "sort": DEADLINE_SORT}  # a squad's work queue, as a query string
QUEUE_FILTER = OrderFilter(open_only=True, sort=DEADLINE_SORT)  # ... and as a filter


def filters_from_request() -> OrderFilter:
    """The list filter from the query string; unknown values are ignored, bad dates are reported."""
    sort = request.args.get("sort", "dispatched_desc")
    return OrderFilter(
        street=request.args.get("street", "").strip() or None,
        category=request.args.get("category", "").strip() or None,
        state=_enum(State, "state"),
        open_only=request.args.get("state") == OPEN_STATE,
        level=_enum(AlertLevel, "level"),
        stage=_enum(Stage, "stage"),
        dispatched_from=_day("dispatched_from"),
        dispatched_to=_day("dispatched_to"),
        closed_from=_day("closed_from"),
        closed_to=_day("closed_to"),
        keyword=request.args.get("q", "").strip()[:100] or None,
        sort=sort if sort in SORTS else "dispatched_desc",
    )


def is_queue_default(role: Role) -> bool:
    """Whether the list opens as the work queue: a squad's list with nothing asked but a page number."""
    return role is Role.SQUAD and not any(k != "page" for k in request.args)


@bp.get("/")
def index() -> str:
    """工单列表：筛选、排序、分页。"""
    db = get_session()
    me = viewer()
    queue = is_queue_default(me.role)
    filters = QUEUE_FILTER if queue else filters_from_request()
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    lines, total = list_orders(
        db,
        viewer=me,
        now=live.now(),
        calendar=load_calendar(db),
        filters=filters,
        limit=PAGE_SIZE,
        offset=(page - 1) * PAGE_SIZE,
        thresholds=live.thresholds(),
    )
    args = dict(QUEUE_ARGS) if queue else {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template(
        "orders/list.html",
        queue=filters == QUEUE_FILTER,
        open_state=OPEN_STATE,
        lines=lines,
        total=total,
        page=page,
        pages=max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1),
        f=filters,
        args=args,
        query=urlencode(args),
        counts=state_counts(db, me, total=None if filters.narrows() else total),
        live=live.counts(me),
        streets=street_choices(me, street_choices_all(db)),
        categories=category_names(db),
        sorts={key: label for key, (label, _) in SORTS.items()},
        now=live.now(),
    )


@bp.get("/orders/export.xlsx")
def export() -> Response | tuple[str, int]:
    """导出当前筛选结果（电话、姓名脱敏；以 = + - @ 开头的内容不会被表格软件当作公式）。

    ``?format=csv`` gives the 工单 sheet (or ``sheet=当前预警``) as CSV, same rows, masking and log.
    """
    db = get_session()
    me, filters, now = viewer(), filters_from_request(), live.now()
    download = csv_download.prepare_sheets((ORDERS_SHEET, CURRENT_SHEET))
    try:
        sheets = export_order_sheets(
            db, viewer=me, filters=filters, now=now, calendar=load_calendar(db), thresholds=live.thresholds()
        )
        content = download.content(sheets, lambda: sheets_xlsx(sheets))
    except ExportTooLarge as exc:
        return render_template("error.html", title="导出条数过多", message=exc.message), 422
    _, row_count = list_orders(
        db, viewer=me, now=now, calendar=load_calendar(db), filters=filters, limit=1, thresholds=live.thresholds()
    )
    begin_write(db)
    export_log.record_export(
        db,
        viewer=me,
        kind=export_log.KIND_ORDERS,
        parameters=download.logged(request.args),
        row_count=row_count,
        masked=True,
        now=now,
    )
    db.commit()
    name = f"工单导出_{labels.format_local(utcnow())[:10]}"
    return download.send(content, name=name, xlsx_mimetype="application/vnd.ms-excel")


@bp.get("/orders/<int:order_id>")
def detail(order_id: int) -> str:
    """单个工单：全部字段、各阶段期限及说明、操作记录、当前可执行的操作。"""
    db = get_session()
    me = viewer()
    found = order_detail(
        db, viewer=me, order_id=order_id, now=utcnow(), calendar=load_calendar(db), thresholds=live.thresholds()
    )
    if found is None:
        abort(404)
    return render_template(
        "orders/detail.html",
        d=found,
        fields=FIELDS,
        streets=street_choices_all(db),
        may_reveal=may_reveal_phone(me.role),
        revealed=None,
        now=utcnow(),
        attachable=ATTACHABLE,
        **attachments.evidence(found.order),
        **checks.for_order(found.order),
    )


@bp.post("/orders/<int:order_id>/actions/<action_name>")
def act(order_id: int, action_name: str) -> Response | tuple[str, int]:
    """执行一项操作（只接受生命周期当前允许、且本角色可执行的操作）。"""
    db = get_session()
    me = viewer()
    if action_name not in Action._value2member_map_ or not may_take(me.role, Action(action_name)):
        abort(403 if visible_order(db, me, order_id) else 404)
    action = Action(action_name)
    begin_write(db)
    order = visible_order(db, me, order_id, for_update=True)
    if order is None:
        abort(404)
    written: list[Path] = []
    added = 0
    try:
        data = parse_action_form(action, request.form, streets=street_choices_all(db))
        ctx = Context(actor_of_viewer(), utcnow(), load_calendar(db), rule_table(db))
        apply_action(db, order=order, action=action, data=data, ctx=ctx)
        if action in ATTACHABLE:  # photos taken with the action: stored with it, or neither is
            added, written = attachments.store_with_action(order, ATTACHABLE[action], ctx)
        db.commit()
    except (FormError, TrackerError) as exc:
        db.rollback()
        attachments.discard_files(written)
        flash(f"{labels.ACTION_LABELS[action]}未完成：{exc.message}", "error")
        return redirect(url_for("orders.detail", order_id=order_id))
    except BaseException:
        db.rollback()
        attachments.discard_files(written)
        raise
    flash(f"已{labels.ACTION_LABELS[action]}" + (f"，并添加 {added} 个附件。" if added else "。"))
    return redirect(url_for("orders.detail", order_id=order_id))


@bp.post("/orders/<int:order_id>/phone")
def reveal(order_id: int) -> str | tuple[str, int]:
    """查看完整电话号码：须填写事由，记录查看人、时间、工单和事由。"""
    db = get_session()
    me = viewer()
    begin_write(db)
    order = visible_order(db, me, order_id)
    if order is None:
        abort(404)
    if not may_reveal_phone(me.role):
        abort(403)
    try:
        phone = reveal_phone(db, viewer=me, order=order, reason=request.form.get("reason", ""), now=utcnow())
    except TrackerError as exc:
        db.rollback()
        flash(exc.message, "error")
        phone = None
    else:
        db.commit()
    found = order_detail(
        db, viewer=me, order_id=order_id, now=utcnow(), calendar=load_calendar(db), thresholds=live.thresholds()
    )
    assert found is not None
    return render_template(
        "orders/detail.html",
        d=found,
        fields=FIELDS,
        streets=street_choices_all(db),
        may_reveal=True,
        revealed=phone,
        now=utcnow(),
        attachable=ATTACHABLE,
        **attachments.evidence(found.order),
        **checks.for_order(found.order),
    )
