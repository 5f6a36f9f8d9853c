"""Bulk acknowledge on the 逾期预警 page: several alerts in one post, all or none, scope-checked per alert, every role."""

from __future__ import annotations

import json
import logging
import re

import pytest
import time_machine
from sqlmodel import Session, col, select

from tests.helpers import local
from tests.web.conftest import post
from tests.web.test_alerts import load_demo, open_alerts_by_street
from tracker.models import Alert
from tracker.services.orders.alerts import BULK_ACK_MAX

NOW = local("2026-11-26 10:00")
OWN = {"squad": "静安寺街道", "other_squad": "曹家渡街道"}


def acknowledged(engine, ids: set[int]) -> dict[int, str | None]:  # type: ignore[no-untyped-def]
    """Who acknowledged each of these alerts (None: not yet)."""
    with Session(engine) as session:
        alerts = session.exec(select(Alert).where(col(Alert.id).in_(ids))).all()
        return {a.id or 0: a.acknowledged_by for a in alerts}


def flash(page: str) -> str:
    found = re.findall(r'<p class="flash[^"]*">([^<]*)</p>', page)
    assert found, page[:2000]
    return found[-1]


def bulk(client, ids: list[object], **extra: str):  # type: ignore[no-untyped-def]
    return post(client, "/alerts/ack", {"alert_id": [str(i) for i in ids], **extra}, follow_redirects=True)


@time_machine.travel(NOW, tick=False)
@pytest.mark.parametrize("role", ["squad", "other_squad"])
def test_a_squad_acknowledges_several_of_its_alerts_in_one_post(as_role, runner, engine, role) -> None:  # type: ignore[no-untyped-def]
    load_demo(runner)
    mine = sorted(open_alerts_by_street(engine)[OWN[role]])
    assert len(mine) >= 3
    client = as_role(role)
    page = client.get("/alerts/").get_data(as_text=True)
    assert 'id="check-all" data-check-all="alert_id"' in page and "全选本页" in page
    boxes = {int(i) for i in re.findall(r'name="alert_id" value="(\d+)" form="bulk-ack"', page)}
    assert boxes == set(mine)  # a box for each of its own open, unacknowledged alerts

    response = bulk(client, mine[:3], level="red")
    assert response.status_code == 200 and response.request.path == "/alerts/"
    assert response.request.args.get("level") == "red"  # back to the filtered list it came from
    assert flash(response.get_data(as_text=True)).startswith("已确认 3 条预警")
    done = acknowledged(engine, set(mine))
    assert all(done[i] and done[i].endswith(f"测试{'jingansi' if role == 'squad' else 'caojiadu'}") for i in mine[:3])
    assert all(done[i] is None for i in mine[3:])
    # again, with one more: only the new one changes, the first acknowledgements stay
    again = bulk(client, mine[:4])
    assert "已确认 1 条预警" in flash(again.get_data(as_text=True)) and "3 条此前已确认" in flash(
        again.get_data(as_text=True)
    )
    assert all(acknowledged(engine, set(mine[:4])).values())


@time_machine.travel(NOW, tick=False)
@pytest.mark.parametrize("role", ["squad", "other_squad"])
def test_another_streets_alert_in_the_list_refuses_the_whole_post(as_role, runner, engine, role, caplog) -> None:  # type: ignore[no-untyped-def]
    load_demo(runner)
    caplog.set_level(logging.WARNING, logger="tracker.audit.refused")
    by_street = open_alerts_by_street(engine)
    mine = sorted(by_street[OWN[role]])[:2]
    theirs = min(by_street[OWN["other_squad" if role == "squad" else "squad"]])
    client = as_role(role)
    response = bulk(client, [*mine, theirs])
    message = flash(response.get_data(as_text=True))
    assert f"预警编号 {theirs} 不存在或不属于您可查看的工单" in message and "均未确认" in message
    assert set(acknowledged(engine, {*mine, theirs}).values()) == {None}  # nothing half-done
    logged = [json.loads(r.getMessage()) for r in caplog.records if r.name == "tracker.audit.refused"]
    assert [(e["what"], e["alert_ids"]) for e in logged] == [("alert_out_of_scope", [theirs])]
    # a missing id gets the same answer as another street's
    missing = flash(bulk(client, [*mine, 999999]).get_data(as_text=True))
    assert "预警编号 999999 不存在或不属于您可查看的工单" in missing
    assert len([r for r in caplog.records if r.name == "tracker.audit.refused"]) == 1  # a missing id is no refusal
    assert set(acknowledged(engine, set(mine)).values()) == {None}


@time_machine.travel(NOW, tick=False)
@pytest.mark.parametrize("role", ["supervisor", "admin"])
def test_the_bureau_acknowledges_alerts_of_every_street_and_a_missing_id_refuses_all(
    as_role, runner, engine, role
) -> None:  # type: ignore[no-untyped-def]
    load_demo(runner)
    by_street = open_alerts_by_street(engine)
    picked = [min(by_street["静安寺街道"]), min(by_street["曹家渡街道"])]
    client = as_role(role)
    refused = flash(bulk(client, [*picked, 999999]).get_data(as_text=True))
    assert "预警编号 999999" in refused and "均未确认" in refused
    assert set(acknowledged(engine, set(picked)).values()) == {None}
    assert "已确认 2 条预警" in flash(bulk(client, picked).get_data(as_text=True))
    assert all(acknowledged(engine, set(picked)).values())


@time_machine.travel(NOW, tick=False)
@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([], "请先勾选要确认的预警"),
        (["12x"], "预警编号「12x」无效（应为正整数）"),
        (["-3"], "预警编号「-3」无效"),
        (["99999999999999999999"], "预警编号「99999999999999999999」无效"),
        ([str(i) for i in range(1, BULK_ACK_MAX + 2)], f"一次最多确认 {BULK_ACK_MAX} 条预警"),
    ],
)
def test_bad_bulk_posts_are_refused_with_a_reason_and_change_nothing(as_role, runner, engine, values, expected) -> None:  # type: ignore[no-untyped-def]
    load_demo(runner)
    mine = sorted(open_alerts_by_street(engine)["静安寺街道"])
    client = as_role("squad")
    response = bulk(client, [mine[0], *values] if values else [])
    assert expected in flash(response.get_data(as_text=True))
    assert acknowledged(engine, {mine[0]}) == {mine[0]: None}


@time_machine.travel(NOW, tick=False)
def test_bulk_acknowledge_only_by_post_with_the_form_token(as_role, runner, engine) -> None:  # type: ignore[no-untyped-def]
    load_demo(runner)
    mine = sorted(open_alerts_by_street(engine)["静安寺街道"])
    client = as_role("squad")
    assert client.get("/alerts/ack").status_code == 405
    assert client.post("/alerts/ack", data={"alert_id": [str(i) for i in mine]}).status_code == 400
    assert set(acknowledged(engine, set(mine)).values()) == {None}
    client.post("/logout", data={})
    anonymous = client.application.test_client()
    assert anonymous.post("/alerts/ack", data={"alert_id": str(mine[0])}).status_code in (302, 400, 401)
    assert set(acknowledged(engine, set(mine)).values()) == {None}
