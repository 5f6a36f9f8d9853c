"""Spot-check results: pass rates and grade shares per street, squad, category and month, with intervals.

Only the random part of a sample estimates the pass rate of the population: risk inclusions (不满意,
退单, 重复, 办结过快) and orders added by hand are chosen for being risky and would pull the rate down,
so they are reported apart. Every rate travels with its sample size and 95 % Wilson interval
(:func:`rate_text`), because a rate from 12 orders must not look like one from 400.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from io import BytesIO
from typing import Any

import plotly.graph_objects as go
from openpyxl import Workbook
from sqlmodel import Session, col, select

from tracker.domain import chart_style as style
from tracker.domain.checklist import Mark, ResultSummary
from tracker.domain.intervals import Estimate, estimate
from tracker.domain.labels import NO_CATEGORY, NO_STREET, format_local
from tracker.domain.spreadsheets import formula_safe
from tracker.models import Order, SampleItem, SamplePlan
from tracker.services.accounts import Viewer, scoped
from tracker.services.orders import squad_name_for
from tracker.services.spot_checks.checklists import plan_checklist
from tracker.services.spot_checks.plans import item_reasons
from tracker.services.spot_checks.population import RANDOM, squad_names
from tracker.services.spot_checks.reviews import mark_label

DIMENSIONS: Mapping[str, str] = {"street": "街镇", "squad": "执法队", "category": "问题分类"}
PARTS: Mapping[str, str] = {"random": "随机部分", "risk": "风险件及人工增加"}
Link = Callable[..., str]  # query values → a URL of the reviewed orders behind a number (drill-down)


def rate_text(value: Estimate) -> str:
    """A rate that always shows its evidence, e.g. ``83.3%（n=12，95%区间 55.2%–95.3%）``."""
    level = f"{value.confidence * 100:g}%"
    if value.rate is None:
        return f"—（n=0，{level}区间 0%–100%）"
    return f"{value.rate:.1%}（n={value.n}，{level}区间 {value.low:.1%}–{value.high:.1%}）"


@dataclass(frozen=True)
class ReviewRow:
    """One reviewed order of a sample, with what the results group it by."""

    plan_id: int
    plan_name: str
    item_id: int
    order_no: str
    street: str
    squad: str
    category: str
    month: str  # closure month (Beijing) recorded when the order entered the sample
    random: bool
    reasons: tuple[str, ...]
    score: float
    grade: str
    passed: bool
    marks: Mapping[str, str]  # item key → pass / partial / fail
    hard_fails: tuple[str, ...]
    comment: str
    reviewer: str
    reviewed_at: datetime | None
    redo_started: bool

    def key(self, dimension: str) -> str:
        """The group this review falls in for ``dimension`` (street, squad, category, month)."""
        value: str = getattr(self, dimension)
        return value


@dataclass(frozen=True)
class Labels:
    """Names of checklist items, hard fails and grades over the plans involved (in checklist order)."""

    items: dict[str, str]
    hard_fails: dict[str, str]
    bands: list[str]
    passing: set[str]


def reviewed_rows(
    session: Session,
    *,
    viewer: Viewer,
    plan_ids: Sequence[int] | None = None,
    month_from: str | None = None,
    month_to: str | None = None,
) -> tuple[list[ReviewRow], Labels]:
    """Reviewed orders still in their samples (of some plans, or of all), optionally within closure months."""
    query = (
        select(SampleItem, Order, SamplePlan)
        .join(Order, col(Order.id) == col(SampleItem.order_id))
        .join(SamplePlan, col(SamplePlan.id) == col(SampleItem.plan_id))
        .where(col(SampleItem.reviewed_at).is_not(None), col(SampleItem.removed_at).is_(None))
    )
    if plan_ids is not None:
        query = query.where(col(SampleItem.plan_id).in_(plan_ids))
    found = session.exec(scoped(query, viewer).order_by(col(SampleItem.plan_id), col(Order.order_no))).all()
    squads = squad_names(session)
    labels = Labels({}, {}, [], set())
    rows = []
    seen_plans: set[int] = set()
    for item, order, plan in found:
        if plan.id not in seen_plans:
            seen_plans.add(plan.id or 0)
            _merge_labels(labels, plan)
        facts = (plan.strata.get("facts") or {}).get(str(item.order_id)) or {}
        month = str(facts.get("month") or "") or format_local(plan.created_at)[:7]
        if (month_from and month < month_from) or (month_to and month > month_to):
            continue
        street = order.street or NO_STREET
        rows.append(
            ReviewRow(
                plan_id=plan.id or 0,
                plan_name=plan.name,
                item_id=item.id or 0,
                order_no=order.order_no,
                street=street,
                squad=squads.get(street) or (squad_name_for(street) if order.street else NO_STREET),
                category=order.category or NO_CATEGORY,
                month=month,
                random=item.reason == RANDOM,
                reasons=item_reasons(plan, item),
                score=float(item.score or 0),
                grade=item.grade or "",
                passed=bool(item.passed),
                marks={key: str(value.get("mark", "")) for key, value in item.marks.items()},
                hard_fails=tuple(item.hard_fails),
                comment=item.comment,
                reviewer=item.reviewer or "",
                reviewed_at=item.reviewed_at,
                redo_started=item.redo_started,
            )
        )
    return rows, labels


def _merge_labels(labels: Labels, plan: SamplePlan) -> None:
    checklist = plan_checklist(plan)
    for item in checklist.items:
        labels.items.setdefault(item.key, item.label)
    for hard in checklist.hard_fails:
        labels.hard_fails.setdefault(hard.key, hard.label)
    for band in checklist.bands:
        if band.label not in labels.bands:
            labels.bands.append(band.label)
        if band.passed:
            labels.passing.add(band.label)


def summary_of(rows: Sequence[ReviewRow], bands: Sequence[str]) -> ResultSummary:
    """Pass rate and share of each grade among ``rows``, each with its Wilson interval and n."""
    n = len(rows)
    grades = Counter(row.grade for row in rows)
    mean = round(sum(row.score for row in rows) / n, 2) if n else None
    return ResultSummary(
        n=n,
        pass_rate=estimate(sum(row.passed for row in rows), n),
        grades=tuple((band, estimate(grades[band], n)) for band in bands),
        mean_score=mean,
    )


@dataclass(frozen=True)
class Group:
    """One street, squad, category or month: its summary and the link to its reviewed orders."""

    key: str
    summary: ResultSummary
    url: str


@dataclass(frozen=True)
class Breakdown:
    """A dimension's groups (random part) and the same groups among risk inclusions."""

    dimension: str
    label: str
    groups: list[Group]
    risk_groups: list[Group]
    chart: dict[str, Any]


