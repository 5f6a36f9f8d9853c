"""Charts: plotly.js served from the installed plotly package (no CDN), figures passed as data attributes.

Pages never carry inline script (the CSP forbids it): a chart is a ``<div class="chart"
data-figure="…">`` holding the figure's JSON, drawn by ``static/charts.js``. A point whose
``customdata`` is a URL of this site opens that URL when clicked (drill-down to the orders).
"""

from __future__ import annotations

import json
import logging
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import plotly
from flask import Blueprint, Flask, send_from_directory, url_for
from markupsafe import Markup, escape
from werkzeug.wrappers import Response

log = logging.getLogger(__name__)
PLOTLY_DIR = Path(plotly.__file__).parent / "package_data"
bp = Blueprint("charts", __name__)


# plotly.js inserts its own stylesheet rules at load time, which the CSP forbids; it skips that when
# the page already holds an element with this id and class, so we serve the same rules as a file.
STYLE_ID = "plotly.js-style-global"
_RULES = re.compile(r"""("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')\s*:\s*("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')""")


@lru_cache(maxsize=1)
def plotly_css() -> str:
    """plotly.js's own style rules, read from the bundle of the pinned package (its selector shorthands expanded)."""
    source = (PLOTLY_DIR / "plotly.min.js").read_text(encoding="utf-8")
    start = source.find('{"X,X div":')
    end = source.find("}", source.find('"Y .notifier-close:hover"', start))
    if start < 0 or end < 0:
        log.warning("plotly.js style rules not found in the bundle; charts draw without them")
        return ""
    rules = []
    for key, value in _RULES.findall(source[start : end + 1]):
        selector = key[1:-1]
        if selector.startswith(","):
            selector = " " + selector
        selector = selector.replace("X", ".js-plotly-plot .plotly").replace("Y", ".plotly-notifier")
        rules.append(f"{selector}{{{value[1:-1]}}}")
    return "\n".join(rules) + "\n"


# plotly.js also inserts the map library's stylesheet (a <style> whose id is a 64-hex digest) while it
# registers its map traces at load, unless an element with that id is already in the page. We draw
# no maps, so an empty placeholder with that id stops it, and the CSP stays style-src 'self'.
_INLINE_STYLE_GUARD = re.compile(
    r'document\.getElementById\("([0-9a-f]{64})"\)\)\{var \w+=document\.createElement\("style"\)'
)


@lru_cache(maxsize=1)
def plotly_inline_style_ids() -> tuple[str, ...]:
    """The ids of the <style> elements plotly.js would insert at load unless the page already holds them."""
    source = (PLOTLY_DIR / "plotly.min.js").read_text(encoding="utf-8")
    found = tuple(dict.fromkeys(_INLINE_STYLE_GUARD.findall(source)))
    if not found:
        log.warning("plotly.js inline style guard not found in the bundle; the map stylesheet may violate the CSP")
    return found


def style_placeholders() -> Markup:
    """Empty elements that stand in for the <style> plotly.js would otherwise insert (see above)."""
    return Markup(
        "".join(f'<meta name="plotly-style-placeholder" id="{escape(i)}">' for i in plotly_inline_style_ids())
    )


@bp.get("/vendor/plotly.css")
def plotly_stylesheet() -> Response:
    """plotly.js's style rules as a stylesheet (see STYLE_ID)."""
    response = Response(plotly_css(), mimetype="text/css")
    response.cache_control.max_age = 86400
    return response


@bp.get("/vendor/plotly.min.js")
def plotly_js() -> Response:
    """plotly.js of the pinned plotly package, cached by the browser for a day."""
    return send_from_directory(PLOTLY_DIR, "plotly.min.js", mimetype="text/javascript", max_age=86400)


def chart(figure: dict[str, Any], element_id: str, *, height: int = 360) -> Markup:
    """The placeholder a page puts where a chart goes (the figure as escaped JSON in an attribute)."""
    payload = json.dumps(figure, ensure_ascii=False, default=str)
    attributes = f'id="{escape(element_id)}" data-height="{int(height)}" data-figure="{escape(payload)}"'
    return Markup(f'<div class="chart" {attributes}></div>')


def chart_scripts() -> Markup:
    """The scripts a page with charts loads, in order: plotly.js, its zh-CN locale, then charts.js which draws."""
    sources = (
        url_for("charts.plotly_js"),
        url_for("static", filename="plotly-locale-zh-cn.js"),
        url_for("static", filename="charts.js"),
    )
    return Markup("".join(f'<script src="{escape(src)}"></script>' for src in sources))


def init_app(app: Flask) -> None:
    """Serve plotly.js and offer ``chart()`` and ``chart_scripts()`` to templates."""
    app.register_blueprint(bp)
    app.jinja_env.globals["chart"] = chart
    app.jinja_env.globals["chart_scripts"] = chart_scripts
    app.jinja_env.globals["plotly_style_placeholders"] = style_placeholders
