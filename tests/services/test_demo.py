"""The demo data, loaded as of any day, shows every state, due-soon and overdue orders."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlmodel import Session, select

from tests.helpers import local
from tracker.domain.roles import Role
from tracker.domain.vocabulary import AlertLevel, State
from tracker.models import Order
from tracker.services.accounts import Viewer
from tracker.services.operations.demo import WorkdayShift, load_samples, read_manifest
from tracker.services.orders.calendar import load_calendar
from tracker.services.orders.counts import bounds_at, live_counts
from tracker.services.orders.overview import state_counts


@pytest.mark.slow
@pytest.mark.parametrize(
    "today",
    ["2026-11-26 10:00", "2026-11-28 11:00", "2026-02-24 09:00", "2026-10-05 12:00", "2026-06-22 08:00"],
)
def test_demo_as_of_any_day(session: Session, today: str) -> None:
    now = local(today)
    reports = load_samples(session, now=now).reports
    assert [r.rejected for r in reports] == [[], []]
    assert sum(r.created for r in reports) == 310
    counts = state_counts(session)
    assert all(counts[state] > 0 for state in State), counts
    district = Viewer(0, "t", "t", Role.SUPERVISOR, None)
    alerts = live_counts(session, viewer=district, bounds=bounds_at(now, load_calendar(session))).stages
    assert alerts[AlertLevel.RED] > 0
    assert alerts[AlertLevel.BLUE] + alerts[AlertLevel.YELLOW] > 0
    latest = max(o.dispatched_at for o in session.exec(select(Order)).all())
    assert latest <= now
    again = load_samples(session, now=now).reports
    assert sum(r.created for r in again) == 0 and all(r.already_imported for r in again)


def test_in_a_year_without_calendar_the_demo_falls_back_to_the_last_loaded_day(session: Session) -> None:
    loaded = load_samples(session, now=local("2027-01-15 10:00"))
    assert loaded.note.startswith("2027 年节假日安排尚未载入")
    assert "示例数据改为按 2026-12-31（最后一个已载入的工作日）载入" in loaded.note
    assert sum(r.created for r in loaded.reports) > 250
    counts = state_counts(session)
    assert all(counts[state] > 0 for state in State)


def test_the_shift_keeps_working_days_and_order(session: Session) -> None:
    calendar = load_calendar(session)
    as_of, _ = read_manifest()
    assert WorkdayShift(as_of, local("2026-10-08 18:00"), calendar).target.isoformat() == "2026-10-08"
    # at noon the export moment (17:00) is still ahead, so it lands on the working day before the holiday
    shift = WorkdayShift(as_of, local("2026-10-08 12:00"), calendar)
    assert shift.target.isoformat() == "2026-09-30"
    moments = [local(f"2026-11-{day:02d} {hour:02d}:00") for day in range(10, 21) for hour in (0, 9, 18, 23)]
    moved = [shift(m) for m in moments]
    assert moved == sorted(moved)
    for before, after in zip(moments, moved, strict=True):
        if calendar.is_workday(before.astimezone(as_of.tzinfo).date()):
            assert calendar.is_workday(after.astimezone(as_of.tzinfo).date())


def test_never_into_the_future(session: Session) -> None:
    calendar = load_calendar(session)
    as_of, _ = read_manifest()
    morning = local("2026-11-26 08:00")  # before the export's 17:00
    shift = WorkdayShift(as_of, morning, calendar)
    assert shift.target.isoformat() == "2026-11-25"
    assert shift(as_of) < morning
    assert isinstance(shift(as_of), datetime)
