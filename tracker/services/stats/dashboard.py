"""The bureau's dashboard (统计): orders by state and alert level, intake per day, overdue, the rates.

Every figure is aggregated in SQL over the viewer's orders (``scoped``), narrowed to a period of
Beijing dates, a street and a category. Orders enter the period by their dispatch date, except
in the rates, where each rate keeps its own date (domain.md section 5, stats.metrics).

The rates are never defined here: they are the nightly snapshot's (metric_snapshot, computed by
stats.metrics.rate_values, read by stats.snapshots), summed over the days of the period
when the snapshot covers them (per street, or per street and category when a category is
chosen); otherwise they are computed live with the same definitions (stats.rates.live_rates).
The page says which. Its data types are in ``stats.board``, its charts in ``stats.figures``.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import Date, cast, func
from sqlmodel import Session, col, select

from tracker.domain.labels import ALERT_LABELS, STAGE_LABELS, STATE_LABELS
from tracker.domain.overdue import LevelBounds
from tracker.domain.roles import is_district_wide
from tracker.domain.vocabulary import AlertLevel, Stage, State
from tracker.models import Order
from tracker.services.accounts import Viewer
from tracker.services.orders import bounds_at, live_counts, load_calendar, overdue_by_street_stage
from tracker.services.stats.board import (
    LEVELS,
    TREND_MONTHS,
    Count,
    Dashboard,
    DashboardFilter,
    LevelCount,
    RateSource,
    TrendPoint,
    rate_list_args,
)
from tracker.services.stats.figures import figures
from tracker.services.stats.rates import PeriodRates, live_rates, period_rates
from tracker.services.stats.snapshots import as_date, categories_snapshot_from, snapshot_last_day, snapshot_values


def build_dashboard(
    session: Session,
    *,
    viewer: Viewer,
    filters: DashboardFilter,
    now: datetime,
    list_url: str = "/",
    bounds: LevelBounds | None = None,
) -> Dashboard:
    """The dashboard of the viewer's orders narrowed by ``filters`` (links point at ``list_url``).

    The current levels and the overdue table are the live counts at ``bounds`` (default: ``now`` with the
    stored calendar and the default thresholds): ``orders.live_counts``, whatever the dispatch date; the
    period narrows only the intake, the states and the rates.
    """
    filters.check()
    bounds = bounds or bounds_at(now, load_calendar(session))

    def link(args: dict[str, str]) -> str:
        return f"{list_url}?{urlencode(args)}"

    per_day_state = day_state_counts(session, viewer=viewer, filters=filters)
    states = [
        Count(s.value, STATE_LABELS[s], sum(n for (_, st), n in per_day_state.items() if st == s.value), "")
        for s in State
    ]
    states = [replace(c, url=link(filters.list_args(state=c.key))) for c in states]
    days = [filters.first + timedelta(days=n) for n in range((filters.last - filters.first).days + 1)]
    intake = [
        Count(
            d.isoformat(),
            d.isoformat(),
            sum(n for (day, _), n in per_day_state.items() if day == d),
            link(filters.list_args(dispatched_from=d.isoformat(), dispatched_to=d.isoformat())),
        )
        for d in days
    ]
    current = live_counts(session, viewer=viewer, bounds=bounds, street=filters.street, category=filters.category)
    levels = [
        LevelCount(
            level,
            ALERT_LABELS[level],
            current.orders.get(level, 0),
            current.stages.get(level, 0),
            link(filters.current_args(level=level)),
        )
        for level in LEVELS
    ]
    red = overdue_by_street_stage(
        session, viewer=viewer, bounds=bounds, street=filters.street, category=filters.category
    )
    overdue_stages = [s for s in Stage if any(stage == s for (_, stage) in red)]
    overdue: dict[str, dict[Stage, Count]] = {}
    for street in sorted({street for street, _ in red}):
        overdue[street] = {
            stage: Count(
                stage.value,
                STAGE_LABELS[stage],
                red.get((street, stage), 0),
                link(filters.current_args(street=street, level=AlertLevel.RED, stage=stage)),
            )
            for stage in overdue_stages
        }
    rates, source = period_rates_for(session, viewer=viewer, filters=filters, now=now)
    trend, trend_source = rate_trend(session, viewer=viewer, filters=filters, now=now, source=source)
    links = {
        (row.street, rate.metric): link(rate_list_args(filters, source, rate.basis, row.street))
        for row in rates.streets
        for rate in row.rates
    }
    board = Dashboard(
        filters,
        states,
        levels,
        intake,
        overdue,
        overdue_stages,
        rates,
        source,
        links,
        trend,
        trend_source,
        link(filters.list_args()),
        current=current,
        current_url=link(filters.current_args(level=AlertLevel.RED)),
        district_wide=is_district_wide(viewer.role),
    )
    board.figures = figures(board, link)
    return board


# ---------------------------------------------------------------------------------------------
# counts over orders


def local_day(session: Session, column: Any) -> Any:
    """The Beijing calendar date of a stored UTC time, in SQL (SQLite and PostgreSQL)."""
    if session.get_bind().dialect.name == "sqlite":
        # stored as 'YYYY-MM-DD HH:MM:SS.ffffff'; cut the fraction, which SQLite would round up to the next day
        return func.date(func.substr(column, 1, 19), "+8 hours")
    return cast(func.timezone("Asia/Shanghai", column), Date)


def day_state_counts(session: Session, *, viewer: Viewer, filters: DashboardFilter) -> dict[tuple[date, str], int]:
    """Orders dispatched in the period per (Beijing dispatch date, current state)."""
    day = local_day(session, col(Order.dispatched_at))
    query = filters.where(select(day, col(Order.state), func.count()), viewer)
    # every state, spelled out: lets an index on (state, dispatched_at) answer without reading rows
    query = query.where(col(Order.state).in_([s.value for s in State])).group_by(day, col(Order.state))
    counts: dict[tuple[date, str], int] = {}
    for value, state, count in session.exec(query).all():
        counts[(as_date(value), str(state))] = int(count)
    return counts


# ---------------------------------------------------------------------------------------------
# rates


def period_rates_for(
    session: Session, *, viewer: Viewer, filters: DashboardFilter, now: datetime
) -> tuple[PeriodRates, RateSource]:
    """The period's rates per street: from the snapshot when it covers the period, else live.

    The snapshot counts as covering when it has any day of the period (days not yet computed,
    like today, are left out and the page says so). With a category, its per-category rows must
    also reach back to the period's first day (see :func:`categories_snapshot_from`).
    """
    covered = snapshot_last_day(session, first=filters.first, last=filters.last)
    complete_from = categories_snapshot_from(session) if covered is not None and filters.category else None
    if complete_from is not None and complete_from > filters.first:
        covered = None
    if covered is not None:
        values = snapshot_values(
            session,
            viewer=viewer,
            first=filters.first,
            last=covered,
            street=filters.street,
            category=filters.category,
        )
        result = period_rates(
            session, viewer=viewer, first=filters.first, last=covered, values=values, street=filters.street
        )
        return result, RateSource("snapshot", filters.first, covered, complete_from)
    result = live_rates(
        session,
        viewer=viewer,
        first=filters.first,
        last=filters.last,
        now=now,
        street=filters.street,
        category=filters.category,
    )
    return result, RateSource("live", filters.first, filters.last)


def _months(first: date, last: date) -> list[tuple[date, date]]:
    """Calendar months from the one holding ``first`` to the one holding ``last``, clipped to [first, last]."""
    months = []
    start = first.replace(day=1)
    while start <= last:
        following = (start + timedelta(days=32)).replace(day=1)
        months.append((max(start, first), min(following - timedelta(days=1), last)))
        start = following
    return months


def rate_trend(
    session: Session, *, viewer: Viewer, filters: DashboardFilter, now: datetime, source: RateSource
) -> tuple[list[TrendPoint], RateSource]:
    """The rates month by month: 12 months from the snapshot, or live for the months of the period."""
    if source.kind == "snapshot":
        last = source.last
        first = (last.replace(day=1) - timedelta(days=366)).replace(day=1)
        while (last.year - first.year) * 12 + last.month - first.month >= TREND_MONTHS:
            first = (first + timedelta(days=32)).replace(day=1)
        if source.categories_from is not None:  # from the first day stored per category (its month may be partial)
            first = max(first, source.categories_from)
        points = []
        for start, end in _months(first, last):  # one indexed range per month: a dozen small sums
            values = snapshot_values(
                session, viewer=viewer, first=start, last=end, street=filters.street, category=filters.category
            )
            rates = period_rates(session, viewer=viewer, first=start, last=end, values=values, street=filters.street)
            points.append(TrendPoint(start.strftime("%Y-%m"), start, end, rates))
        return points, RateSource("snapshot", first, last)
    points = [
        TrendPoint(
            start.strftime("%Y-%m"),
            start,
            end,
            live_rates(
                session,
                viewer=viewer,
                first=start,
                last=end,
                now=now,
                street=filters.street,
                category=filters.category,
            ),
        )
        for start, end in _months(filters.first, filters.last)
    ]
    return points, RateSource("live", filters.first, filters.last)
