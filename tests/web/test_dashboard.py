"""The 统计 page: every role sees it, filters, bad input named in Chinese, squad scope, drill-down links, no inline script."""

from __future__ import annotations

import json
import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import time_machine

from tests.helpers import local

NOW = local("2026-11-26 10:00")
OTHER_STREETS = ("曹家渡街道", "江宁路街道", "南京西路街道", "芷江西路街道", "彭浦镇")


def load_demo(runner) -> None:  # type: ignore[no-untyped-def]
    result = runner.invoke(args=["demo-load", "--now", "2026-11-26T10:00"])
    assert result.exit_code == 0, result.output


def figures(page: str) -> dict[str, dict]:  # type: ignore[type-arg]
    """Every chart's figure on the page, by element id."""
    return {
        element: json.loads(unescape(payload))
        for element, payload in re.findall(
            r'<div class="chart" id="([^"]+)" data-height="\d+" data-figure="([^"]*)"', page
        )
    }


def cell(page: str, row_id: str) -> int:
    """The number in the linked cell of a table row."""
    match = re.search(rf'<tr id="{row_id}"[^>]*>.*?<a href="[^"]*">(\d+)</a>', page, re.S)
    assert match, row_id
    return int(match.group(1))


def links(page: str) -> list[str]:
    return [unescape(u) for u in re.findall(r'href="(/\?[^"]*)"', page)]


@time_machine.travel(NOW, tick=False)
def test_every_role_sees_the_dashboard_with_charts_and_tables(client, as_role, runner) -> None:  # type: ignore[no-untyped-def]
    load_demo(runner)
    for role in ("admin", "supervisor", "squad"):
        page = as_role(role).get("/dashboard/")
        assert page.status_code == 200
        text = page.get_data(as_text=True)
        assert '<a href="/dashboard/">统计</a>' in text
        assert {"chart-states", "chart-levels", "chart-intake", "chart-rates", "chart-trend"} <= set(figures(text))
        assert "/vendor/plotly.min.js" in text and "charts.js" in text
        assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text) is None  # no inline script
        assert " style=" not in text
        for basis in (
            "先行联系率：先行联系期限日期",
            "实际解决率：办结日期",
            "退单率：派单日期",
            "按时办结率：办结期限日期",
        ):
            assert basis in text
        assert 'value="2026-10-28"' in text and 'value="2026-11-26"' in text  # the last 30 days


@time_machine.travel(NOW, tick=False)
def test_numbers_in_tables_match_the_order_list_they_link_to(as_role, runner) -> None:  # type: ignore[no-untyped-def]
    load_demo(runner)
    client = as_role("supervisor")
    page = client.get("/dashboard/?from=2026-10-01&to=2026-11-26").get_data(as_text=True)
    handling = cell(page, "state-handling")
    assert handling > 0
    url = re.search(r'<tr id="state-handling">.*?<a href="([^"]+)"', page, re.S)
    assert url
    listed = client.get(unescape(url.group(1))).get_data(as_text=True)
    assert f"共 {handling} 件" in listed  # the list behind the number shows exactly that many orders
    query = parse_qs(urlsplit(unescape(url.group(1))).query)
    assert query == {"dispatched_from": ["2026-10-01"], "dispatched_to": ["2026-11-26"], "state": ["handling"]}
    figure = figures(page)["chart-states"]["data"][0]
    assert handling in figure["y"] and unescape(url.group(1)) in figure["customdata"]
    red = re.search(r'<tr id="level-red".*?data-kind="orders"><a href="([^"]+)">(\d+)</a>', page, re.S)
    assert red and int(red.group(2)) > 0
    assert f"共 {red.group(2)} 件" in client.get(unescape(red.group(1))).get_data(as_text=True)
    overdue_cell = re.search(r'<td class="num" data-stage="closure"><a href="([^"]+)">([1-9]\d*)</a>', page)
    assert overdue_cell
    assert f"共 {overdue_cell.group(2)} 件" in client.get(unescape(overdue_cell.group(1))).get_data(as_text=True)
    overdue = figures(page)["chart-overdue"]
    assert overdue["layout"]["barmode"] == "stack"
    assert all(u.startswith("/?") and "level=red" in u for trace in overdue["data"] for u in trace["customdata"])


