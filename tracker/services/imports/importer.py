"""Import export files: upsert on (source, 工单编号) through the lifecycle, with a row-level report.

One file is one unit: the caller's transaction holds every accepted row, every rejected
row's reason and the batch record, or (for a file-level problem) nothing at all. The service
flushes and never commits; ``dry_run`` is the caller rolling back.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import hashlib
import logging
import secrets
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, col, select

from tracker.db import take_write_lock
from tracker.domain.calendar import WorkCalendar
from tracker.domain.deadlines import RuleTable
from tracker.domain.errors import TrackerError
from tracker.models import ImportBatch, ImportIssue, Order, utcnow
from tracker.services.accounts import Actor
from tracker.services.imports.columns import NUL_SIGN
from tracker.services.imports.plan import NewOrderWriter, RepeatIndex, plan_new_order
from tracker.services.imports.profiles import Profile
from tracker.services.imports.reader import ExportFile, Limits, SheetRow, open_export
from tracker.services.imports.reconcile import Conflict, reconcile
from tracker.services.imports.report import ImportReport
from tracker.services.imports.rows import (
    ParsedRow,
    RowChecks,
    RowError,
    RowProblem,
    Shift,
    line_digester,
    parse_row,
    row_digest,
)
from tracker.services.imports.survey import line_survey, survey_rows
from tracker.services.orders import Context, directory

log = logging.getLogger(__name__)

REPEAT_WINDOW = timedelta(days=30)
CHUNK_ROWS = 2000
IMPORT_LOCK_WAIT_MS = 30 * 60 * 1000
IMPORT_CACHE_KIB = 256 * 1024  # SQLite page cache while importing


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
    chunk_rows: int = CHUNK_ROWS
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
    with _bulk_mode(session):
        return _import_file(session, path, options)


@contextmanager
def _bulk_mode(session: Session) -> Iterator[None]:
    """While a file is imported: the cycle collector paused, and on SQLite a larger page cache.

    An import keeps a few objects per row alive (the survey's digests, the planned orders of a
    chunk); the collector's full passes over them grew with the file and took about a sixth of
    a 200,000-row import. The import makes no reference cycles of its own worth collecting
    before it ends. SQLite's default 2 MB page cache is far smaller than the indexes a large
    import writes into; both settings are put back afterwards.
    """
    collecting = gc.isenabled()
    gc.disable()
    raw: Any = None
    if session.get_bind().dialect.name == "sqlite":
        raw = session.connection().connection.dbapi_connection
    cache = raw.execute("PRAGMA cache_size").fetchone()[0] if raw is not None else 0
    if raw is not None:
        raw.execute(f"PRAGMA cache_size = -{IMPORT_CACHE_KIB}")
    try:
        yield
    finally:
        if collecting:
            gc.enable()
        release_memory()
        if raw is not None:
            try:
                raw.execute(f"PRAGMA cache_size = {int(cache)}")
            except sqlite3.Error as exc:  # a broken connection: the pool discards it; the import's own error stands
                log.warning("could not put SQLite's page cache back: %s", exc)


def release_memory() -> None:
    """After a file was read (or refused): collect what it left, and give freed heap back to the system.

    A workbook is read whole; without this a worker kept the memory of its largest file for good
    (glibc keeps freed small blocks in the heap until asked to trim it).
    """
    gc.collect()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@cache
def _malloc_trim() -> Any:
    """glibc's malloc_trim, or None where there is none (macOS, musl): then the collection is what we can do."""
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


def _import_file(session: Session, path: Path, options: ImportOptions) -> ImportReport:
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
    # once the district's streets are listed, every order must name one of them (its squad); a bare
    # number is a date serial only in a workbook's cells
    checks = RowChecks(frozenset(directory.street_names(session)), options.now, serials=export.encoding is None)
    # first pass: a CSV's plain lines by their bytes (an unchanged file is settled there), then the
    # file's numbers and digests; a CSV read whole by its lines is not read again
    lines = line_survey(session, export, profile, source, options.chunk_rows)
    survey = lines.survey or survey_rows(session, export, profile, source, options.chunk_rows, lines.settled)
    # rows with a cell no database holds (NUL, too long for its column) were set aside by the reader, unparsed
    report.rows_read = survey.total + len(export.refused)
    report.rejected.extend(RowError(r.number, r.column, r.value, r.reason, r.order_no) for r in export.refused)
    report.unchanged = survey.unchanged
    for order_no, rows in survey.conflicting.items():
        report.rejected.extend(_duplicate(number, order_no, rows) for number in rows)
    for number, first, order_no in survey.repeated:
        if order_no in survey.conflicting:  # the same as an earlier row, but the number also appears otherwise
            report.rejected.append(_duplicate(number, order_no, survey.conflicting[order_no]))
        else:
            report.skipped.append((number, f"与第 {first} 行完全相同的重复行"))
    writer = NewOrderWriter()
    repeats = RepeatIndex(options.repeat_window)
    chunk: list[SheetRow] = []
    done = 0
    if survey.pending:  # second pass, only when a row is new or changed: those rows themselves, a chunk at a time
        for sheet_row in export.rows():
            if sheet_row.number not in survey.pending:
                continue
            chunk.append(sheet_row)
            if len(chunk) >= options.chunk_rows:
                _import_chunk(
                    session, chunk, export, source, options, ctx, checks, report, writer, repeats, survey.changed
                )
                done += len(chunk)
                chunk = []
                if options.progress:
                    options.progress(done, len(survey.pending))
        _import_chunk(session, chunk, export, source, options, ctx, checks, report, writer, repeats, survey.changed)
    if options.progress:
        options.progress(len(survey.pending), len(survey.pending))
    report.skipped = sorted([*export.skipped, *report.skipped])
    for issues in (report.rejected, report.conflicts, report.warnings):
        issues.sort(key=lambda issue: issue.row or 0)
    report.warnings.extend(RowError(None, "文件", path.name, note) for note in export.notes)
    if export.encoding == "gb18030":
        note = "文件不是 UTF-8，已按 GB18030（GBK）编码读取；如有乱码，请在原系统另存为 UTF-8 后重新导入"
        report.warnings.insert(0, RowError(None, "文件", path.name, note))
    batch.finished_at = max(utcnow(), options.now)
    batch.rows_read, batch.created, batch.updated = report.rows_read, report.created, report.updated
    batch.unchanged, batch.rejected, batch.conflicts = report.unchanged, len(report.rejected), len(report.conflicts)
    for kind, issues in (("rejected", report.rejected), ("conflict", report.conflicts), ("warning", report.warnings)):
        for issue in issues:
            session.add(
                ImportIssue(
                    batch_id=batch.id or 0,
                    kind=kind,
                    row=issue.row,
                    column=_storable(issue.column),
                    value=_storable(issue.value),
                    reason=_storable(issue.reason),
                    order_no=_storable(issue.order_no),
                )
            )
    session.flush()
    return report


