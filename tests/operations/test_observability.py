"""Metrics for Prometheus (allowed addresses only, figures from one place) and JSON logs without phone numbers."""

from __future__ import annotations

import json
import logging
import re

import pytest
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from tracker import create_app
from tracker.domain.privacy import MOBILE_IN_TEXT
from tracker.logs import RequestContext, formatter
from tracker.models import Alert
from tracker.web.metrics import allowed


def metric_lines(body: str, name: str) -> dict[str, float]:
    found = {}
    for line in body.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            key, value = line.rsplit(" ", 1)
            found[key] = float(value)
    return found


def test_metrics_answer_only_the_allowed_addresses(app, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    client = app.test_client()
    assert client.get("/metrics").status_code == 200  # the test client is 127.0.0.1, allowed by default
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.5"}).status_code == 404
    app.config["METRICS_ALLOW"] = "10.0.0.0/8, 192.168.1.7"
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.20.30.40"}).status_code == 200
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "192.168.1.8"}).status_code == 404
    assert not allowed("not-an-address", "127.0.0.1") and not allowed(None, "127.0.0.1")


def test_metrics_count_requests_and_read_alerts_imports_and_jobs_from_the_database(app, runner, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    assert runner.invoke(args=["demo-load", "--now", "2026-11-26T10:00"]).exit_code == 0
    assert runner.invoke(args=["run-job", "scan", "--now", "2026-11-26T10:05"]).exit_code == 0
    client = app.test_client()
    client.get("/healthz")
    client.get("/healthz")
    body = client.get("/metrics").get_data(as_text=True)

    requests = metric_lines(body, "tracker_http_requests_total")
    assert requests['tracker_http_requests_total{endpoint="health.healthz",status="200"}'] >= 2
    assert "tracker_http_request_duration_seconds_bucket" in body

    with Session(engine) as session:
        open_by = dict(
            ((level, stage), n)
            for level, stage, n in session.exec(
                select(Alert.level, Alert.stage, func.count())
                .where(col(Alert.resolved_at).is_(None))
                .group_by(Alert.level, Alert.stage)
            ).all()
        )
    assert open_by, "the demo data has overdue stages"
    shown = metric_lines(body, "tracker_open_alerts")
    assert {k: int(v) for k, v in shown.items()} == {
        f'tracker_open_alerts{{level="{level}",stage="{stage}"}}': n for (level, stage), n in open_by.items()
    }
    assert metric_lines(body, "tracker_import_rows_total")['tracker_import_rows_total{outcome="created"}'] > 0
    assert metric_lines(body, "tracker_job_runs_total")['tracker_job_runs_total{job="scan",outcome="ok"}'] == 1
    assert "tracker_scan_duration_seconds " in body


def render(record: logging.LogRecord) -> str:
    RequestContext().filter(record)
    return formatter("json").format(record)


def test_log_lines_are_json_with_every_mobile_number_masked() -> None:
    try:
        raise ValueError("参数 ('13812345678', '王先生')")
    except ValueError:
        import sys

        exc_info = sys.exc_info()
    record = logging.LogRecord(
        "tracker.test", logging.ERROR, __file__, 1, "联系电话 %s 无法保存", ("13912345678",), exc_info
    )
    record.detail = "备用 15012345678"
    line = render(record)
    data = json.loads(line)
    assert data["level"] == "ERROR" and data["logger"] == "tracker.test"
    assert "139****5678" in data["message"] and "138****5678" in data["exc_info"]
    assert "联系电话" in line  # Chinese as written, not \u escapes, for journalctl and grep
    assert not MOBILE_IN_TEXT.search(line)


def test_a_request_logs_its_id_user_and_route_and_echoes_the_id(app) -> None:  # type: ignore[no-untyped-def]
    from flask import g

    from tracker.domain.roles import Role
    from tracker.services.accounts import Viewer

    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep()
    handler.addFilter(RequestContext())
    logger = logging.getLogger("tracker.test.request")
    logger.addHandler(handler)
    try:
        with app.test_request_context("/", headers={"X-Request-ID": "nginx-abc-123"}):
            app.preprocess_request()  # the request id is given before sign-in is checked
            g.viewer = Viewer(7, "jingansi", "静安寺", Role.SQUAD, "静安寺街道")
            logger.warning("号码 13700001111")
    finally:
        logger.removeHandler(handler)
    (record,) = records
    assert record.request_id == "nginx-abc-123" and record.route == "orders.index"  # type: ignore[attr-defined]
    assert record.user_id == 7  # type: ignore[attr-defined]
    assert "137****1111" in formatter("json").format(record)
    client = app.test_client()
    assert client.get("/healthz", headers={"X-Request-ID": "nginx-abc-123"}).headers["X-Request-ID"] == "nginx-abc-123"
    replaced = client.get("/healthz", headers={"X-Request-ID": "x" * 200}).headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", replaced)  # an unusable id is replaced by a fresh one


def test_logging_is_configured_outside_tests_as_json(monkeypatch: pytest.MonkeyPatch, database_url: str) -> None:
    import tracker.logs as logs

    monkeypatch.setattr(logs, "_configured", [])
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        root.handlers[:] = []
        app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "k"})
        assert app.config["LOG_FORMAT"] == "json"
        (handler,) = root.handlers
        assert isinstance(handler.formatter, logs.MaskedJsonFormatter)
        monkeypatch.setattr(logs, "_configured", [])
        create_app({"DATABASE_URL": database_url, "SECRET_KEY": "k"})
        assert len(root.handlers) == 1  # a masked handler already there (gunicorn's) is not doubled
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
