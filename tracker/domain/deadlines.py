"""Stage deadlines: the rule table, due-time computation, explanations and alert levels.

Rules (domain.md section 3, all defaults editable): "N working days" ends at the end of
the Nth working day after the start date; a start on a rest day counts from the next
working day; an hour rule counts calendar hours.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from tracker.domain.calendar import WorkCalendar
from tracker.domain.errors import CalendarNotLoaded, RuleNotFound
from tracker.domain.labels import STAGE_LABELS, format_local, unit_amount_label
from tracker.domain.vocabulary import AlertLevel, Outcome, Stage, Unit

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
END_OF_DAY = time(23, 59, 59)


ALERT_RANK = {AlertLevel.BLUE: 1, AlertLevel.YELLOW: 2, AlertLevel.RED: 3}


@dataclass(frozen=True)
class DeadlineRule:
    """One row of the rule table; blank request type / urgency matches any."""

    stage: Stage
    amount: int
    unit: Unit
    request_type: str | None = None
    urgency: str | None = None
    note: str = ""

    def specificity(self) -> int:
        """Urgency counts more than request type; a generic rule counts least."""
        return (2 if self.urgency else 0) + (1 if self.request_type else 0)

    def label(self) -> str:
        """The rule as people read it, e.g. 办结·投诉举报：5 个工作日."""
        scope = "·".join(x for x in (self.request_type, self.urgency) if x)
        head = STAGE_LABELS[self.stage] + (f"·{scope}" if scope else "")
        return f"{head}：{unit_amount_label(self.amount, self.unit)}"


DEFAULT_RULES: tuple[DeadlineRule, ...] = (
    DeadlineRule(Stage.FIRST_CONTACT, 1, Unit.WORKING_DAYS, note="青浦某街道 2022 年规定：派单后 1 个工作日内先行联系"),
    DeadlineRule(Stage.FIRST_CONTACT, 2, Unit.HOURS, urgency="紧急", note="默认：紧急件 2 小时内先行联系"),
    DeadlineRule(Stage.CLOSURE, 5, Unit.WORKING_DAYS, note="默认：未列明的诉求类型按 5 个工作日"),
    DeadlineRule(Stage.CLOSURE, 1, Unit.WORKING_DAYS, request_type="咨询", note="静安某街道 2019 年规定"),
    DeadlineRule(Stage.CLOSURE, 1, Unit.WORKING_DAYS, request_type="意见建议", note="静安某街道 2019 年规定"),
    DeadlineRule(Stage.CLOSURE, 5, Unit.WORKING_DAYS, request_type="求助", note="静安某街道 2019 年规定"),
    DeadlineRule(Stage.CLOSURE, 5, Unit.WORKING_DAYS, request_type="投诉举报", note="静安某街道 2019 年规定"),
    DeadlineRule(Stage.RETURN_DECISION, 1, Unit.WORKING_DAYS, note="默认：区局 1 个工作日内审核退单"),
    DeadlineRule(Stage.EXTENSION_DECISION, 1, Unit.WORKING_DAYS, note="默认：区局 1 个工作日内审核延期"),
    DeadlineRule(Stage.REDO, 3, Unit.WORKING_DAYS, note="静安某街道 2019 年规定：回访复核 3 个工作日"),
    DeadlineRule(Stage.SUPERVISION, 3, Unit.WORKING_DAYS, note="静安某街道 2019 年规定：督办 3 个工作日"),
)

EXTENSION_LIMIT_WORKING_DAYS = 15


@dataclass(frozen=True)
class RuleTable:
    """The editable rule table; :meth:`match` picks the most specific matching rule."""

    rules: tuple[DeadlineRule, ...] = DEFAULT_RULES
    _matched: dict[tuple[Stage, str | None, str | None], DeadlineRule] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )

    def match(self, stage: Stage, *, request_type: str | None, urgency: str | None) -> DeadlineRule:
        """The most specific rule for this stage, request type and urgency (each combination looked up once)."""
        key = (stage, request_type, urgency)
        rule = self._matched.get(key)
        if rule is None:
            rule = self._matched[key] = self._match(stage, request_type, urgency)
        return rule

    def _match(self, stage: Stage, request_type: str | None, urgency: str | None) -> DeadlineRule:
        candidates = [
            rule
            for rule in self.rules
            if rule.stage == stage and rule.request_type in (None, request_type) and rule.urgency in (None, urgency)
        ]
        if not candidates:
            raise RuleNotFound(
                f"期限规则表中没有适用于「{STAGE_LABELS[stage]}」的规则"
                f"（诉求类型：{request_type or '空'}，紧急程度：{urgency or '空'}）"
            )
        return max(candidates, key=DeadlineRule.specificity)


def to_local(moment: datetime) -> datetime:
    """An aware datetime shown in Asia/Shanghai."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: store aware UTC, show Asia/Shanghai")
    return moment.astimezone(LOCAL_TZ)


def end_of_local_day(day: date) -> datetime:
    """The last second of a local (Asia/Shanghai) day, as aware UTC."""
    return datetime.combine(day, END_OF_DAY, LOCAL_TZ).astimezone(UTC)


def local_day_bounds(day: date) -> tuple[datetime, datetime]:
    """The start of a Beijing day and of the next, as aware datetimes."""
    start = datetime.combine(day, time(0, 0), LOCAL_TZ)
    return start, start + timedelta(days=1)


def compute_due(start: datetime, amount: int, unit: Unit, calendar: WorkCalendar) -> datetime:
    """When a stage that started at ``start`` is due, as aware UTC."""
    if unit is Unit.HOURS:
        return (start + timedelta(hours=amount)).astimezone(UTC)
    if unit is Unit.WORKING_DAYS:
        return end_of_local_day(calendar.add_working_days(to_local(start).date(), amount))
    raise ValueError("a fixed deadline is set by a person, not computed")


