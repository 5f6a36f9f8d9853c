"""Issue 17 done-when: a supervisor opens the 分析 page, marks a hotspot 源头治理中, and sees it on the street's digest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from playwright.sync_api import Page, expect
from sqlmodel import Session

import jobs.digest
from tests.browser.conftest import LiveServer, sign_in
from tests.services.test_analysis import PLANTED, order
from tracker import create_app

PLACE = "南京西路1000弄2支弄3号"


def test_supervisor_marks_a_hotspot_and_sees_it_on_the_digest(page: Page, live_server: LiveServer) -> None:
    now = datetime.now(UTC)
    with Session(live_server.engine) as session:  # the planted place, written five ways, on five days
        session.add_all(
            order(900_000 + i, now - timedelta(days=d, hours=1), "静安寺街道", "油烟扰民", address)
            for i, (d, address) in enumerate(zip([40, 30, 20, 10, 3], PLANTED, strict=True))
        )
        session.commit()

    sign_in(page, live_server, "duchao")
    page.click("nav a:text-is('分析')")
    row = page.locator("tr.hotspot", has_text=PLACE)
    expect(row).to_contain_text("油烟扰民")
    expect(row.locator("a[href^='/orders/']")).to_have_count(5)
    row.locator("details.mark-form summary").click()
    row.locator("select[name=street]").select_option("静安寺街道")
    row.locator("textarea[name=note]").fill("约谈店主，限期加装油烟净化器")
    row.locator("button[type=submit]").click()
    expect(page.locator("p.flash")).to_have_text(f"已将「{PLACE} 油烟扰民」标记为源头治理中。")
    expect(page.locator("tr.hotspot", has_text=PLACE)).to_contain_text("源头治理中（静安寺街道）")
    expect(page.locator("tr.mark", has_text=PLACE)).to_contain_text("约谈店主")

    # the next morning's digest job, as the scheduler runs it
    app = create_app({"DATABASE_URL": str(live_server.engine.url), "SECRET_KEY": "test"})
    with app.app_context(), Session(live_server.engine) as session:
        jobs.digest.run(session, now=datetime.now(UTC))
        session.commit()
    app.extensions["tracker_engine"].dispose() if "tracker_engine" in app.extensions else None

    page.goto(live_server.at("/alerts/?street=静安寺街道"))
    digest = page.locator("section.digest", has_text="静安寺街道")
    expect(digest).to_contain_text("四、分析提示")
    expect(digest).to_contain_text(f"源头治理中：{PLACE} 油烟扰民，标记时近 90 天 5 件")
    expect(digest).to_contain_text("说明：约谈店主，限期加装油烟净化器")
