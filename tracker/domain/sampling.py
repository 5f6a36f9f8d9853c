"""Sampling for quality spot checks (诉件质量抽查): sample sizes, stratified allocation, reproducible draws.

A sample is evidence: the plan (size rule, strata, allocation, minimum, risk criteria), the population
and the seed determine the drawn orders completely, so anyone can redraw them. Everything here is pure
arithmetic over plain values; the spot-check service picks the population and stores the result.

One piece: sizes, allocation and the draw share one plan type and are checked together against
the published formulas; split, each half would need the other to be tested.
"""

from __future__ import annotations

import hashlib
import heapq
import math
import re
import secrets
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from fractions import Fraction
from typing import Any, NamedTuple, TypeVar

from tracker.domain.errors import TrackerError
from tracker.domain.intervals import z_for

UNSATISFIED = "不满意"
ALL = "全部"  # the single stratum of an unstratified plan
SEED_PATTERN = re.compile(r"[0-9A-Za-z_.:-]{1,64}")


class SamplingError(TrackerError):
    """A sampling plan or input is impossible; the message names the field and value."""


class SizeKind(StrEnum):
    """How a sample size is set."""

    FIXED = "fixed"  # a number of orders
    PERCENT = "percent"  # a percentage of the population, rounded up
    MARGIN = "margin"  # enough for a target margin of error at a confidence level


class StratifyBy(StrEnum):
    """What splits the population into strata (None in a plan: no strata)."""

    STREET = "street"
    SQUAD = "squad"  # one 综合行政执法队 per street, so in practice the same split as street
    CATEGORY = "category"


class Allocation(StrEnum):
    """How a stratified sample is spread over the strata."""

    PROPORTIONAL = "proportional"  # the plan's total, shared in proportion to the strata's sizes
    EQUAL = "equal"  # the plan's total, shared equally
    PER_STRATUM = "per_stratum"  # the size rule applied to each stratum on its own (the default plan)


class RiskReason(StrEnum):
    """Why an order is taken whatever the random draw says."""

    UNSATISFIED = "unsatisfied"
    RETURNED = "returned"
    REPEAT = "repeat"
    FAST_CLOSE = "fast_close"


SIZE_KIND_LABELS: Mapping[SizeKind, str] = {
    SizeKind.FIXED: "固定件数",
    SizeKind.PERCENT: "按比例",
    SizeKind.MARGIN: "按允许误差",
}
STRATIFY_LABELS: Mapping[StratifyBy, str] = {
    StratifyBy.STREET: "街镇",
    StratifyBy.SQUAD: "执法队",
    StratifyBy.CATEGORY: "问题分类",
}
ALLOCATION_LABELS: Mapping[Allocation, str] = {
    Allocation.PROPORTIONAL: "按比例分配",
    Allocation.EQUAL: "平均分配",
    Allocation.PER_STRATUM: "各层分别按规则计算",
}
RISK_REASON_LABELS: Mapping[RiskReason, str] = {
    RiskReason.UNSATISFIED: "回访不满意",
    RiskReason.RETURNED: "有退单",
    RiskReason.REPEAT: "重复诉件",
    RiskReason.FAST_CLOSE: "办结过快",
}


# ---------------------------------------------------------------------------- field checks


