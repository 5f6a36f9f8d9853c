"""A squad's day on a 390×844 phone in Debian's Chromium: every squad page fits the width, controls are
touch-sized, the queue leads to the most urgent order, which is contacted (with a photo chosen in the file
input, as from the phone's gallery) and closed; bulk acknowledge;
the order's print view. Screenshots of each page (phone and 1280×800 desktop) are kept as test artifacts.

Artifacts: ``$TRACKER_BROWSER_ARTIFACTS`` if set, else ``<pytest basetemp>/artifacts/phone`` (printed at the end
of each test with ``-s``; pytest keeps the last three basetemps under /tmp/pytest-of-<user>/).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Route, expect

from tests.browser.conftest import TIMEOUT_MS, LiveServer, sign_in
from tests.helpers_attachments import photo

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
TOUCH = 44  # px: the smallest control a finger hits reliably
CONTROLS = (
    "main button:visible, main select:visible, main textarea:visible, "
    "main input:visible:not([type=hidden]):not([type=checkbox]):not([type=radio]), nav.top button:visible"
)


@pytest.fixture
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where this run's screenshots go."""
    chosen = os.environ.get("TRACKER_BROWSER_ARTIFACTS", "").strip()
    folder = Path(chosen) if chosen else tmp_path_factory.getbasetemp() / "artifacts" / "phone"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def local_context(browser: Browser, server: LiveServer, viewport: dict[str, int], *, phone: bool) -> BrowserContext:
    """A context of the given size that may reach only the live server."""
    ctx = browser.new_context(
        viewport=viewport,  # type: ignore[arg-type]
        device_scale_factor=2 if phone else 1,
        is_mobile=phone,
        has_touch=phone,
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
    )
    ctx.set_default_timeout(TIMEOUT_MS)

    def local_only(route: Route) -> None:
        if route.request.url.startswith(server.url + "/"):
            route.continue_()
        else:
            route.abort()

    ctx.route("**/*", local_only)
    return ctx


@pytest.fixture
def phone(browser: Browser, live_server: LiveServer) -> Iterator[Page]:
    """A 390×844 touch screen at 2× (an iPhone 12–14 sized phone)."""
    ctx = local_context(browser, live_server, PHONE, phone=True)
    yield ctx.new_page()
    ctx.close()


@pytest.fixture
def desktop(browser: Browser, live_server: LiveServer) -> Iterator[Page]:
    """A 1280×800 desktop window."""
    ctx = local_context(browser, live_server, DESKTOP, phone=False)
    yield ctx.new_page()
    ctx.close()


def settle(page: Page) -> None:
    """Wait for the page and its charts (plotly draws after load)."""
    page.wait_for_load_state("load")
    if page.locator("div.chart[data-figure]").count():
        page.wait_for_selector("div.chart[data-figure]:not([data-drawn='1'])", state="detached")


def assert_fits(page: Page, what: str) -> None:
    """Nothing on the page scrolls sideways."""
    scroll, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert scroll <= inner, f"{what}: the page is {scroll}px wide on a {inner}px screen"


def assert_touch_sized(page: Page, what: str) -> None:
    """Every visible button, field and list is at least 44px tall."""
    small = []
    for control in page.locator(CONTROLS).all():
        box = control.bounding_box()
        if box and box["height"] < TOUCH - 0.5:
            small.append(f"{control.evaluate('e => e.outerHTML.slice(0, 80)')} ({box['height']:.0f}px)")
    assert not small, f"{what}: controls under {TOUCH}px: {small}"


def shoot(page: Page, folder: Path, name: str) -> None:
    """A full-page screenshot kept as an artifact."""
    settle(page)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def check_phone_page(page: Page, folder: Path, name: str) -> None:
    settle(page)
    assert_fits(page, name)
    assert_touch_sized(page, name)
    shoot(page, folder, f"phone-{name}")


