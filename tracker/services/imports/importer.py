"""Import export files: upsert on (source, 工单编号) through the lifecycle, with a row-level report.

One file is one unit: the caller's transaction holds every accepted row, every rejected
row's reason and the batch record, or (for a file-level problem) nothing at all. The service
flushes and never commits; ``dry_run`` is the caller rolling back.

Two ways to run it, with the same result: chunk by chunk under the import lock taken first (the
one way on PostgreSQL, where other writers do not wait for it, and for very large files), or
planned first (SQLite: its write lock stops every writer, so it is held only while the plan is
written).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlmodel import Session

from tracker.db import take_write_lock
from tracker.domain.calendar import WorkCalendar
from tracker.domain.deadlines import RuleTable
from tracker.services.accounts import Actor
from tracker.services.imports.plan import NewOrderWriter, RepeatIndex
from tracker.services.imports.profiles import Profile
from tracker.services.imports.reader import Limits
from tracker.services.imports.report import ImportReport
from tracker.services.imports.rows import Shift
from tracker.services.imports.steps import (
    ChunkPlan,
    Opened,
    add_batch,
    batch_name,
    finish,
    new_report,
    open_file,
    pending_chunks,
    plan_chunk,
    previous_batch,
    survey_file,
    write_chunk,
)
from tracker.services.orders import Context

log = logging.getLogger(__name__)

REPEAT_WINDOW = timedelta(days=30)
CHUNK_ROWS = 2000
IMPORT_LOCK_WAIT_MS = 30 * 60 * 1000
IMPORT_CACHE_KIB = 256 * 1024  # SQLite page cache while importing
PLAN_FIRST_MAX_ROWS = 200_000  # a larger file is planned and written chunk by chunk under the lock (memory)
MAX_REPLANS = 3  # plans made without the lock that may go stale before the import plans under the lock


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
    # read, check and plan the whole file without the write lock, then write it in one short transaction
    # (see import_file); the session's transaction is ended first, so nothing may be pending in it
    plan_first: bool = False
    # called after each plan made without the lock, before the lock is taken, with the attempt (0, 1 …)
    on_planned: Callable[[int], None] | None = None
    # called once the write lock is held and the plan found current, before anything is written
    on_locked: Callable[[], None] | None = None


def plan_first_default(session: Session) -> bool:
    """Whether imports should plan before they lock: on SQLite, where the import's write lock stops every writer."""
    return session.get_bind().dialect.name == "sqlite"


def import_file(session: Session, path: Path, *, options: ImportOptions) -> ImportReport:
    """Import one file. File-level problems raise :class:`ExportFileError` before anything is written.

    With ``options.plan_first`` the session's transaction is ended (rolled back) first; the file is
    read, checked and planned in a read transaction, the write lock taken (:func:`lock_imports`),
    and the plan written in one short transaction if nothing it was planned against changed
    meanwhile; else it is planned again (at most MAX_REPLANS plans, then under the lock). The
    report, orders and events are those the chunked path (``plan_first=False``) writes.
    """
    if options.plan_first:
        with _collector_paused():
            return _import_planned_first(session, path, options)
    with _collector_paused(), _sqlite_cache(session):
        return _import_file(session, path, options)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """While a file is imported, the cycle collector paused; the memory given back afterwards.

    An import keeps a few objects per row alive (the survey's digests, the planned orders of a
    chunk); the collector's full passes over them grew with the file and took about a sixth of
    a 200,000-row import. The import makes no reference cycles of its own worth collecting
    before it ends.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()
        release_memory()


@contextmanager
def _sqlite_cache(session: Session) -> Iterator[None]:
    """On SQLite, a larger page cache on the session's connection while it writes; put back afterwards.

    SQLite's default 2 MB page cache is far smaller than the indexes a large import writes into.
    """
    raw: Any = None
    if session.get_bind().dialect.name == "sqlite":
        raw = session.connection().connection.dbapi_connection
    cache = raw.execute("PRAGMA cache_size").fetchone()[0] if raw is not None else 0
    if raw is not None:
        raw.execute(f"PRAGMA cache_size = -{IMPORT_CACHE_KIB}")
    try:
        yield
    finally:
        if raw is not None:
            try:
                raw.execute(f"PRAGMA cache_size = {int(cache)}")
            except sqlite3.Error as exc:  # a broken connection: the pool discards it; the import's own error stands
                log.warning("could not put SQLite's page cache back: %s", exc)


def release_memory() -> None:
    """After a file was read (or refused): collect what it left, and give freed heap back to the system.

    A workbook is read whole; without this a worker kept the memory of its largest file for good
    (glibc keeps freed small blocks in the heap until asked to trim it). The collector was paused
    for the whole import, so everything the import allocated is still in the youngest generation:
    collecting that one finds what the import left, without walking the whole process (the app,
    its modules and metadata), which cost about a fifth of an unchanged re-import of 100,000 rows.
    """
    gc.collect(0)
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


@dataclass
class _FilePlan:
    """A whole file planned without the write lock, and the state of the database it was planned against."""

    report: ImportReport
    marker: tuple[int, ...]
    batch_name: str = ""
    ctx: Context | None = None
    chunks: list[ChunkPlan] = field(default_factory=list)
    too_large: bool = False


# what a plan depends on: the batches imported (stored digests, orders reconciled) and the orders stored
# (new or removed: which rows are new, earlier orders at an address); an order action changes none of it
PLAN_MARKER = text(
    "SELECT (SELECT coalesce(max(id), 0) FROM import_batch), (SELECT coalesce(max(id), 0) FROM work_order), "
    "(SELECT count(*) FROM work_order)"
)


def plan_marker(session: Session) -> tuple[int, ...]:
    """The state of the database an import's plan depends on; it changes when that plan may be stale."""
    return tuple(session.execute(PLAN_MARKER).one())


