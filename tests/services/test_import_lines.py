"""The line pass: a CSV row whose line is the one its order was last imported from is unchanged, unparsed.

Each test holds the line pass to what the field-by-field survey alone decides: the same report,
the same stored orders and events.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook
from sqlmodel import Session, select

from tests.helpers_import import count, run_import
from tracker.models import Order, OrderEvent
from tracker.services.imports import reader
from tracker.services.imports import steps as importing  # the import's steps: the survey it runs
from tracker.services.imports.profiles import load_profile
from tracker.services.imports.reader import open_export
from tracker.services.imports.report import ImportReport
from tracker.services.imports.survey import LineSurvey

HEADER = ["工单编号", "派单时间", "诉求类型", "问题分类", "诉求内容", "地址", "所属街镇", "工单状态", "签收时间"]


def row(number: str, content: str = "楼下饭店油烟直排", status: str = "处理中", day: int = 20) -> list[str]:
    signed = f"2026-11-{day} 10:00" if status != "待签收" else ""
    return [number, f"2026-11-{day} 09:00", "投诉举报", "油烟扰民", content, "某路1号", "北站街道", status, signed]


def write(path: Path, rows: list[list[str]], *, header: list[str] = HEADER, encoding: str = "utf-8-sig") -> Path:
    buffer = io.StringIO()
    csv.writer(buffer).writerows([header, *rows])
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def outcome(report: ImportReport) -> tuple[Any, ...]:
    """What a report says, without the batch name."""
    return (
        report.rows_read,
        report.created,
        report.updated,
        report.unchanged,
        [(e.row, e.column, e.value, e.reason) for e in report.rejected],
        [(e.row, e.column, e.value, e.reason) for e in report.conflicts],
        report.skipped,
    )


def stored(session: Session) -> list[tuple[Any, ...]]:
    orders = session.exec(select(Order).order_by(Order.source, Order.order_no)).all()
    return [(o.source, o.order_no, o.state, o.content, o.import_hash) for o in orders]


@pytest.fixture
def no_full_survey(monkeypatch: pytest.MonkeyPatch) -> None:
    """The field-by-field survey must not run: the line pass settles the file alone."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the full survey ran")

    monkeypatch.setattr(importing, "survey_rows", refuse)


def test_an_unchanged_csv_is_settled_by_its_lines_alone(session: Session, tmp_path: Path, request: Any) -> None:
    rows = [row(f"L{n:04d}", status="已办结" if n % 3 == 0 else "处理中") for n in range(50)]
    rows[7][4] = "内容含英文逗号, 和“引号”"  # a quoted cell on its line
    first = run_import(session, write(tmp_path / "a.csv", rows), chunk_rows=8)
    assert first.created == 50
    assert all(o.line_hash for o in session.exec(select(Order)).all())
    events = count(session, OrderEvent)
    again = tmp_path / "b.csv"
    again.write_bytes((tmp_path / "a.csv").read_bytes() + b"\n\n")  # another file, the same rows
    request.getfixturevalue("no_full_survey")
    report = run_import(session, again, chunk_rows=8)
    assert (report.rows_read, report.unchanged, report.created, report.updated) == (50, 50, 0, 0)
    assert report.skipped == [(52, "空行"), (53, "空行")]
    assert count(session, OrderEvent) == events