def test_every_squad_page_fits_a_phone_and_has_touch_sized_controls(
    phone: Page, live_server: LiveServer, artifacts: Path
) -> None:
    page = phone
    page.goto(live_server.at("/login"))
    check_phone_page(page, artifacts, "login")
    sign_in(page, live_server, "jingansi")
    check_phone_page(page, artifacts, "queue")
    # the filter form is folded behind 筛选与排序 so the queue starts on the first screen
    expect(page.locator("form#filters")).to_be_hidden()
    first_card = page.locator("table#orders tbody tr").first.bounding_box()
    assert first_card and first_card["y"] < PHONE["height"], first_card
    page.locator("button[data-toggle=filters]").tap()
    expect(page.locator("form#filters select[name=sort]")).to_be_visible()
    expect(page.locator("form#filters select[name=sort]")).to_have_value("deadline")
    assert_fits(page, "queue with filters open")
    assert_touch_sized(page, "queue with filters open")
    # the navigation is folded behind 菜单: the links appear when it is tapped
    nav_link = page.locator("nav.top .nav-links a", has_text="逾期预警")
    expect(nav_link).to_be_hidden()
    toggle = page.locator("#nav-toggle")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    toggle.tap()
    expect(nav_link).to_be_visible()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    for link in page.locator("nav.top .nav-links > a").all():
        box = link.bounding_box()
        assert box and box["height"] >= TOUCH, link.inner_text()
    check_phone_page(page, artifacts, "nav-open")
    # the rows are cards: no header row, each value labelled
    expect(page.locator("table#orders thead")).to_be_hidden()
    first = page.locator("table#orders tbody tr").first
    label = first.locator("td.next-deadline").evaluate("td => getComputedStyle(td, '::before').content")
    assert label == '"下一期限"'

    page.goto(live_server.at(first.locator("td.card-title a").get_attribute("href") or ""))
    check_phone_page(page, artifacts, "order")
    page.goto(live_server.at("/alerts/"))
    check_phone_page(page, artifacts, "alerts")
    page.goto(live_server.at("/dashboard/"))
    check_phone_page(page, artifacts, "dashboard")
    page.goto(live_server.at("/password"))
    check_phone_page(page, artifacts, "password")
    print(f"\nphone screenshots: {artifacts}")


def test_desktop_pages_keep_their_table_layout(desktop: Page, live_server: LiveServer, artifacts: Path) -> None:
    page = desktop
    page.goto(live_server.at("/login"))
    shoot(page, artifacts, "desktop-login")
    sign_in(page, live_server, "jingansi")
    expect(page.locator("table#orders thead")).to_be_visible()  # a table, not cards
    expect(page.locator("#nav-toggle")).to_be_hidden()
    expect(page.locator("form#filters")).to_be_visible()  # filters open, as before
    expect(page.locator("button[data-toggle=filters]")).to_be_hidden()
    expect(page.locator("nav.top .nav-links a", has_text="逾期预警")).to_be_visible()  # the links in one bar
    bar = page.locator("nav.top").bounding_box()
    assert bar and bar["height"] < 60, bar  # one row, as before
    assert_fits(page, "desktop queue")
    shoot(page, artifacts, "desktop-queue")
    href = page.locator("table#orders tbody tr td a").first.get_attribute("href") or ""
    for name, path in (("order", href), ("alerts", "/alerts/"), ("dashboard", "/dashboard/")):
        page.goto(live_server.at(path))
        settle(page)
        assert_fits(page, f"desktop {name}")
        shoot(page, artifacts, f"desktop-{name}")