@dataclass(frozen=True)
class StageDue:
    """The outcome of computing one stage deadline: a due time, or the reason there is none."""

    due_at: datetime | None
    error: str | None


def try_compute_due(start: datetime, amount: int, unit: Unit, calendar: WorkCalendar) -> StageDue:
    """Like :func:`compute_due`, but a missing calendar year becomes a stored reason."""
    try:
        return StageDue(compute_due(start, amount, unit, calendar), None)
    except CalendarNotLoaded as exc:
        return StageDue(None, exc.message)


def try_compute_dues(starts: Sequence[datetime], amount: int, unit: Unit, calendar: WorkCalendar) -> list[StageDue]:
    """Bulk :func:`try_compute_due`: one calendar lookup per distinct local start date."""
    if unit is Unit.HOURS:
        delta = timedelta(hours=amount)
        return [StageDue((start + delta).astimezone(UTC), None) for start in starts]
    if unit is not Unit.WORKING_DAYS:
        raise ValueError("a fixed deadline is set by a person, not computed")
    by_day: dict[date, StageDue] = {}
    result = []
    for start in starts:
        day = start.astimezone(LOCAL_TZ).date()
        due = by_day.get(day)
        if due is None:
            try:
                due = StageDue(end_of_local_day(calendar.add_working_days(day, amount)), None)
            except CalendarNotLoaded as exc:
                due = StageDue(None, exc.message)
            by_day[day] = due
        result.append(due)
    return result


def completion_outcome(completed_at: datetime, due_at: datetime | None) -> Outcome | None:
    """MET or LATE for a stage completed at ``completed_at``; None when the due time is unknown."""
    if due_at is None:
        return None
    return Outcome.MET if completed_at <= due_at else Outcome.LATE


@dataclass(frozen=True)
class AlertThresholds:
    """Alert thresholds (issue defaults: 蓝 within 1 working day, 黄 within 4 hours, 红 overdue)."""

    blue_working_days: int = 1
    yellow_hours: int = 4


def alert_level(
    due_at: datetime,
    now: datetime,
    calendar: WorkCalendar,
    thresholds: AlertThresholds = AlertThresholds(),
) -> AlertLevel | None:
    """The alert level of an open deadline at ``now``, or None when it is not yet close (domain.overdue)."""
    from tracker.domain.overdue import level_bounds  # overdue builds on this module's day arithmetic

    return level_bounds(now, calendar, thresholds).level_of(due_at)


def explain_due(start: datetime, amount: int, unit: Unit, calendar: WorkCalendar) -> list[str]:
    """Lines of Chinese that explain a deadline: start, rule, skipped days and make-up days."""
    local_start = to_local(start)
    lines = [f"起算：{format_local(start)}", f"规则：{unit_amount_label(amount, unit)}"]
    if unit is Unit.HOURS:
        lines.append(f"按自然小时计算，截止 {format_local(compute_due(start, amount, unit, calendar))}")
        return lines
    if unit is Unit.FIXED:
        lines.append("截止时间由审批或督办人指定")
        return lines
    start_day = local_start.date()
    due_day = calendar.add_working_days(start_day, amount)
    if not calendar.is_workday(start_day):
        kind = calendar.day_kind(start_day)
        lines.append(f"{start_day.isoformat()} 为休息日（{kind.reason}），自下一个工作日起算")
    skipped = _runs(calendar, start_day + timedelta(days=1), due_day, want_workday=False)
    counted: list[str] = []
    day = start_day + timedelta(days=1)
    number = 0
    while day <= due_day:
        kind = calendar.day_kind(day)
        if kind.is_workday:
            number += 1
            if day.weekday() >= 5:
                counted.append(f"{day.isoformat()}（{_weekday(day)}，{kind.reason}，计为第 {number} 个工作日）")
        day += timedelta(days=1)
    if skipped:
        lines.append("跳过：" + "；".join(skipped))
    if counted:
        lines.append("调休补班计入：" + "；".join(counted))
    lines.append(f"截止：{due_day.isoformat()}（{_weekday(due_day)}）当日 24 时前")
    return lines


_WEEKDAYS = "一二三四五六日"


def _weekday(day: date) -> str:
    return "周" + _WEEKDAYS[day.weekday()]


def _runs(calendar: WorkCalendar, first: date, last: date, *, want_workday: bool) -> list[str]:
    """Consecutive non-working days between first and last grouped by reason."""
    runs: list[str] = []
    day = first
    current: tuple[str, date, date] | None = None
    while day <= last:
        kind = calendar.day_kind(day)
        if kind.is_workday == want_workday:
            if current and current[0] == kind.reason and current[2] + timedelta(days=1) == day:
                current = (current[0], current[1], day)
            else:
                if current:
                    runs.append(_run_text(current))
                current = (kind.reason, day, day)
        day += timedelta(days=1)
    if current:
        runs.append(_run_text(current))
    return runs


def _run_text(run: tuple[str, date, date]) -> str:
    reason, first, last = run
    if first == last:
        return f"{first.isoformat()}（{reason}）"
    return f"{first.isoformat()} 至 {last.isoformat()}（{reason}，{(last - first).days + 1} 天）"


def latest_extension_date(dispatched_at: datetime, calendar: WorkCalendar) -> date:
    """The last date an extension may reach: 15 working days from dispatch (default)."""
    return calendar.add_working_days(to_local(dispatched_at).date(), EXTENSION_LIMIT_WORKING_DAYS)
