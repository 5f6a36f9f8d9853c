"""The work queue on the list page, in the XLSX export and in the API: a squad's default list, the deadline sort for all."""

from __future__ import annotations

import re
from io import BytesIO

import pytest
import time_machine
from openpyxl import load_workbook
from sqlmodel import Session, col, select

from tests.helpers import local
from tracker.domain.deadlines import ALERT_RANK
from tracker.domain.labels import format_local
from tracker.domain.lifecycle import OPEN_STATES
from tracker.domain.vocabulary import AlertLevel
from tracker.models import Order, OrderDeadline
from tracker.web import orders as order_pages

NOW = local("2026-11-26 10:00")
ROW = re.compile(r'<tr class="[^"]*" data-order-id="(\d+)">(.*?)</tr>', re.S)
NEXT = re.compile(r'<td data-label="下一期限" class="next-deadline">(.*?)</td>', re.S)
LEVEL = re.compile(r'data-level="(\w*)">(\d{4}-\d\d-\d\d \d\d:\d\d)')


def load_demo(runner) -> None:  # type: ignore[no-untyped-def]
    result = runner.invoke(args=["demo-load", "--now", "2026-11-26T10:00"])
    assert result.exit_code == 0, result.output


def rows(page: str) -> list[tuple[int, str, str]]:
    """(order id, next deadline's level, its due time as shown) of each row; ('', '') when it has none."""
    found = []
    for order_id, cells in ROW.findall(page):
        cell = NEXT.search(cells)
        assert cell, cells
        level = LEVEL.search(cell.group(1))
        found.append((int(order_id), *(level.groups() if level else ("", ""))))
    return found


def next_due(engine, order_ids: list[int]) -> dict[int, str]:  # type: ignore[no-untyped-def]
    """Each order's earliest open due time, read straight from the table (Beijing time, as shown)."""
    with Session(engine) as session:
        deadlines = session.exec(
            select(OrderDeadline).where(
                col(OrderDeadline.order_id).in_(order_ids),
                col(OrderDeadline.completed_at).is_(None),
                col(OrderDeadline.due_at).is_not(None),
            )
        ).all()
    earliest: dict[int, str] = {}
    for d in deadlines:
        shown = format_local(d.due_at)
        earliest[d.order_id] = min(earliest.get(d.order_id, shown), shown)
    return earliest


def open_orders(engine, street: str | None = None) -> list[Order]:  # type: ignore[no-untyped-def]
    with Session(engine) as session:
        query = select(Order).where(col(Order.state).in_([s.value for s in OPEN_STATES]))
        if street:
            query = query.where(Order.street == street)
        return list(session.exec(query).all())


def assert_queue_order(found: list[tuple[int, str, str]]) -> None:
    """Red, then yellow, then blue, then no level; within that by the next due time; orders without one last."""
    ranks = [ALERT_RANK[AlertLevel(level)] if level else 0 for _, level, _ in found]
    assert ranks == sorted(ranks, reverse=True), found
    dues = [due for _, _, due in found if due]
    assert dues == sorted(dues), found
    seen_none = False
    for _, _, due in found:
        seen_none = seen_none or not due
        assert not (seen_none and due), "an order without a next deadline came before one with it"


@time_machine.travel(NOW, tick=False)
def test_a_squads_list_opens_as_its_queue_of_open_orders_most_urgent_first(as_role, runner, engine) -> None:  # type: ignore[no-untyped-def]
    load_demo(runner)
    page = as_role("squad").get("/").get_data(as_text=True)
    assert "<h1>我的待办</h1>" in page
    found = rows(page)
    mine = open_orders(engine, "静安寺街道")
    assert len(mine) > 3
    assert {i for i, _, _ in found} == {o.id for o in mine}  # only its street's open orders, all of them
    assert f"共 {len(mine)} 件" in page
    assert_queue_order(found)
    assert {i: due for i, _, due in found if due} == next_due(engine, [o.id or 0 for o in mine])
    assert found[0][1] == "red"  # the demo has overdue orders: the most overdue one is on top
    # each row shows its address (phone numbers in it masked, as on the order page)
    assert all(o.address and o.address in page for o in mine if o.address and not re.search(r"1\d{10}", o.address))
    assert 'href="?sort=dispatched_desc" id="all-orders"' in page  # and a way to the whole list