def _import_file(session: Session, path: Path, options: ImportOptions) -> ImportReport:
    """The chunked path: the write lock first, then each chunk planned and written in turn."""
    opened = open_file(path, options)
    lock_imports(session)
    report = new_report(opened)
    previous = previous_batch(session, opened)
    if previous is not None:
        report.already_imported = previous
        return report
    batch = add_batch(session, opened, options, batch_name(options, opened.sha))
    report.batch = batch.batch
    ctx = Context(Actor.importer(batch.batch), options.now, options.calendar, options.rules)
    survey = survey_file(session, opened, options, report)
    writer = NewOrderWriter()
    # the window's stored orders only when one chunk is planned: a later chunk would read what this import wrote
    repeats = RepeatIndex(options.repeat_window, bounded=len(survey.pending) <= options.chunk_rows)
    for chunk in pending_chunks(opened, survey, options):
        planned = plan_chunk(session, chunk, opened, options, ctx, report, repeats, survey.changed)
        write_chunk(session, planned, writer, ctx, report)
    finish(session, batch, report, opened)
    return report


def _import_planned_first(session: Session, path: Path, options: ImportOptions) -> ImportReport:
    """Plan without the write lock, lock, check the plan is current (else plan again), write it."""
    opened = open_file(path, options)
    session.rollback()  # plan in a read transaction of our own, so the lock is not held while planning
    unlocked_plans = MAX_REPLANS + 1
    for attempt in range(unlocked_plans + 1):
        locked = attempt == unlocked_plans  # the plan kept going stale: plan under the lock this time
        if locked:
            log.warning("import of %s planned under the write lock after %d stale plans", path.name, attempt)
            lock_imports(session)
        planned = _plan_file(session, opened, options)
        if planned.report.already_imported or planned.too_large or locked:
            break
        if options.on_planned:
            options.on_planned(attempt)
        session.rollback()  # end the read before waiting for the lock
        lock_imports(session)
        if plan_marker(session) == planned.marker:
            break
        log.info("import of %s: the database changed while it was planned; planning again", path.name)
        session.rollback()
    if planned.report.already_imported:
        return planned.report
    if planned.too_large:  # too many rows to hold planned in memory: the chunked path, under the lock
        session.rollback()
        with _sqlite_cache(session):
            return _import_file(session, path, options)
    if options.on_locked:
        options.on_locked()
    with _sqlite_cache(session):
        written = _write_plan(session, planned, opened, options)
        if written is not None:
            return written
        # an order reconciled early in the file moved to (or from) an address whose earlier orders a later
        # chunk was planned against: the chunked path, under the lock already held, sees it as it moved
        log.info("import of %s: a reconciled order moved where a later chunk looks for repeats; chunked", path.name)
        return _import_file(session, path, options)


def _plan_file(session: Session, opened: Opened, options: ImportOptions) -> _FilePlan:
    """Read, check and plan the whole file in the session's transaction; nothing is written."""
    report = new_report(opened)
    marker = plan_marker(session)  # first: the plan's reads see this state or a later one
    previous = previous_batch(session, opened)
    if previous is not None:
        report.already_imported = previous
        return _FilePlan(report, marker)
    name = batch_name(options, opened.sha)
    report.batch = name
    ctx = Context(Actor.importer(name), options.now, options.calendar, options.rules)
    survey = survey_file(session, opened, options, report)
    if survey.total > PLAN_FIRST_MAX_ROWS:
        return _FilePlan(report, marker, too_large=True)
    planned = _FilePlan(report, marker, name, ctx)
    repeats = RepeatIndex(options.repeat_window, bounded=True)  # nothing is written while the file is planned
    for chunk in pending_chunks(opened, survey, options):
        planned.chunks.append(plan_chunk(session, chunk, opened, options, ctx, report, repeats, survey.changed))
    return planned


def _write_plan(session: Session, planned: _FilePlan, opened: Opened, options: ImportOptions) -> ImportReport | None:
    """Write a current plan under the write lock: the batch, each chunk's new and changed orders, the report.

    None, with nothing written (a savepoint rolled back), when reconciling a chunk moved a stored order
    to or from an address a later chunk read for repeats before that move: that chunk's plan is stale.
    """
    assert planned.ctx is not None
    report = planned.report
    savepoint = session.begin_nested()
    batch = add_batch(session, opened, options, planned.batch_name)
    writer = NewOrderWriter()
    moved: set[str] = set()
    for chunk in planned.chunks:
        if moved & chunk.loaded:
            savepoint.rollback()
            return None
        moved |= write_chunk(session, chunk, writer, planned.ctx, report)
    finish(session, batch, report, opened)
    savepoint.commit()
    return report


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
