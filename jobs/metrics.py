"""metrics: each night, yesterday's rates per street stored for the trend charts (01:00 by default)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session

from tracker.domain.deadlines import to_local
from tracker.services.operations import JobResult
from tracker.services.stats import snapshot_day

RECOMPUTE_DAYS = 31  # returns, call-backs and redos arrive after the day that counts them


def run(session: Session, *, now: datetime) -> JobResult:
    """Snapshot the 31 days before ``now`` (Beijing dates) again, so facts that arrive late are counted."""
    last = to_local(now).date() - timedelta(days=1)
    first = last - timedelta(days=RECOMPUTE_DAYS - 1)
    total = sum(len(snapshot_day(session, day=first + timedelta(days=n), now=now)) for n in range(RECOMPUTE_DAYS))
    return JobResult(
        f"指标快照：{first.isoformat()} 至 {last.isoformat()}，共 {total} 项",
        {"first_day": first.isoformat(), "last_day": last.isoformat(), "rows": total},
    )
