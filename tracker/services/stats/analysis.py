"""Analysis the bureau lacks: recurring places (重复诉件热点), rising problems (异常上升), time patterns.

pandas does the grouping over typed frames (frames.py); nothing loops over orders in Python. The
address is normalised once per distinct address (domain ``building_of``), never per order, and kept
at building level: no flat number, name or phone reaches a list, chart or export.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import pandas as pd
from sqlmodel import Session

from tracker.domain.addresses import building_of
from tracker.domain.deadlines import local_day_bounds, to_local
from tracker.domain.rising import ALPHA, BASELINE_WEEKS, MIN_COUNT, rise_p_value
from tracker.services.accounts import Viewer
from tracker.services.stats.frames import deadline_frame, local, order_frame, overdue_ids
from tracker.services.stats.patterns import Patterns, time_patterns

HOTSPOT_DAYS = 90
HOTSPOT_MIN_ORDERS = 3
HOTSPOT_MIN_DAYS = 2
ORDER_LINKS = 30  # order numbers listed per hotspot (the count says how many there are)
PAGE_HOTSPOTS = 100  # hotspots shown on the page (the export holds them all)


@dataclass(frozen=True)
class Hotspot:
    """A place and category complained about again and again in the window."""

    place: str
    category: str
    count: int
    previous: int  # the same place and category in the window before
    first: datetime
    last: datetime
    open: int
    overdue: int
    streets: tuple[str, ...]
    orders: tuple[tuple[int, str], ...]  # (id, order_no), newest first, at most ORDER_LINKS

    @property
    def trend(self) -> int:
        """Change against the previous window."""
        return self.count - self.previous


@dataclass(frozen=True)
class Rise:
    """A street's category whose count in one week is improbable under its own 8-week baseline."""

    street: str
    category: str
    week: date  # the Monday the week starts on (Beijing)
    count: int
    baseline: float
    p_value: float


@dataclass
class Hotspots:
    """The hotspots of a window, most orders first (then the newest complaint), and the window itself."""

    start: datetime
    end: datetime
    items: list[Hotspot] = field(default_factory=list)


def place_keys(addresses: pd.Series) -> pd.Series:
    """Building-level keys for a categorical address column: normalised once per distinct address."""
    categories = addresses.cat.categories
    if len(categories) == 0:  # no order has an address
        return pd.Series([None] * len(addresses), index=addresses.index, dtype=object)
    keys = pd.Series([building_of(a) for a in categories], index=categories, dtype=object)
    codes = addresses.cat.codes.to_numpy()
    values = keys.to_numpy()[codes]
    values[codes < 0] = None
    return pd.Series(values, index=addresses.index, dtype=object)


