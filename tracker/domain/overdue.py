"""What "overdue" and "due soon" mean, as of a moment: the one definition every count uses.

Overdue is a fact about a stage deadline at a moment, not a state of the order (domain.md section 2):

- a **stage** (环节: 签收, 先行联系, 办结, 退单审批 …) is *red* (已超期) at ``now`` when it is still open
  (not completed) and its due time is before ``now``; *yellow* when it falls due within
  ``yellow_hours``; *blue* when it falls due by the end of the ``blue_working_days``-th working day
  (from a rest day: counted from the last working day, so a Saturday's horizon is Monday's end);
- an **order** (工单) is at the level of its most urgent open stage, which is the one due first
  (a level only depends on the due time, and an earlier due time is never less urgent);
- both are counted *as of now*, whenever the order was dispatched: an order dispatched a year ago
  whose stage is still open and late is overdue today. Period views (intake, rates) keep their date
  basis; this count has none.

Every surface says which unit it counts with :data:`UNIT_ORDERS` or :data:`UNIT_STAGES` and the
moment with :func:`as_of_label`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from tracker.domain.calendar import WorkCalendar
from tracker.domain.deadlines import AlertThresholds, end_of_local_day, to_local
from tracker.domain.errors import CalendarNotLoaded
from tracker.domain.vocabulary import AlertLevel

LEVELS_WORST_FIRST = (AlertLevel.RED, AlertLevel.YELLOW, AlertLevel.BLUE)
UNIT_ORDERS = "件工单"  # an order counts once, at its most urgent open stage
UNIT_STAGES = "个环节"  # every open stage deadline counts

LEVEL_SHORT = {
    AlertLevel.RED: "已超期",
    AlertLevel.YELLOW: "4 小时内到期",
    AlertLevel.BLUE: "1 个工作日内到期",
}


@dataclass(frozen=True)
class LevelBounds:
    """The due-time bounds of each level at one moment: red before ``now``, yellow up to ``yellow_until``,
    blue up to ``blue_until``; a later due time has no level yet."""

    now: datetime
    yellow_until: datetime
    blue_until: datetime

    def level_of(self, due_at: datetime | None) -> AlertLevel | None:
        """The level of an open stage due at ``due_at`` (None: not yet close, or no due time)."""
        if due_at is None:
            return None
        if due_at < self.now:
            return AlertLevel.RED
        if due_at <= self.yellow_until:
            return AlertLevel.YELLOW
        if due_at <= self.blue_until:
            return AlertLevel.BLUE
        return None

    def range_of(self, level: AlertLevel) -> tuple[datetime | None, datetime]:
        """``(after, until)``: a due time is at ``level`` when ``after <= due`` (None: no lower bound) and
        ``due < now`` for red, ``due <= until`` otherwise (see :meth:`level_of`)."""
        if level is AlertLevel.RED:
            return None, self.now
        if level is AlertLevel.YELLOW:
            return self.now, self.yellow_until
        return self.now, self.blue_until  # above yellow_until: the caller excludes yellow


def level_bounds(now: datetime, calendar: WorkCalendar, thresholds: AlertThresholds | None = None) -> LevelBounds:
    """The level bounds at ``now`` (Beijing working days); without next year's calendar, calendar days."""
    thresholds = thresholds or AlertThresholds()
    yellow_until = now + timedelta(hours=thresholds.yellow_hours)
    try:
        start = calendar.previous_workday(to_local(now).date())  # from a rest day: by the next working day's end
        blue = end_of_local_day(calendar.move_working_days(start, thresholds.blue_working_days))
    except CalendarNotLoaded:  # next year not loaded: count calendar days rather than raise no blue alerts
        blue = end_of_local_day(to_local(now).date() + timedelta(days=thresholds.blue_working_days))
    return LevelBounds(now, yellow_until, max(blue, yellow_until))


def order_level(open_due_times: Iterable[datetime | None], bounds: LevelBounds) -> AlertLevel | None:
    """An order's level: that of its open stage due first."""
    due = [d for d in open_due_times if d is not None]
    return bounds.level_of(min(due)) if due else None


def as_of_label(now: datetime) -> str:
    """「截至 HH:MM」in Beijing time (with the date when asked for a day other than today's page)."""
    return f"截至 {to_local(now).strftime('%H:%M')}"


def count_phrase(count: int, unit: str) -> str:
    """「88 件工单」/「132 个环节」: a count with its unit, the same words everywhere."""
    return f"{count} {unit}"
