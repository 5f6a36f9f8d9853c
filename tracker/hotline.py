"""The only place pandas meets an export file: read, detect encoding, find the header, map columns.

Every cell is read as text, so order and phone numbers keep their leading zeros. Rows are
numbered as the spreadsheet shows them (1-based, title rows included).
"""

from __future__ import annotations

import csv
import io
import logging
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd

from tracker.domain.deadlines import LOCAL_TZ
from tracker.domain.errors import TrackerError

log = logging.getLogger(__name__)

# canonical field → header spellings seen in real exports (domain.md section 4)
HEADER_ALIASES: Mapping[str, tuple[str, ...]] = {
    "工单编号": ("12345工单编号", "任务号", "任务编号", "热线工单编号"),
    "受理时间": ("12345受理时间", "登记时间", "来电时间"),
    "派单时间": ("派遣时间", "转办时间", "下派时间"),
    "工单来源": ("12345工单来源", "渠道来源", "案件来源"),
    "处理方式": ("工单类型",),
    "诉求类型": ("12345工单类型", "业务类型"),
    "问题分类": ("二级分类", "一级分类", "三级分类", "四级分类", "五级分类", "案件小类"),
    "紧急程度": ("优先级",),
    "诉求内容": ("12345内容描述", "问题描述", "市民原信内容"),
    "地址": ("12345诉求地址", "发生地址"),
    "所属街镇": ("街道", "街道名", "街镇"),
    "承办单位": ("主办单位", "主责部门", "三级主责部门"),
    "处理时限": ("办结时限", "应办结时间", "截止时间"),
    "联系时间": ("先行联系时间",),
    "先行联系人": (),
    "联系结果": ("先行联系", "先行联系结果"),
    "办结时间": ("结案时间", "处理完成时间", "反馈时间"),
    "答复内容": ("答复市民要点", "回复内容", "办结汇总"),
    "结案评判": ("解决情况", "办理结果", "是否解决"),
    "满意度": ("综合满意度", "回访总体满意度", "是否满意"),
    "是否重复": ("12345工单是否重复",),
    "重复工单号": ("12345重复工单号",),
    "诉求人": ("反映人",),
    "联系电话": ("来电号码", "市民移动电话"),
    # lifecycle columns of the tracker's own sample layout
    "工单状态": ("办理状态", "当前状态"),
    "签收时间": (),
    "未联原因": (),
    "延期申请时间": (),
    "延期理由": (),
    "申请延期至": (),
    "延期审核结果": (),
    "延期审核时间": (),
    "退单申请时间": (),
    "退单原因": (),
    "退单依据": (),
    "退单审核结果": (),
    "退单审核时间": (),
    "答复方式": (),
    "重办时间": (),
    "重办原因": (),
    "督办时间": (),
    "督办事项": (),
}

_LOOKUP: dict[str, str] = {}
for _canonical, _aliases in HEADER_ALIASES.items():
    for _name in (_canonical, *_aliases):
        _LOOKUP[_name] = _canonical

HEADER_SCAN_ROWS = 20
MIN_HEADER_MATCHES = 3
TOTALS_PATTERN = re.compile(r"^\s*(合计|总计|小计|共计)")


class ExportFileError(TrackerError):
    """The file as a whole cannot be read; nothing from it is stored."""


def normalise_text(value: str) -> str:
    """Full-width digits, letters and punctuation to half-width, spaces trimmed (headers, dates, numbers)."""
    return unicodedata.normalize("NFKC", value).strip()


def clean_cell(value: str) -> str:
    """A cell's text with surrounding (also full-width and non-breaking) spaces trimmed; the text itself kept."""
    return value.strip(" \t\r\n\u3000\u00a0")


def canonical_header(name: str) -> str | None:
    """The canonical field for a header cell, or None when unknown."""
    return _LOOKUP.get(normalise_text(name).replace(" ", ""))


@dataclass
class ExportTable:
    """An export's data rows as text under canonical names, plus what was set aside."""

    rows: list[tuple[int, dict[str, str], dict[str, str]]]  # (row number, canonical fields, raw extras)
    header_row: int
    columns: dict[str, str]  # original header → canonical
    extras: list[str]
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (row number, why)
    encoding: str | None = None


