"""Spot-check pages: supervisors draw, verify, edit, review, redo and read results; squads get 403 everywhere."""

from __future__ import annotations

import re
from collections import Counter
from html import unescape
from io import BytesIO

import pytest
import time_machine
from openpyxl import load_workbook
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from tests.helpers import local
from tests.web.conftest import post
from tracker.models import Order, OrderEvent, SampleEvent, SampleItem, SamplePlan

NOW = local("2026-11-26 10:00")
PLAN_FORM = {
    "name": "十月抽查",
    "closed_from": "2026-10-01",
    "closed_to": "2026-11-30",
    "stratify_by": "street",
    "allocation": "proportional",
    "minimum_per_stratum": "1",
    "size_kind": "percent",
    "size_fixed": "50",
    "size_percent": "10",
    "margin_percent": "5",
    "confidence_percent": "95",
    "expected_percent": "50",
    "risk_unsatisfied": "1",
    "risk_returned": "1",
    "fast_close_hours": "",
    "seed": "web-seed-1",
}
ALL_PASS = {
    f"mark_{key}": "pass"
    for key in (
        "first_contact",
        "site_visit",
        "finding",
        "action",
        "reply_relevance",
        "reply_form",
        "consistency",
        "timeliness",
        "return_extension",
    )
}


@pytest.fixture
def demo(app, people, runner):  # type: ignore[no-untyped-def]
    """The demo orders (about 170 closed over 14 streets), the clock at 2026-11-26 10:00."""
    with time_machine.travel(NOW, tick=False):
        result = runner.invoke(args=["demo-load", "--now", "2026-11-26T10:00"])
        assert result.exit_code == 0, result.output
        yield app


def plans(engine: Engine) -> int:
    with Session(engine) as session:
        return int(session.exec(select(func.count()).select_from(SamplePlan)).one())


def draw(client, form: dict[str, str] | None = None) -> int:  # type: ignore[no-untyped-def]
    response = post(client, "/spot-checks/plans", {**PLAN_FORM, **(form or {})})
    assert response.status_code == 302, response.get_data(as_text=True)[-2000:]
    match = re.search(r"/spot-checks/plans/(\d+)$", response.headers["Location"])
    assert match
    return int(match.group(1))


def first_items(engine: Engine, plan_id: int, reason: str | None = "random") -> list[SampleItem]:
    with Session(engine) as session:
        query = select(SampleItem).where(SampleItem.plan_id == plan_id).order_by(col(SampleItem.id))
        if reason:
            query = query.where(SampleItem.reason == reason)
        return list(session.exec(query).all())


def events(engine: Engine, plan_id: int) -> list[SampleEvent]:
    with Session(engine) as session:
        return list(
            session.exec(select(SampleEvent).where(SampleEvent.plan_id == plan_id).order_by(col(SampleEvent.id)))
        )


# ---------------------------------------------------------------------------- access


def spot_check_routes(app) -> list[tuple[str, set[str]]]:  # type: ignore[no-untyped-def]
    return [
        (rule.rule, set(rule.methods or ()) - {"HEAD", "OPTIONS"})
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/spot-checks")
    ]


def fill(rule: str, plan_id: int, item_id: int) -> str:
    return rule.replace("<int:plan_id>", str(plan_id)).replace("<int:item_id>", str(item_id))


def test_squads_get_403_on_every_route_and_get_never_reaches_a_post(demo, as_role, engine) -> None:  # type: ignore[no-untyped-def]
    supervisor = as_role("supervisor")
    plan_id = draw(supervisor)
    item_id = first_items(engine, plan_id)[0].id or 0
    routes = spot_check_routes(demo)
    assert len(routes) >= 14
    for role in ("squad", "other_squad"):
        client = as_role(role)
        assert "质量抽查" not in client.get("/").get_data(as_text=True)
        for rule, methods in routes:
            url = fill(rule, plan_id, item_id)
            for method in methods:
                data = {"reason": "查看", "order_no": "X", **ALL_PASS}
                response = post(client, url, data) if method == "POST" else client.get(url)
                assert response.status_code == 403, (role, method, url, response.status_code)
            if "GET" not in methods:
                assert client.get(url).status_code == 405, url
    assert len(events(engine, plan_id)) == 1  # nothing a squad posted was stored


