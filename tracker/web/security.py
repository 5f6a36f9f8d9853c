"""Web security: CSRF on every form, security headers with a strict CSP, no caching of personal data."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask, abort, request
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response

csrf = CSRFProtect()
UPLOAD_ENDPOINTS = frozenset({"imports.upload"})  # the only routes that take an export file
# routes that take photos and PDFs: an action, the attachment form, a spot-check review (核查)
ATTACHMENT_ENDPOINTS = frozenset({"orders.act", "attachments.add", "spot_checks.save_review"})
CACHEABLE = frozenset({"static", "charts.plotly_js", "charts.plotly_stylesheet"})  # files without personal data
OWN_CACHING = frozenset({"open311"})  # public answers that set their own Cache-Control (max-age, or no-store)

# No inline script anywhere: scripts and styles come from our own static files only.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


class CappedInput:
    """A request body of unknown length that raises 413 as soon as more than ``limit`` bytes are read from it."""

    def __init__(self, stream: Any, limit: int) -> None:
        self.stream = stream
        self.limit = limit
        self.seen = 0

    def _count(self, data: bytes) -> bytes:
        self.seen += len(data)
        if self.seen > self.limit:
            raise RequestEntityTooLarge()
        return data

    def read(self, size: int = -1) -> bytes:
        """Read like the WSGI input, counting."""
        return self._count(self.stream.read(size))

    def readline(self, size: int = -1) -> bytes:
        """Read a line like the WSGI input, counting."""
        return self._count(self.stream.readline(size))


def body_limit(endpoint: str | None, config: Mapping[str, Any]) -> int:
    """The largest request body a route accepts: the upload limit on the upload route, the small one elsewhere."""
    largest = int(config["MAX_CONTENT_LENGTH"])
    if endpoint in UPLOAD_ENDPOINTS:
        return largest
    if endpoint in ATTACHMENT_ENDPOINTS:
        # room for every allowed file at its limit and the form around them: a file over its own limit is
        # then refused by name (attachments.check_upload) rather than by the size of the whole post
        files = int(config.get("ATTACHMENT_MAX_FILES", 4)) * int(config.get("ATTACHMENT_MAX_BYTES", 15 << 20))
        return min(largest, files + int(config["REQUEST_MAX_BYTES"]))
    return min(largest, int(config["REQUEST_MAX_BYTES"]))


def init_app(app: Flask) -> None:
    """CSRF protection, headers on every response, the request size limits."""
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # tied to the session instead of a clock
    # Flask holds MAX_CONTENT_LENGTH already (None): setdefault would never apply the configured limit
    if app.config.get("MAX_CONTENT_LENGTH") is None:
        app.config["MAX_CONTENT_LENGTH"] = app.config.get("UPLOAD_MAX_BYTES", 100 * 1024 * 1024)
    app.config.setdefault("REQUEST_MAX_BYTES", 1024 * 1024)

    @app.before_request
    def limit_body() -> None:
        # registered before CSRF's check, which is the first to read a posted form
        limit = body_limit(request.endpoint, app.config)
        if request.content_length is not None:
            request.max_content_length = limit
            if request.content_length > limit:
                abort(413)  # refused before a byte of the body is read
        elif "stream" not in request.__dict__:
            # a body without Content-Length (chunked): Werkzeug would quietly stop reading at the limit and
            # parse the part it read; one byte more is allowed, and reading it is refused with 413
            request.environ["wsgi.input"] = CappedInput(request.environ["wsgi.input"], limit)
            request.max_content_length = limit + 1

    csrf.init_app(app)

    @app.after_request
    def headers(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "same-origin"
        if request.endpoint not in CACHEABLE and request.blueprint not in OWN_CACHING:  # pages may show personal data
            response.headers["Cache-Control"] = "no-store"
        return response

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError) -> tuple[str, int]:
        from flask import render_template

        message = "表单已过期或来源无效（CSRF 校验未通过），请刷新页面后重新提交。"
        return render_template("error.html", title="请求被拒绝", message=message), 400