def test_changed_new_and_repeated_rows_come_out_as_the_full_survey_says(
    session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = [row(f"M{n:03d}") for n in range(30)]
    later = [list(r) for r in base]
    later[3][4] = "内容改了"  # changed
    later[10] = row("M010", status="已办结")  # changed status
    later.append(row("M900"))  # new
    later.append(list(base[5]))  # the same as row 7, again
    later.append(row("M020", content="与第 22 行编号相同，内容不同"))  # a number twice, content differing
    later.insert(15, ["合计", "", "", "", "", "", "", "", ""])  # a totals row in the middle
    results = []
    for use_lines in (True, False):
        with session.begin_nested() as nested:
            if not use_lines:
                monkeypatch.setattr(importing, "line_survey", lambda *a, **k: LineSurvey())
            run_import(session, write(tmp_path / "base.csv", base), chunk_rows=4)
            report = run_import(session, write(tmp_path / "later.csv", later), chunk_rows=4)
            results.append((outcome(report), stored(session), count(session, OrderEvent)))
            nested.rollback()
    with_lines, without = results
    assert with_lines == without
    report = with_lines[0]
    assert report[1:4] == (1, 2, 27)  # created, updated, unchanged
    assert [r[0] for r in report[4]] == [23, 35]  # M020 twice with other content: both rows refused


def test_a_stale_line_does_not_match_after_a_spreadsheet_changed_the_order(session: Session, tmp_path: Path) -> None:
    """An order last changed from an XLSX has no line digest: its old CSV line is compared field by field."""
    original = write(tmp_path / "a.csv", [row("S1"), row("S2")])
    run_import(session, original)
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for cells in [HEADER, row("S1", content="经整改后复查"), row("S2")]:
        sheet.append(cells)
    book.save(tmp_path / "b.xlsx")
    changed = run_import(session, tmp_path / "b.xlsx")
    assert (changed.updated, changed.unchanged) == (1, 1)
    s1 = session.exec(select(Order).where(Order.order_no == "S1")).one()
    assert (s1.content, s1.line_hash) == ("经整改后复查", None)
    back = tmp_path / "c.csv"
    back.write_bytes(original.read_bytes() + b"\n")  # the first export's lines again
    report = run_import(session, back)
    assert (report.updated, report.unchanged) == (1, 1)
    session.refresh(s1)
    assert s1.content == "楼下饭店油烟直排" and s1.line_hash


def test_another_column_order_is_compared_field_by_field(session: Session, tmp_path: Path) -> None:
    rows = [row(f"C{n}") for n in range(6)]
    run_import(session, write(tmp_path / "a.csv", rows))
    order = [8, 0, 1, 2, 3, 4, 5, 6, 7]
    moved = write(tmp_path / "b.csv", [[r[i] for i in order] for r in rows], header=[HEADER[i] for i in order])
    report = run_import(session, moved)
    assert (report.unchanged, report.updated) == (6, 0)
    gb = write(tmp_path / "c.csv", rows, encoding="gb18030")  # the same text in another encoding
    report = run_import(session, gb)
    assert (report.unchanged, report.updated) == (6, 0)


def test_a_gb18030_file_is_settled_by_its_lines(session: Session, tmp_path: Path, request: Any) -> None:
    path = write(tmp_path / "a.csv", [row(f"G{n}", content="噪声扰民，夜间施工") for n in range(9)], encoding="gb18030")
    run_import(session, path)
    again = tmp_path / "b.csv"
    again.write_bytes(path.read_bytes() + b"\r\n")
    request.getfixturevalue("no_full_survey")
    assert run_import(session, again).unchanged == 9


def test_a_cell_over_two_lines_stops_the_line_pass_there(session: Session, tmp_path: Path) -> None:
    rows = [row(f"N{n}") for n in range(8)]
    rows[5][4] = "第一行\n第二行"
    path = write(tmp_path / "a.csv", rows)
    run_import(session, path)
    export = open_export(path, profile=load_profile("12345"))
    assert [n for n, _, _ in export.plain_lines()] == [2, 3, 4, 5, 6]  # row 7 spans two lines
    assert not export.plain_ended
    again = tmp_path / "b.csv"
    again.write_bytes(path.read_bytes() + b"\n")
    report = run_import(session, again)
    assert (report.rows_read, report.unchanged, report.skipped) == (8, 8, [(10, "空行")])


def test_lines_ending_in_a_lone_carriage_return_are_read_as_before(tmp_path: Path) -> None:
    path = tmp_path / "mac.csv"
    path.write_bytes(("\r".join(",".join(r) for r in [HEADER, row("R1"), row("R2")]) + "\r").encode())
    export = open_export(path, profile=load_profile("12345"))
    rows = list(export.rows())
    assert [(r.number, r.fields["工单编号"], r.line) for r in rows] == [(2, "R1", None), (3, "R2", None)]
    assert list(export.plain_lines()) == []


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    base=st.lists(
        st.sampled_from(["楼下油烟", "噪声, 扰民", '说"不行"', "a\nb", "  留空格  "]), min_size=1, max_size=9
    ),
    edits=st.lists(
        st.tuples(
            st.integers(0, 10),
            st.sampled_from(["content", "status", "drop", "twice", "new", "blank", "totals"]),
        ),
        max_size=6,
    ),
    chunk_rows=st.integers(1, 4),
    block_bytes=st.sampled_from([1, 150, 400, 1 << 20]),  # blocks of one line, a few, the whole file
)
def test_the_line_pass_never_changes_what_an_import_decides(
    session: Session,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    base: list[str],
    edits: list[tuple[int, str]],
    chunk_rows: int,
    block_bytes: int,
) -> None:
    first = [row(f"H{n}", content=text) for n, text in enumerate(base)]
    second = [list(r) for r in first]
    for at, edit in edits:
        if not second:
            break
        i = at % len(second)
        if edit == "content":
            second[i][4] += "（已改）"
        elif edit == "status":
            second[i][7] = "已办结"
        elif edit == "drop":
            del second[i]
        elif edit == "twice":
            second.insert(i, list(second[i]))
        elif edit == "new":
            second.insert(i, row(f"H{100 + at}"))
        elif edit == "blank":
            second.insert(i, [""] * len(HEADER))
        else:
            second.insert(i, ["合计：3 件", *[""] * (len(HEADER) - 1)])
    results = []
    for use_lines in (True, False):
        with monkeypatch.context() as patch, session.begin_nested() as nested:
            patch.setattr(reader, "PLAIN_BLOCK_BYTES", block_bytes)
            if not use_lines:
                patch.setattr(importing, "line_survey", lambda *a, **k: LineSurvey())
            run_import(session, write(tmp_path / "first.csv", first), chunk_rows=chunk_rows)
            report = run_import(session, write(tmp_path / "second.csv", second), chunk_rows=chunk_rows)
            results.append((outcome(report), stored(session), count(session, OrderEvent)))
            nested.rollback()
    assert results[0] == results[1]


