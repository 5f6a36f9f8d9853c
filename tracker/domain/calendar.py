"""Chinese working-day calendar: holidays, make-up working days (补班) and table-based arithmetic.

A year counts only once its official arrangement is loaded; any computation that needs an
unloaded year raises :class:`CalendarNotLoaded` instead of guessing from weekends.
"""

from __future__ import annotations

import re
import tomllib
from bisect import bisect_left
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

from tracker.domain.errors import CalendarFileError, CalendarNotLoaded

WEEKEND_LABEL = "周末"
MAKEUP_SUFFIX = "补班"

# chinesecalendar names holidays in English; people read these.
HOLIDAY_NAMES_ZH: Mapping[str, str] = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Labor Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "Mid-autumn Festival": "中秋节",
    "National Day": "国庆节",
    "Anti-Fascist 70th Day": "抗战胜利70周年纪念日",
}


@dataclass(frozen=True)
class YearArrangement:
    """One year's official arrangement: named rest days and make-up working days."""

    year: int
    holidays: Mapping[date, str]
    workdays: Mapping[date, str]
    source: str = ""


@dataclass(frozen=True)
class DayKind:
    """Whether a day is worked, and why (周末, 春节, 春节补班, or empty for an ordinary workday)."""

    is_workday: bool
    reason: str


@dataclass
class WorkCalendar:
    """Working-day arithmetic over the contiguous run of loaded years, by table lookup."""

    years: frozenset[int]
    holidays: Mapping[date, str]
    workdays: Mapping[date, str]
    _first_ordinal: int = field(init=False)
    _is_work: bytearray = field(init=False)
    _work_ordinals: list[int] = field(init=False)
    _next_work_index: list[int] = field(init=False)
    first_year: int = field(init=False)
    last_year: int = field(init=False)

    def __post_init__(self) -> None:
        if not self.years:
            raise CalendarNotLoaded(date.today().year)
        self.first_year = min(self.years)
        last = self.first_year
        while last + 1 in self.years:
            last += 1
        self.last_year = last
        self._first_ordinal = date(self.first_year, 1, 1).toordinal()
        end_ordinal = date(self.last_year, 12, 31).toordinal()
        size = end_ordinal - self._first_ordinal + 1
        is_work = bytearray(size)
        work_ordinals: list[int] = []
        next_index = [0] * size
        for offset in range(size):
            day = date.fromordinal(self._first_ordinal + offset)
            if day in self.workdays:
                worked = True
            elif day in self.holidays:
                worked = False
            else:
                worked = day.weekday() < 5
            is_work[offset] = worked
            if worked:
                work_ordinals.append(self._first_ordinal + offset)
        # index of the first working day on or after each day (len(work_ordinals) past the end)
        pointer = len(work_ordinals)
        for offset in range(size - 1, -1, -1):
            if is_work[offset]:
                pointer -= 1
            next_index[offset] = pointer
        self._is_work = is_work
        self._work_ordinals = work_ordinals
        self._next_work_index = next_index

    @classmethod
    def from_arrangements(cls, arrangements: Iterable[YearArrangement]) -> WorkCalendar:
        """Build a calendar from per-year arrangements."""
        years: set[int] = set()
        holidays: dict[date, str] = {}
        workdays: dict[date, str] = {}
        for arrangement in arrangements:
            years.add(arrangement.year)
            holidays.update(arrangement.holidays)
            workdays.update(arrangement.workdays)
        return cls(years=frozenset(years), holidays=holidays, workdays=workdays)

    def _offset(self, day: date) -> int:
        offset = day.toordinal() - self._first_ordinal
        if offset < 0:
            raise CalendarNotLoaded(day.year)
        if offset >= len(self._is_work):
            raise CalendarNotLoaded(self.last_year + 1)
        return offset

    def is_workday(self, day: date) -> bool:
        """True when ``day`` is worked (ordinary weekday or make-up day)."""
        return bool(self._is_work[self._offset(day)])

    def day_kind(self, day: date) -> DayKind:
        """Whether ``day`` is worked and the reason people would give."""
        worked = self.is_workday(day)
        if day in self.workdays:
            return DayKind(True, self.workdays[day])
        if day in self.holidays:
            return DayKind(False, self.holidays[day])
        return DayKind(worked, "" if worked else WEEKEND_LABEL)

    def add_working_days(self, start: date, days: int) -> date:
        """The Nth working day after ``start``; a rest-day start counts from the next working day."""
        if days < 0:
            raise ValueError("days must be >= 0")
        index = self._next_work_index[self._offset(start)] + days
        if index >= len(self._work_ordinals):
            raise CalendarNotLoaded(self.last_year + 1)
        return date.fromordinal(self._work_ordinals[index])

    def previous_workday(self, day: date) -> date:
        """``day`` itself when worked, else the last working day before it."""
        index = self._next_work_index[self._offset(day)]
        if index < len(self._work_ordinals) and self._work_ordinals[index] == day.toordinal():
            return day
        if index == 0:
            raise CalendarNotLoaded(self.first_year - 1)
        return date.fromordinal(self._work_ordinals[index - 1])

    def move_working_days(self, day: date, count: int) -> date:
        """The working day ``count`` working days after (or, when negative, before) working day ``day``."""
        index = self._next_work_index[self._offset(day)] + count
        if index < 0:
            raise CalendarNotLoaded(self.first_year - 1)
        if index >= len(self._work_ordinals):
            raise CalendarNotLoaded(self.last_year + 1)
        return date.fromordinal(self._work_ordinals[index])

    def working_days_between(self, start: date, end: date) -> int:
        """How many working days lie in (start, end]; negative when end is before start."""
        if end < start:
            return -self.working_days_between(end, start)
        self._offset(start)
        self._offset(end)
        low = bisect_left(self._work_ordinals, start.toordinal() + 1)
        high = bisect_left(self._work_ordinals, end.toordinal() + 1)
        return high - low


