"""The stored calendar: seeding, loading a new year, recomputing open deadlines, refusing bad files."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session, select

from tests.helpers import local
from tracker.domain.errors import CalendarFileError
from tracker.domain.lifecycle import ActionInput
from tracker.domain.vocabulary import Action
from tracker.models import CalendarDay, CalendarYear
from tracker.services.accounts.actors import Actor
from tracker.services.orders import deadlines as deadline_rows
from tracker.services.orders.actions import Context, apply_action
from tracker.services.orders.calendar import load_calendar, load_year, seed_from_package

# Test data only: not the official 2027 arrangement.
YEAR_2027 = """
year = 2027
[[holidays]]
name = "元旦"
start = 2027-01-01
end = 2027-01-03
[[workdays]]
date = 2027-01-09
name = "元旦"
"""


def test_seeding_is_idempotent(session: Session) -> None:
    added = seed_from_package(session, actor=Actor.cli(), now=local("2026-11-26 09:00"))
    assert 2004 in added and 2026 not in added  # 2025–2026 were already stored by the fixture
    assert seed_from_package(session, actor=Actor.cli(), now=local("2026-11-26 09:00")) == []
    assert session.get(CalendarYear, 2026).source.startswith("chinesecalendar ")  # type: ignore[union-attr]


def test_loading_2027_recomputes_open_orders_only(session: Session, new_order, make_ctx) -> None:  # type: ignore[no-untyped-def]
    open_order = new_order("2026-12-29 10:00", order_no="OPEN")
    closed = new_order("2026-12-29 11:00", order_no="CLOSED")
    ctx = Context(
        make_ctx("2026-12-29 12:00").actor,
        local("2026-12-29 12:00"),
        load_calendar(session),
        make_ctx("2026-12-29 12:00").rules,
    )
    apply_action(session, order=closed, action=Action.SIGN, data=ActionInput(), ctx=ctx)
    apply_action(
        session, order=closed, action=Action.CLOSE, data=ActionInput(reply="已处理", verdict="解释说明"), ctx=ctx
    )
    session.commit()
    [closure] = [r for r in deadline_rows.open_deadlines(session, open_order) if r.stage == "closure"]
    assert closure.due_at is None and closure.due_error.startswith("2027 年节假日安排尚未载入")  # type: ignore[union-attr]

    result = load_year(session, YEAR_2027, source="测试文件", actor=Actor.cli("管理员"), now=local("2026-12-30 09:00"))
    session.commit()
    assert (result.year, result.replaced, result.holidays, result.workdays) == (2027, False, 3, 1)
    assert result.recomputed == 1  # the open order's closure; its first contact (12-30) was already known
    session.refresh(closure)
    assert closure.due_at == local("2027-01-06 23:59:59") and closure.due_error is None
    closed_rows = deadline_rows.all_deadlines(session, closed)
    assert all(r.completed_at is not None for r in closed_rows)
    assert next(r for r in closed_rows if r.stage == "closure").due_at is None  # closed orders are not touched
    assert load_calendar(session).is_workday(local("2027-01-09 12:00").date())
    assert session.exec(select(CalendarDay).where(CalendarDay.year == 2027)).all()


def test_replacing_a_year(session: Session) -> None:
    load_year(session, YEAR_2027, source="a", actor=Actor.cli(), now=local("2026-12-01 09:00"))
    corrected = YEAR_2027.replace("end = 2027-01-03", "end = 2027-01-01")
    result = load_year(session, corrected, source="b", actor=Actor.cli(), now=local("2026-12-01 09:00"))
    assert result.replaced and result.holidays == 1
    assert load_calendar(session).is_workday(local("2027-01-04 12:00").date())
    assert len(session.exec(select(CalendarDay).where(CalendarDay.year == 2027)).all()) == 2


def test_a_bad_file_changes_nothing(session: Session) -> None:
    session.commit()
    with pytest.raises(CalendarFileError):
        load_year(
            session,
            'year = 2027\n[[holidays]]\nname = "元旦"\nstart = "soon"',
            source="x",
            actor=Actor.cli(),
            now=local("2026-12-01 09:00"),
        )
    session.rollback()
    assert session.get(CalendarYear, 2027) is None


def test_example_file_in_docs_loads(session: Session) -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "calendar-2026.toml").read_text(encoding="utf-8")
    before = load_calendar(session)
    result = load_year(session, text, source="docs", actor=Actor.cli(), now=local("2026-12-01 09:00"))
    assert result.replaced
    after = load_calendar(session)
    assert after.holidays == before.holidays and after.workdays == before.workdays


def test_a_stage_ended_while_its_year_was_unknown_is_judged_once_the_year_is_loaded(
    session: Session,
    new_order,
    make_ctx,  # type: ignore[no-untyped-def]
) -> None:
    order = new_order("2026-12-29 10:00")
    calendar, rules = load_calendar(session), make_ctx("2026-12-31 09:00").rules
    actor = make_ctx("2026-12-31 09:00").actor
    apply_action(
        session,
        order=order,
        action=Action.REQUEST_RETURN,
        data=ActionInput(reason_code="非本辖区", basis="相邻街道"),
        ctx=Context(actor, local("2026-12-31 09:00"), calendar, rules),
    )
    apply_action(
        session,
        order=order,
        action=Action.REJECT_RETURN,
        data=ActionInput(reason="属本辖区"),
        ctx=Context(actor, local("2027-01-04 10:00"), calendar, rules),
    )
    decision = next(r for r in deadline_rows.all_deadlines(session, order) if r.stage == "return_decision")
    assert decision.completed_at is not None and decision.due_at is None and decision.outcome is None
    load_year(session, YEAR_2027, source="测试文件", actor=Actor.cli(), now=local("2027-01-04 11:00"))
    decision = next(r for r in deadline_rows.all_deadlines(session, order) if r.stage == "return_decision")
    assert decision.due_at == local("2027-01-04 23:59:59")  # 01-01..01-03 off in the test data
    assert decision.outcome == "met"


def test_the_stored_calendar_agrees_with_the_holidays_package(session: Session) -> None:
    import holidays

    stored = load_calendar(session)  # seeded through _store → calendar_day → load_calendar
    for year in (2025, 2026):
        ours = {day for day in stored.workdays if day.year == year}
        assert ours == {day for day in holidays.China(years=year).weekend_workdays if day.year == year}
    assert stored.day_kind(local("2026-02-17 12:00").date()).reason == "春节"
