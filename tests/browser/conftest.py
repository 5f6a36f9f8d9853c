"""Browser fixtures: the real app served over HTTP on a free local port, and Debian's Chromium driven by Playwright.

No browser is ever downloaded: Chromium comes from the system (``apt-get install chromium``).
In CI (``CI=true``) a missing Chromium fails the tests; elsewhere they are skipped with the reason.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Route, sync_playwright
from sqlalchemy.engine import Engine
from sqlmodel import Session
from werkzeug.serving import make_server

from tests.conftest import seed
from tracker import create_app
from tracker.domain.deadlines import LOCAL_TZ

CHROMIUM_CANDIDATES = ("chromium", "chromium-browser")
# Playwright's default timeouts are 30 s; a local page that takes more than this is a failure.
TIMEOUT_MS = 10_000


def chromium_path() -> str | None:
    """Debian's Chromium on PATH (or at /usr/bin/chromium), if installed."""
    for name in CHROMIUM_CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


def missing(reason: str) -> None:
    """Fail in CI (the browser tests must run there), skip elsewhere."""
    if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
        pytest.fail(f"{reason}; in CI the browser tests must run", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the whole run (each test opens its own context)."""
    executable = chromium_path()
    if executable is None:
        missing("Chromium is not installed (Debian: apt-get install chromium)")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@dataclass(frozen=True)
class LiveServer:
    """The app served on 127.0.0.1, and its database."""

    url: str
    engine: Engine

    def at(self, path: str) -> str:
        """The absolute URL of a path on this server."""
        return self.url + path


@pytest.fixture
def live_server(database_url: str, engine: Engine, tmp_path: Path) -> Iterator[LiveServer]:
    """The real app over HTTP on a free port, on a fresh database holding the demo data and demo users.

    The pages use the real clock (the server thread shares this process, so a frozen clock would
    freeze it too), so the demo is loaded as of the current minute: its orders are then in the
    past, and a contact recorded "now" is neither in the future nor before dispatch.
    """
    with Session(engine) as s:
        seed(s)
        s.commit()
    config = {"DATABASE_URL": database_url, "SECRET_KEY": "test", "UPLOAD_DIR": str(tmp_path / "uploads")}
    app = create_app({**config, "ATTACHMENT_DIR": str(tmp_path / "attachments")})
    now = datetime.now(LOCAL_TZ).strftime("%Y-%m-%dT%H:%M")
    result = app.test_cli_runner().invoke(args=["demo-load", "--now", now])
    assert result.exit_code == 0, result.output
    assert "jingansi" in result.output, result.output
    with engine.begin() as conn:  # the demo users must change their password at first sign-in; not here
        conn.exec_driver_sql("UPDATE app_user SET must_change_password = false")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(f"http://127.0.0.1:{server.server_port}", engine)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        if "tracker_engine" in app.extensions:
            app.extensions["tracker_engine"].dispose()


@pytest.fixture
def context(browser: Browser, live_server: LiveServer) -> Iterator[BrowserContext]:
    """A fresh browser context (its own cookies) that may reach only the live server.

    Any other request is refused and fails the test: the pages must not load anything from outside.
    """
    ctx = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai")
    ctx.set_default_timeout(TIMEOUT_MS)
    outside: list[str] = []

    def local_only(route: Route) -> None:
        if route.request.url.startswith(live_server.url + "/"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    ctx.route("**/*", local_only)
    yield ctx
    ctx.close()
    assert not outside, f"the pages asked for addresses outside the test server: {outside}"


@pytest.fixture
def page(context: BrowserContext) -> Page:
    """A page in the fresh context."""
    return context.new_page()


DEMO_PASSWORDS = {
    "admin": "demo-admin-2026",
    "duchao": "demo-duchao-2026",
    "jingansi": "demo-jingansi-2026",
    "caojiadu": "demo-caojiadu-2026",
}


def sign_in(page: Page, server: LiveServer, username: str) -> None:
    """Sign in through the login form as a demo user, landing on the order list."""
    page.goto(server.at("/login"))
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", DEMO_PASSWORDS[username])
    page.click("form button[type=submit]")
    page.wait_for_selector("table#orders")
