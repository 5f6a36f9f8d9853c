"""The one look of every chart (统计 and 质量抽查): font, colours, margins, and Chinese date axes.

Plain data for plotly layouts (no plotly import here): each figure module builds its traces and takes
its layout and axes from these functions, so the two pages read alike. Date ticks are written in
Chinese by their format (``11月8日``, ``2026年11月``); the zh-CN locale served with plotly.js
(``static/plotly-locale-zh-cn.js``) covers the rest (month and day names, the mode bar).
"""

from __future__ import annotations

from typing import Any

FONT = "Noto Sans CJK SC, Source Han Sans SC, Microsoft YaHei, PingFang SC, sans-serif"
PRIMARY = "#1f4e79"  # one colour for a single series
DISTRICT = "#c0392b"  # the district's reference line
GRID = "#e5e5e5"
SERIES = ("#1f4e79", "#2e86c1", "#e67e22", "#27ae60", "#8e44ad", "#c0392b", "#7f8c8d", "#d4ac0d")

DAY_TICKS = "%-m月%-d日"
DAY_HOVER = "%Y年%-m月%-d日"
MONTH_TICKS = "%Y年%-m月"


def layout(title: str, **extra: Any) -> dict[str, Any]:
    """A chart's layout: its title, the house font and colours, a horizontal legend below."""
    base: dict[str, Any] = {
        "title": {"text": title, "font": {"size": 15}, "x": 0.01, "xanchor": "left"},
        "font": {"family": FONT, "size": 12},
        "colorway": list(SERIES),
        "margin": {"l": 60, "r": 20, "t": 50, "b": 60},
        "legend": {"orientation": "h", "y": -0.2},
        "template": "none",  # plotly.js's own look; the default template would add 7 kB to every figure
        "separators": ".,",
        "plot_bgcolor": "#ffffff",
        "paper_bgcolor": "#ffffff",
    }
    base.update(extra)
    return base


def day_axis(title: str) -> dict[str, Any]:
    """A date axis by day, ticks like 11月8日."""
    return {"title": {"text": title}, "type": "date", "tickformat": DAY_TICKS, "hoverformat": DAY_HOVER}


def month_axis(title: str) -> dict[str, Any]:
    """A date axis by month (one tick per month, 2026年11月); points sit on the 1st of their month."""
    return {
        "title": {"text": title},
        "type": "date",
        "dtick": "M1",
        "tickformat": MONTH_TICKS,
        "hoverformat": MONTH_TICKS,
    }


def count_axis(title: str = "工单数") -> dict[str, Any]:
    """A count axis (whole numbers)."""
    return {"title": {"text": title}, "rangemode": "tozero", "gridcolor": GRID, "tickformat": "d"}


def percent_axis(title: str = "%") -> dict[str, Any]:
    """A percentage axis from 0 to 100 (a little room above for labels)."""
    return {"title": {"text": title}, "range": [0, 105], "gridcolor": GRID, "ticksuffix": "%"}


def month_start(label: str) -> str:
    """``2026-11`` → ``2026-11-01``: where a month's point sits on a month axis."""
    return f"{label}-01" if len(label) == 7 else label
