"""The 统计 charts as the browser draws them: Chinese tick labels, a month axis for the monthly trend, the streets'
rates as sorted horizontal bars with the district line, and a squad's view without district comparisons.

The full-page screenshots are kept as artifacts (TRACKER_BROWSER_ARTIFACTS, else pytest's temporary folder);
the ones in docs/screenshots/issue15/ were taken by this test (after) and on the commit before it (before).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page

from tests.browser.conftest import LiveServer, sign_in

CJK = re.compile(r"[\u4e00-\u9fff]")
ENGLISH_MONTH = re.compile(r"\b(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\b")


@pytest.fixture
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where this run's screenshots go."""
    chosen = os.environ.get("TRACKER_BROWSER_ARTIFACTS", "").strip()
    folder = Path(chosen) if chosen else tmp_path_factory.getbasetemp() / "artifacts" / "issue15"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def drawn(page: Page) -> None:
    """Wait until every chart on the page is drawn."""
    count = page.locator("div.chart[data-figure]").count()
    assert count > 0
    page.wait_for_function("n => document.querySelectorAll('div.chart[data-drawn]').length === n", arg=count)


def ticks(page: Page, chart: str, axis: str = "xtick") -> list[str]:
    return [t.strip() for t in page.locator(f"#{chart} .{axis} text").all_text_contents() if t.strip()]


def figure(page: Page, chart: str) -> dict:  # type: ignore[type-arg]
    return json.loads(page.get_attribute(f"#{chart}", "data-figure") or "{}")


def test_supervisor_charts_read_in_chinese(page: Page, live_server: LiveServer, artifacts: Path) -> None:
    sign_in(page, live_server, "duchao")
    page.goto(live_server.at("/dashboard/?from=2026-09-01"))
    drawn(page)
    day_ticks = ticks(page, "chart-intake")
    assert day_ticks and all("月" in t and "日" in t for t in day_ticks), day_ticks
    month_ticks = ticks(page, "chart-trend")
    assert month_ticks and all(re.fullmatch(r"\d{4}年\d{1,2}月", t) for t in month_ticks), month_ticks
    assert len(month_ticks) == len(set(month_ticks))  # one tick per month, no day ticks in between
    every = " ".join(t for chart in ("chart-intake", "chart-trend", "chart-rates") for t in ticks(page, chart))
    assert not ENGLISH_MONTH.search(every), every

    rates = figure(page, "chart-rates")
    bars = [trace for trace in rates["data"] if trace["type"] == "bar"]
    assert bars and all(trace["orientation"] == "h" for trace in bars)
    for trace in bars:  # sorted: the best street on top (the last category of a horizontal bar chart)
        values = [v for v in trace["x"] if v is not None]
        assert values == sorted(values)
    assert any(shape.get("line", {}).get("dash") == "dash" for shape in rates["layout"]["shapes"])
    assert page.locator("#chart-rates").get_by_text(re.compile(r"^全区 ")).count() > 0
    assert "（alert 表）" not in page.content()
    page.screenshot(path=str(artifacts / "dashboard-after.png"), full_page=True)


def test_a_squad_sees_its_own_street_without_district_comparisons(
    page: Page, live_server: LiveServer, artifacts: Path
) -> None:
    sign_in(page, live_server, "jingansi")
    page.goto(live_server.at("/dashboard/"))
    drawn(page)
    rates = figure(page, "chart-rates")
    assert "各街镇" not in rates["layout"]["title"]["text"] and "静安寺街道" in rates["layout"]["title"]["text"]
    assert not rates["layout"].get("shapes")  # no district line
    assert page.locator("#rates-table tr.total").count() == 0  # no 合计 row repeating the one street
    assert page.locator("#rates-table tbody tr").count() == 1
    assert "各街镇" not in page.locator("h2").all_text_contents().__str__()
    assert all(CJK.search(t) for t in ticks(page, "chart-rates", "ytick"))
    page.screenshot(path=str(artifacts / "dashboard-squad-after.png"), full_page=True)
