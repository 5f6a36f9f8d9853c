"""Logs as one JSON object per line, with the request's id, user and route, and never a full mobile number.

Every process configures logging once through :func:`configure`: the web app (``create_app``) and the
scheduler (``python -m jobs``). ``TRACKER_LOG_FORMAT=text`` gives plain lines for a terminal. The
masking is applied to the whole formatted line (message, arguments, extra fields, traceback), so a
phone number in an exception's SQL parameters is masked too.
"""

from __future__ import annotations

import logging
import re
import sys
import uuid

from flask import Flask, Response, g, has_request_context, request
from pythonjsonlogger.json import JsonFormatter

from tracker.domain.privacy import mask_phones_in_text

REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
FIELDS = "%(asctime)s %(levelname)s %(name)s %(process)d %(message)s"
_configured: list[str] = []


class RequestContext(logging.Filter):
    """Adds ``request_id``, ``user_id`` and ``route`` to records logged while a request is served."""

    def filter(self, record: logging.LogRecord) -> bool:
        if has_request_context():
            record.request_id = g.get("request_id", "")
            viewer = g.get("viewer")
            record.user_id = getattr(viewer, "user_id", None)
            record.route = request.endpoint or request.path
        return True


class MaskedJsonFormatter(JsonFormatter):
    """JSON lines with every mobile number masked (138****5678)."""

    def format(self, record: logging.LogRecord) -> str:
        return mask_phones_in_text(super().format(record))


class MaskedTextFormatter(logging.Formatter):
    """Plain lines with every mobile number masked."""

    def format(self, record: logging.LogRecord) -> str:
        return mask_phones_in_text(super().format(record))


def formatter(kind: str) -> logging.Formatter:
    """The formatter for ``json`` or ``text``."""
    if kind == "text":
        return MaskedTextFormatter("%(asctime)s %(name)s %(levelname)s %(message)s")
    return MaskedJsonFormatter(
        FIELDS,
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger", "process": "pid"},
        json_ensure_ascii=False,  # Chinese messages readable in journalctl and grep
    )


def configure(kind: str = "json", level: int = logging.INFO) -> None:
    """Send this process's logs to standard error as ``kind`` (once per process, and not twice: under
    gunicorn, gunicorn.conf.py has already given the root logger a masked JSON handler)."""
    if _configured:
        return
    root = logging.getLogger()
    if not any(isinstance(h.formatter, MaskedJsonFormatter | MaskedTextFormatter) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(formatter(kind))
        handler.addFilter(RequestContext())
        root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    _configured.append(kind)


def init_app(app: Flask) -> None:
    """Give every request an id (the proxy's X-Request-ID when well-formed) and configure logging."""

    @app.before_request
    def request_id() -> None:
        given = request.headers.get("X-Request-ID", "")
        g.request_id = given if REQUEST_ID.fullmatch(given) else uuid.uuid4().hex

    @app.after_request
    def echo_request_id(response: Response) -> Response:
        if "request_id" in g:
            response.headers["X-Request-ID"] = g.request_id
        return response

    if not (app.testing or app.debug):  # under pytest the test runner captures logging itself
        configure(app.config["LOG_FORMAT"])
