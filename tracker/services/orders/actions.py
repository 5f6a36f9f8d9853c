"""The one door for order state: create an order, apply a lifecycle action, write the audit event.

One piece: every change of an order's state passes here, with its deadline effects, its audit event,
the 补录 check of a recorded time and the notices its street is told, in one transaction; split, a
caller could change state through one half without the other.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime
from operator import attrgetter
from types import SimpleNamespace
from typing import Any

from pydantic_core import PydanticUndefined
from sqlmodel import Session, col, select

from tracker.domain.calendar import WorkCalendar
from tracker.domain.deadlines import RuleTable, end_of_local_day
from tracker.domain.labels import format_local
from tracker.domain.lifecycle import (
    INITIAL_STATE,
    NO_STATE_CHANGE,
    STAGE_EFFECTS,
    ActionInput,
    OrderFacts,
    allowed_actions,
    decide,
    is_late_entry,
)
from tracker.domain.privacy import audit_changes, mask_phones_in_text
from tracker.domain.vocabulary import Action, ExtensionStatus, Stage, State, Unit
from tracker.models import Order, OrderDeadline, OrderEvent
from tracker.services.accounts import Actor
from tracker.services.orders import deadlines as deadline_rows
from tracker.services.orders import notices

AUDITED_FIELDS = (
    "state",
    "cycle",
    "street",
    "handling_unit",
    "dispatched_at",
    "signed_at",
    "contact_at",
    "contact_result",
    "contact_reason",
    "contact_person",
    "extension_status",
    "extension_reason",
    "extension_requested_to",
    "return_count",
    "return_reason_code",
    "return_basis",
    "reply",
    "verdict",
    "reply_method",
    "closed_at",
)


@dataclass(frozen=True)
class NewOrder:
    """The facts of an order as dispatched by the platform."""

    source: str
    order_no: str
    dispatched_at: datetime
    received_at: datetime | None = None
    request_type: str | None = None
    urgency: str | None = None
    category: str | None = None
    content: str | None = None
    address: str | None = None
    street: str | None = None
    handling_unit: str | None = None
    complainant: str | None = None
    phone: str | None = None
    satisfaction: str | None = None
    is_repeat: bool = False
    repeat_of: str | None = None
    platform_due_at: datetime | None = None
    extras: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Context:
    """What every state change needs: who, when, and the rules and calendar in force."""

    actor: Actor
    now: datetime
    calendar: WorkCalendar
    rules: RuleTable


def find_order(session: Session, *, source: str, order_no: str) -> Order | None:
    """The order with this natural key, if any."""
    return session.exec(select(Order).where(Order.source == source, Order.order_no == order_no)).first()


class Draft(SimpleNamespace):
    """An order or deadline row planned in memory (bulk import), written later in one batch."""


ORDER_DEFAULTS: dict[str, Any] = {
    name: info.default
    for name, info in Order.model_fields.items()
    if info.default is not PydanticUndefined and info.default_factory is None
}
ROW_DEFAULTS: dict[str, Any] = {
    name: info.default
    for name, info in OrderDeadline.model_fields.items()
    if info.default is not PydanticUndefined and info.default_factory is None
}


class SessionStore:
    """Where state changes land in the normal case: ORM objects in the session."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def new_order(self, values: dict[str, Any]) -> Any:
        order = Order(**values)
        self.session.add(order)
        self.session.flush()
        return order

    def open_rows(self, order: Any) -> list[Any]:
        return deadline_rows.open_deadlines(self.session, order)

    def add_row(self, order: Any, values: dict[str, Any]) -> Any:
        row = OrderDeadline(order_id=order.id, **values)
        self.session.add(row)
        return row

    def add_event(self, order: Any, values: dict[str, Any]) -> None:
        self.session.add(OrderEvent(order_id=order.id, **values))

    def done(self) -> None:
        self.session.flush()


class MemoryStore:
    """Where a new order's life is planned without the database: one order, its rows, its events."""

    def __init__(self) -> None:
        self.order: Any = None
        self.rows: list[Any] = []
        self.events: list[dict[str, Any]] = []

    def new_order(self, values: dict[str, Any]) -> Any:
        self.order = Draft(**{**ORDER_DEFAULTS, **values, "id": None})
        return self.order

    def open_rows(self, order: Any) -> list[Any]:
        return [row for row in self.rows if row.completed_at is None]

    def add_row(self, order: Any, values: dict[str, Any]) -> Any:
        row = Draft(**{**ROW_DEFAULTS, **values, "id": None})
        self.rows.append(row)
        return row

    def add_event(self, order: Any, values: dict[str, Any]) -> None:
        self.events.append(values)

    def done(self) -> None:
        pass


Store = SessionStore | MemoryStore


