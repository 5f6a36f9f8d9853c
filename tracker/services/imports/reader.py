"""The only place an export file is read: file checks, encoding, header row, merged cells, rows as text.

Every cell becomes text first, so order and phone numbers keep their leading zeros; rows are
numbered as the spreadsheet shows them (1-based, title rows included). Excel files are read
with calamine, CSV files stream through the csv module, so a large file is never held whole.

One piece: the byte-level line pass, the csv reading and the cell rules must agree to the byte on
where a row starts and ends (the line digest of an unchanged row depends on it), so they stay together.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import logging
import re
import unicodedata
import zipfile
import zlib
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from functools import cached_property
from itertools import repeat
from operator import itemgetter
from pathlib import Path
from typing import Any

from python_calamine import CalamineWorkbook

from tracker.domain.errors import TrackerError
from tracker.domain.sizes import format_size
from tracker.services.imports.columns import NUL_REASON, NUL_SIGN, field_lengths, shown, too_long_reason
from tracker.services.imports.profiles import Profile, builtin_profiles

log = logging.getLogger(__name__)

Grid = Callable[[bool], Iterator[tuple[list[str], bytes | None]]]  # rows as (raw cells, the record's bytes or None)

HEADER_SCAN_ROWS = 20
MIN_HEADER_MATCHES = 3
TOTALS_PATTERN = re.compile(r"^\s*(合计|总计|小计|共计)")
PLAIN_BLOCK_BYTES = 1 << 20  # what the line pass reads at a time (then on to the end of that line)
ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0"


class ExportFileError(TrackerError):
    """The file as a whole cannot be imported; nothing from it is stored."""

    def __init__(self, message: str, *, profiles: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        # profiles that may read this file when chosen by hand (the header fits several, or not the chosen one)
        self.profiles = profiles


@dataclass(frozen=True)
class Limits:
    """Limits (configurable): size on disk; for a workbook, the size of each part and of all parts unpacked and
    the cells its first sheet spans; data rows; characters in one cell.

    A workbook is read whole into memory (about 2.5 times its sheet's XML), so its parts are checked, as the
    archive declares them and then as they unpack, before it is read; a CSV streams and has only the file
    size and row limits. 200 MB of sheet XML is about 100,000 rows of a 40-column 12345 export; larger
    exports go in as CSV.
    """

    max_bytes: int = 1024 * 1024 * 1024  # a years-long backfill CSV runs to hundreds of MB
    max_unzipped_bytes: int = 400 * 1024 * 1024  # all parts of a workbook together
    max_rows: int = 2_000_000
    max_sheet_bytes: int = 200 * 1024 * 1024  # any one part of a workbook (a sheet's XML, the shared strings)
    max_cells: int = 10_000_000  # rows × columns the first sheet spans (read as a full grid, empty cells too)
    max_cell_chars: int = 32_767  # Excel's own limit for one cell; a longer cell rejects its row

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Limits:
        """The limits set in the app's configuration (TRACKER_IMPORT_MAX_*)."""
        default = cls()
        return cls(
            max_bytes=config.get("IMPORT_MAX_BYTES", default.max_bytes),
            max_unzipped_bytes=config.get("IMPORT_MAX_UNZIPPED_BYTES", default.max_unzipped_bytes),
            max_rows=config.get("IMPORT_MAX_ROWS", default.max_rows),
            max_sheet_bytes=config.get("IMPORT_MAX_SHEET_BYTES", default.max_sheet_bytes),
            max_cells=config.get("IMPORT_MAX_CELLS", default.max_cells),
            max_cell_chars=config.get("IMPORT_MAX_CELL_CHARS", default.max_cell_chars),
        )


def normalise_text(value: str) -> str:
    """Full-width digits, letters and punctuation to half-width, spaces trimmed (dates, numbers)."""
    return unicodedata.normalize("NFKC", value).strip()


CELL_SPACES = " \t\r\n\u3000\u00a0"

# Free text is kept as written (a complaint starting with a tab keeps it); keys, codes, names and dates are
# trimmed. A free-text cell of nothing but spaces counts as empty.
VERBATIM_FIELDS = frozenset({"诉求内容", "答复内容", "延期理由", "退单依据", "督办事项", "重办原因", "未联原因"})


def clean_cell(value: str) -> str:
    """A cell's text with surrounding (also full-width and non-breaking) spaces trimmed; the text kept."""
    return value.strip(CELL_SPACES)


def clean_cells(cells: list[str], verbatim: tuple[int, ...] = ()) -> list[str]:
    """A row's raw cells trimmed, except the free-text columns ``verbatim`` (kept unless only spaces)."""
    strip = str.strip
    out = [strip(cell, CELL_SPACES) for cell in cells]
    for index in verbatim:
        if index < len(out) and out[index]:
            out[index] = cells[index]
    return out


def cell_text(value: Any) -> str:
    """A spreadsheet value as the text a person sees (integral numbers without '.0'), trimmed."""
    return clean_cell(raw_text(value))


def raw_text(value: Any) -> str:
    """A spreadsheet value as text, untrimmed (free text keeps its spaces and tabs; see :func:`clean_cells`)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return value.strftime("%H:%M:%S")
    if isinstance(value, timedelta):
        return str(value)
    return str(value)


@dataclass(frozen=True)
class SheetRow:
    """One data row: canonical fields as text, and the unknown columns kept as extras.

    ``line`` is the row's record as the CSV file holds it (its bytes, line end removed), for the
    line digest; None for a spreadsheet.
    """

    number: int
    fields: dict[str, str]
    extras: dict[str, str]
    line: bytes | None = None


@dataclass(frozen=True)
class RefusedRow:
    """A data row with a cell the database cannot hold (a NUL byte, too long for its column): never parsed."""

    number: int
    column: str  # the header as the file has it
    value: str  # as shown: NUL as ␀, shortened
    reason: str
    order_no: str


@dataclass
class ExportFile:
    """An opened export: its profile, header, columns; :meth:`rows` streams the data rows."""

    path: Path
    profile: Profile
    header_row: int
    header: list[str]
    columns: list[tuple[int, str]]  # (column index, canonical field); an index may feed several fields
    extras: dict[int, str]  # column index → original header
    encoding: str | None
    limits: Limits
    skipped: list[tuple[int, str]] = field(default_factory=list)
    refused: list[RefusedRow] = field(default_factory=list)  # the last pass's rows with cells no database holds
    notes: list[str] = field(default_factory=list)
    may_hold_nul: bool = True  # False when the file was seen to hold no NUL byte (no cell needs the check)
    line_key: bytes | None = None  # CSV: what the line digest of this layout is keyed with (see plain_lines)
    plain_ended: bool = False  # the last plain_lines pass read the file to its end
    _grid: Grid | None = None

    def rows(self) -> Iterator[SheetRow]:
        """Data rows in order (a fresh pass each call); blank, repeated-header and totals rows go to ``skipped``."""
        for index, cells, line in self._entries(with_lines=True):
            yield self.sheet_row(index, cells, line)

    def records(self) -> Iterator[tuple[int, list[str]]]:
        """The data rows as (row number, cells), before they are named: what :meth:`rows` walks."""
        for index, cells, _ in self._entries(with_lines=False):
            yield index, cells

    def _entries(self, *, with_lines: bool) -> Iterator[tuple[int, list[str], bytes | None]]:
        assert self._grid is not None
        grid = self._grid(with_lines)
        for _ in range(self.header_row):  # title rows and the header itself
            next(grid, None)
        self.skipped = []
        self.refused = []
        nul = self.may_hold_nul
        # lengths checked on the cell as it is (quick), or through the profile's value map (then always refusal())
        mapped = any(self.profile.values.get(canonical) for _, canonical, _ in self.bounded)
        quick = [(i, limit) for i, canonical, limit in self.bounded if not self.profile.values.get(canonical)]
        one = quick[0] if len(quick) == 1 else None  # the usual case: only 工单编号 has a length
        longest = self.limits.max_cell_chars
        count = 0
        width = len(self.header)
        header = self.header
        order_index = self.order_index
        totals = TOTALS_PATTERN.match
        verbatim = self.verbatim
        strip = str.strip
        previous_width = width  # cells in the row before (a cut-off last row has fewer than its neighbours)
        for index, (raw, line) in enumerate(grid, start=self.header_row + 1):
            cells = [strip(cell, CELL_SPACES) for cell in raw]
            for at in verbatim:  # free text as written (see clean_cells)
                if at < len(cells) and cells[at]:
                    cells[at] = raw[at]
            if not any(cells):
                self.skipped.append((index, "空行"))
                continue
            if cells[0] == header[0] and cells[:width] == header:
                self.skipped.append((index, "重复的表头行"))
                continue
            order_cell = cells[order_index] if order_index is not None and order_index < len(cells) else ""
            if order_cell:
                if totals(order_cell):
                    first = next(v for v in cells if v)
                    self.skipped.append((index, f"合计行（{first}）"))
                    continue
            else:
                first = next(v for v in cells if v)
                if totals(first):
                    self.skipped.append((index, f"合计行（{first}）"))
                    continue
            if type(raw) is FinalRecord:  # the file's last row, unless it was a blank, header or totals row
                cut = self._cut_off(index, raw, previous_width)
                if cut is not None:
                    self.refused.append(cut)
                    continue
            previous_width = len(raw)
            count += 1
            if count > self.limits.max_rows:
                raise ExportFileError(
                    f"文件「{self.path.name}」的数据行超过上限 {self.limits.max_rows:,} 行；请拆分后再导入"
                )
            if (
                mapped
                or (nul and "\x00" in "\x1f".join(cells))
                or (
                    len(cells[one[0]]) > one[1]
                    if one is not None and one[0] < len(cells)
                    else any(len(cells[i]) > limit for i, limit in quick if i < len(cells))
                )
                or max(map(len, cells)) > longest
            ):
                refused = self.refusal(index, cells)
                if refused is not None:
                    self.refused.append(refused)
                    continue
            yield index, cells, line

    def _cut_off(self, index: int, final: FinalRecord, previous_width: int) -> RefusedRow | None:
        """The CSV's last row, when the file ends inside it: a quoted cell left open, or cells missing.

        Missing cells count when no line break ends the file, or when the row before was whole: a
        file cut at a line's end, with a short row before it, is read as it is.
        """
        width = len(self.header)
        short = len(final) < width
        if not final.open_quote and not (short and (not final.ended or previous_width >= width)):
            return None
        at = len(final) - 1
        if final.open_quote:
            why = "文件在本行一个带引号的单元格中间结束（引号未闭合）"
        else:
            missing = self.header[len(final)] or f"第 {len(final) + 1} 列"
            ending = "，文件末尾也没有换行" if not final.ended else ""
            why = f"本行只有 {len(final)} 列，表头有 {width} 列（从「{missing}」起缺失）{ending}"
        reason = (
            f"{why}：文件的最后一行不完整，疑似文件未写完或复制中断；本行未导入，其余行照常导入。"
            "请取得完整的文件后重新导入"
        )
        column = self.header[at] if at < width and self.header[at] else f"第 {at + 1} 列"
        order_index = self.order_index
        order_no = final[order_index].strip(CELL_SPACES) if order_index is not None and order_index < len(final) else ""
        return RefusedRow(index, shown(column), shown(final[at].strip(CELL_SPACES)), reason, shown(order_no))

    @cached_property
    def bounded(self) -> list[tuple[int, str, int]]:
        """(column index, field, length) of the fields whose database column has a length."""
        lengths = field_lengths()
        return [(i, canonical, lengths[canonical]) for i, canonical in self.columns if canonical in lengths]

    def refusal(self, index: int, cells: list[str]) -> RefusedRow | None:
        """The row's first cell the database cannot hold (a NUL byte, a value longer than its column), if any."""
        problem: tuple[int, str, str] | None = None  # (column index, value, reason)
        longest = self.limits.max_cell_chars
        if self.may_hold_nul and "\x00" in "\x1f".join(cells):
            at = next(i for i, cell in enumerate(cells) if "\x00" in cell)
            problem = (at, cells[at], NUL_REASON)
        elif max(map(len, cells)) > longest:
            at = next(i for i, cell in enumerate(cells) if len(cell) > longest)
            reason = f"单元格长度 {len(cells[at]):,} 字，超过单元格上限 {longest:,} 字；本行未导入，其余行照常导入"
            problem = (at, cells[at], reason)
        else:
            for at, canonical, limit in self.bounded:
                if at < len(cells):
                    value = self.profile.map_value(canonical, cells[at])
                    if len(value) > limit:
                        problem = (at, cells[at], too_long_reason(len(value), limit))
                        break
        if problem is None:
            return None
        at, value, reason = problem
        column = self.header[at] if at < len(self.header) and self.header[at] else f"第 {at + 1} 列"
        order_index = self.order_index
        order_no = cells[order_index] if order_index is not None and order_index < len(cells) else ""
        return RefusedRow(index, shown(column), shown(value), reason, shown(order_no))

    def plain_lines(self) -> Generator[tuple[int, bytes, str | None]]:
        """CSV only: the data rows that are one plain line each, read without the csv module.

        Yields (row number, the line's bytes without its line end, its 工单编号 cell, or None for
        a blank line), numbered as :meth:`records` numbers them. It stops at the first line it
        cannot vouch for (a quoted cell that does not close on its line, a carriage return inside
        the line) and past the row limit: from there on only :meth:`records` reads the file. A
        repeated header or a totals row is yielded as a line like any other; it matches no stored
        order, so whoever asks falls back to :meth:`records` for it. ``plain_ended`` says whether
        the pass reached the end of the file.
        """
        self.plain_ended = False
        if self.line_key is None or self.order_index is None or self.encoding is None or self.may_hold_nul:
            return  # a file holding a NUL byte is read by records(), which refuses those rows
        later = _after_first_line(self.encoding)
        order_index = self.order_index
        max_rows = self.limits.max_rows
        count = 0
        with self.path.open("rb") as handle:
            if not _plain_head(handle, self.header_row):
                return
            for index, raw in enumerate(handle, start=self.header_row + 1):
                read = _plain_line(raw, later, order_index)
                if read is None:
                    return
                line, cell = read
                if cell is not None:
                    count += 1
                    if count > max_rows:
                        return
                yield index, line, cell
        self.plain_ended = True

    def plain_blocks(self, block_bytes: int | None = None) -> Generator[tuple[int, list[bytes], Sequence[str | None]]]:
        """CSV only: what :meth:`plain_lines` yields, a block of the file at a time: (first row number, lines, cells).

        The lines and cells of a block are lists in row order, as :meth:`plain_lines` would yield them
        one by one (a blank line's cell is None). A block without a quote, without a carriage return
        outside a line end, whose every line has a non-blank 工单编号 cell, is split, its numbers taken
        and decoded in a few bulk operations (no Python per line); any other block is read line by line
        exactly as :meth:`plain_lines` reads it, and stops where it stops.
        """
        self.plain_ended = False
        if self.line_key is None or self.order_index is None or self.encoding is None or self.may_hold_nul:
            return
        later = _after_first_line(self.encoding)
        order_index = self.order_index
        room = self.limits.max_rows  # data rows the pass may still yield
        size = block_bytes or PLAIN_BLOCK_BYTES
        with self.path.open("rb") as handle:
            if not _plain_head(handle, self.header_row):
                return
            index = self.header_row + 1
            while block := handle.read(size):
                if not block.endswith(b"\n"):
                    block += handle.readline()  # the rest of the block's last line
                bulk = _bulk_block(block, later, order_index)
                if bulk is not None and len(bulk[0]) <= room:
                    lines, cells = bulk
                    room -= len(lines)
                    yield index, lines, cells
                    index += len(lines)
                    continue
                taken, named, room = _block_by_lines(block, later, order_index, room)
                if taken:
                    yield index, taken, named
                    index += len(taken)
                if room < 0:
                    return  # a line the plain reading cannot vouch for, or past the row limit
        self.plain_ended = True

    @cached_property
    def verbatim(self) -> tuple[int, ...]:
        """The columns of free text, kept as written."""
        return tuple(sorted({i for i, c in self.columns if c in VERBATIM_FIELDS}))

    @cached_property
    def order_index(self) -> int | None:
        """The column of 工单编号."""
        return next((i for i, c in self.columns if c == "工单编号"), None)

    def sheet_row(self, index: int, cells: list[str], line: bytes | None = None) -> SheetRow:
        """One data row's cells named: canonical fields, and the other non-blank cells as extras."""
        width = len(self.header)
        if len(cells) >= width:
            fields = dict(zip(self._names, [cells[i] for i in self._indices], strict=True))
        else:
            fields = {canonical: cells[i] if i < len(cells) else "" for i, canonical in self.columns}
        found = {name: cells[i] for i, name in self.extras.items() if i < len(cells) and cells[i]}
        for i in range(width, len(cells)):  # cells beyond the header are kept too
            if cells[i]:
                found[f"第 {i + 1} 列"] = cells[i]
        return SheetRow(index, fields, found, line)

    @cached_property
    def _names(self) -> list[str]:
        return [canonical for _, canonical in self.columns]

    @cached_property
    def _indices(self) -> list[int]:
        return [i for i, _ in self.columns]


def open_export(path: Path, *, profile: Profile | None = None, limits: Limits = Limits()) -> ExportFile:
    """Check the file, find its header row (and profile, when none is given) and prepare its rows."""
    make_grid, encoding, notes, nul = _open_grid(path, limits)
    head: list[list[str]] = []
    lines: list[bytes | None] = []
    for cells, line in make_grid(True):
        head.append(clean_cells(cells))
        lines.append(line)
        if len(head) >= HEADER_SCAN_ROWS:
            break
    candidates = [profile] if profile else builtin_profiles()
    scored: list[tuple[int, int, Profile]] = []
    for candidate in candidates:
        for index, cells in enumerate(head):
            matches = sum(1 for cell in cells if cell and candidate.fields_for(cell))
            if matches >= min(MIN_HEADER_MATCHES, len(candidate.headers)):
                scored.append((matches, index, candidate))
                break
    top = max((score for score, _, _ in scored), default=0)
    tied = [entry for entry in scored if entry[0] == top]
    if len({entry[2].source for entry in tied}) > 1:
        names = "、".join(entry[2].name for entry in tied)
        raise ExportFileError(
            f"文件「{path.name}」的表头同时符合导入配置 {names}，无法判断来源；请用 --profile 指定",
            profiles=tuple(entry[2].name for entry in tied),
        )
    best = tied[0] if tied else None
    if best is None:
        expected = "、".join(list((profile or builtin_profiles()[0]).headers)[:4])
        others = tuple(p.name for p in builtin_profiles() if profile and p.name != profile.name)
        raise ExportFileError(
            f"文件「{path.name}」前 {HEADER_SCAN_ROWS} 行中找不到表头（应含「{expected}」等列名）", profiles=others
        )
    _, header_index, chosen = best
    header = [name.replace("\x00", NUL_SIGN) for name in head[header_index]]  # a header names extras: storable
    columns: list[tuple[int, str]] = []
    extras: dict[int, str] = {}
    claimed: dict[str, int] = {}  # canonical field → the column that feeds it
    # a ranked field (levels of one hierarchy, e.g. 一级分类 and 二级分类) is fed by its best-ranked column
    feeding: dict[str, tuple[int, int]] = {}  # ranked field → (rank, column) of its best column
    for index, name in enumerate(header):
        for canonical in chosen.fields_for(name) if name and name not in chosen.ignore else ():
            if canonical in chosen.ranked:
                rank = (chosen.rank(canonical, name), index)
                feeding[canonical] = min(feeding.get(canonical, rank), rank)
    for index, name in enumerate(header):
        fields = list(chosen.fields_for(name)) if name and name not in chosen.ignore else []
        fields = [f for f in fields if f not in feeding or feeding[f][1] == index]
        for canonical in fields:
            if canonical in claimed:  # two columns for one field: which one the export meant is not ours to guess
                first = claimed[canonical]
                raise ExportFileError(
                    f"文件「{path.name}」第 {header_index + 1} 行表头中，第 {first + 1} 列「{header[first]}」与"
                    f"第 {index + 1} 列「{name}」都对应字段「{canonical}」，无法判断以哪一列为准，未导入任何内容；"
                    "请删除其中一列后重新导入（或在导入配置的 ignore_columns 中列出不用的那一列）"
                )
        if fields:  # one header may feed several fields (e.g. Created Date → 受理时间 and 派单时间)
            columns.extend((index, canonical) for canonical in fields)
            claimed.update(dict.fromkeys(fields, index))
        elif name in chosen.ignore:
            continue  # the profile says this column means nothing (e.g. a running 序号)
        else:  # unknown or header-less: kept as an extra
            label = name or f"第 {index + 1} 列"
            extras[index] = label if label not in extras.values() else f"{label}（第 {index + 1} 列）"
    found = "、".join(n for n in header if n) or "（空）"
    if "工单编号" not in claimed:
        raise ExportFileError(f"文件「{path.name}」缺少必需列「工单编号」；第 {header_index + 1} 行表头为：{found}")
    if not claimed.keys() & {"派单时间", "受理时间"}:
        raise ExportFileError(f"文件「{path.name}」缺少必需列「派单时间」（或「受理时间」）；表头为：{found}")
    header_line = lines[header_index]
    line_key = None
    if header_line is not None and encoding is not None:  # the layout a line digest is good for
        layout = f"{encoding}\x1f{columns!r}\x1f{sorted(extras.items())!r}\x1f".encode() + header_line
        line_key = hashlib.blake2b(layout, digest_size=16).digest()
    return ExportFile(
        path=path,
        profile=chosen,
        header_row=header_index + 1,
        header=header,
        columns=columns,
        extras=extras,
        encoding=encoding,
        limits=limits,
        notes=notes,
        may_hold_nul=nul,
        line_key=line_key,
        _grid=make_grid,
    )


def table_rows(path: Path, *, limits: Limits = Limits()) -> Iterator[tuple[int, list[str]]]:
    """Any small sheet (not an order export) as (row number, cleaned cells), after the same file checks and limits.

    For lists that are not orders (a 通报): the caller finds its own header. A cell longer than the limit or
    holding a NUL byte refuses the whole file, naming its row and column; nothing is half-read.
    """
    make_grid, _, _, nul = _open_grid(path, limits)
    for number, (raw, _) in enumerate(make_grid(False), start=1):
        if number > limits.max_rows + HEADER_SCAN_ROWS:
            raise ExportFileError(f"文件「{path.name}」的数据行超过上限 {limits.max_rows:,} 行；请拆分后再导入")
        cells = clean_cells(list(raw))
        for column, cell in enumerate(cells, start=1):
            if len(cell) > limits.max_cell_chars or (nul and "\x00" in cell):
                reason = "含有 NUL 字符" if "\x00" in cell else f"超过 {limits.max_cell_chars:,} 个字符"
                raise ExportFileError(
                    f"文件「{path.name}」第 {number} 行第 {column} 列{reason}，无法保存；未导入任何内容"
                )
        yield number, cells


def _open_grid(path: Path, limits: Limits) -> tuple[Grid, str | None, list[str], bool]:
    """A way to walk the file's cells as rows of text (again and again), after the file-level checks.

    Also says whether the file may hold a NUL byte in a cell.
    """
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            magic = handle.read(8)
    except OSError:
        raise ExportFileError(f"文件「{path.name}」无法打开") from None
    if size > limits.max_bytes:
        raise ExportFileError(
            f"文件「{path.name}」大小 {format_size(size)}，超过上限 {format_size(limits.max_bytes)}，未导入任何内容"
        )
    suffix = path.suffix.lower()
    if suffix not in (".xlsx", ".xls", ".csv"):
        raise ExportFileError(f"文件「{path.name}」的类型「{suffix or '无扩展名'}」不受支持，应为 .xlsx、.xls 或 .csv")
    if suffix == ".csv":
        if magic.startswith((ZIP_MAGIC, OLE_MAGIC)):
            raise ExportFileError(f"文件「{path.name}」扩展名为 .csv，内容却是 Excel 工作簿；请改用正确的扩展名")
        encoding, nul = _scan_csv(path)
        return (lambda with_lines: _csv_rows(path, encoding, with_lines)), encoding, [], nul
    if suffix == ".xlsx":
        if not magic.startswith(ZIP_MAGIC):
            raise ExportFileError(f"文件「{path.name}」扩展名为 .xlsx，内容却不是 Excel 工作簿")
        _check_zip(path, limits)
    elif not magic.startswith((OLE_MAGIC, ZIP_MAGIC)):
        raise ExportFileError(f"文件「{path.name}」扩展名为 .xls，内容却不是 Excel 工作簿")
    return _excel_rows(path)


def _check_zip(path: Path, limits: Limits) -> None:
    """Refuse, before reading, a workbook that unpacks to more than the limits (a zip bomb, or just too large).

    First the sizes the archive declares (all parts, each part), then each worksheet as it really unpacks,
    streamed: its bytes (a part that lies about its size is damaged), the last row and column its cells
    name (read as a full grid of that many cells).
    """
    name = path.name
    try:
        with zipfile.ZipFile(path) as archive:
            parts = archive.infolist()
            unpacked = sum(info.file_size for info in parts)
            if unpacked > limits.max_unzipped_bytes:
                raise ExportFileError(
                    f"文件「{name}」解压后共 {format_size(unpacked)}，"
                    f"超过上限 {format_size(limits.max_unzipped_bytes)}"
                    f"；文件本身仅 {format_size(path.stat().st_size)}，疑似压缩炸弹。已拒绝，未读取其内容"
                )
            for info in parts:
                if info.file_size > limits.max_sheet_bytes:
                    raise ExportFileError(
                        f"文件「{name}」中的「{info.filename}」解压后 {format_size(info.file_size)}，"
                        f"超过单个工作表上限 {format_size(limits.max_sheet_bytes)}；疑似压缩炸弹，或表格过大"
                        "（请拆分，或另存为 CSV 后导入）。已拒绝，未读取其内容"
                    )
            for info in parts:
                if info.filename.startswith("xl/worksheets/") and info.filename.endswith(".xml"):
                    _check_sheet(archive, info, name, limits)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, zlib.error):
        raise ExportFileError(f"文件「{name}」已损坏：不是完整的 Excel 工作簿") from None