def find_hotspots(
    frame: pd.DataFrame,
    *,
    split: datetime,
    min_orders: int = HOTSPOT_MIN_ORDERS,
    min_days: int = HOTSPOT_MIN_DAYS,
) -> list[Hotspot]:
    """Hotspots among orders dispatched from ``split`` on; earlier rows of ``frame`` are the previous window.

    ``frame`` needs id, order_no, dispatched, street, category, address (categorical), open and overdue.
    A hotspot is a (building, category) with at least ``min_orders`` orders on at least ``min_days`` days.
    """
    if frame.empty:
        return []
    data = frame.assign(place=place_keys(frame["address"])).dropna(subset=["place"])
    # plain string keys: a reindex across two categorical MultiIndexes whose codes differ in width fails in
    # pandas (int8 versus int16 codes, seen with the demo data); the groups are few, the cost is small
    data["category"] = data["category"].astype(object)
    current = data[data["dispatched"] >= pd.Timestamp(split)]
    previous = data[data["dispatched"] < pd.Timestamp(split)]
    keys = ["place", "category"]
    current = current.assign(day=local(current["dispatched"]).dt.normalize())
    grouped = current.groupby(keys, observed=True, sort=False).agg(
        count=("id", "size"),
        days=("day", "nunique"),
        first=("dispatched", "min"),
        last=("dispatched", "max"),
        open=("open", "sum"),
        overdue=("overdue", "sum"),
    )
    hot = grouped[(grouped["count"] >= min_orders) & (grouped["days"] >= min_days)]
    if hot.empty:
        return []
    before = previous.groupby(keys, observed=True).size()
    hot = hot.assign(previous=before.reindex(hot.index, fill_value=0))
    members = current.set_index(keys).loc[hot.index.unique()].reset_index()
    members = members.sort_values("dispatched", ascending=False)
    streets = members.groupby(keys, observed=True)["street"].unique()
    newest = members.groupby(keys, observed=True).head(ORDER_LINKS)
    links = newest.groupby(keys, observed=True)[["id", "order_no"]].apply(
        lambda g: tuple(zip(g["id"].tolist(), g["order_no"].tolist(), strict=True))
    )
    hot = hot.sort_values(["count", "last"], ascending=False)
    return [
        Hotspot(
            place=str(place),
            category=str(category),
            count=int(row["count"]),
            previous=int(row["previous"]),
            first=row["first"].to_pydatetime(),
            last=row["last"].to_pydatetime(),
            open=int(row["open"]),
            overdue=int(row["overdue"]),
            streets=tuple(sorted(str(s) for s in streets.loc[(place, category)])),
            orders=links.loc[(place, category)],
        )
        for (place, category), row in hot.iterrows()  # one row per hotspot, not per order
    ]


def hotspots(
    session: Session,
    *,
    viewer: Viewer,
    now: datetime,
    days: int = HOTSPOT_DAYS,
    min_orders: int = HOTSPOT_MIN_ORDERS,
) -> Hotspots:
    """The viewer's hotspots in the ``days`` before ``now``, with the trend against the ``days`` before that."""
    split = now - timedelta(days=days)
    start = split - timedelta(days=days)
    frame = order_frame(session, viewer=viewer, start=start, end=now, with_address=True)
    late = overdue_ids(session, viewer=viewer, start=split, end=now, now=now)
    frame["overdue"] = frame["id"].isin(late)
    return Hotspots(split, now, find_hotspots(frame, split=split, min_orders=min_orders))


def week_start(day: date) -> date:
    """The Monday of the week ``day`` is in."""
    return day - timedelta(days=day.weekday())


def weekly_counts(frame: pd.DataFrame, weeks: list[date]) -> pd.DataFrame:
    """Orders per (street, category) × week (columns: the Mondays of ``weeks``), zeros where none came."""
    if frame.empty:
        return pd.DataFrame(columns=pd.Index(weeks), index=pd.MultiIndex.from_tuples([], names=["street", "category"]))
    monday = local(frame["dispatched"]).dt.tz_localize(None).dt.normalize()
    monday = monday - pd.to_timedelta(monday.dt.day_of_week, unit="D")
    counts = (
        frame.assign(week=monday.dt.date)
        .groupby(["street", "category", "week"], observed=True)
        .size()
        .unstack("week", fill_value=0)
    )
    return counts.reindex(columns=weeks, fill_value=0).astype("int64")


def rise_table(counts: pd.DataFrame, *, alpha: float = ALPHA, min_count: int = MIN_COUNT) -> pd.DataFrame:
    """Per row of weekly counts (last column the week judged, the others its baseline): count, baseline, p, flagged.

    The tail (domain ``rise_p_value``) is computed only for rows at or above ``min_count`` (few); the
    rest cannot be alarms.
    """
    latest = counts.iloc[:, -1].astype("int64")
    before = counts.iloc[:, :-1].sum(axis=1).astype("int64")
    weeks = counts.shape[1] - 1
    table = pd.DataFrame({"count": latest, "baseline": before / weeks, "p": 1.0})
    candidates = latest >= min_count
    if candidates.any():
        table.loc[candidates, "p"] = [
            rise_p_value(int(c), int(b), weeks=weeks)
            for c, b in zip(latest[candidates], before[candidates], strict=True)
        ]
    table["flagged"] = candidates & (table["p"] < alpha)
    return table


