"""Known orders reconciled in batches (``updates.reconcile_chunk``) write exactly the rows the per-order path
(``updates.reconcile_each``, the path before batching) writes: orders, deadlines, events, notices, the report.

Each scenario (the sample exports re-imported with changes; the update cases of test_import_reconcile;
a generated file of many known orders over several chunks) runs twice on an empty database, once per
path, and every row is compared field by field (surrogate ids aside: rows are matched by order number
and kept in id order). On PostgreSQL when TRACKER_TEST_DATABASE_URL is set.
"""

from __future__ import annotations

import csv
import random
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, SQLModel

from tests.conftest import PG_URL, seed
from tests.helpers import local
from tests.helpers_import import run_import, write_csv
from tests.services.test_import_reconcile import FULL, row
from tracker.db import make_engine
from tracker.domain.deadlines import RuleTable
from tracker.domain.lifecycle import ActionInput
from tracker.domain.vocabulary import Action
from tracker.models import ImportBatch, ImportIssue, NotifyChannel, NotifyEvent, Order, OrderDeadline, OrderEvent
from tracker.services.accounts.actors import Actor
from tracker.services.imports import steps, updates
from tracker.services.imports.profiles import load_profile
from tracker.services.imports.reader import open_export
from tracker.services.orders.actions import Context, apply_action, find_order
from tracker.services.orders.calendar import load_calendar

SAMPLES = Path(__file__).resolve().parents[2] / "sample_orders"
Step = Callable[[Session, Path], None]


def dump(session: Session) -> dict[str, Any]:
    """Every row an import writes, by order number and in id order, without surrogate ids or batch names."""
    batches = {
        b.batch: f"B{i}" for i, b in enumerate(session.exec(select(ImportBatch).order_by(ImportBatch.id)).scalars())
    }
    numbers = {o.id: o.order_no for o in session.execute(select(Order)).scalars()}

    def plain(obj: Any, *drop: str) -> dict[str, Any]:
        values = {k: v for k, v in obj.model_dump().items() if k not in ("id", *drop)}
        for name, value in values.items():
            if isinstance(value, str):
                for batch, label in batches.items():
                    value = value.replace(batch, label)
                values[name] = re.sub(r":\d+:", lambda m: f":{numbers.get(int(m.group()[1:-1]))}:", value)
        return values

    out: dict[str, Any] = {}
    for order in session.execute(select(Order).order_by(Order.source, Order.order_no)).scalars():
        out[f"order {order.source} {order.order_no}"] = plain(order)
    for model in (OrderDeadline, OrderEvent, NotifyEvent):
        for item in session.execute(select(model).order_by(model.id)).scalars():  # type: ignore[attr-defined]
            out.setdefault(f"{model.__name__} {numbers.get(item.order_id)}", []).append(plain(item, "order_id"))
    for batch in session.execute(select(ImportBatch).order_by(ImportBatch.id)).scalars():
        out[f"batch {batches[batch.batch]}"] = plain(batch, "started_at", "finished_at", "batch")
    issues = session.execute(select(ImportIssue).order_by(ImportIssue.batch_id, ImportIssue.id)).scalars()
    out["issues"] = [plain(issue, "batch_id") for issue in issues]
    return out


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[Callable[[str], Engine]]:
    """An empty, seeded database per call (PostgreSQL: the test database emptied again), each disposed after."""
    engines: list[Engine] = []

    def make(name: str) -> Engine:
        engine = make_engine(PG_URL or f"sqlite:///{tmp_path / name}.db")
        if engine.dialect.name == "postgresql":
            with engine.begin() as conn:
                conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
        SQLModel.metadata.create_all(engine)
        with Session(engine) as session:
            seed(session)
            for street in ("静安寺街道", "宝山路街道", "北站街道", "天目西路街道", "江宁路街道"):
                session.add(NotifyChannel(street=street, kind="wecom", updated_at=local("2026-01-01 00:00")))
            session.commit()
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        engine.dispose()


