"""An order the tracker already knows, met again in an export: follow the platform, or report a conflict.

The platform is the authority on what it reports: details it changed are taken (blanks never
overwrite), steps it recorded that the tracker lacks are applied at their own times, and its
status is followed where it is ahead. What contradicts the tracker (a closure lost, a returned
order closed elsewhere, a recorded step the lifecycle refuses) is a conflict: the row changes
nothing and the report says why.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from tracker.domain.labels import ACTION_LABELS, STATE_LABELS
from tracker.domain.lifecycle import ActionInput
from tracker.domain.vocabulary import Action, ExtensionStatus, State
from tracker.models import Order, OrderEvent
from tracker.services.imports.plan import apply_step, reach_status
from tracker.services.imports.rows import ParsedRow, RowError, RowProblem, Step
from tracker.services.orders import DETAIL_FIELDS, Context, SessionStore, Store, revise_details

RANK = {State.DISPATCHED: 0, State.HANDLING: 1, State.RETURN_REQUESTED: 2, State.RETURNED: 3, State.CLOSED: 3}


class Conflict(Exception):
    """The export contradicts the tracker; the row is rolled back and reported."""

    def __init__(self, error: RowError) -> None:
        super().__init__(str(error))
        self.error = error


@dataclass(frozen=True)
class Outcome:
    """What reconciling one row did."""

    changed: bool


def reconcile(session: Session, order: Order, parsed: ParsedRow, ctx: Context) -> Outcome:
    """Bring a known order in line with its export row; raises :class:`Conflict` or :class:`RowProblem`."""
    events = session.exec(select(OrderEvent).where(OrderEvent.order_id == order.id).order_by(col(OrderEvent.id))).all()
    return replay(SessionStore(session), order, parsed, ctx, events)


def replay(store: Store, order: Any, parsed: ParsedRow, ctx: Context, events: Sequence[Any]) -> Outcome:
    """:func:`reconcile` in any store, given the order's events so far (oldest first: action, at, source).

    The import replays a chunk's known orders in memory (``updates``); a refusal raises before anything
    is written, and the caller discards what the store holds.
    """
    state = State(order.state)
    target = parsed.status or _state_from_steps(parsed, order)
    _refuse_contradictions(order, state, target, parsed)
    data = parsed.order
    changes = revise_details(
        store,
        order=order,
        values={name: getattr(data, name) for name in DETAIL_FIELDS if name != "is_repeat"}
        | ({"is_repeat": True} if data.is_repeat else {}),  # a repeat flag is never taken back by a blank
        platform_due_at=data.platform_due_at,
        extras=data.extras,
        ctx=ctx,
        note=f"导入：第 {parsed.number} 行",
    )
    steps = list(parsed.steps)
    redispatched = order.state == State.RETURNED and target in (State.DISPATCHED, State.HANDLING)
    if redispatched:  # the platform dispatched the returned order again: a new cycle starts at its 派单时间
        value = parsed.raw.get("派单时间", "")
        data_in = ActionInput(street=data.street or order.street or "", handling_unit=data.handling_unit or "")
        steps = [s for s in steps if s.at > data.dispatched_at]
        steps.insert(0, Step(data.dispatched_at, Action.REDISPATCH, data_in, "派单时间", value))
    done = {(e.action, e.at) for e in events}
    applied = 0
    for step in steps:
        if (step.action.value, step.at) in done or _tracker_has(order, step):
            continue
        try:
            apply_step(store, order, step.action, step.data, ctx, step.at, step.column, step.value)
        except RowProblem as problem:
            label = ACTION_LABELS[step.action]
            refusal = problem.error.reason.rstrip("。")
            reason = f"导出记录的「{label}」无法在本系统中执行：{refusal}；本行未改动，请核实"
            raise Conflict(RowError(parsed.number, step.column, step.value, reason, parsed.order_no)) from None
        applied += 1
    if parsed.status is not None and order.state != parsed.status:
        applied += _follow_status(store, order, parsed, ctx, events)
    order.import_hash = parsed.digest
    order.line_hash = parsed.line_hash  # None after a spreadsheet: a stale line digest must not match later
    return Outcome(changed=bool(changes) or applied > 0)


def _follow_status(store: Store, order: Any, parsed: ParsedRow, ctx: Context, events: Any) -> int:
    """Follow the export's status where it is ahead; a return the platform turned down is rejected."""
    target = parsed.status
    assert target is not None
    state = State(order.state)
    if state is State.RETURN_REQUESTED and target in (State.DISPATCHED, State.HANDLING):
        requests = [e for e in events if e.action == Action.REQUEST_RETURN.value]
        if requests and requests[-1].source == "import":  # asked on the platform, now back: not approved there
            reason = f"平台导出状态为「{STATE_LABELS[target]}」，退单未获批准"
            apply_step(
                store,
                order,
                Action.REJECT_RETURN,
                ActionInput(reason=reason),
                ctx,
                ctx.now,
                "工单状态",
                parsed.raw.get("工单状态", ""),
            )
            return 1
        return 0  # asked here, the platform has not caught up yet
    if RANK[state] < RANK[target]:
        reach_status(store, order, parsed, ctx)
        return 1
    return 0  # the tracker is ahead of the export


