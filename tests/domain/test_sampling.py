"""Spot-check sampling: sizes against hand computation, allocation rules, reproducible draws, Wilson intervals."""

from __future__ import annotations

import hashlib
import math
import random
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tracker.domain.intervals import IntervalError, estimate, wilson
from tracker.domain.sampling import (
    ALL,
    DEFAULT_PLAN,
    Allocation,
    OrderFacts,
    RiskCriteria,
    RiskReason,
    SamplingError,
    SamplingPlan,
    SizeKind,
    SizeRule,
    StratifyBy,
    allocate,
    check_seed,
    draw,
    draw_stratified,
    new_seed,
    plan_sizes,
    sample_size_for_margin,
    select_sample,
    size_from_rule,
)

# ---------------------------------------------------------------------------- sample sizes


@pytest.mark.parametrize(
    ("population", "margin", "confidence", "p", "expected"),
    [
        # z(95 %) = 1.959964; n0 = 1.959964² · 0.25 / 0.05² = 3.841459 · 100 = 384.146
        # N = 10,000: 384.146 / (1 + 383.146/10,000) = 384.146 / 1.0383146 = 369.97 → 370
        (10_000, 0.05, 0.95, 0.5, 370),
        # N = 1,000: 384.146 / (1 + 383.146/1,000) = 384.146 / 1.383146 = 277.73 → 278
        (1_000, 0.05, 0.95, 0.5, 278),
        # N = 100: 384.146 / (1 + 383.146/100) = 384.146 / 4.83146 = 79.51 → 80
        (100, 0.05, 0.95, 0.5, 80),
        # N = 50: 384.146 / (1 + 383.146/50) = 384.146 / 8.66292 = 44.34 → 45
        (50, 0.05, 0.95, 0.5, 45),
        # p = 0.1: n0 = 3.841459 · 0.09 / 0.0025 = 138.29; 138.29 / (1 + 137.29/10,000) = 136.42 → 137
        (10_000, 0.05, 0.95, 0.1, 137),
        # z(99 %) = 2.575829; n0 = 6.634897 · 0.25 / 0.0025 = 663.49; 663.49 / 1.066249 = 622.27 → 623
        (10_000, 0.05, 0.99, 0.5, 623),
        # z(90 %) = 1.644854; n0 = 2.705543 · 100 = 270.55; 270.55 / (1 + 269.55/500) = 270.55 / 1.5391 = 175.79 → 176
        (500, 0.05, 0.90, 0.5, 176),
        # e = 3 %, N = 1,000,000: n0 = 3.841459 · 0.25 / 0.0009 = 1067.07; / 1.001066 = 1065.94 → 1066
        (1_000_000, 0.03, 0.95, 0.5, 1066),
        (1, 0.05, 0.95, 0.5, 1),  # a single order: check it
        (0, 0.05, 0.95, 0.5, 0),  # nothing to check
    ],
)
def test_sample_size_for_margin_matches_hand_computation(
    population: int, margin: float, confidence: float, p: float, expected: int
) -> None:
    assert sample_size_for_margin(population, margin, confidence, p) == expected


@given(
    population=st.integers(0, 200_000),
    margin=st.floats(0.005, 0.5),
    confidence=st.floats(0.5, 0.999),
    p=st.floats(0.01, 0.99),
)
def test_margin_size_is_within_the_population_and_shrinks_as_the_margin_grows(
    population: int, margin: float, confidence: float, p: float
) -> None:
    n = sample_size_for_margin(population, margin, confidence, p)
    assert 0 <= n <= population
    assert (n == 0) == (population == 0)
    assert sample_size_for_margin(population, min(0.99, margin * 1.5), confidence, p) <= n
    assert sample_size_for_margin(population, margin, confidence, 0.5) >= n  # p = 0.5 is the cautious choice


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((10_000, 5), "允许误差「5」无效：应大于 0 且小于 1"),
        ((10_000, 0), "允许误差「0」无效"),
        ((10_000, math.nan), "允许误差「nan」不是有效数字"),
        ((10_000, 0.05, 1.0), "置信水平「1.0」无效"),
        ((10_000, 0.05, 95), "置信水平「95」无效"),
        ((10_000, 0.05, 0.95, 0.0), "预期比例「0.0」无效"),
        ((-1, 0.05), "总体件数「-1」无效：应为不小于 0 的整数"),
        ((True, 0.05), "总体件数「True」无效"),
    ],
)
def test_sample_size_refuses_impossible_inputs(args: tuple[float, ...], message: str) -> None:
    with pytest.raises(SamplingError) as refused:
        sample_size_for_margin(*args)  # type: ignore[arg-type]
    assert message in str(refused.value)


