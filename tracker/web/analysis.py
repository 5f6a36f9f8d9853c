"""分析: recurring places (重复诉件热点), rising problems (异常上升) and time patterns, in the viewer's scope."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from tracker.db import begin_write, get_session
from tracker.domain.errors import TrackerError
from tracker.domain.rising import ALPHA, BASELINE_WEEKS, MIN_COUNT
from tracker.models import utcnow
from tracker.services.accounts import export_log
from tracker.services.orders import street_choices_all
from tracker.services.stats import (
    HOTSPOT_DAYS,
    HOTSPOT_MIN_DAYS,
    HOTSPOT_MIN_ORDERS,
    PAGE_HOTSPOTS,
    Rise,
    active_marks,
    analysis_figures,
    build_analysis,
    end_mark,
    hotspots,
    hotspots_xlsx,
    mark_events,
    mark_hotspot,
    may_mark,
    stored_analysis,
)
from tracker.web import csv_download
from tracker.web.auth import viewer
from tracker.web.orders import actor_of_viewer

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
    db, me = get_session(), viewer()
    marks = active_marks(db, viewer=me)
    marked = [(m.place, m.category, m.marked_at) for m in marks]
    now = utcnow()
    stored = stored_analysis(db, viewer=me, now=now) if days == HOTSPOT_DAYS else None
    result, computed_at = stored if stored else (build_analysis(db, viewer=me, now=now, days=days, marked=marked), None)
    return render_template(
        "analysis/index.html",
        a=result,
        figures=analysis_figures(result.patterns),
        marks=marks,
        mark_of={(m.place, m.category): m for m in marks},
        events=mark_events(db, [m.id for m in marks if m.id is not None]),
        may_mark=may_mark(me),
        streets=street_choices_all(db) if may_mark(me) else [],
        rise_url=rise_url,
        method={
            "weeks": BASELINE_WEEKS,
            "alpha": ALPHA,
            "min_count": MIN_COUNT,
            "min_orders": HOTSPOT_MIN_ORDERS,
            "min_days": HOTSPOT_MIN_DAYS,
        },
        week_end=result.week + timedelta(days=6),
        shown=PAGE_HOTSPOTS,
        computed_at=computed_at,
    )


@bp.post("/marks")
def mark() -> Response:
    """把一处重复诉件热点标记为源头治理中（或修改责任街镇、说明），留痕。"""
    me = viewer()
    if not may_mark(me):
        abort(403)
    db = get_session()
    place, category = request.form.get("place", ""), request.form.get("category", "")
    days = request.form.get("days", type=int) or HOTSPOT_DAYS
    days = days if MIN_WINDOW <= days <= MAX_WINDOW else HOTSPOT_DAYS
    back = redirect(url_for("analysis.index", days=days))
    now = utcnow()
    stored = stored_analysis(db, viewer=me, now=now) if days == HOTSPOT_DAYS else None
    current = stored[0].hotspots if stored else hotspots(db, viewer=me, now=now, days=days)
    found = [h for h in current.items if (h.place, h.category) == (place, category)]
    if not found:
        flash(f"标记未完成：「{place[:60]} {category[:40]}」不是当前窗口内的重复诉件热点", "error")
        return back
    begin_write(db)
    try:
        mark_hotspot(
            db,
            hotspot=found[0],
            street=request.form.get("street", "").strip(),
            note=request.form.get("note", ""),
            streets=street_choices_all(db),
            actor=actor_of_viewer(),
            now=now,
            window_days=days,
        )
        db.commit()
    except TrackerError as exc:
        db.rollback()
        flash(f"标记未完成：{exc.message}", "error")
        return back
    flash(f"已将「{place} {category}」标记为源头治理中。")
    return back


@bp.post("/marks/<int:mark_id>/end")
def end(mark_id: int) -> Response:
    """结束一处地点的源头治理（留痕）。"""
    if not may_mark(viewer()):
        abort(403)
    db = get_session()
    begin_write(db)
    try:
        end_mark(db, mark_id=mark_id, actor=actor_of_viewer(), now=utcnow())
        db.commit()
    except TrackerError as exc:
        db.rollback()
        flash(f"结束源头治理未完成：{exc.message}", "error")
        return redirect(url_for("analysis.index"))
    flash("已结束源头治理。")
    return redirect(url_for("analysis.index"))


@bp.get("/hotspots.xlsx")
def export() -> Response:
    """导出重复诉件热点（只到楼号，不含个人信息；以 = + - @ 开头的内容不会被表格软件当作公式）。"""
    days = window_days()
    db, me, now = get_session(), viewer(), utcnow()
    found = hotspots(db, viewer=me, now=now, days=days)
    content = hotspots_xlsx(found, {(m.place, m.category): m for m in active_marks(db, viewer=me)})
    download = csv_download.prepare(content)
    begin_write(db)
    export_log.record_export(
        db,
        viewer=me,
        kind=export_log.KIND_HOTSPOTS,
        parameters=download.logged({"days": days}),
        row_count=len(found.items),
        masked=True,
        now=now,
    )
    db.commit()
    name = f"重复诉件热点_{now.date().isoformat()}"
    return download.response(content, name=name, xlsx_mimetype="application/vnd.ms-excel")
