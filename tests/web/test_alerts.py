"""The 逾期预警 page: open alerts in the viewer's scope, red first, acknowledge, the count and the latest digest."""

from __future__ import annotations

import re
from datetime import date

import time_machine
from sqlmodel import Session, col, select

from tests.helpers import local
from tests.web.conftest import post
from tracker.models import Alert, Digest, Order

NOW = local("2026-11-26 10:00")
RANK = {"red": 3, "yellow": 2, "blue": 1}


def load_demo(runner) -> None:  # type: ignore[no-untyped-def]
    result = runner.invoke(args=["demo-load", "--now", "2026-11-26T10:00"])
    assert result.exit_code == 0, result.output


def open_alerts_by_street(engine) -> dict[str, set[int]]:  # type: ignore[no-untyped-def]
    """Open alert ids per street, read straight from the tables."""
    found: dict[str, set[int]] = {}
    with Session(engine) as session:
        rows = session.exec(
            select(Alert.id, Order.street)
            .join(Order, col(Order.id) == col(Alert.order_id))
            .where(col(Alert.resolved_at).is_(None))
        ).all()
    for alert_id, street in rows:
        found.setdefault(street or "", set()).add(int(alert_id or 0))
    return found


def listed(page: str) -> list[tuple[int, str, str]]:
    """(alert id, level, street) of each row of the alerts table, in page order."""
    rows = re.findall(
        r'<tr class="level-(\w+)" id="alert-(\d+)">.*?<td[^>]*><a href="/orders/\d+">[^<]+</a></td>\s*<td[^>]*>([^<]*)</td>',
        page,
        re.S,
    )
    return [(int(i), level, street) for level, i, street in rows]


def all_listed(client, query: str = "") -> list[tuple[int, str, str]]:  # type: ignore[no-untyped-def]
    """Every row over every page of the list."""
    rows: list[tuple[int, str, str]] = []
    for page in range(1, 50):
        text = client.get(f"/alerts/?{query}&page={page}").get_data(as_text=True)
        found = listed(text)
        rows += found
        if "下一页" not in text:
            return rows
    raise AssertionError("too many pages")


@time_machine.travel(NOW, tick=False)
def test_each_squad_sees_only_its_street_and_the_supervisor_sees_all(as_role, runner, engine) -> None:  # type: ignore[no-untyped-def]
    load_demo(runner)
    expected = open_alerts_by_street(engine)
    assert expected["静安寺街道"] and expected["曹家渡街道"]

    squad = all_listed(as_role("squad"))
    assert {i for i, _, _ in squad} == expected["静安寺街道"]
    assert {street for _, _, street in squad} == {"静安寺街道"}
    # red first, then yellow, then blue
    ranks = [RANK[level] for _, level, _ in squad]
    assert ranks == sorted(ranks, reverse=True)
    # asking for another street through the filter shows nothing of it
    assert listed(as_role("squad").get("/alerts/?street=曹家渡街道").get_data(as_text=True)) == []

    other = all_listed(as_role("other_squad"))
    assert {i for i, _, _ in other} == expected["曹家渡街道"]

    supervisor = as_role("supervisor")
    everything = all_listed(supervisor)
    assert {i for i, _, _ in everything} == set().union(*expected.values())
    only = all_listed(supervisor, "street=曹家渡街道")
    assert {i for i, _, _ in only} == expected["曹家渡街道"]


@time_machine.travel(NOW, tick=False)
def test_counts_per_level_filters_and_the_navigation_badge(as_role, runner, engine) -> None:  # type: ignore[no-untyped-def]
    load_demo(runner)
    client = as_role("squad")
    rows = all_listed(client)
    page = client.get("/alerts/").get_data(as_text=True)
    for level in ("red", "yellow", "blue"):
        count = sum(1 for _, lv, _ in rows if lv == level)
        assert re.search(rf'data-level="{level}" data-orders="\d+" data-stages="{count}"', page), level
    # the badge counts overdue orders (件工单), the chip says the same number in the same words
    red_orders = re.search(r'data-level="red" data-orders="(\d+)"', page)
    assert red_orders and re.search(rf'id="alert-count"[^>]*>{red_orders.group(1)}<', page)
    assert f"已超期 {red_orders.group(1)} 件工单" in page
    reds = all_listed(client, "level=red")
    assert reds and {lv for _, lv, _ in reds} == {"red"}
    assert len(reds) == sum(1 for _, lv, _ in rows if lv == "red")
    with Session(engine) as session:
        contact = set(
            session.exec(
                select(Alert.id)
                .join(Order, col(Order.id) == col(Alert.order_id))
                .where(Order.street == "静安寺街道", Alert.stage == "first_contact", col(Alert.resolved_at).is_(None))
            ).all()
        )
    assert {i for i, _, _ in all_listed(client, "stage=first_contact")} == contact
    # an unknown level is ignored, not an error
    assert len(all_listed(client, "level=purple")) == len(rows)


