"""Working-day arithmetic: the worked examples, properties against a day-by-day oracle, the file format."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import chinese_calendar
import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tracker.domain.calendar import WorkCalendar, YearArrangement, parse_year_file
from tracker.domain.errors import CalendarFileError, CalendarNotLoaded
from tracker.services.orders.calendar import package_arrangements

DOCS = Path(__file__).resolve().parents[2] / "docs"


@pytest.mark.parametrize(
    ("start", "days", "due"),
    [
        (date(2026, 2, 13), 1, date(2026, 2, 14)),  # Friday + 1 → make-up Saturday
        (date(2026, 2, 13), 5, date(2026, 2, 27)),  # across the Spring Festival
        (date(2026, 9, 30), 5, date(2026, 10, 13)),  # across National Day, make-up Saturday 10-10 counts
        (date(2026, 2, 21), 1, date(2026, 2, 25)),  # a rest-day start counts from the next working day (02-24)
        (date(2026, 11, 21), 1, date(2026, 11, 24)),  # Saturday → counts from Monday
        (date(2026, 11, 20), 0, date(2026, 11, 20)),
    ],
)
def test_worked_examples(calendar: WorkCalendar, start: date, days: int, due: date) -> None:
    assert calendar.add_working_days(start, days) == due


def test_a_deadline_in_2027_fails_until_2027_is_loaded(calendar: WorkCalendar) -> None:
    with pytest.raises(CalendarNotLoaded) as missing:
        calendar.add_working_days(date(2026, 12, 28), 5)
    assert str(missing.value).startswith("2027 年节假日安排尚未载入")
    assert missing.value.year == 2027
    loaded = WorkCalendar.from_arrangements([*package_arrangements(), _invented_2027()])
    assert loaded.add_working_days(date(2026, 12, 28), 5) == date(2027, 1, 5)  # 01-01..01-03 off in the test data


def _invented_2027() -> YearArrangement:
    """Test data only (not the official 2027 arrangement): New Year 01-01..01-03 off."""
    return parse_year_file('year = 2027\n[[holidays]]\nname = "元旦"\nstart = 2027-01-01\nend = 2027-01-03\n')


def test_before_the_first_loaded_year(calendar: WorkCalendar) -> None:
    with pytest.raises(CalendarNotLoaded) as missing:
        calendar.add_working_days(date(2003, 12, 30), 1)
    assert missing.value.year == 2003


def test_only_the_contiguous_run_of_years_counts() -> None:
    arrangements = [a for a in package_arrangements() if a.year in (2024, 2026)]
    cal = WorkCalendar.from_arrangements(arrangements)
    assert cal.last_year == 2024
    with pytest.raises(CalendarNotLoaded) as missing:
        cal.add_working_days(date(2026, 3, 2), 1)
    assert missing.value.year == 2025


def oracle(start: date, days: int) -> date:
    """Day by day, straight from the chinesecalendar package."""
    day = start
    while not chinese_calendar.is_workday(day):
        day += timedelta(days=1)
    counted = 0
    while counted < days:
        day += timedelta(days=1)
        if chinese_calendar.is_workday(day):
            counted += 1
    return day


starts = st.dates(min_value=date(2004, 1, 1), max_value=date(2026, 11, 15))
counts = st.integers(min_value=0, max_value=25)


@settings(max_examples=400, deadline=None)
@given(starts, counts)
def test_matches_the_day_by_day_oracle(calendar: WorkCalendar, start: date, days: int) -> None:
    assert calendar.add_working_days(start, days) == oracle(start, days)


@settings(max_examples=300, deadline=None)
@given(starts, counts)
def test_due_is_a_working_day_with_exactly_n_working_days_after_the_effective_start(
    calendar: WorkCalendar, start: date, days: int
) -> None:
    due = calendar.add_working_days(start, days)
    effective = calendar.add_working_days(start, 0)
    assert calendar.is_workday(due)
    assert calendar.working_days_between(effective, due) == days
    assert effective >= start and all(
        not calendar.is_workday(start + timedelta(d)) for d in range((effective - start).days)
    )


@settings(max_examples=300, deadline=None)
@given(starts, st.integers(min_value=0, max_value=12), st.integers(min_value=0, max_value=12))
def test_adding_composes_and_is_monotonic(calendar: WorkCalendar, start: date, a: int, b: int) -> None:
    first = calendar.add_working_days(start, a)
    assert calendar.add_working_days(first, b) == calendar.add_working_days(start, a + b)
    if b > 0:
        assert calendar.add_working_days(start, a + b) > first


@settings(max_examples=200, deadline=None)
@given(st.dates(min_value=date(2026, 12, 1), max_value=date(2026, 12, 31)), st.integers(min_value=25, max_value=60))
def test_crossing_into_an_unloaded_year_always_fails_loudly(calendar: WorkCalendar, start: date, days: int) -> None:
    with pytest.raises(CalendarNotLoaded):
        calendar.add_working_days(start, days)


@settings(max_examples=200, deadline=None)
@given(st.dates(min_value=date(2004, 3, 1), max_value=date(2026, 10, 31)), st.integers(min_value=-20, max_value=20))
def test_moving_between_working_days(calendar: WorkCalendar, start: date, count: int) -> None:
    day = calendar.previous_workday(start)
    assert calendar.is_workday(day) and day <= start
    moved = calendar.move_working_days(day, count)
    assert calendar.working_days_between(day, moved) == count


@pytest.mark.parametrize("year", [2025, 2026])
def test_seeded_makeup_days_agree_with_the_holidays_package(calendar: WorkCalendar, year: int) -> None:
    ours = {day for day in calendar.workdays if day.year == year}
    theirs = {day for day in holidays.China(years=year).weekend_workdays if day.year == year}
    assert ours == theirs
    assert all(calendar.is_workday(day) and day.weekday() >= 5 for day in ours)


def test_holidays_have_chinese_names(calendar: WorkCalendar) -> None:
    assert calendar.day_kind(date(2026, 2, 17)).reason == "春节"
    assert calendar.day_kind(date(2026, 10, 10)).reason == "国庆节补班"
    assert calendar.day_kind(date(2026, 11, 21)).reason == "周末"
    assert calendar.day_kind(date(2026, 11, 20)).reason == ""


def test_the_shipped_example_file_equals_the_package_year(calendar: WorkCalendar) -> None:
    from_file = parse_year_file((DOCS / "calendar-2026.toml").read_text(encoding="utf-8"))
    package = next(a for a in package_arrangements() if a.year == 2026)
    assert from_file.holidays == package.holidays
    assert from_file.workdays == package.workdays


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("year = ", "节假日安排文件不是有效的 TOML"),
        ('year = "2027"', "节假日安排文件字段 year 应为 2000–2100 之间的年份，实际为：'2027'"),
        ("year = 2027", "节假日安排文件未列出任何节假日（holidays），年份 2027"),
        ("year = 2027\n[[holidays]]\nstart = 2027-01-01", "holidays 第 1 项缺少 name（节日名称），实际为：None"),
        (
            'year = 2027\n[[holidays]]\nname = "元旦"\nstart = "2027-01-01"',
            "holidays 第 1 项字段 start 应为日期（如 2027-01-01，不加引号），实际为：'2027-01-01'",
        ),
        (
            'year = 2027\n[[holidays]]\nname = "元旦"\nstart = 2027-01-03\nend = 2027-01-01',
            "holidays 第 1 项（元旦）：end 2027-01-01 早于 start 2027-01-03",
        ),
        (
            'year = 2027\n[[holidays]]\nname = "元旦"\nstart = 2031-01-01',
            "holidays 第 1 项字段 start 的日期 2031-01-01 不属于 2027 年前后",
        ),
        (
            'year = 2027\n[[holidays]]\nname = "元旦"\nstart = 2027-01-01\n'
            '[[workdays]]\nname = "元旦"\ndate = 2027-01-01',
            "workdays 第 1 项：2027-01-01 同时被列为节假日（元旦）",
        ),
    ],
)
def test_bad_calendar_files_are_explained(text: str, message: str) -> None:
    with pytest.raises(CalendarFileError) as bad:
        parse_year_file(text)
    assert message in str(bad.value)
