"""The line pass a block at a time: every block, read in bulk or line by line, yields what the line-by-line reading yields.

``plain_blocks`` must agree with ``plain_lines`` to the line: the same row numbers, bytes, number
cells, blank lines, the same place to stop and the same ``plain_ended``, whatever the block size,
line ends, quotes, encoding or row limit.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

from tracker.services.imports.profiles import load_profile
from tracker.services.imports.reader import ExportFile, ExportFileError, Limits, open_export

HEADER = ["工单编号", "派单时间", "诉求类型", "问题分类", "诉求内容", "地址", "所属街镇", "工单状态"]


def line(number: str, content: str = "楼下饭店油烟直排") -> list[str]:
    return [number, "2026-11-20 09:00", "投诉举报", "油烟扰民", content, "某路1号", "北站街道", "处理中"]


def export_of(path: Path, body: bytes, *, encoding: str = "utf-8-sig", max_rows: int = 2_000_000) -> ExportFile:
    head = io.StringIO()
    csv.writer(head, lineterminator="\r\n").writerow(HEADER)
    path.write_bytes(head.getvalue().encode(encoding) + body)
    return open_export(path, profile=load_profile("12345"), limits=Limits(max_rows=max_rows))


def by_blocks(export: ExportFile, block_bytes: int) -> tuple[list[tuple[int, bytes, str | None]], bool]:
    flat = []
    for start, lines, cells in export.plain_blocks(block_bytes):
        assert len(lines) == len(cells)
        flat.extend(zip(range(start, start + len(lines)), lines, cells, strict=True))
    return flat, export.plain_ended


def by_lines(export: ExportFile) -> tuple[list[tuple[int, bytes, str | None]], bool]:
    return list(export.plain_lines()), export.plain_ended


PIECES = {
    "row": lambda n: ",".join(line(f"B{n}")),
    "spaced": lambda n: ",".join(line(f"  B{n}\u3000")),  # the number trimmed as a cell is
    "quoted": lambda n: ",".join(line(f"B{n}", content='说"不行"')).replace('说"不行"', '"说""不行"""'),
    "comma": lambda n: ",".join(line(f"B{n}", content='"噪声, 扰民"')),
    "open_quote": lambda n: ",".join(line(f"B{n}", content='"第一行')),  # the cell goes on to the next line
    "blank": lambda n: ",,,,,,,",
    "empty": lambda n: "",
    "no_number": lambda n: ",".join(line("")),
    "short": lambda n: "合计：3 件",
    "lone_cr": lambda n: ",".join(line(f"B{n}", content="a\rb")),
    "twice": lambda n: ",".join(line("B0")),
}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    pieces=st.lists(st.tuples(st.sampled_from(sorted(PIECES)), st.sampled_from(["\n", "\r\n", "\r\r\n"])), max_size=12),
    last_end=st.booleans(),
    encoding=st.sampled_from(["utf-8-sig", "utf-8", "gb18030"]),
    block_bytes=st.integers(1, 400),
    max_rows=st.integers(1, 14),
)
def test_blocks_yield_what_lines_yield(
    tmp_path: Path, pieces: list[tuple[str, str]], last_end: bool, encoding: str, block_bytes: int, max_rows: int
) -> None:
    text = "".join(PIECES[kind](n) + end for n, (kind, end) in enumerate(pieces))
    if pieces and not last_end:
        text = text.rstrip("\r\n")  # the last line without a line end
    try:
        export = export_of(
            tmp_path / "a.csv", text.encode(encoding.replace("-sig", "")), encoding=encoding, max_rows=max_rows
        )
    except ExportFileError:
        reject()  # a file the reader refuses whole (quotes swallowing rows) has no line pass
    assert by_blocks(export, block_bytes) == by_lines(export)


@pytest.mark.parametrize("end", ["\n", "\r\n"])
@pytest.mark.parametrize("encoding", ["utf-8-sig", "gb18030"])
def test_a_plain_file_is_read_in_bulk_blocks(tmp_path: Path, end: str, encoding: str) -> None:
    text = "".join(",".join(line(f"N{n}", content="噪声扰民，夜间施工")) + end for n in range(50))
    export = export_of(tmp_path / "a.csv", text.encode(encoding.replace("-sig", "")), encoding=encoding)
    blocks = list(export.plain_blocks(1000))
    assert len(blocks) > 1 and export.plain_ended
    assert [cell for _, _, cells in blocks for cell in cells] == [f"N{n}" for n in range(50)]
    assert blocks[0][1][0] == ",".join(line("N0", content="噪声扰民，夜间施工")).encode(encoding.replace("-sig", ""))
    assert by_blocks(export, 1000) == by_lines(export)


def test_a_quote_in_a_block_is_read_line_by_line_and_stops_where_its_cell_spans_lines(tmp_path: Path) -> None:
    rows = [line(f"Q{n}") for n in range(6)]
    rows[2][4] = '说"不行"'
    rows[4][4] = "第一行\n第二行"
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    export = export_of(tmp_path / "a.csv", buffer.getvalue().encode())
    flat, ended = by_blocks(export, 1 << 20)
    assert [(n, cell) for n, _, cell in flat] == [(2, "Q0"), (3, "Q1"), (4, "Q2"), (5, "Q3")]
    assert not ended


def test_blank_lines_and_a_last_line_without_line_end(tmp_path: Path) -> None:
    body = "\n".join([",".join(line("E1")), "", ",,,,,,,", ",".join(line("E2"))]).encode()
    export = export_of(tmp_path / "a.csv", body)
    flat, ended = by_blocks(export, 1 << 20)
    assert [(n, cell) for n, _, cell in flat] == [(2, "E1"), (3, None), (4, None), (5, "E2")]
    assert flat[-1][1] == ",".join(line("E2")).encode() and ended


def test_the_row_limit_stops_a_bulk_block_where_the_lines_stop(tmp_path: Path) -> None:
    body = "".join(",".join(line(f"L{n}")) + "\n" for n in range(10)).encode()
    export = export_of(tmp_path / "a.csv", body, max_rows=4)
    flat, ended = by_blocks(export, 1 << 20)
    assert [cell for _, _, cell in flat] == ["L0", "L1", "L2", "L3"] and not ended
