"""The holiday calendar in the database: seeding from chinesecalendar, loading a new year, reading it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from importlib.metadata import version

import chinese_calendar
from sqlalchemy import func
from sqlmodel import Session, col, delete, select

from tracker.domain.calendar import HOLIDAY_NAMES_ZH, MAKEUP_SUFFIX, WorkCalendar, YearArrangement, parse_year_file
from tracker.models import CalendarDay, CalendarYear
from tracker.services.accounts import Actor


def package_arrangements() -> list[YearArrangement]:
    """Every year the installed chinesecalendar package knows, with Chinese holiday names."""
    years = sorted({day.year for day in chinese_calendar.holidays})
    source = f"chinesecalendar {version('chinesecalendar')}"
    result = []
    for year in years:
        holidays = {
            day: HOLIDAY_NAMES_ZH.get(name, name) for day, name in chinese_calendar.holidays.items() if day.year == year
        }
        workdays = {
            day: HOLIDAY_NAMES_ZH.get(name, name) + MAKEUP_SUFFIX
            for day, name in chinese_calendar.workdays.items()
            if day.year == year and day.weekday() >= 5
        }
        result.append(YearArrangement(year=year, holidays=holidays, workdays=workdays, source=source))
    return result


def seed_from_package(session: Session, *, actor: Actor, now: datetime) -> list[int]:
    """Store every year the package knows that is not loaded yet; returns the years added."""
    loaded = set(session.exec(select(CalendarYear.year)).all())
    added = []
    for arrangement in package_arrangements():
        if arrangement.year not in loaded:
            _store(session, arrangement, actor=actor, now=now)
            added.append(arrangement.year)
    session.flush()
    return added


def _store(session: Session, arrangement: YearArrangement, *, actor: Actor, now: datetime) -> None:
    _generation[0] += 1
    session.add(CalendarYear(year=arrangement.year, source=arrangement.source, loaded_at=now, loaded_by=actor.name))
    session.flush()
    for day, name in arrangement.holidays.items():
        session.add(CalendarDay(day=day, year=arrangement.year, is_workday=False, name=name))
    for day, name in arrangement.workdays.items():
        session.add(CalendarDay(day=day, year=arrangement.year, is_workday=True, name=name))


_cache: dict[tuple[str, int, datetime | None, int], WorkCalendar] = {}
_generation = [0]  # bumped by every store in this process, so a same-second replacement is seen


def load_calendar(session: Session) -> WorkCalendar:
    """The stored calendar, rebuilt only when a year was loaded or replaced since last time."""
    count, latest = session.exec(select(func.count(), func.max(CalendarYear.loaded_at))).one()
    key = (str(session.get_bind().engine.url), int(count), latest, _generation[0])
    calendar = _cache.get(key)
    if calendar is None:
        years = frozenset(session.exec(select(CalendarYear.year)).all())
        holidays: dict[date, str] = {}
        workdays: dict[date, str] = {}
        for row in session.exec(select(CalendarDay)).all():
            (workdays if row.is_workday else holidays)[row.day] = row.name
        calendar = WorkCalendar(years=years, holidays=holidays, workdays=workdays)
        _cache.clear()
        _cache[key] = calendar
    return calendar


@dataclass(frozen=True)
class YearLoadResult:
    """What loading a year's arrangement did."""

    year: int
    replaced: bool
    holidays: int
    workdays: int
    recomputed: int


def load_year(session: Session, text: str, *, source: str, actor: Actor, now: datetime) -> YearLoadResult:
    """Store (or replace) one year's arrangement from a TOML file and recompute open deadlines."""
    from tracker.services.orders.deadlines import recompute_open_deadlines

    arrangement = parse_year_file(text, source=source)
    existing = session.get(CalendarYear, arrangement.year)
    if existing is not None:
        session.exec(delete(CalendarDay).where(col(CalendarDay.year) == arrangement.year))
        session.delete(existing)
        session.flush()
    _store(session, arrangement, actor=actor, now=now)
    session.flush()
    recomputed = recompute_open_deadlines(session, calendar=load_calendar(session))
    return YearLoadResult(
        year=arrangement.year,
        replaced=existing is not None,
        holidays=len(arrangement.holidays),
        workdays=len(arrangement.workdays),
        recomputed=recomputed,
    )


def loaded_years(session: Session) -> list[CalendarYear]:
    """Loaded years, newest first."""
    return list(session.exec(select(CalendarYear).order_by(col(CalendarYear.year).desc())).all())
