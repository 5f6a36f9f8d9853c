"""The JSON API: session or token sign-in, the list filters and scope, detail, alerts, rates, JSON errors, masking."""

from __future__ import annotations

import json
import re
from datetime import date

import pytest
import time_machine
from sqlmodel import Session, col, select

from tests.helpers import local
from tracker.domain.deadlines import RuleTable, local_day_bounds
from tracker.models import Alert, AppUser, Order, OrderDeadline
from tracker.services.accounts.actors import Actor
from tracker.services.accounts.users import issue_api_token
from tracker.services.orders.actions import Context, update_details

NOW = local("2026-11-26 10:00")
MOBILE = re.compile(r"1[3-9]\d{9}")


def load_demo(runner) -> None:  # type: ignore[no-untyped-def]
    result = runner.invoke(args=["demo-load", "--now", "2026-11-26T10:00"])
    assert result.exit_code == 0, result.output


def token_for(engine, username: str) -> str:  # type: ignore[no-untyped-def]
    with Session(engine) as session:
        user = session.exec(select(AppUser).where(AppUser.username == username)).one()
        token = issue_api_token(session, user=user)
        session.commit()
    return token


def bearer(app, token: str):  # type: ignore[no-untyped-def]
    """A fresh client (no session cookie) sending the token on every request."""
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client


def orders_of(engine, street: str | None = None) -> list[Order]:  # type: ignore[no-untyped-def]
    with Session(engine) as session:
        query = select(Order)
        if street:
            query = query.where(Order.street == street)
        return list(session.exec(query).all())


@time_machine.travel(NOW, tick=False)
def test_session_and_token_sign_in_and_a_wrong_token_is_401(app, as_role, runner, engine, people) -> None:  # type: ignore[no-untyped-def]
    load_demo(runner)
    by_session = as_role("supervisor").get("/api/v1/orders")
    assert by_session.status_code == 200 and by_session.mimetype == "application/json"
    assert by_session.get_json()["total"] == len(orders_of(engine)) == 310

    squad = bearer(app, token_for(engine, "jingansi"))
    body = squad.get("/api/v1/orders?page_size=200").get_json()
    mine = orders_of(engine, "静安寺街道")
    assert body["total"] == len(mine) > 0
    assert {o["street"] for o in body["orders"]} == {"静安寺街道"}
    assert {o["id"] for o in body["orders"]} == {o.id for o in mine}

    for headers in ({"Authorization": "Bearer trk_not-a-token"}, {"Authorization": "Basic abc"}, {}):
        response = app.test_client().get("/api/v1/orders", headers=headers)
        assert response.status_code == 401
        assert response.get_json() == {"error": "未登录或令牌无效"}
    # a new token replaces the old one
    old = token_for(engine, "caojiadu")
    token_for(engine, "caojiadu")
    assert bearer(app, old).get("/api/v1/orders").status_code == 401


