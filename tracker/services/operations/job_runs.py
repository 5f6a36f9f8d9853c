"""Running a job once, recorded: start, end, outcome, counts, summary, error with traceback."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from tracker.db import JOB_WRITE_WAIT_MS, take_write_lock
from tracker.domain.errors import TrackerError
from tracker.models import JobRun, utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobResult:
    """What a job reports: one line for people, counts for the record."""

    summary: str
    counts: dict[str, Any] = field(default_factory=dict)


JobFunc = Callable[..., JobResult]


def run_recorded(
    engine: Engine,
    job_id: str,
    func: JobFunc,
    *,
    now: datetime,
    runner: str,
    scheduled_for: datetime | None = None,
    guard: Callable[[Session], bool] | None = None,
    write_lock: bool = True,
) -> JobRun:
    """Run ``func(session, now=now)`` in its own transaction and record how it went; never raises.

    ``guard`` (the scheduler's lease check) runs and commits first, in a transaction of its own;
    when it says no, the run is recorded as skipped and the job does not run. ``write_lock`` is off
    for a job that writes through transactions of its own (the inbox imports).
    """
    started = utcnow()
    if guard is not None:
        with Session(engine) as session:  # its own short transaction: the job may open others (imports)
            take_write_lock(session, wait_ms=JOB_WRITE_WAIT_MS)  # SQLite: the lease is read, then written
            allowed = guard(session)
            session.commit()
        if not allowed:
            skipped = JobRun(
                job_id=job_id,
                scheduled_for=scheduled_for,
                started_at=started,
                finished_at=utcnow(),
                outcome="skipped",
                runner=runner,
                summary="本进程不是当前的调度进程，未运行",
            )
            return _record(engine, skipped)
    with Session(engine, expire_on_commit=False) as session:
        try:
            if write_lock:  # the lease renewal commits now and then: take SQLite's lock before reading,
                take_write_lock(session, wait_ms=JOB_WRITE_WAIT_MS)  # waiting out an import's write phase
            result = func(session, now=now)
            session.commit()
        except Exception as exc:  # a failing job is recorded and retried at its next tick
            session.rollback()
            log.exception("job %s failed", job_id)
            message = exc.message if isinstance(exc, TrackerError) else f"{type(exc).__name__}，详见运行记录的错误信息"
            failed = JobRun(
                job_id=job_id,
                scheduled_for=scheduled_for,
                started_at=started,
                finished_at=utcnow(),
                outcome="error",
                runner=runner,
                summary=f"运行失败：{message}",
                error=traceback.format_exc(),
            )
            return _record(engine, failed)
    run = JobRun(
        job_id=job_id,
        scheduled_for=scheduled_for,
        started_at=started,
        finished_at=utcnow(),
        outcome="ok",
        counts=result.counts,
        summary=result.summary,
        runner=runner,
    )
    log.info("%s: %s", job_id, result.summary)
    return _record(engine, run)


def _record(engine: Engine, run: JobRun) -> JobRun:
    with Session(engine, expire_on_commit=False) as session:
        take_write_lock(session, wait_ms=JOB_WRITE_WAIT_MS)
        session.add(run)
        session.commit()
    return run


def recent_runs(session: Session, *, job_id: str | None = None, limit: int = 50) -> list[JobRun]:
    """The latest runs, newest first."""
    query = select(JobRun).order_by(col(JobRun.id).desc()).limit(limit)
    if job_id:
        query = query.where(JobRun.job_id == job_id)
    return list(session.exec(query).all())
