"""Quality spot checks (诉件质量抽查): sampling plans drawn over a population, reviews, redo on a failed review.

A plan is evidence (domain.md §6): who drew it and when, the population definition with its size per
stratum and a digest of its order ids, the method, the size rule and the seed. The draw itself is the
pure :func:`tracker.domain.sampling.select_sample`; this module picks the population (a Core select of
only the columns the draw needs), stores the sample, and re-checks it later (:func:`verify_plan`).
Every change to a drawn sample (an order added or dropped, a review, a redo) is a ``SampleEvent``.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from tracker.domain.checklist import (
    DEFAULT_CHECKLIST,
    Checklist,
    ChecklistItem,
    GradeBand,
    HardFail,
    parse_checklist,
)
from tracker.domain.deadlines import local_day_bounds, to_local
from tracker.domain.errors import TrackerError
from tracker.domain.labels import NO_CATEGORY, NO_STREET, STATE_LABELS
from tracker.domain.sampling import (
    ALL,
    RISK_REASON_LABELS,
    OrderFacts,
    RiskReason,
    Sample,
    SamplingError,
    SamplingPlan,
    StratifyBy,
    new_seed,
    select_sample,
)
from tracker.domain.vocabulary import State
from tracker.models import Order, SampleEvent, SampleItem, SamplePlan
from tracker.services.access import scoped
from tracker.services.actors import Actor
from tracker.services.directory import all_streets, squad_name_for
from tracker.services.users import Viewer

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


def load_checklist(path: str | None) -> Checklist:
    """The configured checklist (a TOML file in the format of docs/checklist.toml), else the default one."""
    if not path:
        return DEFAULT_CHECKLIST
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise SpotCheckError(f"评分表文件「{path}」无法读取：{exc.strerror or exc}") from None
    return parse_checklist(text)


def checklist_to_dict(checklist: Checklist) -> dict[str, Any]:
    """The checklist as JSON (snapshotted into the plan, so later configuration changes leave old scores alone)."""
    return {
        "name": checklist.name,
        "items": [
            {"key": i.key, "label": i.label, "verifies": i.verifies, "weight": i.weight, "partial": i.partial}
            for i in checklist.items
        ],
        "hard_fails": [{"key": h.key, "label": h.label} for h in checklist.hard_fails],
        "bands": [{"label": b.label, "minimum": b.minimum, "passed": b.passed} for b in checklist.bands],
        "hard_fail_grade": checklist.hard_fail_grade,
    }


def checklist_from_dict(data: Mapping[str, Any]) -> Checklist:
    """The checklist :func:`checklist_to_dict` wrote (the default one for a plan stored without)."""
    if not data:
        return DEFAULT_CHECKLIST
    return Checklist(
        name=data["name"],
        items=tuple(ChecklistItem(**item) for item in data["items"]),
        hard_fails=tuple(HardFail(**hard) for hard in data["hard_fails"]),
        bands=tuple(GradeBand(**band) for band in data["bands"]),
        hard_fail_grade=data["hard_fail_grade"],
    )


def plan_checklist(plan: SamplePlan) -> Checklist:
    """The checklist this plan's reviews are scored with."""
    return checklist_from_dict(plan.checklist)


# ---------------------------------------------------------------------------- preview and draw


@dataclass(frozen=True)
class Preview:
    """A plan over its population before anything is stored: sizes per stratum and what the draw would take."""

    data: PlanInput
    population_size: int
    digest: str
    sample: Sample
    seed_given: bool

    @property
    def random_size(self) -> int:
        """Orders in the random part."""
        return sum(1 for s in self.sample.orders if s.random)

    @property
    def risk_only(self) -> int:
        """Risk inclusions added on top of the random part."""
        return sum(1 for s in self.sample.orders if not s.random)

    @property
    def risk_counts(self) -> dict[str, int]:
        """Selected orders per risk reason (an order may have several)."""
        counts: Counter[str] = Counter()
        for selected in self.sample.orders:
            counts.update(RISK_REASON_LABELS[r] for r in selected.reasons)
        return dict(counts)


