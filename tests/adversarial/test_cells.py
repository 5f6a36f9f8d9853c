"""One bad cell must not lose the file: NUL bytes and values longer than their column are row-level rejections,
checked before the database sees them, on SQLite and PostgreSQL alike, through the CLI and the web upload."""

from __future__ import annotations

import json
from io import BytesIO
from pathlib import Path

from openpyxl import Workbook
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from tests.helpers_import import list_streets, run_import
from tests.web.conftest import as_role, csrf_token, people, post  # noqa: F401 (fixtures used below)
from tracker.models import ImportIssue, Order

HEADER = "12345工单编号,派单时间,诉求类型,问题分类,诉求内容,地址,所属街镇,工单状态,备注"
LONGEST = "SH" + "9" * 62  # exactly the column's 64 characters
TOO_LONG = "SH" + "8" * 63  # 65


def export_with_bad_cells(tmp_path: Path, name: str = "bad.csv") -> Path:
    """Two good rows around three bad ones (a NUL in a known and in an unknown column, an over-long number)."""
    rows = [
        HEADER,
        "SH1,2026-11-16 09:00,投诉举报,油烟扰民,油烟很大,某路1号,北站街道,待签收,",
        "SH2,2026-11-16 09:00,投诉举报,油烟扰民,油烟\x00很大,某路2号,北站街道,待签收,",
        "SH3,2026-11-16 09:00,投诉举报,油烟扰民,噪声,某路3号,北站街道,待签收,备\x00注",
        f"{TOO_LONG},2026-11-16 09:00,投诉举报,油烟扰民,噪声,某路4号,北站街道,待签收,",
        f"{LONGEST},2026-11-16 09:00,投诉举报,油烟扰民,噪声,某路5号,北站街道,待签收,",
    ]
    path = tmp_path / name
    path.write_bytes(("\n".join(rows) + "\n").encode())
    return path


def assert_rejections(errors: list[dict[str, object]]) -> None:
    by_row = {e["row"]: e for e in errors}
    assert sorted(by_row) == [3, 4, 5]
    assert by_row[3]["column"] == "诉求内容" and by_row[3]["value"] == "油烟␀很大"
    assert "空字符" in str(by_row[3]["reason"]) and "其余行照常导入" in str(by_row[3]["reason"])
    assert by_row[4]["column"] == "备注" and by_row[4]["value"] == "备␀注"
    assert by_row[5]["column"] == "12345工单编号"  # the header as the file has it
    assert str(by_row[5]["value"]).startswith("SH888") and "共 65 字" in str(by_row[5]["value"])
    assert "65 字" in str(by_row[5]["reason"]) and "上限 64 字" in str(by_row[5]["reason"])
    assert all("\x00" not in json.dumps(e, ensure_ascii=False) for e in errors)


def test_bad_cells_are_rejected_per_row_and_the_rest_imports(session: Session, tmp_path: Path) -> None:
    report = run_import(session, export_with_bad_cells(tmp_path))
    session.commit()
    assert (report.created, report.rows_read) == (2, 5)
    assert_rejections(report.as_json()["errors"])
    stored = set(session.exec(select(Order.order_no)).all())
    assert stored == {"SH1", LONGEST}
    issues = session.exec(select(ImportIssue).where(ImportIssue.kind == "rejected")).all()
    assert sorted(i.row or 0 for i in issues) == [3, 4, 5]


def test_a_nul_in_a_header_is_shown_not_stored(session: Session, tmp_path: Path) -> None:
    path = tmp_path / "header.csv"
    header = HEADER.replace("备注", "备\x00注")
    path.write_bytes(f"{header}\nSH1,2026-11-16 09:00,投诉举报,油烟扰民,油烟,某路,北站街道,待签收,有\n".encode())
    report = run_import(session, path)
    session.commit()
    assert (report.created, report.rejected) == (1, [])
    assert session.exec(select(Order)).one().extras == {"备␀注": "有"}


def test_an_over_long_number_in_a_workbook_is_rejected_per_row(session: Session, tmp_path: Path) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(HEADER.split(","))
    sheet.append([TOO_LONG, "2026-11-16 09:00", "投诉举报", "油烟扰民", "噪声", "某路", "北站街道", "待签收"])
    sheet.append(["SH9", "2026-11-16 09:00", "投诉举报", "油烟扰民", "噪声", "某路", "北站街道", "待签收"])
    path = tmp_path / "long.xlsx"
    book.save(path)
    report = run_import(session, path)
    session.commit()
    assert report.created == 1
    (error,) = report.rejected
    assert (error.row, error.column) == (2, "12345工单编号") and "上限 64 字" in error.reason


def test_the_cli_imports_the_good_rows_and_exits_zero(runner, tmp_path: Path, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "report.json"
    path = export_with_bad_cells(tmp_path)
    result = runner.invoke(args=["import-orders", str(path), "--profile", "12345", "--report-json", str(out)])
    assert result.exit_code == 0, result.output
    assert_rejections(json.loads(out.read_text(encoding="utf-8"))["errors"])
    with Session(engine) as session:
        assert set(session.exec(select(Order.order_no)).all()) == {"SH1", LONGEST}


def test_the_web_upload_reports_the_rows_and_commits_the_rest(app, as_role, tmp_path: Path, engine: Engine) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    app.config["UPLOAD_DIR"] = str(tmp_path / "uploads")
    client = as_role("admin")
    list_streets(engine, "北站街道")  # the people's street list must hold the export's street
    content = export_with_bad_cells(tmp_path).read_bytes()
    data = {"file": (BytesIO(content), "bad.csv"), "profile": "12345", "csrf_token": csrf_token(client)}
    response = client.post("/imports/uploads", data=data, content_type="multipart/form-data")
    assert response.status_code == 303, response.get_data(as_text=True)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "油烟␀很大" in page and "12345工单编号" in page
    response = post(client, response.headers["Location"] + "/commit")
    assert response.status_code == 303, response.get_data(as_text=True)
    with Session(engine) as session:
        assert set(session.exec(select(Order.order_no)).all()) == {"SH1", LONGEST}