@time_machine.travel(NOW, tick=False)
def test_list_filters_are_scoped_and_paged(as_role, runner, engine) -> None:  # type: ignore[no-untyped-def]
    load_demo(runner)
    squad = as_role("squad")
    other = squad.get("/api/v1/orders?street=曹家渡街道").get_json()
    assert other["total"] == 0 and other["orders"] == []

    supervisor = as_role("supervisor")
    theirs = supervisor.get("/api/v1/orders?street=曹家渡街道&page_size=200").get_json()
    assert theirs["total"] == len(orders_of(engine, "曹家渡街道")) > 0
    assert {o["street"] for o in theirs["orders"]} == {"曹家渡街道"}

    closed = supervisor.get("/api/v1/orders?state=closed&page_size=200").get_json()
    expected_closed = [o for o in orders_of(engine) if o.state == "closed"]
    assert closed["total"] == len(expected_closed) > 0
    assert {(o["state"], o["state_label"]) for o in closed["orders"]} == {("closed", "已办结")}

    november = supervisor.get("/api/v1/orders?dispatched_from=2026-11-20&dispatched_to=2026-11-26").get_json()
    start, end = local_day_bounds(date(2026, 11, 20))[0], local_day_bounds(date(2026, 11, 26))[1]
    assert november["total"] == sum(1 for o in orders_of(engine) if start <= o.dispatched_at < end)

    reds = supervisor.get("/api/v1/orders?level=red&page_size=200").get_json()
    assert reds["total"] > 0
    assert all(any(d["level"] == "red" for d in o["open_deadlines"]) for o in reds["orders"])

    first = supervisor.get("/api/v1/orders?page_size=7").get_json()
    second = supervisor.get("/api/v1/orders?page_size=7&page=2").get_json()
    assert len(first["orders"]) == len(second["orders"]) == 7 and first["total"] == 310
    assert not {o["id"] for o in first["orders"]} & {o["id"] for o in second["orders"]}
    assert supervisor.get("/api/v1/orders?page_size=5000").get_json()["page_size"] == 200
    line = first["orders"][0]
    assert line["dispatched_at"].endswith("Z") and "T" in line["dispatched_at"]


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("dispatched_from=2026-13-01", "参数 dispatched_from（派单日期自）的值「2026-13-01」"),
        ("closed_to=明天", "参数 closed_to（办结日期至）的值「明天」"),
        ("state=finished", "参数 state 的值「finished」"),
        ("page=0", "参数 page 的值「0」"),
        ("page_size=ten", "参数 page_size 的值「ten」"),
    ],
)
def test_bad_list_parameters_are_400_naming_them(as_role, query: str, named: str) -> None:  # type: ignore[no-untyped-def]
    response = as_role("supervisor").get(f"/api/v1/orders?{query}")
    assert response.status_code == 400
    assert named in response.get_json()["error"]


@time_machine.travel(NOW, tick=False)
def test_detail_with_deadlines_and_events_and_404_out_of_scope(as_role, runner, engine) -> None:  # type: ignore[no-untyped-def]
    load_demo(runner)
    mine = orders_of(engine, "静安寺街道")[0]
    theirs = orders_of(engine, "曹家渡街道")[0]
    squad = as_role("squad")
    body = squad.get(f"/api/v1/orders/{mine.id}").get_json()
    assert body["order_no"] == mine.order_no and body["state"] == mine.state
    assert body["deadlines"] and all(d["explanation"] for d in body["deadlines"])
    assert any(line.startswith("截止：") for d in body["deadlines"] for line in d["explanation"])
    assert body["events"][0]["action"] == "dispatch" and body["events"][0]["action_label"] == "派单"

    for order_id in (theirs.id, 999999):
        response = squad.get(f"/api/v1/orders/{order_id}")
        assert response.status_code == 404
        assert response.get_json() == {"error": "工单不存在"}
    assert as_role("other_squad").get(f"/api/v1/orders/{theirs.id}").status_code == 200


def test_the_index_names_the_endpoints(as_role) -> None:  # type: ignore[no-untyped-def]
    body = as_role("squad").get("/api/v1/").get_json()
    assert body["version"] == "v1" and "GET /api/v1/rates" in body["endpoints"]


@time_machine.travel(NOW, tick=False)
def test_alerts_are_the_viewers_open_alerts(as_role, runner, engine) -> None:  # type: ignore[no-untyped-def]
    load_demo(runner)
    with Session(engine) as session:
        expected = {
            street: set(
                session.exec(
                    select(Alert.id)
                    .join(Order, col(Order.id) == col(Alert.order_id))
                    .where(Order.street == street, col(Alert.resolved_at).is_(None))
                ).all()
            )
            for street in ("静安寺街道", "曹家渡街道")
        }
    body = as_role("squad").get("/api/v1/alerts?page_size=200").get_json()
    assert {a["id"] for a in body["alerts"]} == expected["静安寺街道"] != set()
    assert body["total"] == sum(body["counts"].values()) == len(expected["静安寺街道"])
    ranks = [{"red": 3, "yellow": 2, "blue": 1}[a["level"]] for a in body["alerts"]]
    assert ranks == sorted(ranks, reverse=True)
    other = as_role("other_squad").get("/api/v1/alerts?page_size=200").get_json()
    assert {a["id"] for a in other["alerts"]} == expected["曹家渡街道"]
    assert as_role("supervisor").get("/api/v1/alerts?level=purple").status_code == 400


