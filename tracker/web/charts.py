"""Charts: plotly.js served from the installed plotly package (no CDN), figures passed as data attributes.

Pages never carry inline script (the CSP forbids it): a chart is a ``<div class="chart"
data-figure="…">`` holding the figure's JSON, drawn by ``static/charts.js``. A point whose
``customdata`` is a URL of this site opens that URL when clicked (drill-down to the orders).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import plotly
from flask import Blueprint, Flask, send_from_directory
from markupsafe import Markup, escape
from werkzeug.wrappers import Response

PLOTLY_DIR = Path(plotly.__file__).parent / "package_data"
bp = Blueprint("charts", __name__)


@bp.get("/vendor/plotly.min.js")
def plotly_js() -> Response:
    """plotly.js of the pinned plotly package, cached by the browser for a day."""
    return send_from_directory(PLOTLY_DIR, "plotly.min.js", mimetype="text/javascript", max_age=86400)


def chart(figure: dict[str, Any], element_id: str, *, height: int = 360) -> Markup:
    """The placeholder a page puts where a chart goes (the figure as escaped JSON in an attribute)."""
    payload = json.dumps(figure, ensure_ascii=False, default=str)
    attributes = f'id="{escape(element_id)}" data-height="{int(height)}" data-figure="{escape(payload)}"'
    return Markup(f'<div class="chart" {attributes}></div>')


def init_app(app: Flask) -> None:
    """Serve plotly.js and offer ``chart()`` to templates."""
    app.register_blueprint(bp)
    app.jinja_env.globals["chart"] = chart
