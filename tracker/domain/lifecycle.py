"""The order lifecycle as data: state × action → next state, guards, validators, stage effects.

Guards decide whether an action is on offer at all (the UI asks :func:`allowed_actions`);
validators check the input of an action that is on offer. Both explain a refusal in
Chinese through :class:`ActionRefused`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from tracker.domain.calendar import WorkCalendar
from tracker.domain.deadlines import latest_extension_date, to_local
from tracker.domain.errors import ActionRefused, CalendarNotLoaded
from tracker.domain.labels import ACTION_LABELS, STATE_LABELS
from tracker.domain.vocabulary import Action, ExtensionStatus, Stage, State

S, A = State, Action

TRANSITIONS: Mapping[tuple[State, Action], State] = {
    (S.DISPATCHED, A.SIGN): S.HANDLING,
    (S.DISPATCHED, A.FIRST_CONTACT): S.DISPATCHED,
    (S.DISPATCHED, A.REQUEST_RETURN): S.RETURN_REQUESTED,
    (S.DISPATCHED, A.SUPERVISE): S.DISPATCHED,
    (S.HANDLING, A.FIRST_CONTACT): S.HANDLING,
    (S.HANDLING, A.REQUEST_EXTENSION): S.HANDLING,
    (S.HANDLING, A.APPROVE_EXTENSION): S.HANDLING,
    (S.HANDLING, A.REJECT_EXTENSION): S.HANDLING,
    (S.HANDLING, A.REQUEST_RETURN): S.RETURN_REQUESTED,
    (S.HANDLING, A.CLOSE): S.CLOSED,
    (S.HANDLING, A.SUPERVISE): S.HANDLING,
    (S.RETURN_REQUESTED, A.APPROVE_RETURN): S.RETURNED,
    (S.RETURN_REQUESTED, A.REJECT_RETURN): S.HANDLING,
    (S.RETURN_REQUESTED, A.APPROVE_EXTENSION): S.RETURN_REQUESTED,
    (S.RETURN_REQUESTED, A.REJECT_EXTENSION): S.RETURN_REQUESTED,
    (S.RETURNED, A.REDISPATCH): S.DISPATCHED,
    (S.CLOSED, A.REDO): S.HANDLING,
    (S.DISPATCHED, A.PLATFORM_CLOSE): S.CLOSED,
    (S.HANDLING, A.PLATFORM_CLOSE): S.CLOSED,
    (S.RETURN_REQUESTED, A.PLATFORM_CLOSE): S.CLOSED,
}
"""Every allowed move. DISPATCH creates an order and UPDATE changes only details: neither is in the table.

PLATFORM_CLOSE is the platform's closure arriving by import: the platform is the authority on
what it reports, so it closes an open order without the squad's intermediate steps."""

NO_STATE_CHANGE: frozenset[Action] = frozenset({A.NOTE, A.ATTACH, A.DETACH})
"""Events that record something about an order without moving it: a note, an attachment added or withdrawn."""

PLATFORM_ONLY: frozenset[Action] = frozenset({A.PLATFORM_CLOSE})
"""Actions that only an import applies; people are never offered them."""

RESUMES_PREVIOUS: frozenset[tuple[State, Action]] = frozenset({(S.RETURN_REQUESTED, A.REJECT_RETURN)})
"""Moves that return to the state the order was in before (a rejected return goes back where it came
from, 待签收 or 处置中); the table's value is the fallback when that state is unknown."""

INITIAL_STATE = State.DISPATCHED

CLOSURE_VERDICTS = ("实际解决", "解释说明", "未解决")
REPLY_METHODS = ("电话", "书面", "约谈")
RETURN_REASON_CODES = ("非本辖区", "非本部门职责", "重复件", "诉求不清无法核实", "其他")
CONTACT_RESULTS = ("已联", "未联")
NO_CONTACT_REASONS = ("始终关机", "始终未接", "其他")
OPEN_STATES = frozenset({State.DISPATCHED, State.HANDLING, State.RETURN_REQUESTED})


@dataclass(frozen=True)
class StageEffect:
    """What an action does to stage deadlines; applied in the order cancels, ends, opens."""

    opens: tuple[Stage, ...] = ()
    completes: tuple[Stage, ...] = ()
    misses: tuple[Stage, ...] = ()
    cancels: tuple[Stage, ...] = ()


