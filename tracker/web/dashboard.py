"""The bureau's dashboard: orders by state and alert level, intake, overdue, the rates of domain.md §5."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from flask import Blueprint, flash, render_template, request, url_for

from tracker.db import get_session
from tracker.domain.errors import TrackerError
from tracker.domain.vocabulary import Stage
from tracker.services.accounts import street_choices
from tracker.services.orders import category_names, street_choices_all
from tracker.services.stats import RATE_METRICS, DashboardFilter, build_dashboard, default_filter
from tracker.services.verifications import CheckNumbers, check_numbers
from tracker.web import live
from tracker.web.auth import viewer
from tracker.web.orders import date_arg

bp = Blueprint("dashboard", __name__, template_folder="templates", url_prefix="/dashboard")
PERIOD_LABELS = {"from": "统计期间自", "to": "统计期间至"}


def _day(name: str) -> date | None:
    return date_arg(name, PERIOD_LABELS[name], fallback="已改用默认值")


def filters_from_request(streets: list[str]) -> DashboardFilter:
    """The dashboard filter from the query string (defaults: the last 30 days, every street in scope)."""
    default = default_filter(live.now())
    first, last = _day("from"), _day("to")
    street = request.args.get("street", "").strip() or None
    if street and street not in streets:
        flash(f"筛选条件“街镇”的值「{street[:40]}」不在您可查看的街镇中，已忽略", "error")
        street = None
    if first and not last:
        last = max(default.last, first)
    if last and not first:
        first = last - (default.last - default.first)
    return DashboardFilter(
        first=first or default.first,
        last=last or default.last,
        street=street,
        category=request.args.get("category", "").strip()[:128] or None,
    )


def _check_numbers(filters: DashboardFilter) -> CheckNumbers:
    """The 热线通报核查 numbers of the dashboard's period and street."""
    return check_numbers(
        get_session(), viewer=viewer(), first=filters.first, last=filters.last, now=live.now(), street=filters.street
    )


@bp.get("/")
def index() -> str:
    """统计：期间内派单工单的状态与预警、每日受理量、超期工单、各项指标（按街镇、逐月）。"""
    db = get_session()
    me = viewer()
    streets = street_choices(me, street_choices_all(db))
    filters = filters_from_request(streets)
    list_url = url_for("orders.index")
    try:
        board = build_dashboard(db, viewer=me, filters=filters, now=live.now(), list_url=list_url, bounds=live.bounds())
    except TrackerError as exc:
        flash(f"{exc.message}，已改用默认期间", "error")
        filters = replace(default_filter(live.now()), street=filters.street, category=filters.category)
        board = build_dashboard(db, viewer=me, filters=filters, now=live.now(), list_url=list_url, bounds=live.bounds())
    return render_template(
        "dashboard/index.html",
        d=board,
        f=board.filters,
        streets=streets,
        categories=category_names(db),
        metrics=RATE_METRICS,
        stage_of=Stage,
        checks=check_numbers(
            db,
            viewer=me,
            first=board.filters.first,
            last=board.filters.last,
            now=live.now(),
            street=board.filters.street,
        ),
    )
