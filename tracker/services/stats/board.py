"""What the dashboard shows, as data: its filter (period, street, category), counts, rate sources, the trend."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlmodel import col

from tracker.domain.deadlines import local_day_bounds, to_local
from tracker.domain.errors import TrackerError
from tracker.domain.vocabulary import AlertLevel, Stage
from tracker.models import Order
from tracker.services.accounts import Viewer, scoped
from tracker.services.orders import LiveCounts
from tracker.services.stats.rates import RATE_METRICS, PeriodRates

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

    def current_args(self, **extra: str) -> dict[str, str]:
        """The order list's query arguments for a current count (no dispatch dates: counted as of now)."""
        return self._narrow(dict(extra))

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
    """Now (live, no date window): orders at this level (their most urgent open stage is), and open stages at it."""

    level: AlertLevel
    label: str
    orders: int
    stages: int
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
                "指标取自每晚计算的指标快照，"
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
    current: LiveCounts | None = None  # the live counts the levels and the overdue table come from
    current_url: str = ""  # the order list of the orders overdue now
    district_wide: bool = True  # a squad sees its own street: no comparison with streets it cannot act on
    figures: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def intake_total(self) -> int:
        """Orders dispatched in the period."""
        return sum(c.value for c in self.intake)

    @property
    def bases(self) -> list[tuple[str, str]]:
        """(rate, date basis) for every rate, as stated under the charts."""
        return [(m.label, m.basis) for m in RATE_METRICS]


def rate_list_args(filters: DashboardFilter, source: RateSource, basis: str, street: str | None) -> dict[str, str]:
    """The order list for a rate: the orders its date basis puts in the period (dispatch date where it has none)."""
    prefix = BASIS_FILTER.get(basis, "dispatched")
    args = {f"{prefix}_from": source.first.isoformat(), f"{prefix}_to": source.last.isoformat()}
    if street and street != "合计":
        args["street"] = street
    return filters._narrow(args)