def decode_csv(raw: bytes, *, name: str) -> tuple[str, str]:
    """Decode CSV bytes: UTF-8 (with or without BOM) first, then GB18030; never guess silently."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise ExportFileError(f"文件「{name}」既不是 UTF-8 也不是 GB18030 编码的 CSV，无法读取")


def read_grid(path: Path) -> tuple[pd.DataFrame, str | None]:
    """The file's cells as a grid of text (no header interpretation)."""
    suffix = path.suffix.lower()
    try:
        if suffix in (".xlsx", ".xls"):
            frame = pd.read_excel(path, header=None, dtype=str, keep_default_na=False)
            return frame, None
        if suffix == ".csv":
            text, encoding = decode_csv(path.read_bytes(), name=path.name)
            # csv module first: title and totals rows have fewer fields than the data, which pandas refuses
            records = list(csv.reader(io.StringIO(text, newline="")))
            width = max((len(r) for r in records), default=0)
            frame = pd.DataFrame([r + [""] * (width - len(r)) for r in records], dtype=str)
            return frame, encoding
    except ExportFileError:
        raise
    except Exception as exc:  # pandas and its engines raise many types for a broken file
        log.warning("cannot read %s: %r", path.name, exc)
        reason = "文件已损坏，或不是 Excel 表格（扩展名与内容不符）" if suffix != ".csv" else "不是有效的 CSV 表格"
        raise ExportFileError(f"文件「{path.name}」无法读取：{reason}") from exc
    raise ExportFileError(f"文件「{path.name}」的类型「{suffix or '无扩展名'}」不受支持，应为 .xlsx、.xls 或 .csv")


def read_export(path: Path) -> ExportTable:
    """Read an export: find the header row, map headers, set aside title, totals and blank rows."""
    grid, encoding = read_grid(path)
    cells = [[clean_cell(str(v)) for v in row] for row in grid.itertuples(index=False)]
    header_index = _find_header(cells, path.name)
    header = cells[header_index]
    columns: dict[str, str] = {}
    extras: list[str] = []
    for name in header:
        if not name:
            continue
        canonical = canonical_header(name)
        if canonical and canonical not in columns.values():
            columns[name] = canonical
        else:
            extras.append(name)
    if "工单编号" not in columns.values():
        raise ExportFileError(f"文件「{path.name}」缺少必需列「工单编号」（第 {header_index + 1} 行为表头）")
    table = ExportTable(rows=[], header_row=header_index + 1, columns=columns, extras=extras, encoding=encoding)
    for index in range(header_index + 1, len(cells)):
        row_number = index + 1
        values = dict(zip(header, cells[index], strict=False))
        if not any(values.values()):
            table.skipped.append((row_number, "空行"))
            continue
        if cells[index] == header:
            table.skipped.append((row_number, "重复的表头行"))
            continue
        first = next((v for v in cells[index] if v), "")
        if TOTALS_PATTERN.match(first):
            table.skipped.append((row_number, f"合计行（{first}）"))
            continue
        fields = {canonical: values.get(original, "") for original, canonical in columns.items()}
        raw = {name: values.get(name, "") for name in extras if values.get(name, "")}
        table.rows.append((row_number, fields, raw))
    return table


def _find_header(cells: list[list[str]], name: str) -> int:
    for index, row in enumerate(cells[:HEADER_SCAN_ROWS]):
        if sum(1 for cell in row if cell and canonical_header(cell)) >= MIN_HEADER_MATCHES:
            return index
    raise ExportFileError(f"文件「{name}」前 {HEADER_SCAN_ROWS} 行中找不到表头（应含「工单编号」「派单时间」等列名）")


_DATETIME_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y年%m月%d日 %H时%M分%S秒",
    "%Y年%m月%d日 %H时%M分",
    "%Y年%m月%d日%H时%M分",
    "%Y%m%d%H%M%S",
    "%Y-%m-%d",
    "%Y/%m/%d",
    "%Y年%m月%d日",
)
_EXCEL_EPOCH = datetime(1899, 12, 30)


def parse_local_datetime(text: str) -> datetime | None:
    """A Beijing-time cell as aware datetime; blank → None; unreadable → ValueError (Chinese)."""
    value = normalise_text(text)
    if not value:
        return None
    value = re.sub(r"\s+", " ", value)
    if re.fullmatch(r"\d{5}(\.\d+)?", value):  # Excel date serial
        serial = float(value)
        if 20000 <= serial <= 80000:
            naive = _EXCEL_EPOCH + timedelta(seconds=round(serial * 86400))
            return naive.replace(tzinfo=LOCAL_TZ)
    for fmt in _DATETIME_FORMATS:
        try:
            return datetime.strptime(value, fmt).replace(tzinfo=LOCAL_TZ)
        except ValueError:
            continue
    raise ValueError("不是可识别的日期时间（例如 2026-11-20 14:30）")
