"""The work-order tracker of a district 城管执法局: Flask app factory."""

from __future__ import annotations

import os
from typing import Any

from flask import Flask


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app; ``test_config`` overrides the environment-based settings."""
    app = Flask(__name__, instance_relative_config=True)
    os.makedirs(app.instance_path, exist_ok=True)
    from tracker import config

    app.config.from_mapping(config.load(app.instance_path))
    if test_config:
        app.config.from_mapping(test_config)

    from tracker import cli, db, logs
    from tracker.web import init_app as init_web

    if app.config["TRUSTED_PROXIES"] > 0:  # only behind that many proxies are X-Forwarded-* headers believed
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_prefix=hops)  # type: ignore[method-assign]
    logs.init_app(app)
    db.init_app(app)
    cli.init_app(app)
    init_web(app)
    return app
