"""Issue 22, part 7: recorded times hold to the order's own timeline and to the clock.

Imports refuse, per row, dates before 2000 (an empty Excel date read as 1899), recorded steps
after the import's time, deadlines more than a year ahead, any step before the dispatch, and a
bare number in a CSV date cell (only a workbook's numeric cell may be an Excel serial). A person
recording a time in the tracker cannot put it more than 5 minutes ahead of the clock or before
the step it follows; a time more than an hour back is a 补录 that needs its reason, is kept in
the event and shown as 补录 in the audit trail, and counts for the deadline at the time recorded.
On SQLite and PostgreSQL alike (the fixtures follow TRACKER_TEST_DATABASE_URL).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import time_machine
from openpyxl import Workbook
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from tests.helpers import local
from tests.helpers_import import run_import, write_csv
from tests.web.conftest import as_role, people, post  # noqa: F401 (fixtures used below)
from tracker.domain.errors import ActionRefused
from tracker.domain.lifecycle import ActionInput
from tracker.domain.vocabulary import Action
from tracker.models import Order, OrderDeadline, OrderEvent
from tracker.services.accounts import Actor
from tracker.services.orders import Context, NewOrder, apply_action
from tracker.services.orders.actions import create_order

HEADER = "工单编号,派单时间,诉求类型,问题分类,所属街镇,签收时间,办结时间,答复内容,结案评判,处理时限"


def row(number: str, dispatched: str = "2026-11-16 09:00", signed: str = "", closed: str = "", due: str = "") -> str:
    reply = "已整改,实际解决" if closed else ","
    return f"{number},{dispatched},投诉举报,油烟扰民,静安寺街道,{signed},{closed},{reply},{due}"


# --- imports ------------------------------------------------------------------------------------


def test_implausible_dates_are_refused_per_row_and_plausible_ones_kept(session: Session, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path,
        HEADER,
        row("T1", signed="2026-11-16 10:00", closed="2026-11-18 16:00"),  # a plausible life
        row("T2", dispatched="1899-12-30 00:00"),  # an empty Excel date
        row("T3", closed="9999-12-31 00:00"),
        row("T4", signed="2026-11-16 10:00", closed="2026-11-15 16:00"),  # closed before dispatched
        row("T5", signed="2026-11-28 10:00"),  # signed two days after the import (now is 11-26 09:00)
        row("T6", due="2028-01-01 00:00"),  # a deadline more than a year ahead
        row("T7", due="2027-06-30 18:00"),  # a deadline seven months ahead: plausible
        row("T8", signed="2026-11-16 08:00"),  # signed before dispatched
    )
    report = run_import(session, path)
    session.commit()
    errors = {e.order_no: e for e in report.rejected}
    assert sorted(errors) == ["T2", "T3", "T4", "T5", "T6", "T8"]
    assert (errors["T2"].row, errors["T2"].column, errors["T2"].value) == (3, "派单时间", "1899-12-30 00:00")
    assert "早于 2000 年" in errors["T2"].reason
    assert (errors["T3"].column, errors["T3"].value) == ("办结时间", "9999-12-31 00:00")
    assert "晚于导入时间" in errors["T3"].reason
    assert (errors["T4"].column, errors["T4"].value) == ("办结时间", "2026-11-15 16:00")
    assert "办结时间 2026-11-15 16:00 早于派单时间 2026-11-16 09:00" in errors["T4"].reason
    assert (errors["T5"].column, errors["T5"].value) == ("签收时间", "2026-11-28 10:00")
    assert "尚未发生的环节" in errors["T5"].reason
    assert (errors["T6"].column, errors["T6"].value) == ("处理时限", "2028-01-01 00:00")
    assert "晚一年以上" in errors["T6"].reason
    assert errors["T8"].column == "签收时间" and "早于派单时间" in errors["T8"].reason
    assert set(session.exec(select(Order.order_no)).all()) == {"T1", "T7"}
    closed = session.exec(select(Order).where(Order.order_no == "T1")).one()
    assert closed.closed_at == local("2026-11-18 16:00")


def test_a_bare_number_in_a_csv_date_cell_is_not_an_excel_serial(session: Session, tmp_path: Path) -> None:
    path = write_csv(tmp_path, HEADER, row("C1"), row("C2", dispatched="46000"))
    report = run_import(session, path)
    (error,) = report.rejected
    assert (error.row, error.column, error.value, error.order_no) == (3, "派单时间", "46000", "C2")
    assert "纯数字" in error.reason and "Excel" in error.reason
    assert "第 3 行，字段「派单时间」，值「46000」" in str(error)
    assert set(session.exec(select(Order.order_no)).all()) == {"C1"}


def test_a_workbook_numeric_cell_is_still_read_as_an_excel_serial(session: Session, tmp_path: Path) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(HEADER.split(","))
    sheet.append(["X1", 46000, "投诉举报", "油烟扰民", "静安寺街道"])  # a number, as Excel keeps an unformatted date
    sheet.append(["X2", 1, "投诉举报", "油烟扰民", "静安寺街道"])  # serial 1 is 1900-01-01: not a date of ours
    path = tmp_path / "serial.xlsx"
    book.save(path)
    report = run_import(session, path)
    assert report.created == 1
    order = session.exec(select(Order).where(Order.order_no == "X1")).one()
    assert order.dispatched_at == local("2025-12-09 00:00")
    (error,) = report.rejected
    assert (error.row, error.column, error.value) == (3, "派单时间", "1")


# --- times people record ------------------------------------------------------------------------

SQUAD = Actor(id="user:7", name="静安寺街道执法队 张三", source="web")


def ctx_at(when: str, calendar) -> Context:  # type: ignore[no-untyped-def]
    from tracker.domain.deadlines import RuleTable

    return Context(actor=SQUAD, now=local(when), calendar=calendar, rules=RuleTable())


def handling_order(session: Session, calendar) -> Order:  # type: ignore[no-untyped-def]
    """Dispatched Mon 2026-11-16 09:00, signed at 09:30 (first contact due by the end of 11-17)."""
    data = NewOrder(source="12345", order_no="L1", dispatched_at=local("2026-11-16 09:00"), request_type="投诉举报")
    order = create_order(session, data=data, ctx=ctx_at("2026-11-16 09:00", calendar))
    apply_action(session, order=order, action=Action.SIGN, data=ActionInput(), ctx=ctx_at("2026-11-16 09:30", calendar))
    return order


def refused(session: Session, order: Order, action: Action, data: ActionInput, ctx: Context) -> str:
    with pytest.raises(ActionRefused) as error, session.begin_nested():
        apply_action(session, order=order, action=action, data=data, ctx=ctx)
    return str(error.value)


def test_a_contact_entered_late_needs_a_reason_and_is_recorded_as_late_entry(session: Session, calendar) -> None:  # type: ignore[no-untyped-def]
    order = handling_order(session, calendar)
    late = ActionInput(contact_result="已联", contact_at=local("2026-11-17 15:00"))
    entered = ctx_at("2026-11-18 09:00", calendar)  # the next morning, after the contact deadline passed
    message = refused(session, order, Action.FIRST_CONTACT, late, entered)
    assert "联系时间 2026-11-17 15:00 早于当前时间 1 小时以上，属于补录：请填写补录原因" in message
    assert order.contact_at is None
    with_reason = ActionInput(
        contact_result="已联", contact_at=local("2026-11-17 15:00"), late_reason="外出核查未带终端"
    )
    apply_action(session, order=order, action=Action.FIRST_CONTACT, data=with_reason, ctx=entered)
    session.commit()
    event = session.exec(
        select(OrderEvent).where(OrderEvent.order_id == order.id).order_by(col(OrderEvent.id).desc())
    ).first()
    assert event is not None and event.at == local("2026-11-18 09:00")  # when it was entered
    assert event.changes["late_entry"] == {
        "recorded_at": local("2026-11-17 15:00").isoformat(),
        "reason": "外出核查未带终端",
        "due_passed_at_entry": True,
    }
    # the rule (README "补录"): the recorded time counts for the deadline; the flag is what supervisors see
    contact = session.exec(
        select(OrderDeadline).where(OrderDeadline.order_id == order.id, OrderDeadline.stage == "first_contact")
    ).one()
    assert (contact.completed_at, contact.outcome) == (local("2026-11-17 15:00"), "met")


def test_a_contact_recorded_within_the_hour_is_no_late_entry(session: Session, calendar) -> None:  # type: ignore[no-untyped-def]
    order = handling_order(session, calendar)
    data = ActionInput(contact_result="已联", contact_at=local("2026-11-16 09:40"))
    apply_action(session, order=order, action=Action.FIRST_CONTACT, data=data, ctx=ctx_at("2026-11-16 10:30", calendar))
    event = session.exec(select(OrderEvent).order_by(col(OrderEvent.id).desc())).first()
    assert event is not None and "late_entry" not in event.changes


def test_a_recorded_time_ahead_of_the_clock_is_refused_beyond_five_minutes(session: Session, calendar) -> None:  # type: ignore[no-untyped-def]
    order = handling_order(session, calendar)
    now = ctx_at("2026-11-16 10:00", calendar)
    ahead = ActionInput(contact_result="已联", contact_at=local("2026-11-16 10:06"))
    message = refused(session, order, Action.FIRST_CONTACT, ahead, now)
    assert "联系时间 2026-11-16 10:06 超过当前时间 2026-11-16 10:00 5 分钟以上" in message
    skewed = ActionInput(contact_result="已联", contact_at=local("2026-11-16 10:04"))  # a phone a little fast
    apply_action(session, order=order, action=Action.FIRST_CONTACT, data=skewed, ctx=now)
    assert order.contact_at == local("2026-11-16 10:04")


def test_a_closure_cannot_be_dated_before_the_step_it_follows(session: Session, calendar) -> None:  # type: ignore[no-untyped-def]
    order = handling_order(session, calendar)
    contact = ActionInput(contact_result="已联", contact_at=local("2026-11-16 11:00"))
    apply_action(
        session, order=order, action=Action.FIRST_CONTACT, data=contact, ctx=ctx_at("2026-11-16 11:10", calendar)
    )
    now = ctx_at("2026-11-18 10:00", calendar)
    reply = {"reply": "已整改", "verdict": "实际解决", "reply_method": "电话", "late_reason": "补登"}
    for closed_at, reason in (
        ("2026-11-15 10:00", "办结时间 2026-11-15 10:00 不能早于派单时间 2026-11-16 09:00"),
        ("2026-11-16 09:10", "办结时间 2026-11-16 09:10 不能早于签收时间 2026-11-16 09:30"),
        ("2026-11-16 10:30", "办结时间 2026-11-16 10:30 不能早于先行联系时间 2026-11-16 11:00"),
        ("2026-11-19 10:00", "办结时间 2026-11-19 10:00 超过当前时间"),
    ):
        data = ActionInput(closed_at=local(closed_at), **reply)  # type: ignore[arg-type]
        assert reason in refused(session, order, Action.CLOSE, data, now)
    assert order.state == "handling"
    no_reason = ActionInput(closed_at=local("2026-11-17 16:00"), reply="已整改", verdict="实际解决")
    assert "属于补录：请填写补录原因" in refused(session, order, Action.CLOSE, no_reason, now)
    data = ActionInput(closed_at=local("2026-11-17 16:00"), **reply)  # type: ignore[arg-type]
    apply_action(session, order=order, action=Action.CLOSE, data=data, ctx=now)
    assert (order.state, order.closed_at) == ("closed", local("2026-11-17 16:00"))
    closure = session.exec(
        select(OrderDeadline).where(OrderDeadline.order_id == order.id, OrderDeadline.stage == "closure")
    ).one()
    assert closure.completed_at == local("2026-11-17 16:00")


@time_machine.travel(local("2026-11-18 10:00"), tick=False)
def test_the_order_page_shows_a_late_entry_as_buLu_with_its_reason(as_role, engine: Engine, calendar) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    client = as_role("squad")
    with Session(engine, expire_on_commit=False) as session:
        data = NewOrder(
            source="12345",
            order_no="W1",
            dispatched_at=local("2026-11-16 09:00"),
            request_type="投诉举报",
            street="静安寺街道",
        )
        order = create_order(session, data=data, ctx=ctx_at("2026-11-16 09:00", calendar))
        session.commit()
    url = f"/orders/{order.id}/actions/first_contact"
    form = {"contact_result": "已联", "contact_at": "2026-11-17T15:00"}
    assert post(client, url, form).status_code == 302
    page = client.get(f"/orders/{order.id}").get_data(as_text=True)
    assert "属于补录：请填写补录原因" in page and "补录原因（所填时间早于现在 1 小时以上时必填）" in page
    with Session(engine) as session:
        assert session.get(Order, order.id).contact_at is None  # type: ignore[union-attr]
    assert post(client, url, {**form, "late_reason": "外出核查未带终端，电话 13812345678 回拨"}).status_code == 302
    page = client.get(f"/orders/{order.id}").get_data(as_text=True)
    assert '<strong class="late-entry">补录</strong>' in page
    assert "补录：实际发生于 2026-11-17 15:00，补录原因：外出核查未带终端，电话 138****5678 回拨" in page
    assert "录入时该期限已过" in page and "13812345678" not in page
    with Session(engine) as session:
        assert session.get(Order, order.id).contact_at == local("2026-11-17 15:00")  # type: ignore[union-attr]
    supervisor = as_role("supervisor")  # the one who checks it sees the same mark
    page = supervisor.get(f"/orders/{order.id}").get_data(as_text=True)
    assert '<strong class="late-entry">补录</strong>' in page and "补录原因：外出核查未带终端" in page
