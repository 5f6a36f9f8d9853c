"""The numbers: the bureau's rates (live and from the nightly snapshot), the snapshot itself, the dashboard.

Counts are SQL; a number shown in two places is computed here once.
May import: ``orders``, ``accounts``, ``tracker.domain``, ``tracker.models``, ``tracker.db``.
"""

from tracker.services.stats.analysis import (
    HOTSPOT_DAYS,
    HOTSPOT_MIN_DAYS,
    HOTSPOT_MIN_ORDERS,
    PAGE_HOTSPOTS,
    Analysis,
    Hotspot,
    Hotspots,
    Rise,
    build_analysis,
    hotspots,
    rises,
)
from tracker.services.stats.analysis_export import hotspots_xlsx
from tracker.services.stats.analysis_figures import analysis_figures
from tracker.services.stats.analysis_store import store_analyses, stored_analysis
from tracker.services.stats.board import DashboardFilter, default_filter
from tracker.services.stats.dashboard import build_dashboard
from tracker.services.stats.marks import (
    SYSTEM,
    MarkRefused,
    active_marks,
    digest_lines,
    end_mark,
    mark_events,
    mark_hotspot,
    may_mark,
)
from tracker.services.stats.metrics import snapshot_day
from tracker.services.stats.rates import RATE_METRICS, PeriodError, PeriodRates, Rate, StreetRates, live_rates

__all__ = [
    "HOTSPOT_DAYS",
    "HOTSPOT_MIN_DAYS",
    "HOTSPOT_MIN_ORDERS",
    "PAGE_HOTSPOTS",
    "RATE_METRICS",
    "SYSTEM",
    "Analysis",
    "DashboardFilter",
    "Hotspot",
    "Hotspots",
    "MarkRefused",
    "PeriodError",
    "PeriodRates",
    "Rate",
    "Rise",
    "StreetRates",
    "active_marks",
    "analysis_figures",
    "build_analysis",
    "build_dashboard",
    "default_filter",
    "digest_lines",
    "end_mark",
    "hotspots",
    "hotspots_xlsx",
    "live_rates",
    "mark_events",
    "mark_hotspot",
    "may_mark",
    "rises",
    "snapshot_day",
    "store_analyses",
    "stored_analysis",
]
