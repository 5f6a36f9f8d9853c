"""What ``/metrics`` reads from the database: figures every process shares (the scheduler's runs, the imports,
the open alerts), so they are the same whichever web worker answers the scrape."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy import func
from sqlmodel import Session, col, select

from tracker.models import Alert, ImportBatch, JobRun


@dataclass(frozen=True)
class Sample:
    """One Prometheus sample: metric name, labels, value."""

    name: str
    labels: dict[str, str]
    value: float


def database_samples(session: Session) -> Iterator[Sample]:
    """Open alerts by level and stage, import rows by outcome, job runs by job and outcome, the last scan's time."""
    open_alerts = select(Alert.level, Alert.stage, func.count()).where(col(Alert.resolved_at).is_(None))
    for level, stage, count in session.exec(open_alerts.group_by(Alert.level, Alert.stage)).all():
        yield Sample("tracker_open_alerts", {"level": level, "stage": stage}, count)
    totals = session.execute(
        sa.select(
            func.coalesce(func.sum(ImportBatch.created), 0),
            func.coalesce(func.sum(ImportBatch.updated), 0),
            func.coalesce(func.sum(ImportBatch.unchanged), 0),
            func.coalesce(func.sum(ImportBatch.rejected), 0),
            func.coalesce(func.sum(ImportBatch.conflicts), 0),
        )
    ).one()
    for outcome, value in zip(("created", "updated", "unchanged", "rejected", "conflict"), totals, strict=True):
        yield Sample("tracker_import_rows_total", {"outcome": outcome}, value)
    runs = select(JobRun.job_id, JobRun.outcome, func.count()).group_by(JobRun.job_id, JobRun.outcome)
    for job, outcome, count in session.exec(runs).all():
        yield Sample("tracker_job_runs_total", {"job": job, "outcome": outcome}, count)
    last_scan = session.exec(
        select(JobRun.started_at, JobRun.finished_at)
        .where(JobRun.job_id == "scan", col(JobRun.finished_at).is_not(None))
        .order_by(col(JobRun.started_at).desc())
        .limit(1)
    ).first()
    if last_scan is not None and last_scan[1] is not None:
        started, finished = last_scan
        yield Sample("tracker_scan_duration_seconds", {}, (finished - started).total_seconds())
        yield Sample("tracker_scan_last_start_timestamp_seconds", {}, started.timestamp())
