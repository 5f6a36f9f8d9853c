"""Read models for pages: orders with their open deadlines and alert levels, one order in full."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from tracker.domain.calendar import WorkCalendar
from tracker.domain.deadlines import ALERT_RANK, alert_level
from tracker.domain.errors import CalendarNotLoaded
from tracker.domain.vocabulary import Action, AlertLevel, Stage, State
from tracker.models import Order, OrderDeadline, OrderEvent
from tracker.services import deadlines as deadline_rows
from tracker.services.orders import available_actions, events_of


@dataclass(frozen=True)
class DeadlineView:
    """One stage deadline as shown to people."""

    row: OrderDeadline
    stage: Stage
    level: AlertLevel | None


@dataclass(frozen=True)
class OrderLine:
    """One order in a list, with its open deadlines."""

    order: Order
    deadlines: list[DeadlineView]

    @property
    def worst(self) -> AlertLevel | None:
        """The highest alert level among its open deadlines."""
        levels = [d.level for d in self.deadlines if d.level]
        return max(levels, key=ALERT_RANK.__getitem__) if levels else None


def _level(row: OrderDeadline, now: datetime, calendar: WorkCalendar) -> AlertLevel | None:
    if row.completed_at is not None or row.due_at is None:
        return None
    try:
        return alert_level(row.due_at, now, calendar)
    except CalendarNotLoaded:
        return AlertLevel.RED if now > row.due_at else None


def list_orders(
    session: Session,
    *,
    now: datetime,
    calendar: WorkCalendar,
    state: State | None = None,
    street: str | None = None,
    limit: int = 200,
    offset: int = 0,
) -> tuple[list[OrderLine], int]:
    """A page of orders (newest dispatch first) with open deadlines, and the total count."""
    query = select(Order)
    count_query = select(func.count()).select_from(Order)
    if state is not None:
        query = query.where(Order.state == state.value)
        count_query = count_query.where(Order.state == state.value)
    if street:
        query = query.where(Order.street == street)
        count_query = count_query.where(Order.street == street)
    orders = session.exec(query.order_by(col(Order.dispatched_at).desc()).limit(limit).offset(offset)).all()
    total = session.exec(count_query).one()
    ids = [o.id for o in orders]
    open_rows: dict[int, list[OrderDeadline]] = defaultdict(list)
    if ids:
        for row in session.exec(
            select(OrderDeadline)
            .where(col(OrderDeadline.order_id).in_(ids), col(OrderDeadline.completed_at).is_(None))
            .order_by(col(OrderDeadline.id))
        ).all():
            open_rows[row.order_id].append(row)
    lines = [
        OrderLine(o, [DeadlineView(r, Stage(r.stage), _level(r, now, calendar)) for r in open_rows[o.id or 0]])
        for o in orders
    ]
    return lines, int(total)


def state_counts(session: Session) -> dict[State, int]:
    """How many orders are in each state."""
    rows = session.exec(select(Order.state, func.count()).group_by(Order.state)).all()
    counts = {state: 0 for state in State}
    for state, count in rows:
        counts[State(state)] = int(count)
    return counts


def alert_counts(session: Session, *, now: datetime, calendar: WorkCalendar) -> dict[AlertLevel, int]:
    """Open stage deadlines per alert level right now."""
    counts = {level: 0 for level in AlertLevel}
    rows = session.exec(
        select(OrderDeadline).where(col(OrderDeadline.completed_at).is_(None), col(OrderDeadline.due_at).is_not(None))
    ).all()
    for row in rows:
        level = _level(row, now, calendar)
        if level:
            counts[level] += 1
    return counts


@dataclass(frozen=True)
class OrderDetail:
    """Everything the order page shows."""

    order: Order
    deadlines: list[tuple[DeadlineView, list[str]]]
    events: list[OrderEvent]
    actions: list[Action]


def order_detail(session: Session, *, order_id: int, now: datetime, calendar: WorkCalendar) -> OrderDetail | None:
    """One order with every deadline (and its explanation), its audit trail and what may happen now."""
    order = session.get(Order, order_id)
    if order is None:
        return None
    deadlines = [
        (DeadlineView(row, Stage(row.stage), _level(row, now, calendar)), deadline_rows.explain(row, calendar))
        for row in deadline_rows.all_deadlines(session, order)
    ]
    return OrderDetail(order, deadlines, events_of(session, order), available_actions(session, order, now=now))