_ROW_REF = re.compile(rb'<row\b[^>]*?\br="(\d+)"')
_CELL_COLUMN = re.compile(rb'<c\b[^>]*?\br="([A-Z]{1,3})\d')


def _check_sheet(archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, limits: Limits) -> None:
    """One worksheet's XML streamed (never held whole): the grid its cells span against the row and cell limits."""
    last_row = 0
    widest = b""
    tail = b""
    with archive.open(info) as member:  # stops at the declared size; a longer part fails its CRC: damaged
        while chunk := member.read(1 << 20):
            window = tail + chunk
            rows = _ROW_REF.findall(window)
            if rows:
                last_row = max(last_row, int(rows[-1]))  # rows are written in order
            for column in set(_CELL_COLUMN.findall(window)):
                if (len(column), column) > (len(widest), widest):
                    widest = column
            tail = window[-64:]
            width = _column_number(widest)
            if last_row > limits.max_rows + HEADER_SCAN_ROWS:
                raise ExportFileError(
                    f"文件「{name}」的工作表「{info.filename}」至少有 {last_row:,} 行，"
                    f"超过上限 {limits.max_rows:,} 行，已拒绝"
                )
            if last_row * width > limits.max_cells:
                raise ExportFileError(
                    f"文件「{name}」的工作表「{info.filename}」至少跨 {last_row:,} 行 × {width:,} 列 = "
                    f"{last_row * width:,} 个单元格，超过上限 {limits.max_cells:,} 个（疑似压缩炸弹），已拒绝"
                )


