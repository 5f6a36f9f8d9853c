"""Issue 22, part 6: an order always has a squad, and only a complete file is imported.

An empty or unknown 所属街镇 is refused per row once the district's street list is filled; two
columns for one field refuse the file naming both; a CSV cut off in its last row has that row
refused; the inbox takes a file only when it is complete. On SQLite and PostgreSQL alike (the
``session`` and ``engine`` fixtures follow TRACKER_TEST_DATABASE_URL).
"""

from __future__ import annotations

import json
import os
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from tests.helpers import local
from tests.helpers_import import JINGAN_STREETS, count, list_streets, run_import, write_csv
from tracker.models import ImportBatch, Order
from tracker.services.accounts import Actor
from tracker.services.imports.inbox import process_inbox
from tracker.services.imports.reader import ExportFileError, Limits

HEADER = "工单编号,派单时间,诉求类型,问题分类,诉求内容,地址,所属街镇,工单状态"


def good(number: str, street: str = "静安寺街道") -> str:
    return f"{number},2026-11-16 09:00,投诉举报,油烟扰民,油烟很大,某路1号,{street},待签收"


def stored(session: Session) -> dict[str, str | None]:
    return {o.order_no: o.street for o in session.exec(select(Order)).all()}


# --- streets -----------------------------------------------------------------------------------


def test_known_streets_import_and_empty_or_unknown_ones_are_refused_per_row(
    session: Session, engine: Engine, tmp_path: Path
) -> None:
    session.commit()
    list_streets(engine, *JINGAN_STREETS)
    path = write_csv(
        tmp_path,
        HEADER,
        good("S1"),
        good("S2", ""),  # empty
        good("S3", "浦东新区花木街道"),  # another district's
        good("S4", "北站街道"),
        good("S5", "静安寺"),  # not the listed name
    )
    report = run_import(session, path)
    session.commit()
    assert (report.rows_read, report.created) == (5, 2)
    errors = {e.row: e for e in report.rejected}
    assert sorted(errors) == [3, 4, 6]
    assert (errors[3].column, errors[3].value, errors[3].order_no) == ("所属街镇", "", "S2")
    assert "所属街镇为空" in errors[3].reason and "执法队" in errors[3].reason
    assert (errors[4].column, errors[4].value) == ("所属街镇", "浦东新区花木街道")
    assert "不在本区街镇名单中" in errors[4].reason
    assert "第 4 行，字段「所属街镇」，值「浦东新区花木街道」" in str(errors[4])
    assert errors[6].value == "静安寺"
    assert stored(session) == {"S1": "静安寺街道", "S4": "北站街道"}


def test_an_inactive_street_has_no_squad_and_is_refused(session: Session, engine: Engine, tmp_path: Path) -> None:
    from tracker.models import Street

    session.commit()
    list_streets(engine, "静安寺街道", "北站街道")
    with Session(engine) as s:
        street = s.exec(select(Street).where(Street.name == "北站街道")).one()
        street.active = False
        s.add(street)
        s.commit()
    report = run_import(session, write_csv(tmp_path, HEADER, good("S1"), good("S2", "北站街道")))
    assert [(e.row, e.value) for e in report.rejected] == [(3, "北站街道")]
    assert report.created == 1


def test_a_file_without_a_street_column_is_refused_row_by_row_once_streets_are_listed(
    session: Session, engine: Engine, tmp_path: Path
) -> None:
    session.commit()
    list_streets(engine, "静安寺街道")
    path = write_csv(tmp_path, "工单编号,派单时间,诉求内容", "S1,2026-11-16 09:00,油烟")
    report = run_import(session, path)
    assert report.created == 0
    (error,) = report.rejected
    assert (error.row, error.column) == (2, "所属街镇") and "没有「所属街镇」列" in error.reason


def test_with_no_street_list_yet_any_street_is_taken_as_written(session: Session, tmp_path: Path) -> None:
    """The documented rule: before the district's streets are listed (a new installation, the demo's first
    load, which then adopts the streets the orders carry), there is nothing to check a street against."""
    report = run_import(session, write_csv(tmp_path, HEADER, good("S1", "北站街道"), good("S2", "")))
    assert (report.created, report.rejected) == (2, [])


# --- two columns for one field ------------------------------------------------------------------