def test_supervisor_and_admin_see_the_nav_link_and_get_on_post_urls_is_405(demo, as_role, engine) -> None:  # type: ignore[no-untyped-def]
    client = as_role("supervisor")
    assert 'href="/spot-checks/"' in client.get("/").get_data(as_text=True)
    plan_id = draw(client)
    item_id = first_items(engine, plan_id)[0].id
    for url in (
        "/spot-checks/plans",
        f"/spot-checks/plans/{plan_id}/items",
        f"/spot-checks/plans/{plan_id}/items/{item_id}/drop",
        f"/spot-checks/plans/{plan_id}/items/{item_id}/review",
        f"/spot-checks/plans/{plan_id}/items/{item_id}/redo",
    ):
        assert client.get(url).status_code == 405, url
    assert client.post("/spot-checks/plans", data=PLAN_FORM).status_code == 400  # no CSRF token
    assert plans(engine) == 1
    assert client.get("/spot-checks/plans/999999").status_code == 404
    assert client.get(f"/spot-checks/plans/{plan_id}/items/999999").status_code == 404


def test_an_admin_may_open_the_pages(demo, as_role) -> None:  # type: ignore[no-untyped-def]
    client = as_role("admin")
    assert client.get("/spot-checks/").status_code == 200
    assert client.get("/spot-checks/results").status_code == 200


# ---------------------------------------------------------------------------- plans


def test_the_new_plan_form_has_the_defaults_and_preview_stores_nothing(demo, as_role, engine) -> None:  # type: ignore[no-untyped-def]
    client = as_role("supervisor")
    page = client.get("/spot-checks/plans/new").get_data(as_text=True)
    assert 'name="closed_from" value="2026-10-01"' in page and 'name="closed_to" value="2026-10-31"' in page
    # 5 % of the whole population spread over the squads in proportion, at least 2 each (not 10 per squad)
    assert '<option value="squad" selected>' in page and '<option value="proportional" selected>' in page
    assert 'name="size_percent" value="5"' in page and 'name="minimum_per_stratum" value="10"' in page
    # checkbox lists (with a search box) instead of multi-selects; one block of inputs per size rule
    assert "multiple" not in page and 'type="checkbox" name="state" value="closed" checked' in page
    assert 'class="checklist-search"' in page and 'data-size-kind="margin"' in page
    assert 'name="risk_unsatisfied" value="1" checked' in page and 'name="risk_returned" value="1" checked' in page
    preview = client.get("/spot-checks/plans/new", query_string={**PLAN_FORM, "preview": "1"})
    assert preview.status_code == 200
    body = preview.get_data(as_text=True)
    with Session(engine) as session:
        closed = session.exec(
            select(func.count())
            .select_from(Order)
            .where(col(Order.closed_at) >= local("2026-10-01 00:00"), col(Order.closed_at) < local("2026-12-01 00:00"))
        ).one()
    assert f'id="preview-population">{closed}<' in body and "确认抽取并保存" in body
    confirm = body[body.index('id="draw-form"') :]
    for hidden in (
        'name="seed" value="web-seed-1"',
        'name="risk_unsatisfied" value="1"',
        'name="size_percent" value="10"',
    ):
        assert hidden in confirm
    assert 'name="risk_repeat"' not in confirm  # an unticked box stays unticked
    assert plans(engine) == 0


def test_without_a_seed_the_preview_fixes_one_and_the_draw_takes_exactly_what_it_stated(demo, as_role, engine) -> None:  # type: ignore[no-untyped-def]
    client = as_role("supervisor")
    body = client.get("/spot-checks/plans/new", query_string={**PLAN_FORM, "seed": "", "preview": "1"}).get_data(
        as_text=True
    )
    seed = re.search(r'id="preview-seed">([^<]+)<', body)
    sample = re.search(r'id="preview-sample">(\d+)<', body)
    assert seed and sample and "已为本次预览生成" in body
    confirm = body[body.index('id="draw-form"') :]
    assert f'name="seed" value="{seed.group(1)}"' in confirm
    plan_id = draw(client, {"seed": seed.group(1)})
    with Session(engine) as session:
        plan = session.get(SamplePlan, plan_id)
        assert plan is not None and plan.seed == seed.group(1)
        assert plan.strata["sample_size"] == int(sample.group(1))