def _column_number(letters: bytes) -> int:
    """Column letters as a number (A → 1, XFD → 16384)."""
    number = 0
    for letter in letters:
        number = number * 26 + letter - 64
    return number


def _excel_rows(path: Path) -> tuple[Grid, None, list[str], bool]:
    try:
        workbook = CalamineWorkbook.from_path(str(path))
        sheet = workbook.get_sheet_by_index(0)
        values = sheet.to_python(skip_empty_area=False)
        merged = sheet.merged_cell_ranges or []
        others = [name for name in workbook.sheet_names[1:] if workbook.get_sheet_by_name(name).to_python()]
    except Exception as exc:  # calamine raises its own error types for broken files
        log.debug("cannot read %s: %r", path.name, exc)
        raise ExportFileError(
            f"文件「{path.name}」无法读取：文件已损坏，或不是 Excel 表格（扩展名与内容不符）"
        ) from None
    rows = [[raw_text(v) for v in row] for row in values]
    nul = any("\x00" in "".join(row) for row in rows)
    notes = _fill_merged(rows, merged)
    if others:
        notes.append(
            f"工作簿共有 {len(others) + 1} 个有内容的工作表，只导入了第一个「{sheet.name}」；"
            f"未导入：{'、'.join(others)}（如需导入，请另存为单独的文件）"
        )
    return (lambda with_lines: ((row, None) for row in rows)), None, notes, nul


