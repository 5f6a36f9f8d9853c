"""Quality spot checks in a real browser: a supervisor draws a stratified plan, reviews, starts a redo, reads results.

The demo is loaded as of the current minute (see conftest), so its closed orders were closed within the
last weeks: a closure period of the last 120 days holds all of them.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from datetime import datetime, timedelta

from playwright.sync_api import ConsoleMessage, Error, Page, expect
from sqlmodel import Session, col, select

from tests.browser.conftest import LiveServer, sign_in
from tracker.domain.deadlines import LOCAL_TZ
from tracker.models import Order

# The only console errors allowed: Chromium logs each page answered 403, which the squad is meant to get. (plotly.js's
# inline <style> at load, once allowed here, no longer happens: see tracker/web/charts.py and test_csp.py.)
REFUSED = re.compile(r"^Failed to load resource: the server responded with a status of 403 \(FORBIDDEN\)$")
MINIMUM_PER_STRATUM = 3
SEED = "browser-test-2026"
PLAN_NAME = "浏览器测试抽查"


def wilson(successes: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """The 95% Wilson interval, computed here independently of the app."""
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def closed_orders(server: LiveServer) -> list[tuple[str, str, int]]:
    """(street, satisfaction, returns) of every closed order in the live server's database.

    Every one was closed within the last 120 days, so this is the plan's population.
    """
    with Session(server.engine) as session:
        found = session.exec(
            select(Order.street, Order.satisfaction, Order.return_count).where(
                Order.state == "closed", col(Order.closed_at).is_not(None)
            )
        ).all()
    return [(street or "", satisfaction or "", returns or 0) for street, satisfaction, returns in found]


def cells(page: Page, row_selector: str) -> list[str]:
    """The cells of a table row as shown."""
    return [text.strip() for text in page.locator(f"{row_selector} td").all_text_contents()]


def street_chart(page: Page) -> tuple[list[str], list[float], list[str]]:
    """Wait until charts.js has drawn the by-street chart; its bars (street, pass rate %, label) as plotly holds them."""
    drawn = page.locator("div.chart#chart-street[data-drawn='1']")
    expect(drawn).to_have_count(1)
    assert drawn.locator("svg.main-svg").count() > 0
    trace = page.evaluate("() => document.getElementById('chart-street').data[0]")
    return list(trace["x"]), [float(y) for y in trace["y"]], list(trace["text"])


def review(page: Page, *, hard_fail: str | None = None) -> None:
    """Mark every checklist item 符合 (and tick ``hard_fail`` if given), then save."""
    form = page.locator("form#review-form")
    rows = form.locator("tbody tr[id^='check-']")
    assert rows.count() >= 5
    for row in rows.all():
        row.get_by_label("符合", exact=True).check()
    if hard_fail:
        form.locator("#hard-fails").get_by_label(hard_fail).check()
        form.locator("textarea[name=comment]").fill("答复称已清理，现场照片显示摊位仍在。")
    form.locator("button#save-review").click()


def draw_plan(page: Page, server: LiveServer) -> tuple[str, int]:
    """Through the form: preview a plan over the last 120 days' closures, check the strata, draw it; (URL, size)."""
    page.locator("a#new-plan").click()
    today = datetime.now(LOCAL_TZ).date()
    form = page.locator("form#plan-form")
    form.locator("input[name=name]").fill(PLAN_NAME)
    form.locator("input[name=closed_from]").fill((today - timedelta(days=120)).isoformat())
    form.locator("input[name=closed_to]").fill(today.isoformat())
    form.locator("select[name=stratify_by]").select_option(label="街镇")
    form.locator("select[name=allocation]").select_option(label="按比例分配")
    form.locator("input[name=minimum_per_stratum]").fill(str(MINIMUM_PER_STRATUM))
    form.locator("select[name=size_kind]").select_option(label="按比例")
    form.locator("input[name=size_percent]").fill("10")
    form.get_by_label("全部回访不满意件").check()
    form.get_by_label("全部有退单件").check()
    form.get_by_label("全部重复诉件").uncheck()
    form.locator("input[name=seed]").fill(SEED)  # with a seed the preview shows exactly what will be drawn
    form.locator("button#preview-button").click()

    expect(page.locator("h2#preview")).to_be_visible()
    closed = closed_orders(server)
    expected = Counter(street for street, _, _ in closed)
    population = int(page.locator("#preview-population").inner_text())
    assert population == sum(expected.values()) > 0
    shown = page.locator("table#preview-strata tbody tr")
    assert shown.count() == len(expected)
    strata = {
        row[0]: (int(row[1]), int(row[2]))
        for row in (cells(page, f"table#preview-strata tbody tr:nth-child({i + 1})") for i in range(shown.count()))
    }
    assert {street: count for street, (count, _) in strata.items()} == dict(expected)
    assert all(planned >= min(MINIMUM_PER_STRATUM, count) for count, planned in strata.values()), strata
    preview = page.locator("main").inner_text()
    assert "按街镇分层抽样" in preview
    unsatisfied = sum(1 for _, satisfaction, _ in closed if satisfaction == "不满意")
    returned = sum(1 for _, _, returns in closed if returns > 0)
    assert unsatisfied and returned
    assert f"回访不满意 {unsatisfied} 件" in preview and f"有退单 {returned} 件" in preview, preview
    sample = int(page.locator("#preview-sample").inner_text())

    page.locator("form#draw-form button#draw-button").click()
    expect(page.locator("h1")).to_have_text(PLAN_NAME)
    expect(page.locator("p.flash").first).to_have_text(
        f"已抽取样本：{sample} 件（总体 {population} 件，随机种子 {SEED}）。"
    )
    expect(page.locator("code#seed")).to_have_text(SEED)
    assert re.search(r"/spot-checks/plans/\d+$", page.url), page.url
    assert page.locator("table#items tbody tr").count() == sample
    return page.url, sample


