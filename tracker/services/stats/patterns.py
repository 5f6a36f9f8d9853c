"""Time patterns of intake and of meeting deadlines: weekday × hour, categories by month, rates by dispatch hour."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from tracker.services.stats.frames import local

WEEKDAYS = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")
TOP_CATEGORIES = 8
OTHER = "其他分类"
FRIDAY_LATE_HOUR = 16  # dispatched on a Friday from 16:00 on: the weekend comes before the first working day


@dataclass(frozen=True)
class HourRate:
    """A rate over the decided first-cycle deadlines of orders dispatched in one hour of the day."""

    hour: int
    contact_met: int
    contact_decided: int
    closure_met: int
    closure_decided: int


@dataclass(frozen=True)
class Patterns:
    """Counts only: no order, name, phone or address."""

    heatmap: list[list[int]]  # [weekday][hour]
    months: list[str]
    categories: dict[str, list[int]]  # category → count per month
    hours: list[HourRate]
    friday_late: tuple[int, int]  # first contact (met, decided) for orders dispatched Friday from 16:00
    other_times: tuple[int, int]  # … and for all other orders


def intake_heatmap(dispatched: pd.Series) -> list[list[int]]:
    """Orders per Beijing weekday (rows, Monday first) × hour (columns, 0–23)."""
    times = local(dispatched)
    table = pd.crosstab(times.dt.day_of_week, times.dt.hour)
    table = table.reindex(index=range(7), columns=range(24), fill_value=0)
    return [[int(v) for v in row] for row in table.to_numpy()]


def categories_by_month(frame: pd.DataFrame) -> tuple[list[str], dict[str, list[int]]]:
    """Orders per category × Beijing month; the categories beyond the TOP_CATEGORIES busiest summed as 其他分类."""
    if frame.empty:
        return [], {}
    month = local(frame["dispatched"]).dt.strftime("%Y-%m")
    table = pd.crosstab(frame["category"].astype(str), month)
    table = table.loc[table.sum(axis=1).sort_values(ascending=False).index]
    if len(table) > TOP_CATEGORIES:
        rest = table.iloc[TOP_CATEGORIES:].sum()
        table = pd.concat([table.iloc[:TOP_CATEGORIES], rest.to_frame(OTHER).T])
    return [str(m) for m in table.columns], {str(c): [int(v) for v in row] for c, row in table.iterrows()}


def rates_by_hour(deadlines: pd.DataFrame) -> tuple[list[HourRate], tuple[int, int], tuple[int, int]]:
    """First-contact and closure deadlines met, by hour of dispatch; first contact Friday from 16:00 versus the rest."""
    times = local(deadlines["dispatched"])
    data = deadlines.assign(hour=times.dt.hour, stage=deadlines["stage"].astype(str))
    met = data.pivot_table(index="hour", columns="stage", values="met", aggfunc="sum", fill_value=0)
    decided = data.pivot_table(index="hour", columns="stage", values="met", aggfunc="size", fill_value=0)
    met = met.reindex(index=range(24), columns=["first_contact", "closure"], fill_value=0)
    decided = decided.reindex(index=range(24), columns=["first_contact", "closure"], fill_value=0)
    hours = [
        HourRate(
            h,
            int(met.at[h, "first_contact"]),
            int(decided.at[h, "first_contact"]),
            int(met.at[h, "closure"]),
            int(decided.at[h, "closure"]),
        )
        for h in range(24)
    ]
    contact = data[data["stage"] == "first_contact"]
    late = (times[contact.index].dt.day_of_week == 4) & (times[contact.index].dt.hour >= FRIDAY_LATE_HOUR)
    friday = (int(contact["met"][late].sum()), int(late.sum()))
    other = (int(contact["met"][~late].sum()), int((~late).sum()))
    return hours, friday, other


def time_patterns(frame: pd.DataFrame, deadlines: pd.DataFrame) -> Patterns:
    """Time patterns of an order frame (frames.order_frame) and its decided deadlines (frames.deadline_frame)."""
    months, categories = categories_by_month(frame)
    hours, friday, other = rates_by_hour(deadlines)
    return Patterns(intake_heatmap(frame["dispatched"]), months, categories, hours, friday, other)
