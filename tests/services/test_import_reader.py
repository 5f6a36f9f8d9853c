"""Reading export files: encodings, header detection, file-level limits, date forms, cells as text."""

from __future__ import annotations

import zipfile
from datetime import UTC
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from openpyxl import Workbook

from tracker.services.imports.profiles import load_profile
from tracker.services.imports.reader import ExportFileError, Limits, cell_text, open_export, parse_datetime

SHANGHAI = ZoneInfo("Asia/Shanghai")
P12345 = load_profile("12345")
HEADER = "工单编号,派单时间,诉求类型,所属街镇\n"


def write(tmp_path: Path, text: str, encoding: str = "utf-8", name: str = "x.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_encodings_are_detected_without_mojibake(tmp_path: Path, encoding: str) -> None:
    export = open_export(
        profile=P12345, path=write(tmp_path, HEADER + "A1,2026-11-19 09:00,投诉举报,静安寺街道\n", encoding)
    )
    assert export.encoding == ("gb18030" if encoding == "gb18030" else "utf-8-sig")
    [row] = list(export.rows())
    assert row.fields["所属街镇"] == "静安寺街道"


def test_a_title_row_is_skipped_and_rows_keep_their_spreadsheet_numbers(tmp_path: Path) -> None:
    export = open_export(
        profile=P12345, path=write(tmp_path, "某区工单导出\n\n" + HEADER + "A1,2026-11-19 09:00,求助,北站街道\n")
    )
    assert export.header_row == 3
    assert [row.number for row in export.rows()] == [4]


def test_rows_can_be_read_twice(tmp_path: Path) -> None:
    export = open_export(profile=P12345, path=write(tmp_path, HEADER + "A1,2026-11-19 09:00,求助,北站街道\n合计,1\n"))
    assert [r.number for r in export.rows()] == [r.number for r in export.rows()] == [2]
    assert export.skipped == [(3, "合计行（合计）")]


def test_profile_is_detected_from_the_headers(tmp_path: Path) -> None:
    nyc = write(tmp_path, "Unique Key,Created Date,Status,Borough\n1,12/25/2013 11:59:08 PM,Open,BRONX\n")
    assert open_export(nyc).profile.name == "nyc311"


def test_size_row_and_unpacked_size_limits(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + "".join(f"A{i},2026-11-19 09:00,求助,北站街道\n" for i in range(10)))
    with pytest.raises(ExportFileError, match="大小 452 字节，超过上限 100 字节"):
        open_export(path, profile=P12345, limits=Limits(max_bytes=100))
    export = open_export(path, profile=P12345, limits=Limits(max_rows=5))
    with pytest.raises(ExportFileError, match="数据行超过上限 5 行"):
        list(export.rows())
    book = Workbook()
    book.active.append(["工单编号", "派单时间", "诉求类型"])  # type: ignore[union-attr]
    xlsx = tmp_path / "small.xlsx"
    book.save(xlsx)
    with pytest.raises(ExportFileError, match="疑似压缩炸弹"):
        open_export(xlsx, limits=Limits(max_unzipped_bytes=1000))


def test_a_zip_that_unpacks_to_gigabytes_is_refused_before_reading(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.xlsx"
    with (
        zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as archive,
        archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as member,
    ):
        chunk = b"0" * (1 << 20)
        for _ in range(1100):  # 1.1 GB unpacked, about 1 MB packed
            member.write(chunk)
    assert bomb.stat().st_size < 5 * 1024 * 1024
    with pytest.raises(ExportFileError, match="解压后共 1100 MB，超过上限 400 MB"):
        open_export(bomb)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("x.txt", b"a,b", "类型「.txt」不受支持"),
        ("x.csv", b"PK\x03\x04rest", "扩展名为 .csv，内容却是 Excel 工作簿"),
        ("x.xlsx", b"just text", "扩展名为 .xlsx，内容却不是 Excel 工作簿"),
        ("x.xls", b"just text", "扩展名为 .xls，内容却不是 Excel 工作簿"),
        ("x.xlsx", b"PK\x03\x04broken", "已损坏"),
        ("x.csv", b"\xff\xfe\xff\xfe\x80\x80", "既不是 UTF-8 也不是 GB18030"),
        ("x.csv", "说明,备注\n甲,乙\n".encode(), "前 20 行中找不到表头"),
    ],
)
def test_files_that_are_not_exports(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ExportFileError, match=message):
        open_export(path, profile=P12345)


def test_missing_dispatch_time_column(tmp_path: Path) -> None:
    with pytest.raises(ExportFileError, match="缺少必需列「派单时间」（或「受理时间」）"):
        open_export(profile=P12345, path=write(tmp_path, "工单编号,诉求类型,所属街镇\nA1,求助,北站街道\n"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-20 14:30", "2026-11-20 14:30:00"),
        ("2026-11-20 14:30:15", "2026-11-20 14:30:15"),
        ("2026/11/20 14:30", "2026-11-20 14:30:00"),
        ("2026年11月20日 14时30分", "2026-11-20 14:30:00"),
        ("2026年11月20日14时30分", "2026-11-20 14:30:00"),
        ("20261120143000", "2026-11-20 14:30:00"),
        ("２０２６-１１-２０　１４:３０", "2026-11-20 14:30:00"),
        (" 2026-11-20  14:30 ", "2026-11-20 14:30:00"),
        ("46346.6041666667", "2026-11-20 14:30:00"),
        ("2026-11-20", "2026-11-20 00:00:00"),
    ],
)
def test_date_forms(text: str, expected: str) -> None:
    moment = parse_datetime(text, tz=SHANGHAI)
    assert moment is not None and moment.strftime("%Y-%m-%d %H:%M:%S") == expected
    assert moment.utcoffset() is not None


def test_profile_date_formats_and_timezone() -> None:
    nyc = load_profile("nyc311")
    moment = parse_datetime("12/25/2013 11:59:08 PM", tz=nyc.timezone, formats=nyc.date_formats)
    assert moment is not None and moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M") == "2013-12-26 04:59"


@pytest.mark.parametrize("text", ["2026-13-01 10:00", "昨天", "46346x"])
def test_bad_dates_are_explained(text: str) -> None:
    with pytest.raises(ValueError, match="不是可识别的日期时间"):
        parse_datetime(text, tz=SHANGHAI)


def test_cells_become_text_as_people_see_them() -> None:
    assert cell_text(13812345678.0) == "13812345678"
    assert cell_text(1.5) == "1.5"
    assert cell_text(None) == ""
    assert cell_text("  静安寺\u3000") == "静安寺"
