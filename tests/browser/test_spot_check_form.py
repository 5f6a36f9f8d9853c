"""The spot-check plan form in a real browser: the defaults draw a proportional sample of the size the preview states,
the form shows one size input and searchable checkbox lists, and after a 重办 from the plan 核验 says the draw
reproduces (the population changed only through that recorded event)."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.browser.conftest import LiveServer, sign_in
from tests.browser.test_spot_checks import review


def stated_strata(page: Page) -> dict[str, int]:
    """Stratum → sample size, as the preview states it."""
    rows = page.locator("table#preview-strata tbody tr")
    found = {}
    for row in rows.all():
        cells = [c.strip() for c in row.locator("td").all_text_contents()]
        found[cells[0]] = int(cells[2]) + int(cells[3])
    return found


def test_defaults_draw_the_stated_proportional_sample_and_a_redo_keeps_it_reproducible(
    page: Page, live_server: LiveServer
) -> None:
    sign_in(page, live_server, "duchao")
    page.locator("nav.top a", has_text="质量抽查").click()
    page.locator("a#new-plan").click()
    form = page.locator("form#plan-form")

    # one size input, the chosen rule's; switching the rule switches the input
    expect(form.locator("select[name=allocation]")).to_have_value("proportional")
    expect(form.locator("input[name=size_percent]")).to_be_visible()
    expect(form.locator("input[name=size_fixed]")).to_be_hidden()
    expect(form.locator("input[name=margin_percent]")).to_be_hidden()
    form.locator("select[name=size_kind]").select_option(label="固定件数")
    expect(form.locator("input[name=size_fixed]")).to_be_visible()
    expect(form.locator("input[name=size_percent]")).to_be_hidden()
    form.locator("select[name=size_kind]").select_option(label="按比例")

    # checkbox lists with a search box, no multi-select (typing narrows the list; nothing is ticked by it)
    assert page.locator("select[multiple]").count() == 0
    streets = page.locator("#checklist-street")
    search = streets.locator("input.checklist-search")
    expect(search).to_be_visible()
    total = streets.locator("label.check-option").count()
    assert total > 6
    search.fill("静安")
    expect(streets.locator("label.check-option:visible")).to_have_count(1)
    search.fill("")
    expect(streets.locator("label.check-option:visible")).to_have_count(total)
    assert streets.locator("input:checked").count() == 0

    # the defaults, previewed: the size per stratum and in total, then drawn
    form.locator("button#preview-button").click()
    expect(page.locator("h2#preview")).to_be_visible()
    assert page.locator("#census-warning").count() == 0
    population = int(page.locator("#preview-population").inner_text())
    stated = int(page.locator("#preview-sample").inner_text())
    per_stratum = stated_strata(page)
    assert 0 < stated < population and sum(per_stratum.values()) == stated
    # domain.md §6 as the bureau states it: on a small month the minimum takes whole squads, and the preview says so
    text = page.locator("main").inner_text()
    assert "按执法队分层抽样，共抽取 5%，按比例分配，每层至少 10 件" in text and "（全部）" in text
    page.locator("form#draw-form button#draw-button").click()
    expect(page.locator("p.flash").first).to_contain_text(f"已抽取样本：{stated} 件（总体 {population} 件")
    plan_url = page.url
    assert re.search(r"/spot-checks/plans/\d+$", plan_url)
    expect(page.locator("table#items tbody tr")).to_have_count(stated)
    drawn = {row[0]: (int(row[2]) + int(row[3])) for row in _strata_rows(page)}
    assert drawn == per_stratum

    # technical evidence behind a fold
    details = page.locator("details#technical-details")
    expect(details.locator("code#digest")).to_be_hidden()
    details.locator("summary").click()
    expect(details.locator("code#digest")).to_be_visible()

    # a failed review starts a 重办 from the plan; 核验 then says the draw reproduces
    href = page.locator("table#items tbody tr td:first-child a").first.get_attribute("href")
    assert href
    page.goto(live_server.at(href))
    order_no = re.search(r"评查 工单 (\S+)（", page.locator("h1").inner_text())
    assert order_no
    review(page, hard_fail="答复与事实不符")
    redo = page.locator("form#redo-form")
    redo.locator("textarea[name=reason]").fill("答复与现场不符，请重新核查并如实答复")
    redo.locator("button[type=submit]").click()
    expect(page.locator("p.flash").first).to_contain_text("已发起重办")
    page.goto(plan_url)
    page.locator("a#verify-link").click()
    expect(page.locator("#verdict")).to_have_text("可复现")
    message = page.locator("#verification-message").inner_text()
    assert "本计划发起重办的 1 件工单" in message and order_no[1] in message, message
    assert "不同" not in message
    assert page.locator("#verification.error").count() == 0


def _strata_rows(page: Page) -> list[list[str]]:
    return [
        [c.strip() for c in row.locator("td").all_text_contents()]
        for row in page.locator("table#strata tbody tr").all()
    ]
