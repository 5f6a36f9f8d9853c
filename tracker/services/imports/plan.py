"""New orders from an export, planned in memory through the lifecycle and written in batches.

A new order's whole recorded life (派单, then each step at its own time, then the export's
status) runs through the orders service's one transition function over a memory store; only
a plan that succeeds is written, so a bad row leaves nothing behind without a savepoint.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select as sa_select
from sqlalchemy import text
from sqlmodel import Session, col, select

from tracker.domain.errors import TrackerError
from tracker.domain.labels import STATE_LABELS
from tracker.domain.lifecycle import ActionInput
from tracker.domain.vocabulary import Action, State
from tracker.models import Order, OrderDeadline, OrderEvent, UTCDateTime
from tracker.services.imports.rows import ParsedRow, RowError, RowProblem
from tracker.services.orders import (
    Context,
    MemoryStore,
    NewOrder,
    Store,
    address_key,
    open_order,
    plan_straight,
    transition,
)

BUILD_STRAIGHT = True
"""Common step patterns are built straight (orders.plan_straight); off, every new order is replayed. Only the
differential test (tests/services/test_import_straight.py) turns it off, to compare the two."""


def apply_step(
    store: Store, order: Any, action: Action, data: ActionInput, ctx: Context, at: datetime, column: str, value: str
) -> None:
    """One lifecycle step at its own time; a refusal becomes the row's error."""
    try:
        transition(store, order=order, action=action, data=data, ctx=Context(ctx.actor, at, ctx.calendar, ctx.rules))
    except TrackerError as exc:
        raise RowProblem(RowError(None, column, value, exc.message, order.order_no)) from None


INFERRED = (
    "时间为推定：导出显示工单为「{state}」，但没有给出{column}；"
    "按导出中该工单最近的已知时间（{basis}）记录，是否按时无法判定"
)


def inferred_time(order: Any, parsed: ParsedRow, ctx: Context) -> tuple[datetime, str]:
    """The best time the export gives for a state it shows without its time, and what it is.

    The order's latest known moment: its dispatch, or the last step recorded (in this row or before);
    never later than the import itself, and never the import time for want of a better one.
    """
    moments = [(parsed.order.dispatched_at, "派单时间")]
    moments += [(step.at, step.column) for step in parsed.steps]
    for name, label in (("cycle_started_at", "派单时间"), ("signed_at", "签收时间"), ("contact_at", "联系时间")):
        value = getattr(order, name, None)
        if value is not None:
            moments.append((value, label))
    at, basis = max(moments, key=lambda moment: moment[0])
    return min(at, ctx.now), basis


def reach_status(store: Store, order: Any, parsed: ParsedRow, ctx: Context) -> None:
    """After the recorded steps, follow the export's status where it is ahead; refuse a contradiction.

    A step the status implies but whose time the export does not give (处理中 with no 签收时间, 已办结
    with no 办结时间, 退单 with no 退单申请时间) is recorded at :func:`inferred_time`, with a note saying
    so, and the stage it completes is left unjudged (outcome none): neither met nor late is known.
    """
    target = parsed.status
    if target is None or order.state == target:
        return
    state = State(order.state)
    label = STATE_LABELS[target]
    at, basis = inferred_time(order, parsed, ctx)

    def implied(action: Action, column: str, data: ActionInput | None = None) -> None:
        note = INFERRED.format(state=label, column=column, basis=basis)
        step = replace(data or ActionInput(), note=note)
        apply_step(store, order, action, step, ctx, at, "工单状态", label)
        _stage_not_judged(store, order, at)

    if target is State.CLOSED and state is not State.RETURNED:
        implied(Action.PLATFORM_CLOSE, "办结时间")
        return
    if target is State.HANDLING and state is State.DISPATCHED:
        implied(Action.SIGN, "签收时间")
        return
    if target in (State.RETURN_REQUESTED, State.RETURNED) and state in (State.DISPATCHED, State.HANDLING):
        implied(
            Action.REQUEST_RETURN,
            "退单申请时间",
            ActionInput(reason_code="其他", basis="平台导出状态为退单（导出未含退单原因）"),
        )
        state = State.RETURN_REQUESTED
    if target is State.RETURNED and state is State.RETURN_REQUESTED:
        implied(Action.APPROVE_RETURN, "退单审核时间")
        return
    if order.state != target:
        now_label = STATE_LABELS[State(order.state)]
        reason = f"按本行记录的各环节时间推演，工单应为「{now_label}」，与导出状态不符"
        raise RowProblem(RowError(parsed.number, "工单状态", label, reason, parsed.order_no))


