"""metrics: each night, yesterday's rates per street for the trend charts, and the 分析 page per scope (01:00)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session

from tracker.domain.deadlines import to_local
from tracker.services.operations import JobResult
from tracker.services.orders import all_streets
from tracker.services.stats import SYSTEM, active_marks, snapshot_day, store_analyses
from tracker.services.verifications import snapshot_check_day

RECOMPUTE_DAYS = 31  # returns, call-backs and redos arrive after the day that counts them


def run(session: Session, *, now: datetime) -> JobResult:
    """Snapshot the 31 days before ``now`` (Beijing dates) again, so facts that arrive late are counted."""
    last = to_local(now).date() - timedelta(days=1)
    first = last - timedelta(days=RECOMPUTE_DAYS - 1)
    total = sum(len(snapshot_day(session, day=first + timedelta(days=n), now=now)) for n in range(RECOMPUTE_DAYS))
    # after the order metrics (which zero the rows they do not produce, these included) of the same days
    days = [first + timedelta(days=n) for n in range(RECOMPUTE_DAYS)]
    checks = sum(snapshot_check_day(session, day=day, now=now, viewer=SYSTEM) for day in days)
    marked = [(m.place, m.category, m.marked_at) for m in active_marks(session, viewer=SYSTEM)]
    scopes = store_analyses(session, now=now, streets=[s.name for s in all_streets(session)], marked=marked)
    return JobResult(
        f"指标快照：{first.isoformat()} 至 {last.isoformat()}，共 {total} 项"
        + (f"，通报核查 {checks} 项" if checks else "")
        + f"；分析页快照 {scopes} 份",
        {
            "first_day": first.isoformat(),
            "last_day": last.isoformat(),
            "rows": total,
            "check_rows": checks,
            "analysis_scopes": scopes,
        },
    )
