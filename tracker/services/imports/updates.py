"""Known orders whose export row changed, reconciled a chunk at a time: loaded in three set-based queries,
replayed in memory through the same lifecycle (``reconcile.replay``), written back in batches.

Reconciling each order through the ORM cost a lookup, a savepoint, a query of its events and a flush
per order (3.8 ms on SQLite, 12 ms on PostgreSQL in round trips). Here the chunk's orders, all their
deadline rows and what reconciling reads of their events (action, time, source) are read with IN
lists; each order is replayed over a store seeded from its rows; a row refused or in conflict drops
its copy, so its order stays exactly as it was (what the savepoint did). What the replays changed is
then written in a few executemany statements: the changed columns of orders and deadline rows, the
new deadline rows and events (the events through COPY on PostgreSQL, as a new order's), then the
notices a decision tells the street (rare: one insert each).

If the database refuses the batch (a value the reader let through but a column does not hold), the
chunk is reconciled again one order at a time in savepoints (``reconcile_each``), which names the row.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Table, bindparam, insert, select
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from tracker.domain.errors import TrackerError
from tracker.domain.vocabulary import Action
from tracker.models import Order, OrderDeadline, OrderEvent
from tracker.services.imports.plan import insert_events
from tracker.services.imports.reconcile import Conflict, reconcile, replay
from tracker.services.imports.report import ImportReport
from tracker.services.imports.rows import ParsedRow, RowError, RowProblem
from tracker.services.orders import Context, MemoryStore, notices

log = logging.getLogger(__name__)

ORDERS: Table = Order.__table__  # type: ignore[attr-defined]
DEADLINES: Table = OrderDeadline.__table__  # type: ignore[attr-defined]
EVENTS: Table = OrderEvent.__table__  # type: ignore[attr-defined]
IN_LIST = 500  # ids per IN list: well under SQLite's bound-parameter limit
DB_REFUSED = "数据库拒绝写入本行（字段值格式不符），其余行不受影响"


class KnownOrderStore(MemoryStore):
    """One stored order replayed in memory: its deadline rows as loaded (all of them, oldest first, so a
    stage left unjudged is found as in the database), the rows and events the replay adds, and the
    notices its decisions owe the street (taken when the event is recorded, as ``transition`` does)."""

    def __init__(self, order: Any, rows: list[Any]) -> None:
        super().__init__()
        self.order = order
        self.rows = rows
        self.notices: list[tuple[Action, list[Any], Any, Any]] = []

    def new_order(self, values: dict[str, Any]) -> Any:
        raise AssertionError("a known order is replayed, never created")

    def add_event(self, order: Any, values: dict[str, Any]) -> None:
        super().add_event(order, values)
        action = Action(values["action"])
        if action in notices.NOTICE_ACTIONS:
            rows = [SimpleNamespace(stage=r.stage, due_at=r.due_at) for r in self.open_rows(order)]
            then = SimpleNamespace(id=order.id, street=order.street, cycle=order.cycle, order_no=order.order_no)
            self.notices.append((action, rows, then, values["at"]))


@dataclass
class Loaded:
    """What the chunk's known orders are, as stored: each order's columns, deadline rows and events."""

    orders: dict[int, dict[str, Any]] = field(default_factory=dict)
    rows: dict[int, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    events: dict[int, list[Any]] = field(default_factory=lambda: defaultdict(list))


@dataclass
class Replayed:
    """One order replayed: its store, what it was, and how the report counts it."""

    store: KnownOrderStore
    before: dict[str, Any]
    rows_before: list[dict[str, Any]]
    changed: bool


def load(session: Session, ids: list[int]) -> Loaded:
    """The orders, every deadline row and the events' (action, at, source) of ``ids``, oldest first."""
    loaded = Loaded()
    for start in range(0, len(ids), IN_LIST):
        part = ids[start : start + IN_LIST]
        for row in session.execute(select(ORDERS).where(ORDERS.c.id.in_(part))).mappings():
            loaded.orders[row["id"]] = dict(row)
        query = select(DEADLINES).where(DEADLINES.c.order_id.in_(part)).order_by(DEADLINES.c.id)
        for row in session.execute(query).mappings():
            loaded.rows[row["order_id"]].append(dict(row))
        events = (
            select(EVENTS.c.order_id, EVENTS.c.action, EVENTS.c.at, EVENTS.c.source)
            .where(EVENTS.c.order_id.in_(part))
            .order_by(EVENTS.c.id)
        )
        for event in session.execute(events):
            loaded.events[event.order_id].append(event)
    return loaded


def reconcile_chunk(
    session: Session, changed: list[tuple[int, ParsedRow]], ctx: Context, report: ImportReport
) -> set[str]:
    """Reconcile a chunk's changed known orders in batches; returns the address keys of the orders moved
    (address, category or dispatch time changed: before and after), as a later chunk's repeats must see."""
    if not changed:
        return set()
    session.flush()  # anything pending in the session is in the rows read below
    loaded = load(session, sorted({order_id for order_id, _ in changed}))
    done: list[Replayed] = []
    issues: list[tuple[str, RowError]] = []
    for order_id, parsed in changed:
        outcome = _replay_one(loaded, order_id, parsed, ctx)
        if isinstance(outcome, Replayed):
            done.append(outcome)
        else:
            issues.append(outcome)
    savepoint = session.begin_nested()
    try:
        _write(session, done)
    except (DBAPIError, session.connection().dialect.loaded_dbapi.Error) as exc:  # the events' COPY: the driver's
        log.info("a chunk's updates were refused by the database (%s); reconciling its orders one by one", exc)
        savepoint.rollback()
        return reconcile_each(session, changed, ctx, report)
    savepoint.commit()
    for kind, error in issues:
        getattr(report, kind).append(error)
    for item in done:
        if item.changed:
            report.updated += 1
        else:
            report.unchanged += 1
    _expire(session, {item.store.order.id for item in done})
    return _moved(done)


