"""How the scheduler calls a job: in the app, as the one active scheduler, recorded (the APScheduler target).

Which process is the active one: on PostgreSQL a session-level advisory lock (jobs.advisory); on
SQLite, which has no such lock, a lease row renewed every few seconds (services.leadership).
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from datetime import datetime, timedelta

from flask import Flask, current_app, has_app_context
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from jobs.advisory import AdvisoryLock
from jobs.registry import JOBS
from tracker import create_app
from tracker.db import get_engine
from tracker.models import JobRun, utcnow
from tracker.services.operations import hold_lease

log = logging.getLogger(__name__)

HOLDER = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
_app: list[Flask] = []
_lock: list[AdvisoryLock] = []


def app() -> Flask:
    """The current app (run-job inside a command), else this process's own (created once)."""
    if has_app_context():
        flask_app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
        return flask_app
    if not _app:
        _app.append(create_app())
    return _app[0]


def advisory_lock() -> AdvisoryLock | None:
    """This process's scheduler lock on PostgreSQL (created once); None on SQLite. Call inside the app context."""
    engine = get_engine()
    if engine.dialect.name != "postgresql":
        return None
    if not _lock:
        _lock.append(AdvisoryLock(engine.url.render_as_string(hide_password=False)))
    return _lock[0]


def release_lock() -> None:
    """Give up this process's advisory lock, if it has one (tests; a scheduler simply exits)."""
    while _lock:
        _lock.pop().release()


def take_lease(ttl: timedelta) -> bool:
    """One attempt to become (or stay) the active scheduler, committed (call inside the app context)."""
    lock = advisory_lock()
    if lock is not None:
        return lock.try_acquire()
    with Session(get_engine()) as session:
        held = hold_lease(session, holder=HOLDER, now=utcnow(), ttl=ttl)
        session.commit()
        return held


def renew_lease() -> None:
    """Keep the lease (or check the lock); a process that lost it stops at once, so two never run jobs together."""
    flask_app = app()
    with flask_app.app_context():
        lock = advisory_lock()
        if lock is not None:
            held = lock.held()
        else:
            try:
                held = take_lease(timedelta(seconds=flask_app.config["SCHEDULER_LEASE_SECONDS"]))
            except SQLAlchemyError as exc:  # busy for a moment: the lease holds until it really expires
                log.warning("续约时暂时无法访问数据库（%s），稍后重试", type(exc).__name__)
                return
        if not held:
            log.error("调度锁（租约）已被其他进程接管或连接已断开，本进程退出")
            os._exit(3)


def run_job(job_id: str, now: datetime | None = None, *, guarded: bool = True) -> JobRun:
    """Run one job now; under the scheduler the lock (lease) is checked first, so no tick runs twice."""
    from tracker.services.operations import run_recorded

    spec = JOBS[job_id]
    flask_app = app()
    with flask_app.app_context():
        engine = get_engine()
        ttl = flask_app.config["SCHEDULER_LEASE_SECONDS"]

        lock = advisory_lock()

        def guard(session: Session) -> bool:
            if lock is not None:
                return lock.try_acquire()  # as the lease: taken when free, else checked
            return hold_lease(session, holder=HOLDER, now=utcnow(), ttl=timedelta(seconds=ttl))

        return run_recorded(
            engine,
            job_id,
            spec.func,
            now=now or utcnow(),
            runner=HOLDER,
            guard=guard if guarded else None,
            write_lock=spec.write_lock,
        )
