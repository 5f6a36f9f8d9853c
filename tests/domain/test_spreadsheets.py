"""The shared CSV writer: UTF-8 with a BOM, CRLF line ends, text neutralised as in the XLSX exports."""

from __future__ import annotations

import csv
import io

from tracker.domain.spreadsheets import formula_safe, rows_to_csv


def parsed(content: bytes) -> list[list[str]]:
    text = content.decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:], newline="")))


def test_csv_starts_with_the_bom_and_ends_lines_with_crlf() -> None:
    content = rows_to_csv([["工单编号", "街镇"], ["JA-1", "静安寺街道"]])
    assert content.startswith(b"\xef\xbb\xbf")
    assert content[3:] == "工单编号,街镇\r\nJA-1,静安寺街道\r\n".encode()


def test_every_formula_prefix_is_neutralised_like_the_xlsx() -> None:
    hostile = ["=1+2", "+86 138", "-3", "@SUM(A1)", "\tcmd", '=HYPERLINK("http://x","点我")']
    rows = parsed(rows_to_csv([hostile]))
    assert rows == [["'=1+2", "'+86 138", "'-3", "'@SUM(A1)", "'\tcmd", '\'=HYPERLINK("http://x","点我")']]
    assert rows[0] == [formula_safe(value) for value in hostile]


def test_already_neutralised_text_numbers_and_empty_cells_pass_unchanged() -> None:
    rows = parsed(rows_to_csv([["'=x", 3, 2.5, None, "", 'a,b\n"c"']]))
    assert rows == [["'=x", "3", "2.5", "", "", 'a,b\n"c"']]


def test_negative_numbers_stay_numbers_only_text_is_neutralised() -> None:
    assert parsed(rows_to_csv([[-1, "-1"]])) == [["-1", "'-1"]]
