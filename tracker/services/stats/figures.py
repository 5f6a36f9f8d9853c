"""The dashboard's charts as plotly figures: Chinese labels, and each point's drill-down URL in its customdata."""

from __future__ import annotations

from functools import partial
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from tracker.domain import chart_style as style
from tracker.domain.labels import STAGE_LABELS
from tracker.domain.vocabulary import AlertLevel
from tracker.services.stats.board import (
    LEVEL_COLOURS,
    Dashboard,
    RateSource,
    rate_list_args,
)
from tracker.services.stats.rates import RATE_METRICS, StreetRates


def _percent(value: float | None) -> float | None:
    return round(value * 100, 2) if value is not None else None


def figures(board: Dashboard, link: Any) -> dict[str, dict[str, Any]]:
    """One plotly figure (as JSON-ready dict) per chart, in the house style (domain.chart_style)."""
    f = board.filters
    states = go.Figure(
        go.Bar(
            x=[c.label for c in board.states],
            y=[c.value for c in board.states],
            customdata=[c.url for c in board.states],
            marker={"color": style.PRIMARY},
            hovertemplate="%{x}：%{y} 件<extra></extra>",
        ),
        layout=style.layout("期间内派单工单的当前状态", yaxis=style.count_axis()),
    )
    levels = go.Figure(
        go.Bar(
            x=[c.label for c in board.levels],
            y=[c.orders for c in board.levels],
            customdata=[c.url for c in board.levels],
            marker={"color": [LEVEL_COLOURS[c.level] for c in board.levels]},
            hovertemplate="%{x}：%{y} 件工单<extra></extra>",
        ),
        layout=style.layout("当前各预警级别的工单数（按最紧急的未完成环节计）", yaxis=style.count_axis()),
    )
    intake = go.Figure(
        go.Bar(
            x=[c.key for c in board.intake],
            y=[c.value for c in board.intake],
            customdata=[c.url for c in board.intake],
            marker={"color": style.PRIMARY},
            hovertemplate="%{x}：%{y} 件<extra></extra>",
        ),
        layout=style.layout("每日受理量（按派单日期）", xaxis=style.day_axis("派单日期"), yaxis=style.count_axis()),
    )
    built = {
        "states": states,
        "levels": levels,
        "intake": intake,
        "overdue": _overdue(board),
        "rates": _rates(board) if board.district_wide and len(board.rates.streets) > 1 else _own_rates(board),
        "trend": _trend(board, f, link),
    }
    return {key: figure.to_plotly_json() for key, figure in built.items()}


def _overdue(board: Dashboard) -> go.Figure:
    """District-wide: streets as horizontal stacked bars, most overdue on top; a squad: its stages."""
    if not board.district_wide:
        cells = next(iter(board.overdue.values()), {})
        return go.Figure(
            go.Bar(
                x=[STAGE_LABELS[stage] for stage in cells],
                y=[cell.value for cell in cells.values()],
                customdata=[cell.url for cell in cells.values()],
                marker={"color": LEVEL_COLOURS[AlertLevel.RED]},
                hovertemplate="%{x}：%{y} 件工单<extra></extra>",
            ),
            layout=style.layout("本街镇当前超期工单按环节", yaxis=style.count_axis()),
        )
    streets = sorted(board.overdue, key=lambda name: sum(c.value for c in board.overdue[name].values()))
    return go.Figure(
        [
            go.Bar(
                name=STAGE_LABELS[stage],
                orientation="h",
                y=streets,
                x=[board.overdue[name][stage].value for name in streets],
                customdata=[board.overdue[name][stage].url for name in streets],
                hovertemplate="%{y} " + STAGE_LABELS[stage] + "：%{x} 件工单<extra></extra>",
            )
            for stage in board.overdue_stages
        ],
        layout=style.layout(
            "当前超期工单按街镇、环节（多者在上）",
            barmode="stack",
            xaxis=style.count_axis(),
            yaxis={"automargin": True},
            height=max(300, 110 + 26 * len(streets)),
        ),
    )