def both_ways(fresh: Callable[[str], Engine], tmp_path: Path, scenario: list[Step], monkeypatch: Any) -> dict[str, Any]:
    """The scenario through the per-order path, then through the batched path; every row alike (returned)."""
    dumps = []
    for way in ("each", "batched"):
        with monkeypatch.context() as patch:
            if way == "each":
                patch.setattr(steps, "reconcile_chunk", updates.reconcile_each)
            engine = fresh(way)
            folder = tmp_path / way
            folder.mkdir()
            with Session(engine, expire_on_commit=False) as session:
                for step in scenario:
                    step(session, folder)
                    session.commit()
                dumps.append(dump(session))
            engine.dispose()
    each, batched = dumps
    assert batched.keys() == each.keys()
    for key in each:
        assert batched[key] == each[key], key
    return each


def imports(name: str, header: str, *rows: str, now: str = "2026-11-26 09:00", chunk_rows: int = 2000) -> Step:
    def step(session: Session, folder: Path) -> None:
        run_import(session, write_csv(folder, header, *rows, name=name), now=now, chunk_rows=chunk_rows)

    return step


def contact_entered_here(session: Session, folder: Path) -> None:
    """A first contact the squad records in the tracker before the export shows it."""
    order = find_order(session, source="12345", order_no="G1")
    assert order is not None
    ctx_actor = Actor(id="user:7", name="静安寺街道执法队 张三", source="web")
    ctx = Context(ctx_actor, local("2026-11-16 10:05"), load_calendar(session), RuleTable())
    data = ActionInput(contact_result="已联", contact_at=local("2026-11-16 10:00"))
    apply_action(session, order=order, action=Action.FIRST_CONTACT, data=data, ctx=ctx)


RETURN = {"退单申请时间": "2026-11-16 10:00", "退单原因": "非本辖区", "退单依据": "邻街"}
CLOSED = {"工单状态": "已办结", "办结时间": "2026-11-17 15:00", "答复内容": "已处理", "结案评判": "实际解决"}
RECONCILE_CASES: dict[str, list[Step]] = {
    "contact entered here, address changed": [
        imports("a.csv", FULL, row()),
        contact_entered_here,
        imports("b.csv", FULL, row(地址="某路1号甲"), now="2026-11-17 09:00"),
    ],
    "a step recorded later, at its own time": [
        imports("a.csv", FULL, row()),
        imports("b.csv", FULL, row(地址="某路2号"), now="2026-11-18 09:00"),
        imports(
            "c.csv", FULL, row(地址="某路2号", 督办时间="2026-11-17 08:00", 督办事项="加快"), now="2026-11-18 10:00"
        ),
    ],
    "a refused step is a conflict, twice": [
        imports("a.csv", FULL, row()),
        imports("b.csv", FULL, row(延期申请时间="2026-11-17 09:00", 申请延期至="2026-11-26"), now="2026-11-18 10:00"),
        imports(
            "c.csv", FULL, row(延期申请时间="2026-11-17 09:00", 申请延期至="2026-11-26"), "", now="2026-11-18 11:00"
        ),
    ],
    "a return turned down on the platform": [
        imports("a.csv", FULL, row(工单状态="退单中", **RETURN)),
        imports("b.csv", FULL, row(工单状态="处理中", **RETURN), now="2026-11-17 09:00"),
    ],
    "a return approved, then dispatched again": [
        imports("a.csv", FULL, row(工单状态="退单中", **RETURN)),
        imports("b.csv", FULL, row(工单状态="已退单", **RETURN), now="2026-11-17 09:00"),
        imports(
            "c.csv",
            FULL,
            row(工单状态="处理中", 派单时间="2026-11-18 09:00", 签收时间="2026-11-18 09:30", 所属街镇="宝山路街道"),
            now="2026-11-19 09:00",
        ),
    ],
    "a redo after closure": [
        imports("a.csv", FULL, row(**CLOSED)),
        imports(
            "b.csv",
            FULL,
            row(**(CLOSED | {"工单状态": "处理中", "重办时间": "2026-11-19 09:00", "重办原因": "回访不满意"})),
            now="2026-11-19 10:00",
        ),
    ],
    "a lost closure conflicts; a closure without its time is not judged": [
        imports("a.csv", FULL, row(**CLOSED), row("S3", 工单状态="待签收", 签收时间="")),
        imports("b.csv", FULL, row(), row("S3", 工单状态="已办结", 签收时间=""), now="2026-11-27 09:00"),
    ],
    "an extension requested and approved, a supervision": [
        imports("a.csv", FULL, row(), row("G2")),
        imports(
            "b.csv",
            FULL,
            row(延期申请时间="2026-11-17 09:00", 延期理由="需协调", 申请延期至="2026-11-30"),
            row("G2", 督办时间="2026-11-17 08:00", 督办事项="加快"),
            now="2026-11-18 09:00",
        ),
    ],
    "one file: known orders in several chunks, a bad row among them": [
        imports("a.csv", FULL, *(row(f"K{i}", 地址=f"某路{i % 3}号") for i in range(9))),
        imports(
            "b.csv",
            FULL,
            *(row(f"K{i}", 地址=f"某路{(i + 1) % 3}号", 派单时间="2026-11-16 09:00") for i in range(0, 9, 2)),
            row("K1", 工单状态="已办结"),
            row("K3", 签收时间="不是时间"),
            row("N1", 地址="某路1号"),
            now="2026-11-20 09:00",
            chunk_rows=3,
        ),
    ],
}


