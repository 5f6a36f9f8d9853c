"""The dirty sample exports, each asserted line by line, and the broken ones refused whole."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session, select

from tests.helpers import local
from tests.helpers_import import count, run_import
from tracker.models import ImportBatch, Order
from tracker.services.imports.reader import ExportFileError
from tracker.services.orders.actions import find_order

DIRTY = Path(__file__).resolve().parents[2] / "sample_orders" / "dirty"


def test_xlsx_with_merged_cells_serial_dates_repeated_header_and_totals(session: Session) -> None:
    report = run_import(session, DIRTY / "12345_合并单元格_序列号日期.xlsx")
    assert (report.rows_read, report.created, report.updated, report.unchanged) == (6, 4, 0, 0)
    assert report.skipped == [(6, "重复的表头行"), (7, "空行"), (11, "合计行（合计）")]
    assert [str(e) for e in report.rejected] == [
        "第 9 行，字段「受理时间」，值「not a date」：不是可识别的日期时间（例如 2026-11-20 14:30）",
        "第 10 行，字段「结案评判」，值「已搞定」：无法识别的结案评判，可识别：实际解决、已解决、解决、解释说明、未解决、是、否",
    ]
    assert [str(w) for w in report.warnings] == [
        "字段「文件」，值「12345_合并单元格_序列号日期.xlsx」：合并单元格 G3:G5 的值「江宁路街道」已填入所跨的每一行"
    ]
    first = find_order(session, source="12345", order_no="SH20261119001")
    second = find_order(session, source="12345", order_no="SH20261119002")
    assert first is not None and second is not None
    assert first.received_at == local("2026-11-19 09:00")  # Excel serial 46345.375
    assert (first.street, second.street) == ("江宁路街道", "江宁路街道")  # merged down
    assert first.state == "handling" and second.state == "dispatched"
    closed = find_order(session, source="12345", order_no="SH20261119004")
    assert closed is not None and closed.state == "closed" and closed.extras["备注"] == "见附件"


def test_gb18030_csv_with_chinese_date_forms_full_width_digits_and_duplicates(session: Session) -> None:
    report = run_import(session, DIRTY / "城管诉件_GB18030_杂乱.csv", profile="城管诉件")
    assert (report.rows_read, report.created, report.source) == (6, 4, "城管诉件")
    assert report.skipped == [
        (5, "空行"),
        (6, "重复的表头行"),
        (10, "与第 9 行完全相同的重复行"),
        (11, "合计行（总计：6 件）"),
    ]
    assert [str(e) for e in report.rejected] == [
        "第 8 行，字段「联系时间」，值「2026/11/19 10:00」：工单 CG20261119004（当前状态：处置中）不能执行「先行联系」："
        "未联系上时须选择原因（始终关机 / 始终未接 / 其他），实际为「空」。当前可执行：先行联系、申请延期、申请退单、办结、督办。"
    ]
    first = find_order(session, source="城管诉件", order_no="CG20261119001")
    assert first is not None
    assert (first.received_at, first.signed_at, first.contact_at) == (
        local("2026-11-19 09:00"),
        local("2026-11-19 09:30"),
        local("2026-11-19 10:00"),
    )
    assert first.phone == "01012345678"
    assert find_order(session, source="城管诉件", order_no="CG20261119002").contact_reason == "始终关机"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("不是表格.xlsx", "文件「不是表格.xlsx」扩展名为 .xlsx，内容却不是 Excel 工作簿"),
        (
            "缺少工单编号.csv",
            "文件「缺少工单编号.csv」缺少必需列「工单编号」；第 1 行表头为：派单时间、诉求类型、所属街镇、工单状态",
        ),
    ],
)
def test_broken_files_are_refused_whole(session: Session, name: str, message: str) -> None:
    with pytest.raises(ExportFileError) as refused:
        run_import(session, DIRTY / "broken" / name)
    assert str(refused.value) == message
    assert count(session, Order) == 0 and count(session, ImportBatch) == 0
    assert session.exec(select(ImportBatch)).first() is None
