"""The review checklist: default items and weights, scoring, hard fails, grade bands, TOML files, results."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tracker.domain.checklist import (
    DEFAULT_CHECKLIST,
    ChecklistError,
    Mark,
    Scored,
    parse_checklist,
    parse_mark,
    summarize,
)
from tracker.domain.intervals import wilson

DOCS = Path(__file__).resolve().parents[2] / "docs"
KEYS = [item.key for item in DEFAULT_CHECKLIST.items]


def marks(**overrides: Mark) -> dict[str, Mark]:
    """Every default item passed, except the ones named."""
    return {key: overrides.get(key, Mark.PASS) for key in KEYS}


def test_the_default_checklist_is_domain_md_section_6() -> None:
    assert [(item.label, item.weight) for item in DEFAULT_CHECKLIST.items] == [
        ("先行联系", 15),
        ("现场核查", 10),
        ("事实 / 诉求认定", 10),
        ("处置到位", 20),
        ("答复针对性", 15),
        ("答复规范", 10),
        ("结论一致", 10),
        ("时效", 5),
        ("退单 / 延期恰当", 5),
    ]
    assert [hard.label for hard in DEFAULT_CHECKLIST.hard_fails] == [
        "虚构先行联系记录",
        "不当退单",
        "答复与事实不符",
        "答复用语粗暴",
    ]
    assert [(band.label, band.minimum, band.passed) for band in DEFAULT_CHECKLIST.bands] == [
        ("优秀", 90, True),
        ("合格", 75, True),
        ("存在问题", 60, False),
        ("不合格", 0, False),
    ]


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({}, Scored(100, "优秀", True)),
        ({"site_visit": Mark.FAIL}, Scored(90, "优秀", True)),  # 90 is the lowest 优秀
        ({"first_contact": Mark.PARTIAL}, Scored(92.5, "优秀", True)),  # partial = half of 15
        # 100 − 20 (action fail) − 5 (timeliness fail) = 75: the lowest 合格
        ({"action": Mark.FAIL, "timeliness": Mark.FAIL}, Scored(75, "合格", True)),
        # 100 − 20 − 5 − 2.5 (half of 5) = 72.5 → 存在问题
        (
            {"action": Mark.FAIL, "timeliness": Mark.FAIL, "return_extension": Mark.PARTIAL},
            Scored(72.5, "存在问题", False),
        ),
        # 100 − 15 − 10 − 15 = 60: the lowest 存在问题
        (
            {"first_contact": Mark.FAIL, "site_visit": Mark.FAIL, "reply_relevance": Mark.FAIL},
            Scored(60, "存在问题", False),
        ),
        # 60 − 2.5 = 57.5 → 不合格
        (
            {
                "first_contact": Mark.FAIL,
                "site_visit": Mark.FAIL,
                "reply_relevance": Mark.FAIL,
                "timeliness": Mark.PARTIAL,
            },
            Scored(57.5, "不合格", False),
        ),
        ({key: Mark.FAIL for key in KEYS}, Scored(0, "不合格", False)),
    ],
)
def test_scores_and_grades(overrides: dict[str, Mark], expected: Scored) -> None:
    assert DEFAULT_CHECKLIST.score(marks(**overrides)) == expected


@pytest.mark.parametrize(
    ("score", "grade"),
    [
        (100, "优秀"),
        (90, "优秀"),
        (89.99, "合格"),
        (75, "合格"),
        (74.5, "存在问题"),
        (60, "存在问题"),
        (59.99, "不合格"),
        (0, "不合格"),
    ],
)
def test_grade_bands_are_lower_bounds(score: float, grade: str) -> None:
    assert DEFAULT_CHECKLIST.grade_for(score).label == grade


def test_a_hard_fail_forces_the_failing_grade_whatever_the_score() -> None:
    assert DEFAULT_CHECKLIST.score(marks(), {"abusive_wording"}) == Scored(100, "不合格", False)
    assert DEFAULT_CHECKLIST.score(marks(), ["improper_return", "fabricated_contact"]).passed is False


@pytest.mark.parametrize(
    ("review", "hard_fails", "message"),
    [
        ({k: Mark.PASS for k in KEYS[:-1]}, (), "以下评分项尚未评分：退单 / 延期恰当"),
        ({**marks(), "smile": Mark.PASS}, (), "评分项「smile」不在评分表「诉件质量抽查评分表（默认）」中"),
        ({**marks(), "timeliness": "ok"}, (), "评分「timeliness=ok」无效"),
        (marks(), {"late_by_a_minute"}, "否决项「late_by_a_minute」不在评分表"),
    ],
)
def test_scoring_refuses_incomplete_or_unknown_marks(
    review: dict[str, Mark], hard_fails: set[str], message: str
) -> None:
    with pytest.raises(ChecklistError) as refused:
        DEFAULT_CHECKLIST.score(review, hard_fails)
    assert message in str(refused.value)


@given(
    st.fixed_dictionaries({key: st.sampled_from(Mark) for key in KEYS}),
    st.sets(st.sampled_from([h.key for h in DEFAULT_CHECKLIST.hard_fails])),
)
def test_any_review_scores_between_0_and_100_and_passes_only_when_graded_so(
    review: dict[str, Mark], hard_fails: set[str]
) -> None:
    result = DEFAULT_CHECKLIST.score(review, hard_fails)
    assert 0 <= result.score <= 100 and result.score * 2 == int(result.score * 2)  # halves only
    assert result.passed == (result.grade in ("优秀", "合格"))
    if hard_fails:
        assert result.grade == "不合格"
    else:
        assert result.passed == (result.score >= 75)


def test_marks_parse_from_values_and_chinese_labels() -> None:
    assert [parse_mark(v) for v in ("pass", "部分符合", "不符合")] == [Mark.PASS, Mark.PARTIAL, Mark.FAIL]
    with pytest.raises(ChecklistError, match="评分「通过」无效：可选 符合\\(pass\\)"):
        parse_mark("通过")


# ---------------------------------------------------------------------------- TOML


def test_the_sample_file_is_the_default_checklist() -> None:
    parsed = parse_checklist((DOCS / "checklist.toml").read_text(encoding="utf-8"))
    assert parsed.items == DEFAULT_CHECKLIST.items
    assert parsed.hard_fails == DEFAULT_CHECKLIST.hard_fails
    assert parsed.bands == DEFAULT_CHECKLIST.bands
    assert parsed.hard_fail_grade == "不合格"


SMALL = """
name = "简表"
[[items]]
key = "reply"
label = "答复"
weight = 60
partial = 0.25
[[items]]
key = "speed"
label = "时效"
weight = 40
[[hard_fails]]
key = "rude"
label = "粗暴"
[[grades]]
label = "不及格"
min = 0
[[grades]]
label = "及格"
min = 50
passed = true
"""


def test_a_custom_checklist_with_its_own_partial_share_and_bands() -> None:
    checklist = parse_checklist(SMALL)
    assert [band.label for band in checklist.bands] == ["及格", "不及格"]  # sorted, highest first
    assert checklist.hard_fail_grade == "不及格"  # the lowest band by default
    partial_reply = {"reply": Mark.PARTIAL, "speed": Mark.PASS}
    assert checklist.score(partial_reply) == Scored(55, "及格", True)  # 60 · 0.25 + 40
    assert checklist.score({"reply": Mark.FAIL, "speed": Mark.PARTIAL}) == Scored(20, "不及格", False)  # 40 · 0.5
    assert checklist.score(partial_reply, {"rude"}) == Scored(55, "不及格", False)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("weight = 40", "weight = 35", "各评分项 weight 之和应为 100，实际为 95（60 + 35）"),
        ("weight = 40", 'weight = "四十"', "items 第 2 项的 weight「四十」无效：应为正整数"),
        ("weight = 40", "weight = 40.0", "items 第 2 项的 weight「40.0」无效"),
        ('key = "speed"', 'key = "reply"', "评分项 key「reply」重复"),
        ('key = "speed"', 'key = "Speed Of Reply"', "items 第 2 项的 key「Speed Of Reply」无效"),
        ('label = "时效"', 'label = ""', "items 第 2 项的 label「」无效：应为非空文字"),
        ("partial = 0.25", "partial = 1.5", "items 第 1 项的 partial「1.5」无效：部分符合得分比例应在 0 到 1 之间"),
        ("min = 0", "min = 10", "等级须覆盖 0–100：最低一档的 min 应为 0，实际为「10.0」"),
        ("min = 50", "min = 120", "grades 第 2 项的 min「120」无效：应为 0 到 100 之间的分数"),
        ("min = 50", "min = 0", "等级 min「0.0」重复"),
        ('label = "及格"', 'label = "不及格"', "等级 label「不及格」重复"),
        ("passed = true", 'passed = "是"', "grades 第 2 项的 passed「是」无效：应为 true 或 false"),
        ('name = "简表"', 'name = "简表"\nhard_fail_grade = "及格"', "hard_fail_grade「及格」不能是合格等级"),
        ('name = "简表"', 'name = "简表"\nhard_fail_grade = "差"', "hard_fail_grade「差」不是已定义的等级"),
        ('name = "简表"', 'name = "简表"\nitem = 1', "评分表中有未知字段「item」"),
        ('label = "答复"', 'label = "答复"\nweigth = 1', "items 第 1 项中有未知字段「weigth」"),
        ('name = "简表"', "name = 简表", "评分表不是有效的 TOML"),
    ],
)
def test_checklist_files_are_validated_with_chinese_errors(old: str, new: str, message: str) -> None:
    assert old in SMALL
    with pytest.raises(ChecklistError) as refused:
        parse_checklist(SMALL.replace(old, new, 1))
    assert message in str(refused.value)


def test_a_checklist_needs_items_and_grades() -> None:
    with pytest.raises(ChecklistError, match="至少需要一个评分项"):
        parse_checklist('[[grades]]\nlabel = "x"\nmin = 0\n')
    with pytest.raises(ChecklistError, match="至少需要一个等级"):
        parse_checklist('[[items]]\nkey = "a"\nlabel = "a"\nweight = 100\n')
    with pytest.raises(ChecklistError, match="items 应写成 \\[\\[items\\]\\] 表格数组，实际为「3」"):
        parse_checklist("items = 3\n")


# ---------------------------------------------------------------------------- results


def test_summary_gives_pass_rate_and_grades_with_wilson_intervals() -> None:
    results = [Scored(95, "优秀", True)] * 3 + [Scored(80, "合格", True)] * 5 + [Scored(100, "不合格", False)] * 2
    summary = summarize(results)
    assert summary.n == 10 and summary.mean_score == 88.5
    assert (summary.pass_rate.successes, summary.pass_rate.rate) == (8, 0.8)
    assert (summary.pass_rate.low, summary.pass_rate.high) == wilson(8, 10)
    shares = {label: (e.successes, e.n) for label, e in summary.grades}
    assert shares == {"优秀": (3, 10), "合格": (5, 10), "存在问题": (0, 10), "不合格": (2, 10)}
    assert [label for label, _ in summary.grades] == ["优秀", "合格", "存在问题", "不合格"]


def test_summary_of_nothing_and_of_unknown_grades() -> None:
    empty = summarize([])
    assert empty.n == 0 and empty.pass_rate.rate is None and empty.mean_score is None
    assert (empty.pass_rate.low, empty.pass_rate.high) == (0.0, 1.0)
    with pytest.raises(ChecklistError, match="等级「良好」不在评分表"):
        summarize([Scored(80, "良好", True)])