def test_two_street_columns_refuse_the_file_naming_both(session: Session, engine: Engine, tmp_path: Path) -> None:
    session.commit()
    list_streets(engine, *JINGAN_STREETS)
    one = write_csv(tmp_path, HEADER, good("S1"), name="one.csv")
    assert run_import(session, one).created == 1
    session.commit()
    two = write_csv(
        tmp_path,
        HEADER + ",街道",
        good("S2") + ",北站街道",
        name="two.csv",
    )
    with pytest.raises(ExportFileError) as refused:
        run_import(session, two)
    session.rollback()
    message = refused.value.message
    assert "第 7 列「所属街镇」" in message and "第 9 列「街道」" in message and "字段「所属街镇」" in message
    assert "未导入任何内容" in message
    assert stored(session) == {"S1": "静安寺街道"} and count(session, ImportBatch) == 1


def test_two_order_number_spellings_refuse_the_file(session: Session, tmp_path: Path) -> None:
    path = write_csv(tmp_path, "工单编号,派单时间,12345工单编号,所属街镇", "S1,2026-11-16 09:00,SH1,静安寺街道")
    with pytest.raises(ExportFileError, match="第 1 列「工单编号」与第 3 列「12345工单编号」都对应字段「工单编号」"):
        run_import(session, path)


def test_the_levels_of_the_category_tree_come_together_and_the_second_level_feeds_the_category(
    session: Session, tmp_path: Path
) -> None:
    # a real export carries 一级分类 … 三级分类 side by side: levels of one tree, not two answers to guess between
    header = "工单编号,派单时间,一级分类,二级分类,三级分类,所属街镇"
    path = write_csv(tmp_path, header, "C1,2026-11-16 09:00,市容环境,油烟扰民,餐饮油烟,静安寺街道")
    report = run_import(session, path)
    assert (report.created, report.rejected) == (1, [])
    order = session.exec(select(Order).where(Order.order_no == "C1")).one()
    assert order.category == "油烟扰民"  # 二级分类, listed first under 问题分类 in the profile
    assert order.extras == {"一级分类": "市容环境", "三级分类": "餐饮油烟"}  # kept, never dropped


def test_a_category_tree_in_another_order_still_takes_its_best_level(session: Session, tmp_path: Path) -> None:
    header = "工单编号,派单时间,三级分类,一级分类,所属街镇"
    report = run_import(session, write_csv(tmp_path, header, "C2,2026-11-16 09:00,餐饮油烟,市容环境,静安寺街道"))
    assert report.created == 1
    order = session.exec(select(Order).where(Order.order_no == "C2")).one()
    assert order.category == "市容环境" and order.extras == {"三级分类": "餐饮油烟"}


# --- a file cut off in its last row -------------------------------------------------------------


def test_a_complete_file_without_a_final_line_break_imports_whole(session: Session, tmp_path: Path) -> None:
    path = tmp_path / "whole.csv"
    path.write_bytes("\n".join([HEADER, good("S1"), good("S2")]).encode())  # no line break after the last row
    report = run_import(session, path)
    assert (report.created, report.rejected) == (2, [])


def test_a_last_row_cut_off_mid_row_is_refused_and_the_rest_imported(session: Session, tmp_path: Path) -> None:
    """The half-copied CSV: its last row stopped in 诉求内容, with no street and no content to speak of."""
    path = tmp_path / "half.csv"
    path.write_bytes("\n".join([HEADER, good("S1"), good("S2"), "S3,2026-11-16 09:00,投诉举报,油烟扰民,油烟"]).encode())
    report = run_import(session, path)
    assert report.created == 2 and report.rows_read == 3
    (error,) = report.rejected
    assert (error.row, error.column, error.value, error.order_no) == (4, "诉求内容", "油烟", "S3")
    assert "只有 5 列，表头有 8 列" in error.reason and "「地址」" in error.reason
    assert "最后一行不完整" in error.reason and "末尾也没有换行" in error.reason
    assert set(stored(session)) == {"S1", "S2"}


def test_a_last_row_ending_inside_an_open_quote_is_refused(session: Session, tmp_path: Path) -> None:
    path = tmp_path / "quote.csv"
    cut = 'S3,2026-11-16 09:00,投诉举报,油烟扰民,"油烟很大，每天晚上,某路3号,静安寺街道,待签收\n'
    path.write_bytes("\n".join([HEADER, good("S1"), cut]).encode())
    report = run_import(session, path)
    assert report.created == 1
    (error,) = report.rejected
    assert (error.row, error.order_no) == (3, "S3") and "引号未闭合" in error.reason