@time_machine.travel(NOW, tick=False)
def test_no_unmasked_phone_in_any_response(app, as_role, runner, engine, calendar) -> None:  # type: ignore[no-untyped-def]
    load_demo(runner)
    target = orders_of(engine, "静安寺街道")[0]
    with Session(engine) as session:
        order = session.get(Order, target.id)
        assert order is not None
        order.content = "请联系 13912345678 或 021-62345678"
        ctx = Context(Actor.cli("test"), NOW, calendar, RuleTable())
        update_details(session, order=order, values={"phone": "13700001111", "complainant": "李四"}, ctx=ctx)
        session.commit()
    client = as_role("supervisor")
    bodies = [client.get(f"/api/v1/orders?page_size=200&page={page}").get_data(as_text=True) for page in (1, 2)]
    bodies += [client.get(f"/api/v1/orders/{o.id}").get_data(as_text=True) for o in orders_of(engine)[:40]]
    bodies += [client.get(f"/api/v1/orders/{target.id}").get_data(as_text=True)]
    bodies += [client.get(path).get_data(as_text=True) for path in ("/api/v1/alerts?page_size=200", "/api/v1/rates")]
    for text in bodies:
        assert not MOBILE.search(text), MOBILE.search(text)
    detail = json.loads(bodies[-3])
    assert "139****5678" in detail["content"] and detail["phone"] == "137****1111"
    changed = next(e["changes"] for e in detail["events"] if e["action"] == "update")
    assert changed["phone"][1] == "137****1111" and changed["complainant"][1] == "李*"
    assert re.search(r"1[3-9]\d\*\*\*\*\d{4}", bodies[0])  # masked numbers are there


def direct_rates(engine, street: str, first: date, last: date) -> dict[str, tuple[float, float]]:  # type: ignore[no-untyped-def]
    """The rates counted one order at a time in Python, for comparison with the SQL aggregates."""
    start, end = local_day_bounds(first)[0], local_day_bounds(last)[1]
    orders = orders_of(engine, street)
    dispatched = [o for o in orders if start <= o.dispatched_at < end]
    closed = [o for o in orders if o.closed_at and start <= o.closed_at < end]
    judged = [o for o in closed if o.verdict in ("实际解决", "解释说明")]
    weights = {"满意": 1.0, "基本满意": 0.8, "一般": 0.6, "不满意": 0.0}
    rated = [o for o in closed if o.satisfaction in weights]
    with Session(engine) as session:
        contact = [
            d
            for d in session.exec(select(OrderDeadline).where(OrderDeadline.stage == "first_contact")).all()
            if d.due_at
            and start <= d.due_at < min(end, NOW)
            and d.outcome != "cancelled"
            and d.order_id in {o.id for o in orders}
        ]
    return {
        "return_rate": (sum(1 for o in dispatched if o.return_count > 0), len(dispatched)),
        "repeat_rate": (sum(1 for o in dispatched if o.is_repeat), len(dispatched)),
        "resolved_rate": (sum(1 for o in judged if o.verdict == "实际解决"), len(judged)),
        "satisfaction_rate": (sum(weights[o.satisfaction or ""] for o in rated), len(rated)),
        "redo_rate": (sum(1 for o in closed if o.cycle > 1), len(closed)),
        "contact_rate": (sum(1 for d in contact if d.outcome in ("met", "late")), len(contact)),
        "contact_timely_rate": (sum(1 for d in contact if d.outcome == "met"), len(contact)),
        "without_phone": (sum(1 for d in contact if not {o.id: o.phone for o in orders}[d.order_id]), 0),
    }


