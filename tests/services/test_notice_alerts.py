"""A 核查 deadline in the alert scan and the digest: across the National Day holiday to a make-up Saturday."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlmodel import Session, select

from tests.helpers import local
from tests.services.test_notice_import import run, write_xlsx
from tracker.domain.calendar import WorkCalendar
from tracker.domain.deadlines import end_of_local_day
from tracker.domain.overdue import level_bounds
from tracker.models import NoticeCheck
from tracker.services.orders import build_digests
from tracker.services.verifications import check_level, digest_lines, scan_checks


def test_blue_yellow_red_on_working_days(session: Session, new_order, calendar: WorkCalendar, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    new_order("2026-09-20 10:00", "SH202609200001", street="静安寺街道")
    # notice of Wed Sep 30, no 反馈时限: 3 working days = Oct 8, Oct 9 and Saturday Oct 10 (补班) after the holiday
    run(session, write_xlsx(tmp_path, [1, "TB8", "SH202609200001", "不满意", "2026-09-30", "", ""]), calendar)
    check = session.exec(select(NoticeCheck)).one()
    assert check.due_at == end_of_local_day(date(2026, 10, 10))

    def scan_at(when: str) -> str | None:
        scan_checks(session, now=local(when), calendar=calendar)
        session.commit()
        session.refresh(check)
        live = check_level(check, level_bounds(local(when), calendar))  # the order page's live level agrees
        assert (live.value if live else None) == check.alert_level
        return check.alert_level

    assert scan_at("2026-10-03 10:00") is None  # in the holiday: the horizon is the next working day, Oct 8
    assert scan_at("2026-10-08 10:00") is None  # horizon Oct 9
    assert scan_at("2026-10-09 10:00") == "blue"  # horizon: the make-up Saturday
    assert scan_at("2026-10-10 19:30") == "blue"  # more than 4 hours left
    assert scan_at("2026-10-10 20:30") == "yellow"
    assert scan_at("2026-10-11 00:30") == "red"
    assert scan_checks(session, now=local("2026-10-11 00:40"), calendar=calendar).raised == 0  # nothing twice

    lines = digest_lines(session, now=local("2026-10-11 08:30"), calendar=calendar)
    assert lines == {"静安寺街道": ["SH202609200001 不满意（红）核查期限 2026-10-10 23:59"]}
    digests = build_digests(session, now=local("2026-10-11 08:30"), calendar=calendar, checks=lines)
    text = next(d.text for d in digests if d.street == "静安寺街道")
    assert "四、热线通报核查" in text and "SH202609200001 不满意（红）" in text


def test_an_accepted_check_raises_nothing(session: Session, new_order, calendar: WorkCalendar, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    new_order("2026-09-20 10:00", "SH202609200001", street="静安寺街道")
    run(session, write_xlsx(tmp_path, [1, "TB9", "SH202609200001", "不满意", "2026-09-30", "", ""]), calendar)
    check = session.exec(select(NoticeCheck)).one()
    check.status = "accepted"
    session.add(check)
    session.commit()
    assert scan_checks(session, now=local("2026-10-11 00:30"), calendar=calendar).raised == 0
    assert digest_lines(session, now=local("2026-10-11 08:30"), calendar=calendar) == {}
