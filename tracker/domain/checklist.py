"""The spot-check review checklist (domain.md §6): items and weights, hard fails, grade bands, scoring.

The score and grade are computed from the reviewer's marks, never typed. Each item is marked
pass / partial / fail: pass earns the item's weight, partial a configured share of it (half by
default), fail nothing. Any hard fail forces the hard-fail grade (不合格) whatever the score; the
score is still computed and shown. A review "passes" when its grade is a passing band: by default
优秀 or 合格 (score ≥ 75 and no hard fail).

The default checklist lives here in Python; a bureau's own comes from a TOML text through
:func:`parse_checklist` (see docs/checklist.toml for the format).
"""

from __future__ import annotations

import math
import re
import tomllib
from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, NamedTuple

from tracker.domain.errors import TrackerError
from tracker.domain.intervals import Estimate, estimate

KEY_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,39}")
DEFAULT_PARTIAL = 0.5


class ChecklistError(TrackerError):
    """A checklist file or a review's marks are invalid; the message names the field and value."""


class Mark(StrEnum):
    """How well an order meets one checklist item."""

    PASS = "pass"
    PARTIAL = "partial"
    FAIL = "fail"


MARK_LABELS: Mapping[Mark, str] = {Mark.PASS: "符合", Mark.PARTIAL: "部分符合", Mark.FAIL: "不符合"}


def parse_mark(value: str) -> Mark:
    """A mark from its stored value (pass / partial / fail) or its Chinese label (符合 / 部分符合 / 不符合)."""
    for mark in Mark:
        if value in (mark.value, MARK_LABELS[mark]):
            return mark
    raise ChecklistError(f"评分「{value}」无效：可选 符合(pass) / 部分符合(partial) / 不符合(fail)。")


@dataclass(frozen=True)
class ChecklistItem:
    """One thing a reviewer verifies, worth ``weight`` points; partial earns ``partial`` of the weight."""

    key: str
    label: str
    verifies: str
    weight: int
    partial: float = DEFAULT_PARTIAL

    def points(self, mark: Mark) -> float:
        """Points this item earns with ``mark``."""
        if mark is Mark.PASS:
            return float(self.weight)
        return self.weight * self.partial if mark is Mark.PARTIAL else 0.0


@dataclass(frozen=True)
class HardFail:
    """A finding that fails the review whatever the score."""

    key: str
    label: str


@dataclass(frozen=True)
class GradeBand:
    """A grade for scores from ``minimum`` (inclusive) up to the next band's minimum."""

    label: str
    minimum: float
    passed: bool


class Scored(NamedTuple):
    """A review's computed outcome."""

    score: float
    grade: str
    passed: bool


@dataclass(frozen=True)
class Checklist:
    """Items (weights summing to 100), hard fails and grade bands (highest minimum first, lowest at 0)."""

    name: str
    items: tuple[ChecklistItem, ...]
    hard_fails: tuple[HardFail, ...]
    bands: tuple[GradeBand, ...]
    hard_fail_grade: str

    def __post_init__(self) -> None:
        _validate(self)

    def grade_for(self, score: float) -> GradeBand:
        """The band ``score`` falls in: the highest band whose minimum it reaches (89.5 → 合格, not 优秀)."""
        return next(band for band in self.bands if score >= band.minimum)

    def band(self, label: str) -> GradeBand:
        """The band called ``label``."""
        return next(band for band in self.bands if band.label == label)

    def score(self, marks: Mapping[str, Mark], hard_fails: Collection[str] = ()) -> Scored:
        """Score a review: every item must be marked; unknown items or hard fails are refused.

        The score is the sum of the items' points, rounded to 2 decimals. A hard fail keeps the score
        but forces :attr:`hard_fail_grade`, which never passes.
        """
        known = {item.key for item in self.items}
        unknown = sorted(set(marks) - known)
        if unknown:
            raise ChecklistError(f"评分项「{'、'.join(unknown)}」不在评分表「{self.name}」中。")
        missing = [item.label for item in self.items if item.key not in marks]
        if missing:
            raise ChecklistError(f"以下评分项尚未评分：{'、'.join(missing)}。")
        bad = [f"{key}={value}" for key, value in marks.items() if not isinstance(value, Mark)]
        if bad:
            raise ChecklistError(f"评分「{'、'.join(bad)}」无效：可选 pass / partial / fail。")
        fail_keys = {hard.key for hard in self.hard_fails}
        unknown_fails = sorted(set(hard_fails) - fail_keys)
        if unknown_fails:
            raise ChecklistError(f"否决项「{'、'.join(unknown_fails)}」不在评分表「{self.name}」中。")
        total = round(sum(item.points(marks[item.key]) for item in self.items), 2)
        band = self.band(self.hard_fail_grade) if hard_fails else self.grade_for(total)
        return Scored(total, band.label, band.passed)


