"""One count of overdue everywhere: every surface gives the same number for the same thing, for every role, at
several moments (time travel, no scan in between), including an order dispatched long ago and still overdue.

The surfaces: the navigation badge, the order list's chips, the filtered list's total, the alerts page (its
chips and its total), the dashboard (whose period does not reach back to the old order), the JSON API (orders
and alerts), the XLSX export's sheet 当前预警 and the morning digest. The expected numbers are recomputed here
from the open stage deadlines by the domain's definition, so a surface that counts on its own (from the scan's
alert table, within the dashboard's dispatch window, …) disagrees at one of these moments and fails.
"""

from __future__ import annotations

import re
from io import BytesIO

import pytest
import time_machine
from openpyxl import load_workbook
from sqlmodel import Session, col, select

from tests.helpers import local
from tests.web.conftest import sign_in
from tracker.domain.overdue import level_bounds, order_level
from tracker.domain.vocabulary import AlertLevel
from tracker.models import Digest, Order, OrderDeadline
from tracker.services.accounts.actors import Actor
from tracker.services.orders.actions import NewOrder, create_order
from tracker.services.orders.calendar import load_calendar

DEMO_NOW = local("2026-11-26 10:00")
# a working morning, the same afternoon, a Saturday (make-up rules of the blue horizon), the next week
MOMENTS = ["2026-11-26 10:00", "2026-11-26 16:30", "2026-11-28 11:00", "2026-12-02 09:15"]
STREETS = {"squad": "静安寺街道", "other_squad": "曹家渡街道"}
OLD_ORDER = "SH202606010001"
LEVELS = (AlertLevel.RED, AlertLevel.YELLOW, AlertLevel.BLUE)


@pytest.fixture
def demo(runner, engine, make_ctx, people):  # type: ignore[no-untyped-def]
    """The demo data as of DEMO_NOW (scanned then, never again), plus an order dispatched in June, never handled."""
    with time_machine.travel(DEMO_NOW, tick=False):
        result = runner.invoke(args=["demo-load", "--now", "2026-11-26T10:00"])
        assert result.exit_code == 0, result.output
    with Session(engine) as session:
        data = NewOrder(
            source="12345",
            order_no=OLD_ORDER,
            dispatched_at=local("2026-06-01 10:00"),
            request_type="投诉举报",
            street="静安寺街道",
            category="违法搭建",
        )
        create_order(session, data=data, ctx=make_ctx("2026-06-01 10:00", Actor.importer("t1")))
        session.commit()


def expected(engine, street: str | None, when: str) -> tuple[dict[AlertLevel, int], dict[AlertLevel, int]]:  # type: ignore[no-untyped-def]
    """(orders, stages) per level at ``when``, recomputed here from the open deadlines (domain.overdue)."""
    with Session(engine) as session:
        bounds = level_bounds(local(when), load_calendar(session))
        query = select(OrderDeadline, Order).join(Order, col(Order.id) == col(OrderDeadline.order_id))
        query = query.where(col(OrderDeadline.completed_at).is_(None))
        if street:
            query = query.where(Order.street == street)
        per_order: dict[int, list] = {}  # type: ignore[type-arg]
        stages = dict.fromkeys(LEVELS, 0)
        for deadline, order in session.exec(query).all():
            per_order.setdefault(order.id or 0, []).append(deadline.due_at)
            level = bounds.level_of(deadline.due_at)
            if level:
                stages[level] += 1
        orders = dict.fromkeys(LEVELS, 0)
        for dues in per_order.values():
            level = order_level(dues, bounds)
            if level:
                orders[level] += 1
    return orders, stages


def number(pattern: str, page: str) -> int:
    found = re.search(pattern, page, re.S)
    assert found, pattern
    return int(found.group(1))


def badge(page: str) -> int:
    """The navigation badge (absent when nothing is overdue)."""
    found = re.search(r'id="alert-count"[^>]*>(\d+)<', page)
    return int(found.group(1)) if found else 0


