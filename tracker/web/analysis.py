"""分析: recurring places (重复诉件热点), rising problems (异常上升) and time patterns, in the viewer's scope."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, flash, render_template, request, url_for

from tracker.db import get_session
from tracker.domain.deadlines import to_local
from tracker.domain.rising import ALPHA, BASELINE_WEEKS, MIN_COUNT
from tracker.models import utcnow
from tracker.services.stats import (
    HOTSPOT_DAYS,
    HOTSPOT_MIN_DAYS,
    HOTSPOT_MIN_ORDERS,
    Rise,
    analysis_figures,
    build_analysis,
)
from tracker.web.auth import viewer

bp = Blueprint("analysis", __name__, template_folder="templates", url_prefix="/analysis")
MIN_WINDOW, MAX_WINDOW = 7, 366


def window_days() -> int:
    """The window (days) from the query string; a bad value is named in Chinese and the default used."""
    text = request.args.get("days", "").strip()
    if not text:
        return HOTSPOT_DAYS
    if text.isdigit() and MIN_WINDOW <= int(text) <= MAX_WINDOW:
        return int(text)
    flash(
        f"筛选条件“统计窗口（天）”的值「{text[:40]}」无效：应为 {MIN_WINDOW} 至 {MAX_WINDOW} 的整数，"
        f"已改用默认值 {HOTSPOT_DAYS} 天",
        "error",
    )
    return HOTSPOT_DAYS


def rise_url(rise: Rise) -> str:
    """The order list of a flagged week: the street, the category, the week's dispatch dates."""
    return url_for(
        "orders.index",
        street=rise.street,
        category=rise.category,
        dispatched_from=rise.week.isoformat(),
        dispatched_to=(rise.week + timedelta(days=6)).isoformat(),
    )


@bp.get("/")
def index() -> str:
    """分析：重复诉件热点、异常上升、受理与办理的时间规律（执法队只看本街镇）。"""
    days = window_days()
    result = build_analysis(get_session(), viewer=viewer(), now=utcnow(), days=days)
    return render_template(
        "analysis/index.html",
        a=result,
        figures=analysis_figures(result.patterns),
        rise_url=rise_url,
        to_local=to_local,
        method={
            "weeks": BASELINE_WEEKS,
            "alpha": ALPHA,
            "min_count": MIN_COUNT,
            "min_orders": HOTSPOT_MIN_ORDERS,
            "min_days": HOTSPOT_MIN_DAYS,
        },
        week_end=result.week + timedelta(days=6),
    )
