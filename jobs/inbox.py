"""inbox: import every export waiting in instance/inbox/ (07:00 by default)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from flask import current_app
from sqlmodel import Session

from tracker.services.accounts import Actor
from tracker.services.imports import Limits, process_inbox
from tracker.services.operations import JobResult


def run(session: Session, *, now: datetime) -> JobResult:
    """Each file in its own transaction (the job's session is not used for imports)."""
    config = current_app.config
    result = process_inbox(
        session.get_bind().engine,
        Path(config["INBOX_DIR"]),
        now=now,
        limits=Limits.from_config(config),
        repeat_window=timedelta(days=config["REPEAT_WINDOW_DAYS"]),
        actor=Actor.job("inbox"),
        settle_seconds=config["INBOX_SETTLE_SECONDS"],
    )
    counts = {"imported": result.imported, "refused": result.refused, "waiting": result.waiting}
    return JobResult(result.summary(), counts)
