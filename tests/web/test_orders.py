"""Order pages: scoped list and filters, actions as forms (forged fields ignored), phone reveal, XLSX export."""

from __future__ import annotations

import re
from io import BytesIO

import time_machine
from openpyxl import load_workbook
from sqlmodel import Session, col, func, select

from tests.helpers import local
from tests.web.conftest import post
from tracker.domain.vocabulary import State
from tracker.models import Order, OrderEvent, PhoneReveal

NOW = local("2026-11-26 10:00")
PHONE = re.compile(r"1[3-9]\d{9}")


def load_demo(runner) -> None:  # type: ignore[no-untyped-def]
    result = runner.invoke(args=["demo-load", "--now", "2026-11-26T10:00"])
    assert result.exit_code == 0, result.output


def order_ids(page: str) -> list[int]:
    return [int(n) for n in re.findall(r'href="/orders/(\d+)"', page)]


def first_order(engine, **where: object) -> Order:  # type: ignore[no-untyped-def]
    with Session(engine) as session:
        query = select(Order).order_by(col(Order.id))
        for name, value in where.items():
            query = query.where(getattr(Order, name) == value)
        return session.exec(query).first()  # type: ignore[return-value]


@time_machine.travel(NOW, tick=False)
def test_squad_list_holds_only_its_street_and_its_counts(as_role, runner, engine) -> None:  # type: ignore[no-untyped-def]
    load_demo(runner)
    client = as_role("squad")
    page = client.get("/?sort=dispatched_desc").get_data(as_text=True)  # the whole list, not the work queue
    with Session(engine) as session:
        own = session.exec(select(func.count()).select_from(Order).where(Order.street == "静安寺街道")).one()
        total = session.exec(select(func.count()).select_from(Order)).one()
    assert f"共 {own} 件" in page and own < total
    # asking for another street gives nothing, not the other street's orders
    other = client.get("/?street=曹家渡街道").get_data(as_text=True)
    assert "共 0 件" in other
    for order_id in order_ids(page):
        with Session(engine) as session:
            order = session.get(Order, order_id)
            assert order is not None and order.street == "静安寺街道"


@time_machine.travel(NOW, tick=False)
def test_filters_narrow_the_list(as_role, runner, engine) -> None:  # type: ignore[no-untyped-def]
    load_demo(runner)
    client = as_role("supervisor")
    with Session(engine) as session:
        handling = session.exec(select(func.count()).select_from(Order).where(Order.state == "handling")).one()
        one = session.exec(select(Order).order_by(col(Order.id))).first()
        assert one is not None
    assert f"共 {handling} 件" in client.get("/?state=handling").get_data(as_text=True)
    page = client.get(f"/?q={one.order_no}").get_data(as_text=True)
    assert "共 1 件" in page and one.order_no in page
    word = (one.content or "")[2:6]
    assert one.order_no in client.get(f"/?q={word}").get_data(as_text=True)
    # keyword with LIKE wildcards matches them literally
    assert "共 0 件" in client.get("/?q=%25%25%25").get_data(as_text=True)
    red = client.get("/?level=red").get_data(as_text=True)
    assert re.search(r"共 [1-9]\d* 件", red)
    bad = client.get("/?dispatched_from=2026-13-45").get_data(as_text=True)
    assert "派单日期自" in bad and "2026-13-45" in bad and "不是有效日期" in bad
    day = one.dispatched_at.astimezone(local("2026-01-01 00:00").tzinfo).date().isoformat()
    ranged = client.get(f"/?dispatched_from={day}&dispatched_to={day}").get_data(as_text=True)
    assert one.order_no in ranged
    sorted_page = client.get("/?sort=order_no").get_data(as_text=True)
    numbers = re.findall(r'href="/orders/\d+">([^<]+)<', sorted_page)
    assert numbers == sorted(numbers)


@time_machine.travel(NOW, tick=False)
def test_out_of_scope_order_answers_like_a_missing_one(as_role, runner, engine) -> None:  # type: ignore[no-untyped-def]
    load_demo(runner)
    client = as_role("squad")
    foreign = first_order(engine, street="曹家渡街道")
    missing = client.get("/orders/999999")
    hidden = client.get(f"/orders/{foreign.id}")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.get_data(as_text=True) == missing.get_data(as_text=True)
    acted = post(client, f"/orders/{foreign.id}/actions/first_contact", {"contact_result": "已联"})
    assert acted.status_code == 404
    assert post(client, f"/orders/{foreign.id}/phone", {"reason": "先行联系"}).status_code == 404