def test_a_squad_member_opens_the_most_urgent_order_contacts_and_closes_it(
    phone: Page, live_server: LiveServer, artifacts: Path, tmp_path: Path
) -> None:
    page = phone
    sign_in(page, live_server, "jingansi")
    expect(page.locator("h1")).to_have_text("我的待办")
    # the most urgent order the squad can act on: the queue is red first; an order waiting for the
    # bureau's decision on a return is the bureau's move, so the squad takes the first one that is its own
    rows = page.locator("table#orders tbody tr")
    assert rows.count() > 1
    levels = [r.get_attribute("class") or "" for r in rows.all()]
    assert levels[0] == "level-red", levels
    target = None
    for row in rows.all():
        state = row.locator("td[data-label=状态]").inner_text().strip()
        if state in ("待签收", "处置中"):
            target = row
            break
    assert target is not None, "the demo queue has no order the squad can act on"
    assert "level-red" in (target.get_attribute("class") or "")
    order_no = target.locator("td.card-title a").inner_text().strip()
    target.locator("td.card-title a").tap()
    expect(page.locator("h1")).to_contain_text(order_no)
    detail = page.url
    assert_fits(page, "order before acting")

    if page.locator("form#action-sign").count():
        page.locator("form#action-sign button[type=submit]").tap()
        expect(page.locator("p.flash")).to_have_text("已签收。")
    contact = page.locator("form#action-first_contact")
    contact.locator("select[name=contact_result]").select_option("已联")
    contact.locator("input[name=contact_person]").fill("张三")
    contact.locator("textarea[name=note]").fill("电话联系诉求人，约定今日下午到场")
    picture = tmp_path / "IMG_20261126_0930.jpg"  # a photo of the site, chosen from the phone's gallery
    picture.write_bytes(photo(1600, 1200))
    contact.locator("input[type=file]:not([capture])").set_input_files(str(picture))
    contact.locator("button[type=submit]").tap()
    expect(page.locator("p.flash")).to_have_text("已先行联系，并添加 1 个附件。")
    assert page.url == detail
    expect(page.locator("#order-fields")).to_contain_text("已联")
    thumbnail = page.locator("ul.thumbnails li img").first
    thumbnail.scroll_into_view_if_needed()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=thumbnail.element_handle())
    expect(page.locator("ul.thumbnails")).to_contain_text("IMG_20261126_0930.jpg")
    check_phone_page(page, artifacts, "order-contacted")

    close = page.locator("form#action-close")
    close.locator("textarea[name=reply]").fill("经现场核查，已责令商户清理占道堆物，并回访诉求人。")
    close.locator("select[name=verdict]").select_option("实际解决")
    close.locator("select[name=reply_method]").select_option("电话")
    close.locator("button[type=submit]").tap()
    expect(page.locator("p.flash")).to_have_text("已办结。")
    expect(page.locator("h1")).to_contain_text("已办结")
    check_phone_page(page, artifacts, "order-closed")

    page.goto(live_server.at("/"))  # a closed order leaves the queue
    expect(page.locator("table#orders tbody")).not_to_contain_text(order_no)


def test_bulk_acknowledge_on_a_phone(phone: Page, live_server: LiveServer, artifacts: Path) -> None:
    page = phone
    sign_in(page, live_server, "jingansi")
    page.goto(live_server.at("/alerts/"))
    boxes = page.locator("input[name=alert_id]")
    count = boxes.count()
    assert count >= 2
    page.locator("#check-all").tap()
    assert all(box.is_checked() for box in boxes.all())
    boxes.first.tap()  # one unticked: 全选本页 clears
    assert not page.locator("#check-all").is_checked()
    boxes.first.tap()
    assert page.locator("#check-all").is_checked()
    page.locator("#bulk-ack-submit").tap()
    expect(page.locator("p.flash")).to_contain_text(f"已确认 {count} 条预警")
    expect(page.locator("input[name=alert_id]")).to_have_count(0)
    expect(page.locator("table#alerts tbody")).to_contain_text("已确认")
    check_phone_page(page, artifacts, "alerts-acknowledged")


def test_the_print_view_of_an_order(desktop: Page, live_server: LiveServer, artifacts: Path) -> None:
    page = desktop
    sign_in(page, live_server, "jingansi")
    page.goto(live_server.at(page.locator("table#orders tbody tr td a").first.get_attribute("href") or ""))
    page.evaluate("() => { window.__printed = 0; window.print = () => { window.__printed += 1; }; }")
    page.locator("#print-button").click()
    assert page.evaluate("window.__printed") == 1  # the 打印 button asks the browser to print

    page.emulate_media(media="print")
    for hidden in ("nav.top", "#print-button", ".order-actions", "#reveal-form"):
        if page.locator(hidden).count():
            expect(page.locator(hidden).first).to_be_hidden()
    for shown in ("#order-fields", "table#deadlines", "table#timeline", ".print-note"):
        expect(page.locator(shown)).to_be_visible()
    phone_cell = page.locator("#phone-masked")
    if phone_cell.count():
        assert re.fullmatch(r"\d{3}\*{4}\d{4}|\**\d{0,4}", phone_cell.inner_text().strip())
    assert not re.search(r"(?<!\d)1[3-9]\d{9}(?!\d)", page.locator("main").inner_text())  # no full phone number
    page.pdf(path=str(artifacts / "print-order.pdf"), format="A4")
    page.screenshot(path=str(artifacts / "print-order.png"), full_page=True)
