"""The endpoints of /api/v1: orders, one order, alerts, rates, 核查 numbers and the index.

Read-only (GET), with the same sign-in and scope as the pages. Parameters are read through the
pydantic models of :mod:`.query`; what each endpoint answers is described in :mod:`.schemas`.
"""

from __future__ import annotations

from flask import Response

from tracker.db import get_session
from tracker.domain.deadlines import to_local
from tracker.domain.overdue import UNIT_ORDERS, UNIT_STAGES
from tracker.domain.vocabulary import AlertLevel, Stage
from tracker.models import utcnow
from tracker.services.orders import (
    AlertFilter,
    list_orders,
    load_calendar,
    order_detail,
    viewer_alerts,
    visible_repeat_of,
)
from tracker.services.stats import PeriodError, live_rates
from tracker.services.verifications import check_numbers
from tracker.web import live
from tracker.web.api.core import bp, fail, json_response
from tracker.web.api.query import AlertsQuery, OrdersQuery, PeriodQuery, parse
from tracker.web.api.shapes import alert_json, detail_json, line_json, page_links, period_json
from tracker.web.auth import viewer

ORDER_NOT_FOUND = "工单不存在"


@bp.get("/orders")
def orders() -> Response:
    """工单列表：与列表页相同的筛选条件，分页（page、page_size，最多 200）。"""
    query = parse(OrdersQuery)
    db = get_session()
    lines, total = list_orders(
        db,
        viewer=viewer(),
        now=live.now(),
        calendar=load_calendar(db),
        filters=query.order_filter(),
        limit=query.size,
        offset=query.offset,
        thresholds=live.thresholds(),
    )
    current = live.counts(viewer())
    return json_response(
        {
            "total": total,
            "total_unit": UNIT_ORDERS,
            "page": query.page,
            "page_size": query.size,
            "current": current.as_json(),
            "orders": [line_json(line) for line in lines],
            "links": page_links(total=total, page=query.page, size=query.size),
        }
    )


@bp.get("/orders/<int:order_id>")
def order(order_id: int) -> Response:
    """单个工单：全部字段、各阶段期限及说明、操作记录。"""
    db = get_session()
    found = order_detail(
        db, viewer=viewer(), order_id=order_id, now=utcnow(), calendar=load_calendar(db), thresholds=live.thresholds()
    )
    if found is None:
        fail(404, ORDER_NOT_FOUND)
    o = found.order
    repeat_of = visible_repeat_of(db, viewer=viewer(), order=o)
    withheld = o.repeat_of if o.repeat_of and repeat_of is None else None
    return json_response(
        detail_json(
            o,
            deadlines=found.deadlines,
            events=found.events,
            actions=found.actions,
            repeat_of=repeat_of,
            withheld=withheld,
        )
    )


@bp.get("/alerts")
def alerts() -> Response:
    """未解除的预警（与预警页相同）：level、stage、street 筛选，分页。"""
    query = parse(AlertsQuery)
    filters = AlertFilter(
        level=AlertLevel(query.level) if query.level else None,
        stage=Stage(query.stage) if query.stage else None,
        street=query.street or None,
    )
    db = get_session()
    me = viewer()
    rows, total = viewer_alerts(
        db, viewer=me, bounds=live.bounds(), filters=filters, limit=query.size, offset=query.offset
    )
    current = live.counts(me, street=filters.street, stage=filters.stage)
    return json_response(
        {
            "total": total,
            "total_unit": UNIT_STAGES,
            "page": query.page,
            "page_size": query.size,
            "counts": {level.value: current.stages[level] for level in AlertLevel},
            "current": current.as_json(),
            "alerts": [alert_json(row) for row in rows],
            "links": page_links(total=total, page=query.page, size=query.size),
        }
    )


@bp.get("/rates")
def rates() -> Response:
    """各项指标（domain.md 第 5 节）：from、to 为北京时间日期（含首尾），默认本月 1 日至今天；可选 street。"""
    query = parse(PeriodQuery)
    first, last = query.period(to_local(utcnow()).date())
    try:
        result = live_rates(get_session(), viewer=viewer(), first=first, last=last, now=utcnow(), street=query.street)
    except PeriodError as exc:
        fail(400, exc.message)
    return json_response(period_json(result))


@bp.get("/checks")
def checks() -> Response:
    """热线通报核查：通报件数（按街镇、通报类型）、核查按时率、退回率；from、to 为通报日期（含首尾），默认本月。"""
    query = parse(PeriodQuery)
    first, last = query.period(to_local(utcnow()).date())
    numbers = check_numbers(get_session(), viewer=viewer(), first=first, last=last, now=utcnow(), street=query.street)
    return json_response(numbers.as_json())


@bp.get("/")
def index() -> Response:
    """接口一览。"""
    return json_response(
        {
            "version": "v1",
            "endpoints": {
                "GET /api/v1/orders": "工单列表（筛选同列表页：street、category、state、level、stage、dispatched_from、"
                "dispatched_to、closed_from、closed_to、q、sort；分页 page、page_size ≤ 200）",
                "GET /api/v1/orders/<id>": "单个工单：各阶段期限及说明、操作记录",
                "GET /api/v1/alerts": "当前已超期或即将到期的未完成环节（按当前时间计，不限派单日期；"
                "level、stage、street；page、page_size）",
                "GET /api/v1/rates": "各项指标（from、to：YYYY-MM-DD，含首尾；street 可选）",
                "GET /api/v1/checks": "热线通报核查件数、按时率、退回率（from、to：通报日期，含首尾；street）",
                "GET /api/v1/openapi.json": "本接口的 OpenAPI 3.1 描述（机器可读）",
                "GET /api/v1/docs": "本接口的说明页（由上述描述生成）",
            },
            "auth": "浏览器登录会话，或请求头 Authorization: Bearer <令牌>",
        }
    )