def create_order(session: Session, *, data: NewOrder, ctx: Context, note: str = "") -> Order:
    """Create a dispatched order, open its first-contact and closure deadlines, record 派单; flushes."""
    order: Order = open_order(SessionStore(session), data=data, ctx=ctx, note=note)
    return order


def opened_values(data: NewOrder, at: datetime) -> dict[str, Any]:
    """An order's values as dispatched (派单), created and updated ``at``: what :func:`open_order` stores."""
    return {
        "source": data.source,
        "order_no": data.order_no,
        "state": INITIAL_STATE.value,
        "dispatched_at": data.dispatched_at,
        "cycle_started_at": data.dispatched_at,
        "received_at": data.received_at,
        "request_type": data.request_type,
        "urgency": data.urgency,
        "category": data.category,
        "content": data.content,
        "address": data.address,
        "street": data.street,
        "handling_unit": data.handling_unit,
        "complainant": data.complainant,
        "phone": data.phone,
        "satisfaction": data.satisfaction,
        "is_repeat": data.is_repeat,
        "repeat_of": data.repeat_of,
        "address_key": address_key(data.address),
        "extras": dict(data.extras),
        "created_at": at,
        "updated_at": at,
    }


def open_order(store: Store, *, data: NewOrder, ctx: Context, note: str = "") -> Any:
    """The order as dispatched, in ``store``: its first deadlines and the 派单 event."""
    order = store.new_order(opened_values(data, ctx.now))
    for stage in STAGE_EFFECTS[Action.DISPATCH].opens:
        values = deadline_rows.stage_values(
            order, stage=stage, start=data.dispatched_at, rules=ctx.rules, calendar=ctx.calendar
        )
        row = store.add_row(order, values)
        if stage is Stage.CLOSURE and data.platform_due_at is not None:
            deadline_rows.set_platform_due(row, data.platform_due_at)
    store.add_event(order, _event_values(order, Action.DISPATCH, None, {}, ctx, note))
    store.done()
    return order


def facts_of(session: Session, order: Order) -> OrderFacts:
    """The lifecycle's view of an order."""
    return facts_from(order, deadline_rows.open_deadlines(session, order))


def facts_from(order: Any, open_rows: list[Any]) -> OrderFacts:
    """The lifecycle's view of an order, given its open deadline rows."""
    closing = deadline_rows.closing_deadline(open_rows)
    return OrderFacts(
        order_no=order.order_no,
        state=State(order.state),
        dispatched_at=order.dispatched_at,
        closure_due_at=closing.due_at if closing else None,
        extension_status=ExtensionStatus(order.extension_status),
        extension_requested_to=order.extension_requested_to,
        cycle=order.cycle,
        cycle_started_at=order.cycle_started_at,
        resume_state=State(order.return_from_state) if order.return_from_state else None,
        signed_at=getattr(order, "signed_at", None),
        contact_at=getattr(order, "contact_at", None),
    )


def available_actions(session: Session, order: Order, *, now: datetime) -> list[Action]:
    """What may happen to this order now (what the UI offers)."""
    return allowed_actions(facts_of(session, order), now)


def apply_action(session: Session, *, order: Order, action: Action, data: ActionInput, ctx: Context) -> Order:
    """Check ``action`` against the lifecycle, apply it, move deadlines and write one event; flushes."""
    transition(SessionStore(session), order=order, action=action, data=data, ctx=ctx)
    return order


def transition(store: Store, *, order: Any, action: Action, data: ActionInput, ctx: Context) -> None:
    """The one place an order's state changes: decide, set fields, move deadlines, record the event."""
    open_rows = store.open_rows(order)
    next_state = decide(facts_from(order, open_rows), action, data, ctx.now, ctx.calendar)
    before = _snapshot(order, open_rows)
    done_at: dict[Stage, datetime] = {}
    _apply_fields(order, action, data, ctx, done_at)
    if action is Action.APPROVE_EXTENSION:
        _extend_closing_deadline(open_rows, order.extension_requested_to)
    effect = STAGE_EFFECTS[action]
    deadline_rows.end_stages(open_rows, effect=effect, at=ctx.now, done_at=done_at)
    order.state = next_state.value
    order.updated_at = ctx.now
    for stage in effect.opens:
        values = deadline_rows.stage_values(
            order,
            stage=stage,
            start=ctx.now,
            rules=ctx.rules,
            calendar=ctx.calendar,
            fixed_due=data.due_at if stage is Stage.SUPERVISION else None,
            fixed_label=f"督办人指定期限 {format_local(data.due_at)}" if data.due_at else "",
        )
        store.add_row(order, values)
    after = _snapshot(order, store.open_rows(order))
    changes: dict[str, Any] = {
        name: [_jsonable(before[name]), _jsonable(after[name])] for name in before if before[name] != after[name]
    }
    late = _late_entry(action, data, ctx.now, open_rows)
    if late is not None:
        changes["late_entry"] = late
    store.add_event(order, _event_values(order, action, State(before["state"]), changes, ctx, _note(action, data)))
    if isinstance(store, SessionStore) and action in notices.NOTICE_ACTIONS:  # the squad's groups hear of it
        rows = store.open_rows(order)
        notices.enqueue_order_notice(store.session, order=order, action=action, open_rows=rows, now=ctx.now)
    store.done()


