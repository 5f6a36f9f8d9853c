"""Every number of the dashboard against a direct count over the same orders (Python loops over ORM rows).

The demo data (310 orders) as of 2026-11-26 10:00, district-wide and for the 静安寺街道 squad; the
rates both live (a category chosen, or no snapshot yet) and from the nightly snapshot.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from tests.helpers import local
from tracker.domain.deadlines import local_day_bounds, to_local
from tracker.domain.overdue import level_bounds
from tracker.domain.roles import Role
from tracker.domain.vocabulary import AlertLevel, Stage, State
from tracker.models import Order, OrderDeadline
from tracker.services.accounts.users import Viewer
from tracker.services.orders.calendar import load_calendar
from tracker.services.stats.board import Dashboard, DashboardError, DashboardFilter, default_filter
from tracker.services.stats.dashboard import build_dashboard
from tracker.services.stats.metrics import snapshot_day
from tracker.services.stats.rates import RATE_METRICS
from tracker.services.stats.snapshots import categories_snapshot_from

NOW = local("2026-11-26 10:00")
TODAY = date(2026, 11, 26)
SUPERVISOR = Viewer(1, "duchao", "督察", Role.SUPERVISOR, None)
SQUAD = Viewer(2, "jingansi", "静安寺", Role.SQUAD, "静安寺街道")
WEIGHTS = {"满意": 1.0, "基本满意": 0.8, "一般": 0.6, "不满意": 0.0}
RANK = {"blue": 1, "yellow": 2, "red": 3}


@pytest.fixture
def demo(runner, engine: Engine) -> Iterator[Session]:  # type: ignore[no-untyped-def]
    """A session over the demo data, with the clock at 2026-11-26 10:00 Beijing time."""
    with time_machine.travel(NOW, tick=False):
        result = runner.invoke(args=["demo-load", "--now", "2026-11-26T10:00"])
        assert result.exit_code == 0, result.output
        with Session(engine, expire_on_commit=False) as session:
            yield session


@dataclass(frozen=True)
class Direct:
    """The orders a filter selects, read as ORM rows, and the counts computed from them in Python."""

    session: Session
    viewer: Viewer
    filters: DashboardFilter

    def visible(self, order: Order) -> bool:
        if self.viewer.role is Role.SQUAD and order.street != self.viewer.street:
            return False
        if self.filters.street and order.street != self.filters.street:
            return False
        return not (self.filters.category and order.category != self.filters.category)

    def orders(self) -> list[Order]:
        """Visible orders dispatched in the period."""
        return [
            o
            for o in self.session.exec(select(Order)).all()
            if self.visible(o) and self.filters.first <= to_local(o.dispatched_at).date() <= self.filters.last
        ]

    def open_stages(self) -> list[tuple[str, OrderDeadline, Order]]:
        """(level now, deadline, order) of every open stage at a level, whatever the dispatch date (domain.overdue)."""
        bounds = level_bounds(NOW, load_calendar(self.session))
        ids = {o.id: o for o in self.session.exec(select(Order)).all() if self.visible(o)}
        found = []
        for d in self.session.exec(select(OrderDeadline)).all():
            level = bounds.level_of(d.due_at) if d.completed_at is None else None
            if level and d.order_id in ids:
                found.append((level.value, d, ids[d.order_id]))
        return found

    def rates(
        self, first: date, last: date, *, due_end: datetime | None, street: str | None = None
    ) -> dict[str, tuple[float, float]]:
        """Every rate of domain.md section 5, counted order by order (street None: all visible streets)."""
        start, end = local_day_bounds(first)[0], local_day_bounds(last)[1]
        due_until = min(end, due_end) if due_end else end
        every = [o for o in self.session.exec(select(Order)).all() if self.visible(o)]
        if street is not None:
            every = [o for o in every if (o.street or "（未填街镇）") == street]
        by_id = {o.id: o for o in every}
        dispatched = [o for o in every if start <= o.dispatched_at < end]
        closed = [o for o in every if o.closed_at is not None and start <= o.closed_at < end]
        deadlines = [
            d
            for d in self.session.exec(select(OrderDeadline)).all()
            if d.order_id in by_id
            and d.due_at is not None
            and start <= d.due_at < due_until
            and d.outcome != "cancelled"
        ]
        contact = [d for d in deadlines if d.stage == "first_contact"]
        closing = [d for d in deadlines if d.stage in ("closure", "redo")]
        judged = [o for o in closed if o.verdict in ("实际解决", "解释说明")]
        rated = [o for o in closed if o.satisfaction in WEIGHTS]
        return {
            "intake": (len(dispatched), len(dispatched)),
            "contact_rate": (sum(d.outcome in ("met", "late") for d in contact), len(contact)),
            "contact_timely_rate": (sum(d.outcome == "met" for d in contact), len(contact)),
            "ontime_rate": (sum(d.outcome == "met" for d in closing), len(closing)),
            "resolved_rate": (sum(o.verdict == "实际解决" for o in judged), len(judged)),
            "satisfaction_rate": (sum(WEIGHTS[o.satisfaction or ""] for o in rated), len(rated)),
            "return_rate": (sum(o.return_count > 0 for o in dispatched), len(dispatched)),
            "redo_rate": (sum(o.cycle > 1 for o in closed), len(closed)),
            "repeat_rate": (sum(bool(o.is_repeat) for o in dispatched), len(dispatched)),
            "without_phone": (sum(not by_id[d.order_id].phone for d in contact), 0),
        }


def query_of(url: str) -> dict[str, str]:
    """The order list's filter arguments in a drill-down URL."""
    parts = urlsplit(url)
    assert parts.path == "/"
    return {k: v[0] for k, v in parse_qs(parts.query).items()}


