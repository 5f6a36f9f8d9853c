"""The repeat-complaint lookup of an import: one query per chunk on ix_work_order_repeat, bounded by the window
before the chunk's dispatch times, finding the same earlier orders as reading each address whole."""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from tests.helpers import local
from tests.helpers_import import CLERK, run_import, write_csv
from tracker.domain.deadlines import RuleTable
from tracker.models import Order
from tracker.services.imports import plan
from tracker.services.imports.importer import ImportOptions, import_file
from tracker.services.imports.plan import repeat_query
from tracker.services.imports.profiles import load_profile
from tracker.services.orders.calendar import load_calendar

HEADER = "工单编号,派单时间,问题分类,地址"


def test_the_bounded_lookup_is_one_range_of_the_repeat_index(session: Session) -> None:
    if session.get_bind().dialect.name != "sqlite":
        pytest.skip("SQLite's plan; PostgreSQL chooses by its statistics")
    query = repeat_query({"武定路100号", "某路1号"}, {"油烟扰民"}, local("2026-10-01 00:00"), local("2026-11-01 00:00"))
    compiled = query.compile(session.get_bind(), compile_kwargs={"literal_binds": True})
    plan_rows = session.connection().exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}").all()
    detail = " ".join(str(row[-1]) for row in plan_rows)
    assert (
        "USING INDEX ix_work_order_repeat (address_key=? AND category=? AND dispatched_at>? AND dispatched_at<?)"
        in detail
    )


def test_an_earlier_order_within_the_window_is_found_and_one_before_it_is_not(session: Session, tmp_path: Path) -> None:
    run_import(session, write_csv(tmp_path, HEADER, "R0,2026-09-01 09:00,油烟扰民,武定路100号", name="a.csv"))
    run_import(session, write_csv(tmp_path, HEADER, "R1,2026-10-20 09:00,油烟扰民,武定路100号", name="b.csv"))
    report = run_import(
        session,
        write_csv(
            tmp_path,
            HEADER,
            "R2,2026-11-16 09:00,油烟扰民,武定路100号",  # 27 days after R1
            "R3,2026-10-15 09:00,油烟扰民,武定路100号",  # 44 days after R0, before R1: none in the window
            name="c.csv",
        ),
    )
    assert report.created == 2
    repeat_of = dict(session.exec(select(Order.order_no, Order.repeat_of)).all())
    assert (repeat_of["R2"], repeat_of["R3"]) == ("R1", None)


def generated_file(tmp_path: Path, seed: int) -> Path:
    """Orders at a few addresses over a year, in no order, several at the very same minute."""
    rng = random.Random(seed)
    rows = []
    for i in range(120):
        day = local("2026-01-05 09:00") + timedelta(days=rng.randrange(0, 300), minutes=rng.choice([0, 0, 30]))
        rows.append(f"P{i},{day:%Y-%m-%d %H:%M},{rng.choice(['油烟扰民', '噪声扰民'])},某路{rng.randrange(3)}号")
    return write_csv(tmp_path, HEADER, *rows, name=f"p{seed}.csv")


@pytest.mark.parametrize("seed", [1, 2])
def test_the_bounded_lookup_finds_what_reading_each_address_whole_finds(
    session: Session, tmp_path: Path, monkeypatch: Any, seed: int
) -> None:
    """Half the orders stored, the other half planned first in chunks of 9: the same repeat_of as unbounded."""
    path = generated_file(tmp_path, seed)
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    run_import(session, write_csv(tmp_path, lines[0], *lines[1:60], name="first.csv"))
    session.commit()
    rest = write_csv(tmp_path, lines[0], *lines[60:], name="rest.csv")

    def imported(bounded: bool) -> dict[str, str | None]:
        with monkeypatch.context() as patch:
            if not bounded:
                original = plan.RepeatIndex.__init__

                def unbounded(self: Any, window: timedelta, *, bounded: bool = False) -> None:
                    original(self, window, bounded=False)

                patch.setattr(plan.RepeatIndex, "__init__", unbounded)
            options = ImportOptions(
                actor=CLERK,
                now=local("2026-11-26 09:00"),
                calendar=load_calendar(session),
                rules=RuleTable(),
                profile=load_profile("12345"),
                chunk_rows=9,
                plan_first=True,
            )
            import_file(session, rest, options=options)
            found = dict(session.exec(select(Order.order_no, Order.repeat_of)).all())
            session.rollback()
            return found

    bounded, whole = imported(True), imported(False)
    assert bounded == whole and sum(1 for v in whole.values() if v) > 10
