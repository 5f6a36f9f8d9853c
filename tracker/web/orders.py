"""Order pages: the list with state and deadlines, and one order with its timeline."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request

from tracker.db import get_session
from tracker.domain.vocabulary import State
from tracker.models import utcnow
from tracker.services.calendar import load_calendar
from tracker.services.overview import alert_counts, list_orders, order_detail, state_counts

bp = Blueprint("orders", __name__, template_folder="templates")
PAGE_SIZE = 100


@bp.get("/")
def index() -> str:
    """工单列表：状态、各阶段期限与预警。"""
    session = get_session()
    now = utcnow()
    calendar = load_calendar(session)
    state_arg = request.args.get("state", "")
    state = State(state_arg) if state_arg in State._value2member_map_ else None
    street = request.args.get("street", "").strip() or None
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    lines, total = list_orders(
        session, now=now, calendar=calendar, state=state, street=street, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
    )
    return render_template(
        "orders/list.html",
        lines=lines,
        total=total,
        page=page,
        pages=max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1),
        state=state,
        street=street or "",
        counts=state_counts(session),
        alerts=alert_counts(session, now=now, calendar=calendar),
        now=now,
    )


@bp.get("/orders/<int:order_id>")
def detail(order_id: int) -> str:
    """单个工单：基本信息、各阶段期限及说明、操作记录、当前可执行的操作。"""
    session = get_session()
    found = order_detail(session, order_id=order_id, now=utcnow(), calendar=load_calendar(session))
    if found is None:
        abort(404)
    return render_template("orders/detail.html", d=found)