@dataclass(frozen=True)
class FailingItem:
    """A checklist item (or hard fail) and how often reviews found it lacking."""

    key: str
    label: str
    fails: int
    partials: int
    n: int

    @property
    def share(self) -> float:
        """Share of reviews marking it 不符合."""
        return self.fails / self.n if self.n else 0.0


@dataclass(frozen=True)
class Results:
    """Everything a results page and its export show."""

    labels: Labels
    rows: list[ReviewRow]
    overall: ResultSummary  # random part
    risk: ResultSummary  # risk inclusions and manual additions
    breakdowns: list[Breakdown]
    failing: list[FailingItem]
    hard_fails: list[FailingItem]
    months: list[Group]
    trend_chart: dict[str, Any]


def _groups(rows: Iterable[ReviewRow], dimension: str, bands: Sequence[str], link: Link, part: str) -> list[Group]:
    by_key: dict[str, list[ReviewRow]] = defaultdict(list)
    for row in rows:
        by_key[row.key(dimension)].append(row)
    return [
        Group(key, summary_of(members, bands), link(dimension=dimension, value=key, part=part))
        for key, members in sorted(by_key.items())
    ]


def compute_results(rows: list[ReviewRow], labels: Labels, link: Link) -> Results:
    """Pass rates per street, squad, category and month (random part), risk inclusions apart, failing items."""
    random_rows = [row for row in rows if row.random]
    risk_rows = [row for row in rows if not row.random]
    breakdowns = []
    for dimension, label in DIMENSIONS.items():
        groups = _groups(random_rows, dimension, labels.bands, link, "random")
        breakdowns.append(
            Breakdown(
                dimension,
                label,
                groups,
                _groups(risk_rows, dimension, labels.bands, link, "risk"),
                pass_rate_chart(groups, f"各{label}合格率（随机部分，竖线为 95% 置信区间）", label),
            )
        )
    months = _groups(random_rows, "month", labels.bands, link, "random")
    return Results(
        labels=labels,
        rows=rows,
        overall=summary_of(random_rows, labels.bands),
        risk=summary_of(risk_rows, labels.bands),
        breakdowns=breakdowns,
        failing=failing_items(rows, labels),
        hard_fails=hard_fail_counts(rows, labels),
        months=months,
        trend_chart=trend_chart(months),
    )