@pytest.mark.parametrize(
    ("rule", "population", "expected"),
    [
        (SizeRule(SizeKind.PERCENT, 5), 200, 10),
        (SizeRule(SizeKind.PERCENT, 5), 47, 3),  # 2.35 rounds up: never below the stated share
        (SizeRule(SizeKind.PERCENT, 2.5), 10_000, 250),
        (SizeRule(SizeKind.PERCENT, 0.1), 1_000, 1),  # 0.1 % of 1000 is exactly 1, not 1.0000000000000002 → 2
        (SizeRule(SizeKind.PERCENT, 100), 47, 47),
        (SizeRule(SizeKind.FIXED, 30), 200, 30),
        (SizeRule(SizeKind.FIXED, 30), 12, 12),  # capped at the population
        (SizeRule(SizeKind.FIXED, 0), 12, 0),
        (SizeRule(SizeKind.MARGIN, 0.05), 10_000, 370),
        (SizeRule(SizeKind.MARGIN, 0.05, 0.99), 10_000, 623),
        (SizeRule(SizeKind.PERCENT, 5), 0, 0),
    ],
)
def test_size_from_rule(rule: SizeRule, population: int, expected: int) -> None:
    assert size_from_rule(rule, population) == expected


def test_plans_accept_plain_strings_from_forms_and_refuse_unknown_ones() -> None:
    assert SizeRule("percent", 5) == SizeRule(SizeKind.PERCENT, 5)  # type: ignore[arg-type]
    plan = SamplingPlan(SizeRule(SizeKind.FIXED, 3), "street", "equal")  # type: ignore[arg-type]
    assert (plan.stratify_by, plan.allocation) == (StratifyBy.STREET, Allocation.EQUAL)
    with pytest.raises(SamplingError, match="样本量规则「weekly」无效：可选 fixed / percent / margin"):
        SizeRule("weekly", 5)  # type: ignore[arg-type]
    with pytest.raises(SamplingError, match="分配方式「random」无效：可选 proportional / equal / per_stratum"):
        SamplingPlan(SizeRule(SizeKind.FIXED, 3), StratifyBy.STREET, "random")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kind", "value", "message"),
    [
        (SizeKind.FIXED, 10.5, "抽取件数「10.5」无效：应为不小于 0 的整数"),
        (SizeKind.FIXED, -3, "抽取件数「-3」无效"),
        (SizeKind.PERCENT, 0, "抽样比例「0」无效：应大于 0 且不超过 100"),
        (SizeKind.PERCENT, 150, "抽样比例「150」无效"),
        (SizeKind.MARGIN, 5, "允许误差「5」无效"),
    ],
)
def test_size_rule_refuses_impossible_values(kind: SizeKind, value: float, message: str) -> None:
    with pytest.raises(SamplingError) as refused:
        SizeRule(kind, value)
    assert message in str(refused.value)


# ---------------------------------------------------------------------------- allocation