def rise_weeks(now: datetime) -> list[date]:
    """The Mondays of the judged week (the last complete Beijing week before ``now``) and of its baseline."""
    this_monday = week_start(to_local(now).date())
    return [this_monday - timedelta(weeks=n) for n in range(BASELINE_WEEKS + 1, 0, -1)]


def find_rises(frame: pd.DataFrame, weeks: list[date]) -> list[Rise]:
    """Flagged street × category counts of the last of ``weeks``, most improbable first."""
    start, end = local_day_bounds(weeks[0])[0], local_day_bounds(weeks[-1] + timedelta(days=7))[0]
    inside = frame[(frame["dispatched"] >= pd.Timestamp(start)) & (frame["dispatched"] < pd.Timestamp(end))]
    table = rise_table(weekly_counts(inside, weeks))
    flagged = table[table["flagged"]].sort_values("p")
    return [
        Rise(str(street), str(category), weeks[-1], int(row["count"]), float(row["baseline"]), float(row["p"]))
        for (street, category), row in flagged.iterrows()  # one row per flag
    ]


def rises(session: Session, *, viewer: Viewer, now: datetime) -> tuple[date, list[Rise]]:
    """The last complete week (Beijing) and its flagged street × category counts, most improbable first."""
    weeks = rise_weeks(now)
    start = local_day_bounds(weeks[0])[0]
    end = local_day_bounds(weeks[-1] + timedelta(days=7))[0]
    return weeks[-1], find_rises(order_frame(session, viewer=viewer, start=start, end=end), weeks)


def marked_counts(
    frame: pd.DataFrame, *, split: datetime, marked: list[tuple[str, str, datetime]]
) -> dict[tuple[str, str], tuple[int, int]]:
    """For each marked (place, category, marked_at): orders from ``split`` on, and orders since it was marked."""
    if not marked or frame.empty:
        return {(p, c): (0, 0) for p, c, _ in marked}
    places = place_keys(frame["address"]).to_numpy()
    categories = frame["category"].astype(str).to_numpy()
    times = frame["dispatched"]
    counts = {}
    for place, category, since in marked:  # one vectorised pass per mark (few), none per order
        here = (places == place) & (categories == category)
        counts[(place, category)] = (
            int((here & (times >= pd.Timestamp(split)).to_numpy()).sum()),
            int((here & (times >= pd.Timestamp(since)).to_numpy()).sum()),
        )
    return counts


@dataclass(frozen=True)
class Analysis:
    """What the analysis page shows (counts and building-level places only)."""

    days: int
    hotspots: Hotspots
    week: date
    rises: list[Rise]
    patterns: Patterns
    marked: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)  # (window, since marked)


def build_analysis(
    session: Session,
    *,
    viewer: Viewer,
    now: datetime,
    days: int = HOTSPOT_DAYS,
    marked: list[tuple[str, str, datetime]] | None = None,
) -> Analysis:
    """Hotspots, rises and time patterns from one read of the orders (the window, the one before, 9 weeks).

    ``marked``: places under 源头治理 (place, category, marked_at) whose counts to report (see marked_counts).
    """
    weeks = rise_weeks(now)
    split = now - timedelta(days=days)
    start = min(split - timedelta(days=days), local_day_bounds(weeks[0])[0])
    frame = order_frame(session, viewer=viewer, start=start, end=now, with_address=True)
    frame["overdue"] = frame["id"].isin(overdue_ids(session, viewer=viewer, start=split, end=now, now=now))
    current = frame[frame["dispatched"] >= pd.Timestamp(split)]
    two_windows = frame[frame["dispatched"] >= pd.Timestamp(split - timedelta(days=days))]
    hot = Hotspots(split, now, find_hotspots(two_windows, split=split))
    deadlines = deadline_frame(session, viewer=viewer, start=split, end=now)
    counts = marked_counts(frame, split=split, marked=marked or [])
    return Analysis(days, hot, weeks[-1], find_rises(frame, weeks), time_patterns(current, deadlines), counts)
