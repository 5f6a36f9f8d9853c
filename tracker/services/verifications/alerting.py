"""核查 deadlines in the alert scan and the digest: the same levels (domain.overdue) as the stage deadlines.

A 核查 is open until its answer is accepted (the centre waits for the accepted answer). The scan raises
its level (蓝, 黄, 红; a level only rises) on the row itself in one set-based statement; the row keeps the
highest level reached after it is accepted, as a stage keeps whether it was late.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, literal, or_, update
from sqlmodel import Session, col, select

from tracker.domain.calendar import WorkCalendar
from tracker.domain.deadlines import AlertThresholds
from tracker.domain.labels import NO_STREET, format_local
from tracker.domain.overdue import LevelBounds, level_bounds
from tracker.domain.vocabulary import AlertLevel, CheckStatus
from tracker.models import NoticeCheck, Order

OPEN_STATUSES = (CheckStatus.PENDING.value, CheckStatus.ANSWERED.value, CheckStatus.RETURNED.value)
SHORT = {AlertLevel.RED: "红", AlertLevel.YELLOW: "黄", AlertLevel.BLUE: "蓝"}


@dataclass(frozen=True)
class CheckScanResult:
    """What one scan did to the 核查 deadlines."""

    raised: int  # newly or further raised
    open_by_level: dict[str, int]

    def summary(self) -> str:
        """The line the scan job adds to its own."""
        levels = "，".join(
            f"{name} {self.open_by_level.get(level.value, 0)}"
            for level, name in ((AlertLevel.RED, "红"), (AlertLevel.YELLOW, "黄"), (AlertLevel.BLUE, "蓝"))
        )
        return f"通报核查预警：新增或升级 {self.raised}；当前未办结：{levels}"


def check_level(check: NoticeCheck, bounds: LevelBounds) -> AlertLevel | None:
    """A 核查's level at the bounds' moment (None when accepted or not yet close)."""
    if check.status not in OPEN_STATUSES:
        return None
    return bounds.level_of(check.due_at)


def scan_checks(
    session: Session, *, now: datetime, calendar: WorkCalendar, thresholds: AlertThresholds | None = None
) -> CheckScanResult:
    """Raise the level of every open 核查 due by the blue horizon where it rises; flushes (a rerun writes nothing)."""
    bounds = level_bounds(now, calendar, thresholds)
    table = NoticeCheck.__table__  # type: ignore[attr-defined]
    due = table.c.due_at
    level = case(
        (due < now, AlertLevel.RED.value),
        (due <= bounds.yellow_until, AlertLevel.YELLOW.value),
        else_=AlertLevel.BLUE.value,
    )
    rank_now = case((due < now, 3), (due <= bounds.yellow_until, 2), else_=1)
    rank_had = case(
        (table.c.alert_level == AlertLevel.RED.value, 3),
        (table.c.alert_level == AlertLevel.YELLOW.value, 2),
        (table.c.alert_level == AlertLevel.BLUE.value, 1),
        else_=0,
    )
    result: Any = session.execute(
        update(table)
        .where(
            table.c.status.in_(OPEN_STATUSES),
            due <= bounds.blue_until,
            or_(table.c.alert_level.is_(None), rank_now > rank_had),
        )
        .values(alert_level=level, alert_changed_at=literal(now, table.c.alert_changed_at.type))
    )
    counts = dict(
        session.exec(
            select(NoticeCheck.alert_level, func.count())
            .where(col(NoticeCheck.status).in_(OPEN_STATUSES), col(NoticeCheck.alert_level).is_not(None))
            .group_by(col(NoticeCheck.alert_level))
        ).all()
    )
    session.flush()
    return CheckScanResult(raised=result.rowcount or 0, open_by_level={str(k): v for k, v in counts.items()})


def digest_lines(session: Session, *, now: datetime, calendar: WorkCalendar) -> dict[str, list[str]]:
    """Per street, lines for the digest: 核查 raised in the last 24 hours and 核查 still open past their date."""
    bounds = level_bounds(now, calendar)
    rows = session.exec(
        select(NoticeCheck, Order)
        .join(Order, col(Order.id) == col(NoticeCheck.order_id))
        .where(
            col(NoticeCheck.status).in_(OPEN_STATUSES),
            or_(
                col(NoticeCheck.due_at) < now,
                and_(
                    col(NoticeCheck.alert_changed_at) > now - timedelta(days=1),
                    col(NoticeCheck.alert_changed_at) <= now,
                ),
            ),
        )
        .order_by(col(NoticeCheck.due_at), col(NoticeCheck.id))
    ).all()
    lines: dict[str, list[str]] = defaultdict(list)
    for check, order in rows:
        current = check_level(check, bounds)
        label = SHORT[current] if current else "—"
        lines[order.street or NO_STREET].append(
            f"{order.order_no} {check.kind}（{label}）核查期限 {format_local(check.due_at)}"
        )
    return dict(lines)