def _number(value: object, field_label: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise SamplingError(f"{field_label}「{value}」不是有效数字。")
    return float(value)


def check_margin(value: object) -> float:
    """A margin of error as a fraction, strictly between 0 and 1 (0.05 = ±5 %)."""
    margin = _number(value, "允许误差")
    if not 0 < margin < 1:
        raise SamplingError(f"允许误差「{value}」无效：应大于 0 且小于 1，例如 0.05 表示 ±5%。")
    return margin


def check_confidence(value: object) -> float:
    """A confidence level as a fraction, strictly between 0 and 1 (0.95 = 95 %)."""
    confidence = _number(value, "置信水平")
    if not 0 < confidence < 1:
        raise SamplingError(f"置信水平「{value}」无效：应大于 0 且小于 1，例如 0.95 表示 95%。")
    return confidence


def check_expected_rate(value: object) -> float:
    """An expected proportion strictly between 0 and 1; 0.5 is the cautious choice (largest sample)."""
    rate = _number(value, "预期比例")
    if not 0 < rate < 1:
        raise SamplingError(f"预期比例「{value}」无效：应大于 0 且小于 1，不知道时填 0.5（所需样本最大）。")
    return rate


def check_percent(value: object) -> float:
    """A sampling percentage, above 0 and at most 100 (5 = 5 %)."""
    percent = _number(value, "抽样比例")
    if not 0 < percent <= 100:
        raise SamplingError(f"抽样比例「{value}」无效：应大于 0 且不超过 100（单位为 %，5 表示 5%）。")
    return percent


def check_count(value: object, field_label: str) -> int:
    """A whole number of orders, zero or more."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise SamplingError(f"{field_label}「{value}」无效：应为不小于 0 的整数。")
    return value


def check_seed(value: object) -> str:
    """A seed: 1–64 characters of letters, digits and ``_ . : -`` (it is printed on the evidence)."""
    if not isinstance(value, str) or not SEED_PATTERN.fullmatch(value):
        raise SamplingError(f"随机种子「{value}」无效：应为 1–64 位字母、数字或 _ . : - 。")
    return value


# ---------------------------------------------------------------------------- sample sizes


def sample_size_for_margin(population: int, margin: float, confidence: float = 0.95, p: float = 0.5) -> int:
    """Orders needed to estimate a proportion within ±``margin`` at ``confidence`` (never more than the population).

    Normal approximation with finite-population correction: n0 = z²·p(1−p)/e², n = n0 / (1 + (n0 − 1)/N),
    rounded up. N = 10,000, e = 5 %, 95 %, p = 0.5 → n0 = 384.15, n = 369.97 → 370.
    """
    population = check_count(population, "总体件数")
    margin, confidence, p = check_margin(margin), check_confidence(confidence), check_expected_rate(p)
    if population == 0:
        return 0
    z = z_for(confidence)
    n0 = z * z * p * (1 - p) / (margin * margin)
    n = n0 / (1 + (n0 - 1) / population)
    # round() first: a value such as 370.0000000000001 from float noise must not become 371
    return min(population, max(1, math.ceil(round(n, 9))))


@dataclass(frozen=True)
class SizeRule:
    """How many orders to draw: a fixed number, a percentage (rounded up) or a target margin of error.

    ``value`` is the count for FIXED, the percentage for PERCENT (5 = 5 %) and the margin as a fraction
    for MARGIN (0.05 = ±5 %); ``confidence`` and ``expected_rate`` only matter for MARGIN.
    """

    kind: SizeKind
    value: float
    confidence: float = 0.95
    expected_rate: float = 0.5

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", _choice(SizeKind, self.kind, "样本量规则"))  # a form's "percent" works too
        if self.kind is SizeKind.FIXED:
            check_count(self.value, "抽取件数")
        elif self.kind is SizeKind.PERCENT:
            check_percent(self.value)
        else:
            check_margin(self.value)
        check_confidence(self.confidence)
        check_expected_rate(self.expected_rate)

    def describe(self) -> str:
        """The rule in Chinese, e.g. ``5%`` or ``允许误差 ±5.0%（置信水平 95%，预期比例 50%）``."""
        if self.kind is SizeKind.FIXED:
            return f"{int(self.value)} 件"
        if self.kind is SizeKind.PERCENT:
            return f"{self.value:g}%"
        return (
            f"允许误差 ±{self.value:.1%}（置信水平 {self.confidence * 100:g}%，预期比例 {self.expected_rate * 100:g}%）"
        )


def size_from_rule(rule: SizeRule, population: int) -> int:
    """The sample size ``rule`` asks for in a population of ``population`` orders (capped at the population).

    A percentage is rounded up (5 % of 47 = 2.35 → 3), so the sample is never below the stated share.
    """
    population = check_count(population, "总体件数")
    if rule.kind is SizeKind.FIXED:
        return min(population, int(rule.value))
    if rule.kind is SizeKind.PERCENT:
        return min(population, math.ceil(Fraction(population) * Fraction(str(rule.value)) / 100))
    return sample_size_for_margin(population, rule.value, rule.confidence, rule.expected_rate)


# ---------------------------------------------------------------------------- allocation


def allocate(
    strata_sizes: Mapping[str, int],
    total: int,
    method: Allocation = Allocation.PROPORTIONAL,
    minimum: int = 0,
) -> dict[str, int]:
    """Spread ``total`` orders over strata: proportionally to their sizes or equally, at least ``minimum`` each.

    The rules, in order:

    1. No stratum gets more than it holds; a total above the whole population takes every order.
    2. Every stratum gets ``minimum`` orders, or all of them if it holds fewer. If those minimums alone
       reach the total, every stratum gets exactly its minimum and the sum may EXCEED ``total``
       (the minimum is a promise per stratum; the total gives way).
    3. Otherwise the sum is exactly ``min(total, population)``: each stratum's share is
       ``clamp(λ·w, minimum, size)`` with w = size (proportional) or 1 (equal) and λ solved exactly
       (fractions, no float) so the shares sum to the total; what a capped or raised stratum does not
       use goes to the others in the same proportions.
    4. Shares are rounded by largest remainder; equal remainders go to the stratum whose key sorts
       first, so the result never depends on the mapping's order.

    ``Allocation.PER_STRATUM`` has no total to spread; use :func:`plan_sizes` for it.
    """
    if method is Allocation.PER_STRATUM:
        raise SamplingError("「各层分别按规则计算」没有总数可分配，请用 plan_sizes。")
    total = check_count(total, "抽取总数")
    minimum = check_count(minimum, "每层最少件数")
    sizes = {key: check_count(size, f"分层「{key}」的件数") for key, size in sorted(strata_sizes.items())}
    floors = {key: min(minimum, size) for key, size in sizes.items()}
    target_total = min(total, sum(sizes.values()))
    if sum(floors.values()) >= target_total:
        return floors
    weights = {key: Fraction(size if method is Allocation.PROPORTIONAL else 1) for key, size in sizes.items()}
    shares = _water_fill(sizes, floors, weights, target_total)
    result = {key: math.floor(share) for key, share in shares.items()}
    shortfall = target_total - sum(result.values())
    by_remainder = sorted(shares, key=lambda key: (-(shares[key] - result[key]), key))
    for key in by_remainder[:shortfall]:
        result[key] += 1
    return result


def _water_fill(
    sizes: Mapping[str, int], floors: Mapping[str, int], weights: Mapping[str, Fraction], total: int
) -> dict[str, Fraction]:
    """Exact shares ``clamp(λ·w, floor, size)`` summing to ``total`` (sum(floors) < total <= sum(sizes))."""

    def filled(lam: Fraction) -> dict[str, Fraction]:
        return {key: min(Fraction(sizes[key]), max(Fraction(floors[key]), lam * w)) for key, w in weights.items()}

    # The sum is piecewise linear and non-decreasing in λ, with breaks where a stratum leaves its
    # floor or reaches its size; find the segment that contains the total and solve on it.
    breaks = sorted({Fraction(bound) / w for key, w in weights.items() if w > 0 for bound in (floors[key], sizes[key])})
    low = Fraction(0)
    for high in breaks:
        if sum(filled(high).values()) >= total:
            break
        low = high
    else:  # pragma: no cover - sum(filled(max break)) == sum(sizes) >= total
        raise AssertionError("allocation did not converge")
    at_low = sum(filled(low).values())
    slope = sum(
        (w for key, w in weights.items() if floors[key] <= low * w and high * w <= sizes[key]), start=Fraction(0)
    )
    return filled(low + (total - at_low) / slope)


# ---------------------------------------------------------------------------- draws

K = TypeVar("K", int, str)


def new_seed() -> str:
    """A fresh random seed (16 hex digits) for a plan drawn without one; it is stored with the sample."""
    return secrets.token_hex(8)


def draw_rank(seed: str, key: int | str) -> str:
    """The order's place in the draw: SHA-256 of ``"{seed}:{key}"`` in hex; lower ranks are drawn first."""
    return hashlib.sha256(f"{seed}:{key}".encode()).hexdigest()


def draw(population_ids: Iterable[K], n: int, seed: str) -> list[K]:
    """The ``n`` orders of ``population_ids`` with the lowest :func:`draw_rank` under ``seed``, sorted by id.

    Why a hash ranking rather than ``random.Random(seed).sample``: each order's chance depends on its
    own id and the seed only. So the draw does not depend on the input's order or on duplicates; orders
    added to OTHER strata change nothing here; one order added to this stratum displaces at most one
    drawn order; and a larger ``n`` keeps every order of a smaller one. Anyone can check a sample with
    any SHA-256 tool: hash "seed:id" for each order of the population, sort, take the first n.
    Every order is equally likely to be drawn (SHA-256 output is uniform), so the sample is a simple
    random sample without replacement.
    """
    seed = check_seed(seed)
    n = check_count(n, "抽取件数")
    prefix = hashlib.sha256(f"{seed}:".encode())  # the shared prefix hashed once, copied per order

    def rank(key: K) -> tuple[bytes, str]:
        digest = prefix.copy()
        digest.update(str(key).encode())
        return digest.digest(), str(key)  # bytes order = hex order, without building the hex text

    return sorted(heapq.nsmallest(n, set(population_ids), key=rank))


def draw_stratified(strata: Mapping[str, Iterable[K]], sizes: Mapping[str, int], seed: str) -> dict[str, list[K]]:
    """:func:`draw` within each stratum, ``sizes[stratum]`` orders each (a stratum not in ``sizes`` gets none)."""
    return {key: draw(ids, sizes.get(key, 0), seed) for key, ids in sorted(strata.items())}


# ---------------------------------------------------------------------------- risk inclusions


class OrderFacts(NamedTuple):
    """What sampling needs to know about one handled order (a named tuple: a draw builds one per order).

    The times are needed only for the "closed fast" criterion; a population loaded for a plan
    without it leaves them None.
    """

    id: int
    stratum: str = ALL
    satisfaction: str | None = None
    return_count: int = 0
    is_repeat: bool = False
    dispatched_at: datetime | None = None
    closed_at: datetime | None = None


@dataclass(frozen=True)
class RiskCriteria:
    """Orders taken on top of the random part: 不满意, any return, repeats, closed within ``fast_close_hours``."""

    unsatisfied: bool = True
    returned: bool = True
    repeat: bool = False
    fast_close_hours: float | None = None

    def __post_init__(self) -> None:
        if self.fast_close_hours is not None and not _number(self.fast_close_hours, "办结过快时限（小时）") > 0:
            raise SamplingError(f"办结过快时限「{self.fast_close_hours}」无效：应为大于 0 的小时数。")

    def reasons(self, facts: OrderFacts) -> tuple[RiskReason, ...]:
        """Every criterion ``facts`` meets, in a fixed order; empty when the order is not a risk inclusion.

        "Closed fast" means closed less than ``fast_close_hours`` after dispatch (both times known).
        """
        found: list[RiskReason] = []
        if self.unsatisfied and facts.satisfaction == UNSATISFIED:
            found.append(RiskReason.UNSATISFIED)
        if self.returned and facts.return_count > 0:
            found.append(RiskReason.RETURNED)
        if self.repeat and facts.is_repeat:
            found.append(RiskReason.REPEAT)
        if (
            self.fast_close_hours is not None
            and facts.dispatched_at is not None
            and facts.closed_at is not None
            and (facts.closed_at - facts.dispatched_at).total_seconds() < self.fast_close_hours * 3600
        ):
            found.append(RiskReason.FAST_CLOSE)
        return tuple(found)

    def candidate(self, facts: OrderFacts) -> bool:
        """A quick test that is true for every order :meth:`reasons` could name (and for few others)."""
        return (
            facts.satisfaction == UNSATISFIED
            or facts.return_count > 0
            or facts.is_repeat
            or (self.fast_close_hours is not None and facts.closed_at is not None)
        )

    def matches(self, facts: OrderFacts) -> bool:
        """Whether ``facts`` meets any criterion."""
        return bool(self.reasons(facts))

    def describe(self) -> str:
        """The criteria in Chinese, e.g. ``全部回访不满意件、全部有退单件``."""
        parts = [
            f"全部{RISK_REASON_LABELS[reason]}件"
            for reason, on in (
                (RiskReason.UNSATISFIED, self.unsatisfied),
                (RiskReason.RETURNED, self.returned),
                (RiskReason.REPEAT, self.repeat),
            )
            if on
        ]
        if self.fast_close_hours is not None:
            parts.append(f"全部派单后不足 {self.fast_close_hours:g} 小时办结件")
        return "、".join(parts) or "无"


# ---------------------------------------------------------------------------- plans and samples


@dataclass(frozen=True)
class SamplingPlan:
    """A complete sampling method: with a population and a seed it determines the sample."""

    size: SizeRule
    stratify_by: StratifyBy | None = None
    allocation: Allocation = Allocation.PROPORTIONAL
    minimum_per_stratum: int = 0
    risk: RiskCriteria = field(default_factory=RiskCriteria)

    def __post_init__(self) -> None:
        if self.stratify_by is not None:
            object.__setattr__(self, "stratify_by", _choice(StratifyBy, self.stratify_by, "分层依据"))
        object.__setattr__(self, "allocation", _choice(Allocation, self.allocation, "分配方式"))
        check_count(self.minimum_per_stratum, "每层最少件数")

    def describe(self) -> str:
        """The plan in one Chinese sentence, for the sample's evidence record."""
        if self.stratify_by is None:
            method = f"简单随机抽样，抽取 {self.size.describe()}"
        else:
            method = f"按{STRATIFY_LABELS[self.stratify_by]}分层抽样，"
            if self.allocation is Allocation.PER_STRATUM:
                method += f"每层抽取 {self.size.describe()}"
            else:
                method += f"共抽取 {self.size.describe()}，{ALLOCATION_LABELS[self.allocation]}"
            if self.minimum_per_stratum:
                method += f"，每层至少 {self.minimum_per_stratum} 件"
        return f"{method}；另加{self.risk.describe()}"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (stored with the sample as evidence)."""
        return {
            "size": {
                "kind": self.size.kind.value,
                "value": self.size.value,
                "confidence": self.size.confidence,
                "expected_rate": self.size.expected_rate,
            },
            "stratify_by": self.stratify_by.value if self.stratify_by else None,
            "allocation": self.allocation.value,
            "minimum_per_stratum": self.minimum_per_stratum,
            "risk": {
                "unsatisfied": self.risk.unsatisfied,
                "returned": self.risk.returned,
                "repeat": self.risk.repeat,
                "fast_close_hours": self.risk.fast_close_hours,
            },
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SamplingPlan:
        """The plan :meth:`to_dict` wrote; unknown choices raise :class:`SamplingError` naming the field."""
        size, risk = data.get("size") or {}, data.get("risk") or {}
        stratify = data.get("stratify_by")
        return cls(
            size=SizeRule(
                kind=_choice(SizeKind, size.get("kind"), "样本量规则"),
                value=size.get("value", math.nan),  # checked by SizeRule itself
                confidence=size.get("confidence", 0.95),
                expected_rate=size.get("expected_rate", 0.5),
            ),
            stratify_by=None if stratify is None else _choice(StratifyBy, stratify, "分层依据"),
            allocation=_choice(Allocation, data.get("allocation", Allocation.PROPORTIONAL.value), "分配方式"),
            minimum_per_stratum=data.get("minimum_per_stratum", 0),
            risk=RiskCriteria(
                unsatisfied=bool(risk.get("unsatisfied", True)),
                returned=bool(risk.get("returned", True)),
                repeat=bool(risk.get("repeat", False)),
                fast_close_hours=risk.get("fast_close_hours"),
            ),
        )


E = TypeVar("E", SizeKind, StratifyBy, Allocation)


def _choice(enum: type[E], value: object, field_label: str) -> E:
    try:
        return enum(str(value))
    except ValueError:
        options = " / ".join(member.value for member in enum)
        raise SamplingError(f"{field_label}「{value}」无效：可选 {options}。") from None


DEFAULT_PLAN = SamplingPlan(
    size=SizeRule(SizeKind.PERCENT, 5),
    stratify_by=StratifyBy.SQUAD,
    allocation=Allocation.PER_STRATUM,
    minimum_per_stratum=10,
    risk=RiskCriteria(unsatisfied=True, returned=True, repeat=False, fast_close_hours=None),
)
"""domain.md §6: 5 % of closed orders per squad (per month: the population is the service's filter),
at least 10 per squad, plus every order rated 不满意 and every order with a return."""


def plan_sizes(plan: SamplingPlan, strata_sizes: Mapping[str, int]) -> dict[str, int]:
    """The random-part size of each stratum under ``plan`` (an unstratified plan has one stratum).

    PER_STRATUM applies the size rule to each stratum's own count, then the minimum, capped by the
    stratum's size. PROPORTIONAL and EQUAL size the whole population by the rule and :func:`allocate` it.
    """
    sizes = {key: check_count(size, f"分层「{key}」的件数") for key, size in strata_sizes.items()}
    if plan.stratify_by is None or plan.allocation is Allocation.PER_STRATUM:
        minimum = plan.minimum_per_stratum if plan.stratify_by is not None else 0
        return {key: min(size, max(minimum, size_from_rule(plan.size, size))) for key, size in sorted(sizes.items())}
    total = size_from_rule(plan.size, sum(sizes.values()))
    return allocate(sizes, total, plan.allocation, plan.minimum_per_stratum)


@dataclass(frozen=True)
class Selected:
    """One order in a sample: drawn at random, taken as a risk inclusion, or both."""

    id: int
    stratum: str
    random: bool
    reasons: tuple[RiskReason, ...]


@dataclass(frozen=True)
class StratumCount:
    """A stratum's evidence line: population, planned and drawn random part, risk inclusions added on top."""

    stratum: str
    population: int
    planned: int
    risk_added: int


@dataclass(frozen=True)
class Sample:
    """The outcome of a plan over a population with a seed."""

    seed: str
    orders: tuple[Selected, ...]
    strata: tuple[StratumCount, ...]

    @property
    def ids(self) -> list[int]:
        """Every selected order id, ascending."""
        return [order.id for order in self.orders]


def select_sample(plan: SamplingPlan, population: Sequence[OrderFacts], seed: str) -> Sample:
    """Draw ``plan`` over ``population`` with ``seed``: the random part per stratum, then the risk inclusions.

    The random part is drawn from the WHOLE stratum, risk orders included, so it stays a simple random
    sample whose pass rate estimates the population's; risk inclusions not already drawn are added on
    top and reported apart (they are chosen for being risky, so they would bias the estimate).
    An unstratified plan puts every order in the single stratum :data:`ALL` whatever ``facts.stratum`` says.
    """
    seed = check_seed(seed)
    ids = [facts.id for facts in population]
    if len(set(ids)) != len(ids):
        twice = next(order_id for order_id, count in Counter(ids).items() if count > 1)
        raise SamplingError(f"工单 id「{twice}」在总体中出现两次。")
    by_stratum: dict[str, list[int]] = defaultdict(list)
    risk_candidates: dict[str, dict[int, OrderFacts]] = defaultdict(dict)
    risky, unstratified = plan.risk.candidate, plan.stratify_by is None
    for facts in population:  # one pass; only the few possible risk orders are kept whole
        key = ALL if unstratified else facts.stratum
        by_stratum[key].append(facts.id)
        if risky(facts):
            risk_candidates[key][facts.id] = facts
    sizes = plan_sizes(plan, {key: len(members) for key, members in by_stratum.items()})
    drawn = draw_stratified(by_stratum, sizes, seed)
    selected: list[Selected] = []
    counts: list[StratumCount] = []
    for key, members in sorted(by_stratum.items()):
        chosen, candidates = set(drawn[key]), risk_candidates.get(key, {})
        for order_id in chosen:
            candidate = candidates.get(order_id)
            selected.append(Selected(order_id, key, True, plan.risk.reasons(candidate) if candidate else ()))
        added = 0
        for order_id, facts in candidates.items():
            reasons = plan.risk.reasons(facts)
            if reasons and order_id not in chosen:
                selected.append(Selected(order_id, key, False, reasons))
                added += 1
        counts.append(StratumCount(key, len(members), sizes[key], added))
    return Sample(seed, tuple(sorted(selected, key=lambda s: s.id)), tuple(counts))
