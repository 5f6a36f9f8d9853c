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

    from tracker import cli, db
    from tracker.web import init_app as init_web

    db.init_app(app)
    cli.init_app(app)
    init_web(app)
    return app
