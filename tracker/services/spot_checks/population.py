"""The population of a spot check: its definition (closure period, streets, categories, sources, states),
the choices offered, its orders loaded with only the columns a draw needs, strata, and its digest."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from tracker.domain.deadlines import local_day_bounds, to_local
from tracker.domain.errors import TrackerError
from tracker.domain.labels import NO_CATEGORY, NO_STREET, STATE_LABELS
from tracker.domain.sampling import (
    ALL,
    RISK_REASON_LABELS,
    OrderFacts,
    RiskReason,
    SamplingPlan,
    StratifyBy,
)
from tracker.domain.vocabulary import State
from tracker.models import Order
from tracker.services.accounts import Viewer, scoped
from tracker.services.orders import all_streets, squad_name_for

RANDOM = "random"
MANUAL = "manual"
REASON_LABELS: Mapping[str, str] = {
    RANDOM: "随机抽取",
    MANUAL: "人工增加",
    **{reason.value: RISK_REASON_LABELS[reason] for reason in RiskReason},
}
EVENT_LABELS: Mapping[str, str] = {
    "drawn": "抽取样本",
    "added": "增加工单",
    "dropped": "移出工单",
    "reviewed": "评查",
    "redo_started": "发起重办",
}
DIGEST_METHOD = "sha256(总体工单 id 按升序排列、以换行符连接的文字)"
MAX_SAMPLE = 50_000  # one plan holds at most this many orders (a page and a review team's work)
REASON_MIN_CHARS = 2

ORDER = Order.__table__  # type: ignore[attr-defined]
DRAW_COLUMNS = (
    ORDER.c.id,
    ORDER.c.street,
    ORDER.c.category,
    ORDER.c.satisfaction,
    ORDER.c.return_count,
    ORDER.c.is_repeat,
    sa.type_coerce(ORDER.c.dispatched_at, sa.DateTime()).label("dispatched_at"),
    sa.type_coerce(ORDER.c.closed_at, sa.DateTime()).label("closed_at"),
)


class SpotCheckError(TrackerError):
    """A plan, an added or dropped order, a review or a redo was refused; the message names field and value."""


# ---------------------------------------------------------------------------- population


@dataclass(frozen=True)
class Population:
    """Which handled orders a plan samples: closure dates (Beijing days, both ends included) and optional lists.

    An empty list means "all"; ``states`` defaults to 已办结.
    """

    closed_from: date
    closed_to: date
    streets: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    states: tuple[str, ...] = (State.CLOSED.value,)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values (stored with the plan)."""
        return {
            "closed_from": self.closed_from.isoformat(),
            "closed_to": self.closed_to.isoformat(),
            "streets": list(self.streets),
            "categories": list(self.categories),
            "sources": list(self.sources),
            "states": list(self.states),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Population:
        """The population :meth:`to_dict` wrote."""
        return cls(
            closed_from=date.fromisoformat(data["closed_from"]),
            closed_to=date.fromisoformat(data["closed_to"]),
            streets=tuple(data.get("streets") or ()),
            categories=tuple(data.get("categories") or ()),
            sources=tuple(data.get("sources") or ()),
            states=tuple(data.get("states") or ()),
        )

    def describe(self) -> list[tuple[str, str]]:
        """The definition as (label, value) lines in Chinese."""
        states = "、".join(STATE_LABELS[State(s)] for s in self.states) if self.states else "全部"
        return [
            ("办结日期", f"{self.closed_from} 至 {self.closed_to}（北京时间，含首尾两日）"),
            ("街镇", "、".join(self.streets) or "全部"),
            ("问题分类", "、".join(self.categories) or "全部"),
            ("来源", "、".join(self.sources) or "全部"),
            ("状态", states),
        ]

    def where(self, query: Any) -> Any:
        """Restrict a select over ``work_order`` to this population."""
        start, end = local_day_bounds(self.closed_from)[0], local_day_bounds(self.closed_to)[1]
        query = query.where(ORDER.c.closed_at >= start, ORDER.c.closed_at < end)
        # ``state || ''``: almost every order is closed, so an index on state narrows nothing, but
        # SQLite without statistics prefers its equality over the closure range and then fetches
        # most of the table row by row (0.8 s instead of 0.5 s for 100,000 orders; far worse at 1M)
        for column, values in (
            (ORDER.c.street, self.streets),
            (ORDER.c.category, self.categories),
            (ORDER.c.source, self.sources),
            (ORDER.c.state.concat(""), self.states),
        ):
            if values:
                query = query.where(column.in_(values))
        return query

    def contains(self, order: Order) -> bool:
        """Whether ``order`` as it is now belongs to the population."""
        if order.closed_at is None:
            return False
        day = to_local(order.closed_at).date()
        return (
            self.closed_from <= day <= self.closed_to
            and (not self.streets or order.street in self.streets)
            and (not self.categories or order.category in self.categories)
            and (not self.sources or order.source in self.sources)
            and (not self.states or order.state in self.states)
        )


def default_population(now: datetime) -> Population:
    """Last calendar month's closures (Beijing time): the default plan samples per month (domain.md §6)."""
    first_of_month = to_local(now).date().replace(day=1)
    last_month_end = first_of_month - timedelta(days=1)
    return Population(last_month_end.replace(day=1), last_month_end)


@dataclass(frozen=True)
class PlanInput:
    """What a supervisor asks for: a name, the population, the sampling plan, and a seed (None: a fresh one)."""

    name: str
    population: Population
    plan: SamplingPlan
    seed: str | None = None


@dataclass(frozen=True)
class Choices:
    """The values a population may name: streets, categories, sources known to the tracker."""

    streets: list[str]
    categories: list[str]
    sources: list[str]


def population_choices(session: Session) -> Choices:
    """Streets (the street list and any street orders carry), categories and sources that orders carry."""
    return Choices(
        streets=_street_choices(session),
        categories=_distinct(session, ORDER.c.category),
        sources=_distinct(session, ORDER.c.source),
    )


def _street_choices(session: Session) -> list[str]:
    listed = [street.name for street in all_streets(session)]
    return listed + [s for s in _distinct(session, ORDER.c.street) if s not in listed]


def _distinct(session: Session, column: Any) -> list[str]:
    rows = session.execute(sa.select(column).where(column.is_not(None)).distinct().order_by(column)).scalars()
    return [value for value in rows if value]


def _options(session: Session, kind: str, choices: Choices | None) -> list[str]:
    if kind == "states":
        return [state.value for state in State]
    if choices is not None:
        options: list[str] = getattr(choices, kind)
        return options
    if kind == "streets":
        return _street_choices(session)
    return _distinct(session, ORDER.c.category if kind == "categories" else ORDER.c.source)


def check_population(session: Session, population: Population, choices: Choices | None = None) -> Population:
    """Refuse names the tracker does not know (a typo would silently give an empty population).

    The known values are looked up only for the lists the population names (each is a scan of the orders).
    """
    if population.closed_from > population.closed_to:
        raise SpotCheckError(f"办结日期自「{population.closed_from}」晚于办结日期至「{population.closed_to}」。")
    for label, values, kind in (
        ("街镇", population.streets, "streets"),
        ("问题分类", population.categories, "categories"),
        ("来源", population.sources, "sources"),
        ("状态", population.states, "states"),
    ):
        if not values:
            continue
        options = _options(session, kind, choices)
        for value in values:
            if value not in options:
                shown = "、".join(options[:20]) + ("……" if len(options) > 20 else "")
                raise SpotCheckError(f"{label}「{value}」不存在：可选 {shown or '（无）'}。")
    return population


def squad_names(session: Session) -> dict[str, str]:
    """Street → its squad's name, from the street list."""
    return {street.name: street.squad_name for street in all_streets(session)}


def stratum_of(
    stratify_by: StratifyBy | None, street: str | None, category: str | None, squads: Mapping[str, str]
) -> str:
    """The stratum an order falls in (blank streets and categories get a stratum of their own)."""
    if stratify_by is None:
        return ALL
    if stratify_by is StratifyBy.CATEGORY:
        return category or NO_CATEGORY
    if not street:
        return NO_STREET
    return street if stratify_by is StratifyBy.STREET else squads.get(street) or squad_name_for(street)


def load_population(
    session: Session,
    *,
    viewer: Viewer,
    population: Population,
    stratify_by: StratifyBy | None,
    times: bool = True,
) -> list[OrderFacts]:
    """The population's orders in the viewer's scope: id, stratum and the risk facts, by one Core select.

    ``times`` loads dispatch and closure times, which only the "closed fast" criterion reads; without
    them a draw reads six short columns per order. Times come back as the driver gives them (naive
    UTC on SQLite, aware on PostgreSQL), without the per-value conversion of the ORM column type: the
    draw only subtracts them from each other.
    """
    squads = squad_names(session)
    columns = DRAW_COLUMNS if times else DRAW_COLUMNS[:6]
    query = scoped(population.where(sa.select(*columns)), viewer)  # in no order: the draw ranks by hash
    by_category = stratify_by is StratifyBy.CATEGORY
    strata = _Strata(lambda value: stratum_of(stratify_by, None if by_category else value, value, squads))
    result = session.execute(query)
    if not times:
        return [
            OrderFacts(order_id, strata[category if by_category else street], satisfaction, returns or 0, bool(repeat))
            for order_id, street, category, satisfaction, returns, repeat in result.all()
        ]
    return [
        OrderFacts(
            order_id,
            strata[category if by_category else street],
            satisfaction,
            returns or 0,
            bool(repeat),
            dispatched,
            closed,
        )
        for order_id, street, category, satisfaction, returns, repeat, dispatched, closed in result.all()
    ]


def closed_months(session: Session, ids: Iterable[int]) -> dict[int, str]:
    """The Beijing closure month (2026-11) of each order, "" when it has none; by primary key, in chunks."""
    wanted = sorted(set(ids))
    months: dict[int, str] = {}
    for start in range(0, len(wanted), 900):
        chunk = wanted[start : start + 900]
        query = sa.select(ORDER.c.id, DRAW_COLUMNS[7]).where(ORDER.c.id.in_(chunk))
        months.update((order_id, closed_month(closed)) for order_id, closed in session.execute(query).all())
    return months


class _Strata(dict[str | None, str]):
    """Street (or category) → stratum, computed once per distinct value (a few dozen among many orders)."""

    def __init__(self, compute: Callable[[str | None], str]) -> None:
        super().__init__()
        self.compute = compute

    def __missing__(self, key: str | None) -> str:
        value = self[key] = self.compute(key)
        return value


def closed_month(moment: datetime | None) -> str:
    """The Beijing month (2026-11) of a closure time as loaded for the draw; "" when unknown."""
    if moment is None:
        return ""
    return to_local(moment if moment.tzinfo else moment.replace(tzinfo=UTC)).strftime("%Y-%m")


def population_digest(ids: Iterable[int]) -> str:
    """SHA-256 of the population's order ids in ascending order, one per line (see :data:`DIGEST_METHOD`)."""
    return hashlib.sha256("\n".join(str(i) for i in sorted(ids)).encode()).hexdigest()


# ---------------------------------------------------------------------------- checklists
