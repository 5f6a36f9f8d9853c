"""Web security: CSRF on every form, security headers with a strict CSP, no caching of personal data."""

from __future__ import annotations

from flask import Flask, request
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.wrappers import Response

csrf = CSRFProtect()
CACHEABLE = frozenset({"static", "charts.plotly_js", "charts.plotly_stylesheet"})  # files without personal data

# No inline script anywhere: scripts and styles come from our own static files only.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


def init_app(app: Flask) -> None:
    """CSRF protection, headers on every response, the upload size limit."""
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # tied to the session instead of a clock
    app.config.setdefault("MAX_CONTENT_LENGTH", app.config.get("UPLOAD_MAX_BYTES", 100 * 1024 * 1024))
    csrf.init_app(app)

    @app.after_request
    def headers(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "same-origin"
        if request.endpoint not in CACHEABLE:  # every page may show personal data
            response.headers["Cache-Control"] = "no-store"
        return response

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError) -> tuple[str, int]:
        from flask import render_template

        message = "表单已过期或来源无效（CSRF 校验未通过），请刷新页面后重新提交。"
        return render_template("error.html", title="请求被拒绝", message=message), 400