_ALL_WORK = (Stage.FIRST_CONTACT, Stage.CLOSURE, Stage.REDO, Stage.SUPERVISION, Stage.EXTENSION_DECISION)

STAGE_EFFECTS: Mapping[Action, StageEffect] = {
    A.DISPATCH: StageEffect(opens=(Stage.FIRST_CONTACT, Stage.CLOSURE)),
    A.REDISPATCH: StageEffect(opens=(Stage.FIRST_CONTACT, Stage.CLOSURE)),
    A.SIGN: StageEffect(),
    A.FIRST_CONTACT: StageEffect(completes=(Stage.FIRST_CONTACT,)),
    A.REQUEST_EXTENSION: StageEffect(opens=(Stage.EXTENSION_DECISION,)),
    A.APPROVE_EXTENSION: StageEffect(completes=(Stage.EXTENSION_DECISION,)),
    A.REJECT_EXTENSION: StageEffect(completes=(Stage.EXTENSION_DECISION,)),
    A.REQUEST_RETURN: StageEffect(opens=(Stage.RETURN_DECISION,)),
    A.APPROVE_RETURN: StageEffect(completes=(Stage.RETURN_DECISION,), cancels=_ALL_WORK),
    A.REJECT_RETURN: StageEffect(completes=(Stage.RETURN_DECISION,)),
    A.CLOSE: StageEffect(
        completes=(Stage.CLOSURE, Stage.REDO, Stage.SUPERVISION),
        misses=(Stage.FIRST_CONTACT,),
        cancels=(Stage.EXTENSION_DECISION,),
    ),
    A.REDO: StageEffect(opens=(Stage.REDO,)),
    A.SUPERVISE: StageEffect(cancels=(Stage.SUPERVISION,), opens=(Stage.SUPERVISION,)),
    A.PLATFORM_CLOSE: StageEffect(
        completes=(Stage.CLOSURE, Stage.REDO, Stage.SUPERVISION),
        misses=(Stage.FIRST_CONTACT,),
        cancels=(Stage.EXTENSION_DECISION, Stage.RETURN_DECISION),
    ),
    A.UPDATE: StageEffect(),
    A.NOTE: StageEffect(),
    A.ATTACH: StageEffect(),
    A.DETACH: StageEffect(),
}


@dataclass(frozen=True)
class OrderFacts:
    """What the lifecycle needs to know about an order."""

    order_no: str
    state: State
    dispatched_at: datetime
    closure_due_at: datetime | None = None
    extension_status: ExtensionStatus = ExtensionStatus.NONE
    extension_requested_to: date | None = None
    cycle: int = 1
    cycle_started_at: datetime | None = None  # None: the cycle started at dispatch
    resume_state: State | None = None  # the state before the pending return request
    signed_at: datetime | None = None  # when the squad signed the order in this cycle
    contact_at: datetime | None = None  # the recorded first contact (of this cycle when on or after its start)


@dataclass(frozen=True)
class ActionInput:
    """The input of one action; each action's validator says which fields it needs."""

    note: str = ""
    reply: str = ""
    verdict: str = ""
    reply_method: str = ""
    reason_code: str = ""
    basis: str = ""
    reason: str = ""
    new_due_date: date | None = None
    contact_at: datetime | None = None
    contact_result: str = ""
    contact_reason: str = ""
    contact_person: str = ""
    due_at: datetime | None = None
    street: str = ""
    handling_unit: str = ""
    closed_at: datetime | None = None  # 办结: when it happened, when recorded later (None: now)
    late_reason: str = ""  # 补录原因: why a time more than LATE_ENTRY before now is entered only now


Guard = Callable[[OrderFacts, datetime], str | None]
Validator = Callable[[OrderFacts, ActionInput, datetime, WorkCalendar], str | None]


def _extension_unused(facts: OrderFacts, now: datetime) -> str | None:
    if facts.extension_status is not ExtensionStatus.NONE:
        return "每件工单最多申请一次延期，本单已申请过"
    if facts.closure_due_at is None:
        return "办结期限尚未确定，无法判断是否在期限前申请"
    if now >= facts.closure_due_at:
        return "延期须在办结期限届满前申请，期限已过"
    return None


def _extension_pending(facts: OrderFacts, now: datetime) -> str | None:
    if facts.extension_status is not ExtensionStatus.REQUESTED:
        return "本单没有待审核的延期申请"
    return None


