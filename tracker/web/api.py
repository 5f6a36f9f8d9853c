"""JSON API under /api/v1: orders, alerts and rates, with the same sign-in and scope as the pages.

Read-only (GET). Times are ISO 8601 in UTC; phone numbers and names are masked as on the pages,
and any mobile number inside free text is masked too. Errors are JSON ``{"error": "…"}`` in Chinese.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, date, datetime
from typing import Any, NoReturn

from flask import Blueprint, Response, request
from werkzeug.exceptions import HTTPException

from tracker.db import DatabaseBusy, get_session, is_lock_timeout
from tracker.domain import labels
from tracker.domain.deadlines import to_local
from tracker.domain.errors import TrackerError
from tracker.domain.overdue import UNIT_ORDERS, UNIT_STAGES
from tracker.domain.privacy import mask_name, mask_phone, mask_phones_in_text
from tracker.domain.vocabulary import Action, AlertLevel, ExtensionStatus, Outcome, Stage, State
from tracker.models import Order, OrderEvent, utcnow
from tracker.services.operations import schema_problem
from tracker.services.orders import (
    SORTS,
    AlertFilter,
    DeadlineView,
    OrderLine,
    StageAlert,
    list_orders,
    load_calendar,
    order_detail,
    viewer_alerts,
    visible_repeat_of,
)
from tracker.services.stats import PeriodError, PeriodRates, Rate, StreetRates, live_rates
from tracker.services.verifications import check_numbers
from tracker.web import live
from tracker.web.auth import viewer
from tracker.web.orders import OPEN_STATE, filters_from_request

log = logging.getLogger(__name__)

bp = Blueprint("api", __name__, template_folder="templates", url_prefix="/api/v1")
MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 50
ORDER_NOT_FOUND = "工单不存在"
MESSAGES = {
    400: "请求有误",
    401: "未登录或令牌无效",
    403: "无权访问",
    404: "接口不存在",
    405: "不支持的请求方法：接口只读，仅支持 GET",
    500: "系统出现意外错误，已记录日志。请稍后再试，或联系管理员。",
}
DATE_PARAMS = {**labels.FILTER_LABELS, "from": "统计期间自", "to": "统计期间至"}
ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
# a mainland mobile number standing alone (not inside a longer run of digits such as an order number)
IDENTIFIERS = frozenset({"order_no", "repeat_of"})  # order numbers are not personal data: never rewritten
PERSONAL_CHANGES = {"phone": mask_phone, "complainant": mask_name}
WITHHELD = "（其他街镇的工单，不显示编号）"


class ApiError(HTTPException):
    """An API refusal with its Chinese message."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(description=message)
        self.code = code


def fail(code: int, message: str) -> NoReturn:
    """Answer the request with a JSON error."""
    raise ApiError(code, message)


def json_response(data: Any, status: int = 200) -> Response:
    """JSON as UTF-8 text (Chinese readable), with free-text mobile numbers masked."""
    return Response(json.dumps(scrub(data), ensure_ascii=False), status=status, mimetype="application/json")


