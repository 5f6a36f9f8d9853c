"""Stage deadline rules, due times, explanations and alert levels."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.helpers import local
from tracker.domain.calendar import WorkCalendar
from tracker.domain.deadlines import (
    DEFAULT_RULES,
    AlertThresholds,
    DeadlineRule,
    RuleTable,
    alert_level,
    completion_outcome,
    compute_due,
    explain_due,
    try_compute_due,
    try_compute_dues,
)
from tracker.domain.errors import RuleNotFound
from tracker.domain.labels import format_local
from tracker.domain.vocabulary import AlertLevel, Outcome, Stage, Unit


@pytest.mark.parametrize(
    ("stage", "request_type", "urgency", "amount", "unit"),
    [
        (Stage.FIRST_CONTACT, "投诉举报", "普通", 1, Unit.WORKING_DAYS),
        (Stage.FIRST_CONTACT, "投诉举报", "紧急", 2, Unit.HOURS),
        (Stage.CLOSURE, "咨询", "普通", 1, Unit.WORKING_DAYS),
        (Stage.CLOSURE, "意见建议", None, 1, Unit.WORKING_DAYS),
        (Stage.CLOSURE, "求助", None, 5, Unit.WORKING_DAYS),
        (Stage.CLOSURE, "投诉举报", "紧急", 5, Unit.WORKING_DAYS),
        (Stage.CLOSURE, "未知类型", None, 5, Unit.WORKING_DAYS),
        (Stage.REDO, "咨询", None, 3, Unit.WORKING_DAYS),
        (Stage.SUPERVISION, None, None, 3, Unit.WORKING_DAYS),
        (Stage.RETURN_DECISION, None, None, 1, Unit.WORKING_DAYS),
        (Stage.EXTENSION_DECISION, None, None, 1, Unit.WORKING_DAYS),
    ],
)
def test_default_rules(stage: Stage, request_type: str | None, urgency: str | None, amount: int, unit: Unit) -> None:
    rule = RuleTable().match(stage, request_type=request_type, urgency=urgency)
    assert (rule.amount, rule.unit) == (amount, unit)


def test_the_most_specific_rule_wins() -> None:
    table = RuleTable(
        (
            *DEFAULT_RULES,
            DeadlineRule(Stage.CLOSURE, 3, Unit.WORKING_DAYS, urgency="紧急"),
            DeadlineRule(Stage.CLOSURE, 2, Unit.WORKING_DAYS, request_type="投诉举报", urgency="紧急"),
        )
    )
    assert table.match(Stage.CLOSURE, request_type="投诉举报", urgency="紧急").amount == 2
    assert table.match(Stage.CLOSURE, request_type="求助", urgency="紧急").amount == 3
    assert table.match(Stage.CLOSURE, request_type="求助", urgency="普通").amount == 5


def test_no_rule_is_explained() -> None:
    with pytest.raises(RuleNotFound) as missing:
        RuleTable(()).match(Stage.CLOSURE, request_type="咨询", urgency=None)
    assert str(missing.value) == "期限规则表中没有适用于「办结」的规则（诉求类型：咨询，紧急程度：空）"


def test_rule_labels() -> None:
    assert RuleTable().match(Stage.CLOSURE, request_type="咨询", urgency=None).label() == "办结·咨询：1 个工作日"
    assert RuleTable().match(Stage.FIRST_CONTACT, request_type=None, urgency="紧急").label() == "先行联系·紧急：2 小时"


def test_working_day_due_is_the_end_of_the_local_day(calendar: WorkCalendar) -> None:
    due = compute_due(local("2026-02-13 10:00"), 1, Unit.WORKING_DAYS, calendar)
    assert due == local("2026-02-14 23:59:59")
    late_evening = compute_due(local("2026-02-13 23:30"), 1, Unit.WORKING_DAYS, calendar)
    assert late_evening == local("2026-02-14 23:59:59")  # the local date, not the UTC date, counts


def test_hour_rules_count_calendar_hours(calendar: WorkCalendar) -> None:
    assert compute_due(local("2026-02-15 09:00"), 2, Unit.HOURS, calendar) == local("2026-02-15 11:00")


def test_missing_year_becomes_a_stored_reason(calendar: WorkCalendar) -> None:
    result = try_compute_due(local("2026-12-30 10:00"), 5, Unit.WORKING_DAYS, calendar)
    assert result.due_at is None
    assert result.error is not None and result.error.startswith("2027 年节假日安排尚未载入")


def test_explanation_names_skipped_and_makeup_days(calendar: WorkCalendar) -> None:
    lines = explain_due(local("2026-02-13 10:00"), 5, Unit.WORKING_DAYS, calendar)
    assert lines == [
        "起算：2026-02-13 10:00",
        "规则：5 个工作日",
        "跳过：2026-02-15 至 2026-02-23（春节，9 天）",
        "调休补班计入：2026-02-14（周六，春节补班，计为第 1 个工作日）",
        "截止：2026-02-27（周五）当日 24 时前",
    ]


def test_explanation_of_a_rest_day_start(calendar: WorkCalendar) -> None:
    lines = explain_due(local("2026-11-21 10:00"), 1, Unit.WORKING_DAYS, calendar)
    assert "2026-11-21 为休息日（周末），自下一个工作日起算" in lines
    assert "跳过：2026-11-22（周末）" in lines
    assert lines[-1] == "截止：2026-11-24（周二）当日 24 时前"


def test_explanation_of_an_hour_rule(calendar: WorkCalendar) -> None:
    lines = explain_due(local("2026-02-15 09:00"), 2, Unit.HOURS, calendar)
    assert lines[-1] == "按自然小时计算，截止 2026-02-15 11:00"


@pytest.mark.parametrize(
    ("now", "level"),
    [
        ("2026-11-20 09:00", None),  # due Tue 11-24: more than one working day away
        ("2026-11-23 09:00", AlertLevel.BLUE),  # due tomorrow, the next working day
        ("2026-11-24 20:00", AlertLevel.YELLOW),  # within 4 hours
        ("2026-11-25 00:00", AlertLevel.RED),  # overdue
    ],
)
def test_alert_levels(calendar: WorkCalendar, now: str, level: AlertLevel | None) -> None:
    due = local("2026-11-24 23:59:59")
    assert alert_level(due, local(now), calendar) is level


def test_alert_thresholds_are_configurable(calendar: WorkCalendar) -> None:
    due = local("2026-11-24 23:59:59")
    assert alert_level(due, local("2026-11-24 12:00"), calendar, AlertThresholds(yellow_hours=12)) is AlertLevel.YELLOW
    assert (
        alert_level(due, local("2026-11-20 09:00"), calendar, AlertThresholds(blue_working_days=2)) is AlertLevel.BLUE
    )


def test_completion_outcome() -> None:
    due = local("2026-11-24 23:59:59")
    assert completion_outcome(due, due) is Outcome.MET
    assert completion_outcome(due + timedelta(seconds=1), due) is Outcome.LATE
    assert completion_outcome(due, None) is None


def test_times_are_shown_in_beijing_time() -> None:
    assert format_local(local("2026-02-13 10:00")) == "2026-02-13 10:00"
    assert format_local(None) == "—"


def test_bulk_computation_agrees_with_one_at_a_time(calendar: WorkCalendar) -> None:
    starts = [
        local(f"2026-{month:02d}-{day:02d} {hour:02d}:30")
        for month in (2, 9, 12)
        for day in (13, 21, 30)
        if not (month == 2 and day == 30)
        for hour in (0, 8, 23)
    ]
    for unit, amount in ((Unit.WORKING_DAYS, 5), (Unit.HOURS, 2), (Unit.WORKING_DAYS, 0)):
        expected = [try_compute_due(s, amount, unit, calendar) for s in starts]
        assert try_compute_dues(starts, amount, unit, calendar) == expected
    assert any(due.error for due in try_compute_dues(starts, 5, Unit.WORKING_DAYS, calendar))  # late December
