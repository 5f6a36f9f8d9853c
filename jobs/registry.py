"""The jobs the scheduler runs: explicit ids, one module each, schedules from the configuration."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from jobs import calendar_watch, digest, inbox, metrics, notify, retention, scan
from tracker.domain.labels import JOB_TITLES
from tracker.services.operations import JobFunc

TIMEZONE = "Asia/Shanghai"


def _at(config: Mapping[str, Any], key: str, **extra: Any) -> CronTrigger:
    hour, minute = str(config[key]).split(":")
    return CronTrigger(hour=int(hour), minute=int(minute), timezone=TIMEZONE, **extra)


@dataclass(frozen=True)
class JobSpec:
    """One scheduled job."""

    id: str
    title: str
    func: JobFunc
    trigger: Callable[[Mapping[str, Any]], BaseTrigger]
    write_lock: bool = True  # False: the job opens its own transactions (and must not wait on its own lock)


JOBS: dict[str, JobSpec] = {
    spec.id: spec
    for spec in (
        JobSpec(
            "scan",
            JOB_TITLES["scan"],
            scan.run,
            lambda c: IntervalTrigger(minutes=float(c["SCAN_EVERY_MINUTES"]), timezone=TIMEZONE),
        ),
        JobSpec("inbox", JOB_TITLES["inbox"], inbox.run, lambda c: _at(c, "INBOX_AT"), write_lock=False),
        JobSpec("digest", JOB_TITLES["digest"], digest.run, lambda c: _at(c, "DIGEST_AT")),
        JobSpec("metrics", JOB_TITLES["metrics"], metrics.run, lambda c: _at(c, "METRICS_AT")),
        JobSpec(
            "calendar_watch",
            JOB_TITLES["calendar_watch"],
            calendar_watch.run,
            lambda c: _at(c, "CALENDAR_WATCH_AT", month="11,12"),
        ),
        JobSpec("retention", JOB_TITLES["retention"], retention.run, lambda c: _at(c, "RETENTION_AT")),
        JobSpec(
            "notify",
            JOB_TITLES["notify"],
            notify.run,
            lambda c: IntervalTrigger(minutes=float(c["NOTIFY_EVERY_MINUTES"]), timezone=TIMEZONE),
            write_lock=False,
        ),
    )
}
