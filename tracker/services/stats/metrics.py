"""The bureau's rates (domain.md section 5), per street and day, each with the date that counts.

A daily snapshot stores numerator and denominator, so any period is the sum of its days and
a rate is never averaged from rates. Satisfaction weights: 满意 1, 基本满意 0.8, 一般 0.6,
不满意 0; 未评价 is left out.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import case, func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from tracker.domain.deadlines import local_day_bounds
from tracker.domain.labels import NO_CATEGORY, NO_STREET
from tracker.models import MetricSnapshot, Order, OrderDeadline

SATISFACTION_WEIGHTS = {"满意": 1.0, "基本满意": 0.8, "一般": 0.6, "不满意": 0.0}


@dataclass(frozen=True)
class Metric:
    """A rate's name as people read it, and the date that puts an order into the day."""

    key: str
    label: str
    basis: str


METRICS = (
    Metric("intake", "受理量", "派单日期"),
    Metric("contact_rate", "先行联系率", "先行联系期限日期"),
    Metric("contact_timely_rate", "先行联系及时率", "先行联系期限日期"),
    Metric("ontime_rate", "按时办结率", "办结期限日期（含批准延期）"),
    Metric("resolved_rate", "实际解决率", "办结日期"),
    Metric("satisfaction_rate", "满意率", "办结日期"),
    Metric("return_rate", "退单率", "派单日期"),
    Metric("redo_rate", "重办率", "办结日期"),
    Metric("repeat_rate", "重复率", "派单日期"),
)


# Deadline-based rates: which stages count, and which outcomes count as done (open or missed do not).
DEADLINE_METRICS: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("contact_rate", ("first_contact",), ("met", "late")),
    ("contact_timely_rate", ("first_contact",), ("met",)),
    ("ontime_rate", ("closure", "redo"), ("met",)),
)

Restrict = Callable[[Any], Any]
ALL_CATEGORIES = ""  # metric_snapshot.category of a street's rate over every category


def street_key() -> Any:
    """The street an order counts for (blank streets under one name)."""
    return func.coalesce(Order.street, NO_STREET)


def deadline_counted(stages: tuple[str, ...], start: datetime, end: datetime) -> Any:
    """The stage deadlines a deadline-based rate counts: due in [start, end), not cancelled."""
    return (
        (col(OrderDeadline.due_at) >= start)
        & (col(OrderDeadline.due_at) < end)
        & col(OrderDeadline.stage).in_(stages)
        & col(OrderDeadline.outcome).is_distinct_from("cancelled")
    )


def category_key() -> Any:
    """The category an order counts for (blank categories under one name)."""
    return func.coalesce(Order.category, NO_CATEGORY)


def rate_values(
    session: Session,
    *,
    start: datetime,
    end: datetime,
    restrict: Restrict | None = None,
    due_end: datetime | None = None,
    by_category: bool = False,
) -> dict[tuple[str, str, str], list[float]]:
    """Numerator and denominator per (street, category, metric) for orders the period [start, end) puts in.

    The category is ``ALL_CATEGORIES`` (blank) unless ``by_category``, which splits every street's
    numbers by the orders' categories. ``restrict`` narrows every query over ``work_order`` (a
    viewer's scope, one street, one category); ``due_end`` ends the deadline-based rates earlier (at
    now, for a period not yet over).
    """
    values: dict[tuple[str, str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    groups = (street_key(), category_key()) if by_category else (street_key(),)

    def narrow(query: Any) -> Any:
        return restrict(query) if restrict else query

    def key(row: Any) -> tuple[str, str]:
        return (row[0], row[1]) if by_category else (row[0], ALL_CATEGORIES)

    def add(metric: str, where: tuple[str, str], numerator: float, denominator: float) -> None:
        cell = values[(*where, metric)]
        cell[0] += float(numerator or 0)
        cell[1] += float(denominator or 0)

    width = len(groups)
    dispatched = (col(Order.dispatched_at) >= start) & (col(Order.dispatched_at) < end)
    returned = func.sum(case((col(Order.return_count) > 0, 1), else_=0))
    repeated = func.sum(case((col(Order.is_repeat), 1), else_=0))
    for row in session.execute(
        narrow(sa_select(*groups, func.count(), returned, repeated).where(dispatched).group_by(*groups))
    ).all():
        count, returns, repeats = row[width:]
        add("intake", key(row), count, count)
        add("return_rate", key(row), returns, count)
        add("repeat_rate", key(row), repeats, count)
    for metric, stages, counted in DEADLINE_METRICS:
        rows = session.execute(
            narrow(
                sa_select(*groups, col(OrderDeadline.outcome), func.count())
                .join(Order, col(Order.id) == col(OrderDeadline.order_id))
                .where(deadline_counted(stages, start, due_end or end))
                .group_by(*groups, col(OrderDeadline.outcome))
            )
        ).all()
        for row in rows:
            outcome, count = row[width:]
            add(metric, key(row), count if outcome in counted else 0, count)
    closed = (col(Order.closed_at) >= start) & (col(Order.closed_at) < end)
    for row in session.execute(
        narrow(
            sa_select(*groups, col(Order.verdict), col(Order.satisfaction), col(Order.cycle), func.count())
            .where(closed)
            .group_by(*groups, col(Order.verdict), col(Order.satisfaction), col(Order.cycle))
        )
    ).all():
        verdict, satisfaction, cycle, count = row[width:]
        if verdict in ("实际解决", "解释说明"):
            add("resolved_rate", key(row), count if verdict == "实际解决" else 0, count)
        if satisfaction in SATISFACTION_WEIGHTS:
            add("satisfaction_rate", key(row), SATISFACTION_WEIGHTS[satisfaction] * count, count)
        add("redo_rate", key(row), count if cycle > 1 else 0, count)
    return values


def by_street(values: dict[tuple[str, str, str], list[float]]) -> dict[tuple[str, str], list[float]]:
    """Numerator and denominator per (street, metric): the categories of each street summed."""
    summed: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for (name, _category, metric), (numerator, denominator) in values.items():
        cell = summed[(name, metric)]
        cell[0] += numerator
        cell[1] += denominator
    return dict(summed)


def snapshot_day(session: Session, *, day: date, now: datetime) -> list[MetricSnapshot]:
    """Compute every rate per street and per street and category for ``day`` (Beijing date) and store it.

    A street's all-category row (category blank) is the sum of its category rows, so the two views
    always agree. Rows of an earlier run that this one does not produce (e.g. an order's street or
    category was corrected since) are set to zero rather than left stale.
    """
    start, end = local_day_bounds(day)
    values = dict(rate_values(session, start=start, end=end, by_category=True))
    values |= {(name, ALL_CATEGORIES, metric): cell for (name, metric), cell in by_street(values).items()}
    bases = {m.key: m.basis for m in METRICS}
    existing = {
        (s.street, s.category, s.metric): s
        for s in session.exec(select(MetricSnapshot).where(MetricSnapshot.day == day)).all()
    }
    for where, stale in existing.items():
        if where not in values:
            stale.numerator = stale.denominator = 0
            stale.computed_at = now
            session.add(stale)
    stored = []
    for (name, category, metric), (numerator, denominator) in sorted(values.items()):
        row = existing.get((name, category, metric)) or MetricSnapshot(
            day=day,
            street=name,
            category=category,
            metric=metric,
            numerator=0,
            denominator=0,
            basis=bases[metric],
            computed_at=now,
        )
        row.numerator, row.denominator, row.computed_at = numerator, denominator, now
        session.add(row)
        stored.append(row)
    session.flush()
    return stored
