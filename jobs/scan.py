"""scan: raise, escalate and resolve stage alerts (every 10 minutes by default)."""

from __future__ import annotations

from datetime import datetime

from flask import current_app
from sqlmodel import Session

from tracker.domain.deadlines import AlertThresholds
from tracker.services.operations import JobResult
from tracker.services.orders import load_calendar, scan


def run(session: Session, *, now: datetime) -> JobResult:
    """One scan over every open stage deadline."""
    config = current_app.config
    thresholds = AlertThresholds(
        blue_working_days=config["ALERT_BLUE_WORKING_DAYS"], yellow_hours=config["ALERT_YELLOW_HOURS"]
    )
    result = scan(session, now=now, calendar=load_calendar(session), thresholds=thresholds)
    return JobResult(result.summary(), result.counts())
