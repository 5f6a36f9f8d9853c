"""Spreadsheet safety: text a spreadsheet program would run as a formula is written as text."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def formula_safe(value: object) -> object:
    """Text that a spreadsheet would run as a formula gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


CSV_BOM = "\ufeff"


def rows_to_csv(rows: Iterable[Sequence[object]]) -> bytes:
    """Rows as CSV bytes for Excel: UTF-8 with a BOM (so Chinese opens correctly), CRLF line ends,
    every cell through :func:`formula_safe` (already-masked values in, as for the XLSX).

    ``None`` becomes an empty cell; other values are written as their text.
    """
    buffer = io.StringIO(newline="")
    buffer.write(CSV_BOM)
    writer = csv.writer(buffer, lineterminator="\r\n")
    for row in rows:
        writer.writerow(["" if cell is None else formula_safe(cell) for cell in row])
    return buffer.getvalue().encode("utf-8")