def test_a_census_is_refused_unless_confirmed(demo, as_role, engine) -> None:  # type: ignore[no-untyped-def]
    client = as_role("supervisor")
    census = {"allocation": "per_stratum", "size_kind": "fixed", "size_fixed": "40"}  # 40 per street: every order
    body = client.get("/spot-checks/plans/new", query_string={**PLAN_FORM, **census, "preview": "1"}).get_data(
        as_text=True
    )
    assert 'id="census-warning"' in body and "这是普查而不是抽查" in body and 'name="allow_census"' in body
    refused = post(client, "/spot-checks/plans", {**PLAN_FORM, **census})
    assert refused.status_code == 400
    text = refused.get_data(as_text=True)
    assert "未抽取：按当前设置（样本量规则「40 件」，用于每一层" in text and "确认抽取总体全部工单（普查）" in text
    assert plans(engine) == 0
    plan_id = draw(client, {**census, "allow_census": "1"})
    with Session(engine) as session:
        plan = session.get(SamplePlan, plan_id)
        assert plan is not None and plan.strata["sample_size"] == plan.population_size


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("margin_percent", "0", "允许误差「0」无效"),
        ("size_percent", "150", "抽样比例「150」无效"),
        ("street", "火星街道", "街镇「火星街道」不存在"),
        ("seed", "ab c", "随机种子「ab c」无效"),
        ("closed_from", "2026-13-01", "办结日期自「2026-13-01」不是有效日期"),
        ("size_fixed", "十", "抽取件数「十」无效"),
        ("confidence_percent", "100", "置信水平「100」无效"),
        ("fast_close_hours", "-2", "办结过快时限（小时）「-2」无效"),
    ],
)
def test_bad_plan_input_is_refused_in_chinese_and_nothing_is_stored(
    demo, as_role, engine, field, value, message
) -> None:  # type: ignore[no-untyped-def]
    client = as_role("supervisor")
    kind = {"margin_percent": "margin", "confidence_percent": "margin", "size_fixed": "fixed"}.get(field, "percent")
    form = {**PLAN_FORM, "size_kind": kind, field: value}
    good = {**PLAN_FORM, "size_kind": kind}
    refused = post(client, "/spot-checks/plans", form)
    assert refused.status_code == 400
    assert message in unescape(refused.get_data(as_text=True))
    previewed = client.get("/spot-checks/plans/new", query_string={**form, "preview": "1"})
    assert previewed.status_code == 400 and message in unescape(previewed.get_data(as_text=True))
    assert plans(engine) == 0
    draw(client, good)  # the same form with a good value draws
    assert plans(engine) == 1


def test_a_drawn_plan_records_its_evidence_and_verifies_as_the_same(demo, as_role, engine) -> None:  # type: ignore[no-untyped-def]
    client = as_role("supervisor")
    plan_id = draw(client)
    with Session(engine) as session:
        plan = session.get(SamplePlan, plan_id)
        assert plan is not None
        total = session.exec(select(func.count()).select_from(SampleItem).where(SampleItem.plan_id == plan_id)).one()
    assert plan.created_by_name.endswith("测试duchao") and plan.seed == "web-seed-1"
    assert plan.population["streets"] == [] and plan.population["closed_to"] == "2026-11-30"
    assert len(plan.strata["rows"]) == 14 and plan.checklist["items"][0]["key"] == "first_contact"
    page = client.get(f"/spot-checks/plans/{plan_id}").get_data(as_text=True)
    assert f"已评查 <strong>0</strong> / {total}" in page
    assert plan.population["digest"] in page and 'sha256("web-seed-1:123")' in page
    verified = client.get(f"/spot-checks/plans/{plan_id}/verify").get_data(as_text=True)
    assert re.search(
        r'<div id="verification" class="flash " data-verdict="reproducible">\s*<p><strong id="verdict">可复现<',
        verified,
    )
    assert re.search(r'<details id="technical-details">.*sha256', verified, re.S)  # the evidence behind a fold
    same_again = draw(client)
    assert [i.order_id for i in first_items(engine, plan_id, None)] == [
        i.order_id for i in first_items(engine, same_again, None)
    ]


