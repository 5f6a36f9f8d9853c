"""A squad member on a 390×844 phone records 先行联系 with a photo chosen in the file input and sees its thumbnail."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Route, expect
from sqlmodel import Session, select

from tests.browser.conftest import TIMEOUT_MS, LiveServer, sign_in
from tests.browser.test_workbench import first_order_offering
from tests.helpers_attachments import photo
from tracker.models import OrderAttachment

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def phone(browser: Browser, live_server: LiveServer) -> Iterator[BrowserContext]:
    """A phone-sized browser context (touch, 3× pixels) that may reach only the live server."""
    ctx = browser.new_context(
        viewport=PHONE,
        device_scale_factor=3,
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
    )
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


def test_squad_records_first_contact_with_a_photo_on_a_phone(
    phone: BrowserContext, live_server: LiveServer, tmp_path: Path
) -> None:
    page: Page = phone.new_page()
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    sign_in(page, live_server, "jingansi")
    first_order_offering(page, live_server, "state=handling", "first_contact")
    form = page.locator("form#action-first_contact")
    camera = form.locator('input[type=file][capture="environment"]')
    assert camera.get_attribute("accept") == "image/*,application/pdf"
    picture = tmp_path / "IMG_20261126_101500.jpg"
    picture.write_bytes(photo(1600, 1200))
    form.locator("select[name=contact_result]").select_option("已联")
    form.locator("input[type=file]:not([capture])").set_input_files(str(picture))
    form.locator("button[type=submit]").click()

    expect(page.locator("p.flash")).to_have_text("已先行联系，并添加 1 个附件。")
    thumbnail = page.locator("ul.thumbnails li img").first
    thumbnail.scroll_into_view_if_needed()
    expect(thumbnail).to_be_visible()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=thumbnail.element_handle())
    assert thumbnail.evaluate("img => img.naturalWidth") == 320  # our thumbnail, loaded
    box = thumbnail.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    expect(page.locator("ul.thumbnails")).to_contain_text("IMG_20261126_101500.jpg")
    expect(page.locator("table#timeline")).to_contain_text("添加附件")
    with Session(live_server.engine) as session:
        (row,) = session.exec(select(OrderAttachment)).all()
    assert row.purpose == "first_contact" and row.width == 1600
    page.screenshot(path=str(tmp_path / "phone-order-with-photo.png"), full_page=True)
    assert violations == []