@pytest.mark.parametrize(
    ("sizes", "total", "method", "minimum", "expected"),
    [
        # 40 in proportion to 100 : 300 : 5 gives 9.88 : 29.63 : 0.49; minimum 10 lifts a to 10 and c takes all
        # its 5; the rest (25) goes to b: λ·300 = 25.
        ({"a": 100, "b": 300, "c": 5}, 40, Allocation.PROPORTIONAL, 10, {"a": 10, "b": 25, "c": 5}),
        # equal: c holds only 5, the other 35 split 17.5 / 17.5; the tied half goes to the key sorting first
        ({"a": 100, "b": 300, "c": 5}, 40, Allocation.EQUAL, 10, {"a": 18, "b": 17, "c": 5}),
        # minimums force more than the total: each stratum gets its minimum (capped), the sum exceeds 20
        ({"a": 100, "b": 300, "c": 5}, 20, Allocation.PROPORTIONAL, 10, {"a": 10, "b": 10, "c": 5}),
        # a total above the population takes every order
        ({"a": 10, "b": 0}, 50, Allocation.EQUAL, 0, {"a": 10, "b": 0}),
        # three equal thirds of 2: largest remainders tie, keys decide
        ({"c": 1, "b": 1, "a": 1}, 2, Allocation.PROPORTIONAL, 0, {"a": 1, "b": 1, "c": 0}),
        # 37 over 500 : 300 : 200 = 18.5 : 11.1 : 7.4 → 18 + 11 + 7 = 36, the extra one to the largest remainder (a)
        ({"a": 500, "b": 300, "c": 200}, 37, Allocation.PROPORTIONAL, 0, {"a": 19, "b": 11, "c": 7}),
        ({"a": 500, "b": 300, "c": 200}, 0, Allocation.PROPORTIONAL, 0, {"a": 0, "b": 0, "c": 0}),
        ({}, 10, Allocation.PROPORTIONAL, 3, {}),
    ],
)
def test_allocation_worked_examples(
    sizes: dict[str, int], total: int, method: Allocation, minimum: int, expected: dict[str, int]
) -> None:
    assert allocate(sizes, total, method, minimum) == expected


strata_sizes = st.dictionaries(st.text("abcdefgh", min_size=1, max_size=3), st.integers(0, 400), max_size=8)


@given(
    sizes=strata_sizes,
    total=st.integers(0, 2_000),
    method=st.sampled_from([Allocation.PROPORTIONAL, Allocation.EQUAL]),
    minimum=st.integers(0, 30),
)
def test_allocation_sums_to_the_total_respects_minimums_and_never_exceeds_a_stratum(
    sizes: dict[str, int], total: int, method: Allocation, minimum: int
) -> None:
    result = allocate(sizes, total, method, minimum)
    assert result.keys() == sizes.keys()
    floors = {key: min(minimum, size) for key, size in sizes.items()}
    for key, size in sizes.items():
        assert floors[key] <= result[key] <= size
    if sum(floors.values()) >= min(total, sum(sizes.values())):
        assert result == floors  # the documented exception: minimums win over the total
    else:
        assert sum(result.values()) == min(total, sum(sizes.values()))
    shuffled = list(sizes.items())
    random.Random(total).shuffle(shuffled)
    assert allocate(dict(shuffled), total, method, minimum) == result  # the mapping's order does not matter


@given(sizes=strata_sizes, share=st.floats(0, 1))
def test_proportional_allocation_without_minimum_is_within_one_of_the_exact_share(
    sizes: dict[str, int], share: float
) -> None:
    population = sum(sizes.values())
    assume(population > 0)
    total = math.floor(population * share)
    result = allocate(sizes, total, Allocation.PROPORTIONAL, 0)
    for key, size in sizes.items():
        assert abs(result[key] - total * size / population) < 1


@given(
    sizes=strata_sizes,
    total=st.integers(0, 2_000),
    method=st.sampled_from([Allocation.PROPORTIONAL, Allocation.EQUAL]),
    minimum=st.integers(0, 30),
)
def test_allocation_matches_a_bisection_oracle(
    sizes: dict[str, int], total: int, method: Allocation, minimum: int
) -> None:
    """Each share is within 1 of clamp(λ·w, minimum, size), λ found independently by bisection."""
    floors = {key: min(minimum, size) for key, size in sizes.items()}
    target = min(total, sum(sizes.values()))
    assume(sum(floors.values()) < target)
    weight = {key: (size if method is Allocation.PROPORTIONAL else 1) for key, size in sizes.items()}

    def shares(lam: float) -> dict[str, float]:
        return {key: min(size, max(floors[key], lam * weight[key])) for key, size in sizes.items()}

    low, high = 0.0, 10_000.0
    for _ in range(60):
        middle = (low + high) / 2
        low, high = (middle, high) if sum(shares(middle).values()) < target else (low, middle)
    exact = shares(high)
    result = allocate(sizes, total, method, minimum)
    assert all(abs(result[key] - exact[key]) < 1 + 1e-6 for key in sizes), (result, exact)


