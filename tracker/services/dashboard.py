"""The bureau's dashboard (统计): orders by state and alert level, intake per day, overdue, the rates.

Every figure is aggregated in SQL over the viewer's orders (``scoped``), narrowed to a period of
Beijing dates, a street and a category. Orders enter the period by their dispatch date, except
in the rates, where each rate keeps its own date (domain.md section 5, services.metrics).

The rates are never defined here: they are the nightly snapshot's (metric_snapshot, computed by
services.metrics.rate_values, read by services.snapshots), summed over the days of the period
when the snapshot covers them (per street, or per street and category when a category is
chosen); otherwise they are computed live with the same definitions (services.rates.live_rates).
The page says which.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import plotly.graph_objects as go
from sqlalchemy import Date, case, cast, func
from sqlmodel import Session, col, select

from tracker.domain.deadlines import ALERT_RANK, local_day_bounds, to_local
from tracker.domain.errors import TrackerError
from tracker.domain.labels import ALERT_LABELS, NO_STREET, STAGE_LABELS, STATE_LABELS
from tracker.domain.vocabulary import AlertLevel, Stage, State
from tracker.models import Alert, Order
from tracker.services.access import scoped
from tracker.services.rates import RATE_METRICS, PeriodRates, live_rates, period_rates
from tracker.services.snapshots import as_date, categories_snapshot_from, snapshot_last_day, snapshot_values
from tracker.services.users import Viewer

DEFAULT_DAYS = 30
MAX_DAYS = 366
TREND_MONTHS = 12
LEVELS = (AlertLevel.RED, AlertLevel.YELLOW, AlertLevel.BLUE)
LEVEL_COLOURS = {AlertLevel.RED: "#c0392b", AlertLevel.YELLOW: "#e0a800", AlertLevel.BLUE: "#2f6fb0"}
BASIS_FILTER = {  # which order-list date filter finds the orders a rate's date basis puts in a period
    "派单日期": "dispatched",
    "办结日期": "closed",
}
DISPATCH_BASIS = "派单日期"


class DashboardError(TrackerError):
    """A filter the dashboard cannot use (a period that ends before it starts, or too long)."""


@dataclass(frozen=True)
class DashboardFilter:
    """Period (Beijing dates, both included), street and category the dashboard is narrowed to."""

    first: date
    last: date
    street: str | None = None
    category: str | None = None

    def check(self) -> None:
        """Refuse a period that ends before it starts or is longer than MAX_DAYS."""
        if self.last < self.first:
            raise DashboardError(f"统计期间“至”的值「{self.last.isoformat()}」早于“自”的值「{self.first.isoformat()}」")
        if (self.last - self.first).days + 1 > MAX_DAYS:
            raise DashboardError(
                f"统计期间「{self.first.isoformat()} 至 {self.last.isoformat()}」超过 {MAX_DAYS} 天，请缩短"
            )

    def where(self, query: Any, viewer: Viewer) -> Any:
        """Narrow a query over ``work_order`` to the viewer's orders dispatched in the period."""
        start, end = local_day_bounds(self.first)[0], local_day_bounds(self.last)[1]
        query = scoped(query, viewer).where(col(Order.dispatched_at) >= start, col(Order.dispatched_at) < end)
        if self.street:
            query = query.where(Order.street == self.street)
        if self.category:
            query = query.where(Order.category == self.category)
        return query

    def list_args(self, **extra: str) -> dict[str, str]:
        """The order list's query arguments for the orders behind a number (dispatched in the period)."""
        args = {"dispatched_from": self.first.isoformat(), "dispatched_to": self.last.isoformat()}
        return self._narrow({**args, **extra})

    def _narrow(self, args: dict[str, str]) -> dict[str, str]:
        if self.street and "street" not in args:
            args["street"] = self.street
        if self.category:
            args["category"] = self.category
        return args


def default_filter(now: datetime) -> DashboardFilter:
    """The last 30 days up to today (Beijing), every street in scope, every category."""
    today = to_local(now).date()
    return DashboardFilter(first=today - timedelta(days=DEFAULT_DAYS - 1), last=today)


@dataclass(frozen=True)
class Count:
    """One number of the dashboard, what it counts, and the order list that shows those orders."""

    key: str
    label: str
    value: int
    url: str


@dataclass(frozen=True)
class LevelCount:
    """Orders whose worst open alert is this level, and orders with any open alert of this level."""

    level: AlertLevel
    label: str
    worst: int
    any: int
    url: str


@dataclass(frozen=True)
class RateSource:
    """Where the rates came from: the nightly snapshot (days up to ``last``) or live computation."""

    kind: str  # "snapshot" or "live"
    first: date
    last: date
    categories_from: date | None = None  # the first day stored per category, when later than the street rows

    @property
    def text(self) -> str:
        """The sentence under the rate charts."""
        if self.kind == "snapshot":
            return (
                "指标取自每晚计算的指标快照（metric_snapshot，定时任务 metrics），"
                f"为 {self.first.isoformat()} 至 {self.last.isoformat()} 各日分子、分母之和；"
                "快照尚未覆盖的日期（如今天）不含在内。"
            )
        return (
            f"指标为实时计算（与每晚指标快照同一定义），统计 {self.first.isoformat()} 至 {self.last.isoformat()}。"
            "所选期间尚无指标快照（选择问题分类时，按分类的快照须覆盖期间首日）时实时计算。"
        )


