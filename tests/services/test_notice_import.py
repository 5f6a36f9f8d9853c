"""Importing a 热线通报: known and unknown orders, a duplicate line, a rerun, bad rows, the deadline rule."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import openpyxl
import pytest
from sqlmodel import Session, col, select

from tests.helpers import local
from tests.helpers_import import count
from tracker.domain.calendar import WorkCalendar
from tracker.domain.deadlines import end_of_local_day
from tracker.domain.errors import TrackerError
from tracker.models import HotlineNotice, NoticeCheck, NoticeCheckEvent
from tracker.services.accounts import Actor
from tracker.services.orders import rules
from tracker.services.verifications import LayoutError, NoticeFileError, import_notice, load_layout

HEADER = ["序号", "通报编号", "工单编号", "通报类型", "通报日期", "通报内容/要求", "反馈时限"]
ADMIN = Actor(id="user:1", name="管理员", source="web")


def write_xlsx(tmp_path: Path, *rows: list[object], name: str = "通报.xlsx") -> Path:
    """A 通报 workbook: a title row, the header, then ``rows``."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["12345 热线通报（2026 年第 5 期）"])
    sheet.append(HEADER)
    for row in rows:
        sheet.append(row)
    path = tmp_path / name
    book.save(path)
    return path


def run(session: Session, path: Path, calendar: WorkCalendar, when: str = "2026-09-28 09:00"):  # type: ignore[no-untyped-def]
    report = import_notice(session, path, layout=load_layout(), actor=ADMIN, now=local(when), calendar=calendar)
    session.commit()
    return report


