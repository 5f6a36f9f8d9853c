"""``/metrics`` in the Prometheus text format, for the addresses in ``TRACKER_METRICS_ALLOW`` only.

Request latency is counted in each web process (gunicorn's workers share it through
``PROMETHEUS_MULTIPROC_DIR``, which gunicorn.conf.py sets); the rest is read from the database at
each scrape (services.operations.database_samples), so the scheduler's work is seen too.
"""

from __future__ import annotations

import ipaddress
import os
import time
from collections.abc import Iterator

from flask import Blueprint, Flask, abort, current_app, g, request
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from werkzeug.wrappers import Response

from tracker.db import get_session
from tracker.services.operations import database_samples

bp = Blueprint("metrics", __name__)

REQUEST_SECONDS = Histogram(
    "tracker_http_request_duration_seconds",
    "Time to answer a request, by endpoint",
    ["endpoint", "method"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2.5, 5, 10, 30),
)
REQUESTS = Counter("tracker_http_requests_total", "Requests answered, by endpoint and status", ["endpoint", "status"])
HELP = {
    "tracker_open_alerts": "Open alerts by level and stage (stages, not orders)",
    "tracker_import_rows_total": "Rows of every import batch by outcome",
    "tracker_job_runs_total": "Scheduler job runs by job and outcome (error = failure)",
    "tracker_scan_duration_seconds": "Duration of the last finished alert scan",
    "tracker_scan_last_start_timestamp_seconds": "When the last finished alert scan started (Unix time)",
}


class DatabaseCollector:
    """Figures read from the database at scrape time (the same whichever worker answers)."""

    def collect(self) -> Iterator[Metric]:
        families: dict[str, GaugeMetricFamily] = {}
        for sample in database_samples(get_session()):
            family = families.get(sample.name)
            if family is None:
                family = families[sample.name] = GaugeMetricFamily(
                    sample.name, HELP[sample.name], labels=sorted(sample.labels)
                )
            family.add_metric([sample.labels[k] for k in sorted(sample.labels)], sample.value)
        yield from families.values()


def allowed(address: str | None, allow: str) -> bool:
    """Whether ``address`` is in the comma-separated list of addresses and networks ``allow``."""
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address)
        return any(ip in ipaddress.ip_network(item.strip(), strict=False) for item in allow.split(",") if item.strip())
    except ValueError:
        return False


@bp.get("/metrics")
def metrics() -> Response:
    """Prometheus 指标（仅限 TRACKER_METRICS_ALLOW 中的地址）。"""
    if not allowed(request.remote_addr, current_app.config["METRICS_ALLOW"]):
        abort(404)
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        registry.register(DatabaseCollector())
        output = generate_latest(registry)
    else:
        registry.register(DatabaseCollector())
        output = generate_latest(REGISTRY) + generate_latest(registry)
    return Response(output, mimetype=CONTENT_TYPE_LATEST)


def init_app(app: Flask) -> None:
    """Time every request; register ``/metrics``."""

    @app.before_request
    def start_clock() -> None:
        g.request_started = time.perf_counter()

    @app.after_request
    def observe(response: Response) -> Response:
        started = g.get("request_started")
        if started is not None and request.endpoint != "metrics.metrics":
            endpoint = request.endpoint or "unmatched"
            REQUEST_SECONDS.labels(endpoint, request.method).observe(time.perf_counter() - started)
            REQUESTS.labels(endpoint, str(response.status_code)).inc()
        return response

    app.register_blueprint(bp)