def _state_from_steps(parsed: ParsedRow, order: Order) -> State:
    """Where the row leads in a layout without a status column."""
    closing = [s for s in parsed.steps if s.action is Action.PLATFORM_CLOSE]
    if closing:
        last = parsed.steps[-1].action
        return State.HANDLING if last is Action.REDO else State.CLOSED
    if order.state == State.CLOSED and "办结时间" in parsed.raw:
        return State.HANDLING  # the closure column is there and blank: the closure is gone
    return State(order.state)


def _refuse_contradictions(order: Order, state: State, target: State, parsed: ParsedRow) -> None:
    redo_after_close = any(
        s.action is Action.REDO and order.closed_at is not None and s.at > order.closed_at for s in parsed.steps
    )
    reason = None
    if state is State.CLOSED and target is not State.CLOSED and not redo_after_close:
        shown = STATE_LABELS[target] if parsed.status else "无办结时间"
        reason = f"本系统中该工单已办结，导出却为「{shown}」（办结被撤销？）；未改动，请核实"
    elif state is State.RETURNED and target is State.CLOSED:
        reason = "本系统中该工单已退单，导出却为「已办结」；未改动，请核实"
    elif (
        state is State.RETURNED
        and target in (State.DISPATCHED, State.HANDLING)
        and parsed.order.dispatched_at <= order.cycle_started_at
    ):
        reason = f"本系统中该工单已退单，导出却为「{STATE_LABELS[target]}」且没有新的派单时间；未改动，请核实"
    if reason:
        value = parsed.raw.get("工单状态", "") or parsed.raw.get("办结时间", "")
        raise Conflict(RowError(parsed.number, "工单状态", value, reason, parsed.order_no))


def _tracker_has(order: Order, step: Step) -> bool:
    """Whether the tracker already holds what this step records (entered here before the export showed it)."""
    if step.action is Action.SIGN:
        return order.signed_at is not None or order.state != State.DISPATCHED
    if step.action is Action.FIRST_CONTACT:
        return order.contact_at is not None
    if step.action is Action.REQUEST_EXTENSION:
        return order.extension_status != ExtensionStatus.NONE.value
    if step.action in (Action.APPROVE_EXTENSION, Action.REJECT_EXTENSION):
        return order.extension_status != ExtensionStatus.REQUESTED.value
    if step.action is Action.REQUEST_RETURN:
        return order.state in (State.RETURN_REQUESTED, State.RETURNED)
    if step.action in (Action.APPROVE_RETURN, Action.REJECT_RETURN):
        return order.state != State.RETURN_REQUESTED
    if step.action is Action.PLATFORM_CLOSE:
        return order.closed_at is not None and step.at <= order.closed_at
    return False
