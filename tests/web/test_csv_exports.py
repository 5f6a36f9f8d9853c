"""CSV beside every XLSX export: the same rows and values (masked the same way), a UTF-8 BOM, formula-safe text,
the same scope, and an export-log entry that names the CSV format; a bad format or sheet is refused in Chinese."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from functools import partial
from io import BytesIO
from pathlib import Path

import pytest
import time_machine
from openpyxl import load_workbook
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from tests.adversarial.test_export_fidelity import ADMIN
from tests.helpers_import import JINGAN_STREETS, list_streets
from tests.services.test_analysis import NOW as ANALYSIS_NOW
from tests.services.test_analysis import order
from tests.web.conftest import post
from tests.web.test_analysis import plant
from tests.web.test_imports import EVIL, upload, upload_id
from tests.web.test_orders import PHONE, load_demo
from tests.web.test_spot_checks import ALL_PASS, NOW, draw, first_items
from tracker.models import ExportLog, Order
from tracker.services.orders import ExportTooLarge, OrderFilter, export_order_sheets
from tracker.web.spot_checks import RESULT_SHEETS

HOSTILE = ("=", "+", "-", "@", "\t")


def csv_rows(content: bytes) -> list[list[str]]:
    """The CSV as rows of text, after checking the BOM and the CRLF line ends."""
    assert content.startswith(b"\xef\xbb\xbf")
    text = content.decode("utf-8")[1:]
    assert "\r\n" in text and "\n" not in text.replace("\r\n", "")  # no bare LF (no cell here holds a line break)
    return list(csv.reader(io.StringIO(text, newline="")))


def xlsx_rows(content: bytes, sheet: str | None = None) -> list[list[str]]:
    """A sheet of the XLSX as the CSV should show it: empty cells empty, the rest as text."""
    book = load_workbook(BytesIO(content), read_only=True)
    rows = (book[sheet] if sheet else book.worksheets[0]).iter_rows(values_only=True)
    shown = [["" if cell is None else str(cell) for cell in row] for row in rows]
    book.close()
    return shown


def logs(engine: Engine) -> list[ExportLog]:
    with Session(engine) as session:
        return list(session.exec(select(ExportLog).order_by(col(ExportLog.id))).all())


def assert_formula_safe(rows: list[list[str]]) -> None:
    assert not any(cell.startswith(HOSTILE) for row in rows for cell in row)


@time_machine.travel(NOW, tick=False)
def test_orders_csv_matches_the_xlsx_scoped_masked_formula_safe_and_logged(as_role, runner, engine) -> None:  # type: ignore[no-untyped-def]
    load_demo(runner)
    with Session(engine) as session:
        order = session.exec(select(Order).where(Order.street == "静安寺街道").order_by(col(Order.id))).first()
        assert order is not None
        order.content = '=HYPERLINK("http://evil","点我")'
        order.address = "\t+1 号"
        order.complainant = "@张三"
        session.add(order)
        session.commit()
    client = as_role("squad")
    page = client.get("/?state=handling").get_data(as_text=True)
    assert 'href="/orders/export.xlsx?state=handling&amp;format=csv" id="export-csv"' in page
    xlsx = client.get("/orders/export.xlsx")
    response = client.get("/orders/export.xlsx?format=csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert ".csv" in response.headers["Content-Disposition"]
    rows = csv_rows(response.data)
    assert rows == xlsx_rows(xlsx.data, "工单")
    street = rows[0].index("街镇")
    assert {row[street] for row in rows[1:]} == {"静安寺街道"}  # another street's orders absent for a squad
    text = " ".join(cell for row in rows for cell in row)
    assert not PHONE.search(text)
    assert "'=HYPERLINK" in text and "'\t+1 号" in text and "'@**" in text  # masked first, then neutralised
    assert_formula_safe(rows[1:])
    alerts = client.get("/orders/export.xlsx?format=csv&sheet=当前预警")
    assert csv_rows(alerts.data) == xlsx_rows(xlsx.data, "当前预警")
    xlsx_entry, csv_entry, alerts_entry = logs(engine)
    assert "format" not in xlsx_entry.parameters
    assert csv_entry.kind == xlsx_entry.kind == "工单列表"
    assert csv_entry.parameters == {"format": "csv", "sheet": "工单"} and csv_entry.masked
    assert csv_entry.row_count == xlsx_entry.row_count == len(rows) - 1
    assert alerts_entry.parameters == {"format": "csv", "sheet": "当前预警"}
    page = as_role("admin").get("/admin/exports").get_data(as_text=True)
    assert page.count("<td>工单列表</td><td>CSV</td>") == 2 and page.count("<td>工单列表</td><td>XLSX</td>") == 1


@time_machine.travel(NOW, tick=False)
def test_a_bad_format_or_sheet_is_refused_in_chinese_and_nothing_is_logged(as_role, runner, engine) -> None:  # type: ignore[no-untyped-def]
    load_demo(runner)
    client = as_role("squad")
    bad_format = client.get("/orders/export.xlsx?format=pdf")
    assert bad_format.status_code == 422
    assert "导出参数 format 的值「pdf」无效：只能是 csv 或 xlsx" in bad_format.get_data(as_text=True)
    bad_sheet = client.get("/orders/export.xlsx?format=csv&sheet=全部")
    assert bad_sheet.status_code == 422
    assert "导出参数 sheet 的值「全部」不是本导出的工作表：可选 工单、当前预警" in bad_sheet.get_data(as_text=True)
    assert logs(engine) == []
    assert client.get("/orders/export.xlsx?format=CSV").status_code == 200  # the case of the value does not matter


@time_machine.travel(NOW, tick=False)
def test_too_many_orders_is_refused_before_anything_is_written_or_logged(as_role, runner, engine, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import tracker.web.orders

    load_demo(runner)
    with Session(engine) as session:
        own = len(session.exec(select(Order.id).where(Order.street == "静安寺街道")).all())
        with pytest.raises(ExportTooLarge, match=f"筛选结果超过 {own - 1} 件"):
            export_order_sheets(session, viewer=ADMIN, filters=OrderFilter(street="静安寺街道"), max_rows=own - 1)
        sheets = export_order_sheets(session, viewer=ADMIN, filters=OrderFilter(street="静安寺街道"), max_rows=own)
        assert len(list(sheets["工单"])) == own + 1  # the header and every order: exactly at the limit is allowed
    monkeypatch.setattr(tracker.web.orders, "export_order_sheets", partial(export_order_sheets, max_rows=own - 1))
    for query in ("", "?format=csv"):
        response = as_role("squad").get(f"/orders/export.xlsx{query}")
        assert response.status_code == 422 and f"筛选结果超过 {own - 1} 件" in response.get_data(as_text=True)
    assert logs(engine) == []


@pytest.fixture
def import_setup(app, people, engine: Engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    app.config["UPLOAD_DIR"] = str(tmp_path / "uploads")
    list_streets(engine, *JINGAN_STREETS)


@time_machine.travel(NOW, tick=False)
def test_rejected_rows_csv_is_the_detail_sheet_formula_safe_and_logged(as_role, engine, import_setup) -> None:  # type: ignore[no-untyped-def]
    client = as_role("admin")
    number = upload_id(upload(client, EVIL, "=evil.csv"))
    batch = post(client, f"/imports/uploads/{number}/commit").headers["Location"].rsplit("/", 1)[-1]
    page = client.get(f"/imports/batches/{batch}").get_data(as_text=True)
    assert f'href="/imports/batches/{batch}/rejected.xlsx?format=csv" id="rejected-download-csv"' in page
    xlsx = client.get(f"/imports/batches/{batch}/rejected.xlsx")
    response = client.get(f"/imports/batches/{batch}/rejected.xlsx?format=csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = csv_rows(response.data)
    assert rows == xlsx_rows(xlsx.data, "明细")
    assert rows[1][:6] == ["'=evil.csv", "拒绝", "3", "'=cmd|' /C calc'!A0", "派单时间", "2026-13-16 09:00"]
    assert_formula_safe(rows)
    summary = csv_rows(client.get(f"/imports/batches/{batch}/rejected.xlsx?format=csv&sheet=汇总").data)
    assert summary == xlsx_rows(xlsx.data, "汇总") and ["文件", "'=evil.csv"] in summary
    entries = logs(engine)
    assert [e.parameters.get("format") for e in entries] == [None, "csv", "csv"]
    assert entries[1].kind == "导入报告" and entries[1].parameters["sheet"] == "明细"
    assert entries[1].row_count == entries[0].row_count == 1
    assert as_role("supervisor").get(f"/imports/batches/{batch}/rejected.xlsx?format=csv").status_code == 403


@pytest.fixture
def demo(app, people, runner):  # type: ignore[no-untyped-def]
    """The demo orders, the clock at 2026-11-26 10:00 (as in test_spot_checks)."""
    with time_machine.travel(NOW, tick=False):
        load_demo(runner)
        yield app


@time_machine.travel(NOW, tick=False)
def test_spot_check_csv_has_one_file_per_sheet_matching_the_xlsx(demo, as_role, engine) -> None:  # type: ignore[no-untyped-def]
    client = as_role("supervisor")
    plan_id = draw(client)
    for item in first_items(engine, plan_id)[:4]:
        post(client, f"/spot-checks/plans/{plan_id}/items/{item.id}/review", {**ALL_PASS, "comment": "-差评"})
    xlsx = client.get(f"/spot-checks/plans/{plan_id}/results.xlsx")
    assert tuple(load_workbook(BytesIO(xlsx.data), read_only=True).sheetnames) == RESULT_SHEETS
    for sheet in RESULT_SHEETS:
        response = client.get(f"/spot-checks/plans/{plan_id}/results.xlsx?format=csv&sheet={sheet}")
        assert response.status_code == 200 and response.mimetype == "text/csv"
        assert csv_rows(response.data) == xlsx_rows(xlsx.data, sheet)
    default = csv_rows(client.get(f"/spot-checks/plans/{plan_id}/results.xlsx?format=csv").data)
    assert default == xlsx_rows(xlsx.data, "合格率")
    detail = csv_rows(client.get(f"/spot-checks/plans/{plan_id}/results.xlsx?format=csv&sheet=评查明细").data)
    comments = [row[detail[0].index("评查意见")] for row in detail[1:]]
    assert comments.count("'-差评") == 4
    assert_formula_safe(detail)
    for page in (f"/spot-checks/plans/{plan_id}", f"/spot-checks/plans/{plan_id}/results"):
        html = client.get(page).get_data(as_text=True)
        assert html.count('class="export-csv"') == len(RESULT_SHEETS) and "format=csv" in html
    summary = client.get("/spot-checks/results.xlsx?month_from=2026-10&format=csv&sheet=问题项")
    summary_xlsx = client.get("/spot-checks/results.xlsx?month_from=2026-10")
    assert csv_rows(summary.data) == xlsx_rows(summary_xlsx.data, "问题项")
    overall = client.get("/spot-checks/results?month_from=2026-10").get_data(as_text=True)
    assert "/spot-checks/results.xlsx?month_from=2026-10&amp;format=csv&amp;sheet=" in overall
    entries = logs(engine)
    csv_entries = [e for e in entries if e.parameters.get("format") == "csv"]
    assert [e.parameters["sheet"] for e in csv_entries] == [*RESULT_SHEETS, "合格率", "评查明细", "问题项"]
    assert csv_entries[-1].kind == "抽查结果汇总" and csv_entries[-1].parameters["month_from"] == "2026-10"
    assert csv_entries[0].kind == "抽查结果" and csv_entries[0].row_count == entries[0].row_count
    assert as_role("squad").get(f"/spot-checks/plans/{plan_id}/results.xlsx?format=csv").status_code == 403


@time_machine.travel(ANALYSIS_NOW, tick=False)
def test_hotspots_csv_matches_the_xlsx_without_personal_data_and_is_scoped(as_role, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    plant(engine)
    with Session(engine) as session:
        session.add_all(
            order(500 + i, ANALYSIS_NOW - timedelta(days=d), "静安寺街道", '=HYPERLINK("http://x")', "华山路2号")
            for i, d in enumerate((3, 5, 9))
        )
        session.commit()
    client = as_role("supervisor")
    page = client.get("/analysis/?days=90").get_data(as_text=True)
    assert 'id="hotspots-export-csv" href="/analysis/hotspots.xlsx?days=90&amp;format=csv"' in page
    xlsx = client.get("/analysis/hotspots.xlsx?days=90")
    response = client.get("/analysis/hotspots.xlsx?days=90&format=csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = csv_rows(response.data)
    assert rows == xlsx_rows(xlsx.data)
    by_place = {r[0]: r for r in rows[2:]}
    assert by_place["华山路2号"][1] == '\'=HYPERLINK("http://x")'
    flat = " ".join(cell for row in rows for cell in row)
    for personal in ("张三", "13812345678", "3号401", "401室"):
        assert personal not in flat
    assert_formula_safe(rows)
    squad = csv_rows(as_role("other_squad").get("/analysis/hotspots.xlsx?format=csv").data)
    assert len(squad) == 2  # title and headers only: another street's hotspots absent
    entries = logs(engine)
    assert entries[1].parameters == {"days": "90", "format": "csv", "sheet": "重复诉件热点"}
    assert entries[1].row_count == entries[0].row_count == 2 and entries[1].kind == "重复诉件热点"