def random_items_of_one_street(page: Page) -> tuple[str, list[str]]:
    """On the plan page: a street with three orders drawn only at random, and their review URLs."""
    by_street: dict[str, list[str]] = {}
    for row in page.locator("table#items tbody tr").all():
        street, why = (row.locator(f"td:nth-child({n})").inner_text().strip() for n in (2, 5))
        if why == "随机抽取":
            by_street.setdefault(street, []).append(row.locator("td:first-child a").get_attribute("href") or "")
    street, links = next((s, hrefs) for s, hrefs in by_street.items() if len(hrefs) >= 3)
    return street, links[:3]


def test_supervisor_draws_reviews_fails_and_redoes_and_a_squad_is_refused(page: Page, live_server: LiveServer) -> None:
    console: list[tuple[str, str, str]] = []  # (type, text, source URL) of every error or warning

    def record(message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            console.append((message.type, message.text, message.location.get("url", "")))

    page.on("console", record)
    page_errors: list[str] = []

    def crashed(error: Error) -> None:
        page_errors.append(f"{error.name}: {error.message}")

    page.on("pageerror", crashed)

    # -- draw a plan: last 120 days of closures, by street, proportional with a minimum, two risk inclusions
    sign_in(page, live_server, "duchao")
    page.locator("nav.top a", has_text="质量抽查").click()
    expect(page.locator("h1")).to_have_text("诉件质量抽查")
    plan_url, total = draw_plan(page, live_server)
    expect(page.locator("#progress")).to_contain_text(f"已评查 0 / {total} 件")
    reasons = page.locator("table#items tbody tr td:nth-child(5)").all_text_contents()
    assert any("回访不满意" in r for r in reasons) and any("有退单" in r for r in reasons), reasons
    street, chosen = random_items_of_one_street(page)

    # -- before any review: the results have nothing to estimate and no chart
    page.locator("#progress a", has_text="查看结果").click()
    expect(page.locator("#overall-rate")).to_have_text("—（n=0，95%区间 0%–100%）")
    expect(page.locator("table#by-street tbody")).to_contain_text("暂无已评查的工单。")
    assert page.locator("div.chart").count() == 0

    # -- two reviews with every item 符合
    for href in chosen[:2]:
        page.goto(live_server.at(href))
        review(page)
        expect(page.locator("p.flash").first).to_have_text("已保存评查：100 分，优秀。")
        expect(page.locator("#result")).to_contain_text("优秀（合格）")
        assert page.locator("form#redo-form").count() == 0

    page.goto(plan_url + "/results")
    expect(page.locator("#overall-rate")).to_contain_text("100.0%（n=2，")
    before = street_chart(page)
    assert before == ([street], [100.0], ["n=2"])

    # -- the third fails on a hard fail (score 100 but 不合格) and starts a redo from the review
    page.goto(live_server.at(chosen[2]))
    order_no = re.search(r"评查 工单 (\S+)（", page.locator("h1").inner_text())
    assert order_no is not None
    expect(page.locator("h1")).to_contain_text("（已办结，第 1 轮）")
    review(page, hard_fail="答复与事实不符")
    expect(page.locator("p.flash").first).to_have_text("已保存评查：100 分，不合格。")
    expect(page.locator("#result")).to_contain_text("不合格（不合格）")
    redo = page.locator("form#redo-form")
    redo.locator("textarea[name=reason]").fill("答复与现场不符，请重新核查并如实答复")
    redo.locator("button[type=submit]").click()
    expect(page.locator("p.flash").first).to_have_text(f"已发起重办：工单「{order_no[1]}」进入第 2 轮办理。")
    expect(page.locator("h1")).to_contain_text("（处置中，第 2 轮）")
    expect(page.locator("#redo-refusal")).to_have_text("已因本次抽查发起过重办。")

    page.locator("#order-facts a", has_text="工单页").click()
    expect(page.locator("h1")).to_have_text(f"工单 {order_no[1]}（处置中，第 2 轮）")
    timeline = page.locator("table#timeline tbody tr", has_text="重办")
    expect(timeline.last).to_contain_text("已办结 → 处置中")
    expect(timeline.last).to_contain_text("质量抽查不合格：答复与现场不符")

    page.goto(plan_url)
    expect(page.locator("#progress")).to_contain_text(f"已评查 3 / {total} 件")
    expect(page.locator("#progress")).to_contain_text("合格 2 件，不合格 1 件")

    # -- results: 2 of 3 with n and the Wilson interval, in the table and in the redrawn chart
    page.goto(plan_url + "/results")
    low, high = wilson(2, 3)
    rate = f"66.7%（n=3，95%区间 {low:.1%}–{high:.1%}）"
    expect(page.locator("#overall-rate")).to_have_text(rate)
    expect(page.locator("#progress")).to_contain_text(f"已评查 3 / {total} 件")
    expect(page.locator("table#by-street tbody tr")).to_have_count(1)
    assert cells(page, "table#by-street tbody tr")[:3] == [street, "3", rate]
    after = street_chart(page)
    assert after == ([street], [66.67], ["n=3"])
    assert after != before
    assert page.locator("#chart-street svg text", has_text="n=3").count() >= 1
    expect(page.locator("table#failing")).to_contain_text("否决项：答复与事实不符")

    # -- a squad user: no 质量抽查 in the nav, and the plan answers the Chinese 403 page
    page.locator("nav.top button", has_text="退出").click()
    sign_in(page, live_server, "jingansi")
    assert "质量抽查" not in page.locator("nav.top a").all_text_contents()
    refused = page.goto(plan_url)
    assert refused is not None and refused.status == 403
    expect(page.locator("h1")).to_have_text("无权访问")
    expect(page.locator("main p.error")).to_have_text("请求无法完成。")
    assert PLAN_NAME not in page.content()
    refused_urls = [plan_url, live_server.at("/spot-checks/"), plan_url + "/results", live_server.at(chosen[2])]
    for url in refused_urls[1:]:
        other = page.goto(url)
        assert other is not None and other.status == 403, url
        expect(page.locator("h1")).to_have_text("无权访问")

    assert not page_errors, page_errors
    unexpected = [
        (kind, text, url)
        for kind, text, url in console
        if not (kind == "error" and REFUSED.search(text) and url in refused_urls)
    ]
    assert not unexpected, unexpected
    assert sorted(url for _, text, url in console if REFUSED.search(text)) == sorted(refused_urls)