def preview_plan(
    session: Session, *, viewer: Viewer, data: PlanInput, choices: Choices | None = None
) -> tuple[Preview, list[OrderFacts]]:
    """Check the input, load the population and draw in memory; nothing is stored."""
    check_population(session, data.population, choices)
    rows = load_population(
        session,
        viewer=viewer,
        population=data.population,
        stratify_by=data.plan.stratify_by,
        times=data.plan.risk.fast_close_hours is not None,
    )
    seed = data.seed or new_seed()
    sample = select_sample(data.plan, rows, seed)
    preview = Preview(data, len(rows), population_digest(facts.id for facts in rows), sample, data.seed is not None)
    return preview, rows


def draw_plan(
    session: Session, *, viewer: Viewer, actor: Actor, now: datetime, data: PlanInput, checklist: Checklist
) -> SamplePlan:
    """Draw and store a plan with its items and a "drawn" event; flushes."""
    preview, _ = preview_plan(session, viewer=viewer, data=data)
    if preview.population_size == 0:
        raise SpotCheckError("所选条件下没有工单（总体为 0 件），无法抽样：请放宽办结日期或其他条件。")
    if len(preview.sample.orders) > MAX_SAMPLE:
        raise SpotCheckError(
            f"样本 {len(preview.sample.orders)} 件超过单个计划上限 {MAX_SAMPLE} 件，请缩小总体或样本量。"
        )
    months = closed_months(session, preview.sample.ids)
    plan_dict = data.plan.to_dict()
    row = SamplePlan(
        name=data.name,
        created_by=actor.id,
        created_by_name=actor.name,
        created_at=now,
        population={**data.population.to_dict(), "digest": preview.digest, "digest_method": DIGEST_METHOD},
        population_size=preview.population_size,
        stratify_by=plan_dict["stratify_by"] or "none",
        allocation=data.plan.allocation.value,
        minimum_per_stratum=data.plan.minimum_per_stratum,
        size_rule={**plan_dict["size"], "allocation": data.plan.allocation.value},
        risk=plan_dict["risk"],
        seed=preview.sample.seed,
        strata={
            "rows": [
                {"stratum": c.stratum, "population": c.population, "planned": c.planned, "risk_added": c.risk_added}
                for c in preview.sample.strata
            ],
            "sample_size": len(preview.sample.orders),
            "facts": {
                str(s.id): {
                    "reasons": [r.value for r in s.reasons],
                    "month": months.get(s.id, ""),
                    "random": s.random,
                }
                for s in preview.sample.orders
            },
        },
        checklist=checklist_to_dict(checklist),
    )
    session.add(row)
    session.flush()
    assert row.id is not None
    items = [
        {
            "plan_id": row.id,
            "order_id": s.id,
            "stratum": s.stratum[:128],
            "reason": RANDOM if s.random else s.reasons[0].value,
        }
        for s in preview.sample.orders
    ]
    if items:  # the same empty review on every row, written once into the statement rather than per row
        empty: dict[str, Any] = {"marks": sa.literal_column("'{}'"), "hard_fails": sa.literal_column("'[]'")}
        blank: dict[str, Any] = {"comment": sa.literal(""), "redo_started": sa.false()}
        session.execute(sa.insert(SampleItem.__table__).values(**empty, **blank), items)  # type: ignore[attr-defined]
    record_event(
        session,
        row,
        actor,
        now,
        "drawn",
        details={
            "seed": row.seed,
            "population_size": row.population_size,
            "digest": preview.digest,
            "sample_size": len(items),
            "random": preview.random_size,
            "risk_only": preview.risk_only,
            "method": data.plan.describe(),
        },
    )
    session.flush()
    return row


def sampling_plan_of(plan: SamplePlan) -> SamplingPlan:
    """The stored plan's method, as the domain reads it."""
    size = {k: plan.size_rule.get(k) for k in ("kind", "value", "confidence", "expected_rate")}
    return SamplingPlan.from_dict(
        {
            "size": size,
            "stratify_by": None if plan.stratify_by == "none" else plan.stratify_by,
            "allocation": plan.size_rule.get("allocation", plan.allocation),
            "minimum_per_stratum": plan.minimum_per_stratum,
            "risk": plan.risk,
        }
    )


def population_of(plan: SamplePlan) -> Population:
    """The stored population definition."""
    return Population.from_dict(plan.population)


