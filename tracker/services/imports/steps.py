"""The steps of one import, shared by both ways of running it (see ``importer``): open the file, survey it,
plan each chunk (reads only), write a chunk's new orders and reconcile its changed ones, finish the batch.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sqlmodel import Session, col, select

from tracker.models import ImportBatch, ImportIssue, Order, utcnow
from tracker.services.imports.columns import NUL_SIGN
from tracker.services.imports.plan import NewOrderWriter, RepeatIndex, plan_new_order
from tracker.services.imports.reader import ExportFile, SheetRow, open_export
from tracker.services.imports.report import ImportReport
from tracker.services.imports.rows import (
    ParsedRow,
    RowChecks,
    RowError,
    RowProblem,
    line_digester,
    parse_row,
    row_digest,
)
from tracker.services.imports.survey import Survey, line_survey, survey_rows
from tracker.services.imports.updates import reconcile_chunk
from tracker.services.orders import Context, MemoryStore, directory

if TYPE_CHECKING:  # the options are the importer's; it imports these steps
    from tracker.services.imports.importer import ImportOptions

log = logging.getLogger(__name__)


def file_sha256(path: Path) -> str:
    """The file's SHA-256, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class Opened:
    """A file opened for import: its digest, its rows' reader, the layout and source tag."""

    path: Path
    sha: str
    export: ExportFile
    source: str


@dataclass
class ChunkPlan:
    """One chunk's work: new orders planned in memory, and stored orders whose row changed.

    ``loaded``: the addresses (keys) whose stored orders this chunk read to find repeats, first of the file.
    """

    new: list[MemoryStore]
    changed: list[tuple[int, ParsedRow]]
    loaded: set[str] = field(default_factory=set)


def open_file(path: Path, options: ImportOptions) -> Opened:
    """Digest and open the file (file-level problems raise here, before anything is read from the database).

    The digest is taken in a thread beside the opening: hashlib lets go of the GIL on large pieces,
    so on a second core it costs no wall time (a third of an unchanged re-import's otherwise).
    """
    with ThreadPoolExecutor(max_workers=1) as pool:
        digest = pool.submit(file_sha256, path)
        try:
            export = open_export(path, profile=options.profile, limits=options.limits)
        except Exception:
            digest.result()  # the digest's own error first, as when it ran before the opening
            raise
        return Opened(path, digest.result(), export, options.source or export.profile.source)


def new_report(opened: Opened) -> ImportReport:
    return ImportReport(
        file=opened.path.name, sha256=opened.sha, profile=opened.export.profile.name, source=opened.source
    )


def previous_batch(session: Session, opened: Opened) -> str | None:
    """The batch that already imported this very file under this source, if any."""
    previous = session.exec(
        select(ImportBatch).where(ImportBatch.sha256 == opened.sha, ImportBatch.source == opened.source).limit(1)
    ).first()
    return previous.batch if previous is not None else None


def batch_name(options: ImportOptions, sha: str) -> str:
    return f"{options.now:%Y%m%d%H%M%S}-{sha[:8]}-{secrets.token_hex(2)}"


def add_batch(session: Session, opened: Opened, options: ImportOptions, name: str) -> ImportBatch:
    """The batch record, added and flushed (its id names the batch's issues)."""
    batch = ImportBatch(
        batch=name,
        file_name=opened.path.name,
        sha256=opened.sha,
        size=opened.path.stat().st_size,
        profile=opened.export.profile.name,
        source=opened.source,
        actor=options.actor.id,
        actor_name=options.actor.name,
        started_at=options.now,
    )
    session.add(batch)
    session.flush()
    return batch


def survey_file(session: Session, opened: Opened, options: ImportOptions, report: ImportReport) -> Survey:
    """The first pass (reads only), and what it already tells the report."""
    export, profile = opened.export, opened.export.profile
    # first pass: a CSV's plain lines by their bytes (an unchanged file is settled there), then the
    # file's numbers and digests; a CSV read whole by its lines is not read again
    lines = line_survey(session, export, profile, opened.source, options.chunk_rows)
    survey = lines.survey or survey_rows(session, export, profile, opened.source, options.chunk_rows, lines.settled)
    # rows with a cell no database holds (NUL, too long for its column) were set aside by the reader, unparsed
    report.rows_read = survey.total + len(export.refused)
    report.rejected.extend(RowError(r.number, r.column, r.value, r.reason, r.order_no) for r in export.refused)
    report.unchanged = survey.unchanged
    for order_no, rows in survey.conflicting.items():
        report.rejected.extend(duplicate(number, order_no, rows) for number in rows)
    for number, first, order_no in survey.repeated:
        if order_no in survey.conflicting:  # the same as an earlier row, but the number also appears otherwise
            report.rejected.append(duplicate(number, order_no, survey.conflicting[order_no]))
        else:
            report.skipped.append((number, f"与第 {first} 行完全相同的重复行"))
    return survey


