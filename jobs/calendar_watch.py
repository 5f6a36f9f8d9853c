"""calendar_watch: in November and December, warn when next year's holiday arrangement is not loaded."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from tracker.domain.deadlines import to_local
from tracker.models import CalendarYear
from tracker.services.operations import JobResult


def run(session: Session, *, now: datetime) -> JobResult:
    """Checks; the warning is the run's summary, which administrators read in the job records."""
    today = to_local(now).date()
    next_year = today.year + 1
    if today.month < 11:
        return JobResult(f"{today.month} 月无需检查次年节假日安排", {"checked": False})
    if session.get(CalendarYear, next_year) is not None:
        return JobResult(f"{next_year} 年节假日安排已载入", {"checked": True, "missing_year": None})
    return JobResult(
        f"警告：{next_year} 年节假日安排尚未载入。国务院通常于 11 月公布次年安排，请管理员用 "
        f"flask --app wsgi calendar load 载入；载入前，跨入 {next_year} 年的期限无法计算。",
        {"checked": True, "missing_year": next_year},
    )
