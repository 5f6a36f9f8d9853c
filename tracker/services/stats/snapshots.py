"""Reading the nightly metric snapshot (metric_snapshot): which days it covers, and its sums in a viewer's scope.

The rows are written by services.metrics.snapshot_day (the nightly ``metrics`` job and the
``snapshot-metrics`` command): per street (category blank) and per street and category.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import false, func
from sqlmodel import Session, col, select

from tracker.domain.roles import is_district_wide
from tracker.models import MetricSnapshot
from tracker.services.accounts import Viewer
from tracker.services.stats.metrics import ALL_CATEGORIES


def as_date(value: Any) -> date:
    """A date as the driver returns it (a date, or ISO text on SQLite)."""
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _snapshot_scope(query: Any, viewer: Viewer, street: str | None) -> Any:
    """Narrow a query over metric_snapshot to the viewer's streets (it has no work_order to scope)."""
    if not is_district_wide(viewer.role):
        query = query.where(MetricSnapshot.street == viewer.street) if viewer.street else query.where(false())
    return query.where(MetricSnapshot.street == street) if street else query


def snapshot_last_day(session: Session, *, first: date, last: date) -> date | None:
    """The last day from ``first`` to ``last`` the nightly snapshot has computed (None when none).

    A day without orders has no rows, so the snapshot is taken as running without gaps from its
    first day (the nightly job recomputes the last 31 days; ``snapshot-metrics`` fills older ones).
    """
    found = session.exec(
        select(func.max(MetricSnapshot.day)).where(
            MetricSnapshot.category == ALL_CATEGORIES, col(MetricSnapshot.day) >= first, col(MetricSnapshot.day) <= last
        )
    ).one()
    return as_date(found) if found is not None else None


def categories_snapshot_from(session: Session) -> date | None:
    """The first day stored per category, when the snapshot's street rows begin earlier (else None).

    Days snapshotted before the snapshot had categories (migration 7b3e9f1c2d4a) hold street rows
    only; a category view must not read them as zero. Every order counts under some category
    (blank ones under NO_CATEGORY), so once backfilled both kinds of row begin on the same day.
    """
    low_all = session.exec(select(func.min(MetricSnapshot.day)).where(MetricSnapshot.category == ALL_CATEGORIES)).one()
    first_by_category = (  # walks the day index from the start to the first category row
        select(col(MetricSnapshot.day))
        .where(MetricSnapshot.category != ALL_CATEGORIES)
        .order_by(col(MetricSnapshot.day))
    )
    low_category = session.exec(first_by_category.limit(1)).first()
    if low_all is None or low_category is None:
        return None if low_all is None else date.max
    low_all, low_category = as_date(low_all), as_date(low_category)
    return low_category if low_category > low_all else None


def snapshot_values(
    session: Session, *, viewer: Viewer, first: date, last: date, street: str | None, category: str | None = None
) -> dict[tuple[str, str], list[float]]:
    """Numerator and denominator per (street, metric), summed over the snapshot's days from first to last.

    Without a category, the streets' all-category rows; with one, that category's rows.
    """
    query = _snapshot_scope(
        select(
            MetricSnapshot.street,
            MetricSnapshot.metric,
            func.sum(MetricSnapshot.numerator),
            func.sum(MetricSnapshot.denominator),
        ).where(
            MetricSnapshot.category == (category or ALL_CATEGORIES),
            col(MetricSnapshot.day) >= first,
            col(MetricSnapshot.day) <= last,
        ),
        viewer,
        street,
    ).group_by(MetricSnapshot.street, MetricSnapshot.metric)
    return {(name, metric): [float(n or 0), float(d or 0)] for name, metric, n, d in session.exec(query).all()}
