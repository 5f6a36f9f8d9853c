"""核验: redraw a stored plan from its population and seed, and say whether the same orders come out and why not."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlmodel import Session

from tracker.domain.sampling import UNSATISFIED, OrderFacts, RiskReason, select_sample
from tracker.models import SampleItem, SamplePlan
from tracker.services.accounts import Viewer
from tracker.services.spot_checks.plans import population_of, sampling_plan_of
from tracker.services.spot_checks.population import MANUAL, ORDER, load_population, population_digest

FAST_START = datetime(2000, 1, 1, tzinfo=UTC)  # a stored "closed fast" reason: dispatched and closed at once


@dataclass(frozen=True)
class StratumCheck:
    """One stratum's population size then and now."""

    stratum: str
    then: int
    now: int


@dataclass(frozen=True)
class Verification:
    """Recomputed population and redraw compared with what the plan stored.

    ``reproducible``: the stored seed, applied to the population as it was at the draw, gives the same
    orders. The population at the draw is today's with the changes recorded since undone (the orders this
    plan sent to redo, which left it when they were reopened); ``explained`` says whether that gives back the
    stored digest. When it does not, the population changed in ways no record of ours explains, and the
    redraw is made on today's population.
    """

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
    reproducible: bool = False
    explained: bool = False  # the population at the draw was restored from the recorded events
    redone_numbers: tuple[str, ...] = ()  # the orders of those events
    restored_digest: str = ""

    @property
    def now_by_stratum(self) -> dict[str, int]:
        """Each stratum's population size now."""
        return {s.stratum: s.now for s in self.strata}

    @property
    def verdict(self) -> str:
        """可复现 / 不可复现."""
        return "可复现" if self.reproducible else "不可复现"


def _restored_facts(item_stratum: str, order_id: int, reasons: Iterable[str]) -> OrderFacts:
    """An order that left the population through a recorded event, with the facts its draw used (stored)."""
    found = set(reasons)
    fast = RiskReason.FAST_CLOSE.value in found
    return OrderFacts(
        order_id,
        item_stratum,
        satisfaction=UNSATISFIED if RiskReason.UNSATISFIED.value in found else None,
        return_count=1 if RiskReason.RETURNED.value in found else 0,
        is_repeat=RiskReason.REPEAT.value in found,
        dispatched_at=FAST_START if fast else None,
        closed_at=FAST_START if fast else None,
    )


def verify_plan(session: Session, *, viewer: Viewer, plan: SamplePlan) -> Verification:
    """Recompute the population from the stored definition, undo the recorded changes, redraw with the stored seed."""
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
    item = SampleItem.__table__  # type: ignore[attr-defined]
    drawn_rows = session.execute(
        sa.select(item.c.order_id, item.c.redo_started, item.c.stratum).where(
            item.c.plan_id == plan.id, item.c.reason != MANUAL
        )
    ).all()
    drawn = {order_id for order_id, _, _ in drawn_rows}
    present = set(ids)
    stored_facts = plan.strata.get("facts") or {}
    left = [  # this plan's redo reopened them: recorded in its events, so they are put back
        _restored_facts(stratum, order_id, (stored_facts.get(str(order_id)) or {}).get("reasons", []))
        for order_id, started, stratum in drawn_rows
        if started and order_id not in present
    ]
    restored = rows + left
    restored_digest = population_digest(facts.id for facts in restored)
    stored_digest = str(plan.population.get("digest", ""))
    same_population = digest == stored_digest
    explained = restored_digest == stored_digest
    redrawn = set(select_sample(method, restored if explained else rows, plan.seed).ids)
    same_orders = redrawn == drawn
    reproducible = explained and same_orders
    now_counts = Counter(facts.stratum for facts in rows)
    then_counts = {r["stratum"]: int(r["population"]) for r in plan.strata.get("rows", [])}
    strata = [
        StratumCheck(key, then_counts.get(key, 0), now_counts.get(key, 0))
        for key in sorted(set(then_counts) | set(now_counts))
    ]
    redone_numbers = tuple(_order_numbers(session, (f.id for f in left)))
    if reproducible and same_population:
        message = (
            f"可复现：总体与抽样时一致（{len(ids)} 件），用保存的随机种子重新抽取，"
            f"得到的 {len(drawn)} 件工单与本样本完全相同。"
        )
    elif reproducible:
        message = (
            f"可复现：用保存的随机种子重新抽取，得到的 {len(drawn)} 件工单与本样本完全相同。"
            f"总体此后有变化（抽样时 {plan.population_size} 件，现在 {len(ids)} 件），均由已记录的事件造成："
            f"本计划发起重办的 {len(left)} 件工单（{'、'.join(redone_numbers)}）重新办理，暂时离开了总体；"
            "把它们放回后，总体与抽样时完全一致。"
        )
    elif explained:
        message = (
            f"不可复现：总体（放回本计划重办的 {len(left)} 件后）与抽样时一致，"
            f"但用保存的随机种子重新抽取得到的工单与本样本不同：原样本中有 {len(drawn - redrawn)} 件不会被抽中，"
            f"另有 {len(redrawn - drawn)} 件会被抽中。请核对样本记录。"
        )
    else:
        recorded = f"（已放回本计划重办的 {len(left)} 件）" if left else ""
        message = (
            f"不可复现：总体发生了没有记录可以解释的变化{recorded}：抽样时 {plan.population_size} 件，"
            f"现在 {len(ids)} 件（抽样后才办结、被更正或改派街镇的工单会改变总体）。"
            + (
                f"用保存的随机种子在现在的总体上重新抽取，仍得到相同的 {len(drawn)} 件工单。"
                if same_orders
                else f"在现在的总体上重新抽取，原样本中有 {len(drawn - redrawn)} 件不会被抽中，"
                f"另有 {len(redrawn - drawn)} 件会被抽中。"
            )
        )
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
        redone_here=len(left),
        message=message,
        reproducible=reproducible,
        explained=explained,
        redone_numbers=redone_numbers,
        restored_digest=restored_digest,
    )


def _order_numbers(session: Session, ids: Iterable[int], limit: int = 100) -> list[str]:
    chosen = sorted(ids)[:limit]
    if not chosen:
        return []
    query = sa.select(ORDER.c.order_no).where(ORDER.c.id.in_(chosen)).order_by(ORDER.c.order_no)
    return list(session.execute(query).scalars())


# ---------------------------------------------------------------------------- adding and dropping orders
