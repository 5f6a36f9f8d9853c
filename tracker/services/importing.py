"""Import export files: upsert on (source, 工单编号) through the lifecycle, with a row-level report.

One file is one unit: the caller's transaction holds every accepted row, every rejected
row's reason and the batch record, or (for a file-level problem) nothing at all. The service
flushes and never commits; ``dry_run`` is the caller rolling back.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, col, select

from tracker.domain.calendar import WorkCalendar
from tracker.domain.deadlines import RuleTable
from tracker.domain.errors import TrackerError
from tracker.domain.labels import STATE_LABELS
from tracker.domain.lifecycle import ActionInput
from tracker.domain.vocabulary import Action, State
from tracker.hotline import Limits, SheetRow, open_export
from tracker.models import ImportBatch, ImportIssue, Order
from tracker.profiles import Profile
from tracker.services.actors import Actor
from tracker.services.import_report import ImportReport
from tracker.services.import_rows import ParsedRow, RowError, RowProblem, Shift, Step, parse_row, row_digest
from tracker.services.orders import Context, address_key, apply_action, create_order, update_details

log = logging.getLogger(__name__)

RANK = {State.DISPATCHED: 0, State.HANDLING: 1, State.RETURN_REQUESTED: 2, State.RETURNED: 3, State.CLOSED: 3}
REPEAT_WINDOW = timedelta(days=30)
IMPORT_LOCK_WAIT_MS = 30 * 60 * 1000


@dataclass(frozen=True)
class ImportOptions:
    """How to import: which layout, under which source tag, by whom, with which rules."""

    actor: Actor
    now: datetime
    calendar: WorkCalendar
    rules: RuleTable
    profile: Profile | None = None
    source: str | None = None
    limits: Limits = field(default_factory=Limits)
    repeat_window: timedelta = REPEAT_WINDOW
    shift: Shift | None = None
    progress: Callable[[int, int], None] | None = None  # (rows done, rows in all)


def file_sha256(path: Path) -> str:
    """The file's SHA-256, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def import_file(session: Session, path: Path, *, options: ImportOptions) -> ImportReport:
    """Import one file. File-level problems raise :class:`ExportFileError` before anything is written."""
    sha = file_sha256(path)
    export = open_export(path, profile=options.profile, limits=options.limits)
    profile = export.profile
    source = options.source or profile.source
    lock_imports(session)
    previous = session.exec(
        select(ImportBatch).where(ImportBatch.sha256 == sha, ImportBatch.source == source).limit(1)
    ).first()
    report = ImportReport(file=path.name, sha256=sha, profile=profile.name, source=source)
    if previous is not None:
        report.already_imported = previous.batch
        return report
    batch = ImportBatch(
        batch=f"{options.now:%Y%m%d%H%M%S}-{sha[:8]}-{secrets.token_hex(2)}",
        file_name=path.name,
        sha256=sha,
        size=path.stat().st_size,
        profile=profile.name,
        source=source,
        actor=options.actor.id,
        actor_name=options.actor.name,
        started_at=options.now,
    )
    session.add(batch)
    session.flush()
    report.batch = batch.batch
    actor = Actor.importer(batch.batch)
    ctx = Context(actor, options.now, options.calendar, options.rules)
    duplicates, total = _conflicting_duplicates(export.rows())  # first pass: order numbers and digests only
    seen: dict[str, int] = {}
    for done, sheet_row in enumerate(export.rows(), start=1):  # second pass: the rows themselves
        report.rows_read += 1
        if options.progress and done % 200 == 0:
            options.progress(done, total)
        order_no = sheet_row.fields.get("工单编号", "")
        if order_no in duplicates:
            others = "、".join(str(n) for n in duplicates[order_no] if n != sheet_row.number)
            reason = f"同一文件中该工单编号重复且内容不同（另见第 {others} 行），未导入"
            report.rejected.append(RowError(sheet_row.number, "工单编号", order_no, reason, order_no))
            continue
        if order_no and order_no in seen:
            report.skipped.append((sheet_row.number, f"与第 {seen[order_no]} 行完全相同的重复行"))
            continue
        seen[order_no] = sheet_row.number
        _import_one(session, sheet_row, profile, source, options, ctx, report)
    if options.progress:
        options.progress(report.rows_read, report.rows_read)
    report.skipped = sorted([*export.skipped, *report.skipped])
    report.warnings.extend(RowError(None, "文件", path.name, note) for note in export.notes)
    batch.finished_at = options.now
    batch.rows_read, batch.created, batch.updated = report.rows_read, report.created, report.updated
    batch.unchanged, batch.rejected, batch.conflicts = report.unchanged, len(report.rejected), len(report.conflicts)
    for kind, issues in (("rejected", report.rejected), ("conflict", report.conflicts), ("warning", report.warnings)):
        for issue in issues:
            session.add(
                ImportIssue(
                    batch_id=batch.id or 0,
                    kind=kind,
                    row=issue.row,
                    column=issue.column,
                    value=issue.value,
                    reason=issue.reason,
                    order_no=issue.order_no,
                )
            )
    session.flush()
    return report