@time_machine.travel(NOW, tick=False)
def test_squad_records_contact_and_closes_with_forged_fields_ignored(as_role, runner, engine) -> None:  # type: ignore[no-untyped-def]
    load_demo(runner)
    client = as_role("squad")
    order = first_order(engine, street="静安寺街道", state="handling", contact_at=None)
    detail = client.get(f"/orders/{order.id}").get_data(as_text=True)
    assert 'id="action-first_contact"' in detail and 'id="action-approve_return"' not in detail
    forged = {
        "contact_result": "已联",
        "street": "曹家渡街道",
        "state": "closed",
        "due_at": "2030-01-01T00:00",
        "role": "admin",
        "cycle": "9",
    }
    response = post(client, f"/orders/{order.id}/actions/first_contact", forged)
    assert response.status_code == 302
    page = client.get(f"/orders/{order.id}").get_data(as_text=True)
    assert "已先行联系。" in page
    with Session(engine) as session:
        stored = session.get(Order, order.id)
        assert stored is not None
        assert (stored.street, stored.state, stored.cycle) == ("静安寺街道", "handling", order.cycle)
        assert stored.contact_result == "已联" and stored.contact_person and "静安寺街道" in stored.contact_person
        event = session.exec(
            select(OrderEvent).where(OrderEvent.order_id == order.id).order_by(col(OrderEvent.id).desc())
        ).first()
        assert event is not None and event.actor.startswith("user:") and event.source == "web"
    # closing needs a reply: the refusal names what is missing and nothing changes
    missing = post(client, f"/orders/{order.id}/actions/close", {"verdict": "实际解决", "reply_method": "电话"})
    assert missing.status_code == 302
    assert "请填写“答复内容”" in client.get(f"/orders/{order.id}").get_data(as_text=True)
    bad_choice = post(
        client, f"/orders/{order.id}/actions/close", {"reply": "已处理", "verdict": "随便", "reply_method": "电话"}
    )
    assert bad_choice.status_code == 302
    assert "「随便」不在可选范围内" in client.get(f"/orders/{order.id}").get_data(as_text=True)
    with Session(engine) as session:
        assert session.get(Order, order.id).state == "handling"  # type: ignore[union-attr]
    reply = {"reply": "经现场核查已整改。", "verdict": "实际解决", "reply_method": "电话"}
    backdated = post(client, f"/orders/{order.id}/actions/close", {**reply, "closed_at": "2020-01-01"})
    assert backdated.status_code == 302  # a recorded 办结时间 before the dispatch is refused (issue 22)
    assert "办结时间 2020-01-01 00:00 不能早于派单时间" in client.get(f"/orders/{order.id}").get_data(as_text=True)
    closed = post(client, f"/orders/{order.id}/actions/close", reply)
    assert closed.status_code == 302
    with Session(engine) as session:
        stored = session.get(Order, order.id)
        assert stored is not None and stored.state == State.CLOSED.value
        assert stored.closed_at is not None and stored.closed_at.year == 2026


@time_machine.travel(NOW, tick=False)
def test_a_role_cannot_take_another_roles_action(as_role, runner, engine) -> None:  # type: ignore[no-untyped-def]
    load_demo(runner)
    returned = first_order(engine, street="静安寺街道", state="handling")
    squad = as_role("squad")
    assert post(squad, f"/orders/{returned.id}/actions/approve_return").status_code == 403
    assert post(squad, f"/orders/{returned.id}/actions/dispatch").status_code == 403
    assert post(squad, f"/orders/{returned.id}/actions/no_such_action").status_code == 403
    with Session(engine) as session:
        assert session.get(Order, returned.id).state == "handling"  # type: ignore[union-attr]


@time_machine.travel(NOW, tick=False)
def test_supervisor_approves_a_return(as_role, runner, engine) -> None:  # type: ignore[no-untyped-def]
    load_demo(runner)
    returned = first_order(engine, state="return_requested")
    client = as_role("supervisor")
    detail = client.get(f"/orders/{returned.id}").get_data(as_text=True)
    assert 'id="action-approve_return"' in detail and 'id="action-first_contact"' not in detail
    assert post(client, f"/orders/{returned.id}/actions/approve_return", {"note": "确非本辖区"}).status_code == 302
    with Session(engine) as session:
        assert session.get(Order, returned.id).state == "returned"  # type: ignore[union-attr]


@time_machine.travel(NOW, tick=False)
def test_get_never_changes_state(as_role, runner, engine) -> None:  # type: ignore[no-untyped-def]
    load_demo(runner)
    order = first_order(engine, street="静安寺街道", state="handling")
    client = as_role("squad")
    assert client.get(f"/orders/{order.id}/actions/first_contact?contact_result=已联").status_code == 405
    assert client.get(f"/orders/{order.id}/phone?reason=x").status_code == 405
    assert client.get("/logout").status_code == 405
    with Session(engine) as session:
        assert session.get(Order, order.id).contact_at == order.contact_at  # type: ignore[union-attr]


@time_machine.travel(NOW, tick=False)
def test_phone_is_masked_and_revealing_it_needs_a_reason_and_is_logged(as_role, runner, engine) -> None:  # type: ignore[no-untyped-def]
    load_demo(runner)
    order = first_order(engine, street="静安寺街道")
    assert order.phone
    client = as_role("squad")
    page = client.get(f"/orders/{order.id}").get_data(as_text=True)
    assert order.phone not in page and 'id="reveal-form"' in page
    refused = post(client, f"/orders/{order.id}/phone", {"reason": " "}).get_data(as_text=True)
    assert "须填写事由" in refused and order.phone not in refused
    shown = post(client, f"/orders/{order.id}/phone", {"reason": "先行联系诉求人"}).get_data(as_text=True)
    assert order.phone in shown
    with Session(engine) as session:
        log = session.exec(select(PhoneReveal)).all()
        assert [(r.order_id, r.reason) for r in log] == [(order.id, "先行联系诉求人")]
        assert "静安寺街道" in log[0].user_name
    admin = as_role("admin")
    admin_page = admin.get(f"/orders/{order.id}").get_data(as_text=True)
    assert order.phone not in admin_page and 'id="reveal-form"' not in admin_page
    assert post(admin, f"/orders/{order.id}/phone", {"reason": "想看看"}).status_code == 403


