"""The squad's answer and the bureau's decision on a 核查; scope; the reply XLSX holds exactly the accepted answers."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

import openpyxl
import pytest
from sqlmodel import Session, col, select

from tests.helpers import local
from tests.services.test_notice_import import run, write_xlsx
from tracker.domain.calendar import WorkCalendar
from tracker.domain.deadlines import RuleTable
from tracker.domain.lifecycle import ActionInput
from tracker.domain.roles import Role
from tracker.domain.vocabulary import Action, State
from tracker.models import MetricSnapshot, NoticeCheck, NoticeCheckEvent, Order, OrderEvent
from tracker.services.accounts import Actor, Viewer
from tracker.services.orders import Context, apply_action
from tracker.services.verifications import (
    Answer,
    CheckRefused,
    accept_check,
    answer_check,
    check_numbers,
    load_layout,
    reply_xlsx,
    return_check,
    snapshot_check_day,
    visible_check,
)

SQUAD = Viewer(7, "jingansi", "张三", Role.SQUAD, "静安寺街道")
OTHER = Viewer(8, "caojiadu", "李四", Role.SQUAD, "曹家渡街道")
BOSS = Viewer(2, "duchao", "王督察", Role.SUPERVISOR, None)
GOOD = Answer("属实", "先行联系时未按约定时间回电，联系人 13912345678 未接通", '=HYPERLINK("x") 已约谈并整改')


def ctx(calendar: WorkCalendar, who: Viewer, when: str) -> Context:
    return Context(Actor(f"user:{who.user_id}", who.name, "web"), local(when), calendar, RuleTable())


@pytest.fixture
def world(session: Session, new_order, calendar: WorkCalendar, tmp_path: Path) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Two orders of 静安寺街道 (one closed), one of 曹家渡街道, and a notice naming them and an unknown order."""
    closed = new_order(
        "2026-09-14 10:00", "SH202609140001", street="静安寺街道", complainant="王小明", phone="13800001111"
    )
    make = ctx(calendar, SQUAD, "2026-09-14 11:00")
    later = ctx(calendar, SQUAD, "2026-09-14 12:00")
    apply_action(session, order=closed, action=Action.SIGN, data=ActionInput(), ctx=make)
    contact = ActionInput(contact_result="已联", contact_at=local("2026-09-14 11:30"))
    apply_action(session, order=closed, action=Action.FIRST_CONTACT, data=contact, ctx=later)
    done = ActionInput(reply="已责令整改。", verdict="实际解决", reply_method="电话")
    apply_action(session, order=closed, action=Action.CLOSE, data=done, ctx=ctx(calendar, SQUAD, "2026-09-16 10:00"))
    new_order("2026-09-20 10:00", "SH202609200002", street="静安寺街道")
    new_order("2026-09-20 11:00", "SH202609200003", street="曹家渡街道")
    session.commit()
    rows = [
        [1, "TB10", "SH202609140001", "不满意", "2026-09-28", "", ""],
        [2, "TB10", "SH202609200002", "超时办结", "2026-09-28", "", ""],
        [3, "TB10", "SH202609200003", "不满意", "2026-09-28", "", ""],
        [4, "TB10", "SH209999999999", "重复诉件", "2026-09-28", "", ""],
    ]
    run(session, write_xlsx(tmp_path, *rows), calendar)
    return {c.order_no: c.id for c in session.exec(select(NoticeCheck)).all()}  # type: ignore[misc]


def test_a_squad_sees_only_its_streets_checks(session: Session, world: dict[str, int]) -> None:
    assert visible_check(session, SQUAD, world["SH202609140001"]) is not None
    assert visible_check(session, SQUAD, world["SH202609200003"]) is None  # another street's: like an unknown id
    assert visible_check(session, SQUAD, world["SH209999999999"]) is None  # no order yet: the bureau's
    assert visible_check(session, SQUAD, 999999) is None
    assert visible_check(session, OTHER, world["SH202609200003"]) is not None
    assert visible_check(session, BOSS, world["SH209999999999"]) is not None


