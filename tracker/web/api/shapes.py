"""The JSON shapes of /api/v1, built from the services' results (their schemas are in :mod:`.schemas`).

Times are ISO 8601 in UTC ('…Z'); names and phone numbers are masked; labels come from the one label mapping.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from flask import request, url_for

from tracker.domain import labels
from tracker.domain.privacy import mask_name, mask_phone
from tracker.domain.vocabulary import Action, AlertLevel, ExtensionStatus, Outcome, Stage, State
from tracker.models import Order, OrderEvent
from tracker.services.orders import DeadlineView, OrderLine, StageAlert
from tracker.services.stats import PeriodRates, Rate, StreetRates

PERSONAL_CHANGES = {"phone": mask_phone, "complainant": mask_name}
WITHHELD = "（其他街镇的工单，不显示编号）"


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


def deadline_json(view: DeadlineView, explanation: list[str]) -> dict[str, Any]:
    """A stage deadline of the order page: its rule, times, outcome, level and how it was computed."""
    row = view.row
    return {
        "cycle": row.cycle,
        "stage": view.stage.value,
        "stage_label": labels.STAGE_LABELS[view.stage],
        "rule": row.rule_label,
        "started_at": iso(row.started_at),
        "due_at": iso(row.due_at),
        "due_error": row.due_error,
        "rule_due_at": iso(row.rule_due_at),
        "platform_due_at": iso(row.platform_due_at),
        "completed_at": iso(row.completed_at),
        "outcome": row.outcome,
        "outcome_label": labels.OUTCOME_LABELS[Outcome(row.outcome)] if row.outcome else None,
        **level_json(view.level),
        "explanation": explanation,
    }


def detail_json(
    order: Order,
    *,
    deadlines: Iterable[tuple[DeadlineView, list[str]]],
    events: Iterable[OrderEvent],
    actions: Iterable[Action],
    repeat_of: str | None,
    withheld: str | None,
) -> dict[str, Any]:
    """One order with every field, its deadlines, its trail and the actions the viewer may take."""
    o = order
    return {
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
        "deadlines": [deadline_json(view, lines) for view, lines in deadlines],
        "events": [event_json(e, withheld) for e in events],
        "actions": [{"action": a.value, "label": labels.ACTION_LABELS[a]} for a in actions],
    }


def page_links(*, total: int, page: int, size: int) -> dict[str, str | None]:
    """Links to this page, the first, last, previous and next (null where there is none), same parameters."""
    last = max((total + size - 1) // size, 1)
    args: dict[str, Any] = dict(request.args.items())

    def at(number: int) -> str:
        return url_for(str(request.endpoint), **(args | {"page": number, "page_size": size}))

    return {
        "self": at(page),
        "first": at(1),
        "last": at(last),
        "prev": at(min(page - 1, last)) if page > 1 else None,
        "next": at(page + 1) if page < last else None,
    }