def _apply_fields(order: Any, action: Action, data: ActionInput, ctx: Context, done_at: dict[Stage, datetime]) -> None:
    """The order's own fields that an action sets."""
    now = ctx.now
    if action is Action.SIGN:
        order.signed_at = now
    elif action is Action.FIRST_CONTACT:
        order.contact_at = data.contact_at or now
        order.contact_result = data.contact_result
        order.contact_reason = data.contact_reason or None
        order.contact_person = data.contact_person or ctx.actor.name
        done_at[Stage.FIRST_CONTACT] = order.contact_at
    elif action is Action.REQUEST_EXTENSION:
        order.extension_status = ExtensionStatus.REQUESTED.value
        order.extension_reason = data.reason if data.reason.strip() else ""  # free text as written
        order.extension_requested_to = data.new_due_date
    elif action is Action.APPROVE_EXTENSION:
        order.extension_status = ExtensionStatus.APPROVED.value
    elif action is Action.REJECT_EXTENSION:
        order.extension_status = ExtensionStatus.REJECTED.value
    elif action is Action.REQUEST_RETURN:
        order.return_from_state = order.state
        order.return_count += 1
        order.return_reason_code = data.reason_code
        order.return_basis = data.basis if data.basis.strip() else ""
    elif action in (Action.CLOSE, Action.PLATFORM_CLOSE):
        if order.extension_status == ExtensionStatus.REQUESTED.value:
            order.extension_status = ExtensionStatus.CANCELLED.value
        order.reply = data.reply if data.reply.strip() else order.reply
        order.verdict = data.verdict or order.verdict
        order.reply_method = data.reply_method or order.reply_method
        order.closed_at = data.closed_at or now
        if data.closed_at is not None:  # a closure recorded later: its stages ended when it happened
            for stage in (Stage.CLOSURE, Stage.REDO, Stage.SUPERVISION):
                done_at[stage] = data.closed_at
    elif action is Action.REDO:
        # the closed cycle's reply and verdict stay in this event's changes and on the detail page
        order.cycle += 1
        order.cycle_started_at = now
        order.reply = order.verdict = order.reply_method = None
        order.closed_at = None
    elif action is Action.REDISPATCH:
        # a new squad starts a new cycle; the platform's 派单时间 stays as it was
        order.cycle += 1
        order.cycle_started_at = now
        order.street = data.street.strip() or order.street
        order.handling_unit = data.handling_unit.strip() or order.handling_unit
        order.return_from_state = None
        order.signed_at = None
        order.contact_at = order.contact_result = order.contact_reason = order.contact_person = None
        order.extension_status = ExtensionStatus.NONE.value
        order.extension_reason = order.extension_requested_to = None


DETAIL_FIELDS = (
    "received_at",
    "request_type",
    "urgency",
    "category",
    "content",
    "address",
    "street",
    "handling_unit",
    "complainant",
    "phone",
    "satisfaction",
    "is_repeat",
    "repeat_of",
)


def update_details(
    session: Session,
    *,
    order: Order,
    values: dict[str, Any],
    ctx: Context,
    platform_due_at: datetime | None = None,
    extras: dict[str, Any] | None = None,
    note: str = "",
) -> dict[str, Any]:
    """Change an order's details (not its state); blanks never overwrite; one 信息更新 event when anything changed."""
    store = SessionStore(session)
    return revise_details(
        store, order=order, values=values, ctx=ctx, platform_due_at=platform_due_at, extras=extras, note=note
    )


def revise_details(
    store: Store,
    *,
    order: Any,
    values: dict[str, Any],
    ctx: Context,
    platform_due_at: datetime | None = None,
    extras: dict[str, Any] | None = None,
    note: str = "",
) -> dict[str, Any]:
    """:func:`update_details` in any store (the import replays known orders in memory); flushes a session's."""
    changes: dict[str, Any] = {}
    for name, value in values.items():
        if name not in DETAIL_FIELDS:
            raise ValueError(f"{name} is not a detail field")
        if value in (None, "") or getattr(order, name) == value:
            continue
        changes[name] = [_jsonable(getattr(order, name)), _jsonable(value)]
        setattr(order, name, value)
        if name == "address":
            order.address_key = address_key(value)
    if platform_due_at is not None:
        row = deadline_rows.closing_deadline(store.open_rows(order))
        if row is not None and row.platform_due_at != platform_due_at:
            changes["closure_due_at"] = [_jsonable(row.due_at), _jsonable(platform_due_at)]
            deadline_rows.set_platform_due(row, platform_due_at)
    if extras:
        changed = {k: v for k, v in extras.items() if v not in (None, "") and order.extras.get(k) != v}
        if changed:
            changes["extras"] = [{k: order.extras.get(k) for k in changed}, changed]
            order.extras = {**order.extras, **changed}
    if changes:
        order.updated_at = ctx.now
        store.add_event(order, _event_values(order, Action.UPDATE, State(order.state), changes, ctx, note))
        store.done()
    return changes