def check_rates(board_rates, expected: Callable[[str | None], dict[str, tuple[float, float]]]) -> None:  # type: ignore[no-untyped-def]
    """Each street's and the total's rates, numerators and denominators, against the direct count."""
    for row in [*board_rates.streets, board_rates.total]:
        want = expected(None if row.street == "合计" else row.street)
        assert row.intake == want["intake"][1], row.street
        for rate in row.rates:
            numerator, denominator = want[rate.metric]
            assert rate.numerator == pytest.approx(numerator), (row.street, rate.metric)
            assert rate.denominator == denominator, (row.street, rate.metric)
            assert rate.rate == (round(numerator / denominator, 4) if denominator else None)


def check_orders_and_alerts(board: Dashboard, direct: Direct) -> None:
    """States, intake per day, alert levels and overdue cells against the direct count, with their links."""
    f = direct.filters
    orders = direct.orders()
    assert {c.key: c.value for c in board.states} == {s.value: sum(o.state == s for o in orders) for s in State}
    for c in board.states:
        assert query_of(c.url) == f.list_args(state=c.key)
    per_day: dict[str, int] = defaultdict(int)
    for o in orders:
        per_day[to_local(o.dispatched_at).date().isoformat()] += 1
    assert [c.key for c in board.intake] == [
        (f.first + timedelta(days=n)).isoformat() for n in range((f.last - f.first).days + 1)
    ]
    assert {c.key: c.value for c in board.intake} == {c.key: per_day.get(c.key, 0) for c in board.intake}
    assert board.intake_total == len(orders)
    assert (
        query_of(board.intake[0].url)["dispatched_from"]
        == board.intake[0].key
        == query_of(board.intake[0].url)["dispatched_to"]
    )

    worst: dict[int, int] = {}
    stages: dict[str, int] = defaultdict(int)
    red: dict[tuple[str, str], set[int]] = defaultdict(set)
    for level, deadline, order in direct.open_stages():
        worst[order.id or 0] = max(worst.get(order.id or 0, 0), RANK[level])
        stages[level] += 1
        if level == "red":
            red[(order.street or "（未填街镇）", deadline.stage)].add(order.id or 0)
    for c in board.levels:  # now, not within the period: no dispatch dates in the links
        assert c.orders == sum(1 for w in worst.values() if w == RANK[c.level.value]), c.level
        assert c.stages == stages[c.level.value], c.level
        assert query_of(c.url) == f.current_args(level=c.level.value)
        assert "dispatched_from" not in query_of(c.url)
    shown = {
        (street, stage.value): cell.value for street, cells in board.overdue.items() for stage, cell in cells.items()
    }
    assert {k: v for k, v in shown.items() if v} == {k: len(v) for k, v in red.items()}
    for street, cells in board.overdue.items():
        for stage, cell in cells.items():
            assert query_of(cell.url) == f.current_args(street=street, level="red", stage=stage.value)


