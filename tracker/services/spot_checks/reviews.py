"""Reviewing a sampled order against its plan's checklist, and starting a 重办 from a failed review."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session

from tracker.domain.checklist import MARK_LABELS, Checklist, ChecklistError, Mark, Scored, parse_mark
from tracker.domain.labels import STATE_LABELS
from tracker.domain.lifecycle import ActionInput
from tracker.domain.roles import may_take
from tracker.domain.vocabulary import Action, State
from tracker.models import Order, SampleItem, SamplePlan
from tracker.services.accounts import Actor, Viewer, visible_order
from tracker.services.orders import Context, apply_action, available_actions
from tracker.services.spot_checks.checklists import plan_checklist
from tracker.services.spot_checks.plans import record_event, required_reason
from tracker.services.spot_checks.population import SpotCheckError

# ---------------------------------------------------------------------------- reviews


@dataclass(frozen=True)
class ReviewInput:
    """A reviewer's marks (item key → pass / partial / fail or its label), notes per item, hard fails, a comment."""

    marks: Mapping[str, str]
    notes: Mapping[str, str] = field(default_factory=dict)
    hard_fails: Sequence[str] = ()
    comment: str = ""


def review_input(values: Mapping[str, str], hard_fails: Sequence[str], checklist: Checklist) -> ReviewInput:
    """The review form: ``mark_<key>`` and ``note_<key>`` per item, ``hard_fail`` checkboxes, ``comment``."""
    marks = {item.key: values.get(f"mark_{item.key}", "") for item in checklist.items if values.get(f"mark_{item.key}")}
    notes = {item.key: (values.get(f"note_{item.key}") or "").strip()[:1000] for item in checklist.items}
    comment = (values.get("comment") or "").strip()[:2000]
    return ReviewInput(marks, {k: v for k, v in notes.items() if v}, list(hard_fails), comment)


def review_item(
    session: Session, *, actor: Actor, now: datetime, plan: SamplePlan, item: SampleItem, data: ReviewInput
) -> Scored:
    """Score a sampled order against the plan's checklist: score and grade computed, never typed. Flushes."""
    if item.removed_at is not None:
        raise SpotCheckError("该工单已移出样本，不能评查。")
    checklist = plan_checklist(plan)
    labels = {i.key: i.label for i in checklist.items}
    marks: dict[str, Mark] = {}
    for key, value in data.marks.items():
        try:
            marks[key] = parse_mark(value)
        except ChecklistError as exc:
            raise SpotCheckError(f"评分项「{labels.get(key, key)}」：{exc.message}") from None
    scored = checklist.score(marks, set(data.hard_fails))
    before = {"score": item.score, "grade": item.grade} if item.reviewed_at else None
    item.marks = {key: {"mark": marks[key].value, "note": data.notes.get(key, "")} for key in labels}
    item.hard_fails = sorted(set(data.hard_fails))
    item.comment = data.comment
    item.score, item.grade, item.passed = scored.score, scored.grade, scored.passed
    item.reviewed_at = now
    item.reviewer = actor.name[:128]
    record_event(
        session,
        plan,
        actor,
        now,
        "reviewed",
        order_id=item.order_id,
        details={
            "score": scored.score,
            "grade": scored.grade,
            "passed": scored.passed,
            "marks": {k: v["mark"] for k, v in item.marks.items()},
            "hard_fails": item.hard_fails,
            "before": before,
        },
    )
    session.flush()
    return scored


def mark_label(value: str) -> str:
    """符合 / 部分符合 / 不符合 for a stored mark."""
    return MARK_LABELS[Mark(value)] if value in Mark._value2member_map_ else value


# ---------------------------------------------------------------------------- redo


REDO_PREFIX = "质量抽查不合格："


def redo_refusal(session: Session, *, viewer: Viewer, item: SampleItem, order: Order, now: datetime) -> str | None:
    """Why a redo cannot start from this review now (None: it can)."""
    if item.removed_at is not None:
        return "该工单已移出样本。"
    if item.reviewed_at is None:
        return "该工单尚未评查，评查不合格后才能发起重办。"
    if item.passed:
        return f"评查结果为「{item.grade}」（合格），不需要重办。"
    if item.redo_started:
        return "已因本次抽查发起过重办。"
    if not may_take(viewer.role, Action.REDO):
        return "您的角色不能发起重办。"
    if Action.REDO not in available_actions(session, order, now=now):
        return (
            f"工单当前状态为「{STATE_LABELS[State(order.state)]}」，只有已办结的工单可以发起重办"
            "（重办由工单生命周期控制）。"
        )
    return None


def start_redo(
    session: Session, *, viewer: Viewer, ctx: Context, plan: SamplePlan, item: SampleItem, reason: str
) -> Order:
    """Start a 重办 on a failed review's order through the lifecycle, and record it in the sample. Flushes."""
    why = required_reason(reason, "发起重办")
    order = visible_order(session, viewer, item.order_id, for_update=True)
    if order is None:
        raise SpotCheckError("工单不存在或不在您的范围内。")
    refusal = redo_refusal(session, viewer=viewer, item=item, order=order, now=ctx.now)
    if refusal:
        raise SpotCheckError(f"不能发起重办：{refusal}")
    cycle_before = order.cycle
    apply_action(session, order=order, action=Action.REDO, data=ActionInput(reason=f"{REDO_PREFIX}{why}"), ctx=ctx)
    item.redo_started = True
    record_event(
        session,
        plan,
        ctx.actor,
        ctx.now,
        "redo_started",
        order_id=order.id,
        reason=why,
        details={"grade": item.grade, "score": item.score, "cycle": [cycle_before, order.cycle]},
    )
    session.flush()
    return order
