"""metrics: each night, yesterday's rates per street stored for the trend charts (01:00 by default)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session

from tracker.domain.deadlines import to_local
from tracker.services.job_runs import JobResult
from tracker.services.metrics import snapshot_day


def run(session: Session, *, now: datetime) -> JobResult:
    """Snapshot the day before ``now`` (Beijing date); a rerun replaces it."""
    day = to_local(now).date() - timedelta(days=1)
    rows = snapshot_day(session, day=day, now=now)
    streets = len({row.street for row in rows})
    return JobResult(
        f"指标快照：{day.isoformat()}，{streets} 个街镇，{len(rows)} 项", {"day": day.isoformat(), "rows": len(rows)}
    )
