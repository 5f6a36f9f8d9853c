"""核验: redraw a stored plan from its population and seed, and say whether the same orders come out and why not."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session

from tracker.domain.sampling import (
    select_sample,
)
from tracker.models import SampleItem, SamplePlan
from tracker.services.accounts import Viewer
from tracker.services.spot_checks.plans import population_of, sampling_plan_of
from tracker.services.spot_checks.population import MANUAL, ORDER, load_population, population_digest


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