def test_allocation_refuses_bad_input() -> None:
    with pytest.raises(SamplingError, match="分层「a」的件数「-1」无效"):
        allocate({"a": -1}, 5)
    with pytest.raises(SamplingError, match="每层最少件数「-2」无效"):
        allocate({"a": 1}, 5, minimum=-2)
    with pytest.raises(SamplingError, match="没有总数可分配"):
        allocate({"a": 1}, 5, Allocation.PER_STRATUM)


def test_default_plan_takes_five_percent_per_squad_and_at_least_ten() -> None:
    # 5 % of 100 = 5 → minimum 10; of 300 = 15; a squad with 5 closed orders gives all 5; of 1000 = 50
    assert plan_sizes(DEFAULT_PLAN, {"x": 100, "y": 300, "z": 5, "w": 1000}) == {"w": 50, "x": 10, "y": 15, "z": 5}
    assert (
        DEFAULT_PLAN.describe() == "按执法队分层抽样，每层抽取 5%，每层至少 10 件；另加全部回访不满意件、全部有退单件"
    )


def test_plan_sizes_for_other_plans() -> None:
    simple = SamplingPlan(SizeRule(SizeKind.MARGIN, 0.05), minimum_per_stratum=400)
    assert plan_sizes(simple, {ALL: 10_000}) == {ALL: 370}  # no strata: the minimum per stratum does not apply
    proportional = SamplingPlan(SizeRule(SizeKind.FIXED, 40), StratifyBy.STREET, Allocation.PROPORTIONAL, 10)
    assert plan_sizes(proportional, {"a": 100, "b": 300, "c": 5}) == {"a": 10, "b": 25, "c": 5}
    assert proportional.describe() == (
        "按街镇分层抽样，共抽取 40 件，按比例分配，每层至少 10 件；另加全部回访不满意件、全部有退单件"
    )


def test_plan_round_trips_and_refuses_unknown_choices() -> None:
    plan = SamplingPlan(
        SizeRule(SizeKind.MARGIN, 0.05, 0.99, 0.2),
        StratifyBy.CATEGORY,
        Allocation.EQUAL,
        3,
        RiskCriteria(unsatisfied=False, returned=True, repeat=True, fast_close_hours=2),
    )
    assert SamplingPlan.from_dict(plan.to_dict()) == plan
    assert SamplingPlan.from_dict(DEFAULT_PLAN.to_dict()) == DEFAULT_PLAN
    with pytest.raises(SamplingError, match="分层依据「district」无效：可选 street / squad / category"):
        SamplingPlan.from_dict({**plan.to_dict(), "stratify_by": "district"})
    with pytest.raises(SamplingError, match="每层最少件数「-1」无效"):
        SamplingPlan.from_dict({**plan.to_dict(), "minimum_per_stratum": -1})


# ---------------------------------------------------------------------------- draws


def test_a_draw_is_pinned_by_its_seed_and_anyone_can_recompute_it() -> None:
    population = list(range(1, 101))
    drawn = draw(population, 5, "2026-11-jingan")
    # the documented recipe, written out with nothing but hashlib
    by_hash = sorted(population, key=lambda i: hashlib.sha256(f"2026-11-jingan:{i}".encode()).hexdigest())
    assert drawn == sorted(by_hash[:5])
    assert drawn == draw(population, 5, "2026-11-jingan")
    assert draw(population, 5, "2026-11-jingan-2") != drawn
    assert drawn == [7, 54, 82, 83, 88]  # pinned: a change of algorithm would make old samples unverifiable


@given(
    ids=st.sets(st.integers(1, 10**9), max_size=200),
    n=st.integers(0, 60),
    seed=st.from_regex(r"[0-9a-f]{1,16}", fullmatch=True),
    data=st.data(),
)
def test_draw_is_reproducible_and_independent_of_input_order(
    ids: set[int], n: int, seed: str, data: st.DataObject
) -> None:
    ordered = sorted(ids)
    drawn = draw(ordered, n, seed)
    assert len(drawn) == min(n, len(ids)) and set(drawn) <= ids and drawn == sorted(drawn)
    shuffled = data.draw(st.permutations(ordered))
    assert draw(shuffled + shuffled[:3], n, seed) == drawn  # order and duplicates do not matter
    assert set(draw(ordered, n + 5, seed)) >= set(drawn)  # a larger sample keeps the smaller one
    extra = data.draw(st.integers(10**9 + 1, 2 * 10**9))
    assert len(set(draw([*ordered, extra], n, seed)) - set(drawn)) <= 1  # one new order displaces at most one