def _stage_not_judged(store: Store, order: Any, at: datetime) -> None:
    """A stage completed at an inferred time: whether it ended in time cannot be judged."""
    rows = (
        store.rows
        if isinstance(store, MemoryStore)
        else store.session.exec(select(OrderDeadline).where(OrderDeadline.order_id == order.id)).all()
    )
    for row in rows:
        if row.completed_at == at and row.outcome in ("met", "late", "missed"):
            row.outcome = None


REPEAT_COLUMNS = [col(getattr(Order, name)) for name in ("address_key", "category", "dispatched_at", "order_no", "id")]


def repeat_query(keys: set[str], categories: set[str], low: datetime, high: datetime) -> Any:
    """Stored orders at these addresses and categories dispatched between ``low`` and ``high`` (one range
    of ix_work_order_repeat per address and category)."""
    return sa_select(*REPEAT_COLUMNS).where(
        col(Order.address_key).in_(keys),
        col(Order.category).in_(categories),
        col(Order.dispatched_at) >= low,
        col(Order.dispatched_at) <= high,
    )


class RepeatIndex:
    """Earlier orders by (normalised address, category): the database's and this import's own.

    ``bounded``: read only the stored orders that can be a chunk's earlier order (its addresses and
    categories, dispatched within the window before its rows), in one query on ix_work_order_repeat,
    and more of an address's time later if a later chunk needs it. Only where the database holds still
    while the file is planned (planned first, or one chunk): else, as before, an address's stored
    orders are read whole, once, as they were when the file first reached it.
    """

    def __init__(self, window: timedelta, *, bounded: bool = False) -> None:
        self.window = window
        self.bounded = bounded
        self.known: dict[tuple[str, str], list[tuple[datetime, str]]] = defaultdict(list)
        self.added: dict[tuple[str, str], list[tuple[datetime, str]]] = defaultdict(list)
        self.spans: dict[tuple[str, str], tuple[datetime, datetime]] = {}  # dispatch times read, per pair
        self.loaded: set[str] = set()

    def load(self, session: Session, rows: list[ParsedRow]) -> None:
        """Fetch the stored orders the chunk's rows may repeat."""
        keys = {k for k in (address_key(r.order.address) for r in rows) if k and k not in self.loaded}
        if self.bounded:
            self._load_window(session, rows)
        elif keys:
            found = session.exec(
                select(Order.address_key, Order.category, Order.dispatched_at, Order.order_no).where(
                    col(Order.address_key).in_(keys), col(Order.category).is_not(None)
                )
            ).all()
            for key, category, dispatched_at, order_no in found:
                self.known[(key or "", category or "")].append((dispatched_at, order_no))
        self.loaded |= keys

    def _load_window(self, session: Session, rows: list[ParsedRow]) -> None:
        """The stored orders within the window before each (address, category) pair's rows, not read yet."""
        wanted: dict[tuple[str, str], tuple[datetime, datetime]] = {}
        for r in rows:
            key, category, at = address_key(r.order.address), r.order.category, r.order.dispatched_at
            if key and category:
                low, high = wanted.get((key, category), (at, at))
                wanted[(key, category)] = (min(low, at - self.window), max(high, at))
        for pair, (low, high) in list(wanted.items()):
            span = self.spans.get(pair)
            if span is not None and span[0] <= low and high <= span[1]:
                del wanted[pair]
            elif span is not None:
                wanted[pair] = (min(low, span[0]), max(high, span[1]))
        if not wanted:
            return
        keys, categories = {key for key, _ in wanted}, {category for _, category in wanted}
        low, high = min(low for low, _ in wanted.values()), max(high for _, high in wanted.values())
        found = session.execute(repeat_query(keys, categories, low, high)).all()
        # in the index's order, as the whole read of an address gave them (an exact tie: the older order first)
        for key, category, dispatched_at, order_no, _id in sorted(found, key=lambda f: (f[2], f[4])):
            pair = (key or "", category or "")
            need, span = wanted.get(pair), self.spans.get(pair)
            if need is None or not need[0] <= dispatched_at <= need[1]:
                continue
            if span is None or not span[0] <= dispatched_at <= span[1]:
                self.known[pair].append((dispatched_at, order_no))
        self.spans.update(wanted)

    def earlier(self, key: str | None, category: str | None, dispatched_at: datetime) -> str | None:
        """The latest earlier order within the window, if any (a stored one before this import's own)."""
        if not key or not category:
            return None
        best: tuple[datetime, str] | None = None
        for known in (self.known, self.added):
            for when, order_no in known.get((key, category), ()):
                if dispatched_at - self.window <= when < dispatched_at and (best is None or when > best[0]):
                    best = (when, order_no)
        return best[1] if best else None

    def add(self, key: str | None, category: str | None, dispatched_at: datetime, order_no: str) -> None:
        """Remember an order created by this import."""
        if key and category:
            self.added[(key, category)].append((dispatched_at, order_no))