def failing_items(rows: Sequence[ReviewRow], labels: Labels) -> list[FailingItem]:
    """Checklist items by how often they were marked 不符合 (then 部分符合), over every reviewed order."""
    fails: Counter[str] = Counter()
    partials: Counter[str] = Counter()
    for row in rows:
        for key, mark in row.marks.items():
            if mark == Mark.FAIL.value:
                fails[key] += 1
            elif mark == Mark.PARTIAL.value:
                partials[key] += 1
    found = [
        FailingItem(key, label, fails[key], partials[key], len(rows))
        for key, label in labels.items.items()
        if fails[key] or partials[key]
    ]
    return sorted(found, key=lambda f: (-f.fails, -f.partials, f.key))


def hard_fail_counts(rows: Sequence[ReviewRow], labels: Labels) -> list[FailingItem]:
    """Hard fails found, most frequent first."""
    counts = Counter(key for row in rows for key in row.hard_fails)
    found = [FailingItem(key, labels.hard_fails.get(key, key), count, 0, len(rows)) for key, count in counts.items()]
    return sorted(found, key=lambda f: (-f.fails, f.key))


# ---------------------------------------------------------------------------- charts


def _error_bars(groups: Sequence[Group]) -> dict[str, Any]:
    rates = [g.summary.pass_rate for g in groups]
    return {
        "type": "data",
        "symmetric": False,
        "array": [round((r.high - (r.rate or 0)) * 100, 2) if r.rate is not None else 0 for r in rates],
        "arrayminus": [round(((r.rate or 0) - r.low) * 100, 2) if r.rate is not None else 0 for r in rates],
        "thickness": 1.5,
    }


def pass_rate_chart(groups: Sequence[Group], title: str, axis: str) -> dict[str, Any]:
    """A bar per group: pass rate with its asymmetric Wilson error bar and n; a click opens the reviews."""
    figure = go.Figure(
        go.Bar(
            x=[g.key for g in groups],
            y=[round((g.summary.pass_rate.rate or 0) * 100, 2) for g in groups],
            error_y=_error_bars(groups),
            text=[f"n={g.summary.n}" for g in groups],
            textposition="outside",
            customdata=[g.url for g in groups],
            hovertext=[rate_text(g.summary.pass_rate) for g in groups],
            hoverinfo="text",
            marker={"color": style.PRIMARY},
        )
    )
    figure.update_layout(
        style.layout(
            title,
            xaxis={"title": {"text": axis}, "automargin": True},
            yaxis=style.percent_axis("合格率（%）"),
            margin={"l": 60, "r": 20, "t": 50, "b": 90},
        )
    )
    return dict(figure.to_plotly_json())


def trend_chart(months: Sequence[Group]) -> dict[str, Any]:
    """Pass rate by closure month with error bars (random part); a click opens that month's reviews."""
    figure = go.Figure(
        go.Scatter(
            x=[style.month_start(g.key) for g in months],
            y=[round((g.summary.pass_rate.rate or 0) * 100, 2) for g in months],
            error_y=_error_bars(months),
            mode="lines+markers+text",
            text=[f"n={g.summary.n}" for g in months],
            textposition="top right",
            customdata=[g.url for g in months],
            hovertext=[rate_text(g.summary.pass_rate) for g in months],
            hoverinfo="text",
            marker={"color": style.PRIMARY},
            line={"color": style.PRIMARY},
        )
    )
    figure.update_layout(
        style.layout(
            "合格率按办结月份（随机部分，竖线为 95% 置信区间）",
            xaxis=style.month_axis("办结月份"),
            yaxis=style.percent_axis("合格率（%）"),
        )
    )
    return dict(figure.to_plotly_json())


# ---------------------------------------------------------------------------- drill-down