def test_adding_and_dropping_need_a_reason(demo, as_role, engine) -> None:  # type: ignore[no-untyped-def]
    client = as_role("supervisor")
    plan_id = draw(client)
    in_sample = {i.order_id for i in first_items(engine, plan_id, None)}
    with Session(engine) as session:
        outside = session.exec(select(Order).where(col(Order.id).not_in(in_sample)).order_by(col(Order.id))).first()
    assert outside is not None
    refused = post(client, f"/spot-checks/plans/{plan_id}/items", {"order_no": outside.order_no, "reason": ""})
    assert refused.status_code == 302
    assert "增加工单须填写原因" in client.get(f"/spot-checks/plans/{plan_id}").get_data(as_text=True)
    assert [e.kind for e in events(engine, plan_id)] == ["drawn"]
    post(client, f"/spot-checks/plans/{plan_id}/items", {"order_no": outside.order_no, "reason": "市民来信"})
    item = first_items(engine, plan_id)[0]
    post(client, f"/spot-checks/plans/{plan_id}/items/{item.id}/drop", {"reason": " "})
    assert "移出工单须填写原因" in client.get(f"/spot-checks/plans/{plan_id}").get_data(as_text=True)
    post(client, f"/spot-checks/plans/{plan_id}/items/{item.id}/drop", {"reason": "重复抽取"})
    assert [(e.kind, e.reason) for e in events(engine, plan_id)] == [
        ("drawn", ""),
        ("added", "市民来信"),
        ("dropped", "重复抽取"),
    ]
    page = client.get(f"/spot-checks/plans/{plan_id}").get_data(as_text=True)
    assert "人工增加" in page and "已移出" in page and "市民来信" in page


# ---------------------------------------------------------------------------- reviews and redo


def test_the_review_page_shows_the_order_beside_the_checklist_with_the_phone_masked(demo, as_role, engine) -> None:  # type: ignore[no-untyped-def]
    client = as_role("supervisor")
    plan_id = draw(client)
    item = first_items(engine, plan_id)[0]
    with Session(engine) as session:
        order = session.get(Order, item.order_id)
    assert order is not None
    page = client.get(f"/spot-checks/plans/{plan_id}/items/{item.id}").get_data(as_text=True)
    assert order.order_no in page and 'id="timeline"' in page and 'id="deadlines"' in page and 'id="contact"' in page
    assert "先行联系" in page and "否决项" in page and "评查进度：已评查 0 /" in page
    if order.phone:
        assert order.phone not in page
    assert not re.search(r"(?<!\d)1[3-9]\d{9}(?!\d)", page)


def test_a_review_is_scored_by_the_checklist_and_bad_marks_store_nothing(demo, as_role, engine) -> None:  # type: ignore[no-untyped-def]
    client = as_role("supervisor")
    plan_id = draw(client)
    first, second = first_items(engine, plan_id)[:2]
    url = f"/spot-checks/plans/{plan_id}/items/{first.id}/review"
    missing = post(client, url, {k: v for k, v in ALL_PASS.items() if k != "mark_timeliness"})
    assert missing.status_code == 400 and "以下评分项尚未评分：时效" in missing.get_data(as_text=True)
    forged = post(client, url, {**ALL_PASS, "mark_action": "partial", "score": "100", "grade": "优秀", "comment": "好"})
    assert forged.status_code == 302
    with Session(engine) as session:
        stored = session.get(SampleItem, first.id)
    assert stored is not None and (stored.score, stored.grade, stored.passed) == (90.0, "优秀", True)
    post(
        client,
        f"/spot-checks/plans/{plan_id}/items/{second.id}/review",
        {**ALL_PASS, "hard_fail": "fabricated_contact"},
    )
    with Session(engine) as session:
        failed = session.get(SampleItem, second.id)
    assert failed is not None and (failed.score, failed.grade, failed.passed) == (100.0, "不合格", False)
    assert [e.kind for e in events(engine, plan_id)] == ["drawn", "reviewed", "reviewed"]
    page = client.get(f"/spot-checks/plans/{plan_id}").get_data(as_text=True)
    assert "已评查 <strong>2</strong>" in page