def plan_new_order(parsed: ParsedRow, ctx: Context, repeats: RepeatIndex) -> MemoryStore:
    """A new order's recorded life, in memory; raises :class:`RowProblem` when a step is refused."""
    data = parsed.order
    key = address_key(data.address)
    if not data.is_repeat:
        earlier = repeats.earlier(key, data.category, data.dispatched_at)
        if earlier is not None:
            data = replace(data, is_repeat=True, repeat_of=earlier)
    note = f"导入：第 {parsed.number} 行"
    store = plan_straight(data, parsed.steps, parsed.status, ctx, note) if BUILD_STRAIGHT else None
    if store is None:  # not a common pattern, or a step to refuse or infer: the replay decides
        store = _replay(parsed, data, ctx, note)
    store.order.import_hash = parsed.digest
    store.order.line_hash = parsed.line_hash
    repeats.add(key, data.category, data.dispatched_at, parsed.order_no)
    return store


def _replay(parsed: ParsedRow, data: NewOrder, ctx: Context, note: str) -> MemoryStore:
    """The order's life step by step through the lifecycle: every pattern, every refusal, every inferred step."""
    store = MemoryStore()
    create_ctx = Context(ctx.actor, data.dispatched_at, ctx.calendar, ctx.rules)
    try:
        order = open_order(store, data=data, ctx=create_ctx, note=note)
        for step in parsed.steps:
            apply_step(store, order, step.action, step.data, ctx, step.at, step.column, step.value)
        reach_status(store, order, parsed, ctx)
    except RowProblem as problem:
        error = problem.error
        raise RowProblem(RowError(parsed.number, error.column, error.value, error.reason, parsed.order_no)) from None
    except TrackerError as exc:  # e.g. no deadline rule matches the row
        raise RowProblem(RowError(parsed.number, "工单编号", parsed.order_no, exc.message, parsed.order_no)) from None
    return store


class _Rows:
    """One table's INSERT through the DB-API: its columns, and each column's bind conversion looked up once.

    SQLAlchemy's executemany converts every value through its type machinery for every row; the
    import writes about eight rows per order, so the conversions are taken from the same types
    once per table and applied in one pass. Blank values pass as they are, and a timestamp column
    converts each distinct time once per batch (an export's times repeat: one dispatch minute
    opens several deadlines and events).
    """

    def __init__(self, table: Any, dialect: Any, *, with_id: bool) -> None:
        self.columns = [c for c in table.columns if with_id or not c.primary_key]
        self.names = [c.name for c in self.columns]
        self.convert = [c.type.dialect_impl(dialect).bind_processor(dialect) for c in self.columns]
        self.memos: list[dict[Any, Any] | None] = [
            {} if isinstance(c.type, UTCDateTime) and convert is not None else None
            for c, convert in zip(self.columns, self.convert, strict=True)
        ]
        marker = "?" if dialect.paramstyle == "qmark" else "%s"
        quote = dialect.identifier_preparer.quote
        columns = ", ".join(quote(n) for n in self.names)
        self.sql = f"INSERT INTO {quote(table.name)} ({columns}) VALUES ({', '.join([marker] * len(self.names))})"
        # PostgreSQL takes the same converted values through COPY about 2.5× faster than executemany (issue 16)
        self.copy_sql = f"COPY {quote(table.name)} ({columns}) FROM STDIN" if dialect.name == "postgresql" else None

    def params(self, values: dict[str, Any]) -> tuple[Any, ...]:
        out = [values[name] for name in self.names]
        for i, convert in enumerate(self.convert):
            value = out[i]
            if convert is None or value is None:
                continue
            memo = self.memos[i]
            if memo is None:
                out[i] = convert(value)
            else:
                done = memo.get(value)
                if done is None:
                    done = memo[value] = convert(value)
                out[i] = done
        return tuple(out)

    def insert(self, cursor: Any, params: list[tuple[Any, ...]]) -> None:
        """Write a batch of converted rows: COPY on PostgreSQL (psycopg 3), executemany elsewhere."""
        if not params:
            return
        if self.copy_sql is None:
            cursor.executemany(self.sql, params)
            return
        with cursor.copy(self.copy_sql) as copy:
            for values in params:
                copy.write_row(values)

    def forget(self) -> None:
        """Drop the batch's converted times (memory stays bounded over a long file)."""
        for memo in self.memos:
            if memo is not None:
                memo.clear()