def filter_rows(rows: Iterable[ReviewRow], *, dimension: str = "", value: str = "", part: str = "") -> list[ReviewRow]:
    """The reviewed orders behind one number: a group of a dimension, the random part or the risk part."""
    chosen = list(rows)
    if dimension in (*DIMENSIONS, "month") and value:
        chosen = [row for row in chosen if row.key(dimension) == value]
    if part == "random":
        chosen = [row for row in chosen if row.random]
    elif part == "risk":
        chosen = [row for row in chosen if not row.random]
    return chosen


# ---------------------------------------------------------------------------- export


def _percent(value: float | None) -> float | str:
    return round(value * 100, 1) if value is not None else ""


def _append(sheet: Any, cells: Sequence[object]) -> None:
    """One row, every text cell formula-safe (titles, labels from a custom checklist, names, comments)."""
    sheet.append([formula_safe(cell) for cell in cells])


def results_workbook(results: Results, *, title: str) -> bytes:
    """The results as XLSX for the 通报 to streets: summary, failing items, reviewed orders (formula-safe text)."""
    workbook = Workbook(write_only=True)
    bands = results.labels.bands
    summary = workbook.create_sheet("合格率")
    _append(summary, [formula_safe(title)])
    _append(
        summary,
        ["说明：合格率只按随机抽取部分估计；风险件（不满意、退单等）与人工增加的工单单列。区间为 95% Wilson 区间。"],
    )
    header = ["部分", "维度", "分组", "样本量 n", "合格数", "合格率 %", "区间下限 %", "区间上限 %", "平均分"]
    _append(summary, header + [f"{band}（件）" for band in bands])

    def line(part: str, dimension: str, key: str, s: ResultSummary) -> list[object]:
        rate = s.pass_rate
        cells: list[object] = [part, dimension, formula_safe(key), s.n, rate.successes, _percent(rate.rate)]
        cells += [_percent(rate.low), _percent(rate.high), s.mean_score if s.mean_score is not None else ""]
        return cells + [grade.successes for _, grade in s.grades]

    _append(summary, line(PARTS["random"], "全部", "全部", results.overall))
    _append(summary, line(PARTS["risk"], "全部", "全部", results.risk))
    for breakdown in results.breakdowns:
        for group in breakdown.groups:
            _append(summary, line(PARTS["random"], breakdown.label, group.key, group.summary))
    for group in results.months:
        _append(summary, line(PARTS["random"], "办结月份", group.key, group.summary))
    for breakdown in results.breakdowns:
        for group in breakdown.risk_groups:
            _append(summary, line(PARTS["risk"], breakdown.label, group.key, group.summary))

    failing = workbook.create_sheet("问题项")
    _append(failing, ["类别", "评分项", "不符合（件）", "部分符合（件）", "已评查（件）", "不符合占比 %"])
    for found in results.failing:
        _append(
            failing, ["评分项", formula_safe(found.label), found.fails, found.partials, found.n, _percent(found.share)]
        )
    for found in results.hard_fails:
        _append(failing, ["否决项", formula_safe(found.label), found.fails, "", found.n, _percent(found.share)])

    detail = workbook.create_sheet("评查明细")
    item_keys = list(results.labels.items)
    _append(
        detail,
        ["抽查计划", "工单编号", "街镇", "执法队", "问题分类", "办结月份", "入样原因", "得分", "等级", "是否合格"]
        + [results.labels.items[key] for key in item_keys]
        + ["否决项", "评查意见", "评查人", "评查时间", "已发起重办"],
    )
    for row in results.rows:
        _append(
            detail,
            [
                formula_safe(row.plan_name),
                formula_safe(row.order_no),
                formula_safe(row.street),
                formula_safe(row.squad),
                formula_safe(row.category),
                row.month,
                "、".join(row.reasons),
                row.score,
                row.grade,
                "合格" if row.passed else "不合格",
            ]
            + [mark_label(row.marks.get(key, "")) for key in item_keys]
            + [
                formula_safe("、".join(results.labels.hard_fails.get(k, k) for k in row.hard_fails)),
                formula_safe(row.comment),
                formula_safe(row.reviewer),
                format_local(row.reviewed_at),
                "是" if row.redo_started else "否",
            ],
        )
    buffer = BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
