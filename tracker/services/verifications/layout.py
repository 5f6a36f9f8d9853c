"""A 通报 layout: the header spellings of a 热线通报 file and the column order of the reply to the centre (TOML)."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tracker.domain.errors import TrackerError
from tracker.services.imports import header_key

HERE = Path(__file__).parent / "layouts"
NOTICE_FIELDS = ("通报编号", "工单编号", "通报类型", "通报日期", "通报内容", "反馈时限")
REQUIRED_FIELDS = ("通报编号", "工单编号", "通报类型")
REPLY_FIELDS: Mapping[str, str] = {
    "notice_no": "通报编号",
    "order_no": "工单编号",
    "kind": "通报类型",
    "notice_date": "通报日期",
    "street": "所属街镇",
    "conclusion": "核查结论",
    "cause": "原因分析",
    "measures": "整改措施",
    "answered_at": "核查提交时间",
    "on_time": "是否按时",
    "address": "地址",
    "citizen": "诉求人",
    "phone": "联系电话",
}


class LayoutError(TrackerError):
    """A 通报 layout file is malformed; names the file, key and value."""


@dataclass(frozen=True)
class NoticeLayout:
    """How one centre's 通报 file reads, and how its reply is laid out."""

    name: str
    source: str
    timezone: ZoneInfo
    headers: Mapping[str, tuple[str, ...]]
    reply: tuple[tuple[str, str], ...]  # (header, field) in the centre's order

    def field_for(self, header: str) -> str | None:
        """The 通报 field a header cell names, or None."""
        key = header_key(header)
        for canonical, aliases in self.headers.items():
            if key in {header_key(name) for name in (canonical, *aliases)}:
                return canonical
        return None


def load_layout(source: str | Path = "12345") -> NoticeLayout:
    """A built-in layout by name (``12345``) or a TOML file by path."""
    path = Path(source)
    if not path.suffix:
        path = HERE / f"{source}.toml"
        if not path.exists():
            names = "、".join(p.stem for p in sorted(HERE.glob("*.toml")))
            raise LayoutError(f"没有名为「{source}」的通报格式，可选：{names}")
    where = f"通报格式「{path.name}」"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError:
        raise LayoutError(f"{where}无法打开") from None
    except tomllib.TOMLDecodeError as exc:
        raise LayoutError(f"{where}不是有效的 TOML：{exc}") from None
    for key in ("name", "source"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise LayoutError(f"{where}缺少「{key}」")
    try:
        zone = ZoneInfo(str(data.get("timezone", "Asia/Shanghai")))
    except (ZoneInfoNotFoundError, ValueError):
        raise LayoutError(f"{where}的 timezone「{data.get('timezone')}」不是有效的时区") from None
    raw_headers = data.get("headers", {})
    if not isinstance(raw_headers, dict):
        raise LayoutError(f"{where}的 [headers] 应为表")
    headers: dict[str, tuple[str, ...]] = {}
    for name in NOTICE_FIELDS:
        aliases = raw_headers.get(name, [])
        if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
            raise LayoutError(f"{where}的 [headers]「{name}」应为文字列表，实为「{aliases!r}」")
        headers[name] = tuple(aliases)
    unknown = sorted(set(raw_headers) - set(NOTICE_FIELDS))
    if unknown:
        raise LayoutError(
            f"{where}的 [headers] 中「{'、'.join(unknown)}」不是通报字段，可选：{'、'.join(NOTICE_FIELDS)}"
        )
    reply: list[tuple[str, str]] = []
    for number, entry in enumerate(data.get("reply", []), start=1):
        header = entry.get("header") if isinstance(entry, dict) else None
        field_name = entry.get("field") if isinstance(entry, dict) else None
        if not isinstance(header, str) or not header.strip():
            raise LayoutError(f"{where}第 {number} 个 [[reply]] 缺少 header")
        if field_name not in REPLY_FIELDS:
            raise LayoutError(
                f"{where}第 {number} 个 [[reply]] 的 field「{field_name}」不可用，可选：{'、'.join(REPLY_FIELDS)}"
            )
        reply.append((header.strip(), str(field_name)))
    if not reply:
        raise LayoutError(f"{where}缺少 [[reply]]：回复表至少需要一列")
    return NoticeLayout(
        name=data["name"].strip(), source=data["source"].strip(), timezone=zone, headers=headers, reply=tuple(reply)
    )
