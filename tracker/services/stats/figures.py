"""The dashboard's charts as plotly figures: Chinese labels, and each point's drill-down URL in its customdata."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

from tracker.domain.labels import STAGE_LABELS
from tracker.services.stats.board import (
    LEVEL_COLOURS,
    Dashboard,
    RateSource,
    rate_list_args,
)
from tracker.services.stats.rates import RATE_METRICS


def _layout(title: str, **extra: Any) -> dict[str, Any]:
    return {
        "title": {"text": title},
        "margin": {"l": 50, "r": 20, "t": 50, "b": 60},
        "legend": {"orientation": "h"},
        "template": "none",  # plotly.js's own look; the default template would add 7 kB to every figure
        **extra,
    }


def _percent(value: float | None) -> float | None:
    return round(value * 100, 2) if value is not None else None


def figures(board: Dashboard, link: Any) -> dict[str, dict[str, Any]]:
    """One plotly figure (as JSON-ready dict) per chart."""
    f = board.filters
    states = go.Figure(
        go.Bar(
            x=[c.label for c in board.states],
            y=[c.value for c in board.states],
            customdata=[c.url for c in board.states],
            hovertemplate="%{x}：%{y} 件<extra></extra>",
        ),
        layout=_layout("期间内派单工单的当前状态", yaxis={"title": {"text": "工单数"}}),
    )
    levels = go.Figure(
        go.Bar(
            x=[c.label for c in board.levels],
            y=[c.orders for c in board.levels],
            customdata=[c.url for c in board.levels],
            marker={"color": [LEVEL_COLOURS[c.level] for c in board.levels]},
            hovertemplate="%{x}：%{y} 件<extra></extra>",
        ),
        layout=_layout("当前各预警级别的工单数（按最紧急的未完成环节计）", yaxis={"title": {"text": "工单数"}}),
    )
    intake = go.Figure(
        go.Bar(
            x=[c.key for c in board.intake],
            y=[c.value for c in board.intake],
            customdata=[c.url for c in board.intake],
            hovertemplate="%{x}：%{y} 件<extra></extra>",
        ),
        layout=_layout(
            "每日受理量（按派单日期）", xaxis={"title": {"text": "派单日期"}}, yaxis={"title": {"text": "工单数"}}
        ),
    )
    overdue = go.Figure(
        [
            go.Bar(
                name=STAGE_LABELS[stage],
                x=list(board.overdue),
                y=[cells[stage].value for cells in board.overdue.values()],
                customdata=[cells[stage].url for cells in board.overdue.values()],
                hovertemplate="%{x} " + STAGE_LABELS[stage] + "：%{y} 件<extra></extra>",
            )
            for stage in board.overdue_stages
        ],
        layout=_layout("当前超期工单按街镇、环节", barmode="stack", yaxis={"title": {"text": "工单数"}}),
    )
    rows = board.rates.streets
    rates = go.Figure(
        [
            go.Bar(
                name=metric.label,
                x=[row.street for row in rows],
                y=[_percent(row.rates[i].rate) for row in rows],
                customdata=[board.rate_links[(row.street, metric.key)] for row in rows],
                hovertemplate="%{x} " + metric.label + "：%{y}%<extra></extra>",
            )
            for i, metric in enumerate(RATE_METRICS)
        ],
        layout=_layout("各街镇指标（%）", barmode="group", yaxis={"title": {"text": "%"}, "range": [0, 105]}),
    )
    trend = go.Figure(
        [
            go.Scatter(
                name=metric.label,
                mode="lines+markers",
                x=[p.label for p in board.trend],
                y=[_percent(p.rates.total.rates[i].rate) for p in board.trend],
                customdata=[
                    link(rate_list_args(f, RateSource("live", p.first, p.last), metric.basis, f.street))
                    for p in board.trend
                ],
                hovertemplate="%{x} " + metric.label + "：%{y}%<extra></extra>",
            )
            for i, metric in enumerate(RATE_METRICS)
        ],
        layout=_layout("指标逐月变化（%）", yaxis={"title": {"text": "%"}, "range": [0, 105]}),
    )
    built = {"states": states, "levels": levels, "intake": intake, "overdue": overdue, "rates": rates, "trend": trend}
    return {key: figure.to_plotly_json() for key, figure in built.items()}