@given(
    here=st.sets(st.integers(1, 1000), max_size=50),
    elsewhere=st.sets(st.integers(1001, 2000), max_size=50),
    more=st.sets(st.integers(2001, 3000), max_size=50),
)
def test_orders_added_to_other_strata_do_not_change_a_stratum_draw(
    here: set[int], elsewhere: set[int], more: set[int]
) -> None:
    before = draw_stratified({"静安寺街道": here, "曹家渡街道": elsewhere}, {"静安寺街道": 7, "曹家渡街道": 7}, "s1")
    after = draw_stratified(
        {"静安寺街道": here, "曹家渡街道": elsewhere | more, "江宁路街道": more},
        {"静安寺街道": 7, "曹家渡街道": 9, "江宁路街道": 2},
        "s1",
    )
    assert after["静安寺街道"] == before["静安寺街道"]


def test_every_order_is_equally_likely_to_be_drawn() -> None:
    # 3 of 10 orders under 3000 seeds: each order expected 900 times (binomial sd ≈ 25)
    counts = Counter(i for s in range(3000) for i in draw(range(10), 3, f"seed{s}"))
    assert set(counts) == set(range(10))
    assert all(800 < count < 1000 for count in counts.values()), counts


def test_seeds() -> None:
    seed = new_seed()
    assert len(seed) == 16 and check_seed(seed) == seed and new_seed() != seed
    for bad in ("", "两个字", "a b", "x" * 65):
        with pytest.raises(SamplingError, match=r"随机种子「.*」无效：应为 1–64 位字母、数字或"):
            draw([1, 2], 1, bad)
    with pytest.raises(SamplingError, match="抽取件数「-1」无效"):
        draw([1, 2], -1, "s")


# ---------------------------------------------------------------------------- risk inclusions

T0 = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)


def test_risk_criteria_name_every_reason_met() -> None:
    criteria = RiskCriteria(unsatisfied=True, returned=True, repeat=True, fast_close_hours=2)
    worst = OrderFacts(1, "a", "不满意", 1, True, T0, T0 + timedelta(hours=1, minutes=59))
    assert criteria.reasons(worst) == (
        RiskReason.UNSATISFIED,
        RiskReason.RETURNED,
        RiskReason.REPEAT,
        RiskReason.FAST_CLOSE,
    )
    assert criteria.reasons(OrderFacts(2, "a", "基本满意", 0, False, T0, T0 + timedelta(hours=2))) == ()
    assert criteria.reasons(OrderFacts(3, "a", None, 0, False, T0, None)) == ()  # not closed: not "fast"
    assert not DEFAULT_PLAN.risk.matches(OrderFacts(4, "a", "满意", 0, True, T0, T0))  # repeats and speed are opt-in
    assert DEFAULT_PLAN.risk.reasons(worst) == (RiskReason.UNSATISFIED, RiskReason.RETURNED)
    assert criteria.describe() == "全部回访不满意件、全部有退单件、全部重复诉件件、全部派单后不足 2 小时办结件"
    assert RiskCriteria(False, False).describe() == "无"
    with pytest.raises(SamplingError, match="办结过快时限「0」无效：应为大于 0 的小时数"):
        RiskCriteria(fast_close_hours=0)


def population() -> list[OrderFacts]:
    """300 closed orders in 静安寺街道, 40 in 曹家渡街道; every 25th unsatisfied, every 60th returned."""
    orders = []
    for i in range(1, 341):
        street = "静安寺街道" if i <= 300 else "曹家渡街道"
        satisfaction = "不满意" if i % 25 == 0 else "满意"
        orders.append(OrderFacts(i, street, satisfaction, int(i % 60 == 0), False, T0, T0 + timedelta(days=2)))
    return orders


