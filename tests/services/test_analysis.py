"""Analysis with known answers: a planted hotspot (one place written five ways), a planted rise, and a
stationary series on which the rise rule must stay quiet (false alarms over many seeds, rate reported)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from sqlmodel import Session

from tests.helpers import local
from tracker.domain.roles import Role
from tracker.domain.vocabulary import State
from tracker.models import Alert, Order, OrderDeadline
from tracker.services.accounts.users import Viewer
from tracker.services.stats.analysis import hotspots, rise_table, rises

NOW = local("2026-11-26 10:00")
SUPERVISOR = Viewer(1, "duchao", "督察", Role.SUPERVISOR, None)
JINGANSI = Viewer(2, "jingansi", "静安寺", Role.SQUAD, "静安寺街道")
CAOJIADU = Viewer(3, "caojiadu", "曹家渡", Role.SQUAD, "曹家渡街道")
STREETS = ["静安寺街道", "曹家渡街道", "江宁路街道"]
CATEGORIES = ["油烟扰民", "噪声扰民", "占道经营", "建筑垃圾"]
PLANTED = [
    "上海市静安区南京西路1000弄2支弄3号401室",
    "静安区 南京西路１０００弄２支３号 门口",
    "南京西路1000弄2支弄3号402室附近",
    "上海南京西路1000弄2支弄3-401对面",
    "南京西路1000弄，2支弄3号。旁",
]


def order(n: int, when: datetime, street: str, category: str, address: str, *, state: State = State.CLOSED) -> Order:
    return Order(
        source="12345",
        order_no=f"SH{n:08d}",
        state=state.value,
        cycle_started_at=when,
        dispatched_at=when,
        street=street,
        category=category,
        address=address,
        complainant="张三",
        phone="13812345678",
    )


def noise(rng: np.random.Generator, count: int, start: datetime, days: float, first_no: int) -> list[Order]:
    """Orders at places no more than twice each, across streets and categories."""
    rows = []
    for i in range(count):
        when = start + timedelta(days=float(rng.uniform(0, days)))
        place = f"测试路{i // 2 + 1}号"  # each place twice, at most
        rows.append(order(first_no + i, when, STREETS[i % 3], CATEGORIES[i % 4], place))
    return rows


@pytest.fixture
def planted(session: Session) -> list[Order]:
    rng = np.random.default_rng(7)
    rows = noise(rng, 300, NOW - timedelta(days=180), 179, 1000)
    days = [80, 60, 30, 12, 2]  # five different days inside the 90-day window
    spot = [
        order(
            i,
            NOW - timedelta(days=d, hours=3),
            "静安寺街道",
            "油烟扰民",
            a,
            state=State.HANDLING if i == 3 else State.CLOSED,
        )
        for i, (d, a) in enumerate(zip(days, PLANTED, strict=True), start=1)
    ]
    spot.append(order(9, NOW - timedelta(days=120), "静安寺街道", "油烟扰民", PLANTED[0]))  # the window before
    spot.append(order(10, NOW - timedelta(days=5), "静安寺街道", "噪声扰民", PLANTED[1]))  # another category
    # three on one day at one place: a burst, not a recurring place
    burst = [order(20 + i, NOW - timedelta(days=7, hours=i), "曹家渡街道", "占道经营", "长寿路100号") for i in range(3)]
    session.add_all(rows + spot + burst)
    session.flush()
    deadline = OrderDeadline(
        order_id=spot[2].id,
        stage="closure",
        started_at=NOW - timedelta(days=30),
        unit="working_days",
        due_at=NOW - timedelta(days=1),
    )
    session.add(deadline)
    session.flush()
    session.add(
        Alert(
            order_id=spot[2].id,
            deadline_id=deadline.id,
            stage="closure",
            level="red",
            level_rank=3,
            due_at=NOW - timedelta(days=1),
            raised_at=NOW - timedelta(days=2),
            level_changed_at=NOW - timedelta(days=1),
        )
    )
    session.commit()
    return spot


def test_planted_hotspot_is_found_once(session: Session, planted: list[Order]) -> None:
    found = hotspots(session, viewer=SUPERVISOR, now=NOW)
    assert [(h.place, h.category) for h in found.items] == [("南京西路1000弄2支弄3号", "油烟扰民")]
    spot = found.items[0]
    assert (spot.count, spot.previous, spot.trend) == (5, 1, 4)
    assert (spot.open, spot.overdue) == (1, 1)
    assert spot.streets == ("静安寺街道",)
    assert [no for _, no in spot.orders] == ["SH00000005", "SH00000004", "SH00000003", "SH00000002", "SH00000001"]
    assert spot.first == NOW - timedelta(days=80, hours=3)
    assert spot.last == NOW - timedelta(days=2, hours=3)


def test_hotspots_keep_to_the_squads_street(session: Session, planted: list[Order]) -> None:
    assert len(hotspots(session, viewer=JINGANSI, now=NOW).items) == 1
    assert hotspots(session, viewer=CAOJIADU, now=NOW).items == []


def test_a_higher_threshold_drops_it(session: Session, planted: list[Order]) -> None:
    assert hotspots(session, viewer=SUPERVISOR, now=NOW, min_orders=6).items == []


def weekly(session: Session, per_week: dict[tuple[str, str], list[int]]) -> None:
    """Orders so that each (street, category) gets the given counts in the 9 weeks before NOW's week."""
    monday = date(2026, 11, 23)  # NOW's week starts here
    n = 50_000
    rows = []
    for (street, category), counts in per_week.items():
        for w, count in enumerate(counts):
            day = monday - timedelta(weeks=len(counts) - w)
            for k in range(count):
                when = local(f"{day + timedelta(days=k % 7)} {8 + k % 10:02d}:30")
                rows.append(order(n, when, street, category, f"某路{n}号"))
                n += 1
    session.add_all(rows)
    session.commit()