def test_a_failed_review_starts_a_redo_once(demo, as_role, engine) -> None:  # type: ignore[no-untyped-def]
    client = as_role("supervisor")
    plan_id = draw(client)
    item = first_items(engine, plan_id)[0]
    base = f"/spot-checks/plans/{plan_id}/items/{item.id}"
    post(client, f"{base}/redo", {"reason": "答复不实"})
    assert "尚未评查" in client.get(base).get_data(as_text=True)
    post(client, f"{base}/review", {**ALL_PASS, "hard_fail": "reply_contradicts_facts"})
    assert 'id="redo-form"' in client.get(base).get_data(as_text=True)
    assert post(client, f"{base}/redo", {"reason": "答复与现场不符"}).status_code == 302
    with Session(engine) as session:
        order = session.get(Order, item.order_id)
        last = session.exec(
            select(OrderEvent).where(OrderEvent.order_id == item.order_id).order_by(col(OrderEvent.id).desc())
        ).first()
    assert order is not None and order.state == "handling" and order.cycle == 2
    assert last is not None and last.action == "redo" and "质量抽查不合格：答复与现场不符" in last.note
    page = client.get(base).get_data(as_text=True)
    assert "已因本次抽查发起过重办" in page and 'id="redo-form"' not in page
    post(client, f"{base}/redo", {"reason": "再来一次"})
    assert [e.kind for e in events(engine, plan_id)].count("redo_started") == 1


# ---------------------------------------------------------------------------- results


def test_results_show_n_and_intervals_charts_drill_down_and_export(demo, as_role, engine) -> None:  # type: ignore[no-untyped-def]
    client = as_role("supervisor")
    plan_id = draw(client)
    for number, item in enumerate(first_items(engine, plan_id)[:12]):
        marks = {**ALL_PASS, "mark_action": "fail", "mark_reply_relevance": "fail"} if number % 4 == 0 else ALL_PASS
        post(client, f"/spot-checks/plans/{plan_id}/items/{item.id}/review", {**marks, "comment": "=1+2"})
    risk = first_items(engine, plan_id, "unsatisfied")
    assert risk
    post(
        client, f"/spot-checks/plans/{plan_id}/items/{risk[0].id}/review", {**ALL_PASS, "hard_fail": "abusive_wording"}
    )

    page = unescape(client.get(f"/spot-checks/plans/{plan_id}/results").get_data(as_text=True))
    assert "75.0%（n=12，95%区间 46.8%–91.1%）" in page  # 9 of 12, Wilson
    assert "0.0%（n=1，95%区间 0.0%–79.3%）" in page  # the risk inclusion, reported apart
    assert "只用<strong>随机抽取</strong>的工单估计" in page
    assert 'class="chart" id="chart-street"' in page and "plotly.min.js" in page and "charts.js" in page
    figure = re.search(
        r'id="chart-street" data-height="\d+" data-figure="([^"]*)"',
        client.get(f"/spot-checks/plans/{plan_id}/results").get_data(as_text=True),
    )
    assert (
        figure and '"arrayminus"' in unescape(figure.group(1)) and "/spot-checks/reviews?" in unescape(figure.group(1))
    )
    assert "答复针对性" in page and "答复用语粗暴" in page

    drill = client.get(f"/spot-checks/reviews?plan={plan_id}&part=random").get_data(as_text=True)
    assert "共 12 件，合格 9 件" in drill
    risk_drill = client.get(f"/spot-checks/reviews?plan={plan_id}&part=risk").get_data(as_text=True)
    assert "共 1 件，合格 0 件" in risk_drill

    export = client.get(f"/spot-checks/plans/{plan_id}/results.xlsx")
    assert export.status_code == 200 and export.mimetype.endswith("spreadsheetml.sheet")
    detail = list(load_workbook(BytesIO(export.data))["评查明细"].iter_rows(values_only=True))
    comments = Counter(row[detail[0].index("评查意见")] for row in detail[1:])
    assert len(detail) == 14 and comments == {"'=1+2": 12, None: 1}

    overall = unescape(client.get("/spot-checks/results?month_from=2026-10&month_to=2026-11").get_data(as_text=True))
    assert "75.0%（n=12，95%区间 46.8%–91.1%）" in overall and 'id="chart-trend"' in overall
    bad_month = unescape(client.get("/spot-checks/results?month_from=2026-13").get_data(as_text=True))
    assert "起始月份「2026-13」无效" in bad_month
    assert client.get("/spot-checks/results.xlsx?month_from=2026-10").status_code == 200