@pytest.mark.parametrize("name", list(RECONCILE_CASES))
def test_the_update_cases_write_the_same_rows_both_ways(
    fresh: Callable[[str], Engine], tmp_path: Path, monkeypatch: Any, name: str
) -> None:
    both_ways(fresh, tmp_path, RECONCILE_CASES[name], monkeypatch)


def changed_copy(source: Path, profile: str, folder: Path, as_of: str) -> Path:
    """A sample export exported again later: rows moved on a step, addresses and contents edited, some
    supervised (a closed one then conflicts), as a CSV in canonical columns read with the same layout."""
    export = open_export(source, profile=load_profile(profile))
    rows = [sheet_row.fields for sheet_row in export.rows()]
    closed = next(r for r in rows if r.get("办结时间"))
    day = as_of.replace("-", "/") if "/" in rows[0].get("派单时间", "") else as_of
    out = []
    for i, fields in enumerate(rows):
        fields = dict(fields)
        if i % 5 == 0:
            fields["地址"] = f"{fields['地址']}甲"
        elif i % 5 == 1 and not fields.get("办结时间"):
            fields |= {k: closed[k] for k in ("工单状态", "答复内容", "结案评判", "答复方式", "满意度") if k in closed}
            fields["办结时间"] = f"{day} 16:50"
        elif i % 5 == 2 and not fields.get("签收时间"):
            fields["签收时间"] = f"{day} 16:45"
            fields["工单状态"] = ""
        elif i % 5 == 3:
            fields |= {"督办时间": f"{day} 16:48", "督办事项": "请加快办理"}
        else:
            fields["诉求内容"] = f"{fields.get('诉求内容', '')}（补充）"
        out.append(fields)
    path = folder / f"later-{source.stem}.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(dict.fromkeys(name for r in out for name in r)))
        writer.writeheader()
        writer.writerows(out)
    return path


def sample_steps(name: str, profile: str) -> list[Step]:
    source = SAMPLES / name

    def first(session: Session, folder: Path) -> None:
        run_import(session, source, profile=profile, now="2026-11-20 17:00")

    def later(session: Session, folder: Path) -> None:
        path = changed_copy(source, profile, folder, "2026-11-20")
        run_import(session, path, profile=profile, now="2026-11-21 09:00", chunk_rows=17)

    return [first, later]


SAMPLE_FILES = [
    ("12345工单导出_2026-11-20.xlsx", "12345"),
    ("城管诉件导出_2026-11-20.csv", "城管诉件"),
    ("dirty/12345_合并单元格_序列号日期.xlsx", "12345"),
    ("dirty/城管诉件_GB18030_杂乱.csv", "城管诉件"),
]


@pytest.mark.parametrize(("name", "profile"), SAMPLE_FILES)
def test_the_sample_exports_reimported_with_changes_write_the_same_rows_both_ways(
    fresh: Callable[[str], Engine], tmp_path: Path, monkeypatch: Any, name: str, profile: str
) -> None:
    rows = both_ways(fresh, tmp_path, sample_steps(name, profile), monkeypatch)
    later = rows["batch B1"]
    # the second file reconciled known orders (the dirty workbook's serial dates are no dates in a CSV)
    assert later["updated"] > 0 or name.startswith("dirty/12345")