@time_machine.travel(NOW, tick=False)
def test_filters_narrow_every_chart_and_its_links(as_role, runner) -> None:  # type: ignore[no-untyped-def]
    load_demo(runner)
    client = as_role("supervisor")
    everything = client.get("/dashboard/?from=2026-10-01&to=2026-11-26").get_data(as_text=True)
    one = client.get("/dashboard/?from=2026-10-01&to=2026-11-26&street=曹家渡街道&category=违法搭建").get_data(
        as_text=True
    )
    total = int(re.search(r'id="intake-total-link" href="[^"]*">(\d+)<', everything).group(1))  # type: ignore[union-attr]
    narrowed = int(re.search(r'id="intake-total-link" href="[^"]*">(\d+)<', one).group(1))  # type: ignore[union-attr]
    assert 0 <= narrowed < total
    assert all("street=%E6%9B%B9%E5%AE%B6%E6%B8%A1%E8%A1%97%E9%81%93" in u for u in links(one) if "state=" in u)
    assert all("category=" in u for u in links(one) if "state=" in u)
    assert "实时计算" in one  # a category is not in the nightly snapshot
    rates = figures(one)["chart-rates"]
    assert rates["layout"]["title"]["text"].startswith("曹家渡街道") and not rates["layout"].get("shapes")


@time_machine.travel(NOW, tick=False)
def test_bad_dates_and_periods_get_a_chinese_message_naming_the_field_and_value(as_role, runner) -> None:  # type: ignore[no-untyped-def]
    load_demo(runner)
    client = as_role("supervisor")
    page = client.get("/dashboard/?from=2026-13-45").get_data(as_text=True)
    assert "统计期间自" in page and "2026-13-45" in page and "不是有效日期" in page
    assert 'value="2026-10-28"' in page  # the default used instead
    page = client.get("/dashboard/?from=2026-11-20&to=2026-11-01").get_data(as_text=True)
    assert "「2026-11-01」早于" in page and "「2026-11-20」" in page and "已改用默认期间" in page
    page = client.get("/dashboard/?from=2020-01-01&to=2026-11-26").get_data(as_text=True)
    assert "超过 366 天" in page
    page = client.get("/dashboard/?to=<script>x</script>").get_data(as_text=True)
    assert "<script>x" not in page and "&lt;script&gt;x" in page
    good = client.get("/dashboard/?from=2026-11-01&to=2026-11-10").get_data(as_text=True)
    assert "不是有效日期" not in good and 'value="2026-11-01"' in good and 'id="intake-2026-11-10"' in good
    assert 'id="intake-2026-11-11"' not in good


@time_machine.travel(NOW, tick=False)
def test_a_squad_sees_only_its_street_even_when_asking_for_another(as_role, runner) -> None:  # type: ignore[no-untyped-def]
    load_demo(runner)
    client = as_role("squad")
    for url in (
        "/dashboard/?from=2026-10-01&to=2026-11-26",
        "/dashboard/?from=2026-10-01&to=2026-11-26&street=曹家渡街道",
    ):
        page = client.get(url).get_data(as_text=True)
        assert "静安寺街道" in page
        data = json.dumps(figures(page), ensure_ascii=False) + " ".join(links(page))
        for other in OTHER_STREETS:
            assert other not in data, other
        tables = page[page.index('id="states-table"') :]
        for other in OTHER_STREETS:
            assert other not in tables.replace(f"「{other}」", ""), other
        assert figures(page)["chart-rates"]["layout"]["title"]["text"].startswith("静安寺街道")
    asked = client.get("/dashboard/?from=2026-10-01&to=2026-11-26&street=曹家渡街道").get_data(as_text=True)
    assert "「曹家渡街道」不在您可查看的街镇中" in asked
    own = client.get("/dashboard/?from=2026-10-01&to=2026-11-26").get_data(as_text=True)
    assert cell(asked, "state-handling") == cell(own, "state-handling")
    other = as_role("other_squad").get("/dashboard/?from=2026-10-01&to=2026-11-26").get_data(as_text=True)
    assert "静安寺街道" not in json.dumps(figures(other), ensure_ascii=False)


def test_signed_out_goes_to_the_login_page(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/dashboard/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