def pending_chunks(opened: Opened, survey: Survey, options: ImportOptions) -> Iterator[list[SheetRow]]:
    """The second pass, only when a row is new or changed: those rows themselves, a chunk at a time.

    Every chunk but the last is full; progress is told after each full chunk and at the end.
    """
    chunk: list[SheetRow] = []
    done = 0
    if survey.pending:
        for sheet_row in opened.export.rows():
            if sheet_row.number not in survey.pending:
                continue
            chunk.append(sheet_row)
            if len(chunk) >= options.chunk_rows:
                yield chunk
                done += len(chunk)
                chunk = []
                if options.progress:
                    options.progress(done, len(survey.pending))
        if chunk:
            yield chunk
    if options.progress:
        options.progress(len(survey.pending), len(survey.pending))


def finish(session: Session, batch: ImportBatch, report: ImportReport, opened: Opened) -> None:
    """The report in row order with the file's notes; the batch's counts and issues stored."""
    export = opened.export
    report.skipped = sorted([*export.skipped, *report.skipped])
    for issues in (report.rejected, report.conflicts, report.warnings):
        issues.sort(key=lambda issue: issue.row or 0)
    report.warnings.extend(RowError(None, "文件", opened.path.name, note) for note in export.notes)
    if export.encoding == "gb18030":
        note = "文件不是 UTF-8，已按 GB18030（GBK）编码读取；如有乱码，请在原系统另存为 UTF-8 后重新导入"
        report.warnings.insert(0, RowError(None, "文件", opened.path.name, note))
    batch.finished_at = max(utcnow(), batch.started_at)
    batch.rows_read, batch.created, batch.updated = report.rows_read, report.created, report.updated
    batch.unchanged, batch.rejected, batch.conflicts = report.unchanged, len(report.rejected), len(report.conflicts)
    for kind, issues in (("rejected", report.rejected), ("conflict", report.conflicts), ("warning", report.warnings)):
        for issue in issues:
            session.add(
                ImportIssue(
                    batch_id=batch.id or 0,
                    kind=kind,
                    row=issue.row,
                    column=storable(issue.column),
                    value=storable(issue.value),
                    reason=storable(issue.reason),
                    order_no=storable(issue.order_no),
                )
            )
    session.flush()


def storable(text: str) -> str:
    """Text any database stores: a NUL byte (from a file's note or a header) shown as ␀."""
    return text.replace("\x00", NUL_SIGN)


def duplicate(number: int, order_no: str, rows: list[int]) -> RowError:
    """A row whose order number appears elsewhere in the file with other content."""
    others = "、".join(str(n) for n in rows if n != number)
    reason = f"同一文件中该工单编号重复且内容不同（另见第 {others} 行），未导入"
    return RowError(number, "工单编号", order_no, reason, order_no)


def plan_chunk(
    session: Session,
    chunk: list[SheetRow],
    opened: Opened,
    options: ImportOptions,
    ctx: Context,
    report: ImportReport,
    repeats: RepeatIndex,
    stored_changed: set[str],
) -> ChunkPlan:
    """Unchanged rows are recognised by digest alone; new orders are planned in memory; known orders
    that changed are set aside for reconciling. Reads only."""
    profile = opened.export.profile
    export, source = opened.export, opened.source
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
    # once the district's streets are listed, every order must name one of them (its squad); a bare
    # number is a date serial only in a workbook's cells
    checks = RowChecks(frozenset(directory.street_names(session)), options.now, serials=export.encoding is None)
    new_rows: list[ParsedRow] = []
    planned = ChunkPlan([], [])
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
            planned.changed.append((existing[0] or 0, parsed))
    before = set(repeats.loaded)
    repeats.load(session, new_rows)
    planned.loaded = repeats.loaded - before
    new_rows.sort(key=lambda parsed: parsed.order.dispatched_at)  # so a repeat finds its earlier order
    for parsed in new_rows:
        try:
            planned.new.append(plan_new_order(parsed, ctx, repeats))
            report.created += 1
        except RowProblem as problem:
            report.rejected.append(problem.error)
    return planned


def write_chunk(
    session: Session, planned: ChunkPlan, writer: NewOrderWriter, ctx: Context, report: ImportReport
) -> set[str]:
    """A chunk's new orders written in one batch, then its changed orders reconciled in batches (``updates``).

    Returns the addresses (keys, before and after) of the orders whose address, category or dispatch
    time the reconciling changed: what a later chunk finds there as an earlier order (a repeat).
    """
    for plan in planned.new:
        writer.add(plan)
    writer.write(session)
    return reconcile_chunk(session, planned.changed, ctx, report)
