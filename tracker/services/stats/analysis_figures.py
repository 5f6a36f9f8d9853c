"""The analysis page's charts as plotly figures: counts and rates only, hover text without any order or person."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

from tracker.domain.chart_style import count_axis, month_axis, month_start, percent_axis
from tracker.domain.chart_style import layout as _layout
from tracker.services.stats.patterns import WEEKDAYS, Patterns


def _rate(met: int, decided: int) -> float | None:
    return round(met / decided * 100, 1) if decided else None


def analysis_figures(patterns: Patterns) -> dict[str, dict[str, Any]]:
    """Heatmap of intake (weekday × hour), categories by month, deadlines met by hour of dispatch."""
    hours = [f"{h:02d}" for h in range(24)]
    # a grid of square markers rather than go.Heatmap: plotly.js draws a heatmap as an image with an inline
    # style attribute, which the CSP (style-src-attr) refuses; markers are drawn like the dashboard's charts
    cells = [(h, d, patterns.heatmap[d][h]) for d in range(7) for h in range(24)]
    top = max((z for _, _, z in cells), default=0) or 1
    heatmap = go.Figure(
        go.Scatter(
            x=[hours[h] for h, _, _ in cells],
            y=[WEEKDAYS[d] for _, d, _ in cells],
            mode="markers",
            marker={
                "symbol": "square",
                "size": 18,
                "color": [z for _, _, z in cells],
                "colorscale": "Blues",
                "cmin": 0,
                "cmax": top,
                "line": {"width": 0.5, "color": "#ccc"},
            },
            customdata=[z for _, _, z in cells],
            hovertemplate="%{y} %{x} 时：%{customdata} 件<extra></extra>",
        ),
        layout=_layout(
            f"受理量：星期 × 派单小时（北京时间；颜色越深件数越多，最多 {top} 件）",
            xaxis={"title": {"text": "派单小时"}, "type": "category"},
            yaxis={"autorange": "reversed", "type": "category"},
        ),
    )
    months = go.Figure(
        [
            go.Bar(
                x=[month_start(m) for m in patterns.months],
                y=counts,
                name=category,
                hovertemplate=f"{category} %{{x}}：%{{y}} 件<extra></extra>",
            )
            for category, counts in patterns.categories.items()
        ],
        layout=_layout("各问题分类逐月受理量（按派单月份）", barmode="stack", xaxis=month_axis(""), yaxis=count_axis()),
    )
    rates = go.Figure(
        [
            go.Scatter(
                x=hours,
                y=[_rate(h.contact_met, h.contact_decided) for h in patterns.hours],
                customdata=[h.contact_decided for h in patterns.hours],
                name="先行联系及时率",
                mode="lines+markers",
                hovertemplate="%{x} 时派单：先行联系及时率 %{y}%（%{customdata} 件）<extra></extra>",
            ),
            go.Scatter(
                x=hours,
                y=[_rate(h.closure_met, h.closure_decided) for h in patterns.hours],
                customdata=[h.closure_decided for h in patterns.hours],
                name="按时办结率",
                mode="lines+markers",
                hovertemplate="%{x} 时派单：按时办结率 %{y}%（%{customdata} 件）<extra></extra>",
            ),
        ],
        layout=_layout(
            "按派单小时的先行联系及时率与按时办结率",
            xaxis={"title": {"text": "派单小时"}},
            yaxis=percent_axis(),
            legend={"orientation": "h", "y": -0.3},
        ),
    )
    return {"heatmap": heatmap.to_plotly_json(), "months": months.to_plotly_json(), "rates": rates.to_plotly_json()}
