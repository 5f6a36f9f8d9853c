"""The one door: actions through the orders service move state and deadlines and write the audit trail."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import exc, text
from sqlmodel import Session, select

from tests.helpers import local
from tracker.domain.errors import ActionRefused
from tracker.domain.labels import FIELD_LABELS
from tracker.domain.lifecycle import ActionInput
from tracker.domain.vocabulary import Action, Outcome, Stage, State
from tracker.models import Order, OrderDeadline, OrderEvent
from tracker.services.accounts.actors import Actor
from tracker.services.orders import deadlines as deadline_rows
from tracker.services.orders.actions import apply_action, available_actions, events_of

CLOSE = ActionInput(reply="经现场查看，已责令整改。", verdict="实际解决", reply_method="电话")


def stages(session: Session, order: Order) -> dict[tuple[int, str], tuple[str, str | None]]:
    """(cycle, stage) → (due, outcome) in Beijing time, for readable assertions."""
    from tracker.domain.labels import format_local

    return {
        (r.cycle, r.stage): (format_local(r.due_at), r.outcome) for r in deadline_rows.all_deadlines(session, order)
    }


def test_dispatch_opens_first_contact_and_closure_deadlines(session: Session, new_order) -> None:  # type: ignore[no-untyped-def]
    order = new_order("2026-02-13 10:00")
    assert order.state == State.DISPATCHED
    assert stages(session, order) == {
        (1, "first_contact"): ("2026-02-14 23:59", None),
        (1, "closure"): ("2026-02-27 23:59", None),
    }
    [event] = events_of(session, order)
    assert (event.action, event.state_before, event.state_after) == ("dispatch", None, "dispatched")
    assert (event.actor, event.actor_name, event.source) == ("import:t1", "导入批次 t1", "import")


def test_an_urgent_order_must_be_contacted_within_two_hours(session: Session, new_order) -> None:  # type: ignore[no-untyped-def]
    order = new_order("2026-11-20 10:00", urgency="紧急")
    assert stages(session, order)[(1, "first_contact")] == ("2026-11-20 12:00", None)


def test_full_life_with_late_closure_kept_after_redo(session: Session, new_order, make_ctx) -> None:  # type: ignore[no-untyped-def]
    order = new_order("2026-11-16 09:00")  # Monday; closure due Mon 11-23
    apply_action(session, order=order, action=Action.SIGN, data=ActionInput(), ctx=make_ctx("2026-11-16 09:30"))
    apply_action(
        session,
        order=order,
        action=Action.FIRST_CONTACT,
        data=ActionInput(contact_result="已联", contact_at=local("2026-11-16 10:00")),
        ctx=make_ctx("2026-11-16 11:00"),
    )
    apply_action(session, order=order, action=Action.CLOSE, data=CLOSE, ctx=make_ctx("2026-11-24 10:00"))
    assert order.state == State.CLOSED
    assert stages(session, order) == {
        (1, "first_contact"): ("2026-11-17 23:59", Outcome.MET),
        (1, "closure"): ("2026-11-23 23:59", Outcome.LATE),
    }
    apply_action(
        session,
        order=order,
        action=Action.REDO,
        data=ActionInput(reason="回访不满意"),
        ctx=make_ctx("2026-11-25 09:00"),
    )
    assert (order.state, order.cycle, order.closed_at, order.verdict) == (State.HANDLING, 2, None, None)
    assert stages(session, order)[(2, "redo")] == ("2026-11-30 23:59", None)  # 3 working days from Wed
    assert stages(session, order)[(1, "closure")] == ("2026-11-23 23:59", Outcome.LATE)  # "was late" survives
    apply_action(session, order=order, action=Action.CLOSE, data=CLOSE, ctx=make_ctx("2026-11-27 15:00"))
    assert stages(session, order)[(2, "redo")] == ("2026-11-30 23:59", Outcome.MET)
    actions = [e.action for e in events_of(session, order)]
    assert actions == ["dispatch", "sign", "first_contact", "close", "redo", "close"]


def test_events_record_state_change_actor_and_changed_fields(session: Session, new_order, make_ctx) -> None:  # type: ignore[no-untyped-def]
    order = new_order("2026-11-16 09:00")
    apply_action(session, order=order, action=Action.SIGN, data=ActionInput(), ctx=make_ctx("2026-11-16 09:30"))
    apply_action(session, order=order, action=Action.CLOSE, data=CLOSE, ctx=make_ctx("2026-11-17 10:00"))
    event = events_of(session, order)[-1]
    assert (event.state_before, event.state_after, event.cycle) == ("handling", "closed", 1)
    assert (event.actor, event.actor_name, event.source) == ("user:7", "静安寺街道执法队 张三", "web")
    assert event.at == local("2026-11-17 10:00")
    assert event.changes["state"] == ["handling", "closed"]
    assert event.changes["verdict"] == [None, "实际解决"]
    assert event.changes["closed_at"][1].startswith("2026-11-17T02:00:00")
    assert set(event.changes) <= set(FIELD_LABELS)  # every audited field has a Chinese label


def test_a_refused_action_changes_nothing(session: Session, new_order, make_ctx) -> None:  # type: ignore[no-untyped-def]
    order = new_order("2026-11-16 09:00")
    session.commit()
    with pytest.raises(ActionRefused) as refused:
        apply_action(session, order=order, action=Action.CLOSE, data=CLOSE, ctx=make_ctx("2026-11-16 10:00"))
    assert "工单 SH202602130001（当前状态：待签收）不能执行「办结」" in str(refused.value)
    assert order.state == State.DISPATCHED
    assert len(events_of(session, order)) == 1


def test_extension_request_approval_moves_the_closure_deadline(session: Session, new_order, make_ctx) -> None:  # type: ignore[no-untyped-def]
    order = new_order("2026-11-16 09:00")
    apply_action(session, order=order, action=Action.SIGN, data=ActionInput(), ctx=make_ctx("2026-11-16 09:30"))
    apply_action(
        session,
        order=order,
        action=Action.REQUEST_EXTENSION,
        data=ActionInput(reason="需联合执法", new_due_date=date(2026, 11, 27)),
        ctx=make_ctx("2026-11-18 10:00"),
    )
    assert stages(session, order)[(1, "extension_decision")] == ("2026-11-19 23:59", None)
    approver = Actor(id="user:1", name="区局 李督察", source="web")
    apply_action(
        session,
        order=order,
        action=Action.APPROVE_EXTENSION,
        data=ActionInput(),
        ctx=make_ctx("2026-11-18 15:00", approver),
    )
    [closure] = [r for r in deadline_rows.all_deadlines(session, order) if r.stage == "closure"]
    assert closure.due_at == local("2026-11-27 23:59:59")
    assert closure.original_due_at == local("2026-11-23 23:59:59")
    assert closure.unit == "fixed"
    assert "已批准延期至 2026-11-27" in closure.rule_label
    assert stages(session, order)[(1, "extension_decision")][1] == Outcome.MET
    assert Action.REQUEST_EXTENSION not in available_actions(session, order, now=local("2026-11-19 10:00"))


def test_return_approved_cancels_the_work_deadlines_and_redispatch_restarts_them(
    session: Session,
    new_order,
    make_ctx,  # type: ignore[no-untyped-def]
) -> None:
    order = new_order("2026-11-16 09:00")
    apply_action(
        session,
        order=order,
        action=Action.REQUEST_RETURN,
        data=ActionInput(reason_code="非本辖区", basis="地址属曹家渡街道"),
        ctx=make_ctx("2026-11-16 11:00"),
    )
    assert order.state == State.RETURN_REQUESTED and order.return_count == 1
    apply_action(
        session, order=order, action=Action.APPROVE_RETURN, data=ActionInput(), ctx=make_ctx("2026-11-18 09:00")
    )
    assert order.state == State.RETURNED
    assert stages(session, order) == {
        (1, "first_contact"): ("2026-11-17 23:59", Outcome.CANCELLED),
        (1, "closure"): ("2026-11-23 23:59", Outcome.CANCELLED),
        (1, "return_decision"): ("2026-11-17 23:59", Outcome.LATE),
    }
    apply_action(
        session,
        order=order,
        action=Action.REDISPATCH,
        data=ActionInput(street="曹家渡街道"),
        ctx=make_ctx("2026-11-18 10:00"),
    )
    assert (order.state, order.street) == (State.DISPATCHED, "曹家渡街道")
    open_rows = deadline_rows.open_deadlines(session, order)
    assert {(r.stage, r.started_at) for r in open_rows} == {
        ("first_contact", local("2026-11-18 10:00")),
        ("closure", local("2026-11-18 10:00")),
    }


def test_return_rejected_keeps_the_clock_running(session: Session, new_order, make_ctx) -> None:  # type: ignore[no-untyped-def]
    order = new_order("2026-11-16 09:00")
    apply_action(
        session,
        order=order,
        action=Action.REQUEST_RETURN,
        data=ActionInput(reason_code="非本部门职责", basis="属物业管理"),
        ctx=make_ctx("2026-11-16 11:00"),
    )
    apply_action(
        session,
        order=order,
        action=Action.REJECT_RETURN,
        data=ActionInput(reason="属城管职责"),
        ctx=make_ctx("2026-11-16 15:00"),
    )
    assert order.state == State.DISPATCHED  # back where it came from: it still has to be signed for
    assert Action.SIGN in available_actions(session, order, now=local("2026-11-16 16:00"))
    assert stages(session, order)[(1, "closure")] == ("2026-11-23 23:59", None)


def test_closure_without_contact_marks_the_contact_stage_missed(session: Session, new_order, make_ctx) -> None:  # type: ignore[no-untyped-def]
    order = new_order("2026-11-16 09:00")
    apply_action(session, order=order, action=Action.SIGN, data=ActionInput(), ctx=make_ctx("2026-11-16 09:30"))
    apply_action(session, order=order, action=Action.CLOSE, data=CLOSE, ctx=make_ctx("2026-11-16 16:00"))
    assert stages(session, order)[(1, "first_contact")][1] == Outcome.MISSED


def test_supervision_with_a_date_set_by_the_supervisor(session: Session, new_order, make_ctx) -> None:  # type: ignore[no-untyped-def]
    order = new_order("2026-11-16 09:00")
    supervisor = Actor(id="user:2", name="区局 王督察", source="web")
    apply_action(
        session,
        order=order,
        action=Action.SUPERVISE,
        data=ActionInput(reason="市民多次来电", due_at=local("2026-11-18 12:00")),
        ctx=make_ctx("2026-11-17 09:00", supervisor),
    )
    row = next(r for r in deadline_rows.open_deadlines(session, order) if r.stage == Stage.SUPERVISION)
    assert (row.due_at, row.unit, row.rule_label) == (
        local("2026-11-18 12:00"),
        "fixed",
        "督办人指定期限 2026-11-18 12:00",
    )
    apply_action(
        session,
        order=order,
        action=Action.SUPERVISE,
        data=ActionInput(reason="再次督办"),
        ctx=make_ctx("2026-11-17 10:00", supervisor),
    )
    supervision = [r for r in deadline_rows.all_deadlines(session, order) if r.stage == Stage.SUPERVISION]
    assert [r.outcome for r in supervision] == [Outcome.CANCELLED, None]
    assert supervision[1].due_at == local("2026-11-20 23:59:59")  # default: 3 working days


def test_events_are_append_only_in_the_database(session: Session, new_order) -> None:  # type: ignore[no-untyped-def]
    new_order("2026-11-16 09:00")
    session.commit()
    for statement in ("UPDATE order_event SET note = 'x'", "DELETE FROM order_event"):
        with pytest.raises(exc.DBAPIError, match="append-only"):
            session.execute(text(statement))
        session.rollback()
    assert len(session.exec(select(OrderEvent)).all()) == 1


def test_deadline_rows_need_an_order(session: Session) -> None:
    with pytest.raises(exc.IntegrityError):
        session.add(OrderDeadline(order_id=999, stage="closure", started_at=local("2026-11-16 09:00"), unit="hours"))
        session.flush()


# What each action does to the stage deadlines, written out: opens / completes / misses / cancels.
EXPECTED_EFFECTS = {
    Action.DISPATCH: ({"first_contact", "closure"}, set(), set(), set()),
    Action.REDISPATCH: ({"first_contact", "closure"}, set(), set(), set()),
    Action.SIGN: (set(), set(), set(), set()),
    Action.FIRST_CONTACT: (set(), {"first_contact"}, set(), set()),
    Action.REQUEST_EXTENSION: ({"extension_decision"}, set(), set(), set()),
    Action.APPROVE_EXTENSION: (set(), {"extension_decision"}, set(), set()),
    Action.REJECT_EXTENSION: (set(), {"extension_decision"}, set(), set()),
    Action.REQUEST_RETURN: ({"return_decision"}, set(), set(), set()),
    Action.APPROVE_RETURN: (
        set(),
        {"return_decision"},
        set(),
        {"first_contact", "closure", "redo", "supervision", "extension_decision"},
    ),
    Action.REJECT_RETURN: (set(), {"return_decision"}, set(), set()),
    Action.CLOSE: (set(), {"closure", "redo", "supervision"}, {"first_contact"}, {"extension_decision"}),
    Action.REDO: ({"redo"}, set(), set(), set()),
    Action.SUPERVISE: ({"supervision"}, set(), set(), {"supervision"}),
    Action.PLATFORM_CLOSE: (
        set(),
        {"closure", "redo", "supervision"},
        {"first_contact"},
        {"extension_decision", "return_decision"},
    ),
    Action.UPDATE: (set(), set(), set(), set()),
    Action.NOTE: (set(), set(), set(), set()),
    Action.ATTACH: (set(), set(), set(), set()),
    Action.DETACH: (set(), set(), set(), set()),
}


def test_stage_effects_table() -> None:
    from tracker.domain.lifecycle import STAGE_EFFECTS

    assert set(STAGE_EFFECTS) == set(Action) == set(EXPECTED_EFFECTS)
    for action, (opens, completes, misses, cancels) in EXPECTED_EFFECTS.items():
        effect = STAGE_EFFECTS[action]
        got = (
            {s.value for s in effect.opens},
            {s.value for s in effect.completes},
            {s.value for s in effect.misses},
            {s.value for s in effect.cancels},
        )
        assert got == (opens, completes, misses, cancels), action


def test_closing_with_a_pending_extension_cancels_it_for_good(session: Session, new_order, make_ctx) -> None:  # type: ignore[no-untyped-def]
    order = new_order("2026-11-16 09:00")
    apply_action(session, order=order, action=Action.SIGN, data=ActionInput(), ctx=make_ctx("2026-11-16 09:30"))
    apply_action(
        session,
        order=order,
        action=Action.REQUEST_EXTENSION,
        data=ActionInput(reason="x", new_due_date=date(2026, 11, 27)),
        ctx=make_ctx("2026-11-17 10:00"),
    )
    apply_action(session, order=order, action=Action.CLOSE, data=CLOSE, ctx=make_ctx("2026-11-18 10:00"))
    assert order.extension_status == "cancelled"
    assert stages(session, order)[(1, "extension_decision")][1] == Outcome.CANCELLED
    apply_action(
        session, order=order, action=Action.REDO, data=ActionInput(reason="不满意"), ctx=make_ctx("2026-11-30 09:00")
    )
    offered = available_actions(session, order, now=local("2026-11-30 10:00"))
    assert Action.APPROVE_EXTENSION not in offered and Action.REQUEST_EXTENSION not in offered
    assert stages(session, order)[(2, "redo")] == ("2026-12-03 23:59", None)


def test_a_rejected_return_from_handling_goes_back_to_handling(session: Session, new_order, make_ctx) -> None:  # type: ignore[no-untyped-def]
    order = new_order("2026-11-16 09:00")
    apply_action(session, order=order, action=Action.SIGN, data=ActionInput(), ctx=make_ctx("2026-11-16 09:30"))
    apply_action(
        session,
        order=order,
        action=Action.REQUEST_RETURN,
        data=ActionInput(reason_code="重复件", basis="同一问题"),
        ctx=make_ctx("2026-11-16 11:00"),
    )
    assert order.return_from_state == State.HANDLING
    apply_action(
        session,
        order=order,
        action=Action.REJECT_RETURN,
        data=ActionInput(reason="不是重复件"),
        ctx=make_ctx("2026-11-16 15:00"),
    )
    assert order.state == State.HANDLING


def test_redispatch_starts_a_new_cycle_and_keeps_the_platform_dispatch_time(
    session: Session,
    new_order,
    make_ctx,  # type: ignore[no-untyped-def]
) -> None:
    order = new_order("2026-11-16 09:00")
    apply_action(
        session,
        order=order,
        action=Action.REQUEST_RETURN,
        data=ActionInput(reason_code="非本辖区", basis="b"),
        ctx=make_ctx("2026-11-16 10:00"),
    )
    apply_action(
        session, order=order, action=Action.APPROVE_RETURN, data=ActionInput(), ctx=make_ctx("2026-11-16 11:00")
    )
    apply_action(
        session,
        order=order,
        action=Action.REDISPATCH,
        data=ActionInput(street="北站街道"),
        ctx=make_ctx("2026-11-17 09:00"),
    )
    assert (order.cycle, order.dispatched_at, order.cycle_started_at) == (
        2,
        local("2026-11-16 09:00"),
        local("2026-11-17 09:00"),
    )
    assert stages(session, order)[(2, "closure")] == ("2026-11-24 23:59", None)
    assert stages(session, order)[(1, "closure")][1] == Outcome.CANCELLED


def test_deadline_moves_are_in_the_audit_trail(session: Session, new_order, make_ctx) -> None:  # type: ignore[no-untyped-def]
    order = new_order("2026-11-16 09:00")
    apply_action(
        session,
        order=order,
        action=Action.SUPERVISE,
        data=ActionInput(reason="快", due_at=local("2026-11-18 12:00")),
        ctx=make_ctx("2026-11-17 09:00"),
    )
    assert events_of(session, order)[-1].changes["supervision_due_at"] == [None, "2026-11-18T04:00:00+00:00"]
    apply_action(session, order=order, action=Action.SIGN, data=ActionInput(), ctx=make_ctx("2026-11-17 09:30"))
    apply_action(
        session,
        order=order,
        action=Action.REQUEST_EXTENSION,
        data=ActionInput(reason="x", new_due_date=date(2026, 11, 27)),
        ctx=make_ctx("2026-11-17 10:00"),
    )
    apply_action(
        session, order=order, action=Action.APPROVE_EXTENSION, data=ActionInput(), ctx=make_ctx("2026-11-17 11:00")
    )
    changes = events_of(session, order)[-1].changes
    assert changes["closure_due_at"] == ["2026-11-23T15:59:59+00:00", "2026-11-27T15:59:59+00:00"]
    assert changes["extension_decision_due_at"][1] is None


def test_approving_an_extension_that_no_longer_extends_is_refused(session: Session, new_order, make_ctx) -> None:  # type: ignore[no-untyped-def]
    order = new_order("2026-11-16 09:00")
    apply_action(session, order=order, action=Action.SIGN, data=ActionInput(), ctx=make_ctx("2026-11-16 09:30"))
    apply_action(
        session,
        order=order,
        action=Action.REQUEST_EXTENSION,
        data=ActionInput(reason="x", new_due_date=date(2026, 11, 24)),
        ctx=make_ctx("2026-11-17 10:00"),
    )
    row = next(r for r in deadline_rows.open_deadlines(session, order) if r.stage == "closure")
    row.due_at = local("2026-11-25 23:59:59")  # e.g. the rule was recomputed after a calendar correction
    with pytest.raises(ActionRefused) as refused:
        apply_action(
            session, order=order, action=Action.APPROVE_EXTENSION, data=ActionInput(), ctx=make_ctx("2026-11-17 11:00")
        )
    assert "申请延期至 2026-11-24 不晚于现有办结期限 2026-11-25，批准没有意义，请驳回" in str(refused.value)
