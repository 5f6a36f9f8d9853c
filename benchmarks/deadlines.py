"""Deadline benchmark: closure deadlines of 1,000,000 orders, against references measured in the same run.

Target (issue 2): under 2 seconds on this machine for the bulk path. References:
- floor: one dict lookup per order, the least a Python loop over 1,000,000 orders can cost;
- per-order: the same deadlines through ``compute_due`` one order at a time;
- day loop: a day-by-day walk over the calendar (how a naive tracker counts), timed on a
  sample and scaled to 1,000,000.
The last line printed is one JSON object with every figure and ratio.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import time
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

from tracker.domain.calendar import WorkCalendar
from tracker.domain.deadlines import LOCAL_TZ, RuleTable, compute_due, end_of_local_day, try_compute_dues
from tracker.domain.vocabulary import Stage
from tracker.services.orders.calendar import package_arrangements

REQUEST_TYPES = ("投诉举报", "求助", "咨询", "意见建议", "其他")


def make_orders(count: int, seed: int) -> list[tuple[datetime, str, str]]:
    """(dispatched_at UTC, request type, urgency) spread over 2024-01-01 .. 2026-11-30."""
    rng = random.Random(seed)
    base = datetime(2024, 1, 1, tzinfo=UTC)
    span = int((datetime(2026, 11, 30, tzinfo=UTC) - base).total_seconds())
    return [
        (
            base + timedelta(seconds=rng.randrange(span)),
            rng.choice(REQUEST_TYPES),
            "紧急" if rng.random() < 0.08 else "普通",
        )
        for _ in range(count)
    ]


def bulk(orders: list[tuple[datetime, str, str]], table: RuleTable, calendar: WorkCalendar) -> int:
    """The bulk path: group by matching rule, one calendar lookup per distinct start date."""
    groups: dict[tuple[str, str], list[datetime]] = defaultdict(list)
    for start, request_type, urgency in orders:
        groups[(request_type, urgency)].append(start)
    computed = 0
    for (request_type, urgency), starts in groups.items():
        rule = table.match(Stage.CLOSURE, request_type=request_type, urgency=urgency)
        computed += len(try_compute_dues(starts, rule.amount, rule.unit, calendar))
    return computed


def per_order(orders: list[tuple[datetime, str, str]], table: RuleTable, calendar: WorkCalendar) -> int:
    """One order at a time through the public single-order function."""
    rules = {}
    for _, request_type, urgency in orders[:1000]:
        rules[(request_type, urgency)] = table.match(Stage.CLOSURE, request_type=request_type, urgency=urgency)
    computed = 0
    for start, request_type, urgency in orders:
        rule = rules.get((request_type, urgency)) or table.match(
            Stage.CLOSURE, request_type=request_type, urgency=urgency
        )
        compute_due(start, rule.amount, rule.unit, calendar)
        computed += 1
    return computed


def floor(orders: list[tuple[datetime, str, str]]) -> int:
    """One dict lookup per order."""
    seen: dict[datetime, int] = {}
    return sum(1 for start, _, _ in orders if seen.get(start) is None)


def day_loop(orders: list[tuple[datetime, str, str]], calendar: WorkCalendar) -> int:
    """Walk day by day asking the calendar whether each day is worked (5 working days)."""
    for start, _, _ in orders:
        day: date = start.astimezone(LOCAL_TZ).date()
        while not calendar.is_workday(day):
            day += timedelta(days=1)
        counted = 0
        while counted < 5:
            day += timedelta(days=1)
            counted += calendar.is_workday(day)
        end_of_local_day(day)
    return len(orders)


def timed(func, *args) -> float:  # type: ignore[no-untyped-def]
    """Best of three wall-clock runs, in seconds."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        func(*args)
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description="期限计算基准：100 万件工单的办结期限")
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--loop-sample", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=20261126)
    args = parser.parse_args()
    calendar = WorkCalendar.from_arrangements(package_arrangements())
    table = RuleTable()
    orders = make_orders(args.orders, args.seed)
    bulk_s = timed(bulk, orders, table, calendar)
    per_order_s = timed(per_order, orders, table, calendar)
    floor_s = timed(floor, orders)
    sample = orders[: args.loop_sample]
    loop_s = timed(day_loop, sample, calendar) * (args.orders / len(sample))
    figures = {
        "benchmark": "deadlines",
        "orders": args.orders,
        "bulk_s": round(bulk_s, 3),
        "per_order_s": round(per_order_s, 3),
        "floor_dict_lookup_s": round(floor_s, 3),
        "day_loop_scaled_s": round(loop_s, 3),
        "bulk_vs_floor": round(bulk_s / floor_s, 2),
        "bulk_vs_day_loop": round(bulk_s / loop_s, 3),
        "per_order_vs_floor": round(per_order_s / floor_s, 2),
        "target_s": 2.0,
        "bulk_within_target": bulk_s < 2.0,
        "python": platform.python_version(),
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
    }
    print(
        f"批量计算 {args.orders:,} 件办结期限：{bulk_s:.2f} 秒（目标 < 2 秒）；逐件：{per_order_s:.2f} 秒；"
        f"逐日循环（折算）：{loop_s:.2f} 秒；最低开销（每件一次字典查找）：{floor_s:.2f} 秒"
    )
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