def parse_year_file(text: str, *, source: str = "") -> YearArrangement:
    """Read one year's arrangement from TOML; errors name the field and the value.

    Format::

        year = 2027
        [[holidays]]
        name = "元旦"
        start = 2027-01-01
        end = 2027-01-03
        [[workdays]]
        date = 2027-02-07
        name = "春节补班"
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        place = re.search(r"line (\d+), column (\d+)", str(exc))
        at = f"（第 {place[1]} 行第 {place[2]} 列附近）" if place else ""
        raise CalendarFileError(f"节假日安排文件不是有效的 TOML{at}") from None
    year = data.get("year")
    if not isinstance(year, int) or not 2000 <= year <= 2100:
        raise CalendarFileError(f"节假日安排文件字段 year 应为 2000–2100 之间的年份，实际为：{year!r}")
    holidays: dict[date, str] = {}
    for number, entry in enumerate(data.get("holidays", []), start=1):
        name = _require_name(entry, "holidays", number)
        start = _require_date(entry, "start", "holidays", number, year)
        end = _require_date(entry, "end", "holidays", number, year) if "end" in entry else start
        if end < start:
            raise CalendarFileError(f"holidays 第 {number} 项（{name}）：end {end} 早于 start {start}")
        day = start
        while day <= end:
            holidays[day] = name
            day += timedelta(days=1)
    workdays: dict[date, str] = {}
    for number, entry in enumerate(data.get("workdays", []), start=1):
        name = _require_name(entry, "workdays", number)
        day = _require_date(entry, "date", "workdays", number, year)
        if day in holidays:
            raise CalendarFileError(f"workdays 第 {number} 项：{day} 同时被列为节假日（{holidays[day]}）")
        workdays[day] = name if name.endswith(MAKEUP_SUFFIX) else name + MAKEUP_SUFFIX
    if not holidays:
        raise CalendarFileError(f"节假日安排文件未列出任何节假日（holidays），年份 {year}")
    return YearArrangement(year=year, holidays=holidays, workdays=workdays, source=source)


def _require_name(entry: object, section: str, number: int) -> str:
    if not isinstance(entry, dict):
        raise CalendarFileError(f"{section} 第 {number} 项应为表（[[{section}]]），实际为：{entry!r}")
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        raise CalendarFileError(f"{section} 第 {number} 项缺少 name（节日名称），实际为：{name!r}")
    return name.strip()


def _require_date(entry: dict[str, object], key: str, section: str, number: int, year: int) -> date:
    value = entry.get(key)
    if not isinstance(value, date) or hasattr(value, "hour"):
        raise CalendarFileError(
            f"{section} 第 {number} 项字段 {key} 应为日期（如 {year}-01-01，不加引号），实际为：{value!r}"
        )
    if value.year not in (year - 1, year, year + 1):
        raise CalendarFileError(f"{section} 第 {number} 项字段 {key} 的日期 {value} 不属于 {year} 年前后")
    return value