def _validate(checklist: Checklist) -> None:
    if not checklist.items:
        raise ChecklistError("评分表至少需要一个评分项（items）。")
    for item in checklist.items:
        if isinstance(item.weight, bool) or not isinstance(item.weight, int) or item.weight <= 0:
            raise ChecklistError(f"评分项「{item.key}」的 weight「{item.weight}」无效：应为正整数。")
        if not 0 <= item.partial <= 1:
            raise ChecklistError(f"评分项「{item.key}」的 partial「{item.partial}」无效：应在 0 到 1 之间。")
    _unique("评分项 key", [item.key for item in checklist.items])
    _unique("否决项 key", [hard.key for hard in checklist.hard_fails])
    _unique("等级 label", [band.label for band in checklist.bands])
    _unique("等级 min", [band.minimum for band in checklist.bands])
    total = sum(item.weight for item in checklist.items)
    if total != 100:
        weights = " + ".join(f"{item.weight}" for item in checklist.items)
        raise ChecklistError(f"各评分项 weight 之和应为 100，实际为 {total}（{weights}）。")
    if list(checklist.bands) != sorted(checklist.bands, key=lambda band: -band.minimum):
        raise ChecklistError("等级（grades）应按 min 从高到低排列。")
    if not checklist.bands or checklist.bands[-1].minimum != 0:
        lowest = checklist.bands[-1].minimum if checklist.bands else "无"
        raise ChecklistError(f"等级须覆盖 0–100：最低一档的 min 应为 0，实际为「{lowest}」。")
    if checklist.hard_fail_grade not in {band.label for band in checklist.bands}:
        raise ChecklistError(f"否决时的等级 hard_fail_grade「{checklist.hard_fail_grade}」不是已定义的等级。")
    if checklist.band(checklist.hard_fail_grade).passed:
        raise ChecklistError(f"否决时的等级 hard_fail_grade「{checklist.hard_fail_grade}」不能是合格等级。")


def _unique(field_label: str, values: Iterable[object]) -> None:
    repeated = [str(value) for value, count in Counter(values).items() if count > 1]
    if repeated:
        raise ChecklistError(f"{field_label}「{'、'.join(repeated)}」重复。")


DEFAULT_CHECKLIST = Checklist(
    name="诉件质量抽查评分表（默认）",
    items=(
        ChecklistItem("first_contact", "先行联系", "时限内有联系记录，或至少两次尝试后有有效的未联原因", 15),
        ChecklistItem("site_visit", "现场核查", "有现场的诉件有现场查看记录", 10),
        ChecklistItem("finding", "事实 / 诉求认定", "选定并说明事实认定与诉求认定", 10),
        ChecklistItem("action", "处置到位", "处置措施具体且与案情相符；未解决问题定有复查日期", 20),
        ChecklistItem("reply_relevance", "答复针对性", "答复回应诉求的每一点", 15),
        ChecklistItem("reply_form", "答复规范", "结构、落款完整，无错别字，无推诿或生硬用语，无第三方个人信息", 10),
        ChecklistItem("consistency", "结论一致", "结案评判与答复内容、回访结果一致", 10),
        ChecklistItem("timeliness", "时效", "按时办结；延期在到期前获批", 5),
        ChecklistItem("return_extension", "退单 / 延期恰当", "无不当退单；延期理由成立", 5),
    ),
    hard_fails=(
        HardFail("fabricated_contact", "虚构先行联系记录"),
        HardFail("improper_return", "不当退单"),
        HardFail("reply_contradicts_facts", "答复与事实不符"),
        HardFail("abusive_wording", "答复用语粗暴"),
    ),
    bands=(
        GradeBand("优秀", 90, True),
        GradeBand("合格", 75, True),
        GradeBand("存在问题", 60, False),
        GradeBand("不合格", 0, False),
    ),
    hard_fail_grade="不合格",
)


# ---------------------------------------------------------------------------- TOML


