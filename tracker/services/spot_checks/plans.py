"""Quality spot checks (诉件质量抽查): sampling plans drawn over a population, reviews, redo on a failed review.

A plan is evidence (domain.md §6): who drew it and when, the population definition with its size per
stratum and a digest of its order ids, the method, the size rule and the seed. The draw itself is the
pure :func:`tracker.domain.sampling.select_sample`; this module picks the population (a Core select of
only the columns the draw needs), stores the sample, and re-checks it later (:func:`verify_plan`).
Every change to a drawn sample (an order added or dropped, a review, a redo) is a ``SampleEvent``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from tracker.domain.checklist import (
    Checklist,
)
from tracker.domain.deadlines import to_local
from tracker.domain.sampling import (
    RISK_REASON_LABELS,
    Allocation,
    OrderFacts,
    Sample,
    SamplingError,
    SamplingPlan,
    new_seed,
    select_sample,
)
from tracker.models import Order, SampleEvent, SampleItem, SamplePlan
from tracker.services.accounts import Actor, Viewer, scoped
from tracker.services.spot_checks.checklists import checklist_to_dict
from tracker.services.spot_checks.population import (
    DIGEST_METHOD,
    MANUAL,
    MAX_SAMPLE,
    RANDOM,
    REASON_LABELS,
    REASON_MIN_CHARS,
    Choices,
    PlanInput,
    Population,
    SpotCheckError,
    check_population,
    closed_months,
    load_population,
    population_digest,
    squad_names,
    stratum_of,
)


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
    def census(self) -> bool:
        """Whether the sample would take every order of the population (a census, not a sample)."""
        return self.population_size > 0 and len(self.sample.orders) >= self.population_size

    @property
    def whole_strata(self) -> list[str]:
        """Strata the sample would take entirely (random part and risk inclusions together)."""
        return [c.stratum for c in self.sample.strata if c.population and c.planned + c.risk_added >= c.population]

    def census_refusal(self) -> str:
        """Why a census is refused unless confirmed, with what made it one."""
        plan = self.data.plan
        why = [f"样本量规则「{plan.size.describe()}」"]
        if plan.stratify_by is not None and plan.allocation is Allocation.PER_STRATUM:
            why.append("用于每一层")
        if plan.minimum_per_stratum:
            why.append(f"每层至少 {plan.minimum_per_stratum} 件")
        return (
            f"按当前设置（{'，'.join(why)}），样本 {len(self.sample.orders)} 件"
            f"就是总体的全部 {self.population_size} 件，"
            "这是普查而不是抽查。如确需全部检查，请勾选“确认抽取总体全部工单（普查）”；"
            "否则请减小样本量、改为“按比例分配”或减小每层最少件数。"
        )

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
    session: Session,
    *,
    viewer: Viewer,
    actor: Actor,
    now: datetime,
    data: PlanInput,
    checklist: Checklist,
    allow_census: bool = False,
) -> SamplePlan:
    """Draw and store a plan with its items and a "drawn" event; flushes.

    A plan whose sample would be the whole population is refused unless ``allow_census`` (the form's
    explicit confirmation): defaults such as "at least 10 per squad" silently take every order of small strata.
    """
    preview, _ = preview_plan(session, viewer=viewer, data=data)
    if preview.population_size == 0:
        raise SpotCheckError("所选条件下没有工单（总体为 0 件），无法抽样：请放宽办结日期或其他条件。")
    if preview.census and not allow_census:
        raise SpotCheckError(preview.census_refusal())
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