def test_a_number_twice_in_different_blocks_and_chunks_goes_to_the_full_survey(
    session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [row(f"T{n}") for n in range(9)]
    run_import(session, write(tmp_path / "a.csv", rows), chunk_rows=2)
    monkeypatch.setattr(reader, "PLAIN_BLOCK_BYTES", 200)  # a few lines a block: T1 comes back blocks later
    again = write(tmp_path / "b.csv", [*rows, row("T1", content="改过的内容")])
    report = run_import(session, again, chunk_rows=2)
    assert (report.rows_read, report.unchanged, report.updated) == (10, 8, 0)
    assert sorted({e.row for e in report.rejected}) == [3, 11]  # both rows of T1, as the full survey reports them


def test_a_bulk_read_file_with_blank_lines_and_no_last_line_end_is_settled_by_its_lines(
    session: Session, tmp_path: Path, request: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path / "a.csv", [row(f"K{n}") for n in range(12)])
    run_import(session, path)
    monkeypatch.setattr(reader, "PLAIN_BLOCK_BYTES", 300)
    lines = path.read_bytes().split(b"\r\n")
    again = tmp_path / "b.csv"
    again.write_bytes(b"\r\n".join([*lines[:6], b"", *lines[6:-1]]))  # a blank line after row 6, no last line end
    request.getfixturevalue("no_full_survey")
    report = run_import(session, again)
    assert (report.rows_read, report.unchanged) == (12, 12)
