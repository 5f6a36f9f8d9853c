"""The bureau's rates (domain.md section 5), per street and day, each with the date that counts.

A daily snapshot stores numerator and denominator, so any period is the sum of its days and
a rate is never averaged from rates. Satisfaction weights: 满意 1, 基本满意 0.8, 一般 0.6,
不满意 0; 未评价 is left out.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import case, func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from tracker.domain.deadlines import local_day_bounds
from tracker.domain.labels import NO_STREET
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


def rate_values(
    session: Session,
    *,
    start: datetime,
    end: datetime,
    restrict: Restrict | None = None,
    due_end: datetime | None = None,
) -> dict[tuple[str, str], list[float]]:
    """Numerator and denominator per (street, metric) for orders the period [start, end) puts in.

    ``restrict`` narrows every query over ``work_order`` (a viewer's scope, one street);
    ``due_end`` ends the deadline-based rates earlier (at now, for a period not yet over).
    """
    values: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    street = street_key()

    def narrow(query: Any) -> Any:
        return restrict(query) if restrict else query

    def add(metric: str, rows: Iterable[Any]) -> None:
        for name, numerator, denominator in rows:
            cell = values[(name, metric)]
            cell[0] += float(numerator or 0)
            cell[1] += float(denominator or 0)

    dispatched = (col(Order.dispatched_at) >= start) & (col(Order.dispatched_at) < end)
    add(
        "intake",
        session.exec(narrow(select(street, func.count(), func.count()).where(dispatched).group_by(street))).all(),
    )
    returned = func.sum(case((col(Order.return_count) > 0, 1), else_=0))
    add(
        "return_rate",
        session.exec(narrow(select(street, returned, func.count()).where(dispatched).group_by(street))).all(),
    )
    repeated = func.sum(case((col(Order.is_repeat), 1), else_=0))
    add(
        "repeat_rate",
        session.exec(narrow(select(street, repeated, func.count()).where(dispatched).group_by(street))).all(),
    )
    for metric, stages, counted in DEADLINE_METRICS:
        rows = session.exec(
            narrow(
                select(street, col(OrderDeadline.outcome), func.count())
                .join(Order, col(Order.id) == col(OrderDeadline.order_id))
                .where(deadline_counted(stages, start, due_end or end))
                .group_by(street, col(OrderDeadline.outcome))
            )
        ).all()
        add(metric, [(name, count if outcome in counted else 0, count) for name, outcome, count in rows])
    closed = (col(Order.closed_at) >= start) & (col(Order.closed_at) < end)
    for name, verdict, satisfaction, cycle, count in session.execute(
        narrow(
            sa_select(street, col(Order.verdict), col(Order.satisfaction), col(Order.cycle), func.count())
            .where(closed)
            .group_by(street, col(Order.verdict), col(Order.satisfaction), col(Order.cycle))
        )
    ).all():
        if verdict in ("实际解决", "解释说明"):
            add("resolved_rate", [(name, count if verdict == "实际解决" else 0, count)])
        if satisfaction in SATISFACTION_WEIGHTS:
            add("satisfaction_rate", [(name, SATISFACTION_WEIGHTS[satisfaction] * count, count)])
        add("redo_rate", [(name, count if cycle > 1 else 0, count)])
    return values


def snapshot_day(session: Session, *, day: date, now: datetime) -> list[MetricSnapshot]:
    """Compute every rate per street for ``day`` (Beijing date) and store it, replacing an earlier run."""
    start, end = local_day_bounds(day)
    values = rate_values(session, start=start, end=end)
    bases = {m.key: m.basis for m in METRICS}
    for stale in session.exec(select(MetricSnapshot).where(MetricSnapshot.day == day)).all():
        if (stale.street, stale.metric) not in values:  # e.g. an order's street was corrected since
            stale.numerator = stale.denominator = 0
    existing = {
        (s.street, s.metric): s for s in session.exec(select(MetricSnapshot).where(MetricSnapshot.day == day)).all()
    }
    stored = []
    for (name, metric), (numerator, denominator) in sorted(values.items()):
        row = existing.get((name, metric)) or MetricSnapshot(
            day=day, street=name, metric=metric, numerator=0, denominator=0, basis=bases[metric], computed_at=now
        )
        row.numerator, row.denominator, row.computed_at = numerator, denominator, now
        session.add(row)
        stored.append(row)
    session.flush()
    return stored