def test_select_sample_draws_the_random_part_and_adds_every_risk_order() -> None:
    facts = population()
    sample = select_sample(DEFAULT_PLAN, facts, "2026-11")
    counts = {row.stratum: row for row in sample.strata}
    assert counts["静安寺街道"].population == 300 and counts["静安寺街道"].planned == 15
    assert counts["曹家渡街道"].population == 40 and counts["曹家渡街道"].planned == 10
    random_part = [s for s in sample.orders if s.random]
    assert Counter(s.stratum for s in random_part) == {"静安寺街道": 15, "曹家渡街道": 10}
    risky = {f.id for f in facts if DEFAULT_PLAN.risk.matches(f)}
    assert risky <= set(sample.ids)  # every 不满意 and every return, whether drawn or not
    assert len(sample.ids) == len(set(sample.ids)) == 25 + len(risky - {s.id for s in random_part})
    assert sum(row.risk_added for row in sample.strata) == len(risky - {s.id for s in random_part})
    for selected in sample.orders:
        assert selected.reasons == DEFAULT_PLAN.risk.reasons(facts[selected.id - 1])
    # the same plan, population (in any order) and seed give the same sample
    assert select_sample(DEFAULT_PLAN, list(reversed(facts)), "2026-11") == sample


def test_the_random_part_is_drawn_from_the_whole_stratum_risk_orders_included() -> None:
    everyone_unhappy = [OrderFacts(i, "a", "不满意") for i in range(1, 101)]
    sample = select_sample(DEFAULT_PLAN, everyone_unhappy, "s")
    assert len(sample.ids) == 100  # all are risk inclusions
    assert sum(s.random for s in sample.orders) == 10  # and 10 of them are also the random part
    assert sample.strata[0].risk_added == 90


def test_select_sample_unstratified_and_bad_population() -> None:
    plan = SamplingPlan(SizeRule(SizeKind.FIXED, 12), risk=RiskCriteria(False, False))
    sample = select_sample(plan, population(), "x")
    assert len(sample.ids) == 12 and {s.stratum for s in sample.orders} == {ALL}
    with pytest.raises(SamplingError, match="工单 id「7」在总体中出现两次"):
        select_sample(plan, [OrderFacts(7), OrderFacts(7)], "x")


# ---------------------------------------------------------------------------- Wilson intervals


@pytest.mark.parametrize(
    ("successes", "n", "low", "high"),
    [
        # Newcombe (1998), Statistics in Medicine 17:857–872, Table I, method 3 (Wilson score, no correction)
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0, 0.1611),
        (1, 29, 0.0061, 0.1718),
        # by hand, 0/10: z² = 3.8415, centre = (z²/20) / (1 + z²/10) = 0.19207 / 1.38415 = 0.13877,
        # half-width = z·√(z²/400) / 1.38415 = 0.19207 / 1.38415 = 0.13877 → (0, 0.2775); 10/10 mirrors it
        (0, 10, 0.0, 0.2775),
        (10, 10, 0.7225, 1.0),
    ],
)
def test_wilson_against_published_values(successes: int, n: int, low: float, high: float) -> None:
    got_low, got_high = wilson(successes, n)
    assert (round(got_low, 4), round(got_high, 4)) == (low, high)


def test_wilson_edges_and_errors() -> None:
    assert wilson(0, 10)[0] == 0.0 and wilson(10, 10)[1] == 1.0  # exact, not 2.8e-17
    assert wilson(0, 0) == (0.0, 1.0)  # no evidence: the whole range
    assert wilson(5, 10, 0.99)[0] < wilson(5, 10)[0]  # higher confidence, wider interval
    with pytest.raises(IntervalError, match="符合数「11」无效：应在 0 到样本量 10 之间"):
        wilson(11, 10)
    with pytest.raises(IntervalError, match="样本量「-1」无效"):
        wilson(0, -1)
    with pytest.raises(IntervalError, match=r"置信水平「1\.5」无效"):
        wilson(1, 2, 1.5)


@settings(max_examples=200)
@given(n=st.integers(1, 5000), data=st.data())
def test_wilson_contains_the_observed_rate_within_zero_and_one(n: int, data: st.DataObject) -> None:
    k = data.draw(st.integers(0, n))
    low, high = wilson(k, n)
    assert 0.0 <= low <= k / n <= high <= 1.0


def test_estimate_describes_itself() -> None:
    assert estimate(8, 10).describe() == "80.0%（95% 置信区间 49.0%–94.3%，n = 10）"
    assert estimate(0, 0).rate is None
    assert estimate(0, 0).describe() == "无样本（n = 0，95% 置信区间 0%–100%）"