def _replay_one(loaded: Loaded, order_id: int, parsed: ParsedRow, ctx: Context) -> Replayed | tuple[str, RowError]:
    """One order replayed on a copy of its rows; a refusal or conflict is returned, with the report list it
    goes to (the copy dropped). The report is told only once the chunk is written: a batch the database
    refuses is reconciled again, order by order."""
    before = loaded.orders[order_id]
    rows_before = loaded.rows.get(order_id, [])
    order = SimpleNamespace(**before | {"extras": dict(before["extras"])})  # its own dict: compared when written
    store = KnownOrderStore(order, [SimpleNamespace(**row) for row in rows_before])
    try:
        outcome = replay(store, store.order, parsed, ctx, loaded.events.get(order_id, []))
    except Conflict as conflict:
        return "conflicts", conflict.error
    except RowProblem as problem:
        error = problem.error
        return "rejected", RowError(parsed.number, error.column, error.value, error.reason, parsed.order_no)
    except TrackerError as exc:
        return "rejected", RowError(parsed.number, "工单编号", parsed.order_no, exc.message, parsed.order_no)
    return Replayed(store, before, rows_before, outcome.changed)


def _write(session: Session, done: list[Replayed]) -> None:
    """The replays' changes in batches: changed columns of orders and rows (grouped by which columns
    changed), new deadline rows, events (in replay order, so ids follow it as before), then notices."""
    order_sets: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    row_sets: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    new_rows: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    row_columns = [c.name for c in DEADLINES.columns if c.name != "id"]
    for item in done:
        order = vars(item.store.order)
        _changed_columns(order, item.before, order_sets)
        for row, before in zip(item.store.rows, item.rows_before, strict=False):
            _changed_columns(vars(row), before, row_sets)
        for row in item.store.rows[len(item.rows_before) :]:
            values = vars(row) | {"order_id": order["id"]}
            new_rows.append({name: values[name] for name in row_columns})
        events.extend(event | {"order_id": order["id"]} for event in item.store.events)
    connection = session.connection()
    for table, sets in ((ORDERS, order_sets), (DEADLINES, row_sets)):
        for params in sets.values():
            connection.execute(table.update().where(table.c.id == bindparam("changed_id")), params)
    if new_rows:
        connection.execute(insert(DEADLINES), new_rows)
    insert_events(connection, events)
    for item in done:
        for action, open_rows, order_then, at in item.store.notices:
            notices.enqueue_order_notice(session, order=order_then, action=action, open_rows=open_rows, now=at)


def _changed_columns(now: dict[str, Any], before: dict[str, Any], sets: dict[tuple[str, ...], list[Any]]) -> None:
    """The columns of one row that the replay changed, as an UPDATE's parameters (grouped by columns)."""
    names = tuple(name for name, value in before.items() if name != "id" and now[name] != value)
    if names:
        sets[names].append({name: now[name] for name in names} | {"changed_id": before["id"]})


def _expire(session: Session, ids: set[Any]) -> None:
    """Orders and rows the session already holds, read again when next used (they were written around it)."""
    for obj in list(session.identity_map.values()):
        if (isinstance(obj, Order) and obj.id in ids) or (isinstance(obj, OrderDeadline) and obj.order_id in ids):
            session.expire(obj)


def _key(order: Any) -> tuple[Any, ...]:
    return (order["address_key"], order["category"], order["dispatched_at"])


def _moved(done: list[Replayed]) -> set[str]:
    moved: set[str] = set()
    for item in done:
        before, after = _key(item.before), _key(vars(item.store.order))
        if before != after:
            moved |= {key for key in (before[0], after[0]) if key}
    return moved


def reconcile_each(
    session: Session, changed: list[tuple[int, ParsedRow]], ctx: Context, report: ImportReport
) -> set[str]:
    """The chunk's known orders reconciled one by one through the session, each in a savepoint (the path
    before batching; kept for a batch the database refuses, so that the refused row is named)."""
    moved: set[str] = set()
    for order_id, parsed in changed:
        order = session.get(Order, order_id)
        before = (order.address_key, order.category, order.dispatched_at) if order is not None else None
        _reconcile_one(session, order_id, parsed, ctx, report)
        after = (order.address_key, order.category, order.dispatched_at) if order is not None else None
        if before != after:
            moved |= {key for key in (before[0] if before else None, after[0] if after else None) if key}
    return moved


def _reconcile_one(session: Session, order_id: int, parsed: ParsedRow, ctx: Context, report: ImportReport) -> None:
    """A known order whose row changed: reconciled in a savepoint, so a refusal or conflict leaves it as it was."""
    order = session.get(Order, order_id)
    assert order is not None
    try:
        with session.begin_nested():
            outcome = reconcile(session, order, parsed, ctx)
    except Conflict as conflict:
        report.conflicts.append(conflict.error)
        return
    except RowProblem as problem:
        error = problem.error
        report.rejected.append(RowError(parsed.number, error.column, error.value, error.reason, parsed.order_no))
        return
    except TrackerError as exc:
        report.rejected.append(RowError(parsed.number, "工单编号", parsed.order_no, exc.message, parsed.order_no))
        return
    except DBAPIError as exc:
        log.debug("row %s refused by the database: %s", parsed.number, exc.orig)
        report.rejected.append(RowError(parsed.number, "工单编号", parsed.order_no, DB_REFUSED, parsed.order_no))
        return
    if outcome.changed:
        report.updated += 1
    else:
        report.unchanged += 1
