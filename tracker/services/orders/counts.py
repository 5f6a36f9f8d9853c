"""The live counts of overdue and due-soon work, as of now: the one place they are computed.

The definition is the domain's (``tracker.domain.overdue``): open stage deadlines against the level
bounds of one moment, whatever the order's dispatch date. The navigation badge, the order list's chips,
its level filter and total, the alerts page, the dashboard's current figures, the digest, the JSON API
and the XLSX export all read these functions (tests/web/test_consistency.py checks that they agree).

Two units, always named: orders (件工单, each at its most urgent open stage, i.e. its first due time)
and stages (个环节, every open stage deadline).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func
from sqlmodel import Session, col, select

from tracker.domain.calendar import WorkCalendar
from tracker.domain.deadlines import AlertThresholds
from tracker.domain.labels import NO_STREET
from tracker.domain.overdue import (
    LEVEL_SHORT,
    LEVELS_WORST_FIRST,
    UNIT_ORDERS,
    UNIT_STAGES,
    LevelBounds,
    as_of_label,
    count_phrase,
    level_bounds,
)
from tracker.domain.roles import is_district_wide
from tracker.domain.vocabulary import AlertLevel, Stage
from tracker.models import Alert, Order, OrderDeadline
from tracker.services.accounts import Viewer, scoped

RANKS = {AlertLevel.RED: 3, AlertLevel.YELLOW: 2, AlertLevel.BLUE: 1}
LEVEL_OF_RANK = {rank: level for level, rank in RANKS.items()}


def bounds_at(now: datetime, calendar: WorkCalendar, thresholds: AlertThresholds | None = None) -> LevelBounds:
    """The level bounds at ``now`` (the domain's; here so that callers need one import)."""
    return level_bounds(now, calendar, thresholds)


def level_condition(due: Any, bounds: LevelBounds, level: AlertLevel) -> Any:
    """SQL: a due time (column or aggregate) is at ``level`` at the bounds' moment (LevelBounds.level_of)."""
    if level is AlertLevel.RED:
        return due < bounds.now
    if level is AlertLevel.YELLOW:
        return and_(due >= bounds.now, due <= bounds.yellow_until)
    return and_(due > bounds.yellow_until, due <= bounds.blue_until)


def level_rank(due: Any, bounds: LevelBounds) -> Any:
    """SQL: 3 red, 2 yellow, 1 blue, 0 not yet close."""
    return case((due < bounds.now, 3), (due <= bounds.yellow_until, 2), (due <= bounds.blue_until, 1), else_=0)


def _open_stages(bounds: LevelBounds, stage: Stage | None = None) -> list[Any]:
    """Conditions of an open stage deadline that has a level at the bounds' moment."""
    conditions = [
        col(OrderDeadline.completed_at).is_(None),
        col(OrderDeadline.due_at).is_not(None),
        col(OrderDeadline.due_at) <= bounds.blue_until,
    ]
    if stage is not None:
        conditions.append(col(OrderDeadline.stage) == stage.value)
    return conditions


def _narrowed(query: Any, viewer: Viewer, street: str | None, category: str | None, *, join: bool = False) -> Any:
    """Apply the viewer's scope, a street and a category to a query over open deadlines.

    ``join``: the query reads the orders' columns, so they are joined. Otherwise district-wide with neither
    filter the open deadlines alone answer; else the orders are an id subquery (a street's ids by its index).
    """
    if not join:
        if is_district_wide(viewer.role) and not street and not category:
            return query
        ids = select(Order.id)
        if street:
            ids = ids.where(Order.street == street)
        if category:
            ids = ids.where(Order.category == category)
        return query.where(col(OrderDeadline.order_id).in_(scoped(ids, viewer)))
    query = query.join(Order, col(Order.id) == col(OrderDeadline.order_id))
    if street:
        query = query.where(Order.street == street)
    if category:
        query = query.where(Order.category == category)
    return scoped(query, viewer)


def order_ids_at_level(bounds: LevelBounds, *, level: AlertLevel | None, stage: Stage | None) -> Any:
    """SQL: ids of the orders at ``level`` (their open stage due first is at it; with ``stage``, their open
    stage of that kind due first); ``level`` None: at any level. What the order list's 预警 filter reads."""
    first_due = func.min(OrderDeadline.due_at)
    query = select(OrderDeadline.order_id).where(*_open_stages(bounds, stage)).group_by(col(OrderDeadline.order_id))
    if level is not None:
        query = query.having(level_condition(first_due, bounds, level))
    return query


@dataclass(frozen=True)
class LiveCounts:
    """Open work per level at ``as_of``: orders (at their most urgent stage) and stages."""

    as_of: datetime
    orders: dict[AlertLevel, int]
    stages: dict[AlertLevel, int]

    @property
    def overdue_orders(self) -> int:
        """Orders with at least one overdue open stage."""
        return self.orders[AlertLevel.RED]

    @property
    def overdue_stages(self) -> int:
        """Overdue open stages."""
        return self.stages[AlertLevel.RED]

    @property
    def as_of_label(self) -> str:
        """「截至 HH:MM」."""
        return as_of_label(self.as_of)

    def orders_phrase(self, level: AlertLevel) -> str:
        """E.g. 「已超期 64 件工单」."""
        return f"{LEVEL_SHORT[level]} {count_phrase(self.orders[level], UNIT_ORDERS)}"

    def stages_phrase(self, level: AlertLevel) -> str:
        """E.g. 「已超期 88 个环节」."""
        return f"{LEVEL_SHORT[level]} {count_phrase(self.stages[level], UNIT_STAGES)}"

    def as_json(self) -> dict[str, Any]:
        """For the API and the export: both units, with the moment."""
        return {
            "as_of": self.as_of.isoformat(),
            "orders": {level.value: self.orders[level] for level in LEVELS_WORST_FIRST},
            "stages": {level.value: self.stages[level] for level in LEVELS_WORST_FIRST},
            "units": {"orders": UNIT_ORDERS, "stages": UNIT_STAGES},
        }


def live_counts(
    session: Session,
    *,
    viewer: Viewer,
    bounds: LevelBounds,
    street: str | None = None,
    category: str | None = None,
    stage: Stage | None = None,
) -> LiveCounts:
    """The viewer's open work per level at the bounds' moment, in orders and in stages (no date window).

    Counted once per request and scope: the navigation badge and the page ask alike.
    """
    key = ("live_counts", viewer, bounds, street, category, stage)
    if key in session.info:
        cached: LiveCounts = session.info[key]
        return cached
    # one pass over the open deadlines due by the blue horizon (the open-deadline index): per order its first
    # due time and its stages per level, then per order level the orders and the sums of their stages
    due = col(OrderDeadline.due_at)
    per_level = {
        level: func.sum(case((level_condition(due, bounds, level), 1), else_=0)).label(level.value)
        for level in LEVELS_WORST_FIRST
    }
    per_order = (
        _narrowed(
            select(func.min(due).label("first_due"), *per_level.values())
            .select_from(OrderDeadline)
            .where(*_open_stages(bounds, stage)),
            viewer,
            street,
            category,
        )
        .group_by(col(OrderDeadline.order_id))
        .subquery()
    )
    order_rank = level_rank(per_order.c.first_due, bounds)
    query = select(
        order_rank, func.count(), *(func.sum(per_order.c[level.value]) for level in LEVELS_WORST_FIRST)
    ).group_by(order_rank)
    orders = {level: 0 for level in AlertLevel}
    stages = {level: 0 for level in AlertLevel}
    for value, count, *levels in session.exec(query).all():
        if int(value) in LEVEL_OF_RANK:
            orders[LEVEL_OF_RANK[int(value)]] += int(count)
        for level, n in zip(LEVELS_WORST_FIRST, levels, strict=True):
            stages[level] += int(n or 0)
    counts = LiveCounts(bounds.now, orders, stages)
    session.info[key] = counts
    return counts


def overdue_by_street_stage(
    session: Session, *, viewer: Viewer, bounds: LevelBounds, street: str | None = None, category: str | None = None
) -> dict[tuple[str, Stage], int]:
    """Orders with an overdue open stage of each kind, per street (an order late at two stages counts under both)."""
    name = func.coalesce(col(Order.street), NO_STREET)
    query = _narrowed(
        select(name, col(OrderDeadline.stage), func.count(func.distinct(col(OrderDeadline.order_id))))
        .select_from(OrderDeadline)
        .where(*_open_stages(bounds), col(OrderDeadline.due_at) < bounds.now),
        viewer,
        street,
        category,
        join=True,
    ).group_by(name, col(OrderDeadline.stage))
    result: dict[tuple[str, Stage], int] = defaultdict(int)
    for street_name, stage, count in session.exec(query).all():
        result[(str(street_name), Stage(stage))] += int(count)
    return dict(result)


@dataclass(frozen=True)
class StageAlert:
    """One open stage at a level, its order and, once the scan has raised it, its alert (for acknowledging)."""

    deadline: OrderDeadline
    order: Order
    level: AlertLevel
    alert: Alert | None


def open_stages(
    session: Session,
    *,
    viewer: Viewer,
    bounds: LevelBounds,
    level: AlertLevel | None = None,
    stage: Stage | None = None,
    street: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[StageAlert], int]:
    """A page of the viewer's open stages at a level (the most overdue first) and how many there are."""
    conditions = _open_stages(bounds, stage)
    if level is not None:
        conditions.append(level_condition(col(OrderDeadline.due_at), bounds, level))
    query = _narrowed(select(OrderDeadline, Order).where(*conditions), viewer, street, None, join=True)
    rows = session.exec(
        query.order_by(col(OrderDeadline.due_at), col(OrderDeadline.id)).limit(limit).offset(offset)
    ).all()
    ids = [d.id for d, _ in rows]
    alerts = (
        {a.deadline_id: a for a in session.exec(select(Alert).where(col(Alert.deadline_id).in_(ids))).all()}
        if ids
        else {}
    )
    lines = [StageAlert(d, o, bounds.level_of(d.due_at) or AlertLevel.BLUE, alerts.get(d.id)) for d, o in rows]
    counts = live_counts(session, viewer=viewer, bounds=bounds, street=street, stage=stage)
    total = counts.stages[level] if level is not None else sum(counts.stages.values())
    return lines, total


def overdue_stages_by_street(session: Session, *, bounds: LevelBounds) -> dict[str, list[tuple[OrderDeadline, Order]]]:
    """Every overdue open stage with its order, per street (the digests'), the longest overdue first."""
    query = select(OrderDeadline, Order).join(Order, col(Order.id) == col(OrderDeadline.order_id))
    query = query.where(*_open_stages(bounds), level_condition(col(OrderDeadline.due_at), bounds, AlertLevel.RED))
    result: dict[str, list[tuple[OrderDeadline, Order]]] = defaultdict(list)
    for deadline, order in session.exec(query.order_by(col(OrderDeadline.due_at), col(OrderDeadline.id))).all():
        result[order.street or NO_STREET].append((deadline, order))
    return dict(result)
