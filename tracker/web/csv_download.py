"""CSV beside every XLSX download: ``?format=csv`` (and ``sheet=`` for a workbook of several sheets).

The CSV is read from the very workbook the XLSX route would send (or, for the orders export, written from the
same cells the workbook is written from), so rows, values, masking and scope are the same; each cell passes
:func:`tracker.domain.spreadsheets.rows_to_csv` (BOM, CRLF, formula-safe).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from io import BytesIO
from typing import Any

from flask import Response, request, send_file
from openpyxl import load_workbook

from tracker.domain.errors import TrackerError
from tracker.domain.spreadsheets import rows_to_csv

FORMAT_CSV = "csv"
FORMAT_XLSX = "xlsx"


class ExportParameterError(TrackerError):
    """A ``format=`` or ``sheet=`` value this export does not offer (shown as 操作未完成, nothing logged)."""


def requested_format() -> str:
    """``csv`` when the query string asks for it, else ``xlsx``; any other value is refused in Chinese."""
    value = request.args.get("format", FORMAT_XLSX).strip().lower() or FORMAT_XLSX
    if value not in (FORMAT_CSV, FORMAT_XLSX):
        raise ExportParameterError(f"导出参数 format 的值「{value[:20]}」无效：只能是 csv 或 xlsx")
    return value


def sheet_names(xlsx: bytes) -> list[str]:
    """The sheets of a workbook, in order."""
    book = load_workbook(BytesIO(xlsx), read_only=True)
    try:
        return list(book.sheetnames)
    finally:
        book.close()


def chosen_sheet(names: Sequence[str], default: str | None = None) -> str:
    """The sheet named by ``sheet=`` (refused, naming the choices, if unknown), else ``default`` or the first."""
    wanted = request.args.get("sheet", "").strip()
    if wanted:
        if wanted not in names:
            raise ExportParameterError(
                f"导出参数 sheet 的值「{wanted[:40]}」不是本导出的工作表：可选 {'、'.join(names)}"
            )
        return wanted
    return default if default is not None and default in names else names[0]


def workbook_csv(xlsx: bytes, sheet: str) -> bytes:
    """One sheet of a workbook as CSV bytes (UTF-8 BOM, CRLF, formula-safe)."""
    book = load_workbook(BytesIO(xlsx), read_only=True, data_only=True)
    try:
        rows = [list(row) for row in book[sheet].iter_rows(values_only=True)]
    finally:
        book.close()
    return rows_to_csv(rows)


def csv_response(content: bytes, download_name: str) -> Response:
    """The CSV as an attachment named ``download_name`` (ends in .csv)."""
    return send_file(BytesIO(content), as_attachment=True, download_name=download_name, mimetype="text/csv")


@dataclass(frozen=True)
class Download:
    """What one export request asked for: the format and, for CSV, the sheet."""

    format: str
    sheet: str | None = None

    def logged(self, parameters: Mapping[str, Any]) -> dict[str, Any]:
        """The export-log parameters with the CSV format (and sheet) added; an XLSX download logs as before."""
        extra = {"format": FORMAT_CSV, "sheet": self.sheet} if self.format == FORMAT_CSV else {}
        return {**dict(parameters.items()), **extra}

    def response(self, xlsx: bytes, *, name: str, xlsx_mimetype: str) -> Response:
        """The XLSX as before, or the chosen sheet as ``name``.csv (``name`` has no extension)."""
        if self.format == FORMAT_CSV and self.sheet is not None:
            return csv_response(workbook_csv(xlsx, self.sheet), f"{name}_{self.sheet}.csv")
        return send_file(BytesIO(xlsx), as_attachment=True, download_name=f"{name}.xlsx", mimetype=xlsx_mimetype)

    def content(self, sheets: Mapping[str, Iterable[Sequence[object]]], xlsx: Callable[[], bytes]) -> bytes:
        """The chosen sheet's cells straight to CSV (no workbook built), or ``xlsx()``; made before the export is
        logged, so an export that fails while being written is not logged."""
        if self.format == FORMAT_CSV and self.sheet is not None:
            return rows_to_csv(sheets[self.sheet])
        return xlsx()

    def send(self, content: bytes, *, name: str, xlsx_mimetype: str) -> Response:
        """``content`` (from :meth:`content`) as ``name``.xlsx or ``name``_<sheet>.csv."""
        if self.format == FORMAT_CSV:
            return csv_response(content, f"{name}_{self.sheet}.csv")
        return send_file(BytesIO(content), as_attachment=True, download_name=f"{name}.xlsx", mimetype=xlsx_mimetype)


def prepare(xlsx: bytes, *, default_sheet: str | None = None) -> Download:
    """Read ``format=`` and ``sheet=`` before anything is logged; a bad value raises :class:`ExportParameterError`."""
    if requested_format() == FORMAT_CSV:
        return Download(FORMAT_CSV, chosen_sheet(sheet_names(xlsx), default_sheet))
    return Download(FORMAT_XLSX)


def prepare_sheets(names: Sequence[str], *, default_sheet: str | None = None) -> Download:
    """As :func:`prepare`, for an export whose sheets are known before any workbook is built."""
    if requested_format() == FORMAT_CSV:
        return Download(FORMAT_CSV, chosen_sheet(names, default_sheet))
    return Download(FORMAT_XLSX)
