"""Finding 9 (CSP): no page, for any role, raises a Content-Security-Policy violation in Chromium.

Each role signs in and walks every page reachable by links from the navigation (same site, GET,
no downloads), with the demo data; a listener installed before any page script collects every
``securitypolicyviolation`` event. Charts are waited for, since plotly.js draws after load.
"""

from __future__ import annotations

import re
from urllib.parse import urldefrag, urlsplit

import pytest
from playwright.sync_api import BrowserContext

from tests.browser.conftest import LiveServer, sign_in

COLLECT = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__cspViolations.push([e.violatedDirective, e.blockedURI, e.sourceFile, e.lineNumber, e.sample].join(" | "));
});
"""
# pages that change nothing when opened but are not pages (downloads) or end the session
SKIP = re.compile(r"(\.xlsx|\.csv|/logout|/vendor/|/static/)")
MAX_PAGES_PER_ROLE = 60


def shape(path: str) -> str:
    """A page's shape: ids replaced, so one order (or plan, user, batch) stands for all of them."""
    parts = urlsplit(path)
    query_names = "&".join(sorted({p.split("=")[0] for p in parts.query.split("&") if p}))
    return re.sub(r"/\d+", "/N", re.sub(r"/[0-9a-f]{8,}", "/H", parts.path)) + "?" + query_names


@pytest.mark.parametrize("username", ["admin", "duchao", "jingansi"])
def test_no_page_violates_the_content_security_policy(
    context: BrowserContext, live_server: LiveServer, username: str
) -> None:
    context.add_init_script(COLLECT)
    page = context.new_page()
    sign_in(page, live_server, username)
    queue, seen_shapes, visited, violations = ["/"], set(), [], []
    while queue and len(visited) < MAX_PAGES_PER_ROLE:
        path = queue.pop(0)
        if shape(path) in seen_shapes:
            continue
        seen_shapes.add(shape(path))
        page.goto(live_server.at(path))
        page.wait_for_load_state("load")
        if page.locator("div.chart[data-figure]").count():
            page.wait_for_selector("div.chart[data-figure]:not([data-drawn='1'])", state="detached")
        visited.append(path)
        violations += [f"{path}: {v}" for v in page.evaluate("window.__cspViolations || []")]
        for href in page.eval_on_selector_all("a[href]", "links => links.map(a => a.getAttribute('href'))"):
            href = urldefrag(href)[0]
            if href.startswith("/") and not href.startswith("//") and not SKIP.search(href):
                queue.append(href)
    assert len(visited) >= 5, visited  # the walk reached the pages (orders, alerts, statistics …)
    assert violations == [], "\n".join(violations)
