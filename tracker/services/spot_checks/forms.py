"""The spot-check plan form: its choices, the defaults of domain.md §6, and parsing a posted form into a plan."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import date, datetime
from typing import Any

from tracker.domain.sampling import (
    DEFAULT_PLAN,
    STRATIFY_LABELS,
    Allocation,
    RiskCriteria,
    SamplingPlan,
    SizeKind,
    SizeRule,
    StratifyBy,
    check_percent,
    check_seed,
)
from tracker.services.spot_checks.population import PlanInput, Population, SpotCheckError, default_population

# ---------------------------------------------------------------------------- form input


def _text(values: Mapping[str, str], name: str) -> str:
    return (values.get(name) or "").strip()


def _day(values: Mapping[str, str], name: str, label: str) -> date:
    text = _text(values, name)
    if not text:
        raise SpotCheckError(f"请填写{label}（例如 2026-11-01）。")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise SpotCheckError(f"{label}「{text}」不是有效日期（应为 2026-11-01 这样的格式）。") from None


def _number(values: Mapping[str, str], name: str, label: str) -> float:
    """Digits as typed: "5" stays 5, so the error repeats the user's own value."""
    text = _text(values, name)
    try:
        number = float(int(text)) if text.lstrip("-").isdigit() else float(text)
    except ValueError:
        raise SpotCheckError(f"{label}「{text}」不是有效数字。") from None
    if not math.isfinite(number):
        raise SpotCheckError(f"{label}「{text}」不是有效数字。")
    return int(number) if number.is_integer() else number


def _whole(values: Mapping[str, str], name: str, label: str) -> int:
    text = _text(values, name)
    if not text.isdigit():
        raise SpotCheckError(f"{label}「{text}」无效：应为不小于 0 的整数。")
    return int(text)


def _share_percent(values: Mapping[str, str], name: str, label: str, example: str) -> float:
    value = _number(values, name, label)
    if not 0 < value < 100:
        raise SpotCheckError(f"{label}「{_text(values, name)}」无效：应大于 0 且小于 100（单位为 %，{example}）。")
    return value / 100


def _choice(values: Mapping[str, str], name: str, label: str, options: Mapping[str, str]) -> str:
    text = _text(values, name)
    if text not in options:
        shown = " / ".join(f"{v}（{k}）" for k, v in options.items())
        raise SpotCheckError(f"{label}「{text}」无效：可选 {shown}。")
    return text


STRATIFY_CHOICES: Mapping[str, str] = {"none": "不分层", **{s.value: STRATIFY_LABELS[s] for s in StratifyBy}}
ALLOCATION_CHOICES: Mapping[str, str] = {
    Allocation.PER_STRATUM.value: "各层分别按规则计算",
    Allocation.PROPORTIONAL.value: "按比例分配",
    Allocation.EQUAL.value: "平均分配",
}
SIZE_CHOICES: Mapping[str, str] = {
    SizeKind.FIXED.value: "固定件数",
    SizeKind.PERCENT.value: "按比例",
    SizeKind.MARGIN.value: "按允许误差",
}


FORM_PLAN = replace(DEFAULT_PLAN, allocation=Allocation.PROPORTIONAL)
"""The form's defaults: domain.md §6's rule as the bureau states it, 5 % of each squad's closed orders (5 % of
the whole spread over the squads in proportion) with at least 10 per squad, plus every 不满意 and returned
order. On a small month those minimums take whole squads: the preview says so per squad (整层抽取) before the
draw, and a plan that would take the whole population is refused unless confirmed (plans.draw_plan)."""


def default_form(now: datetime) -> dict[str, Any]:
    """The plan form filled with its defaults (last month, FORM_PLAN, risks); a census needs a confirmation."""
    population = default_population(now)
    plan = FORM_PLAN
    return {
        "name": "",
        "closed_from": population.closed_from.isoformat(),
        "closed_to": population.closed_to.isoformat(),
        "street": [],
        "category": [],
        "source": [],
        "state": list(population.states),
        "stratify_by": plan.stratify_by.value if plan.stratify_by else "none",
        "allocation": plan.allocation.value,
        "minimum_per_stratum": str(plan.minimum_per_stratum),
        "size_kind": plan.size.kind.value,
        "size_fixed": "50",
        "size_percent": f"{plan.size.value:g}",
        "margin_percent": "5",
        "confidence_percent": "95",
        "expected_percent": "50",
        "risk_unsatisfied": plan.risk.unsatisfied,
        "risk_returned": plan.risk.returned,
        "risk_repeat": plan.risk.repeat,
        "fast_close_hours": "" if plan.risk.fast_close_hours is None else f"{plan.risk.fast_close_hours:g}",
        "seed": "",
        "allow_census": False,
    }