def record_event(
    session: Session,
    plan: SamplePlan,
    actor: Actor,
    now: datetime,
    kind: str,
    *,
    order_id: int | None = None,
    reason: str = "",
    details: dict[str, Any] | None = None,
) -> SampleEvent:
    event = SampleEvent(
        plan_id=plan.id or 0,
        order_id=order_id,
        kind=kind,
        actor=actor.id,
        actor_name=actor.name,
        at=now,
        reason=reason,
        details=details or {},
    )
    session.add(event)
    return event


# ---------------------------------------------------------------------------- reading plans


@dataclass(frozen=True)
class PlanLine:
    """A plan in the list, with its progress."""

    plan: SamplePlan
    total: int
    reviewed: int
    failed: int


def list_plans(session: Session) -> list[PlanLine]:
    """Every plan, newest first, with reviewed / total of its active orders."""
    plans = session.exec(select(SamplePlan).order_by(col(SamplePlan.created_at).desc(), col(SamplePlan.id).desc()))
    item = SampleItem.__table__  # type: ignore[attr-defined]
    query = (
        sa.select(
            item.c.plan_id,
            sa.func.count(),
            sa.func.count(item.c.reviewed_at),
            sa.func.sum(sa.case((item.c.passed.is_(False), 1), else_=0)),
        )
        .where(item.c.removed_at.is_(None))
        .group_by(item.c.plan_id)
    )
    counts = {
        plan_id: (int(total), int(reviewed), int(failed or 0))
        for plan_id, total, reviewed, failed in session.execute(query)
    }
    return [PlanLine(plan, *counts.get(plan.id or 0, (0, 0, 0))) for plan in plans.all()]


def get_plan(session: Session, plan_id: int) -> SamplePlan | None:
    """The plan with this id, if any."""
    return session.get(SamplePlan, plan_id)


@dataclass(frozen=True)
class ItemLine:
    """A sampled order with the facts the plan page shows."""

    item: SampleItem
    order: Order
    reasons: tuple[str, ...]  # Chinese labels: 随机抽取, 回访不满意, …

    @property
    def random(self) -> bool:
        """Whether the order is in the random part (the part that estimates the pass rate)."""
        return self.item.reason == RANDOM


def item_reasons(plan: SamplePlan, item: SampleItem) -> tuple[str, ...]:
    """Why the order is in the sample, in Chinese (random part first, then every risk reason)."""
    facts = (plan.strata.get("facts") or {}).get(str(item.order_id)) or {}
    labels = [REASON_LABELS[RANDOM]] if item.reason == RANDOM else []
    labels += [REASON_LABELS[r] for r in facts.get("reasons", []) if r in REASON_LABELS]
    if item.reason == MANUAL:
        labels.append(REASON_LABELS[MANUAL])
    if not labels:
        labels.append(REASON_LABELS.get(item.reason, item.reason))
    return tuple(dict.fromkeys(labels))


def plan_items(session: Session, *, viewer: Viewer, plan: SamplePlan, include_removed: bool = True) -> list[ItemLine]:
    """The plan's orders (within the viewer's scope), by order number."""
    query = select(SampleItem, Order).join(Order, col(Order.id) == col(SampleItem.order_id))
    query = query.where(SampleItem.plan_id == plan.id)
    if not include_removed:
        query = query.where(col(SampleItem.removed_at).is_(None))
    rows = session.exec(scoped(query, viewer).order_by(col(Order.order_no), col(Order.id))).all()
    return [ItemLine(item, order, item_reasons(plan, item)) for item, order in rows]


def get_item(session: Session, *, plan: SamplePlan, item_id: int) -> SampleItem | None:
    """The item with this id if it belongs to ``plan``."""
    item = session.get(SampleItem, item_id)
    return item if item is not None and item.plan_id == plan.id else None


def plan_events(session: Session, plan: SamplePlan) -> list[tuple[SampleEvent, str | None]]:
    """The plan's history, oldest first, with each event's order number."""
    query = (
        select(SampleEvent, Order.order_no)
        .outerjoin(Order, col(Order.id) == col(SampleEvent.order_id))
        .where(SampleEvent.plan_id == plan.id)
        .order_by(col(SampleEvent.at), col(SampleEvent.id))
    )
    return [(event, order_no) for event, order_no in session.exec(query).all()]