def test_district_wide_every_number_matches_a_direct_count(demo: Session) -> None:
    filters = DashboardFilter(first=date(2026, 10, 1), last=TODAY)
    board = build_dashboard(demo, viewer=SUPERVISOR, filters=filters, now=NOW)
    direct = Direct(demo, SUPERVISOR, filters)
    assert board.intake_total > 100 and board.overdue and sum(c.orders for c in board.levels) > 0  # the demo has them
    check_orders_and_alerts(board, direct)
    assert board.rate_source.kind == "live"  # no snapshot yet
    check_rates(board.rates, lambda street: direct.rates(filters.first, filters.last, due_end=NOW, street=street))
    assert len({row.street for row in board.rates.streets}) > 5
    assert [p.label for p in board.trend] == ["2026-10", "2026-11"]
    for point in board.trend:
        check_rates(point.rates, lambda street, p=point: direct.rates(p.first, p.last, due_end=NOW, street=street))


def test_squad_numbers_are_its_own_streets_only(demo: Session) -> None:
    filters = DashboardFilter(first=date(2026, 10, 1), last=TODAY)
    board = build_dashboard(demo, viewer=SQUAD, filters=filters, now=NOW)
    direct = Direct(demo, SQUAD, filters)
    assert 0 < board.intake_total < len(Direct(demo, SUPERVISOR, filters).orders())
    check_orders_and_alerts(board, direct)
    assert set(board.overdue) <= {"静安寺街道"}
    assert [row.street for row in board.rates.streets] == ["静安寺街道"]
    check_rates(board.rates, lambda street: direct.rates(filters.first, filters.last, due_end=NOW, street=street))


def test_a_squad_asking_for_another_street_gets_nothing(demo: Session) -> None:
    filters = DashboardFilter(first=date(2026, 10, 1), last=TODAY, street="曹家渡街道")
    board = build_dashboard(demo, viewer=SQUAD, filters=filters, now=NOW)
    assert board.intake_total == 0 and all(c.value == 0 for c in board.states)
    assert all(c.orders == c.stages == 0 for c in board.levels) and board.overdue == {}
    assert board.rates.total.intake == 0 and all(r.denominator == 0 for r in board.rates.total.rates)
    assert "曹家渡街道" not in {row.street for row in board.rates.streets}


def test_street_and_category_filters(demo: Session) -> None:
    category = demo.exec(select(Order.category).where(Order.street == "曹家渡街道")).first()
    assert category
    filters = DashboardFilter(first=date(2026, 10, 1), last=TODAY, street="曹家渡街道", category=category)
    board = build_dashboard(demo, viewer=SUPERVISOR, filters=filters, now=NOW)
    direct = Direct(demo, SUPERVISOR, filters)
    assert board.intake_total > 0
    check_orders_and_alerts(board, direct)
    assert board.rate_source.kind == "live"
    check_rates(board.rates, lambda street: direct.rates(filters.first, filters.last, due_end=NOW, street=street))
    assert all(
        query_of(c.url)["category"] == category and query_of(c.url)["street"] == "曹家渡街道" for c in board.states
    )


def check_snapshot_board(session: Session, viewer: Viewer, filters: DashboardFilter, last: date) -> Dashboard:
    """The board's rates come from the snapshot up to ``last``, and they and each trend month match a direct count."""
    board = build_dashboard(session, viewer=viewer, filters=filters, now=NOW)
    direct = Direct(session, viewer, filters)
    assert board.rate_source.kind == "snapshot" and board.rate_source.last == last
    expected = {
        street: direct.rates(filters.first, last, due_end=None, street=street)
        for street in [None, *(row.street for row in board.rates.streets)]
    }
    for values in expected.values():
        values["without_phone"] = (0, 0)
    check_rates(board.rates, expected.__getitem__)
    for point in board.trend:
        check_rates(point.rates, lambda street, p=point: direct.rates(p.first, p.last, due_end=None, street=street))
    return board


