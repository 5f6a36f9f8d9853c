"""Stage deadline rows: opening, ending, recomputing after a calendar change, explaining."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from tracker.domain.calendar import WorkCalendar
from tracker.domain.deadlines import RuleTable, completion_outcome, explain_due, try_compute_due, try_compute_dues
from tracker.domain.errors import CalendarNotLoaded
from tracker.domain.labels import format_local
from tracker.domain.lifecycle import OPEN_STATES, StageEffect
from tracker.domain.vocabulary import Outcome, Stage, Unit
from tracker.models import Order, OrderDeadline

CLOSING_STAGES = (Stage.CLOSURE.value, Stage.REDO.value)


def stage_values(
    order: Any,
    *,
    stage: Stage,
    start: datetime,
    rules: RuleTable,
    calendar: WorkCalendar,
    fixed_due: datetime | None = None,
    fixed_label: str = "",
) -> dict[str, Any]:
    """The values of a new stage deadline row, from the matching rule (or a date set by a person)."""
    if fixed_due is not None:
        return {
            "cycle": order.cycle,
            "stage": stage.value,
            "started_at": start,
            "amount": 0,
            "unit": Unit.FIXED.value,
            "rule_label": fixed_label or f"指定期限 {format_local(fixed_due)}",
            "due_at": fixed_due,
        }
    rule = rules.match(stage, request_type=order.request_type, urgency=order.urgency)
    due = try_compute_due(start, rule.amount, rule.unit, calendar)
    return {
        "cycle": order.cycle,
        "stage": stage.value,
        "started_at": start,
        "amount": rule.amount,
        "unit": rule.unit.value,
        "rule_label": rule.label(),
        "due_at": due.due_at,
        "due_error": due.error,
    }


def set_platform_due(row: Any, platform_due_at: datetime) -> None:
    """The platform's 处理时限 becomes the deadline of record; our rule's result stays beside it."""
    if row.rule_due_at is None and row.platform_due_at is None:
        row.rule_due_at = row.due_at
    row.platform_due_at = platform_due_at
    row.due_at = platform_due_at
    row.due_error = None
    if "平台处理时限" not in row.rule_label:
        row.rule_label = f"平台处理时限（本系统规则：{row.rule_label}）"


def _id(order: Order) -> int:
    if order.id is None:
        raise ValueError("order must be flushed before its deadlines are opened")
    return order.id


def open_deadlines(session: Session, order: Order) -> list[OrderDeadline]:
    """The order's stage deadlines that have not ended."""
    return list(
        session.exec(
            select(OrderDeadline)
            .where(OrderDeadline.order_id == _id(order), col(OrderDeadline.completed_at).is_(None))
            .order_by(col(OrderDeadline.id))
        ).all()
    )


def all_deadlines(session: Session, order: Order) -> list[OrderDeadline]:
    """Every stage deadline of the order, oldest first."""
    return list(
        session.exec(
            select(OrderDeadline).where(OrderDeadline.order_id == _id(order)).order_by(col(OrderDeadline.id))
        ).all()
    )


def closing_deadline(rows: Iterable[Any]) -> Any | None:
    """The open deadline the order must close by (the redo deadline in a redo cycle)."""
    candidates = [row for row in rows if row.stage in CLOSING_STAGES and row.completed_at is None]
    return candidates[-1] if candidates else None


def end_stages(
    rows: Iterable[Any], *, effect: StageEffect, at: datetime, done_at: Mapping[Stage, datetime]
) -> list[Any]:
    """Apply an action's cancels, completions and misses to the open rows; returns the rows ended."""
    ended = []
    for row in rows:
        stage = Stage(row.stage)
        if row.completed_at is not None:
            continue
        if stage in effect.cancels:
            row.completed_at, row.outcome = at, Outcome.CANCELLED.value
        elif stage in effect.completes:
            finished = done_at.get(stage, at)
            outcome = completion_outcome(finished, row.due_at)
            row.completed_at, row.outcome = finished, outcome.value if outcome else None
        elif stage in effect.misses:
            row.completed_at, row.outcome = at, Outcome.MISSED.value
        else:
            continue
        ended.append(row)
    return ended


def recompute_open_deadlines(session: Session, *, calendar: WorkCalendar) -> int:
    """Recompute the rule-based deadlines of every open order; returns how many changed.

    Open stages get their due time again; a stage that ended while its due time was unknown
    (its year not loaded) gets the due time and, now that it can be judged, its outcome.
    Closed orders are not touched.
    """
    rows = session.execute(
        sa_select(
            col(OrderDeadline.id),
            col(OrderDeadline.started_at),
            col(OrderDeadline.amount),
            col(OrderDeadline.unit),
            col(OrderDeadline.due_at),
            col(OrderDeadline.due_error),
            col(OrderDeadline.completed_at),
            col(OrderDeadline.platform_due_at),
            col(OrderDeadline.rule_due_at),
        )
        .join(Order, col(Order.id) == col(OrderDeadline.order_id))
        .where(
            or_(
                col(OrderDeadline.completed_at).is_(None),
                and_(col(OrderDeadline.due_at).is_(None), col(OrderDeadline.outcome).is_(None)),
            ),
            col(OrderDeadline.unit) != Unit.FIXED.value,
            col(Order.state).in_([s.value for s in OPEN_STATES]),
        )
    ).all()
    by_rule: dict[tuple[int, str], list[Any]] = defaultdict(list)
    for row in rows:
        by_rule[(row.amount, row.unit)].append(row)
    changes = []
    for (amount, unit), group in by_rule.items():
        dues = try_compute_dues([row.started_at for row in group], amount, Unit(unit), calendar)
        for row, due in zip(group, dues, strict=True):
            if row.platform_due_at is not None:  # the platform's deadline stays; ours is kept beside it
                if due.due_at != row.rule_due_at:
                    changes.append(
                        {
                            "id": row.id,
                            "due_at": row.due_at,
                            "due_error": None,
                            "rule_due_at": due.due_at,
                            "outcome": None,
                        }
                    )
                continue
            if due.due_at != row.due_at or due.error != row.due_error:
                outcome = completion_outcome(row.completed_at, due.due_at) if row.completed_at else None
                changes.append(
                    {
                        "id": row.id,
                        "due_at": due.due_at,
                        "due_error": due.error,
                        "rule_due_at": None,
                        "outcome": outcome and outcome.value,
                    }
                )
    if changes:
        session.flush()
        session.execute(update(OrderDeadline), changes)
        session.expire_all()
    return len(changes)


def explain(row: OrderDeadline, calendar: WorkCalendar) -> list[str]:
    """Chinese lines explaining how this deadline was reached."""
    lines = [f"依据：{row.rule_label}"]
    try:
        lines += explain_due(row.started_at, row.amount, Unit(row.unit), calendar)
    except CalendarNotLoaded as exc:
        lines.append(exc.message)
    if row.platform_due_at is not None:
        ours = format_local(row.rule_due_at) if row.rule_due_at else "无法计算"
        same = "一致" if row.rule_due_at == row.platform_due_at else "不一致，以平台为准"
        lines.append(f"平台处理时限：{format_local(row.platform_due_at)}；本系统规则计算：{ours}（{same}）")
    if row.original_due_at is not None:
        lines.append(f"原期限：{format_local(row.original_due_at)}（已批准延期）")
    return lines
