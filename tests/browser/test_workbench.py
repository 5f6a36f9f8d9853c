"""The workbench in a real browser: sign in, act on orders, scope, escaping under the CSP, sign out.

Each test gets a fresh database with the demo data, the app served over HTTP, and a fresh browser context.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

from playwright.sync_api import Dialog, Page, expect
from sqlmodel import Session, col, select

from tests.browser.conftest import LiveServer, sign_in
from tracker.domain.deadlines import LOCAL_TZ
from tracker.models import Order
from tracker.services.accounts.actors import Actor
from tracker.services.orders.actions import Context, NewOrder, create_order
from tracker.services.orders.calendar import load_calendar
from tracker.services.orders.rules import rule_table

ORDER_LINKS = "table#orders tbody a[href^='/orders/']"


def street_column(page: Page) -> list[str]:
    """The 街镇 column of the order list as shown."""
    return [text.strip() for text in page.locator("table#orders tbody tr td:nth-child(3)").all_text_contents()]


def first_order_offering(page: Page, server: LiveServer, list_query: str, *actions: str) -> str:
    """Open the orders of a filtered list one by one; the detail URL of the first that offers all ``actions``."""
    page.goto(server.at(f"/?{list_query}"))
    links = [href for href in (a.get_attribute("href") for a in page.locator(ORDER_LINKS).all()) if href]
    assert links, f"the demo has no order for /?{list_query}"
    for href in links:
        page.goto(server.at(href))
        if all(page.locator(f"form#action-{action}").count() for action in actions):
            return page.url
    raise AssertionError(f"no order of /?{list_query} offers {actions}")


def timeline_row(page: Page, action_label: str) -> str:
    """The text of the newest timeline row of an action (rows are oldest first)."""
    rows = page.locator("table#timeline tbody tr").filter(
        has=page.locator("td:nth-child(2)", has_text=re.compile(f"^{action_label}$"))
    )
    expect(rows.last).to_be_visible()
    return rows.last.inner_text()


def an_order_of(server: LiveServer, street: str) -> int:
    """The id of some order of ``street`` in the live server's database."""
    with Session(server.engine) as session:
        order_id = session.exec(select(Order.id).where(Order.street == street).order_by(col(Order.id))).first()
    assert order_id is not None, f"the demo has no order of {street}"
    return order_id


def test_squad_records_contact_and_closes_an_order_of_its_street(page: Page, live_server: LiveServer) -> None:
    sign_in(page, live_server, "jingansi")
    streets = street_column(page)
    assert streets and set(streets) == {"静安寺街道"}, streets
    assert page.locator("select[name=street] option").all_text_contents() == ["本街镇", "静安寺街道"]

    detail = first_order_offering(page, live_server, "state=handling", "first_contact", "close")
    expect(page.locator("h1")).to_contain_text("处置中")
    contact = page.locator("form#action-first_contact")
    contact.locator("select[name=contact_result]").select_option("已联")
    contact.locator("input[name=contact_person]").fill("张三")
    contact.locator("textarea[name=note]").fill("电话联系诉求人，约定今日下午到场")
    contact.locator("button[type=submit]").click()

    expect(page.locator("p.flash")).to_have_text("已先行联系。")
    assert page.url == detail
    assert "约定今日下午到场" in timeline_row(page, "先行联系")
    expect(page.locator("#order-fields")).to_contain_text("已联")

    close = page.locator("form#action-close")
    close.locator("textarea[name=reply]").fill("经现场核查，已责令商户清理占道堆物，并回访诉求人。")
    close.locator("select[name=verdict]").select_option("实际解决")
    close.locator("select[name=reply_method]").select_option("电话")
    close.locator("button[type=submit]").click()

    expect(page.locator("p.flash")).to_have_text("已办结。")
    expect(page.locator("h1")).to_contain_text("已办结")
    assert "处置中 → 已办结" in timeline_row(page, "办结")
    expect(page.locator("#order-fields")).to_contain_text("已责令商户清理占道堆物")
    assert page.locator("form#action-close").count() == 0