def _fill_merged(rows: list[list[str]], merged: list[Any]) -> list[str]:
    """A cell merged down over several rows holds for each of them; merged across a row, only once."""
    notes = []
    for (top, left), (bottom, right) in merged:
        if bottom <= top or top >= len(rows):
            continue  # merged within one row (a title): the value stays in its first cell
        value = rows[top][left] if left < len(rows[top]) else ""
        for r in range(top + 1, min(bottom, len(rows) - 1) + 1):
            for c in range(left, right + 1):
                if c < len(rows[r]) and not rows[r][c]:
                    rows[r][c] = value
        notes.append(
            f"合并单元格 {_cell_name(top, left)}:{_cell_name(bottom, right)} 的值「{value}」已填入所跨的每一行"
        )
    return notes


def _cell_name(row: int, col: int) -> str:
    letters = ""
    col += 1
    while col:
        col, rest = divmod(col - 1, 26)
        letters = chr(65 + rest) + letters
    return f"{letters}{row + 1}"


def detect_encoding(path: Path) -> str:
    """UTF-8 (with or without BOM) when the whole file decodes as such, else GB18030; else refuse."""
    return _scan_csv(path)[0]


def _scan_csv(path: Path) -> tuple[str, bool]:
    """The CSV's encoding (see :func:`detect_encoding`) and whether it holds a NUL byte (U+0000 in both)."""
    for encoding in ("utf-8-sig", "gb18030"):
        decoder = codecs.getincrementaldecoder(encoding)()
        nul = False
        try:
            with path.open("rb") as handle:
                while chunk := handle.read(1 << 20):
                    decoder.decode(chunk)
                    nul = nul or b"\x00" in chunk
                decoder.decode(b"", final=True)
            return encoding, nul
        except UnicodeDecodeError:
            continue
    raise ExportFileError(f"文件「{path.name}」既不是 UTF-8 也不是 GB18030 编码的 CSV，无法读取")