def test_rates_from_the_nightly_snapshot_match_a_direct_count(demo: Session) -> None:
    earliest = min(to_local(o.dispatched_at).date() for o in demo.exec(select(Order)).all())
    day = earliest
    while day < TODAY:  # what the nightly job stores, up to yesterday
        snapshot_day(demo, day=day, now=NOW)
        day += timedelta(days=1)
    demo.commit()
    filters = DashboardFilter(first=date(2026, 10, 1), last=TODAY)
    yesterday = TODAY - timedelta(days=1)
    for viewer in (SUPERVISOR, SQUAD):
        board = check_snapshot_board(demo, viewer, filters, yesterday)
        assert all(r.without_phone is None for r in board.rates.total.rates)  # not in the snapshot
        assert len(board.trend) == 12 and board.trend[-1].label == "2026-11" and board.trend[0].label == "2025-12"
        if viewer is SQUAD:
            assert [row.street for row in board.rates.streets] == ["静安寺街道"]
    # a category has snapshot rows of its own: the same definitions, narrowed to its orders
    category = demo.exec(select(Order.category).where(Order.street == "静安寺街道")).first()
    assert category
    narrowed = DashboardFilter(filters.first, TODAY, None, category)
    for viewer in (SUPERVISOR, SQUAD):
        board = check_snapshot_board(demo, viewer, narrowed, yesterday)
        assert board.rates.total.intake > 0 and board.trend[-1].label == "2026-11"
        assert len(board.trend) == 12  # stored per category from the first night: the same 12 months


def test_a_category_view_is_live_where_the_snapshot_has_no_categories_yet(demo: Session) -> None:
    """Days snapshotted before the category dimension existed hold street rows only: never read as zero."""
    from sqlmodel import delete

    from tracker.models import MetricSnapshot

    day = date(2026, 10, 1)
    while day < TODAY:
        snapshot_day(demo, day=day, now=NOW)
        day += timedelta(days=1)
    demo.exec(delete(MetricSnapshot).where(MetricSnapshot.category != "", MetricSnapshot.day < date(2026, 11, 1)))
    demo.commit()
    category = demo.exec(select(Order.category).where(Order.category.is_not(None))).first()  # type: ignore[union-attr]
    october = DashboardFilter(date(2026, 10, 1), TODAY, None, category)
    board = build_dashboard(demo, viewer=SUPERVISOR, filters=october, now=NOW)
    assert board.rate_source.kind == "live" and board.rate_source.last == TODAY
    direct = Direct(demo, SUPERVISOR, october)
    check_rates(board.rates, lambda street: direct.rates(october.first, TODAY, due_end=NOW, street=street))
    complete_from = categories_snapshot_from(demo)  # the first November day with orders to count
    assert complete_from is not None and date(2026, 11, 1) <= complete_from < TODAY
    november = DashboardFilter(complete_from, TODAY, None, category)
    board = build_dashboard(demo, viewer=SUPERVISOR, filters=november, now=NOW)
    assert board.rate_source.kind == "snapshot"
    assert [p.label for p in board.trend] == ["2026-11"]  # the trend starts where categories were stored
    without = build_dashboard(demo, viewer=SUPERVISOR, filters=DashboardFilter(date(2026, 10, 1), TODAY), now=NOW)
    assert without.rate_source.kind == "snapshot" and without.trend[0].label == "2025-12"


def test_rate_links_follow_each_rates_date_basis(demo: Session) -> None:
    filters = DashboardFilter(first=date(2026, 11, 1), last=TODAY)
    board = build_dashboard(demo, viewer=SUPERVISOR, filters=filters, now=NOW)
    street = board.rates.streets[0].street
    assert query_of(board.rate_links[(street, "resolved_rate")]) == {
        "closed_from": "2026-11-01",
        "closed_to": "2026-11-26",
        "street": street,
    }
    assert query_of(board.rate_links[(street, "return_rate")]) == {
        "dispatched_from": "2026-11-01",
        "dispatched_to": "2026-11-26",
        "street": street,
    }
    assert board.bases[0] == ("先行联系率", "先行联系期限日期")