def lock_imports(session: Session) -> None:
    """One import at a time per database: the second waits, then finds the file already imported.

    Call it first in the transaction: on SQLite a transaction that has already read cannot wait
    for the write lock, it fails at once when another import committed in between.
    """
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(1234512345)"))
    else:  # SQLite: take the write lock now (waiting as long as another import runs), not at the first insert
        session.execute(text(f"PRAGMA busy_timeout = {IMPORT_LOCK_WAIT_MS}"))
        session.execute(text("UPDATE import_batch SET id = id WHERE 0"))


def _conflicting_duplicates(rows: Iterable[SheetRow]) -> tuple[dict[str, list[int]], int]:
    """Order numbers that appear more than once with different content (with their rows), and the row count."""
    first: dict[str, tuple[str, int]] = {}
    conflicting: dict[str, list[int]] = {}
    total = 0
    for row in rows:
        total += 1
        number = row.fields.get("工单编号", "")
        if not number:
            continue
        digest = row_digest(row)
        if number not in first:
            first[number] = (digest, row.number)
        elif digest != first[number][0] or number in conflicting:
            conflicting.setdefault(number, [first[number][1]]).append(row.number)
    return conflicting, total


def _import_one(
    session: Session,
    sheet_row: SheetRow,
    profile: Profile,
    source: str,
    options: ImportOptions,
    ctx: Context,
    report: ImportReport,
) -> None:
    try:
        parsed = parse_row(sheet_row, profile, source=source, shift=options.shift)
    except RowProblem as problem:
        report.rejected.append(problem.error)
        return
    report.warnings.extend(parsed.warnings)
    order = session.exec(select(Order).where(Order.source == source, Order.order_no == parsed.order_no)).first()
    if order is not None and order.import_hash == parsed.digest:
        report.unchanged += 1
        return
    try:
        with session.begin_nested():
            if order is None:
                _create(session, parsed, options, ctx)
                report.created += 1
            else:
                conflict = _reconcile(session, order, parsed, ctx)
                if conflict is not None:
                    report.conflicts.append(conflict)
                    return
                report.updated += 1
    except RowProblem as problem:
        report.rejected.append(problem.error)
    except TrackerError as exc:
        report.rejected.append(RowError(parsed.number, "工单编号", parsed.order_no, exc.message, parsed.order_no))
    except DBAPIError as exc:
        log.warning("row %s refused by the database: %s", parsed.number, exc.orig)
        reason = "数据库拒绝写入本行（字段值格式不符），其余行不受影响"
        report.rejected.append(RowError(parsed.number, "工单编号", parsed.order_no, reason, parsed.order_no))


def _apply(
    session: Session,
    order: Order,
    action: Action,
    data: ActionInput,
    ctx: Context,
    at: datetime,
    column: str,
    value: str,
) -> None:
    """One lifecycle step at its own time; a refusal becomes the row's error."""
    try:
        apply_action(
            session, order=order, action=action, data=data, ctx=Context(ctx.actor, at, ctx.calendar, ctx.rules)
        )
    except TrackerError as exc:
        raise RowProblem(RowError(None, column, value, exc.message, order.order_no)) from None


def _create(session: Session, parsed: ParsedRow, options: ImportOptions, ctx: Context) -> Order:
    """A new order: dispatched, its recorded steps replayed, then brought to the export's status."""
    data = parsed.order
    if not data.is_repeat:
        earlier = _earlier_repeat(session, data.address, data.category, data.dispatched_at, options.repeat_window)
        if earlier is not None:
            data = replace(data, is_repeat=True, repeat_of=earlier)
    create_ctx = Context(ctx.actor, data.dispatched_at, ctx.calendar, ctx.rules)
    order = create_order(session, data=data, ctx=create_ctx, note=f"导入：{parsed.number} 行")
    try:
        for step in parsed.steps:
            _apply(session, order, step.action, step.data, ctx, step.at, step.column, step.value)
        _reach_status(session, order, parsed, ctx)
    except RowProblem as problem:
        raise RowProblem(_at_row(problem.error, parsed.number)) from None
    order.import_hash = parsed.digest
    return order


def _at_row(error: RowError, number: int) -> RowError:
    return RowError(number, error.column, error.value, error.reason, error.order_no)