@pytest.mark.parametrize("role", ["admin", "supervisor", "squad", "other_squad"])
def test_every_surface_gives_the_same_count(role, demo, client, people, engine, runner) -> None:  # type: ignore[no-untyped-def]
    street = STREETS.get(role)
    for when in MOMENTS:
        with time_machine.travel(local(when), tick=False):
            sign_in(client, people[role])
            orders, stages = expected(engine, street, when)
            red = orders[AlertLevel.RED]
            if role in ("supervisor", "squad"):
                assert red > 0, when  # the old order at least

            listing = client.get("/?sort=order_no").get_data(as_text=True)
            assert badge(listing) == red, (role, when, "badge")
            for level in LEVELS:
                chip = number(rf'data-level="{level.value}" data-count="(\d+)"', listing)
                assert chip == orders[level], (role, when, "chip", level)
                filtered = client.get(f"/?level={level.value}").get_data(as_text=True)
                assert number(r'id="list-total" data-total="(\d+)"', filtered) == orders[level], (role, when, level)
            assert f"已超期 {red} 件工单" in listing

            alerts = client.get("/alerts/").get_data(as_text=True)
            for level in LEVELS:
                assert number(rf'data-level="{level.value}" data-orders="(\d+)"', alerts) == orders[level]
                assert re.search(rf'data-level="{level.value}" data-orders="\d+" data-stages="{stages[level]}"', alerts)
            red_stages = client.get("/alerts/?level=red").get_data(as_text=True)
            assert number(r'id="alerts-total" data-total="(\d+)"', red_stages) == stages[AlertLevel.RED]

            dashboard = client.get("/dashboard/").get_data(as_text=True)  # the last 30 days: not June
            assert number(r'id="current-overdue" data-count="(\d+)"', dashboard) == red, (role, when, "dashboard")
            for level in LEVELS:
                assert (
                    number(rf'<tr id="level-{level.value}".*?data-kind="orders"><a [^>]*>(\d+)<', dashboard)
                    == (orders[level])
                )

            api = client.get("/api/v1/orders?level=red&page_size=1").get_json()
            assert api["total"] == red and api["current"]["orders"]["red"] == red
            assert api["current"]["stages"] == {lv.value: stages[lv] for lv in LEVELS}
            api_alerts = client.get("/api/v1/alerts?level=red&page_size=1").get_json()
            assert api_alerts["total"] == stages[AlertLevel.RED]

            sheet = load_workbook(BytesIO(client.get("/orders/export.xlsx?level=red").data))["当前预警"]
            rows = {row[0]: row[1:] for row in sheet.iter_rows(min_row=3, values_only=True)}
            assert rows["已超期"] == (red, stages[AlertLevel.RED])

            if role in ("squad", "other_squad"):
                result = runner.invoke(args=["run-job", "digest", "--now", when.replace(" ", "T")])
                assert result.exit_code == 0, result.output
                with Session(engine) as session:
                    digest = session.exec(select(Digest).where(Digest.street == street)).all()
                    today = max(digest, key=lambda d: d.day)
                    assert len(today.content["overdue"]) == stages[AlertLevel.RED]
                    assert f"涉及 {red} 件工单" in today.text


def test_the_order_dispatched_long_ago_is_counted_everywhere(demo, client, people) -> None:  # type: ignore[no-untyped-def]
    with time_machine.travel(local("2026-12-02 09:15"), tick=False):
        sign_in(client, people["squad"])
        assert OLD_ORDER in client.get("/?level=red&q=" + OLD_ORDER).get_data(as_text=True)
        assert OLD_ORDER in client.get("/alerts/?level=red").get_data(as_text=True)
        numbers = [o["order_no"] for o in client.get("/api/v1/orders?level=red&page_size=200").get_json()["orders"]]
        assert OLD_ORDER in numbers
        dashboard = client.get("/dashboard/").get_data(as_text=True)
        period = re.search(r'id="intake-total-link" href="/\?([^"]+)"', dashboard)
        assert period and "dispatched_from" in period.group(1)
        in_period = client.get("/?" + period.group(1).replace("&amp;", "&") + "&q=" + OLD_ORDER)
        assert number(r'id="list-total" data-total="(\d+)"', in_period.get_data(as_text=True)) == 0
        # outside the dashboard's period, yet in its current count
        current = re.search(r'id="current-overdue" data-count="\d+">当前<a href="([^"]+)"', dashboard)
        assert current and OLD_ORDER in client.get(current.group(1).replace("&amp;", "&") + "&q=" + OLD_ORDER).get_data(
            as_text=True
        )
