"""The moment a request counts at, and the live counts of that moment (services.orders.counts), once per request.

Every page that shows how much work is overdue or due soon reads :func:`counts` here, so the navigation
badge, the chips and the page agree; ``now`` is one function so that a test can travel in time.
"""

from __future__ import annotations

from datetime import datetime

from flask import current_app, g

from tracker.db import get_session
from tracker.domain.deadlines import AlertThresholds
from tracker.domain.overdue import LevelBounds
from tracker.domain.vocabulary import Stage
from tracker.models import utcnow
from tracker.services.accounts import Viewer
from tracker.services.orders import LiveCounts, bounds_at, live_counts, load_calendar


def now() -> datetime:
    """The moment the counts of this request are taken at."""
    return utcnow()


def thresholds() -> AlertThresholds:
    """The alert thresholds configured for the scheduler's scan (TRACKER_ALERT_*), the same for the pages."""
    config = current_app.config
    return AlertThresholds(
        blue_working_days=config["ALERT_BLUE_WORKING_DAYS"], yellow_hours=config["ALERT_YELLOW_HOURS"]
    )


def bounds() -> LevelBounds:
    """The level bounds of this request's moment (computed once per request)."""
    if "live_bounds" not in g:
        g.live_bounds = bounds_at(now(), load_calendar(get_session()), thresholds())
    found: LevelBounds = g.live_bounds
    return found


def counts(
    viewer: Viewer, *, street: str | None = None, category: str | None = None, stage: Stage | None = None
) -> LiveCounts:
    """The viewer's live counts (orders and stages per level) now, whatever the dispatch date."""
    return live_counts(get_session(), viewer=viewer, bounds=bounds(), street=street, category=category, stage=stage)
