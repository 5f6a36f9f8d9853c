"""Known orders met again in an export: steps, statuses and details follow the platform, or conflict."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlmodel import Session, select

from tests.helpers import local
from tests.helpers_import import CLERK, count, run_import, write_csv
from tracker.domain.deadlines import RuleTable
from tracker.domain.lifecycle import ActionInput
from tracker.domain.vocabulary import Action
from tracker.models import ImportBatch, Order, OrderEvent
from tracker.services.imports.importer import ImportOptions, import_file
from tracker.services.imports.profiles import load_profile
from tracker.services.imports.reader import ExportFileError, Limits
from tracker.services.orders import deadlines as deadline_rows
from tracker.services.orders.actions import apply_action, events_of, find_order
from tracker.services.orders.calendar import load_calendar

FULL = "工单编号,派单时间,诉求类型,问题分类,地址,所属街镇,工单状态,签收时间,联系时间,联系结果,督办时间,督办事项,延期申请时间,延期理由,申请延期至,退单申请时间,退单原因,退单依据,办结时间,答复内容,结案评判,重办时间,重办原因"


def row(order_no: str = "G1", **cells: str) -> str:
    values = {
        "派单时间": "2026-11-16 09:00",
        "诉求类型": "投诉举报",
        "问题分类": "噪声扰民",
        "地址": "某路1号",
        "所属街镇": "静安寺街道",
        "工单状态": "处理中",
        "签收时间": "2026-11-16 09:30",
        **cells,
    }
    return ",".join([order_no, *(values.get(name, "") for name in FULL.split(",")[1:])])


def actions(session: Session, order_no: str = "G1") -> list[str]:
    order = find_order(session, source="12345", order_no=order_no)
    assert order is not None
    return [e.action for e in events_of(session, order)]


def test_blanks_never_overwrite_a_contact_recorded_in_the_tracker(session: Session, tmp_path: Path, make_ctx) -> None:  # type: ignore[no-untyped-def]
    run_import(session, write_csv(tmp_path, FULL, row(), name="a.csv"))
    order = find_order(session, source="12345", order_no="G1")
    apply_action(
        session,
        order=order,
        action=Action.FIRST_CONTACT,  # type: ignore[arg-type]
        data=ActionInput(contact_result="已联", contact_at=local("2026-11-16 10:00")),
        ctx=make_ctx("2026-11-16 10:05"),
    )
    report = run_import(session, write_csv(tmp_path, FULL, row(地址="某路1号甲"), name="b.csv"), now="2026-11-17 09:00")
    assert report.updated == 1
    assert (order.contact_at, order.contact_result, order.address) == (local("2026-11-16 10:00"), "已联", "某路1号甲")  # type: ignore[union-attr]


def test_a_step_recorded_later_is_applied_at_its_own_time(session: Session, tmp_path: Path) -> None:
    run_import(session, write_csv(tmp_path, FULL, row(), name="a.csv"))
    run_import(session, write_csv(tmp_path, FULL, row(地址="某路2号"), name="b.csv"), now="2026-11-18 09:00")
    report = run_import(
        session,
        write_csv(tmp_path, FULL, row(地址="某路2号", 督办时间="2026-11-17 08:00", 督办事项="加快"), name="c.csv"),
        now="2026-11-18 10:00",
    )
    assert report.updated == 1
    order = find_order(session, source="12345", order_no="G1")
    supervise = [e for e in events_of(session, order) if e.action == "supervise"]  # type: ignore[arg-type]
    assert [e.at for e in supervise] == [local("2026-11-17 08:00")]


def test_a_recorded_step_the_lifecycle_refuses_is_a_conflict_not_a_silent_skip(
    session: Session, tmp_path: Path
) -> None:
    run_import(session, write_csv(tmp_path, FULL, row(), name="a.csv"))
    events = count(session, OrderEvent)
    report = run_import(
        session,
        write_csv(tmp_path, FULL, row(延期申请时间="2026-11-17 09:00", 申请延期至="2026-11-26"), name="b.csv"),
        now="2026-11-18 10:00",
    )
    assert report.updated == 0
    assert [str(c) for c in report.conflicts] == [
        "第 2 行，字段「延期申请时间」，值「2026-11-17 09:00」：导出记录的「申请延期」无法在本系统中执行：工单 G1（当前状态：处置中）"
        "不能执行「申请延期」：缺少延期理由。当前可执行：先行联系、申请延期、申请退单、办结、督办；本行未改动，请核实"
    ]
    assert count(session, OrderEvent) == events
    again = run_import(
        session,
        write_csv(tmp_path, FULL, row(延期申请时间="2026-11-17 09:00", 申请延期至="2026-11-26"), "", name="c.csv"),
        now="2026-11-18 11:00",
    )  # another file (a blank line more), the same row
    assert len(again.conflicts) == 1  # not stored as seen: it comes back until it is sorted out


def test_a_return_turned_down_on_the_platform_is_rejected_here(session: Session, tmp_path: Path) -> None:
    asked = row(工单状态="退单中", 退单申请时间="2026-11-16 10:00", 退单原因="非本辖区", 退单依据="邻街")
    run_import(session, write_csv(tmp_path, FULL, asked, name="a.csv"))
    back = row(工单状态="处理中", 退单申请时间="2026-11-16 10:00", 退单原因="非本辖区", 退单依据="邻街")
    report = run_import(session, write_csv(tmp_path, FULL, back, name="b.csv"), now="2026-11-17 09:00")
    assert report.updated == 1
    assert find_order(session, source="12345", order_no="G1").state == "handling"  # type: ignore[union-attr]
    assert actions(session)[-1] == "reject_return"


def test_a_redo_after_closure_reopens_the_order(session: Session, tmp_path: Path) -> None:
    closed = row(工单状态="已办结", 办结时间="2026-11-17 15:00", 答复内容="已处理", 结案评判="实际解决")
    run_import(session, write_csv(tmp_path, FULL, closed, name="a.csv"))
    redo = row(
        工单状态="处理中",
        办结时间="2026-11-17 15:00",
        答复内容="已处理",
        结案评判="实际解决",
        重办时间="2026-11-19 09:00",
        重办原因="回访不满意",
    )
    report = run_import(session, write_csv(tmp_path, FULL, redo, name="b.csv"), now="2026-11-19 10:00")
    assert (report.updated, report.conflicts) == (1, [])
    order = find_order(session, source="12345", order_no="G1")
    assert (order.state, order.cycle) == ("handling", 2)  # type: ignore[union-attr]


def test_a_layout_without_status_closes_by_closure_time_and_a_lost_closure_conflicts(
    session: Session, tmp_path: Path
) -> None:
    header = "工单编号,派单时间,诉求类型,办结时间,答复内容"
    run_import(session, write_csv(tmp_path, header, "H1,2026-11-16 09:00,求助,2026-11-17 10:00,已处理", name="a.csv"))
    assert find_order(session, source="12345", order_no="H1").state == "closed"  # type: ignore[union-attr]
    report = run_import(session, write_csv(tmp_path, header, "H1,2026-11-16 09:00,求助,,", name="b.csv"))
    assert [c.reason for c in report.conflicts] == [
        "本系统中该工单已办结，导出却为「无办结时间」（办结被撤销？）；未改动，请核实"
    ]


def test_closed_without_a_closure_time_is_closed_but_not_judged(session: Session, tmp_path: Path) -> None:
    report = run_import(session, write_csv(tmp_path, FULL, row(工单状态="已办结"), name="a.csv"))
    assert [w.reason for w in report.warnings] == [
        "工单状态为已办结，但导出没有办结时间：办结时间按导出中最近的已知时间推定，是否按时无法判定"
    ]
    order = find_order(session, source="12345", order_no="G1")
    closure = next(r for r in deadline_rows.all_deadlines(session, order) if r.stage == "closure")  # type: ignore[arg-type]
    # the best time the export gives (its 签收时间, the last recorded step), never the import time (11-26)
    assert closure.completed_at == local("2026-11-16 09:30") and closure.outcome is None
    assert order.closed_at == local("2026-11-16 09:30")  # type: ignore[union-attr]
    (closing,) = [e for e in events_of(session, order) if e.action == "platform_close"]  # type: ignore[arg-type]
    assert (
        closing.note.startswith("时间为推定：导出显示工单为「已办结」，但没有给出办结时间")
        and "（签收时间）" in closing.note
    )


def test_a_state_shown_without_its_time_takes_the_best_time_of_the_export_never_the_import_time(
    session: Session, tmp_path: Path
) -> None:
    # 处理中 with no 签收时间 (as NYC 311's 2013 orders, "signed" on the day of import before)
    run_import(session, write_csv(tmp_path, FULL, row("S1", 签收时间=""), name="a.csv"), now="2026-11-26 09:00")
    order = find_order(session, source="12345", order_no="S1")
    assert order is not None and (order.state, order.signed_at) == ("handling", local("2026-11-16 09:00"))
    (sign,) = [e for e in events_of(session, order) if e.action == "sign"]
    assert sign.at == local("2026-11-16 09:00") and "没有给出签收时间" in sign.note and "（派单时间）" in sign.note

    # the same step with its time in the export is recorded as given and judged
    run_import(session, write_csv(tmp_path, FULL, row("S2"), name="b.csv"), now="2026-11-26 09:00")
    given = find_order(session, source="12345", order_no="S2")
    assert given is not None and given.signed_at == local("2026-11-16 09:30")
    assert all("推定" not in e.note for e in events_of(session, given))

    # an order already known, dispatched in the tracker, shown 处理中 later: after its last known moment
    run_import(session, write_csv(tmp_path, FULL, row("S3", 工单状态="待签收", 签收时间=""), name="c.csv"))
    run_import(session, write_csv(tmp_path, FULL, row("S3", 签收时间=""), name="d.csv"), now="2026-11-27 09:00")
    later = find_order(session, source="12345", order_no="S3")
    assert later is not None and later.state == "handling" and later.signed_at == local("2026-11-16 09:00")


def test_the_repeat_window_is_configurable(session: Session, tmp_path: Path) -> None:
    header = "工单编号,派单时间,问题分类,地址"
    path = write_csv(
        tmp_path, header, "R1,2026-10-01 09:00,油烟扰民,武定路100号", "R2,2026-11-16 09:00,油烟扰民,武定路100号"
    )
    options = ImportOptions(
        actor=CLERK,
        now=local("2026-11-26 09:00"),
        calendar=load_calendar(session),
        rules=RuleTable(),
        profile=load_profile("12345"),
        repeat_window=timedelta(days=60),
    )
    import_file(session, path, options=options)
    assert find_order(session, source="12345", order_no="R2").repeat_of == "R1"  # type: ignore[union-attr]


def test_explicit_time_offsets_are_kept(session: Session, tmp_path: Path) -> None:
    run_import(session, write_csv(tmp_path, "工单编号,派单时间,诉求类型", "Z1,2026-11-20T06:30:00Z,求助"))
    assert find_order(session, source="12345", order_no="Z1").dispatched_at == local("2026-11-20 14:30")  # type: ignore[union-attr]


def test_every_extra_cell_is_kept(session: Session, tmp_path: Path) -> None:
    run_import(
        session,
        write_csv(tmp_path, "工单编号,派单时间,诉求类型,备注,备注,,序号", "X1,2026-11-20 09:00,求助,甲,乙,丙,7,丁"),
    )
    extras = find_order(session, source="12345", order_no="X1").extras  # type: ignore[union-attr]
    assert extras == {
        "备注": "甲",
        "备注（第 5 列）": "乙",
        "第 6 列": "丙",
        "第 8 列": "丁",
    }  # 序号 is ignored by the profile


def test_an_unclosed_quote_refuses_the_file(session: Session, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path,
        "工单编号,派单时间,问题分类,诉求内容,地址",
        'Q1,2026-11-16 09:00,噪声扰民,"楼下很吵,某路1号',
        "Q2,2026-11-16 09:00,噪声扰民,吵,某路2号",
        "Q3,2026-11-16 09:00,噪声扰民,吵,某路3号",
    )
    with pytest.raises(ExportFileError, match="第 2 行起引号不配对"):
        run_import(session, path)


def test_other_sheets_are_named_in_the_report(session: Session, tmp_path: Path) -> None:
    book = Workbook()
    book.active.append(["工单编号", "派单时间", "诉求类型"])  # type: ignore[union-attr]
    book.active.append(["S1", "2026-11-16 09:00", "求助"])  # type: ignore[union-attr]
    book.create_sheet("十月").append(["S2", "2026-10-16 09:00", "求助"])
    path = tmp_path / "two.xlsx"
    book.save(path)
    report = run_import(session, path)
    assert report.created == 1
    assert "只导入了第一个「Sheet」；未导入：十月" in report.warnings[0].reason


def test_a_file_refused_midway_leaves_nothing(session: Session, tmp_path: Path) -> None:
    session.commit()
    path = write_csv(
        tmp_path,
        "工单编号,派单时间,诉求类型",
        "L1,2026-11-16 09:00,求助",
        "L2,2026-11-16 09:00,求助",
        "L3,2026-11-16 09:00,求助",
    )
    with pytest.raises(ExportFileError, match="数据行超过上限 2 行"):
        run_import(session, path, limits=Limits(max_rows=2))
    session.rollback()  # what the command's unit of work does
    assert (count(session, Order), count(session, ImportBatch)) == (0, 0)


def test_every_issue_is_stored_with_the_batch(session: Session, tmp_path: Path) -> None:
    from tracker.models import ImportIssue

    path = write_csv(
        tmp_path, "工单编号,派单时间,诉求类型", ",2026-11-16 09:00,求助", "B2,bad,求助", "B3,2026-11-16 09:00,求助"
    )
    report = run_import(session, path)
    stored = session.exec(select(ImportIssue)).all()
    assert sorted((i.kind, i.row, i.column, i.value, i.reason) for i in stored) == sorted(
        ("rejected", e.row, e.column, e.value, e.reason) for e in report.rejected
    )
    assert len(stored) == 2
