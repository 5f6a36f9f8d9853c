"""`python -m jobs`: the scheduler process. Waits to be the active scheduler, then runs the registry's jobs.

A second process against the same database stands by and takes over within a minute when the
first one stops: on PostgreSQL it waits for a session-level advisory lock, released when the first
process's session ends; on SQLite for a lease row the first one stops renewing. Job definitions persist in the database
(APScheduler's SQLAlchemy job store), so after a restart a missed run happens once.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.exc import SQLAlchemyError

from jobs.registry import JOBS, TIMEZONE
from jobs.runner import HOLDER, app, renew_lease, take_lease
from tracker.config import ConfigError
from tracker.db import get_engine

log = logging.getLogger("jobs")


def now() -> datetime:
    """The scheduler's clock, in its time zone."""
    return datetime.now(ZoneInfo(TIMEZONE))


def _try_lease(ttl: timedelta) -> bool:
    """One attempt; a busy or unreachable database is a failed attempt, not the end of the process."""
    try:
        return take_lease(ttl)
    except SQLAlchemyError as exc:
        log.warning("暂时无法访问数据库（%s），稍后重试", type(exc).__name__)
        return False


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m jobs",
        description="诉件工单定时任务进程：取得调度锁（PostgreSQL 为咨询锁，SQLite 为租约）后，"
        "按计划运行预警扫描、收件箱导入、街镇日报、指标快照和次年节假日检查；"
        "同一数据库上的第二个进程待命，在第一个停止后接管。数据库由 TRACKER_DATABASE_URL 指定。",
    )
    parser.parse_args()
    try:
        flask_app = app()  # create_app configures logging: JSON lines, phone numbers masked
    except ConfigError as exc:  # a setting that cannot be used: its Chinese message alone, not a traceback
        sys.stderr.write(f"配置错误：{exc}\n")
        raise SystemExit(2) from None
    config = flask_app.config
    ttl = timedelta(seconds=config["SCHEDULER_LEASE_SECONDS"])
    with flask_app.app_context():
        engine = get_engine()
        kind = "PostgreSQL 咨询锁" if engine.dialect.name == "postgresql" else "数据库租约"
        log.info("调度进程 %s 启动，等待取得调度锁（%s）", HOLDER, kind)
        while not _try_lease(ttl):
            time.sleep(max(ttl.total_seconds() / 4, 1))
        log.info("调度进程 %s 已成为当前调度进程", HOLDER)
        store = SQLAlchemyJobStore(engine=engine, tablename="apscheduler_jobs")
        scheduler = BlockingScheduler(
            timezone=TIMEZONE,
            jobstores={"default": store, "memory": MemoryJobStore()},  # the lease renewal is this process's own
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        store.start(scheduler, "default")
        kept_scan = store.lookup_job("scan")
        scan_due = kept_scan is not None and kept_scan.next_run_time is not None and kept_scan.next_run_time <= now()
        for spec in JOBS.values():
            trigger = spec.trigger(config)
            kept = store.lookup_job(spec.id)
            if kept is not None and str(kept.trigger) == str(trigger):
                continue  # keep its next run time: a run missed while stopped happens once, now
            scheduler.add_job(
                "jobs.runner:run_job",
                trigger=trigger,
                args=[spec.id],
                id=spec.id,
                name=spec.title,
                replace_existing=True,
            )
        if not scan_due:  # a missed scan runs at once anyway (coalesced); otherwise scan now, not in 10 minutes:
            # alerts are fresh after a (re)start or a takeover, and /readyz sees the scheduler within seconds
            scheduler.add_job(
                "jobs.runner:run_job", args=["scan"], id="scan-at-start", name="启动时预警扫描", jobstore="memory"
            )
        scheduler.add_job(
            renew_lease,
            IntervalTrigger(seconds=max(ttl.total_seconds() / 3, 1), timezone=TIMEZONE),
            id="lease",
            jobstore="memory",
            replace_existing=True,
        )
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        sys.exit(0)


if __name__ == "__main__":
    main()