@dataclass(frozen=True)
class TrendPoint:
    """The rates of one month (or the part of it inside the period)."""

    label: str
    first: date
    last: date
    rates: PeriodRates

    @property
    def partial(self) -> bool:
        """Only part of the month (the period starts or ends inside it)."""
        return self.first.day != 1 or (self.last + timedelta(days=1)).day != 1


@dataclass
class Dashboard:
    """Everything the dashboard shows: numbers with their drill-down URLs, and the figures."""

    filters: DashboardFilter
    states: list[Count]
    levels: list[LevelCount]
    intake: list[Count]
    overdue: dict[str, dict[Stage, Count]]
    overdue_stages: list[Stage]
    rates: PeriodRates
    rate_source: RateSource
    rate_links: dict[tuple[str, str], str]
    trend: list[TrendPoint]
    trend_source: RateSource
    total_url: str = ""
    figures: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def intake_total(self) -> int:
        """Orders dispatched in the period."""
        return sum(c.value for c in self.intake)

    @property
    def bases(self) -> list[tuple[str, str]]:
        """(rate, date basis) for every rate, as stated under the charts."""
        return [(m.label, m.basis) for m in RATE_METRICS]


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


def rate_list_args(filters: DashboardFilter, source: RateSource, basis: str, street: str | None) -> dict[str, str]:
    """The order list for a rate: the orders its date basis puts in the period (dispatch date where it has none)."""
    prefix = BASIS_FILTER.get(basis, "dispatched")
    args = {f"{prefix}_from": source.first.isoformat(), f"{prefix}_to": source.last.isoformat()}
    if street and street != "合计":
        args["street"] = street
    return filters._narrow(args)


# ---------------------------------------------------------------------------------------------
# figures (plotly, Chinese labels; customdata holds the drill-down URL of each point)


def _layout(title: str, **extra: Any) -> dict[str, Any]:
    return {
        "title": {"text": title},
        "margin": {"l": 50, "r": 20, "t": 50, "b": 60},
        "legend": {"orientation": "h"},
        "template": "none",  # plotly.js's own look; the default template would add 7 kB to every figure
        **extra,
    }


def _percent(value: float | None) -> float | None:
    return round(value * 100, 2) if value is not None else None


def figures(board: Dashboard, link: Any) -> dict[str, dict[str, Any]]:
    """One plotly figure (as JSON-ready dict) per chart."""
    f = board.filters
    states = go.Figure(
        go.Bar(
            x=[c.label for c in board.states],
            y=[c.value for c in board.states],
            customdata=[c.url for c in board.states],
            hovertemplate="%{x}：%{y} 件<extra></extra>",
        ),
        layout=_layout("期间内派单工单的当前状态", yaxis={"title": {"text": "工单数"}}),
    )
    levels = go.Figure(
        go.Bar(
            x=[c.label for c in board.levels],
            y=[c.worst for c in board.levels],
            customdata=[c.url for c in board.levels],
            marker={"color": [LEVEL_COLOURS[c.level] for c in board.levels]},
            hovertemplate="%{x}：%{y} 件<extra></extra>",
        ),
        layout=_layout("按最高未解除预警级别的工单数", yaxis={"title": {"text": "工单数"}}),
    )
    intake = go.Figure(
        go.Bar(
            x=[c.key for c in board.intake],
            y=[c.value for c in board.intake],
            customdata=[c.url for c in board.intake],
            hovertemplate="%{x}：%{y} 件<extra></extra>",
        ),
        layout=_layout(
            "每日受理量（按派单日期）", xaxis={"title": {"text": "派单日期"}}, yaxis={"title": {"text": "工单数"}}
        ),
    )
    overdue = go.Figure(
        [
            go.Bar(
                name=STAGE_LABELS[stage],
                x=list(board.overdue),
                y=[cells[stage].value for cells in board.overdue.values()],
                customdata=[cells[stage].url for cells in board.overdue.values()],
                hovertemplate="%{x} " + STAGE_LABELS[stage] + "：%{y} 件<extra></extra>",
            )
            for stage in board.overdue_stages
        ],
        layout=_layout("超期工单（红色预警）按街镇、阶段", barmode="stack", yaxis={"title": {"text": "工单数"}}),
    )
    rows = board.rates.streets
    rates = go.Figure(
        [
            go.Bar(
                name=metric.label,
                x=[row.street for row in rows],
                y=[_percent(row.rates[i].rate) for row in rows],
                customdata=[board.rate_links[(row.street, metric.key)] for row in rows],
                hovertemplate="%{x} " + metric.label + "：%{y}%<extra></extra>",
            )
            for i, metric in enumerate(RATE_METRICS)
        ],
        layout=_layout("各街镇指标（%）", barmode="group", yaxis={"title": {"text": "%"}, "range": [0, 105]}),
    )
    trend = go.Figure(
        [
            go.Scatter(
                name=metric.label,
                mode="lines+markers",
                x=[p.label for p in board.trend],
                y=[_percent(p.rates.total.rates[i].rate) for p in board.trend],
                customdata=[
                    link(rate_list_args(f, RateSource("live", p.first, p.last), metric.basis, f.street))
                    for p in board.trend
                ],
                hovertemplate="%{x} " + metric.label + "：%{y}%<extra></extra>",
            )
            for i, metric in enumerate(RATE_METRICS)
        ],
        layout=_layout("指标逐月变化（%）", yaxis={"title": {"text": "%"}, "range": [0, 105]}),
    )
    built = {"states": states, "levels": levels, "intake": intake, "overdue": overdue, "rates": rates, "trend": trend}
    return {key: figure.to_plotly_json() for key, figure in built.items()}