def _rates(board: Dashboard) -> go.Figure:
    """Small multiples: one panel per rate, the streets as horizontal bars sorted by it (best on top),
    the district's value as a dashed line."""
    rows = board.rates.streets
    panels = len(RATE_METRICS)
    grid_rows = (panels + 1) // 2
    figure = make_subplots(
        rows=grid_rows,
        cols=2,
        subplot_titles=[metric.label for metric in RATE_METRICS],
        horizontal_spacing=0.22,
        vertical_spacing=0.35 / grid_rows,
    )
    for i, metric in enumerate(RATE_METRICS):
        row, column = i // 2 + 1, i % 2 + 1
        ordered = sorted(rows, key=partial(_rate_key, index=i))
        figure.add_trace(
            go.Bar(
                name=metric.label,
                orientation="h",
                y=[r.street for r in ordered],
                x=[_percent(r.rates[i].rate) for r in ordered],
                customdata=[board.rate_links[(r.street, metric.key)] for r in ordered],
                marker={"color": style.PRIMARY},
                hovertemplate="%{y} " + metric.label + "：%{x}%<extra></extra>",
                showlegend=False,
            ),
            row=row,
            col=column,
        )
        district = _percent(board.rates.total.rates[i].rate)
        if district is not None:
            figure.add_vline(
                x=district,
                line={"color": style.DISTRICT, "dash": "dash", "width": 1.5},
                annotation_text=f"全区 {district:g}%",
                annotation_font={"color": style.DISTRICT, "size": 11},
                annotation_position="top",
                row=row,
                col=column,
            )
        figure.update_xaxes(range=[0, 105], ticksuffix="%", gridcolor=style.GRID, row=row, col=column)
        figure.update_yaxes(automargin=True, tickfont={"size": 11}, row=row, col=column)
    figure.update_layout(
        style.layout(
            "各街镇指标（%，每个指标按街镇排序，虚线为全区）",
            height=140 + grid_rows * (40 + 17 * len(rows)),
            showlegend=False,
        )
    )
    return figure


def _rate_key(row: StreetRates, *, index: int) -> tuple[bool, float]:
    """Sort key: streets without a value first (at the bottom of a horizontal bar chart), then by the rate."""
    rate = row.rates[index].rate
    return (rate is not None, rate or 0.0)


def _own_rates(board: Dashboard) -> go.Figure:
    """One street (a squad's): its rates as horizontal bars, with no other street and no district line."""
    own = board.rates.streets[0] if board.rates.streets else board.rates.total
    labels = [metric.label for metric in RATE_METRICS]
    return go.Figure(
        go.Bar(
            orientation="h",
            y=labels[::-1],
            x=[_percent(r.rate) for r in own.rates][::-1],
            customdata=[board.rate_links.get((own.street, m.key), "") for m in RATE_METRICS][::-1],
            marker={"color": style.PRIMARY},
            hovertemplate="%{y}：%{x}%<extra></extra>",
        ),
        layout=style.layout(
            f"{own.street}各项指标（%）",
            xaxis={**style.percent_axis(), "title": {"text": ""}},
            yaxis={"automargin": True},
        ),
    )


def _trend(board: Dashboard, f: Any, link: Any) -> go.Figure:
    """The rates month by month on a month axis (one point per month, on its 1st)."""
    return go.Figure(
        [
            go.Scatter(
                name=metric.label,
                mode="lines+markers",
                x=[style.month_start(p.label) for p in board.trend],
                y=[_percent(p.rates.total.rates[i].rate) for p in board.trend],
                customdata=[
                    link(rate_list_args(f, RateSource("live", p.first, p.last), metric.basis, f.street))
                    for p in board.trend
                ],
                hovertemplate="%{x} " + metric.label + "：%{y}%<extra></extra>",
            )
            for i, metric in enumerate(RATE_METRICS)
        ],
        layout=style.layout("指标逐月变化（%）", xaxis=style.month_axis("月份"), yaxis=style.percent_axis()),
    )