def record_event(session: Session, *, order: Order, action: Action, ctx: Context, note: str) -> None:
    """The audit event of something that does not move the order (a note, an attachment added or withdrawn); flushes.

    The order itself is left as it is (not even ``updated_at``): the event is the whole record.
    """
    if action not in NO_STATE_CHANGE:
        raise ValueError(f"{action} changes an order: use apply_action")
    SessionStore(session).add_event(order, _event_values(order, action, State(order.state), {}, ctx, note))
    session.flush()


def address_key(address: str | None) -> str | None:
    """An address reduced for comparison: no spaces or punctuation, no city and district prefix."""
    if not address:
        return None
    text = unicodedata.normalize("NFKC", address)
    text = re.sub(r"[\s\W_]+", "", text)
    text = re.sub(r"^(上海市)?(静安区)?", "", text)
    return text or None


def _extend_closing_deadline(open_rows: list[Any], new_date: date | None) -> None:
    row = deadline_rows.closing_deadline(open_rows)
    if row is None or new_date is None:
        return
    row.original_due_at = row.due_at
    row.due_at = end_of_local_day(new_date)
    row.due_error = None
    row.unit = Unit.FIXED.value
    row.rule_label = f"{row.rule_label}；已批准延期至 {new_date.isoformat()}"


def _late_entry(action: Action, data: ActionInput, now: datetime, open_rows: list[Any]) -> dict[str, Any] | None:
    """补录: a step recorded more than an hour after it happened (the event's ``changes.late_entry``).

    The recorded time is what counts for the deadline (README "补录"); the entry says when it
    happened, why it is entered only now, and whether the deadline it met had already passed when
    it was entered, so that a supervisor sees it in the trail and can check it.
    """
    recorded = {Action.FIRST_CONTACT: data.contact_at, Action.CLOSE: data.closed_at}.get(action)
    if recorded is None or not is_late_entry(recorded, now):
        return None
    stage = Stage.FIRST_CONTACT if action is Action.FIRST_CONTACT else Stage.CLOSURE
    due = next((row.due_at for row in open_rows if row.stage == stage.value and row.due_at is not None), None)
    return {
        "recorded_at": recorded.isoformat(),
        "reason": data.late_reason.strip(),
        "due_passed_at_entry": bool(due is not None and recorded <= due < now),
    }


def _note(action: Action, data: ActionInput) -> str:
    parts = [data.note.strip()] if data.note.strip() else []
    if action is Action.REQUEST_RETURN:
        parts.append(f"退单原因：{data.reason_code}；依据：{data.basis.strip()}")
    elif data.reason.strip():
        parts.append(data.reason.strip())
    return "；".join(parts)


_NO_DUES = dict.fromkeys(f"{stage.value}_due_at" for stage in Stage)


_AUDITED = attrgetter(*AUDITED_FIELDS)


def _snapshot(order: Any, open_rows: list[Any]) -> dict[str, Any]:
    """The audited fields plus the due time of each open stage (so deadline moves are in the trail)."""
    snapshot = dict(zip(AUDITED_FIELDS, _AUDITED(order), strict=True))
    snapshot.update(_NO_DUES)
    for row in open_rows:
        snapshot[f"{row.stage}_due_at"] = row.due_at
    return snapshot


def _jsonable(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def _event_values(
    order: Any, action: Action, before: State | None, changes: dict[str, Any], ctx: Context, note: str
) -> dict[str, Any]:
    """The audit event of one action (order_id is added by the store)."""
    return {
        "cycle": order.cycle,
        "action": action.value,
        "state_before": before.value if before else None,
        "state_after": order.state,
        "actor": ctx.actor.id,
        "actor_name": ctx.actor.name,
        "source": ctx.actor.source,
        "at": ctx.now,
        "note": mask_phones_in_text(note),
        "changes": audit_changes(changes),  # personal values masked: retention never has to touch the trail
    }


def events_of(session: Session, order: Order) -> list[OrderEvent]:
    """The order's audit trail, oldest first."""
    return list(
        session.exec(select(OrderEvent).where(OrderEvent.order_id == order.id).order_by(col(OrderEvent.id))).all()
    )