def test_planted_rise_is_flagged_and_the_rest_is_quiet(session: Session) -> None:
    weekly(
        session,
        {
            ("江宁路街道", "群租"): [2, 1, 3, 2, 2, 1, 2, 3, 12],  # planted: 2/week, then 12
            ("江宁路街道", "噪声扰民"): [6, 4, 5, 7, 5, 6, 4, 5, 7],  # stationary
            ("静安寺街道", "群租"): [0, 0, 0, 0, 0, 0, 0, 0, 2],  # 0 → 2: below the minimum count
            ("曹家渡街道", "占道经营"): [10, 12, 9, 11, 10, 8, 12, 11, 13],  # stationary, busier
        },
    )
    week, flags = rises(session, viewer=SUPERVISOR, now=NOW)
    assert week == date(2026, 11, 16)
    assert [(f.street, f.category, f.count) for f in flags] == [("江宁路街道", "群租", 12)]
    assert flags[0].baseline == pytest.approx(2.0)
    assert flags[0].p_value < 1e-4  # Binomial(28, 1/9) tail at 12
    assert rises(session, viewer=CAOJIADU, now=NOW)[1] == []
    assert len(rises(session, viewer=Viewer(4, "jny", "江宁路", Role.SQUAD, "江宁路街道"), now=NOW)[1]) == 1


SEEDS = 200
GROUPS = 60  # street × category series per seed, as in a district: 14 streets × a few busy categories


def test_false_alarm_rate_on_stationary_series() -> None:
    """9 weeks of Poisson counts with a constant mean (1 to 15 a week): flags are false alarms."""
    flags = judged = 0
    for seed in range(SEEDS):
        rng = np.random.default_rng(seed)
        means = rng.uniform(1, 15, size=GROUPS)
        counts = pd.DataFrame(rng.poisson(means[:, None], size=(GROUPS, 9)))
        table = rise_table(counts)
        flags += int(table["flagged"].sum())
        judged += len(table)
    rate = flags / judged
    print(f"\n异常上升误报率：{flags} / {judged} = {rate:.4%}（{SEEDS} 个种子 × {GROUPS} 个序列）")
    assert judged == SEEDS * GROUPS
    assert rate < 0.01


def test_patterns_count_what_was_planted(session: Session) -> None:
    from tracker.services.stats.analysis import build_analysis

    fri_late = local("2026-11-20 17:10")  # a Friday
    mon = local("2026-11-23 09:05")
    rows = [order(1, fri_late, "静安寺街道", "油烟扰民", "甲路1号"), order(2, mon, "静安寺街道", "噪声扰民", "乙路2号")]
    rows.append(order(3, local("2026-10-05 09:30"), "曹家渡街道", "油烟扰民", "丙路3号"))
    session.add_all(rows)
    session.flush()
    met = {1: ("first_contact", "late"), 2: ("first_contact", "met"), 3: ("closure", "met")}
    for order_id, (stage, outcome) in met.items():
        row = rows[order_id - 1]
        session.add(
            OrderDeadline(
                order_id=row.id,
                stage=stage,
                started_at=row.dispatched_at,
                unit="working_days",
                due_at=row.dispatched_at + timedelta(days=1),
                outcome=outcome,
            )
        )
    session.commit()
    result = build_analysis(session, viewer=SUPERVISOR, now=NOW)
    p = result.patterns
    assert p.heatmap[4][17] == 1 and p.heatmap[0][9] == 2 and sum(map(sum, p.heatmap)) == 3
    assert p.months == ["2026-10", "2026-11"]
    assert p.categories == {"油烟扰民": [1, 1], "噪声扰民": [0, 1]}
    assert (p.hours[17].contact_met, p.hours[17].contact_decided) == (0, 1)
    assert (p.hours[9].contact_met, p.hours[9].contact_decided, p.hours[9].closure_met) == (1, 1, 1)
    assert (p.friday_late, p.other_times) == ((0, 1), (1, 1))
    squad = build_analysis(session, viewer=CAOJIADU, now=NOW).patterns
    assert sum(map(sum, squad.heatmap)) == 1 and squad.friday_late == (0, 0)


def test_the_page_reads_the_same_hotspots_and_rises(session: Session, planted: list[Order]) -> None:
    from tracker.services.stats.analysis import build_analysis

    result = build_analysis(session, viewer=SUPERVISOR, now=NOW)
    assert result.hotspots.items == hotspots(session, viewer=SUPERVISOR, now=NOW).items
    assert result.rises == rises(session, viewer=SUPERVISOR, now=NOW)[1]


def test_orders_without_addresses_make_no_hotspots(session: Session) -> None:
    session.add_all(order(800 + i, NOW - timedelta(days=i + 1), "静安寺街道", "油烟扰民", None) for i in range(4))  # type: ignore[arg-type]
    session.commit()
    assert hotspots(session, viewer=SUPERVISOR, now=NOW).items == []
