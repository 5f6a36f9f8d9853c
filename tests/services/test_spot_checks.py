"""Spot-check service over the demo data: populations, draws, verification, sample edits, reviews, redo, results."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import date
from io import BytesIO
from pathlib import Path

import pytest
import time_machine
from openpyxl import load_workbook
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from tests.helpers import local
from tracker.domain.checklist import DEFAULT_CHECKLIST, ChecklistError, Scored, parse_checklist
from tracker.domain.deadlines import local_day_bounds
from tracker.domain.intervals import wilson
from tracker.domain.lifecycle import ActionInput
from tracker.domain.roles import Role
from tracker.domain.sampling import (
    DEFAULT_PLAN,
    Allocation,
    RiskCriteria,
    SamplingPlan,
    SizeKind,
    SizeRule,
    StratifyBy,
    allocate,
    draw_rank,
)
from tracker.domain.vocabulary import Action, State
from tracker.models import Order, OrderEvent, SampleEvent, SampleItem, SamplePlan
from tracker.services import spot_checks as sc
from tracker.services.accounts.actors import Actor
from tracker.services.accounts.users import Viewer
from tracker.services.orders.actions import Context, apply_action
from tracker.services.orders.calendar import load_calendar
from tracker.services.orders.rules import rule_table
from tracker.services.spot_checks import results, reviews

NOW = local("2026-11-26 10:00")
SUPERVISOR = Viewer(1, "duchao", "督察甲", Role.SUPERVISOR, None)
ACTOR = Actor(id="user:1", name="督察 督察甲", source="web")
OCT_NOV = sc.Population(date(2026, 10, 1), date(2026, 11, 30))
ALL_PASS = {key: "pass" for key in ("first_contact", "site_visit", "finding", "action", "reply_relevance")} | {
    key: "pass" for key in ("reply_form", "consistency", "timeliness", "return_extension")
}


@pytest.fixture
def db(app, runner, engine: Engine) -> Iterator[Session]:  # type: ignore[no-untyped-def]
    """A session over the demo orders (about 170 closed in October and November 2026)."""
    with time_machine.travel(NOW, tick=False):
        result = runner.invoke(args=["demo-load", "--now", "2026-11-26T10:00"])
        assert result.exit_code == 0, result.output
    with Session(engine, expire_on_commit=False) as session:
        yield session


def by_street(
    size: SizeRule, minimum: int = 0, allocation: Allocation = Allocation.PROPORTIONAL, **risk: object
) -> SamplingPlan:
    return SamplingPlan(
        size=size,
        stratify_by=StratifyBy.STREET,
        allocation=allocation,
        minimum_per_stratum=minimum,
        risk=RiskCriteria(**risk),  # type: ignore[arg-type]
    )


def draw(db: Session, plan: SamplingPlan, seed: str = "seed-1", population: sc.Population = OCT_NOV) -> SamplePlan:
    data = sc.PlanInput(name="测试计划", population=population, plan=plan, seed=seed)
    row = sc.draw_plan(db, viewer=SUPERVISOR, actor=ACTOR, now=NOW, data=data, checklist=DEFAULT_CHECKLIST)
    db.commit()
    return row


def items(db: Session, plan: SamplePlan) -> list[SampleItem]:
    return list(db.exec(select(SampleItem).where(SampleItem.plan_id == plan.id).order_by(col(SampleItem.order_id))))


def direct_counts(db: Session, population: sc.Population) -> Counter[str]:
    start, end = local_day_bounds(population.closed_from)[0], local_day_bounds(population.closed_to)[1]
    query = select(Order.street, func.count()).where(
        col(Order.closed_at) >= start, col(Order.closed_at) < end, Order.state == "closed"
    )
    if population.streets:
        query = query.where(col(Order.street).in_(population.streets))
    rows = db.exec(query.group_by(Order.street)).all()
    return Counter({street: count for street, count in rows})


# ---------------------------------------------------------------------------- population and draw


def test_population_per_stratum_matches_a_direct_count(db: Session) -> None:
    data = sc.PlanInput("预览", OCT_NOV, by_street(SizeRule(SizeKind.PERCENT, 10)), "seed-1")
    preview, rows = sc.preview_plan(db, viewer=SUPERVISOR, data=data)
    expected = direct_counts(db, OCT_NOV)
    assert {c.stratum: c.population for c in preview.sample.strata} == dict(expected)
    assert preview.population_size == sum(expected.values()) == len(rows) > 150
    assert len(expected) == 14
    november = sc.Population(date(2026, 11, 1), date(2026, 11, 30), streets=("静安寺街道", "曹家渡街道"))
    preview, _ = sc.preview_plan(db, viewer=SUPERVISOR, data=sc.PlanInput("预览", november, data.plan, "s"))
    assert {c.stratum: c.population for c in preview.sample.strata} == dict(direct_counts(db, november))
    assert set(direct_counts(db, november)) == {"静安寺街道", "曹家渡街道"}


def test_a_population_naming_an_unknown_street_is_refused(db: Session) -> None:
    bad = sc.Population(date(2026, 10, 1), date(2026, 11, 30), streets=("火星街道",))
    with pytest.raises(sc.SpotCheckError, match="街镇「火星街道」不存在"):
        sc.preview_plan(db, viewer=SUPERVISOR, data=sc.PlanInput("x", bad, by_street(SizeRule(SizeKind.FIXED, 5))))
    backwards = sc.Population(date(2026, 11, 30), date(2026, 10, 1))
    with pytest.raises(sc.SpotCheckError, match="办结日期自「2026-11-30」晚于办结日期至「2026-10-01」"):
        sc.preview_plan(
            db, viewer=SUPERVISOR, data=sc.PlanInput("x", backwards, by_street(SizeRule(SizeKind.FIXED, 5)))
        )


def test_stratified_draw_respects_the_allocation_and_the_minimum(db: Session) -> None:
    plan = draw(db, by_street(SizeRule(SizeKind.FIXED, 60), minimum=4, unsatisfied=False, returned=False))
    strata = direct_counts(db, OCT_NOV)
    expected = allocate(dict(strata), 60, Allocation.PROPORTIONAL, 4)
    smallest = min(strata, key=strata.__getitem__)
    assert strata[smallest] * 60 / sum(strata.values()) < 4 <= expected[smallest]  # the minimum lifted it
    drawn = Counter(item.stratum for item in items(db, plan) if item.reason == sc.RANDOM)
    assert dict(drawn) == {k: v for k, v in expected.items() if v}
    assert all(drawn[street] >= min(4, size) for street, size in strata.items())
    assert sum(drawn.values()) == 60
    largest = max(strata, key=strata.__getitem__)
    assert drawn[largest] > 4  # proportional above the minimum
    assert {r["stratum"]: r["planned"] for r in plan.strata["rows"]} == expected

    equal = draw(
        db, by_street(SizeRule(SizeKind.FIXED, 28), allocation=Allocation.EQUAL, unsatisfied=False, returned=False)
    )
    assert set(Counter(i.stratum for i in items(db, equal)).values()) == {2}  # 28 over 14 streets


def test_per_stratum_default_plan_stores_its_allocation(db: Session) -> None:
    plan = draw(db, DEFAULT_PLAN)
    assert plan.allocation == "per_stratum" and plan.size_rule["allocation"] == "per_stratum"
    assert sc.sampling_plan_of(plan) == DEFAULT_PLAN
    assert plan.stratify_by == "squad" and all(r["stratum"].endswith("综合行政执法队") for r in plan.strata["rows"])


def test_risk_inclusions_are_all_present_with_their_reasons(db: Session) -> None:
    plan = draw(db, by_street(SizeRule(SizeKind.FIXED, 14), unsatisfied=True, returned=True, repeat=True))
    start, end = local_day_bounds(OCT_NOV.closed_from)[0], local_day_bounds(OCT_NOV.closed_to)[1]
    closed = db.exec(select(Order).where(col(Order.closed_at) >= start, col(Order.closed_at) < end)).all()
    unsatisfied = {o.id for o in closed if o.satisfaction == "不满意"}
    returned = {o.id for o in closed if o.return_count > 0}
    repeat = {o.id for o in closed if o.is_repeat}
    assert unsatisfied and returned and repeat
    by_order = {i.order_id: i for i in items(db, plan)}
    assert unsatisfied | returned | repeat <= set(by_order)
    for order_id in unsatisfied:
        assert "回访不满意" in sc.item_reasons(plan, by_order[order_id])
    for order_id in returned:
        assert "有退单" in sc.item_reasons(plan, by_order[order_id])
    for order_id in repeat:
        assert "重复诉件" in sc.item_reasons(plan, by_order[order_id])
    risk_only = [i for i in by_order.values() if i.reason != sc.RANDOM]
    assert risk_only and all(i.reason in ("unsatisfied", "returned", "repeat") for i in risk_only)
    assert sum(1 for i in by_order.values() if i.reason == sc.RANDOM) == 14


def test_fast_closures_are_included_when_configured(db: Session) -> None:
    plan = draw(db, by_street(SizeRule(SizeKind.FIXED, 0), unsatisfied=False, returned=False, fast_close_hours=48))
    start, end = local_day_bounds(OCT_NOV.closed_from)[0], local_day_bounds(OCT_NOV.closed_to)[1]
    closed = db.exec(select(Order).where(col(Order.closed_at) >= start, col(Order.closed_at) < end)).all()
    fast = {o.id for o in closed if o.closed_at and (o.closed_at - o.dispatched_at).total_seconds() < 48 * 3600}
    assert fast and {i.order_id for i in items(db, plan)} == fast
    assert all(i.reason == "fast_close" for i in items(db, plan))


def test_the_same_seed_draws_the_same_orders_and_the_draw_is_the_sha256_ranking(db: Session) -> None:
    simple = SamplingPlan(size=SizeRule(SizeKind.FIXED, 20), risk=RiskCriteria(unsatisfied=False, returned=False))
    first, second = draw(db, simple, "abc"), draw(db, simple, "abc")
    other = draw(db, simple, "xyz")
    ids = [i.order_id for i in items(db, first)]
    assert ids == [i.order_id for i in items(db, second)]
    assert ids != [i.order_id for i in items(db, other)]
    population = [facts.id for facts in sc.load_population(db, viewer=SUPERVISOR, population=OCT_NOV, stratify_by=None)]
    by_hand = sorted(sorted(population, key=lambda i: draw_rank("abc", i))[:20])  # what the plan page tells people
    assert ids == by_hand
    assert first.population["digest"] == sc.population_digest(population)
    assert len(population) == first.population_size


# ---------------------------------------------------------------------------- verification


def close_one_more(db: Session) -> Order:
    """Close an order still in handling now (26 Nov): it joins the October–November population."""
    order = db.exec(select(Order).where(Order.state == "handling").order_by(col(Order.id))).first()
    assert order is not None
    ctx = Context(ACTOR, NOW, load_calendar(db), rule_table(db))
    apply_action(db, order=order, action=Action.CLOSE, data=ActionInput(reply="已处理", verdict="实际解决"), ctx=ctx)
    db.commit()
    return order


def test_verify_says_the_same_then_that_the_population_changed(db: Session) -> None:
    plan = draw(db, by_street(SizeRule(SizeKind.PERCENT, 10), minimum=1))
    same = sc.verify_plan(db, viewer=SUPERVISOR, plan=plan)
    assert same.same_population and same.same_orders
    assert same.reproducible and same.verdict == "可复现" and same.message.startswith("可复现：总体与抽样时一致")
    close_one_more(db)  # a change no record of the plan explains
    changed = sc.verify_plan(db, viewer=SUPERVISOR, plan=plan)
    assert not changed.same_population and not changed.explained and not changed.reproducible
    assert changed.current_size == plan.population_size + 1
    assert changed.message.startswith("不可复现：总体发生了没有记录可以解释的变化")
    assert f"抽样时 {plan.population_size} 件，现在 {plan.population_size + 1} 件" in changed.message
    assert sum(s.now - s.then for s in changed.strata) == 1


# ---------------------------------------------------------------------------- adding and dropping


def test_adding_and_dropping_need_a_reason_and_write_events(db: Session) -> None:
    plan = draw(db, by_street(SizeRule(SizeKind.FIXED, 14), unsatisfied=False, returned=False))
    outside = db.exec(
        select(Order).where(col(Order.id).not_in([i.order_id for i in items(db, plan)])).order_by(col(Order.id))
    ).first()
    assert outside is not None
    with pytest.raises(sc.SpotCheckError, match="增加工单须填写原因"):
        sc.add_order(db, viewer=SUPERVISOR, actor=ACTOR, now=NOW, plan=plan, order_no=outside.order_no, reason=" ")
    with pytest.raises(sc.SpotCheckError, match="工单编号「NOPE」不存在"):
        sc.add_order(db, viewer=SUPERVISOR, actor=ACTOR, now=NOW, plan=plan, order_no="NOPE", reason="群众来信反映")
    db.rollback()
    assert db.exec(select(SampleEvent).where(SampleEvent.plan_id == plan.id)).all()[-1].kind == "drawn"

    added = sc.add_order(
        db, viewer=SUPERVISOR, actor=ACTOR, now=NOW, plan=plan, order_no=outside.order_no, reason="群众来信反映"
    )
    db.commit()
    assert added.reason == sc.MANUAL and "人工增加" in sc.item_reasons(plan, added)
    with pytest.raises(sc.SpotCheckError, match="已在本样本中"):
        sc.add_order(db, viewer=SUPERVISOR, actor=ACTOR, now=NOW, plan=plan, order_no=outside.order_no, reason="再加")
    db.rollback()

    target = items(db, plan)[0]
    with pytest.raises(sc.SpotCheckError, match="移出工单须填写原因"):
        sc.drop_item(db, actor=ACTOR, now=NOW, plan=plan, item=target, reason="")
    assert target.removed_at is None
    sc.drop_item(db, actor=ACTOR, now=NOW, plan=plan, item=target, reason="工单信息有误")
    db.commit()
    events = db.exec(select(SampleEvent).where(SampleEvent.plan_id == plan.id).order_by(col(SampleEvent.id))).all()
    assert [(e.kind, e.reason) for e in events] == [
        ("drawn", ""),
        ("added", "群众来信反映"),
        ("dropped", "工单信息有误"),
    ]
    assert events[1].order_id == outside.id and events[2].order_id == target.order_id
    assert sc.progress_of(sc.plan_items(db, viewer=SUPERVISOR, plan=plan)).total == 14  # 14 + 1 added − 1 dropped


# ---------------------------------------------------------------------------- reviews and redo


def review(
    db: Session, plan: SamplePlan, item: SampleItem, marks: dict[str, str], hard: tuple[str, ...] = ()
) -> Scored:
    data = reviews.ReviewInput(marks=marks, notes={"reply_form": "落款缺失"}, hard_fails=hard, comment="意见")
    scored = reviews.review_item(db, actor=ACTOR, now=NOW, plan=plan, item=item, data=data)
    db.commit()
    return scored


def test_review_score_and_grade_are_computed_from_the_marks(db: Session) -> None:
    plan = draw(db, by_street(SizeRule(SizeKind.FIXED, 14), unsatisfied=False, returned=False))
    first, second, third, fourth = items(db, plan)[:4]
    assert review(db, plan, first, ALL_PASS) == (100.0, "优秀", True)
    # action (20) partial = 10, reply_relevance (15) fail = 0: 100 − 10 − 15 = 75 → 合格
    assert review(db, plan, second, {**ALL_PASS, "action": "部分符合", "reply_relevance": "fail"}) == (
        75.0,
        "合格",
        True,
    )
    assert review(db, plan, third, {**ALL_PASS, "action": "fail", "timeliness": "fail"}) == (75.0, "合格", True)
    hard = review(db, plan, fourth, ALL_PASS, hard=("abusive_wording",))
    assert hard == (100.0, "不合格", False)
    assert fourth.hard_fails == ["abusive_wording"] and fourth.marks["reply_form"] == {
        "mark": "pass",
        "note": "落款缺失",
    }
    with pytest.raises(ChecklistError, match="以下评分项尚未评分：先行联系"):
        review(db, plan, items(db, plan)[5], {k: v for k, v in ALL_PASS.items() if k != "first_contact"})
    db.rollback()
    with pytest.raises(sc.SpotCheckError, match="评分项「时效」：评分「很好」无效"):
        review(db, plan, items(db, plan)[5], {**ALL_PASS, "timeliness": "很好"})
    db.rollback()
    assert items(db, plan)[5].reviewed_at is None
    kinds = [e.kind for e in db.exec(select(SampleEvent).where(SampleEvent.plan_id == plan.id)).all()]
    assert kinds.count("reviewed") == 4


def test_the_plan_keeps_the_checklist_it_was_drawn_with(db: Session) -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "checklist.toml").read_text(encoding="utf-8")
    custom = parse_checklist(
        text.replace("weight = 20", "weight = 25").replace(
            'weight = 15\n\n[[items]]\nkey = "site', 'weight = 10\n\n[[items]]\nkey = "site'
        )
    )
    data = sc.PlanInput("自定义", OCT_NOV, by_street(SizeRule(SizeKind.FIXED, 14)), "s1")
    plan = sc.draw_plan(db, viewer=SUPERVISOR, actor=ACTOR, now=NOW, data=data, checklist=custom)
    db.commit()
    assert sc.plan_checklist(plan) == custom
    assert {i["key"]: i["weight"] for i in plan.checklist["items"]}["action"] == 25


def test_a_failed_review_starts_a_redo_through_the_lifecycle(db: Session) -> None:
    plan = draw(db, by_street(SizeRule(SizeKind.FIXED, 14), unsatisfied=False, returned=False))
    failed, passed = items(db, plan)[:2]
    review(db, plan, failed, ALL_PASS, hard=("reply_contradicts_facts",))
    review(db, plan, passed, ALL_PASS)
    ctx = Context(ACTOR, NOW, load_calendar(db), rule_table(db))
    with pytest.raises(sc.SpotCheckError, match="评查结果为「优秀」（合格），不需要重办"):
        reviews.start_redo(db, viewer=SUPERVISOR, ctx=ctx, plan=plan, item=passed, reason="复查")
    db.rollback()
    order = db.get(Order, failed.order_id)
    assert order is not None and order.state == "closed"
    cycle = order.cycle
    reviews.start_redo(db, viewer=SUPERVISOR, ctx=ctx, plan=plan, item=failed, reason="答复与现场情况不符，请重新核实")
    db.commit()
    db.refresh(order)
    assert order.state == State.HANDLING.value and order.cycle == cycle + 1 and order.closed_at is None
    event = db.exec(
        select(OrderEvent).where(OrderEvent.order_id == order.id).order_by(col(OrderEvent.id).desc())
    ).first()
    assert (
        event is not None
        and event.action == "redo"
        and event.note.endswith("质量抽查不合格：答复与现场情况不符，请重新核实")
    )
    sample_event = db.exec(select(SampleEvent).where(SampleEvent.kind == "redo_started")).one()
    assert sample_event.order_id == order.id and sample_event.details["cycle"] == [cycle, cycle + 1]
    assert failed.redo_started
    with pytest.raises(sc.SpotCheckError, match="已因本次抽查发起过重办"):
        reviews.start_redo(db, viewer=SUPERVISOR, ctx=ctx, plan=plan, item=failed, reason="再次")
    db.rollback()
    # verification puts the reopened order back (a recorded event of this plan): the draw reproduces
    verified = sc.verify_plan(db, viewer=SUPERVISOR, plan=plan)
    assert verified.redone_here == 1 and verified.redone_numbers == (order.order_no,)
    assert not verified.same_population and verified.explained and verified.reproducible
    assert verified.message.startswith("可复现：") and order.order_no in verified.message


def test_a_redo_is_refused_with_the_reason_when_the_order_is_not_closed(db: Session) -> None:
    plan = draw(db, by_street(SizeRule(SizeKind.FIXED, 14), unsatisfied=False, returned=False))
    item = items(db, plan)[0]
    review(db, plan, item, {**ALL_PASS, "action": "fail", "reply_relevance": "fail", "consistency": "fail"})
    assert item.grade == "不合格" and item.passed is False
    order = db.get(Order, item.order_id)
    assert order is not None
    ctx = Context(ACTOR, NOW, load_calendar(db), rule_table(db))
    apply_action(
        db, order=order, action=Action.REDO, data=ActionInput(reason="回访不满意"), ctx=ctx
    )  # reopened elsewhere
    db.commit()
    with pytest.raises(sc.SpotCheckError, match="工单当前状态为「处置中」，只有已办结的工单可以发起重办"):
        reviews.start_redo(db, viewer=SUPERVISOR, ctx=ctx, plan=plan, item=item, reason="复查")
    db.rollback()
    assert not item.redo_started
    assert not db.exec(select(SampleEvent).where(SampleEvent.kind == "redo_started")).all()


# ---------------------------------------------------------------------------- results and export


def test_results_per_street_match_hand_counts_with_wilson_intervals(db: Session) -> None:
    plan = draw(db, by_street(SizeRule(SizeKind.PERCENT, 30), minimum=2, unsatisfied=True, returned=True))
    sample = items(db, plan)
    random_part = [i for i in sample if i.reason == sc.RANDOM]
    risk_part = [i for i in sample if i.reason != sc.RANDOM]
    assert risk_part
    expected: dict[str, list[bool]] = {}
    for number, item in enumerate(random_part):
        fails = number % 3 == 0
        review(db, plan, item, {**ALL_PASS, "action": "fail", "reply_relevance": "fail"} if fails else ALL_PASS)
        order = db.get(Order, item.order_id)
        assert order is not None and order.street
        expected.setdefault(order.street, []).append(not fails)
    for item in risk_part:
        review(db, plan, item, ALL_PASS, hard=("improper_return",))  # all fail: must not touch the random rates

    rows, labels = results.reviewed_rows(db, viewer=SUPERVISOR, plan_ids=[plan.id or 0])
    outcome = results.compute_results(
        rows, labels, lambda **q: "/spot-checks/reviews?" + "&".join(f"{k}={v}" for k, v in q.items())
    )
    street = next(b for b in outcome.breakdowns if b.dimension == "street")
    assert {g.key for g in street.groups} == set(expected)
    for group in street.groups:
        passes = expected[group.key]
        rate = group.summary.pass_rate
        assert (rate.n, rate.successes) == (len(passes), sum(passes))
        assert (rate.low, rate.high) == pytest.approx(wilson(sum(passes), len(passes)))
        assert group.url.startswith("/spot-checks/reviews?dimension=street&value=")
    total = sum(len(v) for v in expected.values())
    assert outcome.overall.n == total and outcome.overall.pass_rate.successes == sum(sum(v) for v in expected.values())
    assert outcome.risk.n == len(risk_part) and outcome.risk.pass_rate.successes == 0
    assert outcome.failing[0].label in ("处置到位", "答复针对性") and outcome.failing[0].fails == total - sum(
        sum(v) for v in expected.values()
    )
    assert outcome.hard_fails[0].label == "不当退单" and outcome.hard_fails[0].fails == len(risk_part)
    figure = street.chart["data"][0]
    assert figure["type"] == "bar" and figure["error_y"]["symmetric"] is False
    assert len(figure["error_y"]["array"]) == len(street.groups) and figure["customdata"][0] == street.groups[0].url
    text = results.rate_text(street.groups[0].summary.pass_rate)
    assert f"n={street.groups[0].summary.n}，95%区间" in text


def test_rate_text_shows_n_and_the_interval() -> None:
    from tracker.domain.intervals import estimate

    assert results.rate_text(estimate(10, 12)) == "83.3%（n=12，95%区间 55.2%–95.3%）"
    assert results.rate_text(estimate(0, 0)).startswith("—（n=0")


def test_monthly_results_across_plans_and_the_month_filter(db: Session) -> None:
    first = draw(db, by_street(SizeRule(SizeKind.FIXED, 14), unsatisfied=False, returned=False), "m1")
    second = draw(db, by_street(SizeRule(SizeKind.FIXED, 14), unsatisfied=False, returned=False), "m2")
    for plan in (first, second):
        for item in items(db, plan)[:5]:
            review(db, plan, item, ALL_PASS)
    rows, labels = results.reviewed_rows(db, viewer=SUPERVISOR)
    assert len(rows) == 10
    months = Counter(row.month for row in rows)
    assert set(months) <= {"2026-10", "2026-11"}
    outcome = results.compute_results(rows, labels, lambda **q: "")
    assert {g.key: g.summary.n for g in outcome.months} == dict(months)
    november, _ = results.reviewed_rows(db, viewer=SUPERVISOR, month_from="2026-11", month_to="2026-11")
    assert len(november) == months["2026-11"]
    assert outcome.trend_chart["data"][0]["error_y"]["type"] == "data"


def test_the_results_workbook_is_formula_safe(db: Session) -> None:
    plan = draw(db, by_street(SizeRule(SizeKind.FIXED, 14), unsatisfied=False, returned=False))
    item = items(db, plan)[0]
    data = reviews.ReviewInput(marks=ALL_PASS, comment='=HYPERLINK("http://evil","点我")')
    reviews.review_item(db, actor=ACTOR, now=NOW, plan=plan, item=item, data=data)
    db.commit()
    rows, labels = results.reviewed_rows(db, viewer=SUPERVISOR, plan_ids=[plan.id or 0])
    content = results.results_workbook(results.compute_results(rows, labels, lambda **q: ""), title="=1+1 通报")
    book = load_workbook(BytesIO(content))
    assert book.sheetnames == ["合格率", "问题项", "评查明细"]
    assert book["合格率"]["A1"].value == "'=1+1 通报"
    detail = list(book["评查明细"].iter_rows(values_only=True))
    comment_col = detail[0].index("评查意见")
    assert detail[1][comment_col] == '\'=HYPERLINK("http://evil","点我")'
    assert all(not (isinstance(v, str) and v.startswith(("=", "+", "-", "@"))) for row in detail for v in row)
    assert "138" not in str(detail)  # no phone numbers in the 通报
