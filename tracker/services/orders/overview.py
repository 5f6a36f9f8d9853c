"""Read models for pages: orders with their open deadlines and alert levels, one order in full."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import exists, func, or_
from sqlmodel import Session, col, select

from tracker.domain.calendar import WorkCalendar
from tracker.domain.deadlines import ALERT_RANK, AlertThresholds, local_day_bounds
from tracker.domain.labels import batch_label
from tracker.domain.lifecycle import OPEN_STATES
from tracker.domain.overdue import LevelBounds
from tracker.domain.roles import is_district_wide
from tracker.domain.vocabulary import Action, AlertLevel, Stage, State
from tracker.models import ImportBatch, Order, OrderDeadline, OrderEvent
from tracker.services.accounts import Viewer, actions_for, scoped, visible_order
from tracker.services.orders import deadlines as deadline_rows
from tracker.services.orders.actions import available_actions, events_of
from tracker.services.orders.counts import bounds_at, order_ids_at_level


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

    @property
    def next(self) -> DeadlineView | None:
        """The open deadline due first, with its live level; None when no open deadline has a due time.

        This is the one "next deadline" of a list line: the page, the export and the API show it, and
        :func:`next_due_times` is the same minimum in SQL, which the work-queue sort reads.
        """
        due = [d for d in self.deadlines if d.row.due_at is not None]
        return min(due, key=lambda d: (d.row.due_at, d.row.id or 0)) if due else None


def _level(row: OrderDeadline, bounds: LevelBounds) -> AlertLevel | None:
    """The live level of a stage deadline (domain.overdue); a completed stage has none."""
    if row.completed_at is not None:
        return None
    return bounds.level_of(row.due_at)


DEADLINE_SORT = "deadline"  # the work queue: red, then yellow, then blue, then by the nearest open deadline

SORTS: dict[str, tuple[str, Any]] = {
    DEADLINE_SORT: ("下一期限（最紧急在前）", None),  # two passes, see ordered_orders
    "dispatched_desc": ("派单时间（新→旧）", col(Order.dispatched_at).desc()),
    "dispatched_asc": ("派单时间（旧→新）", col(Order.dispatched_at).asc()),
    "order_no": ("工单编号", col(Order.order_no).asc()),
    "street": ("街镇", col(Order.street).asc()),
    "closed_desc": ("办结时间（新→旧）", col(Order.closed_at).desc()),
}


@dataclass(frozen=True)
class OrderFilter:
    """What the list is narrowed to; dates are local (Asia/Shanghai) calendar days, both ends included."""

    street: str | None = None
    category: str | None = None
    state: State | None = None
    open_only: bool = False  # only orders not yet closed (dispatched, handling, return requested)
    level: AlertLevel | None = None  # orders at this level now (their open stage due first is at it)
    stage: Stage | None = None  # ... counting only open stages of this kind
    dispatched_from: date | None = None
    dispatched_to: date | None = None
    closed_from: date | None = None
    closed_to: date | None = None
    keyword: str | None = None  # order number, content or address
    sort: str = "dispatched_desc"

    def narrows(self) -> bool:
        """Whether any filter is set (the sort order narrows nothing)."""
        return self != OrderFilter(sort=self.sort)

    def where(self, query: Any, *, bounds: LevelBounds | None = None) -> Any:
        """Apply the filter to a query over ``work_order``; a level or stage filter is read live at ``bounds``
        (domain.overdue: an order is at the level of its open stage due first), never from a date window."""
        if self.street:
            query = query.where(Order.street == self.street)
        if self.category:
            query = query.where(Order.category == self.category)
        if self.state is not None:
            query = query.where(Order.state == self.state.value)
        if self.open_only:
            query = query.where(col(Order.state).in_(sorted(s.value for s in OPEN_STATES)))
        if self.dispatched_from:
            query = query.where(col(Order.dispatched_at) >= local_day_bounds(self.dispatched_from)[0])
        if self.dispatched_to:
            query = query.where(col(Order.dispatched_at) < local_day_bounds(self.dispatched_to)[1])
        if self.closed_from:
            query = query.where(col(Order.closed_at) >= local_day_bounds(self.closed_from)[0])
        if self.closed_to:
            query = query.where(col(Order.closed_at) < local_day_bounds(self.closed_to)[1])
        if self.keyword:
            pattern = "%" + self.keyword.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            query = query.where(
                or_(
                    col(Order.order_no) == self.keyword,
                    col(Order.content).like(pattern, escape="\\"),
                    col(Order.address).like(pattern, escape="\\"),
                )
            )
        if self.level is not None or self.stage is not None:
            if bounds is None:
                raise ValueError("a level or stage filter needs the level bounds of a moment")
            query = query.where(col(Order.id).in_(order_ids_at_level(bounds, level=self.level, stage=self.stage)))
        return query


def list_orders(
    session: Session,
    *,
    viewer: Viewer,
    now: datetime,
    calendar: WorkCalendar,
    filters: OrderFilter = OrderFilter(),
    limit: int = 200,
    offset: int = 0,
    thresholds: AlertThresholds | None = None,
) -> tuple[list[OrderLine], int]:
    """A page of the viewer's orders with their open deadlines, and the total count.

    ``thresholds``: the alert thresholds of the level filter and of each line's level (default: the domain's).
    """
    bounds = bounds_at(now, calendar, thresholds)
    total = session.exec(scoped(filters.where(select(func.count()).select_from(Order), bounds=bounds), viewer)).one()
    query = scoped(filters.where(select(Order), bounds=bounds), viewer)
    orders = list(ordered_orders(session, query, filters.sort, limit=limit, offset=offset))
    return lines_for(session, orders, now=now, calendar=calendar, thresholds=thresholds), int(total)


def next_due_times() -> Any:
    """Per order with an open deadline that has a due time: ``(order_id, next_due)``, the earliest such due time.

    Read from the few open deadlines (the partial index ``ix_order_deadline_open_order`` covers it), not the orders.
    """
    return (
        select(col(OrderDeadline.order_id).label("order_id"), func.min(OrderDeadline.due_at).label("next_due"))
        .where(col(OrderDeadline.completed_at).is_(None), col(OrderDeadline.due_at).is_not(None))
        .group_by(col(OrderDeadline.order_id))
        .subquery("next_due")
    )


def ordered_orders(session: Session, query: Any, sort: str, *, limit: int, offset: int = 0) -> Iterator[Order]:
    """The orders of ``query`` (scoped and filtered) in the list order ``sort``, ``limit`` from ``offset``.

    The deadline sort (the work queue) reads in two passes so that no pass sorts every order: first the
    orders that have an open deadline, by their next due time (an alert level only rises as the due time
    nears, so this is red, yellow, blue, then the rest by nearest deadline; the most overdue first), then
    the orders without one (closed ones, mostly), newest dispatch first.
    """
    if sort != DEADLINE_SORT:
        order_by = SORTS.get(sort, SORTS["dispatched_desc"])[1]
        yield from session.exec(query.order_by(order_by, col(Order.id).desc()).limit(limit).offset(offset))
        return
    nxt = next_due_times()
    with_due = query.join(nxt, nxt.c.order_id == col(Order.id))
    shown = 0
    for order in session.exec(with_due.order_by(nxt.c.next_due, col(Order.id)).limit(limit).offset(offset)):
        shown += 1
        yield order
    if shown >= limit:
        return
    rest_offset = 0  # the first pass ended inside this page: the rest starts at its beginning
    if not shown and offset:  # the page lies past the first pass: how far past it
        due_ids = with_due.with_only_columns(col(Order.id)).subquery()
        rest_offset = offset - int(session.exec(select(func.count()).select_from(due_ids)).one())
    open_due = exists().where(
        col(OrderDeadline.order_id) == col(Order.id),
        col(OrderDeadline.completed_at).is_(None),
        col(OrderDeadline.due_at).is_not(None),
    )
    rest = query.where(~open_due).order_by(col(Order.dispatched_at).desc(), col(Order.id).desc())
    yield from session.exec(rest.limit(limit - shown).offset(max(rest_offset, 0)))


def lines_for(
    session: Session,
    orders: list[Order],
    *,
    now: datetime,
    calendar: WorkCalendar,
    thresholds: AlertThresholds | None = None,
) -> list[OrderLine]:
    """The list lines of these orders: each with its open deadlines and their live alert level."""
    bounds = bounds_at(now, calendar, thresholds)
    ids = [o.id for o in orders]
    open_rows: dict[int, list[OrderDeadline]] = defaultdict(list)
    if ids:
        for row in session.exec(
            select(OrderDeadline)
            .where(col(OrderDeadline.order_id).in_(ids), col(OrderDeadline.completed_at).is_(None))
            .order_by(col(OrderDeadline.id))
        ).all():
            open_rows[row.order_id].append(row)
    return [
        OrderLine(o, [DeadlineView(r, Stage(r.stage), _level(r, bounds)) for r in open_rows[o.id or 0]]) for o in orders
    ]


def state_counts(session: Session, viewer: Viewer | None = None, *, total: int | None = None) -> dict[State, int]:
    """How many orders are in each state (the viewer's orders, or all).

    ``total``: every order, when the caller has just counted them (the unfiltered district list).
    """
    counts = {state: 0 for state in State}
    if viewer is not None and not is_district_wide(viewer.role):
        query = select(Order.state, func.count()).where(col(Order.state).in_([s.value for s in State]))
        query = query.group_by(Order.state)  # the IN lets SQLite search the (state, street) index
        for state, count in session.exec(scoped(query, viewer)).all():
            counts[State(state)] = int(count)
        return counts
    # District-wide most orders are closed: count the other states by index search and take the
    # closed ones as the rest, instead of reading an index entry per closed order.
    others = [s.value for s in State if s is not State.CLOSED]
    query = select(Order.state, func.count()).where(col(Order.state).in_(others)).group_by(Order.state)
    for state, count in session.exec(query).all():
        counts[State(state)] = int(count)
    if total is None:
        total = int(session.exec(select(func.count()).select_from(Order)).one())
    counts[State.CLOSED] = total - sum(counts.values())
    return counts


@dataclass(frozen=True)
class OrderDetail:
    """Everything the order page shows."""

    order: Order
    deadlines: list[tuple[DeadlineView, list[str]]]
    events: list[OrderEvent]
    actions: list[Action]
    repeat_of: str | None = None  # withheld when it names an order the viewer may not see
    actor_names: dict[str, str] = field(default_factory=dict)  # event actor id -> name as people read it now

    def actor_name(self, event: OrderEvent) -> str:
        """Who did it, as people name them: an import batch by when, which file and who imported it."""
        return self.actor_names.get(event.actor, event.actor_name)


IMPORT_ACTOR = "import:"


def import_actor_names(session: Session, events: list[OrderEvent]) -> dict[str, str]:
    """'导入：2026-12-03 08:05 · 12345导出.xlsx · 王敏' for each import batch that acted in ``events``.

    The trail stores the batch's id as the actor (append-only, as it was); the batch row has what people
    recognise (the file name is the uploaded one, not the stored copy's generated name).
    """
    ids = {e.actor[len(IMPORT_ACTOR) :] for e in events if e.actor.startswith(IMPORT_ACTOR)}
    if not ids:
        return {}
    batches = session.exec(select(ImportBatch).where(col(ImportBatch.batch).in_(sorted(ids))))
    return {IMPORT_ACTOR + b.batch: "导入：" + batch_label(b.started_at, b.file_name, b.actor_name) for b in batches}


def order_detail(
    session: Session,
    *,
    viewer: Viewer,
    order_id: int,
    now: datetime,
    calendar: WorkCalendar,
    thresholds: AlertThresholds | None = None,
) -> OrderDetail | None:
    """One of the viewer's orders with every deadline (and its explanation), its trail and what they may do now."""
    order = visible_order(session, viewer, order_id)
    if order is None:
        return None
    bounds = bounds_at(now, calendar, thresholds)
    deadlines = [
        (DeadlineView(row, Stage(row.stage), _level(row, bounds)), deadline_rows.explain(row, calendar))
        for row in deadline_rows.all_deadlines(session, order)
    ]
    actions = actions_for(viewer, available_actions(session, order, now=now))
    repeat_of = visible_repeat_of(session, viewer=viewer, order=order)
    events = events_of(session, order)
    return OrderDetail(order, deadlines, events, actions, repeat_of, import_actor_names(session, events))


def visible_repeat_of(session: Session, *, viewer: Viewer, order: Order) -> str | None:
    """The order number this order repeats, withheld when it names an order of a street the viewer may not see."""
    if not order.repeat_of:
        return None
    same_no = select(func.count()).select_from(Order).where(Order.order_no == order.repeat_of)
    if session.exec(same_no).one() and not session.exec(scoped(same_no, viewer)).one():
        return None
    return order.repeat_of
