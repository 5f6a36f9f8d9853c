"""The squad's answer to a 核查 and the supervisor's decision; who may see which 核查 (scope as for orders).

A 核查 belongs to its order's street: a squad sees and answers only its own street's, and another street's
id is answered like an unknown one (None → 404). A line whose order is unknown is seen by the bureau only.
The squad answers (待核查 or 已退回 → 待审核); the bureau accepts (→ 已采纳, optionally starting a 重办 of
the order through the orders service's one door) or sends it back with a reason (→ 已退回). Each step writes
one audit row in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from tracker.domain.errors import TrackerError
from tracker.domain.labels import CHECK_STATUS_LABELS
from tracker.domain.lifecycle import ActionInput
from tracker.domain.roles import Role, is_district_wide
from tracker.domain.vocabulary import Action, CheckAction, CheckConclusion, CheckStatus
from tracker.models import HotlineNotice, NoticeCheck, Order
from tracker.services.accounts import Viewer, log_refusal, scoped
from tracker.services.orders import Context, apply_action
from tracker.services.verifications.audit import audit

TEXT_MAX_CHARS = 2000
ANSWERABLE = (CheckStatus.PENDING.value, CheckStatus.RETURNED.value)


class CheckRefused(TrackerError):
    """A step on a 核查 that cannot be taken now, or a field that is missing or wrong."""


@dataclass(frozen=True)
class CheckView:
    """A 核查 with its notice (and order, when known), as the order page and the lists show it."""

    check: NoticeCheck
    notice: HotlineNotice
    order: Order | None


def visible_check(session: Session, viewer: Viewer, check_id: int) -> CheckView | None:
    """The 核查 if it exists and the viewer may see it; None otherwise (the same answer for both)."""
    query = (
        select(NoticeCheck, HotlineNotice, Order)
        .join(HotlineNotice, col(HotlineNotice.id) == col(NoticeCheck.notice_id))
        .outerjoin(Order, col(Order.id) == col(NoticeCheck.order_id))
        .where(NoticeCheck.id == check_id)
    )
    if not is_district_wide(viewer.role):
        query = scoped(query.where(col(NoticeCheck.order_id).is_not(None)), viewer)
    found = session.exec(query).first()
    if found is None:
        if not is_district_wide(viewer.role) and session.get(NoticeCheck, check_id) is not None:
            log_refusal(viewer, "check_out_of_scope", check_id=check_id)
        return None
    return CheckView(*found)


def order_checks(session: Session, *, order: Order) -> list[CheckView]:
    """The 核查 of an order the caller may already see (the order page), oldest notice first."""
    rows = session.exec(
        select(NoticeCheck, HotlineNotice)
        .join(HotlineNotice, col(HotlineNotice.id) == col(NoticeCheck.notice_id))
        .where(NoticeCheck.order_id == order.id)
        .order_by(col(NoticeCheck.due_at), col(NoticeCheck.id))
    ).all()
    return [CheckView(check, notice, order) for check, notice in rows]


@dataclass(frozen=True)
class Answer:
    """The squad's answer, as posted."""

    conclusion: str
    cause: str
    measures: str


def _validated(answer: Answer) -> Answer:
    if answer.conclusion not in CheckConclusion._value2member_map_:
        choices = " / ".join(c.value for c in CheckConclusion)
        raise CheckRefused(f"「核查结论」为「{answer.conclusion[:20]}」：应为 {choices}")
    for label, text in (("原因分析", answer.cause), ("整改措施", answer.measures)):
        if not text.strip():
            raise CheckRefused(f"「{label}」不能为空")
        if len(text) > TEXT_MAX_CHARS:
            raise CheckRefused(f"「{label}」共 {len(text)} 字，超过 {TEXT_MAX_CHARS} 字")
    return Answer(answer.conclusion, answer.cause.strip(), answer.measures.strip())


def answer_check(session: Session, *, view: CheckView, viewer: Viewer, answer: Answer, ctx: Context) -> NoticeCheck:
    """The squad answers a 核查 (待核查 or 已退回 → 待审核); flushes. Photos go with it as the caller stores them."""
    check = view.check
    if viewer.role is not Role.SQUAD:
        raise CheckRefused("核查由工单所属街镇的执法队提交；区局负责采纳或退回")
    if view.order is None:
        raise CheckRefused(f"工单「{check.order_no}」尚未导入，无法提交核查")
    if check.status not in ANSWERABLE:
        raise CheckRefused(f"该核查当前为「{CHECK_STATUS_LABELS[CheckStatus(check.status)]}」，不能再提交")
    clean = _validated(answer)
    check.conclusion, check.cause, check.measures = clean.conclusion, clean.cause, clean.measures
    check.status = CheckStatus.ANSWERED.value
    check.answered_at, check.answered_by, check.answered_by_name = ctx.now, ctx.actor.id, ctx.actor.name
    session.add(check)
    audit(
        session,
        check,
        CheckAction.ANSWER,
        ctx.actor,
        ctx.now,
        note=f"核查结论：{clean.conclusion}",
        changes={"conclusion": clean.conclusion, "cause": clean.cause, "measures": clean.measures},
    )
    session.flush()
    return check


def accept_check(
    session: Session, *, view: CheckView, viewer: Viewer, ctx: Context, redo_reason: str | None = None
) -> NoticeCheck:
    """The bureau accepts an answer (待审核 → 已采纳); with ``redo_reason`` it also starts a 重办 of the order."""
    check = _decidable(view, viewer)
    check.status = CheckStatus.ACCEPTED.value
    check.decided_at, check.decided_by = ctx.now, ctx.actor.id
    session.add(check)
    audit(session, check, CheckAction.ACCEPT, ctx.actor, ctx.now)
    if redo_reason is not None:
        assert view.order is not None
        reason = redo_reason.strip() or f"热线通报核查（{check.kind}）{check.conclusion}，采纳后重办"
        apply_action(  # the one door: refuses (and nothing is stored) when the order cannot be redone now
            session, order=view.order, action=Action.REDO, data=ActionInput(reason=reason), ctx=ctx
        )
        audit(session, check, CheckAction.REDO, ctx.actor, ctx.now, note=reason)
    session.flush()
    return check


def return_check(session: Session, *, view: CheckView, viewer: Viewer, ctx: Context, reason: str) -> NoticeCheck:
    """The bureau sends an answer back with a reason (待审核 → 已退回); the squad answers again."""
    check = _decidable(view, viewer)
    if not reason.strip():
        raise CheckRefused("退回须填写理由")
    if len(reason) > TEXT_MAX_CHARS:
        raise CheckRefused(f"退回理由共 {len(reason)} 字，超过 {TEXT_MAX_CHARS} 字")
    check.status = CheckStatus.RETURNED.value
    check.return_reason = reason.strip()
    check.return_count += 1
    check.decided_at, check.decided_by = ctx.now, ctx.actor.id
    session.add(check)
    audit(session, check, CheckAction.RETURN, ctx.actor, ctx.now, note=check.return_reason)
    session.flush()
    return check


def _decidable(view: CheckView, viewer: Viewer) -> NoticeCheck:
    if viewer.role is Role.SQUAD:
        raise CheckRefused("执法队不能审核核查，由区局审核")
    if view.check.status != CheckStatus.ANSWERED.value:
        state = CHECK_STATUS_LABELS[CheckStatus(view.check.status)]
        raise CheckRefused(f"该核查当前为「{state}」，只有待审核的核查可以采纳或退回")
    return view.check