def test_squad_sees_the_chinese_404_for_an_order_of_another_street(page: Page, live_server: LiveServer) -> None:
    sign_in(page, live_server, "jingansi")
    other = page.goto(live_server.at(f"/orders/{an_order_of(live_server, '曹家渡街道')}"))
    assert other is not None and other.status == 404
    expect(page.locator("h1")).to_have_text("页面不存在")
    expect(page.locator("main")).to_contain_text("您要找的工单或页面不存在。")
    hidden = page.locator("main").inner_text()
    assert "曹家渡街道" not in page.content() and "Not Found" not in hidden

    missing = page.goto(live_server.at("/orders/999999"))
    assert missing is not None and missing.status == 404
    assert page.locator("main").inner_text() == hidden  # out of scope looks exactly like missing


def test_supervisor_approves_a_return(page: Page, live_server: LiveServer) -> None:
    sign_in(page, live_server, "duchao")
    detail = first_order_offering(page, live_server, "state=return_requested", "approve_return")
    expect(page.locator("h1")).to_contain_text("退单审核中")
    approve = page.locator("form#action-approve_return")
    approve.locator("textarea[name=note]").fill("经核实确非本辖区，同意退单")
    approve.locator("button[type=submit]").click()

    expect(page.locator("p.flash")).to_have_text("已批准退单。")
    assert page.url == detail
    expect(page.locator("h1")).to_contain_text("已退单")
    assert "退单审核中 → 已退单" in timeline_row(page, "批准退单")
    assert page.locator("form#action-approve_return").count() == 0


def chengguan_export(order_no: str, dispatched: datetime) -> bytes:
    """A one-row export in the 城管诉件 layout (the sample's headers), as the platform writes it."""
    when = dispatched.astimezone(LOCAL_TZ)
    row = {
        "工单编号": order_no,
        "受理时间": (when - timedelta(minutes=20)).strftime("%Y/%m/%d %H:%M"),
        "派单时间": when.strftime("%Y/%m/%d %H:%M"),
        "诉求类型": "投诉举报",
        "问题分类": "占道经营",
        "紧急程度": "普通",
        "诉求内容": "华山路口早点摊占用人行道经营。",
        "地址": "上海市静安区华山路 2 号",
        "所属街镇": "静安寺街道",
        "承办单位": "静安寺街道综合行政执法队",
        "诉求人": "陈先生",
        "联系电话": "13800001234",
        "工单状态": "待签收",
    }
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(row))
    writer.writeheader()
    writer.writerow(row)
    return out.getvalue().encode("utf-8")


def test_administrator_uploads_an_export_checks_the_dry_run_and_commits_it(page: Page, live_server: LiveServer) -> None:
    order_no = "CG20261199001"
    sign_in(page, live_server, "admin")
    page.locator("nav.top a", has_text="导入").click()
    form = page.locator("form#upload-form")
    form.locator("input[name=file]").set_input_files(
        files=[
            {
                "name": "城管诉件导出_浏览器测试.csv",
                "mimeType": "text/csv",
                "buffer": chengguan_export(order_no, datetime.now(UTC) - timedelta(hours=2)),
            }
        ]
    )
    form.locator("select[name=profile]").select_option("城管诉件")
    form.locator("button[type=submit]").click()

    expect(page.locator("h1")).to_contain_text("试导入报告：城管诉件导出_浏览器测试.csv")
    counts = page.locator("#counts")
    expect(counts).to_contain_text("读取 1 行")
    expect(counts).to_contain_text("将新建 1 件")
    expect(counts).to_contain_text("拒绝 0 行")
    expect(counts).to_contain_text("冲突 0 行")
    report = page.url

    page.goto(live_server.at(f"/?q={order_no}"))  # the dry run saved nothing
    expect(page.locator("table#orders tbody")).to_contain_text("没有符合条件的工单")

    page.goto(report)
    page.locator("form#commit-form button[type=submit]").click()
    expect(page.locator("p.flash")).to_contain_text("已导入。")
    expect(page.locator("#counts")).to_contain_text("新建 1 件")

    page.goto(live_server.at(f"/?q={order_no}"))
    row = page.locator("table#orders tbody tr", has_text=order_no)
    expect(row).to_have_count(1)
    expect(row).to_contain_text("静安寺街道")
    expect(row).to_contain_text("待签收")
    row.locator("a", has_text=order_no).click()
    expect(page.locator("#content")).to_have_text("华山路口早点摊占用人行道经营。")
    expect(page.locator("#order-fields")).to_contain_text("138****1234")