def test_answer_return_answer_accept_with_redo(session: Session, world: dict[str, int], calendar: WorkCalendar) -> None:
    view = visible_check(session, SQUAD, world["SH202609140001"])
    assert view is not None
    with pytest.raises(CheckRefused, match="「核查结论」为「大概属实」"):
        answer_check(
            session,
            view=view,
            viewer=SQUAD,
            answer=Answer("大概属实", "x", "y"),
            ctx=ctx(calendar, SQUAD, "2026-09-29 09:00"),
        )
    with pytest.raises(CheckRefused, match="「整改措施」不能为空"):
        answer_check(
            session,
            view=view,
            viewer=SQUAD,
            answer=Answer("属实", "x", "  "),
            ctx=ctx(calendar, SQUAD, "2026-09-29 09:00"),
        )
    with pytest.raises(CheckRefused, match="由区局审核"):
        return_check(session, view=view, viewer=SQUAD, ctx=ctx(calendar, SQUAD, "2026-09-29 09:00"), reason="x")
    session.rollback()
    view = visible_check(session, SQUAD, world["SH202609140001"])
    assert view is not None and view.check.status == "pending"
    answer_check(session, view=view, viewer=SQUAD, answer=GOOD, ctx=ctx(calendar, SQUAD, "2026-09-29 09:00"))
    session.commit()
    with pytest.raises(CheckRefused, match="不能再提交"):
        answer_check(session, view=view, viewer=SQUAD, answer=GOOD, ctx=ctx(calendar, SQUAD, "2026-09-29 09:05"))
    with pytest.raises(CheckRefused, match="须填写理由"):
        return_check(session, view=view, viewer=BOSS, ctx=ctx(calendar, BOSS, "2026-09-29 10:00"), reason=" ")
    return_check(session, view=view, viewer=BOSS, ctx=ctx(calendar, BOSS, "2026-09-29 10:00"), reason="整改措施不具体")
    session.commit()
    assert view.check.status == "returned" and view.check.return_count == 1
    answer_check(session, view=view, viewer=SQUAD, answer=GOOD, ctx=ctx(calendar, SQUAD, "2026-09-29 15:00"))
    accept_check(session, view=view, viewer=BOSS, ctx=ctx(calendar, BOSS, "2026-09-30 09:00"), redo_reason="")
    session.commit()
    order = session.exec(select(Order).where(Order.order_no == "SH202609140001")).one()
    assert view.check.status == "accepted" and order.state == State.HANDLING  # the 重办 went through the one door
    redo = session.exec(select(OrderEvent).where(OrderEvent.order_id == order.id, OrderEvent.action == "redo")).one()
    assert "热线通报核查（不满意）属实" in redo.note
    trail = session.exec(
        select(NoticeCheckEvent.action)
        .where(NoticeCheckEvent.check_id == view.check.id)
        .order_by(col(NoticeCheckEvent.id))
    ).all()
    assert trail == ["import", "answer", "return", "answer", "accept", "redo"]


def test_a_redo_the_order_cannot_take_stores_nothing(
    session: Session, world: dict[str, int], calendar: WorkCalendar
) -> None:
    view = visible_check(session, SQUAD, world["SH202609200002"])  # the order is still open: no 重办
    assert view is not None
    answer_check(session, view=view, viewer=SQUAD, answer=GOOD, ctx=ctx(calendar, SQUAD, "2026-09-29 09:00"))
    session.commit()
    with pytest.raises(Exception, match="重办"):
        accept_check(session, view=view, viewer=BOSS, ctx=ctx(calendar, BOSS, "2026-09-30 09:00"), redo_reason="再办")
    session.rollback()
    assert session.get(NoticeCheck, world["SH202609200002"]).status == "answered"  # type: ignore[union-attr]


