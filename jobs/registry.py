"""The jobs the scheduler runs: explicit ids, one module each, schedules from the configuration."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from jobs import calendar_watch, digest, inbox, metrics, scan
from tracker.services.job_runs import JobFunc

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
            "预警扫描",
            scan.run,
            lambda c: IntervalTrigger(minutes=float(c["SCAN_EVERY_MINUTES"]), timezone=TIMEZONE),
        ),
        JobSpec("inbox", "收件箱导入", inbox.run, lambda c: _at(c, "INBOX_AT"), write_lock=False),
        JobSpec("digest", "街镇日报", digest.run, lambda c: _at(c, "DIGEST_AT")),
        JobSpec("metrics", "指标快照", metrics.run, lambda c: _at(c, "METRICS_AT")),
        JobSpec(
            "calendar_watch", "次年节假日检查", calendar_watch.run, lambda c: _at(c, "CALENDAR_WATCH_AT", month="11,12")
        ),
    )
}
