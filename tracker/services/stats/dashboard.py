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

from collections import defaultdict
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import Date, case, cast, func
from sqlmodel import Session, col, select

from tracker.domain.deadlines import ALERT_RANK
from tracker.domain.labels import ALERT_LABELS, NO_STREET, STAGE_LABELS, STATE_LABELS
from tracker.domain.vocabulary import AlertLevel, Stage, State
from tracker.models import Alert, Order
from tracker.services.accounts import Viewer
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
    session: Session, *, viewer: Viewer, filters: DashboardFilter, now: datetime, list_url: str = "/"
) -> Dashboard:
    """The dashboard of the viewer's orders narrowed by ``filters`` (links point at ``list_url``)."""
    filters.check()

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
    worst, anywhere, red = alert_counts(session, viewer=viewer, filters=filters)
    levels = [
        LevelCount(
            level,
            ALERT_LABELS[level],
            worst.get(level, 0),
            anywhere.get(level, 0),
            link(filters.list_args(level=level)),
        )
        for level in LEVELS
    ]
    overdue_stages = [s for s in Stage if any(stage == s for (_, stage) in red)]
    overdue: dict[str, dict[Stage, Count]] = {}
    for street in sorted({street for street, _ in red}):
        overdue[street] = {
            stage: Count(
                stage.value,
                STAGE_LABELS[stage],
                red.get((street, stage), 0),
                link(filters.list_args(street=street, level=AlertLevel.RED, stage=stage)),
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


def alert_counts(
    session: Session, *, viewer: Viewer, filters: DashboardFilter
) -> tuple[dict[AlertLevel, int], dict[AlertLevel, int], dict[tuple[str, Stage], int]]:
    """Open alerts of the orders dispatched in the period, counted in orders, in one pass.

    Returns orders per worst open level, orders with an open alert of each level, and orders
    with an open red (overdue) alert per (street, stage).
    """
    # per order, over the open alerts alone: which levels and which red stages it has, as bit sets
    # (a sum of distinct bits is their union); then one lookup of the order, not one per alert
    level_bits = {level: 1 << i for i, level in enumerate(LEVELS)}
    stage_bits = {stage: 1 << i for i, stage in enumerate(Stage)}
    rank = col(Alert.level_rank)
    level_bit = case(*[(rank == ALERT_RANK[level], bit) for level, bit in level_bits.items()], else_=0)
    stage_bit = case(*[(col(Alert.stage) == stage.value, bit) for stage, bit in stage_bits.items()], else_=0)
    red_bit = case((rank == ALERT_RANK[AlertLevel.RED], stage_bit), else_=0)
    per_order = (
        select(
            col(Alert.order_id).label("order_id"),
            func.sum(level_bit.distinct()).label("levels"),
            func.sum(red_bit.distinct()).label("red_stages"),
        )
        .where(col(Alert.resolved_at).is_(None))
        .group_by(col(Alert.order_id))
        .subquery()
    )
    street = func.coalesce(col(Order.street), NO_STREET)
    query = filters.where(
        select(street, per_order.c.levels, per_order.c.red_stages, func.count())
        .select_from(per_order)
        .join(Order, col(Order.id) == per_order.c.order_id),
        viewer,
    ).group_by(street, per_order.c.levels, per_order.c.red_stages)
    worst: dict[AlertLevel, int] = defaultdict(int)
    anywhere: dict[AlertLevel, int] = defaultdict(int)
    red: dict[tuple[str, Stage], int] = defaultdict(int)
    for name, levels, red_stages, count in session.exec(query).all():
        present = [level for level, bit in level_bits.items() if int(levels or 0) & bit]
        if present:  # LEVELS runs from red down: the first present is the worst
            worst[present[0]] += int(count)
        for level in present:
            anywhere[level] += int(count)
        for stage, bit in stage_bits.items():
            if int(red_stages or 0) & bit:
                red[(str(name), stage)] += int(count)
    return dict(worst), dict(anywhere), dict(red)


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
