"""retention: each night, personal data past its retention period removed (domain.md §7; 02:30 by default)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from flask import current_app
from sqlmodel import Session

from tracker.services.operations import JobResult, RetentionPolicy, retention_job


def run(session: Session, *, now: datetime) -> JobResult:
    """Anonymise orders closed longer than the period, delete old export files, sign-in and reveal records."""
    config = current_app.config
    folders = [Path(config["UPLOAD_DIR"]), Path(config["INBOX_DIR"]) / "done", Path(config["INBOX_DIR"]) / "failed"]
    return retention_job(RetentionPolicy.from_config(config), folders)(session, now=now)