@time_machine.travel(NOW, tick=False)
def test_acknowledge_keeps_the_alert_listed_and_is_harmless_twice(as_role, runner, engine) -> None:  # type: ignore[no-untyped-def]
    load_demo(runner)
    client = as_role("squad")
    alert_id = min(expected := open_alerts_by_street(engine)["静安寺街道"])
    response = post(client, f"/alerts/{alert_id}/ack", {"level": "red"})
    assert response.status_code == 302 and response.headers["Location"] == "/alerts/?level=red"
    with Session(engine) as session:
        alert = session.get(Alert, alert_id)
        assert alert is not None and alert.acknowledged_at == NOW
        assert alert.acknowledged_by == "静安寺街道 执法队 测试jingansi"
    page = client.get("/alerts/").get_data(as_text=True)
    row = re.search(rf'id="alert-{alert_id}">(.*?)</tr>', page, re.S)
    assert row and "已确认" in row.group(1) and "测试jingansi" in row.group(1) and "2026-11-26 10:00" in row.group(1)
    assert {i for i, _, _ in all_listed(client)} == expected  # still listed

    with time_machine.travel(local("2026-11-26 11:00"), tick=False):
        assert post(client, f"/alerts/{alert_id}/ack").status_code == 302
    with Session(engine) as session:
        again = session.get(Alert, alert_id)
        assert again is not None and again.acknowledged_at == NOW  # the first acknowledgement stays


@time_machine.travel(NOW, tick=False)
def test_acknowledging_another_streets_alert_is_404_like_a_missing_one(as_role, runner, engine) -> None:  # type: ignore[no-untyped-def]
    load_demo(runner)
    theirs = min(open_alerts_by_street(engine)["静安寺街道"])
    client = as_role("other_squad")
    assert post(client, f"/alerts/{theirs}/ack").status_code == 404
    assert post(client, "/alerts/999999/ack").status_code == 404
    with Session(engine) as session:
        alert = session.get(Alert, theirs)
        assert alert is not None and alert.acknowledged_at is None


@time_machine.travel(NOW, tick=False)
def test_acknowledge_only_by_post_with_the_form_token(as_role, runner, engine) -> None:  # type: ignore[no-untyped-def]
    load_demo(runner)
    alert_id = min(open_alerts_by_street(engine)["静安寺街道"])
    client = as_role("squad")
    assert client.get(f"/alerts/{alert_id}/ack").status_code == 405
    assert client.post(f"/alerts/{alert_id}/ack").status_code == 400  # no CSRF token
    with Session(engine) as session:
        alert = session.get(Alert, alert_id)
        assert alert is not None and alert.acknowledged_at is None


def add_digest(engine, street: str, day: date, text: str) -> None:  # type: ignore[no-untyped-def]
    with Session(engine) as session:
        session.add(Digest(street=street, day=day, created_at=NOW, content={}, text=text))
        session.commit()


@time_machine.travel(NOW, tick=False)
def test_latest_digest_of_the_viewers_street_escaped(as_role, engine, runner) -> None:  # type: ignore[no-untyped-def]
    load_demo(runner)
    add_digest(engine, "静安寺街道", date(2026, 11, 25), "静安寺 旧日报")
    add_digest(engine, "静安寺街道", date(2026, 11, 26), "静安寺 新日报\n第二行 <b>粗</b>")
    add_digest(engine, "曹家渡街道", date(2026, 11, 26), "曹家渡 新日报")
    add_digest(engine, "江宁路街道", date(2026, 11, 24), "江宁路 早先日报")

    page = as_role("squad").get("/alerts/").get_data(as_text=True)
    assert "静安寺 新日报\n第二行 &lt;b&gt;粗&lt;/b&gt;" in page and "<b>粗" not in page
    assert "静安寺 旧日报" not in page and "曹家渡 新日报" not in page

    page = as_role("other_squad").get("/alerts/").get_data(as_text=True)
    assert "曹家渡 新日报" in page and "静安寺" not in page.split("最新日报")[1]

    supervisor = as_role("supervisor")
    page = supervisor.get("/alerts/").get_data(as_text=True)  # every street's digest of the latest day
    assert "静安寺 新日报" in page and "曹家渡 新日报" in page and "江宁路 早先日报" not in page
    assert 'id="digest-street"' in page
    page = supervisor.get("/alerts/?street=江宁路街道").get_data(as_text=True)
    assert "江宁路 早先日报" in page and "静安寺 新日报" not in page


def test_without_alerts_or_digests_the_page_says_so(as_role) -> None:  # type: ignore[no-untyped-def]
    page = as_role("squad").get("/alerts/").get_data(as_text=True)
    assert "没有已超期或即将到期的未完成环节" in page and "暂无日报" in page
    assert 'id="alert-count"' not in page