def test_known_unknown_duplicate_and_a_rerun(
    session: Session, new_order, calendar: WorkCalendar, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    new_order("2026-09-20 10:00", "SH202609200001", street="静安寺街道")
    new_order("2026-09-21 10:00", "SH202609210002", street="石门二路街道")
    path = write_xlsx(
        tmp_path,
        [1, "TB2026-05", "SH202609200001", "不满意", "2026-09-28", "请核查先行联系情况", "2026-09-30"],
        [2, "TB2026-05", "SH202609210002", "超时办结", "2026-09-28", "", ""],
        [3, "TB2026-05", "SH209900000009", "重复诉件", "2026-09-28", "", ""],
        [4, "TB2026-05", "SH202609200001", "不满意", "2026-09-28", "请核查先行联系情况", "2026-09-30"],
    )
    report = run(session, path, calendar)
    assert report.stored and report.created == 3 and report.new_notices == ["TB2026-05"]
    assert report.unknown == [(5, "SH209900000009")]
    assert report.duplicates == [(6, "SH202609200001", 3)]
    text = "\n".join(report.lines())
    assert "第 5 行工单「SH209900000009」在系统中不存在" in text and "第 6 行与第 3 行重复" in text

    checks = {c.order_no: c for c in session.exec(select(NoticeCheck)).all()}
    assert checks["SH209900000009"].order_id is None  # kept, not dropped
    assert checks["SH202609200001"].order_id is not None
    # the notice's 反馈时限 (a date alone: the whole day) wins; without one, 3 working days from the notice date
    assert checks["SH202609200001"].due_at == end_of_local_day(date(2026, 9, 30))
    assert checks["SH202609200001"].due_basis == "notice"
    # 2026-09-28 (Mon) + 3 working days: 29, 30, then past the National Day holiday (Oct 1–7) → Oct 8 (Thu)
    assert checks["SH202609210002"].due_at == end_of_local_day(date(2026, 10, 8))
    assert checks["SH202609210002"].due_basis == "rule"
    assert count(session, NoticeCheckEvent) == 3

    again = run(session, path, calendar, when="2026-09-29 09:00")
    assert again.created == 0 and again.unchanged == 3 and again.new_notices == []
    assert count(session, NoticeCheck) == 3 and count(session, HotlineNotice) == 1
    assert count(session, NoticeCheckEvent) == 3  # a rerun writes nothing

    new_order("2026-09-22 10:00", "SH209900000009", street="静安寺街道")  # the order arrives later
    session.commit()
    third = run(session, path, calendar, when="2026-09-30 09:00")
    assert third.linked == [(5, "SH209900000009")] and third.unknown == []
    linked = session.exec(select(NoticeCheck).where(NoticeCheck.order_no == "SH209900000009")).one()
    assert linked.order_id is not None
    actions = session.exec(select(NoticeCheckEvent.action).order_by(col(NoticeCheckEvent.id))).all()
    assert actions == ["import", "import", "import", "link"]


def test_a_bad_row_stores_nothing_and_names_row_field_value(
    session: Session, new_order, calendar: WorkCalendar, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    new_order("2026-09-20 10:00", "SH202609200001")
    path = write_xlsx(
        tmp_path,
        [1, "TB2026-06", "SH202609200001", "不满意", "2026-09-28", "", ""],
        [2, "TB2026-06", "SH202609200001", "", "2026-09-28", "", ""],
        [3, "TB2026-06", "SH202609200001", "超时办结", "下周一", "", ""],
        [4, "TB2026-06", "SH202609200001", "退单不当", "2026-09-28", "", "2026-13-45"],
    )
    report = run(session, path, calendar)
    assert not report.stored
    lines = report.lines()
    assert "未导入任何内容" in lines[0]
    assert "第 4 行「通报类型」为「」：不能为空" in lines
    assert any(line.startswith("第 5 行「通报日期」为「下周一」") for line in lines)
    assert any(line.startswith("第 6 行「反馈时限」为「2026-13-45」") for line in lines)
    assert count(session, NoticeCheck) == 0 and count(session, HotlineNotice) == 0


def test_a_file_without_the_required_columns_is_refused(
    session: Session, calendar: WorkCalendar, tmp_path: Path
) -> None:
    path = tmp_path / "通报.csv"
    path.write_text("通报编号,工单编号,备注\nTB1,SH1,x\n", encoding="utf-8")
    with pytest.raises(NoticeFileError, match="缺少必需列「通报类型」"):
        run(session, path, calendar)
    path.write_text("随便,什么\n1,2\n", encoding="utf-8")
    with pytest.raises(NoticeFileError, match="找不到通报表头"):
        run(session, path, calendar)
    assert count(session, HotlineNotice) == 0


def test_the_rule_table_sets_the_default(session: Session, new_order, calendar: WorkCalendar, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    new_order("2026-09-20 10:00", "SH202609200001")
    assert rules.verification_rule(session).label() == "通报核查：3 个工作日（默认）"
    rules.set_rule(
        session,
        stage="通报核查",
        amount=5,
        unit="working_days",
        request_type=None,
        urgency=None,
        note="",
        now=local("2026-09-01 09:00"),
    )
    session.commit()
    assert rules.verification_rule(session).label() == "通报核查：5 个工作日"
    assert len(rules.rule_table(session).rules) > 0  # the order stages' table is not disturbed by the 核查 rule
    path = write_xlsx(tmp_path, [1, "TB7", "SH202609200001", "不满意", "2026-09-28", "", ""])
    run(session, path, calendar)
    check = session.exec(select(NoticeCheck)).one()
    # 28 (Mon) + 5 working days: 29, 30, (holiday Oct 1–7), 8, 9, and Saturday Oct 10, a make-up working day (补班)
    assert check.due_at == end_of_local_day(date(2026, 10, 10))
    with pytest.raises(TrackerError, match="期限「400」应在 0–365 之间"):
        rules.set_rule(
            session,
            stage="verification",
            amount=400,
            unit="working_days",
            request_type=None,
            urgency=None,
            note="",
            now=local("2026-09-01 09:00"),
        )


def test_a_layout_file_names_what_is_wrong(tmp_path: Path) -> None:
    assert [h for h, _ in load_layout().reply][:2] == ["通报编号", "工单编号"]
    with pytest.raises(LayoutError, match="没有名为「上海」的通报格式"):
        load_layout("上海")
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\nsource = "12345"\n[headers]\n"通报编号" = ["通报号"]\n', encoding="utf-8")
    with pytest.raises(LayoutError, match=r"缺少 \[\[reply\]\]"):
        load_layout(bad)
    bad.write_text(
        'name = "x"\nsource = "12345"\n[[reply]]\nheader = "身份证号"\nfield = "id_card"\n', encoding="utf-8"
    )
    with pytest.raises(LayoutError, match="field「id_card」不可用"):
        load_layout(bad)
    bad.write_text('name = "x"\nsource = "12345"\n[headers]\n"通报编号" = "通报号"\n', encoding="utf-8")
    with pytest.raises(LayoutError, match="「通报编号」应为文字列表"):
        load_layout(bad)