LIST_FIELDS = ("street", "category", "source", "state")
CHECKBOX_FIELDS = ("risk_unsatisfied", "risk_returned", "risk_repeat", "allow_census")
TEXT_FIELDS = (
    "name",
    "closed_from",
    "closed_to",
    "stratify_by",
    "allocation",
    "minimum_per_stratum",
    "size_kind",
    "size_fixed",
    "size_percent",
    "margin_percent",
    "confidence_percent",
    "expected_percent",
    "fast_close_hours",
    "seed",
)


def form_values(values: Mapping[str, str], lists: Mapping[str, list[str]]) -> dict[str, Any]:
    """A submitted form as the template redisplays it (checkboxes absent = off)."""
    shown: dict[str, Any] = {key: values.get(key, "") for key in TEXT_FIELDS}
    for key in LIST_FIELDS:
        shown[key] = list(lists.get(key, []))
    for key in CHECKBOX_FIELDS:
        shown[key] = bool(values.get(key))
    return shown


def parse_plan_form(values: Mapping[str, str], lists: Mapping[str, list[str]]) -> PlanInput:
    """A plan from the form's fields; every refusal names the field and the value typed."""
    population = Population(
        closed_from=_day(values, "closed_from", "办结日期自"),
        closed_to=_day(values, "closed_to", "办结日期至"),
        streets=_listed(lists.get("street", [])),
        categories=_listed(lists.get("category", [])),
        sources=_listed(lists.get("source", [])),
        states=_listed(lists.get("state", [])),
    )
    stratify = _choice(values, "stratify_by", "分层依据", STRATIFY_CHOICES)
    allocation = Allocation(_choice(values, "allocation", "分配方式", ALLOCATION_CHOICES))
    minimum = _whole(values, "minimum_per_stratum", "每层最少件数") if stratify != "none" else 0
    kind = SizeKind(_choice(values, "size_kind", "样本量规则", SIZE_CHOICES))
    if kind is SizeKind.FIXED:
        size = SizeRule(kind, _whole(values, "size_fixed", "抽取件数"))
    elif kind is SizeKind.PERCENT:
        percent = _number(values, "size_percent", "抽样比例")
        size = SizeRule(kind, check_percent(percent))
    else:
        size = SizeRule(
            kind,
            _share_percent(values, "margin_percent", "允许误差", "5 表示 ±5%"),
            confidence=_share_percent(values, "confidence_percent", "置信水平", "95 表示 95%"),
            expected_rate=_share_percent(values, "expected_percent", "预期合格率", "不知道时填 50，所需样本最大"),
        )
    fast = _text(values, "fast_close_hours")
    fast_hours = _number(values, "fast_close_hours", "办结过快时限（小时）") if fast else None
    if fast_hours is not None and fast_hours <= 0:
        raise SpotCheckError(f"办结过快时限（小时）「{fast}」无效：应为大于 0 的小时数，不需要时留空。")
    risk = RiskCriteria(
        unsatisfied=bool(values.get("risk_unsatisfied")),
        returned=bool(values.get("risk_returned")),
        repeat=bool(values.get("risk_repeat")),
        fast_close_hours=fast_hours,
    )
    plan = SamplingPlan(
        size=size,
        stratify_by=None if stratify == "none" else StratifyBy(stratify),
        allocation=allocation if stratify != "none" else Allocation.PROPORTIONAL,
        minimum_per_stratum=minimum,
        risk=risk,
    )
    seed_text = _text(values, "seed")  # spaces around a pasted seed are dropped; inside it they are refused
    seed = check_seed(seed_text) if seed_text else None
    name = _text(values, "name")[:200] or f"质量抽查 {population.closed_from} 至 {population.closed_to}"
    return PlanInput(name=name, population=population, plan=plan, seed=seed)


def _listed(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v.strip() for v in values if v and v.strip()))