@dataclass(frozen=True)
class Progress:
    """Reviewed / total active orders of a plan."""

    total: int
    reviewed: int
    passed: int
    failed: int

    @property
    def share(self) -> float:
        """Reviewed share (0 when the plan holds no order)."""
        return self.reviewed / self.total if self.total else 0.0


def progress_of(lines: Sequence[ItemLine]) -> Progress:
    """Progress over the active items of ``lines``."""
    active = [line.item for line in lines if line.item.removed_at is None]
    reviewed = [item for item in active if item.reviewed_at is not None]
    return Progress(
        len(active), len(reviewed), sum(bool(i.passed) for i in reviewed), sum(not i.passed for i in reviewed)
    )


# ---------------------------------------------------------------------------- verification


@dataclass(frozen=True)
class StratumCheck:
    """One stratum's population size then and now."""

    stratum: str
    then: int
    now: int


@dataclass(frozen=True)
class Verification:
    """Recomputed population and redraw compared with what the plan stored."""

    same_population: bool
    same_orders: bool
    stored_size: int
    current_size: int
    stored_digest: str
    current_digest: str
    strata: list[StratumCheck]
    missing: list[str]  # order numbers drawn then, not drawn now
    extra: list[str]  # order numbers drawn now, not drawn then
    redone_here: int  # orders this plan sent to redo (they left the population: reopened)
    message: str

    @property
    def now_by_stratum(self) -> dict[str, int]:
        """Each stratum's population size now."""
        return {s.stratum: s.now for s in self.strata}


def verify_plan(session: Session, *, viewer: Viewer, plan: SamplePlan) -> Verification:
    """Recompute the population from the stored definition, compare the digest, redraw with the stored seed."""
    method = sampling_plan_of(plan)
    rows = load_population(
        session,
        viewer=viewer,
        population=population_of(plan),
        stratify_by=method.stratify_by,
        times=method.risk.fast_close_hours is not None,
    )
    ids = [facts.id for facts in rows]
    digest = population_digest(ids)
    redrawn = set(select_sample(method, rows, plan.seed).ids)
    item = SampleItem.__table__  # type: ignore[attr-defined]
    drawn_rows = session.execute(
        sa.select(item.c.order_id, item.c.redo_started).where(item.c.plan_id == plan.id, item.c.reason != MANUAL)
    ).all()
    drawn = {order_id for order_id, _ in drawn_rows}
    redone = {order_id for order_id, started in drawn_rows if started}
    now_counts = Counter(facts.stratum for facts in rows)
    then_counts = {r["stratum"]: int(r["population"]) for r in plan.strata.get("rows", [])}
    strata = [
        StratumCheck(key, then_counts.get(key, 0), now_counts.get(key, 0))
        for key in sorted(set(then_counts) | set(now_counts))
    ]
    stored_digest = str(plan.population.get("digest", ""))
    same_population = digest == stored_digest
    same_orders = redrawn == drawn
    redone_here = len(redone - set(ids))
    if same_population and same_orders:
        message = (
            f"相同：按保存的总体条件重新取得的总体与抽样时一致（{len(ids)} 件，摘要相同），"
            f"用保存的随机种子「{plan.seed}」重新抽取，得到的 {len(drawn)} 件工单与本样本完全相同。"
        )
    else:
        parts = []
        if same_population:
            parts.append(f"总体与抽样时一致（{len(ids)} 件，摘要相同）")
        else:
            parts.append(
                f"总体已变化：抽样时 {plan.population_size} 件，现在 {len(ids)} 件，摘要不同"
                "（抽样后才办结、重办后重新打开或被更正的工单会改变总体）"
            )
            if redone_here:
                parts.append(f"其中 {redone_here} 件是本计划发起重办、已重新办理而离开总体的工单")
        if same_orders:
            parts.append(f"用保存的随机种子重新抽取，仍得到相同的 {len(drawn)} 件工单")
        else:
            parts.append(
                f"用保存的随机种子重新抽取，与本样本不同：原样本中有 {len(drawn - redrawn)} 件现在不会被抽中，"
                f"另有 {len(redrawn - drawn)} 件会被抽中"
            )
        message = "不同：" + "；".join(parts) + "。"
    return Verification(
        same_population=same_population,
        same_orders=same_orders,
        stored_size=plan.population_size,
        current_size=len(ids),
        stored_digest=stored_digest,
        current_digest=digest,
        strata=strata,
        missing=_order_numbers(session, drawn - redrawn),
        extra=_order_numbers(session, redrawn - drawn),
        redone_here=redone_here,
        message=message,
    )


