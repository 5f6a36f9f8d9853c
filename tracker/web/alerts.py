"""Overdue alerts for squads: open alerts by level and deadline, acknowledge, the latest digest."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from tracker.db import begin_write, get_session
from tracker.domain.vocabulary import AlertLevel, Stage
from tracker.models import utcnow
from tracker.services.accounts import street_choices
from tracker.services.orders import (
    AlertFilter,
    BulkAckRefused,
    acknowledge_alert,
    acknowledge_alerts,
    digest_streets,
    latest_digests,
    street_choices_all,
    viewer_alerts,
)
from tracker.web import live
from tracker.web.auth import viewer
from tracker.web.params import in_id_range

bp = Blueprint("alerts", __name__, template_folder="templates", url_prefix="/alerts")
PAGE_SIZE = 100
FILTER_KEYS = ("level", "stage", "street")


def alert_filter(args: dict[str, str]) -> AlertFilter:
    """The alert filter from query values; unknown values are ignored (scope applies on top)."""
    level, stage = args.get("level", ""), args.get("stage", "")
    street = args.get("street", "").strip() or None
    return AlertFilter(
        level=AlertLevel(level) if level in AlertLevel._value2member_map_ else None,
        stage=Stage(stage) if stage in Stage._value2member_map_ else None,
        street=street,
    )


def page_number(text: str | None) -> int:
    """A page number from the query string (1 when absent or not a positive number)."""
    return int(text) if text and text.isdigit() and int(text) > 0 else 1


@bp.get("/")
def index() -> str:
    """逾期预警：本人可见的未解除预警（红色在前、按期限排序），可确认；最新日报。"""
    db = get_session()
    me = viewer()
    filters = alert_filter(request.args.to_dict())
    page = page_number(request.args.get("page"))
    rows, total = viewer_alerts(
        db, viewer=me, bounds=live.bounds(), filters=filters, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
    )
    args = {k: v for k, v in request.args.items() if k in FILTER_KEYS and v}
    return render_template(
        "alerts/index.html",
        rows=rows,
        total=total,
        page=page,
        pages=max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1),
        f=filters,
        args=args,
        nolevel={k: v for k, v in args.items() if k != "level"},
        query=urlencode(args),
        counts=live.counts(me, street=filters.street, stage=filters.stage),
        streets=street_choices(me, street_choices_all(db)),
        digests=latest_digests(db, viewer=me, street=filters.street),
        digest_streets=digest_streets(db, viewer=me),
    )


@bp.post("/<int:alert_id>/ack")
def acknowledge(alert_id: int) -> Response:
    """确认预警：记录确认人和时间；预警仍保留在列表中，直到该阶段完成后由扫描解除。"""
    db = get_session()
    me = viewer()
    begin_write(db)
    alert = acknowledge_alert(db, viewer=me, alert_id=alert_id, now=utcnow())
    if alert is None:
        abort(404)
    db.commit()
    if alert.resolved_at is not None:
        flash("该预警已解除（阶段已完成），无需确认。")
    else:
        flash(f"已确认预警（{alert.acknowledged_by}）。")
    return back_to_list()


def back_to_list() -> Response:
    """To the alerts page with the filters (and page) the form was posted from."""
    back = {k: v for k in (*FILTER_KEYS, "page") if (v := request.form.get(k, "").strip())}
    return redirect(url_for("alerts.index") + (f"?{urlencode(back)}" if back else ""))


def posted_ids(values: list[str]) -> list[int]:
    """The alert ids of the ticked boxes; a value that is not an id refuses the post, naming it."""
    bad = [v for v in values if not (v.strip().isdigit() and in_id_range(int(v.strip())))]
    if bad:
        raise BulkAckRefused(f"预警编号「{bad[0][:40]}」无效（应为正整数），本次勾选的预警均未确认")
    return [int(v) for v in values]


@bp.post("/ack")
def acknowledge_many() -> Response:
    """批量确认：勾选的预警一次确认；其中任何一条不属于本人可查看的工单，则全部不确认并说明原因。"""
    db = get_session()
    me = viewer()
    begin_write(db)
    try:
        done = acknowledge_alerts(db, viewer=me, alert_ids=posted_ids(request.form.getlist("alert_id")), now=utcnow())
    except BulkAckRefused as exc:
        db.rollback()
        flash(exc.message, "error")
        return back_to_list()
    db.commit()
    parts = [f"已确认 {len(done.acknowledged)} 条预警（{me.label}）"]
    if done.already:
        parts.append(f"{done.already} 条此前已确认")
    if done.resolved:
        parts.append(f"{done.resolved} 条已解除（阶段已完成），无需确认")
    flash("；".join(parts) + "。")
    return back_to_list()