@time_machine.travel(NOW, tick=False)
def test_the_deadline_sort_is_offered_to_every_role_and_the_default_stays_for_the_bureau(
    as_role, runner, engine, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    load_demo(runner)
    monkeypatch.setattr(order_pages, "PAGE_SIZE", 1000)
    for role in ("supervisor", "admin"):
        client = as_role(role)
        default = client.get("/").get_data(as_text=True)
        assert "<h1>诉件工单</h1>" in default and '<option value="deadline" >' in default.replace("selected", "")
        page = client.get("/?sort=deadline&state=open").get_data(as_text=True)
        found = rows(page)
        assert {i for i, _, _ in found} == {o.id for o in open_orders(engine)}
        assert_queue_order(found)
        assert {s for _, s, _ in found} >= {"red", ""}
    # a squad asking for the whole list gets it, sorted as asked
    squad = as_role("squad")
    everything = squad.get("/?sort=deadline").get_data(as_text=True)
    found = rows(everything)
    assert_queue_order(found)
    with Session(engine) as session:
        total = len(session.exec(select(Order.id).where(Order.street == "静安寺街道")).all())
    assert f"共 {total} 件" in everything and total > len(open_orders(engine, "静安寺街道"))
    assert "<h1>诉件工单</h1>" in everything


@time_machine.travel(NOW, tick=False)
def test_the_queue_page_two_continues_page_one(as_role, runner, engine, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    load_demo(runner)
    monkeypatch.setattr(order_pages, "PAGE_SIZE", 4)
    client = as_role("squad")
    first = client.get("/").get_data(as_text=True)
    assert 'href="?state=open&amp;sort=deadline&page=2"' in first or "state=open&amp;sort=deadline&amp;page=2" in first
    second = client.get("/?page=2").get_data(as_text=True)  # the queue is the default on every page
    both = rows(first) + rows(second)
    assert len(rows(first)) == 4 and len(set(i for i, _, _ in both)) == len(both)
    assert_queue_order(both)


@time_machine.travel(NOW, tick=False)
@pytest.mark.parametrize("role", ["squad", "supervisor"])
def test_the_export_follows_the_deadline_sort_and_shows_the_next_deadline(
    as_role, runner, engine, role, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    load_demo(runner)
    monkeypatch.setattr(order_pages, "PAGE_SIZE", 1000)  # the whole list on one page
    client = as_role(role)
    page = client.get("/?sort=deadline&state=open").get_data(as_text=True)
    response = client.get("/orders/export.xlsx?sort=deadline&state=open")
    assert response.status_code == 200
    sheet = load_workbook(BytesIO(response.data)).active
    table = list(sheet.iter_rows(values_only=True))  # type: ignore[union-attr]
    header, body = table[0], table[1:]
    assert header[-3:] == ("下一期限", "下一期限阶段", "预警级别")
    with Session(engine) as session:
        numbers = {o.id: o.order_no for o in session.exec(select(Order)).all()}
    assert [row[0] for row in body] == [numbers[i] for i, _, _ in rows(page)]  # the page's order, row for row
    assert [row[-3] or "" for row in body] == [due for _, _, due in rows(page)]
    assert body[0][-1] == "红色预警（已超期）"


@time_machine.travel(NOW, tick=False)
def test_the_api_sorts_by_deadline_and_gives_each_orders_next_deadline(as_role, runner, engine) -> None:  # type: ignore[no-untyped-def]
    load_demo(runner)
    client = as_role("squad")
    page = client.get("/").get_data(as_text=True)
    body = client.get("/api/v1/orders?sort=deadline&state=open&page_size=200").get_json()
    assert [o["id"] for o in body["orders"]] == [i for i, _, _ in rows(page)]
    first = body["orders"][0]
    assert first["next_deadline"]["level"] == "red" == first["worst_level"]
    assert first["next_deadline"]["due_at"] == min(d["due_at"] for d in first["open_deadlines"] if d["due_at"])
    refused = client.get("/api/v1/orders?state=opened")
    assert refused.status_code == 400
    assert "参数 state 的值「opened」无效" in refused.get_json()["error"] and "open" in refused.get_json()["error"]
    assert client.get("/api/v1/orders?sort=urgency").status_code == 400