def _reach_status(session: Session, order: Order, parsed: ParsedRow, ctx: Context) -> None:
    """After the recorded steps, follow the export's status where it is ahead; refuse a contradiction."""
    target = parsed.status
    if target is None or order.state == target:
        return
    state = State(order.state)
    if target is State.CLOSED and state is not State.RETURNED:
        _apply(session, order, Action.PLATFORM_CLOSE, ActionInput(), ctx, ctx.now, "工单状态", "已办结")
        return
    if target is State.HANDLING and state is State.DISPATCHED:
        _apply(session, order, Action.SIGN, ActionInput(), ctx, ctx.now, "工单状态", STATE_LABELS[target])
        return
    if target in (State.RETURN_REQUESTED, State.RETURNED) and state in (State.DISPATCHED, State.HANDLING):
        basis = "平台导出状态为退单（导出未含退单原因）"
        _apply(
            session,
            order,
            Action.REQUEST_RETURN,
            ActionInput(reason_code="其他", basis=basis),
            ctx,
            ctx.now,
            "工单状态",
            STATE_LABELS[target],
        )
        state = State.RETURN_REQUESTED
    if target is State.RETURNED and state is State.RETURN_REQUESTED:
        _apply(session, order, Action.APPROVE_RETURN, ActionInput(), ctx, ctx.now, "工单状态", STATE_LABELS[target])
        return
    if order.state != target:
        raise RowProblem(
            RowError(
                parsed.number,
                "工单状态",
                STATE_LABELS[target],
                f"按本行记录的各环节时间推演，工单应为「{STATE_LABELS[State(order.state)]}」，与导出状态不符",
                parsed.order_no,
            )
        )


def _reconcile(session: Session, order: Order, parsed: ParsedRow, ctx: Context) -> RowError | None:
    """An order the tracker knows: a conflict is returned untouched; otherwise details and state follow."""
    state = State(order.state)
    target = parsed.status or _state_from_steps(parsed, state)
    conflict = _contradiction(order, state, target, parsed)
    if conflict:
        return RowError(parsed.number, "工单状态", STATE_LABELS[target], conflict, parsed.order_no)
    data = parsed.order
    last_change = order.updated_at
    update_details(
        session,
        order=order,
        values={
            name: getattr(data, name)
            for name in (
                "received_at",
                "request_type",
                "urgency",
                "category",
                "content",
                "address",
                "street",
                "handling_unit",
                "complainant",
                "phone",
                "satisfaction",
                "repeat_of",
            )
        }
        | ({"is_repeat": True} if data.is_repeat else {}),
        platform_due_at=data.platform_due_at,
        extras=data.extras,
        ctx=ctx,
        note=f"导入：{parsed.number} 行",
    )
    # steps newer than what the tracker holds, in order; steps the tracker already has are skipped
    for step in parsed.steps:
        if _already_done(order, step, last_change):
            continue
        try:
            _apply(session, order, step.action, step.data, ctx, max(step.at, last_change), step.column, step.value)
            last_change = max(step.at, last_change)
        except RowProblem:
            continue  # the tracker is ahead of (or beside) this step: not a contradiction by itself
    if parsed.status is not None and RANK[State(order.state)] < RANK[parsed.status]:
        try:
            _reach_status(session, order, parsed, ctx)
        except RowProblem as problem:
            raise RowProblem(_at_row(problem.error, parsed.number)) from None
    order.import_hash = parsed.digest
    return None


def _state_from_steps(parsed: ParsedRow, current: State) -> State:
    """Where the row's own steps lead, for layouts without a status column."""
    if any(s.action is Action.PLATFORM_CLOSE for s in parsed.steps) or parsed.closes_at_import:
        last = parsed.steps[-1].action if parsed.steps else None
        return State.HANDLING if last is Action.REDO else State.CLOSED
    return current


def _contradiction(order: Order, state: State, target: State, parsed: ParsedRow) -> str | None:
    """Why the export contradicts the tracker, or None when it only lags behind or moves ahead."""
    redo_after_close = any(
        s.action is Action.REDO and order.closed_at is not None and s.at > order.closed_at for s in parsed.steps
    )
    if state is State.CLOSED and target is not State.CLOSED and not redo_after_close:
        return f"本系统中该工单已办结，导出却为「{STATE_LABELS[target]}」（办结被撤销？）；未改动，请核实"
    if state is State.RETURNED and target is State.CLOSED:
        return "本系统中该工单已退单，导出却为「已办结」；未改动，请核实"
    if (
        state is State.RETURNED
        and target in (State.DISPATCHED, State.HANDLING)
        and parsed.order.dispatched_at <= order.cycle_started_at
    ):
        return f"本系统中该工单已退单，导出却为「{STATE_LABELS[target]}」且没有新的派单时间；未改动，请核实"
    return None


def _already_done(order: Order, step: Step, last_change: datetime) -> bool:
    """Whether the tracker already holds this step (so replaying it would be a duplicate)."""
    if step.action is Action.SIGN:
        return order.signed_at is not None or order.state != State.DISPATCHED
    if step.action is Action.FIRST_CONTACT:
        return order.contact_at is not None
    if step.action in (Action.PLATFORM_CLOSE, Action.CLOSE):
        return order.closed_at is not None and step.at <= order.closed_at
    return step.at <= last_change


def _earlier_repeat(
    session: Session, address: str | None, category: str | None, dispatched_at: datetime, window: timedelta
) -> str | None:
    """An earlier order with the same normalised address and category within the window."""
    key = address_key(address)
    if not key or not category:
        return None
    return session.exec(
        select(Order.order_no)
        .where(
            Order.address_key == key,
            Order.category == category,
            col(Order.dispatched_at) >= dispatched_at - window,
            col(Order.dispatched_at) < dispatched_at,
        )
        .order_by(col(Order.dispatched_at).desc())
        .limit(1)
    ).first()
