"""The hotspot list as an XLSX file: building-level places and counts, no personal data, formula-safe."""

from __future__ import annotations

from io import BytesIO

from openpyxl import Workbook

from tracker.domain.deadlines import to_local
from tracker.domain.spreadsheets import formula_safe
from tracker.models import HotspotMark
from tracker.services.stats.analysis import Hotspots

HEADERS = (
    "地点（楼号）",
    "问题分类",
    "本期件数",
    "上期件数",
    "变化",
    "首次诉件",
    "最近诉件",
    "未办结",
    "超期",
    "涉及街镇",
    "源头治理",
    "工单编号",
)


def hotspots_xlsx(found: Hotspots, marks: dict[tuple[str, str], HotspotMark]) -> bytes:
    """One row per hotspot (the page's columns); every text cell through ``formula_safe``."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("重复诉件热点")
    window = f"统计窗口：{to_local(found.start):%Y-%m-%d %H:%M} 至 {to_local(found.end):%Y-%m-%d %H:%M}（北京时间）"
    sheet.append([window])
    sheet.append(list(HEADERS))
    for spot in found.items:
        mark = marks.get((spot.place, spot.category))
        row: list[object] = [
            spot.place,
            spot.category,
            spot.count,
            spot.previous,
            spot.trend,
            to_local(spot.first).strftime("%Y-%m-%d %H:%M"),
            to_local(spot.last).strftime("%Y-%m-%d %H:%M"),
            spot.open,
            spot.overdue,
            "、".join(spot.streets),
            f"源头治理中（{mark.street}）{mark.note}" if mark else "",
            " ".join(no for _, no in spot.orders) + (f" 等 {spot.count} 件" if spot.count > len(spot.orders) else ""),
        ]
        sheet.append([formula_safe(value) for value in row])
    buffer = BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
