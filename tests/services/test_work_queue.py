"""The work queue: orders by their next open deadline (red, yellow, blue, then nearest), in two passes that page alike."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlmodel import Session

from tests.helpers import local
from tracker.domain.calendar import WorkCalendar
from tracker.domain.deadlines import ALERT_RANK
from tracker.domain.lifecycle import ActionInput
from tracker.domain.roles import Role
from tracker.domain.vocabulary import Action, AlertLevel, State
from tracker.models import Order
from tracker.services.accounts import Viewer
from tracker.services.orders import DEADLINE_SORT, OrderFilter, list_orders
from tracker.services.orders.actions import apply_action

NOW = local("2026-11-26 10:00")  # a Thursday
ADMIN = Viewer(1, "admin", "管理员", Role.ADMIN, None)
SQUAD = Viewer(2, "jingansi", "静安寺街道执法队", Role.SQUAD, "静安寺街道")
CLOSE = ActionInput(reply="经现场查看，已责令整改。", verdict="实际解决", reply_method="电话")


@pytest.fixture
def orders(session: Session, new_order, make_ctx) -> dict[str, Order]:  # type: ignore[no-untyped-def]
    """Orders of 静安寺街道 whose next deadline falls at each level, one contacted, one closed; one of 曹家渡街道."""
    street = {"street": "静安寺街道"}
    made = {
        "blue": new_order("2026-11-25 15:00", "Q-BLUE", **street),  # first contact due Thu 23:59: blue
        "red_newer": new_order("2026-11-24 10:00", "Q-RED2", **street),  # due Wed 11-25 23:59: overdue
        "yellow": new_order("2026-11-26 08:30", "Q-YELLOW", urgency="紧急", **street),  # due 10:30: yellow
        "red_oldest": new_order("2026-11-20 10:00", "Q-RED1", **street),  # due Mon 11-23: most overdue
        "contacted": new_order("2026-11-26 09:00", "Q-LATER", **street),  # contacted: closure due in 5 days
        "closed": new_order("2026-11-16 09:00", "Q-CLOSED", **street),  # closed: no open deadline
        "other": new_order("2026-11-19 10:00", "Q-OTHER", street="曹家渡街道"),  # red, but another street's
    }
    apply_action(
        session,
        order=made["contacted"],
        action=Action.FIRST_CONTACT,
        data=ActionInput(contact_result="已联", contact_at=local("2026-11-26 09:30")),
        ctx=make_ctx("2026-11-26 09:40"),
    )
    apply_action(
        session, order=made["closed"], action=Action.SIGN, data=ActionInput(), ctx=make_ctx("2026-11-16 09:30")
    )
    apply_action(session, order=made["closed"], action=Action.CLOSE, data=CLOSE, ctx=make_ctx("2026-11-17 10:00"))
    session.commit()
    return made


def queue(session: Session, viewer: Viewer, calendar: WorkCalendar, now: datetime = NOW, **filters: object):  # type: ignore[no-untyped-def]
    lines, total = list_orders(
        session, viewer=viewer, now=now, calendar=calendar, filters=OrderFilter(sort=DEADLINE_SORT, **filters)
    )  # type: ignore[arg-type]
    return lines, total


def test_the_squad_queue_is_red_yellow_blue_then_nearest_deadline(
    session: Session, orders: dict[str, Order], calendar: WorkCalendar
) -> None:
    lines, total = queue(session, SQUAD, calendar, open_only=True)
    assert [line.order.order_no for line in lines] == ["Q-RED1", "Q-RED2", "Q-YELLOW", "Q-BLUE", "Q-LATER"]
    assert total == 5  # the closed order and the other street's order are not in the queue
    levels = [line.next.level if line.next else None for line in lines]
    assert levels == [AlertLevel.RED, AlertLevel.RED, AlertLevel.YELLOW, AlertLevel.BLUE, None]
    # the next deadline is the earliest open one, and the sort follows it
    dues = [line.next.row.due_at for line in lines if line.next]
    assert dues == sorted(dues)
    assert lines[-1].next is not None and lines[-1].next.stage.value == "closure"
    # a row's colour (its worst open level) is its next deadline's level
    assert [line.worst for line in lines] == levels


def test_the_level_order_holds_whatever_the_clock(
    session: Session, orders: dict[str, Order], calendar: WorkCalendar
) -> None:
    for when in ("2026-11-23 08:00", "2026-11-25 20:00", "2026-11-27 18:00", "2026-12-07 09:00"):
        lines, _ = queue(session, ADMIN, calendar, now=local(when), open_only=True)
        ranks = [ALERT_RANK[line.next.level] if line.next and line.next.level else 0 for line in lines]
        assert ranks == sorted(ranks, reverse=True), when


def test_orders_without_an_open_deadline_follow_newest_first(
    session: Session, orders: dict[str, Order], calendar: WorkCalendar
) -> None:
    lines, total = queue(session, SQUAD, calendar)
    assert [line.order.order_no for line in lines][-2:] == ["Q-LATER", "Q-CLOSED"]
    assert lines[-1].next is None and lines[-1].order.state == State.CLOSED
    assert total == 6
    district, _ = queue(session, ADMIN, calendar)
    assert [line.order.order_no for line in district][:3] == ["Q-OTHER", "Q-RED1", "Q-RED2"]


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 7])
def test_pages_of_the_queue_join_into_the_whole_list(
    session: Session, orders: dict[str, Order], calendar: WorkCalendar, size: int
) -> None:
    whole, total = queue(session, ADMIN, calendar)
    paged = []
    for offset in range(0, total + size, size):
        lines, _ = list_orders(
            session,
            viewer=ADMIN,
            now=NOW,
            calendar=calendar,
            filters=OrderFilter(sort=DEADLINE_SORT),
            limit=size,
            offset=offset,
        )
        assert len(lines) <= size
        paged += [line.order.order_no for line in lines]
    assert paged == [line.order.order_no for line in whole]
    assert len(paged) == total == 7


def test_the_open_filter_keeps_only_orders_not_yet_closed(
    session: Session, orders: dict[str, Order], calendar: WorkCalendar
) -> None:
    lines, _ = list_orders(session, viewer=ADMIN, now=NOW, calendar=calendar, filters=OrderFilter(open_only=True))
    assert {line.order.order_no for line in lines} == {
        "Q-RED1",
        "Q-RED2",
        "Q-YELLOW",
        "Q-BLUE",
        "Q-LATER",
        "Q-OTHER",
    }