def _csv_rows(path: Path, encoding: str, with_lines: bool) -> Iterator[tuple[list[str], bytes | None]]:
    """CSV records as (cells, the record's bytes without its line end, or None); an unclosed quote that
    swallows following lines stops the whole file.

    ``with_lines``: the file is read as bytes, line by line, each line decoded for the csv module, so
    each record comes with the bytes it was read from (for the line digest). A text file opened with
    ``newline=""`` also ends a line at a carriage return alone: such a line is split the same way,
    and from there on no record carries its bytes. Without it the file is decoded in large pieces,
    which is quicker.
    """
    taken: list[bytes] = []  # the lines of the record the csv module is reading
    plain = [True]  # every line so far ends where the csv module sees it end
    recent: list[str] = []  # the text of the record the csv module is reading (for the last record's end)
    with path.open("rb") as handle:
        source: Iterator[str] = (
            _tracked_lines(handle, encoding, taken, plain)
            if with_lines
            else io.TextIOWrapper(handle, encoding=encoding, newline="")
        )
        reader = csv.reader(_remembered(source, recent))
        width = 0
        line = 1
        held: tuple[list[str], bytes | None] | None = None  # each record waits for the next: the last is marked
        text: list[str] = []
        try:
            for record in reader:
                width = width or len(record)
                if reader.line_num > line:  # the record spans lines: a cell holds a line break
                    for cell in record:
                        if "\n" in cell and _looks_like_rows(cell, width):
                            raise ExportFileError(
                                f"文件「{path.name}」第 {line} 行起引号不配对：其后的 {cell.count(chr(10))} 行被读成了"
                                f"同一个单元格（「{cell[:20]}…」）；请修正该行的引号后重新导入"
                            )
                raw = None
                if taken:
                    if plain[0]:
                        raw = (taken[0] if len(taken) == 1 else b"".join(taken)).rstrip(b"\r\n")
                    taken.clear()
                if held is not None:
                    yield held
                held = (record, raw)
                text = recent.copy()
                recent.clear()
                line = reader.line_num + 1
        except csv.Error:
            raise ExportFileError(
                f"文件「{path.name}」第 {line} 行起无法按 CSV 读取（引号不配对或单元格过长）"
            ) from None
        if held is not None:
            yield FinalRecord.of(held[0], "".join(text)), held[1]