def test_the_reply_holds_exactly_the_accepted_answers(
    session: Session, world: dict[str, int], calendar: WorkCalendar
) -> None:
    for number in ("SH202609140001", "SH202609200002"):
        view = visible_check(session, SQUAD, world[number])
        assert view is not None
        answer_check(session, view=view, viewer=SQUAD, answer=GOOD, ctx=ctx(calendar, SQUAD, "2026-09-29 09:00"))
    first = visible_check(session, BOSS, world["SH202609140001"])
    assert first is not None
    accept_check(session, view=first, viewer=BOSS, ctx=ctx(calendar, BOSS, "2026-09-30 09:00"))
    session.commit()
    made = reply_xlsx(session, notice_id=first.notice.id or 0, layout=load_layout())
    assert made is not None
    content, notice_no, count = made
    assert notice_no == "TB10" and count == 1
    sheet = openpyxl.load_workbook(BytesIO(content)).active
    assert sheet is not None
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert rows[0] == ["通报编号", "工单编号", "通报类型", "承办街镇", "核查结论", "原因分析", "整改措施", "反馈时间"]
    assert len(rows) == 2 and rows[1][:5] == ["TB10", "SH202609140001", "不满意", "静安寺街道", "属实"]
    assert "13912345678" not in str(rows[1][5]) and "139****5678" in str(rows[1][5])  # masked
    assert str(rows[1][6]).startswith("'=HYPERLINK")  # formula-safe
    assert reply_xlsx(session, notice_id=999999, layout=load_layout()) is None


def test_the_numbers_per_street_and_type_and_the_rates(
    session: Session, world: dict[str, int], calendar: WorkCalendar
) -> None:
    view = visible_check(session, SQUAD, world["SH202609140001"])
    assert view is not None
    answer_check(session, view=view, viewer=SQUAD, answer=GOOD, ctx=ctx(calendar, SQUAD, "2026-09-29 09:00"))
    return_check(session, view=view, viewer=BOSS, ctx=ctx(calendar, BOSS, "2026-09-29 10:00"), reason="不具体")
    answer_check(session, view=view, viewer=SQUAD, answer=GOOD, ctx=ctx(calendar, SQUAD, "2026-09-29 15:00"))
    accept_check(session, view=view, viewer=BOSS, ctx=ctx(calendar, BOSS, "2026-09-30 09:00"))
    session.commit()
    day = local("2026-09-28 12:00").date()
    now = local("2026-10-09 09:00")  # every line was due on Oct 8
    bureau = check_numbers(session, viewer=BOSS, first=day, last=day, now=now)
    assert bureau.by_street_kind == {
        "静安寺街道": {"不满意": 1, "超时办结": 1},
        "曹家渡街道": {"不满意": 1},
        "（工单未导入）": {"重复诉件": 1},
    }
    assert (bureau.on_time, bureau.due, bureau.returns, bureau.answers) == (1, 4, 1, 2)
    assert bureau.return_rate == 0.5 and bureau.as_json()["date_basis"].startswith("按通报日期")
    squad = check_numbers(session, viewer=SQUAD, first=day, last=day, now=now)
    assert squad.by_street_kind == {"静安寺街道": {"不满意": 1, "超时办结": 1}} and squad.due == 2
    before = check_numbers(session, viewer=BOSS, first=day, last=day, now=local("2026-10-08 09:00"))
    assert (before.on_time, before.due) == (1, 1)  # not yet due and not accepted: left out
    assert check_numbers(session, viewer=BOSS, first=day.replace(day=27), last=day.replace(day=27), now=now).total == 0


def test_the_nightly_snapshot_stores_the_numbers_per_street(
    session: Session, world: dict[str, int], calendar: WorkCalendar
) -> None:
    view = visible_check(session, SQUAD, world["SH202609140001"])
    assert view is not None
    answer_check(session, view=view, viewer=SQUAD, answer=GOOD, ctx=ctx(calendar, SQUAD, "2026-09-29 09:00"))
    accept_check(session, view=view, viewer=BOSS, ctx=ctx(calendar, BOSS, "2026-09-30 09:00"))
    session.commit()
    day = local("2026-09-28 12:00").date()
    assert snapshot_check_day(session, day=day, now=local("2026-10-09 01:00"), viewer=BOSS) == 6
    again = snapshot_check_day(session, day=day, now=local("2026-10-09 01:10"), viewer=BOSS)  # a rerun: same rows
    assert again == 6
    rows = {(r.street, r.metric): (r.numerator, r.denominator) for r in session.exec(select(MetricSnapshot)).all()}
    assert rows == {
        ("静安寺街道", "notice_lines"): (2, 2),
        ("静安寺街道", "check_on_time"): (1, 2),
        ("静安寺街道", "check_returned"): (0, 1),
        ("曹家渡街道", "notice_lines"): (1, 1),
        ("曹家渡街道", "check_on_time"): (0, 1),
        ("曹家渡街道", "check_returned"): (0, 0),
    }  # the line whose order is unknown belongs to no street: not stored