@time_machine.travel(NOW, tick=False)
def test_rates_match_a_direct_count_and_are_scoped(as_role, runner, engine) -> None:  # type: ignore[no-untyped-def]
    load_demo(runner)
    with Session(engine) as session:
        due = session.exec(
            select(Order)
            .join(OrderDeadline, col(OrderDeadline.order_id) == col(Order.id))
            .where(Order.street == "静安寺街道", OrderDeadline.stage == "first_contact")
            .where(col(OrderDeadline.due_at) >= local("2026-11-10 00:00"), col(OrderDeadline.due_at) < NOW)
        ).first()
        assert due is not None
        due.phone = None
        session.add(due)
        session.commit()
    body = as_role("supervisor").get("/api/v1/rates?from=2026-11-01&to=2026-11-26").get_json()
    assert (body["from"], body["to"]) == ("2026-11-01", "2026-11-26")
    by_street = {row["street"]: {r["metric"]: r for r in row["rates"]} for row in body["streets"]}
    assert {"静安寺街道", "曹家渡街道"} <= set(by_street)
    for street in ("静安寺街道", "曹家渡街道"):
        expected = direct_rates(engine, street, date(2026, 11, 1), date(2026, 11, 26))
        no_phone = expected.pop("without_phone")[0]
        assert by_street[street]["contact_rate"]["without_phone"] == no_phone
        for metric, (numerator, denominator) in expected.items():
            got = by_street[street][metric]
            assert (got["numerator"], got["denominator"]) == (pytest.approx(numerator), denominator), (street, metric)
            assert got["rate"] == (round(numerator / denominator, 4) if denominator else None)
        assert expected["return_rate"][1] > 0 and expected["resolved_rate"][1] > 0 and expected["contact_rate"][1] > 0
    rates = by_street["静安寺街道"]
    assert rates["return_rate"]["label"] == "退单率" and rates["return_rate"]["basis"] == "派单日期"
    assert rates["resolved_rate"]["basis"] == "办结日期" and "without_phone" in rates["contact_rate"]
    assert set(rates) == {
        "contact_rate",
        "contact_timely_rate",
        "ontime_rate",
        "resolved_rate",
        "satisfaction_rate",
        "return_rate",
        "redo_rate",
        "repeat_rate",
    }
    total = {r["metric"]: r for r in body["total"]["rates"]}
    assert total["return_rate"]["denominator"] == sum(
        row_rates["return_rate"]["denominator"] for row_rates in by_street.values()
    )

    squad = as_role("squad").get("/api/v1/rates?from=2026-11-01&to=2026-11-26").get_json()
    assert [row["street"] for row in squad["streets"]] == ["静安寺街道"]
    assert (
        squad["streets"][0]["rates"]
        == body["streets"][[r["street"] for r in body["streets"]].index("静安寺街道")]["rates"]
    )
    elsewhere = as_role("squad").get("/api/v1/rates?from=2026-11-01&to=2026-11-26&street=曹家渡街道").get_json()
    assert elsewhere["streets"] == [] and all(r["rate"] is None for r in elsewhere["total"]["rates"])


@time_machine.travel(NOW, tick=False)
def test_rates_of_an_empty_period_are_null_and_bad_dates_are_400(as_role) -> None:  # type: ignore[no-untyped-def]
    client = as_role("squad")
    empty = client.get("/api/v1/rates?from=2026-12-01&to=2026-12-31").get_json()
    assert all(r["rate"] is None and r["denominator"] == 0 for r in empty["streets"][0]["rates"])
    default = client.get("/api/v1/rates").get_json()
    assert (default["from"], default["to"]) == ("2026-11-01", "2026-11-26")
    for query, named in (
        ("from=2026-02-30", "参数 from（统计期间自）的值「2026-02-30」"),
        ("from=20261101", "参数 from（统计期间自）的值「20261101」"),
        ("to=yesterday", "参数 to（统计期间至）的值「yesterday」"),
        ("from=2026-11-20&to=2026-11-01", "参数 to（统计期间至）的值「2026-11-01」早于参数 from 的值「2026-11-20」"),
    ):
        response = client.get(f"/api/v1/rates?{query}")
        assert response.status_code == 400
        assert named in response.get_json()["error"], response.get_json()


@time_machine.travel(NOW, tick=False)
def test_a_repeat_of_another_streets_order_is_not_named_to_a_squad(as_role, runner, engine) -> None:  # type: ignore[no-untyped-def]
    load_demo(runner)
    streets = {o.order_no: o.street for o in orders_of(engine)}
    mine = [o for o in orders_of(engine, "静安寺街道") if o.repeat_of]
    foreign = next(o for o in mine if streets.get(o.repeat_of or "") not in (None, "静安寺街道"))
    squad = as_role("squad").get(f"/api/v1/orders/{foreign.id}").get_data(as_text=True)
    assert foreign.repeat_of not in squad and "其他街镇的工单" in squad
    supervisor = as_role("supervisor").get(f"/api/v1/orders/{foreign.id}").get_json()
    assert supervisor["repeat_of"] == foreign.repeat_of