GUARDS: Mapping[Action, Guard] = {
    A.REQUEST_EXTENSION: _extension_unused,
    A.APPROVE_EXTENSION: _extension_pending,
    A.REJECT_EXTENSION: _extension_pending,
}


def _blank(value: str) -> bool:
    return not value or not value.strip()


def _validate_close(facts: OrderFacts, data: ActionInput, now: datetime, calendar: WorkCalendar) -> str | None:
    if data.closed_at is not None:
        problem = recorded_time_problem("办结时间", data.closed_at, facts, now, data.late_reason, after_contact=True)
        if problem:
            return problem
    if _blank(data.reply):
        return "缺少答复内容"
    if data.verdict not in CLOSURE_VERDICTS:
        return f"结案评判应为 {' / '.join(CLOSURE_VERDICTS)} 之一，实际为「{data.verdict or '空'}」"
    if data.reply_method and data.reply_method not in REPLY_METHODS:
        return f"答复方式应为 {' / '.join(REPLY_METHODS)} 之一，实际为「{data.reply_method}」"
    return None


def _validate_return(facts: OrderFacts, data: ActionInput, now: datetime, calendar: WorkCalendar) -> str | None:
    if data.reason_code not in RETURN_REASON_CODES:
        return f"退单原因应为 {' / '.join(RETURN_REASON_CODES)} 之一，实际为「{data.reason_code or '空'}」"
    if _blank(data.basis):
        return "缺少退单依据说明"
    return None


def _validate_extension(facts: OrderFacts, data: ActionInput, now: datetime, calendar: WorkCalendar) -> str | None:
    if _blank(data.reason):
        return "缺少延期理由"
    if data.new_due_date is None:
        return "缺少申请延期至的日期"
    assert facts.closure_due_at is not None  # guaranteed by the guard
    current = to_local(facts.closure_due_at).date()
    if data.new_due_date <= current:
        return f"申请延期至 {data.new_due_date} 不晚于现有办结期限 {current}"
    try:
        limit = latest_extension_date(facts.cycle_started_at or facts.dispatched_at, calendar)
    except CalendarNotLoaded as exc:
        return exc.message.rstrip("。")
    if data.new_due_date > limit:
        return f"延期后期限 {data.new_due_date} 超过自派单（本轮起算）起 15 个工作日（{limit}）的上限"
    return None


def _validate_approve_extension(
    facts: OrderFacts, data: ActionInput, now: datetime, calendar: WorkCalendar
) -> str | None:
    if facts.extension_requested_to is None:
        return "延期申请缺少申请延期至的日期"
    if facts.closure_due_at is not None and facts.extension_requested_to <= to_local(facts.closure_due_at).date():
        return (
            f"申请延期至 {facts.extension_requested_to} 不晚于现有办结期限 "
            f"{to_local(facts.closure_due_at).date()}，批准没有意义，请驳回"
        )
    return None


def _local(moment: datetime) -> str:
    return to_local(moment).strftime("%Y-%m-%d %H:%M")


def _validate_contact(facts: OrderFacts, data: ActionInput, now: datetime, calendar: WorkCalendar) -> str | None:
    if data.contact_result not in CONTACT_RESULTS:
        return f"联系结果应为 已联 / 未联，实际为「{data.contact_result or '空'}」"
    if data.contact_result == "未联" and data.contact_reason not in NO_CONTACT_REASONS:
        return f"未联系上时须选择原因（{' / '.join(NO_CONTACT_REASONS)}），实际为「{data.contact_reason or '空'}」"
    if data.contact_at is not None:
        return recorded_time_problem("联系时间", data.contact_at, facts, now, data.late_reason)
    return None


LATE_ENTRY = timedelta(hours=1)  # a recorded time further back than this is a 补录 (late entry)
CLOCK_TOLERANCE = timedelta(minutes=5)  # a phone's clock may run this far ahead


def is_late_entry(at: datetime | None, now: datetime) -> bool:
    """Whether a recorded time is entered late enough to count as 补录."""
    return at is not None and now - at > LATE_ENTRY