class FinalRecord(list[str]):
    """A CSV's last record, with how the file ended: inside a quoted cell, or without a line break.

    A file copied or written only in part ends in the middle of a row: the reader marks its last
    record so that :meth:`ExportFile._entries` can refuse a row that was cut off.
    """

    open_quote: bool = False
    ended: bool = True  # a line break ends the file

    @classmethod
    def of(cls, cells: list[str], text: str) -> FinalRecord:
        """The last record's cells, and what the text it was read from says about its end."""
        final = cls(cells)
        final.ended = text.endswith(("\n", "\r"))
        try:
            for _ in csv.reader(io.StringIO(text, newline=""), strict=True):
                pass
        except csv.Error as exc:
            final.open_quote = "unexpected end of data" in str(exc)
        return final


def _remembered(lines: Iterator[str], recent: list[str]) -> Iterator[str]:
    """The lines as they are, each also appended to ``recent`` (which the reader clears after each record)."""
    append = recent.append
    for text in lines:
        append(text)
        yield text


def _tracked_lines(handle: Any, encoding: str, taken: list[bytes], plain: list[bool]) -> Iterator[str]:
    """The file's lines decoded, each line's bytes appended to ``taken`` as it is handed out."""
    later = _after_first_line(encoding)
    decoding = encoding
    for raw in handle:
        text = raw.decode(decoding)
        decoding = later
        taken.append(raw)
        if "\r" in text.rstrip("\r\n"):
            plain[0] = False
            yield from (piece for piece in _LONE_CR.split(text) if piece)
        else:
            yield text