def _order_numbers(session: Session, ids: Iterable[int], limit: int = 100) -> list[str]:
    chosen = sorted(ids)[:limit]
    if not chosen:
        return []
    query = sa.select(ORDER.c.order_no).where(ORDER.c.id.in_(chosen)).order_by(ORDER.c.order_no)
    return list(session.execute(query).scalars())


# ---------------------------------------------------------------------------- adding and dropping orders


def required_reason(text: str, what: str) -> str:
    """A reason a person must give (at least REASON_MIN_CHARS characters), trimmed."""
    reason = text.strip()
    if len(reason) < REASON_MIN_CHARS:
        raise SpotCheckError(f"{what}须填写原因（至少 {REASON_MIN_CHARS} 个字），现为「{reason}」。")
    return reason[:500]


def add_order(
    session: Session, *, viewer: Viewer, actor: Actor, now: datetime, plan: SamplePlan, order_no: str, reason: str
) -> SampleItem:
    """Add an order to a drawn sample by its number, with a reason; an "added" event records it. Flushes."""
    number = order_no.strip()
    why = required_reason(reason, "增加工单")
    if not number:
        raise SpotCheckError("请填写要增加的工单编号。")
    found = session.exec(scoped(select(Order).where(Order.order_no == number), viewer)).all()
    if not found:
        raise SpotCheckError(f"工单编号「{number}」不存在。")
    if len(found) > 1:
        sources = "、".join(sorted(o.source for o in found))
        raise SpotCheckError(f"工单编号「{number}」在多个来源（{sources}）中都有，无法确定是哪一件。")
    order = found[0]
    existing = session.exec(
        select(SampleItem).where(SampleItem.plan_id == plan.id, SampleItem.order_id == order.id)
    ).first()
    if existing is not None and existing.removed_at is None:
        raise SpotCheckError(f"工单「{number}」已在本样本中。")
    population = population_of(plan)
    month = to_local(order.closed_at).strftime("%Y-%m") if order.closed_at else ""
    if existing is not None:  # back in after being dropped: the same row, its first reason kept
        existing.removed_at = None
        item = existing
    else:
        item = SampleItem(
            plan_id=plan.id or 0,
            order_id=order.id or 0,
            stratum=stratum_of(sampling_plan_of(plan).stratify_by, order.street, order.category, squad_names(session))[
                :128
            ],
            reason=MANUAL,
        )
        session.add(item)
        facts = dict(plan.strata.get("facts") or {})
        facts[str(order.id)] = {"reasons": [], "month": month, "random": False}
        plan.strata = {**plan.strata, "facts": facts}  # a new dict, so the JSON change is saved
    record_event(
        session,
        plan,
        actor,
        now,
        "added",
        order_id=order.id,
        reason=why,
        details={"in_population": population.contains(order), "restored": existing is not None},
    )
    session.flush()
    return item


def drop_item(
    session: Session, *, actor: Actor, now: datetime, plan: SamplePlan, item: SampleItem, reason: str
) -> None:
    """Take an order out of a sample, with a reason; the row stays (marked removed), a "dropped" event records it."""
    why = required_reason(reason, "移出工单")
    if item.removed_at is not None:
        raise SpotCheckError("该工单已移出样本。")
    item.removed_at = now
    details = {"reason_code": item.reason, "reviewed": item.reviewed_at is not None, "grade": item.grade}
    record_event(session, plan, actor, now, "dropped", order_id=item.order_id, reason=why, details=details)
    session.flush()


def describe_method(plan: SamplePlan) -> str:
    """The stored method in one Chinese sentence."""
    try:
        return sampling_plan_of(plan).describe()
    except SamplingError as exc:  # pragma: no cover - only a hand-edited row
        return f"（方法记录无法读取：{exc.message}）"
