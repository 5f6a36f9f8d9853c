"""Export and import fidelity: formula neutralising after masking in every XLSX writer; free text stored verbatim."""

from __future__ import annotations

import zipfile
from io import BytesIO
from pathlib import Path

from openpyxl import load_workbook
from sqlmodel import Session, select

from tests.helpers_import import run_import, write_csv
from tracker.domain.roles import Role
from tracker.models import Order
from tracker.services.accounts import Viewer
from tracker.services.imports import ImportReport, reports_to_xlsx
from tracker.services.imports.rows import RowError
from tracker.services.orders import OrderFilter, export_orders
from tracker.services.spot_checks.results import Labels, ReviewRow, compute_results, results_workbook

ADMIN = Viewer(1, "admin", "管理员", Role.ADMIN, None)
HEADER = "工单编号,派单时间,诉求类型,问题分类,诉求内容,地址,所属街镇,工单状态,办结时间,答复内容,诉求人,联系电话"


def formulas(content: bytes) -> list[str]:
    """Every formula element in the workbook's sheets (a neutralised cell is a string, never an <f>)."""
    with zipfile.ZipFile(BytesIO(content)) as archive:
        return [
            name for name in archive.namelist() if name.startswith("xl/worksheets/") and b"<f>" in archive.read(name)
        ]


def test_a_masked_name_starting_with_equals_is_not_a_formula(session: Session, new_order) -> None:  # type: ignore[no-untyped-def]
    new_order(order_no="SH1", complainant="=A1+B1", phone="=1", content="\t=1+1", address="@SUM(1)")
    new_order(order_no="SH2", complainant="王先生", phone="13812345678", content="油烟扰民")
    session.commit()
    content = export_orders(session, viewer=ADMIN, filters=OrderFilter())
    assert formulas(content) == []
    rows = {row[0]: row for row in load_workbook(BytesIO(content)).active.iter_rows(values_only=True)}  # type: ignore[union-attr]
    header = rows["工单编号"]
    evil, plain = dict(zip(header, rows["SH1"], strict=True)), dict(zip(header, rows["SH2"], strict=True))
    assert evil["诉求人"] == "'=*****" and evil["联系电话"] == "**" and evil["诉求内容"] == "'\t=1+1"
    assert evil["地址"] == "'@SUM(1)"
    assert (plain["诉求人"], plain["联系电话"], plain["诉求内容"]) == ("王**", "138****5678", "油烟扰民")


def _review(street: str, grade: str, comment: str) -> ReviewRow:
    return ReviewRow(
        plan_id=1,
        plan_name="=计划",
        item_id=1,
        order_no="-SH1",
        street=street,
        squad="+执法队",
        category="@分类",
        month="2026-11",
        random=True,
        reasons=("=随机",),
        score=90.0,
        grade=grade,
        passed=True,
        marks={"=k": "pass"},
        hard_fails=(),
        comment=comment,
        reviewer="=评查人",
        reviewed_at=None,
        redo_started=False,
    )


def test_the_spot_check_workbook_neutralises_every_text_cell() -> None:
    labels = Labels(items={"=k": "=SUM(1,2)"}, hard_fails={}, bands=["=优"], passing={"=优"})
    rows = [_review("=静安寺街道", "=优", "=HYPERLINK(1)"), _review("曹家渡街道", "=优", "良好")]
    content = results_workbook(compute_results(rows, labels, lambda **q: ""), title="通报")
    assert formulas(content) == []
    book = load_workbook(BytesIO(content))
    detail = list(book["评查明细"].iter_rows(values_only=True))
    assert "'=SUM(1,2)" in detail[0] and "'=随机" in detail[1] and "良好" in detail[2]


def test_the_import_report_neutralises_every_text_cell() -> None:
    report = ImportReport(file="=a.csv", profile="12345", source="12345")
    report.rejected.append(RowError(2, "=列", "=1+1", "+原因", "-SH1"))
    report.skipped.append((3, "=合计行"))
    content = reports_to_xlsx([report])
    assert formulas(content) == []
    details = list(load_workbook(BytesIO(content))["明细"].iter_rows(values_only=True))
    assert details[1] == ("'=a.csv", "拒绝", 2, "'-SH1", "'=列", "'=1+1", "'+原因")
    assert details[2][-1] == "'=合计行"


def test_free_text_is_stored_verbatim_and_keys_are_trimmed(session: Session, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path,
        HEADER,
        'SH1 ,2026-11-16 09:00,投诉举报, 油烟扰民 ,"\t=1+1",某路1号 , 北站街道,已办结,2026-11-17 09:00,"  已处理\t",王五 ,13812345678',
        "SH2,2026-11-16 09:00,投诉举报,噪声扰民,   ,某路2号,北站街道,待签收,,,,",
    )
    report = run_import(session, path)
    assert (report.created, report.rejected) == (2, [])
    first = session.exec(select(Order).where(Order.order_no == "SH1")).one()
    assert (first.content, first.reply) == ("\t=1+1", "  已处理\t")  # free text as written
    assert (first.category, first.street, first.address, first.complainant) == (
        "油烟扰民",
        "北站街道",
        "某路1号",
        "王五",
    )
    second = session.exec(select(Order).where(Order.order_no == "SH2")).one()
    assert second.content is None  # nothing but spaces is empty
    session.commit()
    again = tmp_path / "again.csv"
    again.write_bytes(path.read_bytes() + b"\n")  # the same rows, another file: recognised as unchanged
    second_run = run_import(session, again)
    assert (second_run.created, second_run.updated, second_run.unchanged) == (0, 0, 2)


def test_free_text_in_a_workbook_is_stored_verbatim(session: Session, tmp_path: Path) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(HEADER.split(","))
    sheet.append(["SH3 ", "2026-11-16 09:00", "投诉举报", "油烟扰民", "\t=1+1", "某路3号", "北站街道", "待签收"])
    path = tmp_path / "export.xlsx"
    book.save(path)
    report = run_import(session, path)
    assert (report.created, report.rejected) == (1, [])
    order = session.exec(select(Order).where(Order.order_no == "SH3")).one()
    assert order.content == "\t=1+1"