def _after_first_line(encoding: str) -> str:
    """How a CSV's lines after the first decode: a UTF-8 BOM stands in the first line only."""
    return "utf-8" if encoding == "utf-8-sig" else encoding


def _plain_head(handle: Any, header_rows: int) -> bool:
    """Read past the title rows and the header: False when one may span lines (row numbers would not be lines')."""
    for _ in range(header_rows):
        head = handle.readline()
        if b'"' in head or b"\r" in head.rstrip(b"\r\n"):
            return False
    return True


def _plain_line(raw: bytes, encoding: str, order_index: int) -> tuple[bytes, str | None] | None:
    """One raw line as (its bytes without the line end, its 工单编号 cell or None when blank); None: not plain."""
    line = raw.rstrip(b"\r\n")
    if b"\r" in line:
        return None
    if b'"' in line:
        try:
            cells = next(csv.reader([line.decode(encoding)], strict=True))
        except (csv.Error, StopIteration, UnicodeDecodeError):
            return None  # the record goes on to the next line (or is malformed): the csv module decides
        cell = cells[order_index].strip(CELL_SPACES) if order_index < len(cells) else ""
        blank = not cell and not any(c.strip(CELL_SPACES) for c in cells)
    else:
        if order_index == 0:
            cut = line.find(b",")
            raw_cell = line if cut < 0 else line[:cut]
        else:
            parts = line.split(b",", order_index + 1)
            raw_cell = parts[order_index] if order_index < len(parts) else b""
        cell = raw_cell.decode(encoding).strip(CELL_SPACES)
        blank = not cell and not any(c.strip(CELL_SPACES) for c in line.decode(encoding).split(","))
    return line, None if blank else cell