def recorded_time_problem(
    label: str, at: datetime, facts: OrderFacts, now: datetime, late_reason: str, *, after_contact: bool = False
) -> str | None:
    """Why a time a person records for a step cannot stand: ahead of the clock, before the step it follows,
    or a 补录 without its reason."""
    if at > now + CLOCK_TOLERANCE:
        return f"{label} {_local(at)} 超过当前时间 {_local(now)} 5 分钟以上：{label}不能晚于当前时间"
    if at < facts.dispatched_at:
        return f"{label} {_local(at)} 不能早于派单时间 {_local(facts.dispatched_at)}"
    if facts.cycle_started_at is not None and at < facts.cycle_started_at:
        return f"{label} {_local(at)} 不能早于本轮办理开始时间 {_local(facts.cycle_started_at)}（重办）"
    if facts.signed_at is not None and at < facts.signed_at:
        return f"{label} {_local(at)} 不能早于签收时间 {_local(facts.signed_at)}"
    contact = facts.contact_at
    this_cycle = contact is not None and (facts.cycle_started_at is None or contact >= facts.cycle_started_at)
    if after_contact and contact is not None and this_cycle and at < contact:
        return f"{label} {_local(at)} 不能早于先行联系时间 {_local(contact)}"
    if is_late_entry(at, now) and _blank(late_reason):
        return f"{label} {_local(at)} 早于当前时间 1 小时以上，属于补录：请填写补录原因"
    return None


def _validate_platform_close(facts: OrderFacts, data: ActionInput, now: datetime, calendar: WorkCalendar) -> str | None:
    if data.verdict and data.verdict not in CLOSURE_VERDICTS:
        return f"结案评判应为 {' / '.join(CLOSURE_VERDICTS)} 之一，实际为「{data.verdict}」"
    return None


def _validate_reason(facts: OrderFacts, data: ActionInput, now: datetime, calendar: WorkCalendar) -> str | None:
    if _blank(data.reason):
        return "缺少理由说明"
    return None


def _validate_supervise(facts: OrderFacts, data: ActionInput, now: datetime, calendar: WorkCalendar) -> str | None:
    if _blank(data.reason):
        return "缺少督办事项说明"
    if data.due_at is not None and data.due_at <= now:
        return "督办期限必须晚于当前时间"
    return None


def _validate_redispatch(facts: OrderFacts, data: ActionInput, now: datetime, calendar: WorkCalendar) -> str | None:
    if _blank(data.street) and _blank(data.handling_unit):
        return "重新派单须指定街镇或承办单位"
    return None


VALIDATORS: Mapping[Action, Validator] = {
    A.CLOSE: _validate_close,
    A.PLATFORM_CLOSE: _validate_platform_close,
    A.REQUEST_RETURN: _validate_return,
    A.REQUEST_EXTENSION: _validate_extension,
    A.APPROVE_EXTENSION: _validate_approve_extension,
    A.FIRST_CONTACT: _validate_contact,
    A.REJECT_EXTENSION: _validate_reason,
    A.REJECT_RETURN: _validate_reason,
    A.REDO: _validate_reason,
    A.SUPERVISE: _validate_supervise,
    A.REDISPATCH: _validate_redispatch,
}


def allowed_actions(facts: OrderFacts, now: datetime) -> list[Action]:
    """The actions on offer to people for this order now, in table order (import-only ones left out)."""
    return [
        action
        for (state, action) in TRANSITIONS
        if state == facts.state
        and action not in PLATFORM_ONLY
        and (action not in GUARDS or GUARDS[action](facts, now) is None)
    ]


def decide(facts: OrderFacts, action: Action, data: ActionInput, now: datetime, calendar: WorkCalendar) -> State:
    """The state after ``action``; raises :class:`ActionRefused` with the reason otherwise."""
    reason: str | None
    if action is Action.DISPATCH:
        reason = "派单只在工单建立时发生"
    elif action is Action.UPDATE:
        reason = "信息更新不改变状态，请使用 update_details"
    elif action in NO_STATE_CHANGE:
        reason = "备注和附件不改变工单状态"
    elif (facts.state, action) not in TRANSITIONS:
        reason = "该状态下不允许此操作"
    else:
        guard = GUARDS.get(action)
        reason = guard(facts, now) if guard else None
        if reason is None and action in VALIDATORS:
            reason = VALIDATORS[action](facts, data, now, calendar)
    if reason is not None:
        raise ActionRefused(
            order_no=facts.order_no,
            state_label=STATE_LABELS[facts.state],
            action_label=ACTION_LABELS[action],
            reason=reason,
            allowed_labels=[ACTION_LABELS[a] for a in allowed_actions(facts, now)],
        )
    if (facts.state, action) in RESUMES_PREVIOUS and facts.resume_state is not None:
        return facts.resume_state
    return TRANSITIONS[(facts.state, action)]
