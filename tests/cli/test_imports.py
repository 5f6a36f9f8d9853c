"""import-orders as an operator uses it: exit codes, dry run, reports, a killed import, two at once."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from tracker.models import ImportBatch, Order

ROOT = Path(__file__).resolve().parents[2]
CSV = ROOT / "sample_orders" / "城管诉件导出_2026-11-20.csv"
HEADER = "工单编号,派单时间,诉求类型,问题分类,地址,所属街镇,工单状态,签收时间,备注"


def orders(engine: Engine) -> int:
    with Session(engine) as session:
        return len(session.exec(select(Order.id)).all())


def batches(engine: Engine) -> int:
    with Session(engine) as session:
        return len(session.exec(select(ImportBatch.id)).all())


def test_import_orders_reports_and_exit_codes(runner, engine: Engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    export = tmp_path / "daily.csv"
    export.write_text(
        HEADER + "\nE1,2026-11-16 09:00,求助,渣土,某路1号,北站街道,待签收,,=SUM(A1:A9)\n"
        "E2,2026-13-16 09:00,求助,渣土,某路2号,北站街道,待签收,,\n",
        encoding="utf-8",
    )
    json_path, xlsx_path = tmp_path / "r.json", tmp_path / "r.xlsx"
    result = runner.invoke(
        args=[
            "import-orders",
            str(export),
            "--profile",
            "12345",
            "--report-json",
            str(json_path),
            "--report-xlsx",
            str(xlsx_path),
            "--user",
            "王敏",
        ]
    )
    assert result.exit_code == 0, result.output  # read, even with a rejected row
    assert "新建 1 件" in result.output and "拒绝 1 行" in result.output
    report = json.loads(json_path.read_text(encoding="utf-8"))
    assert {k: report[k] for k in ("created", "updated", "unchanged", "rejected", "conflicts")} == {
        "created": 1,
        "updated": 0,
        "unchanged": 0,
        "rejected": 1,
        "conflicts": 0,
    }
    assert report["errors"] == [
        {
            "row": 3,
            "column": "派单时间",
            "value": "2026-13-16 09:00",
            "reason": "不是可识别的日期时间（例如 2026-11-20 14:30）",
            "order_no": "E2",
        }
    ]
    details = load_workbook(xlsx_path)["明细"]
    assert [c.value for c in details[2]][:6] == ["daily.csv", "拒绝", 3, "E2", "派单时间", "2026-13-16 09:00"]
    assert orders(engine) == 1


def test_a_report_path_that_cannot_be_written_is_refused_before_importing(
    runner, engine: Engine, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """Found following the README: the import was saved, then a traceback instead of the report."""
    missing = tmp_path / "no-such-folder" / "r.json"
    result = runner.invoke(args=["import-orders", str(CSV), "--profile", "城管诉件", "--report-json", str(missing)])
    assert result.exit_code != 0
    assert f"--report-json {missing}：所在目录不存在。未导入任何文件" in result.output
    assert "Traceback" not in result.output
    assert orders(engine) == 0 and batches(engine) == 0


def test_report_xlsx_is_formula_safe(runner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    export = tmp_path / "evil.csv"
    export.write_text(
        HEADER + "\n=cmd|' /C calc'!A0,2026-13-16 09:00,求助,渣土,某路,北站街道,待签收,,\n", encoding="utf-8"
    )
    xlsx_path = tmp_path / "r.xlsx"
    runner.invoke(args=["import-orders", str(export), "--profile", "12345", "--report-xlsx", str(xlsx_path)])
    row = [c.value for c in load_workbook(xlsx_path)["明细"][2]]
    assert row[3] == "'=cmd|' /C calc'!A0"


def test_report_csv_is_the_detail_sheet_with_a_bom_and_formula_safe(runner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    export = tmp_path / "evil.csv"
    export.write_text(
        HEADER + "\n=cmd|' /C calc'!A0,2026-13-16 09:00,求助,渣土,某路,北站街道,待签收,,\n", encoding="utf-8"
    )
    xlsx_path, csv_path = tmp_path / "r.xlsx", tmp_path / "r.csv"
    args = ["import-orders", str(export), "--profile", "12345", "--report-xlsx", str(xlsx_path)]
    result = runner.invoke(args=[*args, "--report-csv", str(csv_path)])
    assert result.exit_code == 0, result.output
    content = csv_path.read_bytes()
    assert content.startswith(b"\xef\xbb\xbf") and b"\r\n" in content
    rows = list(csv.reader(io.StringIO(content.decode("utf-8")[1:], newline="")))
    sheet = [
        ["" if c is None else str(c) for c in row]
        for row in load_workbook(xlsx_path)["明细"].iter_rows(values_only=True)
    ]
    assert rows == sheet and rows[1][3] == "'=cmd|' /C calc'!A0"


def test_dry_run_changes_nothing(runner, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    result = runner.invoke(args=["import-orders", str(CSV), "--profile", "城管诉件", "--dry-run"])
    assert result.exit_code == 0 and "新建 90 件" in result.output and "试导入" in result.output
    assert orders(engine) == 0 and batches(engine) == 0


def test_a_refused_file_exits_non_zero_and_others_still_import(runner, engine: Engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.xlsx"
    bad.write_text("not a workbook", encoding="utf-8")
    json_path, xlsx_path = tmp_path / "r.json", tmp_path / "r.xlsx"
    result = runner.invoke(
        args=[
            "import-orders",
            str(bad),
            str(CSV),
            "--profile",
            "城管诉件",
            "--report-json",
            str(json_path),
            "--report-xlsx",
            str(xlsx_path),
        ]
    )
    assert result.exit_code == 1
    assert "bad.xlsx：整个文件未导入。文件「bad.xlsx」扩展名为 .xlsx，内容却不是 Excel 工作簿" in result.output
    assert orders(engine) == 90
    report = json.loads(json_path.read_text(encoding="utf-8"))
    assert report["refused_files"] == [
        {"file": "bad.xlsx", "reason": "文件「bad.xlsx」扩展名为 .xlsx，内容却不是 Excel 工作簿"}
    ]
    assert report["created"] == 90 and [f["file"] for f in report["files"]] == [CSV.name]
    assert load_workbook(xlsx_path)["汇总"]["B1"].value == CSV.name


def test_an_export_that_fits_two_platforms_needs_a_profile(runner) -> None:  # type: ignore[no-untyped-def]
    result = runner.invoke(args=["import-orders", str(CSV)])
    assert result.exit_code == 1
    assert "表头同时符合导入配置 12345、城管诉件，无法判断来源；请用 --profile 指定" in result.output


def test_unknown_profile_is_explained(runner) -> None:  # type: ignore[no-untyped-def]
    result = runner.invoke(args=["import-orders", str(CSV), "--profile", "上海"])
    assert result.exit_code == 1 and "没有名为「上海」的内置导入配置，可选：12345、城管诉件、nyc311" in result.output


def big_export(tmp_path: Path, rows: int) -> Path:
    lines = [HEADER] + [
        f"K{i:06d},2026-11-16 09:00,投诉举报,渣土,某路{i}号,北站街道,处理中,2026-11-16 09:30," for i in range(rows)
    ]
    path = tmp_path / "big.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def flask(database_url: str, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "TRACKER_DATABASE_URL": database_url}
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.mark.slow
def test_a_killed_import_leaves_no_trace_and_running_it_again_completes(
    app,
    engine: Engine,
    database_url: str,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    export = big_export(tmp_path, 6000)  # three chunks: killed after the first is written
    process = flask(database_url, "import-orders", str(export), "--profile", "12345")
    assert process.stdout is not None
    seen = ""
    while "导入 big.csv" not in seen:  # the progress bar appears once rows are being written
        line = process.stdout.readline()
        assert line, f"import ended before it could be killed: {seen}"
        seen += line
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert (orders(engine), batches(engine)) == (0, 0)
    again = flask(database_url, "import-orders", str(export), "--profile", "12345")
    output, _ = again.communicate(timeout=600)
    assert again.returncode == 0, output
    assert "新建 6000 件" in output and orders(engine) == 6000


@pytest.mark.slow
def test_two_imports_of_the_same_file_at_once_never_duplicate(
    app,
    engine: Engine,
    database_url: str,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    export = big_export(tmp_path, 400)
    first, second = (flask(database_url, "import-orders", str(export), "--profile", "12345") for _ in range(2))
    outputs = [p.communicate(timeout=600)[0] for p in (first, second)]
    assert [p.returncode for p in (first, second)] == [0, 0], outputs
    assert sum("新建 400 件" in o for o in outputs) == 1
    assert sum("导入过" in o for o in outputs) == 1
    assert (orders(engine), batches(engine)) == (400, 1)
