"""Importing export files: the sample layouts, bad rows named by row, field and value, bad files refused."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlmodel import Session, select

from tracker.domain.deadlines import RuleTable
from tracker.domain.vocabulary import State
from tracker.hotline import ExportFileError, parse_local_datetime, read_export
from tracker.models import Order, OrderEvent
from tracker.services.calendar import load_calendar
from tracker.services.importing import import_export
from tracker.services.orders import find_order

SAMPLES = Path(__file__).resolve().parents[2] / "sample_orders"
XLSX = SAMPLES / "12345工单导出_2026-11-20.xlsx"
CSV = SAMPLES / "城管诉件导出_2026-11-20.csv"

HEADER = "工单编号,派单时间,诉求类型,所属街镇,工单状态,签收时间,办结时间,答复内容,结案评判,联系电话\n"


def run(session: Session, path: Path, source: str = "12345"):  # type: ignore[no-untyped-def]
    return import_export(session, path, source=source, batch="b1", calendar=load_calendar(session), rules=RuleTable())


def count(session: Session, model: type) -> int:
    return int(session.exec(select(func.count()).select_from(model)).one())


def test_the_12345_sample_imports_completely(session: Session) -> None:
    report = run(session, XLSX)
    assert (report.created, report.errors, report.existing) == (220, [], [])
    assert report.skipped == [(223, "合计行（合计：220 件）")]
    states = Counter(o.state for o in session.exec(select(Order)).all())
    assert set(states) == {s.value for s in State}
    order = find_order(session, source="12345", order_no="SH20261100001")
    assert order is not None and order.extras["坐席工号"]  # unknown column kept as an extra
    assert order.phone is not None and len(order.phone) == 11


def test_the_gb18030_csv_sample_imports_completely(session: Session) -> None:
    table = read_export(CSV)
    assert table.encoding == "gb18030"
    report = run(session, CSV, source="城管诉件")
    assert (report.created, report.errors) == (90, [])


def test_importing_again_changes_nothing(session: Session) -> None:
    run(session, CSV, source="城管诉件")
    events = count(session, OrderEvent)
    report = run(session, CSV, source="城管诉件")
    assert report.created == 0 and len(report.existing) == 90
    assert count(session, OrderEvent) == events


def write(tmp_path: Path, body: str, encoding: str = "utf-8-sig", name: str = "export.csv") -> Path:
    path = tmp_path / name
    path.write_bytes((HEADER + body).encode(encoding))
    return path


def test_bad_rows_are_named_and_leave_nothing_behind(session: Session, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        (
            "A1,2026-11-16 09:00,投诉举报,静安寺街道,处理中,2026-11-16 09:30,,,,13800138000\n"
            "A2,2026-11-32 09:00,投诉举报,静安寺街道,待签收,,,,,\n"
            "A3,2026-11-16 09:00,投诉举报,静安寺街道,已办结,2026-11-16 09:30,2026-11-17 10:00,,实际解决,\n"
            "A4,2026-11-16 09:00,投诉举报,静安寺街道,已办结,2026-11-16 09:30,,,,\n"
            "A5,2026-11-16 09:00,投诉举报,静安寺街道,挂起,,,,,\n"
            ",2026-11-16 09:00,投诉举报,静安寺街道,待签收,,,,,\n"
            "A7,,投诉举报,静安寺街道,待签收,,,,,\n"
        ),
    )
    report = run(session, path)
    assert report.created == 1
    assert [str(e) for e in report.errors] == [
        "第 3 行，字段「派单时间」，值「2026-11-32 09:00」：不是可识别的日期时间（例如 2026-11-20 14:30）",
        "第 4 行，字段「办结时间」，值「2026-11-17 10:00」：工单 A3（当前状态：处置中）不能执行「办结」：缺少答复内容。"
        "当前可执行：先行联系、申请延期、申请退单、办结、督办。",
        "第 5 行，字段「工单状态」，值「已办结」：按本行记录的各环节时间推演，工单应为「处置中」，与导出状态不符",
        "第 6 行，字段「工单状态」，值「挂起」：无法识别的工单状态，"
        "可识别：待签收、待受理、已签收、处理中、处置中、办理中、"
        "退单中、退单审核中、已退单、已办结、已结案、办结",
        "第 7 行，字段「工单编号」，值「」：工单编号为空",
        "第 8 行，字段「派单时间」，值「」：派单时间与受理时间均为空，无法起算期限",
    ]
    assert [o.order_no for o in session.exec(select(Order)).all()] == ["A1"]
    assert count(session, OrderEvent) == 2  # A1's dispatch and sign; nothing of the refused rows


def test_chinese_punctuation_in_text_is_kept(session: Session, tmp_path: Path) -> None:
    path = write(tmp_path, "A1,2026-11-16 09:00,投诉举报,静安寺街道,处理中,2026-11-16 09:30,,,,\n")
    path.write_text(
        path.read_text(encoding="utf-8-sig")
        .replace("工单编号,", "诉求内容,工单编号,")
        .replace("A1,", '"油烟扰民，要求处理：（急）",A1,'),
        encoding="utf-8",
    )
    run(session, path)
    order = find_order(session, source="12345", order_no="A1")
    assert order is not None and order.content == "油烟扰民，要求处理：（急）"


def test_order_and_phone_numbers_keep_leading_zeros(session: Session, tmp_path: Path) -> None:
    path = write(tmp_path, "0012345,2026-11-16 09:00,求助,静安寺街道,待签收,,,,,02161234567\n")
    run(session, path)
    order = find_order(session, source="12345", order_no="0012345")
    assert order is not None and order.phone == "02161234567"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-20 14:30", "2026-11-20 14:30:00"),
        ("2026-11-20 14:30:15", "2026-11-20 14:30:15"),
        ("2026/11/20 14:30", "2026-11-20 14:30:00"),
        ("2026年11月20日 14时30分", "2026-11-20 14:30:00"),
        ("20261120143000", "2026-11-20 14:30:00"),
        ("２０２６-１１-２０　１４:３０", "2026-11-20 14:30:00"),
        ("46346.6041666667", "2026-11-20 14:30:00"),
    ],
)
def test_date_forms(text: str, expected: str) -> None:
    moment = parse_local_datetime(text)
    assert moment is not None and moment.strftime("%Y-%m-%d %H:%M:%S") == expected


def test_bad_files_are_refused_whole(session: Session, tmp_path: Path) -> None:
    with pytest.raises(ExportFileError, match=r"类型「\.txt」不受支持"):
        run(session, write(tmp_path, "", name="x.txt"))
    no_key = tmp_path / "nokey.csv"
    no_key.write_text("标题\n派单时间,说明\n2026-11-16 09:00,无\n", encoding="utf-8")
    with pytest.raises(ExportFileError, match="前 20 行中找不到表头"):
        run(session, no_key)
    missing_key = tmp_path / "missing.csv"
    missing_key.write_text(
        "派单时间,诉求类型,所属街镇,工单状态\n2026-11-16 09:00,求助,北站街道,待签收\n", encoding="utf-8"
    )
    with pytest.raises(ExportFileError, match="缺少必需列「工单编号」"):
        run(session, missing_key)
    garbage = tmp_path / "garbage.csv"
    garbage.write_bytes(b"\xff\xfe\xff\xfe\x80\x80")
    with pytest.raises(ExportFileError, match="既不是 UTF-8 也不是 GB18030"):
        run(session, garbage)
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"PK\x03\x04 this is not really a workbook")
    with pytest.raises(ExportFileError) as refused:
        run(session, broken)
    assert str(refused.value) == "文件「broken.xlsx」无法读取：文件已损坏，或不是 Excel 表格（扩展名与内容不符）"
    assert count(session, Order) == 0
