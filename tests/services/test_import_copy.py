"""On PostgreSQL new orders go in through COPY: the very rows executemany writes, value for value."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

from tests.conftest import PG_URL, seed
from tests.helpers_import import run_import, write_csv
from tracker.models import Order
from tracker.services.imports import plan

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = [
    (ROOT / "sample_orders" / "12345工单导出_2026-11-20.xlsx", "12345"),
    (ROOT / "sample_orders" / "城管诉件导出_2026-11-20.csv", "城管诉件"),
    (ROOT / "sample_orders" / "dirty" / "12345_合并单元格_序列号日期.xlsx", "12345"),
    (ROOT / "sample_orders" / "dirty" / "城管诉件_GB18030_杂乱.csv", "城管诉件"),
]
# what COPY's text format must escape or keep apart: tab, backslash, a literal \N, a newline, quotes,
# an empty cell (NULL) beside an empty string, an unknown column (extras, JSON), times across midnight UTC
AWKWARD = [
    "工单编号,派单时间,诉求类型,诉求内容,地址,所属街镇,工单状态,签收时间,办结时间,答复内容,结案评判,联系电话,坐席工号",
    'K1,2026-11-16 07:59,求助,"制表\t符与反斜杠 \\ 和 \\N 字样",上海市静安区某路1号,北站街道,处理中,'
    "2026-11-16 08:10,,,,13812345678,\\N",
    'K2,2026-11-17 23:30,投诉举报,"第一行\n第二行，含""引号""",,曹家渡街道,已办结,2026-11-18 00:05,'
    '2026-11-18 16:00,"已处理\\t完毕",实际解决,,{"a": 1}',
    "K3,2026-11-18 09:00,咨询,,,江宁路街道,待签收,,,,,,",
]
VOLATILE = {"id", "created_at", "updated_at"}  # bookkeeping times differ between two runs; ids are compared as order_no


def dump(engine: Engine, batch: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every order, deadline and event row, keyed by order number, with the run's batch name blanked."""
    tables: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        numbers = dict(conn.execute(text("SELECT id, order_no FROM work_order")).all())
        for table in ("work_order", "order_deadline", "order_event"):
            result = conn.execute(text(f"SELECT * FROM {table} ORDER BY id"))
            names = list(result.keys())
            rows = []
            for row in result:
                values = {n: v for n, v in zip(names, row, strict=True) if n not in VOLATILE}
                if "order_id" in values:
                    values["order_id"] = numbers[values["order_id"]]
                rows.append(tuple((n, repr(v).replace(batch, "BATCH")) for n, v in values.items()))
            tables[table] = rows
    return tables


def import_into_fresh(engine: Engine, path: Path, profile: str) -> dict[str, list[tuple[Any, ...]]]:
    """A fresh schema, one file imported and committed; what it wrote."""
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    SQLModel.metadata.create_all(engine)
    with Session(engine, expire_on_commit=False) as session:
        seed(session)
        session.commit()
        report = run_import(session, path, profile=profile)
        session.commit()
    assert report.created > 0
    return dump(engine, report.batch or "")


def test_postgresql_writes_through_copy_and_sqlite_through_executemany() -> None:
    pg = plan._Rows(Order.__table__, postgresql.psycopg.dialect(), with_id=True)  # type: ignore[attr-defined]
    lite = plan._Rows(Order.__table__, sqlite.dialect(), with_id=True)  # type: ignore[attr-defined]
    assert pg.copy_sql is not None and pg.copy_sql.startswith("COPY work_order (id, source, order_no, cycle, state")
    assert lite.copy_sql is None


@pytest.mark.skipif(not PG_URL, reason="needs TRACKER_TEST_DATABASE_URL (PostgreSQL)")
@pytest.mark.parametrize("name", [*[p.name for p, _ in SAMPLES], "awkward.csv"])
def test_copy_writes_the_rows_executemany_writes(
    name: str, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    found = [(p, profile) for p, profile in SAMPLES if p.name == name]
    path, profile = found[0] if found else (write_csv(tmp_path, *AWKWARD, name=name), "12345")
    copied = import_into_fresh(engine, path, profile)
    calls: list[str] = []
    real_insert = plan._Rows.insert

    def through_executemany(self: plan._Rows, cursor: Any, params: list[tuple[Any, ...]]) -> None:
        calls.append(self.sql)
        monkeypatch.setattr(self, "copy_sql", None)
        real_insert(self, cursor, params)

    monkeypatch.setattr(plan._Rows, "insert", through_executemany)
    inserted = import_into_fresh(engine, path, profile)
    assert calls, "the second run must go through executemany"
    assert set(copied) == set(inserted)
    for table in copied:
        assert copied[table] == inserted[table], table
    assert copied["work_order"] and copied["order_deadline"] and copied["order_event"]


@pytest.mark.skipif(not PG_URL, reason="needs TRACKER_TEST_DATABASE_URL (PostgreSQL)")
def test_the_awkward_values_arrive_as_written(engine: Engine, tmp_path: Path) -> None:
    rows = import_into_fresh(engine, write_csv(tmp_path, *AWKWARD, name="awkward.csv"), "12345")
    orders = {dict(r)["order_no"]: dict(r) for r in rows["work_order"]}
    assert orders["'K1'"]["content"] == repr("制表\t符与反斜杠 \\ 和 \\N 字样")
    assert orders["'K1'"]["extras"] == repr({"坐席工号": "\\N"})
    assert orders["'K2'"]["content"] == repr('第一行\n第二行，含"引号"')
    assert orders["'K3'"]["content"] == "None" and orders["'K3'"]["signed_at"] == "None"
