"""The numbers: the bureau's rates (live and from the nightly snapshot), the snapshot itself, the dashboard.

Counts are SQL; a number shown in two places is computed here once.
May import: ``orders``, ``accounts``, ``tracker.domain``, ``tracker.models``, ``tracker.db``.
"""

from tracker.services.stats.board import DashboardFilter, default_filter
from tracker.services.stats.dashboard import build_dashboard
from tracker.services.stats.metrics import snapshot_day
from tracker.services.stats.rates import RATE_METRICS, PeriodError, PeriodRates, Rate, StreetRates, live_rates

__all__ = [
    "RATE_METRICS",
    "DashboardFilter",
    "PeriodError",
    "PeriodRates",
    "Rate",
    "StreetRates",
    "build_dashboard",
    "default_filter",
    "live_rates",
    "snapshot_day",
]