def _storable(text: str) -> str:
    """Text any database stores: a NUL byte (from a file's note or a header) shown as ␀."""
    return text.replace("\x00", NUL_SIGN)


def lock_imports(session: Session) -> None:
    """One import at a time per database: the second waits, then finds the file already imported.

    Call it first in the transaction: on SQLite a transaction that has already read cannot wait
    for the write lock, it fails at once when another import committed in between.
    """
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(1234512345)"))
    else:  # SQLite: the write lock now, waiting as long as another import runs
        take_write_lock(session, wait_ms=IMPORT_LOCK_WAIT_MS)


def _duplicate(number: int, order_no: str, rows: list[int]) -> RowError:
    """A row whose order number appears elsewhere in the file with other content."""
    others = "、".join(str(n) for n in rows if n != number)
    reason = f"同一文件中该工单编号重复且内容不同（另见第 {others} 行），未导入"
    return RowError(number, "工单编号", order_no, reason, order_no)


def _import_chunk(
    session: Session,
    chunk: list[SheetRow],
    export: ExportFile,
    source: str,
    options: ImportOptions,
    ctx: Context,
    checks: RowChecks,
    report: ImportReport,
    writer: NewOrderWriter,
    repeats: RepeatIndex,
    stored_changed: set[str],
) -> None:
    """Unchanged rows are recognised by digest alone; new orders are planned and written in one batch;
    known orders that changed go through the session one by one."""
    if not chunk:
        return
    profile = export.profile
    line_digest = line_digester(export.line_key) if export.line_key is not None else None
    numbers = [profile.map_value("工单编号", row.fields.get("工单编号", "")) for row in chunk]
    # only the orders the survey found stored are looked up: the rest are new (and while a large
    # file is written, PostgreSQL, which has no statistics for the rows of this transaction yet,
    # would read the growing table whole for every chunk)
    stored = [n for n in numbers if n in stored_changed]
    known = (
        {
            order_no: (order_id, digest)
            for order_id, order_no, digest in session.exec(
                select(Order.id, Order.order_no, Order.import_hash).where(
                    Order.source == source, col(Order.order_no).in_(stored)
                )
            ).all()
        }
        if stored
        else {}
    )
    new_rows: list[ParsedRow] = []
    changed: list[tuple[int, ParsedRow]] = []
    for sheet_row, order_no in zip(chunk, numbers, strict=True):
        existing = known.get(order_no)
        digest = row_digest(sheet_row)
        if existing is not None and existing[1] == digest:
            report.unchanged += 1
            continue
        try:
            line = line_digest(sheet_row.line) if line_digest is not None and sheet_row.line is not None else None
            parsed = parse_row(
                sheet_row, profile, source=source, shift=options.shift, digest=digest, line_hash=line, checks=checks
            )
        except RowProblem as problem:
            report.rejected.append(problem.error)
            continue
        report.warnings.extend(parsed.warnings)
        if existing is None:
            new_rows.append(parsed)
        else:
            changed.append((existing[0] or 0, parsed))
    repeats.load(session, new_rows)
    new_rows.sort(key=lambda parsed: parsed.order.dispatched_at)  # so a repeat finds its earlier order
    for parsed in new_rows:
        try:
            writer.add(plan_new_order(parsed, ctx, repeats))
            report.created += 1
        except RowProblem as problem:
            report.rejected.append(problem.error)
    writer.write(session)
    for order_id, parsed in changed:
        _update_one(session, order_id, parsed, ctx, report)


def _update_one(session: Session, order_id: int, parsed: ParsedRow, ctx: Context, report: ImportReport) -> None:
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
        reason = "数据库拒绝写入本行（字段值格式不符），其余行不受影响"
        report.rejected.append(RowError(parsed.number, "工单编号", parsed.order_no, reason, parsed.order_no))
        return
    if outcome.changed:
        report.updated += 1
    else:
        report.unchanged += 1
