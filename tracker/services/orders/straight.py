"""A new order's recorded life built straight, for the step patterns exports carry day after day.

An import replays each new order's history through :func:`~tracker.services.orders.actions.transition`
over a memory store; for the common patterns (dispatched; signed; first contact; closed; a return asked
for and approved, and their combinations, see :data:`PATTERNS`) this module builds the same store
contents directly: the same order values, deadline rows and audit events, field for field. Each step is
still decided by the lifecycle (:func:`~tracker.domain.lifecycle.decide`); deadlines come from the same
rule table and calendar functions (``RuleTable.match``, ``try_compute_due``, ``set_platform_due``,
``end_stages``), notes and masking from the same helpers. Three small things are written out here beside
their originals, and the differential test holds them to those: the fields each action sets (``FIELDS``,
as ``actions._apply_fields``), the event (``_event``, as ``actions._event_values``) and a first-cycle
deadline row (``_Dues.stage_values``, as ``deadlines.stage_values``). What is left out is the generic
machinery: two snapshots and a diff per step, a context per step, the store's scans. The state recorded
is always the value the lifecycle returned (kept in the order's values until the draft is made).

Anything else (another pattern, a step the lifecycle refuses, a status the steps do not reach) returns
``None`` and the caller replays the order as before, so that every refusal and every inferred step keeps
its one source. A differential test (tests/services/test_import_straight.py) imports generated files both
ways and requires identical rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from tracker.domain.calendar import WorkCalendar
from tracker.domain.deadlines import DeadlineRule, RuleTable, StageDue, try_compute_due
from tracker.domain.errors import TrackerError
from tracker.domain.lifecycle import STAGE_EFFECTS, ActionInput, OrderFacts, decide
from tracker.domain.privacy import audit_value, mask_phones_in_text
from tracker.domain.vocabulary import Action, ExtensionStatus, Stage, State, Unit
from tracker.services.orders import deadlines as deadline_rows
from tracker.services.orders.actions import (
    ORDER_DEFAULTS,
    Context,
    MemoryStore,
    NewOrder,
    _late_entry,
    _note,
    opened_values,
)

SIGN, CONTACT, CLOSE = Action.SIGN, Action.FIRST_CONTACT, Action.PLATFORM_CLOSE
ASK_RETURN, APPROVE_RETURN = Action.REQUEST_RETURN, Action.APPROVE_RETURN

PATTERNS: frozenset[tuple[Action, ...]] = frozenset(
    signed + contact + end
    for signed in ((), (SIGN,))
    for contact in ((), (CONTACT,))
    for end in ((), (CLOSE,), (ASK_RETURN,), (ASK_RETURN, APPROVE_RETURN))
)
"""The step sequences built straight: [签收] [先行联系] then nothing, 办结, 退单申请, or 退单申请 + 批准.
In the sample exports (sample_orders/) they cover about 80 % of the rows (178 of 220, 70 of 90);
extensions, supervision, redo and a rejected return are replayed."""


class StepLike(Protocol):
    """One recorded step of an export row (the import's ``Step``)."""

    @property
    def at(self) -> datetime: ...

    @property
    def action(self) -> Action: ...

    @property
    def data(self) -> ActionInput: ...


class _Life:
    """The order being built: its values as a dict, its deadline rows (drafts), its events."""

    def __init__(self, store: MemoryStore, values: dict[str, Any], ctx: Context) -> None:
        self.store = store
        self.values = values
        self.ctx = ctx
        self.dues = _memo(ctx)

    def open_rows(self) -> list[Any]:
        return [row for row in self.store.rows if row.completed_at is None]

    def facts(self, open_rows: list[Any]) -> OrderFacts:
        """What :func:`facts_from` gives for this order (no extension, no redo in these patterns)."""
        values = self.values
        closing = deadline_rows.closing_deadline(open_rows)
        resume = values["return_from_state"]
        return OrderFacts(
            order_no=values["order_no"],
            state=State(values["state"]),
            dispatched_at=values["dispatched_at"],
            closure_due_at=closing.due_at if closing else None,
            extension_status=ExtensionStatus(values["extension_status"]),
            extension_requested_to=values["extension_requested_to"],
            cycle=values["cycle"],
            cycle_started_at=values["cycle_started_at"],
            resume_state=State(resume) if resume else None,
            signed_at=values["signed_at"],
            contact_at=values["contact_at"],
        )

    def step(self, action: Action, data: ActionInput, at: datetime) -> None:
        """One step as :func:`transition` takes it, its changes written out; raises what the lifecycle raises."""
        values, ctx = self.values, self.ctx
        open_rows = self.open_rows()
        next_state = decide(self.facts(open_rows), action, data, at, ctx.calendar)
        before_state = values["state"]
        dues_before = {row.stage: row.due_at for row in open_rows}
        done_at: dict[Stage, datetime] = {}
        fields = FIELDS[action](values, data, at, ctx.actor.name, done_at)
        effect = STAGE_EFFECTS[action]
        deadline_rows.end_stages(open_rows, effect=effect, at=at, done_at=done_at)
        state = next_state.value
        values["state"], values["updated_at"] = state, at
        for stage in effect.opens:
            row = self.dues.stage_values(stage, values["request_type"], values["urgency"], at)
            self.store.add_row(None, row)
        changes: dict[str, Any] = {}
        if before_state != state:
            changes["state"] = [before_state, state]
        for name, old, new in fields:
            if old != new:
                changes[name] = [
                    None if old is None else _audited(name, old),
                    None if new is None else _audited(name, new),
                ]
        dues_after = {row.stage: row.due_at for row in self.open_rows()}
        if dues_after != dues_before:
            for name in STAGES:
                old, new = dues_before.get(name), dues_after.get(name)
                if old != new:
                    changes[f"{name}_due_at"] = [_iso(old), _iso(new)]
        late = _late_entry(action, data, at, open_rows)
        if late is not None:
            changes["late_entry"] = audit_value("late_entry", late)
        self.store.add_event(None, _event(action, before_state, state, changes, ctx, at, _note(action, data)))


class _Dues:
    """Rule labels and due times already computed under one rule table and calendar.

    Both are pure functions of their inputs (the rule of a stage, request type and urgency; the due time of
    a start under a rule), and an export repeats them: a day's orders share a few rules and many start
    minutes. The values are those :func:`deadlines.stage_values` gives, for an order in its first cycle.
    """

    LIMIT = 100_000  # due times kept before starting over (memory stays bounded over a long file)

    def __init__(self, rules: RuleTable, calendar: WorkCalendar) -> None:
        self.rules, self.calendar = rules, calendar
        self.labels: dict[DeadlineRule, str] = {}
        self.due: dict[tuple[datetime, int, Unit], StageDue] = {}

    def stage_values(
        self, stage: Stage, request_type: str | None, urgency: str | None, start: datetime
    ) -> dict[str, Any]:
        rule = self.rules.match(stage, request_type=request_type, urgency=urgency)
        label = self.labels.get(rule)
        if label is None:
            label = self.labels[rule] = rule.label()
        key = (start, rule.amount, rule.unit)
        due = self.due.get(key)
        if due is None:
            if len(self.due) >= self.LIMIT:
                self.due.clear()
            due = self.due[key] = try_compute_due(start, rule.amount, rule.unit, self.calendar)
        return {
            "cycle": 1,
            "stage": stage.value,
            "started_at": start,
            "amount": rule.amount,
            "unit": rule.unit.value,
            "rule_label": label,
            "due_at": due.due_at,
            "due_error": due.error,
        }


_MEMO: list[_Dues] = []  # the last import's (it holds its rule table and calendar, so identity is safe)


def _memo(ctx: Context) -> _Dues:
    """The memo for this context's rule table and calendar (a new one when either is another object)."""
    if not _MEMO or _MEMO[0].rules is not ctx.rules or _MEMO[0].calendar is not ctx.calendar:
        _MEMO[:] = [_Dues(ctx.rules, ctx.calendar)]
    return _MEMO[0]


STAGES = tuple(stage.value for stage in Stage)  # the order of the due times in an event's changes


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _audited(name: str, value: Any) -> Any:
    """A changed value as the trail keeps it (:func:`audit_value`); a time is an ISO string, nothing to mask."""
    if isinstance(value, datetime):
        return value.isoformat()
    return audit_value(name, value)


def _event(
    action: Action, before: str | None, after: str, changes: dict[str, Any], ctx: Context, at: datetime, note: str
) -> dict[str, Any]:
    """The event ``actions._event_values`` writes, for an order in its first cycle."""
    return {
        "cycle": 1,
        "action": action.value,
        "state_before": before,
        "state_after": after,
        "actor": ctx.actor.id,
        "actor_name": ctx.actor.name,
        "source": ctx.actor.source,
        "at": at,
        "note": mask_phones_in_text(note),
        "changes": changes,
    }


Changed = list[tuple[str, Any, Any]]  # (audited field, before, after), in AUDITED_FIELDS order


def _sign(
    values: dict[str, Any], data: ActionInput, at: datetime, actor: str, done_at: dict[Stage, datetime]
) -> Changed:
    values["signed_at"] = at
    return [("signed_at", None, at)]


def _contact(
    values: dict[str, Any], data: ActionInput, at: datetime, actor: str, done_at: dict[Stage, datetime]
) -> Changed:
    names = ("contact_at", "contact_result", "contact_reason", "contact_person")
    before = [values[name] for name in names]
    values["contact_at"] = data.contact_at or at
    values["contact_result"] = data.contact_result
    values["contact_reason"] = data.contact_reason or None
    values["contact_person"] = data.contact_person or actor
    done_at[Stage.FIRST_CONTACT] = values["contact_at"]
    return [(name, old, values[name]) for name, old in zip(names, before, strict=True)]


def _close(
    values: dict[str, Any], data: ActionInput, at: datetime, actor: str, done_at: dict[Stage, datetime]
) -> Changed:
    names = ("extension_status", "reply", "verdict", "reply_method", "closed_at")
    before = [values[name] for name in names]
    if values["extension_status"] == ExtensionStatus.REQUESTED.value:
        values["extension_status"] = ExtensionStatus.CANCELLED.value
    values["reply"] = data.reply if data.reply.strip() else values["reply"]
    values["verdict"] = data.verdict or values["verdict"]
    values["reply_method"] = data.reply_method or values["reply_method"]
    values["closed_at"] = data.closed_at or at
    if data.closed_at is not None:
        for stage in (Stage.CLOSURE, Stage.REDO, Stage.SUPERVISION):
            done_at[stage] = data.closed_at
    return [(name, old, values[name]) for name, old in zip(names, before, strict=True)]


def _ask_return(
    values: dict[str, Any], data: ActionInput, at: datetime, actor: str, done_at: dict[Stage, datetime]
) -> Changed:
    names = ("return_count", "return_reason_code", "return_basis")
    before = [values[name] for name in names]
    values["return_from_state"] = values["state"]
    values["return_count"] += 1
    values["return_reason_code"] = data.reason_code
    values["return_basis"] = data.basis if data.basis.strip() else ""
    return [(name, old, values[name]) for name, old in zip(names, before, strict=True)]


def _nothing(
    values: dict[str, Any], data: ActionInput, at: datetime, actor: str, done_at: dict[Stage, datetime]
) -> Changed:
    return []


FIELDS = {SIGN: _sign, CONTACT: _contact, CLOSE: _close, ASK_RETURN: _ask_return, APPROVE_RETURN: _nothing}
"""The order fields each straight-built action sets, as ``actions._apply_fields`` sets them, with their
values before and after (the audited ones, in the order the trail lists them)."""


def plan_straight(
    data: NewOrder, steps: Sequence[StepLike], status: State | None, ctx: Context, note: str
) -> MemoryStore | None:
    """The memory store :func:`open_order` and one :func:`transition` per step would fill, or ``None``.

    ``None`` when the steps are not one of :data:`PATTERNS`, when the lifecycle refuses a step, or when
    the export's ``status`` is not where the steps end: the caller replays those.
    """
    if tuple(step.action for step in steps) not in PATTERNS:
        return None
    store = MemoryStore()
    values = _opened(data, ctx)
    life = _Life(store, values, ctx)
    try:
        _open_rows(life, data)
        store.add_event(None, _event(Action.DISPATCH, None, values["state"], {}, ctx, data.dispatched_at, note))
        for step in steps:
            life.step(step.action, step.data, step.at)
    except TrackerError:
        return None  # the replay raises it, with the row's column and value
    if status is not None and values["state"] != status.value:
        return None  # a status ahead of the steps: the replay infers the missing step
    store.new_order(values)
    return store


def _opened(data: NewOrder, ctx: Context) -> dict[str, Any]:
    """The order's values as :func:`open_order` gives them, plus the fields later steps set."""
    return {**ORDER_DEFAULTS, **opened_values(data, data.dispatched_at)}


def _open_rows(life: _Life, data: NewOrder) -> None:
    """The deadlines the dispatch opens (first contact, closure), the platform's 处理时限 applied."""
    for stage in STAGE_EFFECTS[Action.DISPATCH].opens:
        values = life.dues.stage_values(stage, data.request_type, data.urgency, data.dispatched_at)
        row = life.store.add_row(None, values)
        if stage is Stage.CLOSURE and data.platform_due_at is not None:
            deadline_rows.set_platform_due(row, data.platform_due_at)