@time_machine.travel(NOW, tick=False)
def test_export_is_scoped_masked_and_formula_safe(as_role, runner, engine) -> None:  # type: ignore[no-untyped-def]
    load_demo(runner)
    with Session(engine) as session:
        order = session.exec(select(Order).where(Order.street == "静安寺街道").order_by(col(Order.id))).first()
        assert order is not None
        order.content = '=HYPERLINK("http://evil","点我")'
        order.address = "+1 号"
        session.add(order)
        session.commit()
        own = session.exec(select(func.count()).select_from(Order).where(Order.street == "静安寺街道")).one()
    response = as_role("squad").get("/orders/export.xlsx")
    assert response.status_code == 200
    sheet = load_workbook(BytesIO(response.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    header, body = rows[0], rows[1:]
    assert len(body) == own
    street = header.index("街镇")
    assert {row[street] for row in body} == {"静安寺街道"}
    text = " ".join(str(cell) for row in body for cell in row if cell is not None)
    assert not PHONE.search(text)
    assert not any(str(cell).startswith(("=", "+", "-", "@")) for row in body for cell in row if cell)
    assert "'=HYPERLINK" in text


@time_machine.travel(NOW, tick=False)
def test_timeline_masks_a_changed_phone_and_hides_other_streets_repeat_numbers(as_role, runner, engine) -> None:  # type: ignore[no-untyped-def]
    load_demo(runner)
    order = first_order(engine, street="静安寺街道")
    with Session(engine) as session:
        session.add(
            OrderEvent(
                order_id=order.id or 0,
                action="update",
                state_before=order.state,
                state_after=order.state,
                actor="import:x",
                actor_name="导入批次 x",
                source="import",
                at=NOW,
                changes={"phone": ["13800001111", "13900002222"], "repeat_of": [None, "ZZ-FOREIGN-0001"]},
            )
        )
        session.commit()
    page = as_role("squad").get(f"/orders/{order.id}").get_data(as_text=True)
    assert "138****1111" in page and "139****2222" in page
    assert not PHONE.search(page)
    assert "ZZ-FOREIGN-0001" not in page and "（其他街镇的工单）" in page


def test_unknown_api_paths_answer_in_json(as_role) -> None:  # type: ignore[no-untyped-def]
    client = as_role("squad")
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404 and response.is_json and "接口地址有误" in response.json["error"]
    assert client.post("/api/v1/orders").status_code in (400, 405)


@time_machine.travel(NOW, tick=False)
def test_phone_numbers_inside_free_text_are_masked_too(as_role, runner, engine) -> None:  # type: ignore[no-untyped-def]
    load_demo(runner)
    order = first_order(engine, street="静安寺街道")
    with Session(engine) as session:
        stored = session.get(Order, order.id)
        assert stored is not None
        stored.content = "噪音扰民，请回电13812345678（白天）或座机 021-62481234"
        session.add(stored)
        session.commit()
    client = as_role("squad")
    page = client.get(f"/orders/{order.id}").get_data(as_text=True)
    assert "138****5678" in page and "13812345678" not in page and "021-62481234" in page
    sheet = load_workbook(BytesIO(client.get("/orders/export.xlsx").data)).active
    cells = " ".join(str(c) for row in sheet.iter_rows(values_only=True) for c in row if c)
    assert "138****5678" in cells and "13812345678" not in cells


@time_machine.travel(NOW, tick=False)
def test_alert_level_counts_match_the_rows_listed(as_role, runner, engine) -> None:  # type: ignore[no-untyped-def]
    """The level filter's count (live, services.orders.counts) equals the orders the pages list, for every scope."""
    load_demo(runner)
    totals: list[int] = []
    for role, query in (
        ("supervisor", "?level=red"),
        ("supervisor", "?level=red&state=handling"),
        ("supervisor", "?stage=first_contact"),
        ("squad", "?level=red"),
        ("squad", "?level=blue&stage=closure"),
    ):
        client = as_role(role)
        page = client.get("/" + query + "&sort=order_no").get_data(as_text=True)
        total = int(re.search(r"共 (\d+) 件", page).group(1))  # type: ignore[union-attr]
        listed: set[int] = set()
        for number in range(1, total // 50 + 2):
            listed |= set(order_ids(client.get(f"/{query}&page={number}").get_data(as_text=True)))
        assert len(listed) == total, (role, query)
        totals.append(total)
    assert totals[0] > 0 and totals[3] > 0
