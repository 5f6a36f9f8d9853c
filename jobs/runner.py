"""How the scheduler calls a job: in the app, under the lease, recorded (the APScheduler target)."""

from __future__ import annotations

import logging
import os
import socket
import uuid
from datetime import datetime, timedelta

from flask import Flask, current_app, has_app_context
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from jobs.registry import JOBS
from tracker import create_app
from tracker.db import get_engine
from tracker.models import JobRun, utcnow
from tracker.services.leadership import hold_lease

log = logging.getLogger(__name__)

HOLDER = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
_app: list[Flask] = []


def app() -> Flask:
    """The current app (run-job inside a command), else this process's own (created once)."""
    if has_app_context():
        flask_app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
        return flask_app
    if not _app:
        _app.append(create_app())
    return _app[0]


def take_lease(ttl: timedelta) -> bool:
    """One attempt to take or renew the lease, committed (call inside the app context)."""
    with Session(get_engine()) as session:
        held = hold_lease(session, holder=HOLDER, now=utcnow(), ttl=ttl)
        session.commit()
        return held


def renew_lease() -> None:
    """Keep the lease; a process that lost it stops at once, so two never run jobs together."""
    flask_app = app()
    with flask_app.app_context():
        try:
            held = take_lease(timedelta(seconds=flask_app.config["SCHEDULER_LEASE_SECONDS"]))
        except SQLAlchemyError as exc:  # busy for a moment: the lease holds until it really expires
            log.warning("续约时暂时无法访问数据库（%s），稍后重试", type(exc).__name__)
            return
        if not held:
            log.error("调度租约已被其他进程接管，本进程退出")
            os._exit(3)


def run_job(job_id: str, now: datetime | None = None, *, guarded: bool = True) -> JobRun:
    """Run one job now; under the scheduler the lease is checked first, so no tick runs twice."""
    from tracker.services.job_runs import run_recorded

    spec = JOBS[job_id]
    flask_app = app()
    with flask_app.app_context():
        engine = get_engine()
        ttl = flask_app.config["SCHEDULER_LEASE_SECONDS"]

        def guard(session: Session) -> bool:
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
