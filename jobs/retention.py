"""retention: each night, personal data past its retention period removed (domain.md §7; 02:30 by default)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from flask import current_app
from sqlmodel import Session

from tracker.services.operations import JobResult, RetentionPolicy, retention_job


def run(session: Session, *, now: datetime) -> JobResult:
    """Anonymise orders closed longer than the period (their attachments too), delete old files and records."""
    config = current_app.config
    folders = [Path(config["UPLOAD_DIR"]), Path(config["INBOX_DIR"]) / "done", Path(config["INBOX_DIR"]) / "failed"]
    attachments = Path(config.get("ATTACHMENT_DIR") or Path(current_app.instance_path) / "attachments")
    return retention_job(RetentionPolicy.from_config(config), folders, attachments)(session, now=now)
