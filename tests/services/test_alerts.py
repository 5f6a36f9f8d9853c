"""The overdue scan, as time passes: every stage and level, holidays and make-up days, rises only, resolves."""

from __future__ import annotations

from datetime import date

from sqlmodel import Session, select

from tests.helpers import local
from tracker.domain.calendar import WorkCalendar
from tracker.domain.lifecycle import ActionInput
from tracker.domain.vocabulary import Action
from tracker.models import Alert, Order
from tracker.services.orders import deadlines as deadline_rows
from tracker.services.orders.actions import apply_action
from tracker.services.orders.alerts import open_alerts, scan

CLOSE = ActionInput(reply="已处理", verdict="实际解决")


def levels(session: Session, order: Order) -> dict[str, tuple[str, bool]]:
    """stage → (level, resolved) for the order's alerts."""
    rows = session.exec(select(Alert).where(Alert.order_id == order.id)).all()
    return {a.stage: (a.level, a.resolved_at is not None) for a in rows}


def at(session: Session, calendar: WorkCalendar, when: str):  # type: ignore[no-untyped-def]
    return scan(session, now=local(when), calendar=calendar)


def test_levels_rise_across_the_spring_festival_and_a_makeup_saturday(session: Session, new_order, calendar) -> None:  # type: ignore[no-untyped-def]
    order = new_order("2026-02-13 10:00")  # contact due Sat 02-14 (a make-up working day), closure due 02-27
    at(session, calendar, "2026-02-13 12:00")
    assert levels(session, order) == {"first_contact": ("blue", False)}
    at(session, calendar, "2026-02-14 20:30")
    assert levels(session, order) == {"first_contact": ("yellow", False)}
    result = at(session, calendar, "2026-02-16 10:00")  # inside the holiday
    assert levels(session, order) == {"first_contact": ("red", False)}
    assert result.summary() == "预警扫描：新增 0，升级 1，解除 0；当前未解除：红 1，黄 0，蓝 0"
    at(session, calendar, "2026-02-25 10:00")  # closure due Fri 02-27: not yet within one working day
    assert "closure" not in levels(session, order)
    at(session, calendar, "2026-02-26 10:00")
    assert levels(session, order)["closure"] == ("blue", False)


def test_a_late_contact_resolves_its_alert_and_stays_late(session: Session, new_order, make_ctx, calendar) -> None:  # type: ignore[no-untyped-def]
    order = new_order("2026-11-16 09:00")
    at(session, calendar, "2026-11-18 09:00")
    assert levels(session, order)["first_contact"] == ("red", False)
    apply_action(
        session,
        order=order,
        action=Action.FIRST_CONTACT,
        data=ActionInput(contact_result="已联"),
        ctx=make_ctx("2026-11-18 10:00"),
    )
    result = at(session, calendar, "2026-11-18 10:10")
    assert result.resolved == 1
    assert levels(session, order)["first_contact"] == ("red", True)
    contact = next(r for r in deadline_rows.all_deadlines(session, order) if r.stage == "first_contact")
    assert contact.outcome == "late"


def test_an_approved_extension_moves_the_deadline_but_never_lowers_the_level(
    session: Session, new_order, make_ctx, calendar
) -> None:  # type: ignore[no-untyped-def]
    order = new_order("2026-11-16 09:00")  # closure due Mon 11-23
    apply_action(session, order=order, action=Action.SIGN, data=ActionInput(), ctx=make_ctx("2026-11-16 09:30"))
    at(session, calendar, "2026-11-20 10:00")
    assert levels(session, order)["closure"] == ("blue", False)
    apply_action(
        session,
        order=order,
        action=Action.REQUEST_EXTENSION,
        data=ActionInput(reason="联合执法", new_due_date=date(2026, 11, 30)),
        ctx=make_ctx("2026-11-20 11:00"),
    )
    apply_action(
        session, order=order, action=Action.APPROVE_EXTENSION, data=ActionInput(), ctx=make_ctx("2026-11-20 15:00")
    )
    at(session, calendar, "2026-11-20 16:00")
    closure = session.exec(select(Alert).where(Alert.order_id == order.id, Alert.stage == "closure")).one()
    assert (closure.level, closure.due_at) == ("blue", local("2026-11-30 23:59:59"))


def test_a_closed_late_order_keeps_late_and_a_reopened_order_gets_a_new_alert(
    session: Session, new_order, make_ctx, calendar
) -> None:  # type: ignore[no-untyped-def]
    order = new_order("2026-11-16 09:00")
    apply_action(session, order=order, action=Action.SIGN, data=ActionInput(), ctx=make_ctx("2026-11-16 09:30"))
    at(session, calendar, "2026-11-24 09:00")
    assert levels(session, order)["closure"] == ("red", False)
    apply_action(session, order=order, action=Action.CLOSE, data=CLOSE, ctx=make_ctx("2026-11-24 10:00"))
    at(session, calendar, "2026-11-24 10:10")
    assert levels(session, order)["closure"] == ("red", True)
    assert next(r for r in deadline_rows.all_deadlines(session, order) if r.stage == "closure").outcome == "late"
    apply_action(
        session,
        order=order,
        action=Action.REDO,
        data=ActionInput(reason="回访不满意"),
        ctx=make_ctx("2026-11-25 09:00"),
    )
    at(session, calendar, "2026-11-30 09:00")  # redo: 3 working days from Wed 11-25 is Mon 11-30
    assert levels(session, order)["redo"] == ("blue", False)


def test_every_stage_gets_its_alert(session: Session, new_order, make_ctx, calendar) -> None:  # type: ignore[no-untyped-def]
    order = new_order("2026-11-16 09:00")
    apply_action(session, order=order, action=Action.SIGN, data=ActionInput(), ctx=make_ctx("2026-11-16 09:30"))
    apply_action(
        session,
        order=order,
        action=Action.SUPERVISE,
        data=ActionInput(reason="加快", due_at=local("2026-11-17 12:00")),
        ctx=make_ctx("2026-11-16 10:00"),
    )
    apply_action(
        session,
        order=order,
        action=Action.REQUEST_EXTENSION,
        data=ActionInput(reason="联合执法", new_due_date=date(2026, 11, 27)),
        ctx=make_ctx("2026-11-16 11:00"),
    )
    other = new_order("2026-11-16 09:00", order_no="SH2")
    apply_action(
        session,
        order=other,
        action=Action.REQUEST_RETURN,
        data=ActionInput(reason_code="重复件", basis="同一问题"),
        ctx=make_ctx("2026-11-16 10:00"),
    )
    at(session, calendar, "2026-11-17 09:00")
    assert levels(session, order) == {
        "first_contact": ("blue", False),
        "supervision": ("yellow", False),
        "extension_decision": ("blue", False),
    }
    assert levels(session, other) == {"first_contact": ("blue", False), "return_decision": ("blue", False)}
    at(session, calendar, "2026-11-17 09:00")
    assert len(open_alerts(session)) == 5 and len(open_alerts(session, street="北站街道")) == 0


def test_no_cap_on_how_many_orders_one_run_handles(session: Session, new_order, calendar) -> None:  # type: ignore[no-untyped-def]
    for number in range(1200):
        new_order("2026-11-02 09:00", order_no=f"N{number:05d}")
    result = at(session, calendar, "2026-11-26 09:00")
    assert result.raised == 2400 and result.open_by_level == {"red": 2400}
    again = at(session, calendar, "2026-11-26 09:10")
    assert (again.raised, again.escalated, again.resolved) == (0, 0, 0)
