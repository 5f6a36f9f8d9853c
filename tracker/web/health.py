"""Probes for the process manager and the load balancer: ``/healthz`` (alive) and ``/readyz`` (may take traffic).

Neither needs a sign-in nor shows any data: ``/readyz`` names only what is wrong, in Chinese, so
an operator reading a failed probe knows what to do.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, current_app
from werkzeug.wrappers import Response

from tracker.db import get_session
from tracker.models import utcnow
from tracker.services.operations import readiness
from tracker.web.api import json_response

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    """进程存活（不访问数据库）。"""
    return json_response({"status": "ok"}, 200)


@bp.get("/readyz")
def readyz() -> Response:
    """可以接收请求：数据库可用、结构为最新、调度进程在运行；否则 503 并说明原因。"""
    state = readiness(
        get_session(), now=utcnow(), scan_every=timedelta(minutes=float(current_app.config["SCAN_EVERY_MINUTES"]))
    )
    body = {"status": "ready" if state.ready else "not ready", "checks": state.checks, "problems": state.problems}
    return json_response(body, 200 if state.ready else 503)