def test_figures_carry_the_same_numbers_and_their_links(demo: Session) -> None:
    filters = DashboardFilter(first=date(2026, 10, 1), last=TODAY)
    board = build_dashboard(demo, viewer=SUPERVISOR, filters=filters, now=NOW)
    states = board.figures["states"]["data"][0]
    assert list(states["y"]) == [c.value for c in board.states]
    assert list(states["customdata"]) == [c.url for c in board.states]
    assert list(board.figures["intake"]["data"][0]["y"]) == [c.value for c in board.intake]
    assert list(board.figures["levels"]["data"][0]["y"]) == [c.orders for c in board.levels]
    overdue = {trace["name"]: list(trace["x"]) for trace in board.figures["overdue"]["data"]}  # horizontal bars
    assert sum(map(sum, overdue.values())) == sum(c.value for cells in board.overdue.values() for c in cells.values())
    totals = [
        sum(c.value for c in board.overdue[street].values()) for street in board.figures["overdue"]["data"][0]["y"]
    ]
    assert totals == sorted(totals)  # the most overdue street on top
    # the streets' rates: one panel per rate, streets sorted by it, the district's value as a dashed line
    panels = board.figures["rates"]["data"]
    assert [trace["name"] for trace in panels] == [m.label for m in RATE_METRICS]
    for i, trace in enumerate(panels):
        expected = {
            r.street: round(r.rates[i].rate * 100, 2) if r.rates[i].rate is not None else None
            for r in board.rates.streets
        }
        assert dict(zip(trace["y"], trace["x"], strict=True)) == expected
        shown = [v for v in trace["x"] if v is not None]
        assert shown == sorted(shown) and trace["orientation"] == "h"
    lines = [shape["x0"] for shape in board.figures["rates"]["layout"]["shapes"]]
    assert lines == [round(r.rate * 100, 2) for r in board.rates.total.rates if r.rate is not None]
    trend = board.figures["trend"]
    assert trend["layout"]["xaxis"]["dtick"] == "M1" and trend["data"][0]["x"][0].endswith("-01")  # a month axis
    assert all(url.startswith("/?") for trace in trend["data"] for url in trace["customdata"])


def test_bad_periods_are_refused_with_the_values_named() -> None:
    with pytest.raises(DashboardError, match=r"2026-11-01.*2026-11-20"):
        DashboardFilter(first=date(2026, 11, 20), last=date(2026, 11, 1)).check()
    with pytest.raises(DashboardError, match="超过 366 天"):
        DashboardFilter(first=date(2025, 1, 1), last=date(2026, 11, 1)).check()
    DashboardFilter(first=date(2025, 11, 26), last=date(2026, 11, 26)).check()  # 366 days is fine


def test_default_period_is_the_last_30_days_in_beijing() -> None:
    assert default_filter(local("2026-11-26 00:30")) == DashboardFilter(date(2026, 10, 28), date(2026, 11, 26))


def test_intake_day_is_the_beijing_date_even_a_microsecond_before_midnight(session: Session, new_order) -> None:  # type: ignore[no-untyped-def]
    late = new_order(dispatched="2026-11-20 23:59", order_no="A1", street="静安寺街道")
    late.dispatched_at = local("2026-11-20 23:59") + timedelta(seconds=59, microseconds=999999)
    new_order(dispatched="2026-11-21 00:00", order_no="A2", street="静安寺街道")
    session.flush()
    filters = DashboardFilter(first=date(2026, 11, 20), last=date(2026, 11, 21))
    board = build_dashboard(session, viewer=SUPERVISOR, filters=filters, now=local("2026-11-22 10:00"))
    assert [(c.key, c.value) for c in board.intake] == [("2026-11-20", 1), ("2026-11-21", 1)]
    assert AlertLevel.RED in [c.level for c in board.levels] and Stage.CLOSURE in list(Stage)
