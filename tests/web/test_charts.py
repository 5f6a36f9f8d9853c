"""Charts: plotly.js comes from this server, figures travel as escaped data attributes (no inline script)."""

from __future__ import annotations

import json
import re
from html import unescape

from tracker.web.charts import chart


def test_plotly_is_served_locally_to_signed_in_users(client, as_role) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/vendor/plotly.min.js").status_code == 302  # signed out: to the login page
    signed_in = as_role("squad")
    response = signed_in.get("/vendor/plotly.min.js")
    assert response.status_code == 200 and response.mimetype == "text/javascript"
    assert b"plotly.js v" in response.data[:200]
    assert "no-store" not in response.headers.get("Cache-Control", "")


def test_a_figure_is_an_escaped_attribute_and_round_trips() -> None:
    figure = {"data": [{"type": "bar", "x": ["<script>alert(1)</script>", "静安寺街道"], "y": [1, 2]}], "layout": {}}
    html = str(chart(figure, "c1"))
    assert "<script>" not in html
    payload = re.search(r'data-figure="([^"]*)"', html)
    assert payload and json.loads(unescape(payload.group(1))) == figure


def test_plotly_style_rules_are_served_as_a_stylesheet_for_the_csp(as_role) -> None:  # type: ignore[no-untyped-def]
    client = as_role("supervisor")
    css = client.get("/vendor/plotly.css")
    assert css.status_code == 200 and css.mimetype == "text/css"
    text = css.get_data(as_text=True)
    assert ".js-plotly-plot .plotly .main-svg{position:absolute;" in text and ".plotly-notifier" in text
    page = client.get("/").get_data(as_text=True)  # plotly.js skips its blocked inline rules when it sees this
    assert 'id="plotly.js-style-global" class="no-inline-styles"' in page