XSS = (
    "<script>window.__xss=1</script>",
    '<img src=x onerror="window.__xss=2">',
    "</script><script>window.__xss=3</script>",
)


def create_hostile_order(server: LiveServer) -> int:
    """An order of 静安寺街道 whose content, category and address carry script, as an export might."""
    now = datetime.now(UTC)
    payload = " ".join(XSS)
    with Session(server.engine, expire_on_commit=False) as session:
        ctx = Context(Actor.importer("xss"), now, load_calendar(session), rule_table(session))
        data = NewOrder(
            source="12345",
            order_no="XSS202611260001",
            dispatched_at=now - timedelta(hours=1),
            request_type="投诉举报",
            category=f"乱设摊{XSS[1]}",
            content=f"门口夜间噪声扰民。{payload}",
            address=f"常德路 1 号{XSS[0]}",
            street="静安寺街道",
        )
        order = create_order(session, data=data, ctx=ctx)
        session.commit()
    assert order.id is not None
    return order.id


def test_hostile_text_is_shown_as_text_and_never_runs(page: Page, live_server: LiveServer) -> None:
    order_id = create_hostile_order(live_server)
    dialogs: list[str] = []

    def record(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", record)
    sign_in(page, live_server, "jingansi")

    response = page.goto(live_server.at("/?q=XSS202611260001"))
    assert response is not None
    csp = response.headers.get("content-security-policy", "")
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp, csp
    row = page.locator("table#orders tbody tr", has_text="XSS202611260001")
    expect(row).to_have_count(1)
    assert f"乱设摊{XSS[1]}" in (row.text_content() or "")

    response = page.goto(live_server.at(f"/orders/{order_id}"))
    assert response is not None and response.status == 200
    assert "script-src 'self'" in response.headers.get("content-security-policy", "")
    content = page.locator("#content").text_content() or ""
    for text in XSS:
        assert text in content
    assert XSS[0] in (page.locator("#order-fields").text_content() or "")  # the address
    assert page.locator("#order-fields script, #order-fields img, table#orders img").count() == 0
    assert page.locator("script:not([src])").count() == 0  # scripts come from static files only

    assert page.evaluate("typeof window.__xss") == "undefined"
    page.goto(live_server.at("/?q=XSS202611260001"))
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert dialogs == []


def test_after_sign_out_back_and_reload_land_on_the_login_page(page: Page, live_server: LiveServer) -> None:
    sign_in(page, live_server, "jingansi")
    page.goto(live_server.at("/?state=handling"))
    expect(page.locator("table#orders")).to_be_visible()
    list_url = page.url

    page.locator("nav.top button", has_text="退出").click()
    expect(page.locator("p.flash")).to_have_text("已退出登录。")
    assert page.url.startswith(live_server.at("/login"))

    page.go_back()
    expect(page.locator("input[name=password]")).to_be_visible()
    assert page.url.startswith(live_server.at("/login")), page.url
    assert page.locator("table#orders").count() == 0

    page.goto(list_url)
    page.reload()
    expect(page.locator("input[name=password]")).to_be_visible()
    assert page.locator("table#orders").count() == 0
    assert "静安寺街道" not in page.content()