def test_a_short_last_row_after_whole_rows_is_refused_even_with_a_line_break(session: Session, tmp_path: Path) -> None:
    report = run_import(session, write_csv(tmp_path, HEADER, good("S1"), "S2,2026-11-16 09:00,投诉举报"))
    assert [(e.row, e.order_no) for e in report.rejected] == [(3, "S2")] and report.created == 1
    assert "最后一行不完整" in report.rejected[0].reason and "末尾也没有换行" not in report.rejected[0].reason


# --- the inbox takes only complete files --------------------------------------------------------


def run_inbox(engine: Engine, inbox: Path, wall: float, settle: float = 60):  # type: ignore[no-untyped-def]
    return process_inbox(
        engine,
        inbox.parent,
        now=local("2026-11-26 07:00"),
        limits=Limits(),
        repeat_window=timedelta(days=30),
        actor=Actor.job("inbox"),
        settle_seconds=settle,
        clock=lambda: wall,
    )


def test_the_inbox_ignores_partial_names_and_waits_for_a_file_still_being_written(
    session: Session, engine: Engine, tmp_path: Path
) -> None:
    session.commit()
    inbox = tmp_path / "inbox" / "12345"  # the profile's folder
    inbox.mkdir(parents=True)
    rows = "\n".join([HEADER, good("S1"), good("S2")]) + "\n"
    for name in ("今日.csv.part", "今日.csv.tmp", ".今日.csv", "~$今日.xlsx"):
        (inbox / name).write_text(rows, encoding="utf-8")
    fresh = inbox / "今日.csv"
    fresh.write_text(rows, encoding="utf-8")
    stat = fresh.stat()
    if stat.st_ctime_ns > stat.st_mtime_ns:
        pytest.skip("this file system's change time runs ahead of its write time")
    wall = stat.st_mtime + 10  # ten seconds after the last write: maybe the copy is still going on
    result = run_inbox(engine, inbox, wall)
    assert (result.imported, result.refused, result.waiting) == ([], [], ["今日.csv"])
    assert "1 个文件可能仍在写入，留待下次：今日.csv" in result.summary()
    assert fresh.exists() and not (inbox.parent / "done").exists()
    with Session(engine) as s:
        assert count(s, Order) == 0
    later = run_inbox(engine, inbox, stat.st_mtime + 61)  # a minute without a write: settled
    assert (later.imported, later.waiting) == (["今日.csv"], [])
    report = json.loads((inbox.parent / "done" / "今日.csv.report.json").read_text(encoding="utf-8"))
    assert report["created"] == 2
    assert sorted(p.name for p in inbox.iterdir() if p.is_file()) == sorted(
        ["今日.csv.part", "今日.csv.tmp", ".今日.csv", "~$今日.xlsx"]
    )


def test_a_file_renamed_into_the_inbox_is_taken_at_once(session: Session, engine: Engine, tmp_path: Path) -> None:
    session.commit()
    inbox = tmp_path / "inbox" / "12345"  # the profile's folder
    inbox.mkdir(parents=True)
    part = inbox / "今日.csv.part"
    part.write_text("\n".join([HEADER, good("S1")]) + "\n", encoding="utf-8")
    finished = time.time() - 5
    os.utime(part, (finished, finished))  # the writer finished five seconds ago ...
    part.rename(inbox / "今日.csv")  # ... and renamed it in now (the write-then-rename convention)
    result = run_inbox(engine, inbox, finished + 5)
    assert (result.imported, result.waiting) == (["今日.csv"], [])


def test_the_half_copied_file_is_not_imported_until_it_is_whole(
    session: Session, engine: Engine, tmp_path: Path
) -> None:
    """The finding: 8,640 of 20,000 rows were imported and the file moved to done/. Now the copy in
    progress waits, and the whole file is imported on a later pass."""
    session.commit()
    inbox = tmp_path / "inbox" / "12345"  # the profile's folder
    inbox.mkdir(parents=True)
    whole = "\n".join([HEADER, *(good(f"S{n}") for n in range(1, 21))]) + "\n"
    copy = inbox / "今日.csv"
    copy.write_bytes(whole.encode()[: len(whole.encode()) // 2])  # the copy is half-way
    stat = copy.stat()
    if stat.st_ctime_ns > stat.st_mtime_ns:
        pytest.skip("this file system's change time runs ahead of its write time")
    assert run_inbox(engine, inbox, stat.st_mtime + 1).waiting == ["今日.csv"]
    with copy.open("ab") as handle:  # the copy goes on and finishes
        handle.write(whole.encode()[len(whole.encode()) // 2 :])
    done = run_inbox(engine, inbox, copy.stat().st_mtime + 60)
    assert done.imported == ["今日.csv"]
    with Session(engine) as s:
        assert count(s, Order) == 20
