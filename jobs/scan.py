"""scan: raise, escalate and resolve stage alerts, and raise 核查 deadlines (every 10 minutes by default)."""

from __future__ import annotations

from datetime import datetime

from flask import current_app
from sqlmodel import Session

from tracker.domain.deadlines import AlertThresholds
from tracker.services.operations import JobResult
from tracker.services.orders import load_calendar, scan
from tracker.services.verifications import scan_checks


def run(session: Session, *, now: datetime) -> JobResult:
    """One scan over every open stage deadline."""
    config = current_app.config
    thresholds = AlertThresholds(
        blue_working_days=config["ALERT_BLUE_WORKING_DAYS"], yellow_hours=config["ALERT_YELLOW_HOURS"]
    )
    calendar = load_calendar(session)
    result = scan(session, now=now, calendar=calendar, thresholds=thresholds)
    checks = scan_checks(session, now=now, calendar=calendar, thresholds=thresholds)
    counts = {**result.counts(), "checks_raised": checks.raised, "checks_open": checks.open_by_level}
    return JobResult(f"{result.summary()}；{checks.summary()}", counts)
