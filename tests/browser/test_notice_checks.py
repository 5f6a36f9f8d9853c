"""热线通报核查 end to end: the administrator imports a notice, the squad answers on a 390×844 phone with a photo,
the supervisor accepts, the reply XLSX downloads with the accepted answer."""

from __future__ import annotations

from pathlib import Path

import openpyxl
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlmodel import Session, col, select

from tests.browser.conftest import TIMEOUT_MS, LiveServer, sign_in
from tests.browser.test_attachments import phone  # noqa: F401 (the phone-sized context fixture)
from tests.helpers_attachments import photo
from tracker.models import HotlineNotice, NoticeCheck, Order, OrderAttachment


def test_import_answer_on_a_phone_accept_download(
    browser: Browser,
    page: Page,
    phone: BrowserContext,  # noqa: F811
    live_server: LiveServer,
    tmp_path: Path,
) -> None:
    with Session(live_server.engine) as session:
        order = session.exec(select(Order).where(Order.street == "静安寺街道").order_by(col(Order.id))).first()
    assert order is not None
    notice = tmp_path / "热线通报_2026第12期.csv"
    notice.write_text(
        f"通报编号,工单编号,通报类型,通报日期,通报内容/要求\nTB-BROWSER,{order.order_no},不满意,,请核查办理情况\n",
        encoding="utf-8",
    )

    sign_in(page, live_server, "admin")  # the administrator imports the notice
    page.goto(live_server.at("/imports/notices"))
    page.locator("form#notice-form input[type=file]").set_input_files(str(notice))
    page.locator("form#notice-form button[type=submit]").click()
    expect(page.locator("#notice-report")).to_contain_text("新增核查 1 条")
    with Session(live_server.engine) as session:
        check = session.exec(select(NoticeCheck)).one()

    squad: Page = phone.new_page()  # the squad answers on a phone, with a photo
    sign_in(squad, live_server, "jingansi")
    squad.goto(live_server.at(f"/orders/{order.id}"))
    form = squad.locator(f"form#check-{check.id}-answer")
    form.scroll_into_view_if_needed()
    expect(form).to_be_visible()
    box = form.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390  # fits the phone's width
    picture = tmp_path / "IMG_20261206_093000.jpg"
    picture.write_bytes(photo(1200, 900))
    form.locator("select[name=conclusion]").select_option("属实")
    form.locator("textarea[name=cause]").fill("先行联系后未按约定时间上门")
    form.locator("textarea[name=measures]").fill("已约谈责任人，次日上门处理完毕")
    form.locator("input[type=file]:not([capture])").set_input_files(str(picture))
    form.locator("button[type=submit]").click()
    expect(squad.locator("p.flash")).to_have_text("已提交核查，并添加 1 个附件。待区局审核。")
    expect(squad.locator(f"#check-{check.id}-status")).to_have_text("待审核")

    boss_context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai")
    boss_context.set_default_timeout(TIMEOUT_MS)
    boss = boss_context.new_page()
    try:  # the supervisor accepts, then downloads the reply
        sign_in(boss, live_server, "duchao")
        boss.goto(live_server.at(f"/orders/{order.id}"))
        boss.locator(f"form#check-{check.id}-accept button[type=submit]").click()
        expect(boss.locator("p.flash")).to_have_text("已采纳核查。")
        boss.goto(live_server.at("/notices"))
        with Session(live_server.engine) as session:
            notice_id = session.exec(select(HotlineNotice.id)).one()
        with boss.expect_download() as downloading:
            boss.locator(f"#reply-{notice_id}").click()
        saved = tmp_path / downloading.value.suggested_filename
        downloading.value.save_as(saved)
    finally:
        boss_context.close()
    assert saved.name == "通报回复_TB-BROWSER.xlsx"
    sheet = openpyxl.load_workbook(saved).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert len(rows) == 2 and rows[1][1] == order.order_no and rows[1][4] == "属实"
    with Session(live_server.engine) as session:
        purposes = session.exec(select(OrderAttachment.purpose).where(OrderAttachment.order_id == order.id)).all()
    assert "verification" in purposes
