"""The bureau's rates (domain.md section 5) for any period, live, per street within a viewer's scope.

The definitions are the nightly snapshot's (services.metrics.rate_values), applied to the
viewer's orders over a period of Beijing dates, both ends included. Deadline-based rates
count only deadlines that have already fallen when the period is not over yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from tracker.domain.deadlines import local_day_bounds
from tracker.domain.errors import TrackerError
from tracker.models import Order, OrderDeadline
from tracker.services.accounts import Viewer, scoped, street_choices
from tracker.services.orders import street_choices_all
from tracker.services.stats.metrics import METRICS, by_street, deadline_counted, rate_values, street_key

RATE_METRICS = tuple(m for m in METRICS if m.key != "intake")  # 受理量 is a count, reported beside the rates
CONTACT_METRICS = frozenset({"contact_rate", "contact_timely_rate"})
MAX_PERIOD_DAYS = 3660


class PeriodError(TrackerError):
    """A period that cannot be computed (ends before it starts, or too long)."""


@dataclass(frozen=True)
class Rate:
    """One rate of one street: numerator, denominator, and the date that put orders into the period."""

    metric: str
    label: str
    numerator: float
    denominator: float
    basis: str
    without_phone: int | None = None  # contact rates: orders in the denominator without a phone number

    @property
    def rate(self) -> float | None:
        """numerator ÷ denominator, or None when nothing was due."""
        return round(self.numerator / self.denominator, 4) if self.denominator else None


@dataclass(frozen=True)
class StreetRates:
    """Every rate of one street (or of the whole scope) for the period."""

    street: str
    intake: int
    rates: list[Rate]


@dataclass(frozen=True)
class PeriodRates:
    """The rates of a period: per street, and summed over the streets shown."""

    first: date
    last: date
    streets: list[StreetRates]
    total: StreetRates


def live_rates(
    session: Session,
    *,
    viewer: Viewer,
    first: date,
    last: date,
    now: datetime,
    street: str | None = None,
    category: str | None = None,
) -> PeriodRates:
    """The rates of the viewer's orders from ``first`` to ``last`` (Beijing dates, both included), per street."""
    if last < first:
        raise PeriodError(f"统计期间的结束日期 {last.isoformat()} 早于开始日期 {first.isoformat()}")
    if (last - first).days >= MAX_PERIOD_DAYS:
        raise PeriodError(f"统计期间 {first.isoformat()} 至 {last.isoformat()} 超过 {MAX_PERIOD_DAYS} 天")
    start, end = local_day_bounds(first)[0], local_day_bounds(last)[1]

    def restrict(query: Any) -> Any:
        query = scoped(query, viewer)
        query = query.where(Order.street == street) if street else query
        return query.where(Order.category == category) if category else query

    due_end = min(end, now)
    values = by_street(rate_values(session, start=start, end=end, restrict=restrict, due_end=due_end))
    no_phone = _without_phone(session, start=start, end=due_end, restrict=restrict)
    return period_rates(session, viewer=viewer, first=first, last=last, values=values, street=street, no_phone=no_phone)


def period_rates(
    session: Session,
    *,
    viewer: Viewer,
    first: date,
    last: date,
    values: dict[tuple[str, str], list[float]],
    street: str | None = None,
    no_phone: dict[str, int] | None = None,
) -> PeriodRates:
    """Rates per street (the viewer's streets, then any other street in ``values``) from summed numerators."""
    names = [s for s in street_choices(viewer, street_choices_all(session)) if not street or s == street]
    names += sorted({name for name, _ in values} - set(names))
    rows = [_street_rates(name, values, no_phone.get(name, 0) if no_phone is not None else None) for name in names]
    return PeriodRates(first, last, rows, _total(rows))


def _street_rates(name: str, values: dict[tuple[str, str], list[float]], without_phone: int | None) -> StreetRates:
    rates = []
    for metric in RATE_METRICS:
        numerator, denominator = values.get((name, metric.key), (0.0, 0.0))
        extra = without_phone if metric.key in CONTACT_METRICS else None
        rates.append(Rate(metric.key, metric.label, numerator, denominator, metric.basis, extra))
    return StreetRates(name, int(values.get((name, "intake"), (0.0, 0.0))[1]), rates)


def _total(rows: list[StreetRates]) -> StreetRates:
    rates = []
    for i, metric in enumerate(RATE_METRICS):
        cells = [row.rates[i] for row in rows]
        known = metric.key in CONTACT_METRICS and all(c.without_phone is not None for c in cells)
        extra = sum(c.without_phone or 0 for c in cells) if known else None
        numerator = sum((c.numerator for c in cells), 0.0)
        rates.append(
            Rate(metric.key, metric.label, numerator, sum((c.denominator for c in cells), 0.0), metric.basis, extra)
        )
    return StreetRates("合计", sum(row.intake for row in rows), rates)


def _without_phone(session: Session, *, start: datetime, end: datetime, restrict: Any) -> dict[str, int]:
    """Per street: the first-contact deadlines the contact rates count whose order has no phone number."""
    street = street_key()
    no_phone = or_(col(Order.phone).is_(None), col(Order.phone) == "")
    query = (
        select(street, func.count())
        .select_from(OrderDeadline)
        .join(Order, col(Order.id) == col(OrderDeadline.order_id))
        .where(deadline_counted(("first_contact",), start, end), no_phone)
        .group_by(street)
    )
    return {name: int(count) for name, count in session.exec(restrict(query)).all()}