def parse_checklist(text: str) -> Checklist:
    """A checklist from TOML text (format: docs/checklist.toml); every error names the field and value."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ChecklistError(f"评分表不是有效的 TOML：{exc}") from None
    _known_fields("评分表", data, {"name", "partial", "items", "hard_fails", "grades", "hard_fail_grade"})
    name = _text(data, "name", "评分表", default="自定义评分表")
    default_partial = _share(data.get("partial", DEFAULT_PARTIAL), "partial")
    items = tuple(
        _item(entry, f"items 第 {number} 项", default_partial) for number, entry in enumerate(_tables(data, "items"), 1)
    )
    hard_fails = tuple(
        _hard_fail(entry, f"hard_fails 第 {number} 项") for number, entry in enumerate(_tables(data, "hard_fails"), 1)
    )
    bands = tuple(
        sorted(
            (_band(entry, f"grades 第 {number} 项") for number, entry in enumerate(_tables(data, "grades"), 1)),
            key=lambda band: -band.minimum,
        )
    )
    if not bands:
        raise ChecklistError("评分表至少需要一个等级（grades）。")
    hard_fail_grade = _text(data, "hard_fail_grade", "评分表", default=bands[-1].label)
    return Checklist(name, items, hard_fails, bands, hard_fail_grade)


def _known_fields(where: str, table: Mapping[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ChecklistError(f"{where}中有未知字段「{'、'.join(unknown)}」；可用字段：{'、'.join(sorted(allowed))}。")


def _tables(data: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(entry, dict) for entry in value):
        raise ChecklistError(f"{key} 应写成 [[{key}]] 表格数组，实际为「{value}」。")
    return value


def _text(table: Mapping[str, Any], key: str, where: str, default: str | None = None) -> str:
    value = table.get(key, default)
    if not isinstance(value, str) or not value.strip():
        raise ChecklistError(f"{where}的 {key}「{value}」无效：应为非空文字。")
    return value.strip()


def _key(table: Mapping[str, Any], where: str) -> str:
    value = _text(table, "key", where)
    if not KEY_PATTERN.fullmatch(value):
        raise ChecklistError(f"{where}的 key「{value}」无效：应为小写英文字母开头，只含小写字母、数字和下划线。")
    return value


def _share(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ChecklistError(f"{where}「{value}」无效：部分符合得分比例应在 0 到 1 之间，例如 0.5。")
    return float(value)


def _item(entry: Mapping[str, Any], where: str, default_partial: float) -> ChecklistItem:
    _known_fields(where, entry, {"key", "label", "verifies", "weight", "partial"})
    weight = entry.get("weight")
    if isinstance(weight, bool) or not isinstance(weight, int) or weight <= 0:
        raise ChecklistError(f"{where}的 weight「{weight}」无效：应为正整数。")
    return ChecklistItem(
        key=_key(entry, where),
        label=_text(entry, "label", where),
        verifies=str(entry.get("verifies", "")),
        weight=weight,
        partial=_share(entry.get("partial", default_partial), f"{where}的 partial"),
    )


def _hard_fail(entry: Mapping[str, Any], where: str) -> HardFail:
    _known_fields(where, entry, {"key", "label"})
    return HardFail(_key(entry, where), _text(entry, "label", where))


def _band(entry: Mapping[str, Any], where: str) -> GradeBand:
    _known_fields(where, entry, {"label", "min", "passed"})
    minimum = entry.get("min")
    if isinstance(minimum, bool) or not isinstance(minimum, int | float) or not 0 <= minimum <= 100:
        raise ChecklistError(f"{where}的 min「{minimum}」无效：应为 0 到 100 之间的分数。")
    passed = entry.get("passed", False)
    if not isinstance(passed, bool):
        raise ChecklistError(f"{where}的 passed「{passed}」无效：应为 true 或 false。")
    return GradeBand(_text(entry, "label", where), float(minimum), passed)


# ---------------------------------------------------------------------------- results


@dataclass(frozen=True)
class ResultSummary:
    """Pass rate and grade distribution of scored reviews, each with its Wilson interval and sample size."""

    n: int
    pass_rate: Estimate
    grades: tuple[tuple[str, Estimate], ...]  # in band order, every band present
    mean_score: float | None


def summarize(
    results: Iterable[Scored], checklist: Checklist = DEFAULT_CHECKLIST, confidence: float = 0.95
) -> ResultSummary:
    """Pass rate and share of each grade among ``results``.

    Feed it the random part of a sample only when the figures should estimate the population:
    risk inclusions are chosen for being risky and would pull the pass rate down.
    """
    scored = list(results)
    n = len(scored)
    counts = Counter(result.grade for result in scored)
    unknown = sorted(set(counts) - {band.label for band in checklist.bands})
    if unknown:
        raise ChecklistError(f"等级「{'、'.join(unknown)}」不在评分表「{checklist.name}」中。")
    passed = sum(result.passed for result in scored)
    mean = round(math.fsum(result.score for result in scored) / n, 2) if n else None
    return ResultSummary(
        n=n,
        pass_rate=estimate(passed, n, confidence),
        grades=tuple((band.label, estimate(counts[band.label], n, confidence)) for band in checklist.bands),
        mean_score=mean,
    )