def scrub(value: Any, key: str = "") -> Any:
    """Mask every mobile number inside strings (content, replies, extras), leaving identifiers alone."""
    if isinstance(value, str):
        return value if key in IDENTIFIERS else mask_phones_in_text(value)
    if isinstance(value, dict):
        return {k: scrub(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(v, key) for v in value]
    return value


@bp.errorhandler(400)
@bp.errorhandler(401)
@bp.errorhandler(403)
@bp.errorhandler(404)
@bp.errorhandler(405)
def http_error(exc: HTTPException) -> Response:
    """Errors raised in the API's views, as JSON in Chinese."""
    code = exc.code or 500
    message = exc.description if isinstance(exc, ApiError) else MESSAGES.get(code, "请求无法完成")
    return json_response({"error": message}, code)


@bp.errorhandler(TrackerError)
def tracker_error(exc: TrackerError) -> Response:
    """A refusal by the rules, as JSON."""
    return json_response({"error": exc.message}, 422)


@bp.errorhandler(Exception)
def unexpected(exc: Exception) -> Response:
    """An unexpected failure, logged, as JSON."""
    if isinstance(exc, HTTPException):  # ApiError, and codes without a handler of their own (e.g. 413)
        return http_error(exc)
    if isinstance(exc, DatabaseBusy) or is_lock_timeout(exc):  # SQLite's write lock busy: try again shortly
        log.warning("database busy: %s answered 503", request.path)
        get_session().rollback()
        response = json_response({"error": DatabaseBusy.message}, 503)
        response.headers["Retry-After"] = "10"
        return response
    log.exception("unhandled error in the API")
    problem = schema_problem(get_session())
    return json_response({"error": problem or MESSAGES[500]}, 503 if problem else 500)


# --- query parameters -------------------------------------------------------------------------


def day_arg(name: str) -> date | None:
    """A date parameter written YYYY-MM-DD; anything else is a 400 naming the parameter and value."""
    text = request.args.get(name, "").strip()
    if not text:
        return None
    try:
        if not ISO_DAY.fullmatch(text):
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        fail(400, f"参数 {name}（{DATE_PARAMS.get(name, name)}）的值「{text[:40]}」不是有效日期，应写作 2026-11-20")


def int_arg(name: str, default: int, *, maximum: int | None = None) -> int:
    """A positive whole-number parameter (capped at ``maximum``)."""
    text = request.args.get(name, "").strip()
    if not text:
        return default
    if not text.isdigit() or int(text) < 1:
        fail(400, f"参数 {name} 的值「{text[:40]}」不是正整数")
    return min(int(text), maximum) if maximum else int(text)


def choice_arg(name: str, choices: Any) -> None:
    """Refuse a value the list page would silently ignore (an API caller should know)."""
    text = request.args.get(name, "")
    if text and text not in choices:
        fail(400, f"参数 {name} 的值「{text[:40]}」无效，可选：{'、'.join(choices)}")


# --- JSON shapes ---------------------------------------------------------------------------------


def iso(moment: datetime | None) -> str | None:
    """An aware time as ISO 8601 UTC ('2026-11-26T02:00:00Z')."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment else None


def level_json(level: str | AlertLevel | None) -> dict[str, Any]:
    """An alert level with its label."""
    return {
        "level": str(level) if level else None,
        "level_label": labels.ALERT_LABELS[AlertLevel(level)] if level else None,
    }


def state_json(state: str, prefix: str = "state") -> dict[str, Any]:
    """A state code with its Chinese label."""
    return {prefix: state, f"{prefix}_label": labels.STATE_LABELS[State(state)]}


def open_deadline_json(view: DeadlineView) -> dict[str, Any]:
    """An open stage deadline of a list line."""
    return {
        "stage": view.stage.value,
        "stage_label": labels.STAGE_LABELS[view.stage],
        "due_at": iso(view.row.due_at),
        "due_error": view.row.due_error,
        **level_json(view.level),
    }


def order_json(order: Order) -> dict[str, Any]:
    """The fields of an order a list shows (personal data masked)."""
    return {
        "id": order.id,
        "source": order.source,
        "order_no": order.order_no,
        "cycle": order.cycle,
        **state_json(order.state),
        "street": order.street,
        "category": order.category,
        "request_type": order.request_type,
        "urgency": order.urgency,
        "handling_unit": order.handling_unit,
        "complainant": mask_name(order.complainant) or None,
        "phone": mask_phone(order.phone) or None,
        "received_at": iso(order.received_at),
        "dispatched_at": iso(order.dispatched_at),
        "signed_at": iso(order.signed_at),
        "contact_at": iso(order.contact_at),
        "closed_at": iso(order.closed_at),
        "verdict": order.verdict,
        "satisfaction": order.satisfaction,
        "return_count": order.return_count,
        "is_repeat": order.is_repeat,
        "extension_status": order.extension_status,
        "extension_label": labels.EXTENSION_LABELS[ExtensionStatus(order.extension_status)],
    }


def line_json(line: OrderLine) -> dict[str, Any]:
    """A list line: the order and its open deadlines with their live alert level."""
    return {
        **order_json(line.order),
        "open_deadlines": [open_deadline_json(d) for d in line.deadlines],
        "worst_level": line.worst.value if line.worst else None,
        "next_deadline": open_deadline_json(line.next) if line.next else None,
    }


def change_value(name: str, value: Any, withheld: str | None) -> Any:
    """A recorded value as the API shows it: personal data masked, another street's order number withheld."""
    if name in PERSONAL_CHANGES and isinstance(value, str):
        return PERSONAL_CHANGES[name](value)
    if name == "repeat_of" and withheld and value == withheld:
        return WITHHELD
    return value


def event_json(event: OrderEvent, withheld: str | None = None) -> dict[str, Any]:
    """One audit event; changed personal fields are masked."""
    changes = {
        name: [change_value(name, v, withheld) for v in pair] if isinstance(pair, list) else pair
        for name, pair in event.changes.items()
    }
    return {
        "at": iso(event.at),
        "cycle": event.cycle,
        "action": event.action,
        "action_label": labels.ACTION_LABELS[Action(event.action)],
        "state_before": event.state_before,
        "state_before_label": labels.STATE_LABELS[State(event.state_before)] if event.state_before else None,
        **state_json(event.state_after, "state_after"),
        "actor_name": event.actor_name,
        "source": event.source,
        "note": event.note,
        "changes": changes,
    }


def alert_json(row: StageAlert) -> dict[str, Any]:
    """An open stage at a level now (live), its alert once the scan raised it, and the order it is on."""
    alert, deadline, order = row.alert, row.deadline, row.order
    return {
        "id": alert.id if alert else None,
        "deadline_id": deadline.id,
        **level_json(row.level),
        "stage": deadline.stage,
        "stage_label": labels.STAGE_LABELS[Stage(deadline.stage)],
        "due_at": iso(deadline.due_at),
        "raised_at": iso(alert.raised_at) if alert else None,
        "level_changed_at": iso(alert.level_changed_at) if alert else None,
        "acknowledged_at": iso(alert.acknowledged_at) if alert else None,
        "acknowledged_by": alert.acknowledged_by if alert else None,
        "order": {
            "id": order.id,
            "order_no": order.order_no,
            "street": order.street,
            "category": order.category,
            **state_json(order.state),
        },
    }


def number(value: float) -> float | int:
    """A whole count as an integer, a weighted sum rounded."""
    value = round(float(value), 4)
    return int(value) if value.is_integer() else value


def rate_json(rate: Rate) -> dict[str, Any]:
    """One rate: numerator, denominator, rate (null when nothing was due) and the date that counts."""
    data: dict[str, Any] = {
        "metric": rate.metric,
        "label": rate.label,
        "numerator": number(rate.numerator),
        "denominator": number(rate.denominator),
        "rate": rate.rate,
        "basis": rate.basis,
    }
    if rate.without_phone is not None:
        data["without_phone"] = rate.without_phone
    return data


def street_rates_json(row: StreetRates) -> dict[str, Any]:
    """Every rate of one street."""
    return {"street": row.street, "intake": row.intake, "rates": [rate_json(r) for r in row.rates]}


def period_json(result: PeriodRates) -> dict[str, Any]:
    """The rates of a period per street and in total."""
    return {
        "from": result.first.isoformat(),
        "to": result.last.isoformat(),
        "note": "日期为北京时间，含首尾两天；期限类指标（先行联系率、及时率、按时办结率）只计已到期的期限；"
        "满意率按 满意 1、基本满意 0.8、一般 0.6、不满意 0 加权，未评价不计",
        "streets": [street_rates_json(row) for row in result.streets],
        "total": street_rates_json(result.total),
    }


# --- endpoints -------------------------------------------------------------------------------------


@bp.get("/orders")
def orders() -> Response:
    """工单列表：与列表页相同的筛选条件，分页（page、page_size，最多 200）。"""
    for name in labels.FILTER_LABELS:
        day_arg(name)
    choice_arg("state", [s.value for s in State] + [OPEN_STATE])
    choice_arg("level", [level.value for level in AlertLevel])
    choice_arg("stage", [s.value for s in Stage])
    choice_arg("sort", list(SORTS))
    page = int_arg("page", 1)
    page_size = int_arg("page_size", DEFAULT_PAGE_SIZE, maximum=MAX_PAGE_SIZE)
    db = get_session()
    lines, total = list_orders(
        db,
        viewer=viewer(),
        now=live.now(),
        calendar=load_calendar(db),
        filters=filters_from_request(),
        limit=page_size,
        offset=(page - 1) * page_size,
        thresholds=live.thresholds(),
    )
    current = live.counts(viewer())
    return json_response(
        {
            "total": total,
            "total_unit": UNIT_ORDERS,
            "page": page,
            "page_size": page_size,
            "current": current.as_json(),
            "orders": [line_json(line) for line in lines],
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
    deadlines = [
        {
            "cycle": view.row.cycle,
            "stage": view.stage.value,
            "stage_label": labels.STAGE_LABELS[view.stage],
            "rule": view.row.rule_label,
            "started_at": iso(view.row.started_at),
            "due_at": iso(view.row.due_at),
            "due_error": view.row.due_error,
            "rule_due_at": iso(view.row.rule_due_at),
            "platform_due_at": iso(view.row.platform_due_at),
            "completed_at": iso(view.row.completed_at),
            "outcome": view.row.outcome,
            "outcome_label": labels.OUTCOME_LABELS[Outcome(view.row.outcome)] if view.row.outcome else None,
            **level_json(view.level),
            "explanation": lines,
        }
        for view, lines in found.deadlines
    ]
    detail = {
        **order_json(o),
        "address": o.address,
        "content": o.content,
        "contact_result": o.contact_result,
        "contact_reason": o.contact_reason,
        "contact_person": o.contact_person,
        "extension_reason": o.extension_reason,
        "extension_requested_to": o.extension_requested_to.isoformat() if o.extension_requested_to else None,
        "return_reason_code": o.return_reason_code,
        "return_basis": o.return_basis,
        "reply": o.reply,
        "reply_method": o.reply_method,
        "repeat_of": WITHHELD if withheld else repeat_of,
        "extras": o.extras,
        "deadlines": deadlines,
        "events": [event_json(e, withheld) for e in found.events],
        "actions": [{"action": a.value, "label": labels.ACTION_LABELS[a]} for a in found.actions],
    }
    return json_response(detail)


@bp.get("/alerts")
def alerts() -> Response:
    """未解除的预警（与预警页相同）：level、stage、street 筛选，分页。"""
    choice_arg("level", [level.value for level in AlertLevel])
    choice_arg("stage", [s.value for s in Stage])
    page = int_arg("page", 1)
    page_size = int_arg("page_size", DEFAULT_PAGE_SIZE, maximum=MAX_PAGE_SIZE)
    level, stage = request.args.get("level"), request.args.get("stage")
    filters = AlertFilter(
        level=AlertLevel(level) if level else None,
        stage=Stage(stage) if stage else None,
        street=request.args.get("street", "").strip() or None,
    )
    db = get_session()
    me = viewer()
    rows, total = viewer_alerts(
        db, viewer=me, bounds=live.bounds(), filters=filters, limit=page_size, offset=(page - 1) * page_size
    )
    current = live.counts(me, street=filters.street, stage=filters.stage)
    return json_response(
        {
            "total": total,
            "total_unit": UNIT_STAGES,
            "page": page,
            "page_size": page_size,
            "counts": {level.value: current.stages[level] for level in AlertLevel},
            "current": current.as_json(),
            "alerts": [alert_json(row) for row in rows],
        }
    )


@bp.get("/rates")
def rates() -> Response:
    """各项指标（domain.md 第 5 节）：from、to 为北京时间日期（含首尾），默认本月 1 日至今天；可选 street。"""
    today = to_local(utcnow()).date()
    last = day_arg("to") or today
    first = day_arg("from") or last.replace(day=1)
    if last < first:
        fail(400, f"参数 to（统计期间至）的值「{last.isoformat()}」早于参数 from 的值「{first.isoformat()}」")
    try:
        result = live_rates(
            get_session(),
            viewer=viewer(),
            first=first,
            last=last,
            now=utcnow(),
            street=request.args.get("street", "").strip() or None,
        )
    except PeriodError as exc:
        fail(400, exc.message)
    return json_response(period_json(result))


@bp.get("/checks")
def checks() -> Response:
    """热线通报核查：通报件数（按街镇、通报类型）、核查按时率、退回率；from、to 为通报日期（含首尾），默认本月。"""
    last = day_arg("to") or to_local(utcnow()).date()
    first = day_arg("from") or last.replace(day=1)
    if last < first:
        fail(400, f"参数 to（统计期间至）的值「{last.isoformat()}」早于参数 from 的值「{first.isoformat()}」")
    street = request.args.get("street", "").strip() or None
    numbers = check_numbers(get_session(), viewer=viewer(), first=first, last=last, now=utcnow(), street=street)
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
            },
            "auth": "浏览器登录会话，或请求头 Authorization: Bearer <令牌>",
        }
    )