def generated(seed: int, orders: int = 60) -> list[Step]:
    """Many known orders, each moved on (or contradicted) at random, over chunks of 7 rows."""
    rng = random.Random(seed)
    first = [
        row(f"Q{i}", 地址=f"某路{i % 4}号", 工单状态=rng.choice(["待签收", "处理中", "处理中"])) for i in range(orders)
    ]
    first = [r.replace("2026-11-16 09:30", "") if ",待签收," in r else r for r in first]
    moves: list[dict[str, str]] = [
        {},
        {"地址": "某路9号"},
        {"工单状态": "已办结", "办结时间": "2026-11-18 15:00", "答复内容": "已处理", "结案评判": "实际解决"},
        {"工单状态": "已办结"},
        {"工单状态": "退单中", **RETURN},
        {"督办时间": "2026-11-17 08:00", "督办事项": "加快"},
        {"延期申请时间": "2026-11-17 09:00", "延期理由": "需协调", "申请延期至": "2026-11-30"},
        {"延期申请时间": "2026-11-17 09:00", "申请延期至": "2026-11-26"},  # refused: no reason
        {"联系时间": "2026-11-16 10:00", "联系结果": "已联"},
        {"派单时间": "2026-11-17 09:00", "签收时间": "2026-11-17 09:30"},
        {"签收时间": "2026-11-15 09:30"},  # before the dispatch: rejected
    ]
    second = [row(f"Q{i}", **({"地址": f"某路{i % 4}号"} | rng.choice(moves))) for i in range(orders)]
    rng.shuffle(second)
    return [
        imports("a.csv", FULL, *first, now="2026-11-16 12:00"),
        imports("b.csv", FULL, *second, row("Q-new", 地址="某路9号"), now="2026-11-19 09:00", chunk_rows=7),
    ]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_generated_file_of_known_orders_writes_the_same_rows_both_ways(
    fresh: Callable[[str], Engine], tmp_path: Path, monkeypatch: Any, seed: int
) -> None:
    rows = both_ways(fresh, tmp_path, generated(seed), monkeypatch)
    assert rows["batch B1"]["updated"] > 10 and rows["batch B1"]["conflicts"] + rows["batch B1"]["rejected"] > 0


def test_a_batch_that_loses_a_row_is_told_apart(
    fresh: Callable[[str], Engine], tmp_path: Path, monkeypatch: Any
) -> None:
    """The comparison can fail: a batched write that forgets the events is caught."""
    original = updates._write

    def forgetful(session: Session, done: list[Any]) -> None:
        for item in done:
            item.store.events.clear()
        original(session, done)

    monkeypatch.setattr(updates, "_write", forgetful)
    with pytest.raises(AssertionError):
        both_ways(fresh, tmp_path, RECONCILE_CASES["a step recorded later, at its own time"], monkeypatch)


def test_a_batch_the_database_refuses_is_reconciled_order_by_order(
    fresh: Callable[[str], Engine], tmp_path: Path, monkeypatch: Any
) -> None:
    """A value the database will not hold fails the batch; the chunk then goes order by order, and the
    rows written are the per-order path's."""
    calls = []

    def refused(session: Session, done: list[Any]) -> None:
        calls.append(len(done))
        raise DBAPIError("UPDATE", {}, Exception("value too long"))

    monkeypatch.setattr(updates, "_write", refused)
    both_ways(fresh, tmp_path, RECONCILE_CASES["an extension requested and approved, a supervision"], monkeypatch)
    assert calls == [2]  # the batched way tried once, then fell back


def test_events_the_driver_refuses_are_reconciled_order_by_order(
    fresh: Callable[[str], Engine], tmp_path: Path, monkeypatch: Any
) -> None:
    """The events go through the driver's own cursor (COPY on PostgreSQL): its error, not SQLAlchemy's, also
    sends the chunk order by order, and the rows written are the per-order path's."""
    calls = []

    def refused(connection: Any, events: list[dict[str, Any]]) -> None:
        calls.append(len(events))
        cursor = connection.connection.dbapi_connection.cursor()
        try:
            cursor.execute("SELECT * FROM no_such_table")  # the driver's own error, on either database
        finally:
            cursor.close()

    monkeypatch.setattr(updates, "insert_events", refused)
    both_ways(fresh, tmp_path, RECONCILE_CASES["an extension requested and approved, a supervision"], monkeypatch)
    assert len(calls) == 1 and calls[0] > 0  # the batched way tried once, then fell back