def _block_by_lines(
    block: bytes, encoding: str, order_index: int, room: int
) -> tuple[list[bytes], list[str | None], int]:
    """A block read line by line as :meth:`ExportFile.plain_lines` reads it: its lines and cells up to the
    first it cannot vouch for, and the rows still allowed (negative: the pass stops after these lines)."""
    taken: list[bytes] = []
    named: list[str | None] = []
    for raw in _lf_lines(block):
        read = _plain_line(raw, encoding, order_index)
        if read is None:
            return taken, named, -1
        if read[1] is not None:
            room -= 1
            if room < 0:
                return taken, named, -1
        taken.append(read[0])
        named.append(read[1])
    return taken, named, room


def _lf_lines(block: bytes) -> list[bytes]:
    """A block's lines as iterating the file hands them out: each ends at a line feed, which it keeps."""
    parts = block.split(b"\n")
    raws = [part + b"\n" for part in parts[:-1]]
    if parts[-1]:
        raws.append(parts[-1])
    return raws


_LINE_SPACES = (" ", "\t", "\u3000", "\u00a0")  # CELL_SPACES that a plain line's cell may hold


def _bulk_block(block: bytes, encoding: str, order_index: int) -> tuple[list[bytes], list[str]] | None:
    """A block of whole lines split and its numbers read in bulk, or None when a line needs reading on its own.

    The same as :func:`_plain_line` for each line: no quote to parse, every line ends in LF or CR LF
    (so splitting there is what ``rstrip`` does), and every number cell non-blank (no blank line).
    A block with a lone carriage return is read line by line.
    """
    if b'"' in block:
        return None
    if b"\r" in block:
        lines = block.splitlines()  # at LF, CR LF and a lone CR (which plain_lines does not split at)
        ends = len(lines) - (not block.endswith((b"\n", b"\r")))  # the line ends among them
        # every end is CR LF when they take two bytes each (a file from Windows); else none may be a lone CR
        if len(block) - sum(map(len, lines)) != 2 * ends and ends != block.count(b"\n"):
            return None  # a lone carriage return: where it ends a line is the csv module's call
    else:
        lines = (block[:-1] if block.endswith(b"\n") else block).split(b"\n")
    try:  # the number cell of each line: C loops, no Python per line
        raw = list(map(itemgetter(order_index), map(bytes.split, lines, repeat(b","), repeat(order_index + 1))))
    except IndexError:
        return None  # a line with fewer cells than the number's column
    text = b",".join(raw).decode(encoding)  # a number cell holds no comma; a comma is never part of a character
    cells = text.split(",")
    if any(space in text for space in _LINE_SPACES):
        cells = [cell.strip(CELL_SPACES) for cell in cells]
    if "" in cells:
        return None  # a row without a number, or a blank line
    return lines, cells


_LONE_CR = re.compile(r"(?<=\r)(?!\n)")  # where a text file opened with newline="" ends a line at a lone \r


def _looks_like_rows(cell: str, width: int) -> bool:
    """A quoted cell whose inner lines carry as many separators as whole rows do."""
    needed = max(2, (width - 1) // 2)
    return any(inner.count(",") >= needed for inner in cell.split("\n")[1:])


_DATETIME_FORMATS = (
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y年%m月%d日 %H时%M分%S秒",
    "%Y年%m月%d日 %H时%M分",
    "%Y年%m月%d日%H时%M分%S秒",
    "%Y年%m月%d日%H时%M分",
    "%Y%m%d%H%M%S",
    "%Y/%m/%d",
    "%Y年%m月%d日",
)
_EXCEL_EPOCH = datetime(1899, 12, 30)
_SERIAL = re.compile(r"\d{5}(\.\d+)?")
_SPACES = re.compile(r"\s+")


def parse_datetime(text: str, *, tz: tzinfo, formats: tuple[str, ...] = (), serials: bool = True) -> datetime | None:
    """A local time cell as an aware datetime; blank → None; unreadable → ValueError (Chinese).

    ISO-like text takes the fast path; Excel serials (only with ``serials``: a workbook's numeric
    cells; in a CSV a bare number is text, not a date), the usual Chinese forms and the profile's
    own formats follow.
    """
    if not text:
        return None
    value = text
    for attempt in (text, _SPACES.sub(" ", normalise_text(text))):
        value = attempt
        if not value:
            return None
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            continue
        return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=tz)  # an explicit offset wins
    if _SERIAL.fullmatch(value):
        if not serials:
            raise ValueError(
                "是一个纯数字，不是日期时间：CSV 中的日期应写成 2026-11-20 14:30；"
                "只有 Excel 表格中的数字单元格才按日期序列号读取"
            )
        serial = float(value)
        if 20000 <= serial <= 80000:
            return (_EXCEL_EPOCH + timedelta(seconds=round(serial * 86400))).replace(tzinfo=tz)
    for fmt in (*formats, *_DATETIME_FORMATS):
        try:
            return datetime.strptime(value, fmt).replace(tzinfo=tz)
        except ValueError:
            continue
    raise ValueError("不是可识别的日期时间（例如 2026-11-20 14:30）")