class NewOrderWriter:
    """Planned orders, written in batches: orders (with ids taken up front), then their rows and events."""

    def __init__(self) -> None:
        self.plans: list[MemoryStore] = []
        self._tables: tuple[_Rows, _Rows, _Rows] | None = None

    def add(self, plan: MemoryStore) -> None:
        self.plans.append(plan)

    def write(self, session: Session) -> int:
        """Insert every pending plan; returns how many orders were written."""
        if not self.plans:
            return 0
        plans, self.plans = self.plans, []
        connection = session.connection()
        dialect = connection.dialect
        if self._tables is None:
            self._tables = (
                _Rows(Order.__table__, dialect, with_id=True),  # type: ignore[attr-defined]
                _Rows(OrderDeadline.__table__, dialect, with_id=False),  # type: ignore[attr-defined]
                _Rows(OrderEvent.__table__, dialect, with_id=False),  # type: ignore[attr-defined]
            )
        orders, rows, events = self._tables
        ids = _take_ids(connection, len(plans))
        order_params, row_params, event_params = [], [], []
        for plan, order_id in zip(plans, ids, strict=True):
            plan.order.id = order_id
            order_params.append(orders.params(vars(plan.order)))
            for row in plan.rows:
                row.order_id = order_id
                row_params.append(rows.params(vars(row)))
            for event in plan.events:
                event["order_id"] = order_id
                event_params.append(events.params(event))
        for table in self._tables:
            table.forget()
        cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            orders.insert(cursor, order_params)
            rows.insert(cursor, row_params)
            events.insert(cursor, event_params)
        finally:
            cursor.close()
        return len(plans)


def insert_events(connection: Any, events: list[dict[str, Any]]) -> None:
    """Events of stored orders (the batched updates') written as a new order's are: converted once per
    table, through COPY on PostgreSQL (psycopg 3's executemany of INSERTs cost about 4× as much there).
    A refusal is the driver's own error (``connection.dialect.loaded_dbapi.Error``), not SQLAlchemy's."""
    if not events:
        return
    rows = _Rows(OrderEvent.__table__, connection.dialect, with_id=False)  # type: ignore[attr-defined]
    params = [rows.params(event) for event in events]
    cursor = connection.connection.dbapi_connection.cursor()
    try:
        rows.insert(cursor, params)
    finally:
        cursor.close()


def _take_ids(connection: Any, count: int) -> list[int]:
    """Ids for ``count`` new orders, taken before they are written (so their rows can name them).

    PostgreSQL hands them out from the table's sequence, safe beside any other writer; SQLite
    continues after the largest id, under the write lock the import holds from its start.
    """
    if connection.dialect.name == "postgresql":
        found = connection.execute(
            text("SELECT nextval(pg_get_serial_sequence('work_order', 'id')) FROM generate_series(1, :n)"),
            {"n": count},
        ).scalars()
        return sorted(found)
    last = connection.execute(text("SELECT coalesce(max(id), 0) FROM work_order")).scalar_one()
    return list(range(last + 1, last + 1 + count))
