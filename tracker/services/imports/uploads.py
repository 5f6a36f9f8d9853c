"""Uploaded exports: store under a generated name, dry-run (rolled back), commit for real; batch reports.

The original file name is kept only as text for people to read: it never becomes a path.
The dry run imports inside a SAVEPOINT that is rolled back, so it sees exactly what the
commit will see and writes nothing but the upload's own record.
"""

from __future__ import annotations

import hashlib
import secrets
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

from sqlmodel import Session, col, select

from tracker.db import begin_write
from tracker.domain.errors import TrackerError
from tracker.models import ImportBatch, ImportIssue, ImportUpload
from tracker.services.accounts import Actor
from tracker.services.imports.importer import ImportOptions, import_file, plan_first_default
from tracker.services.imports.profiles import Profile, builtin_profiles, load_profile
from tracker.services.imports.reader import Limits
from tracker.services.imports.report import ImportReport, report_sheets
from tracker.services.imports.rows import RowError
from tracker.services.imports.steps import file_sha256
from tracker.services.orders import load_calendar, rule_table

SUFFIXES = {".xlsx": ".xlsx", ".xls": ".xls", ".csv": ".csv"}  # the stored suffix is ours, never the user's text
LISTED_ISSUES = 500  # rows of each kind kept in an upload's dry-run record (the counts are always whole)
LIST_KEYS = ("errors", "conflict_rows", "warnings", "skipped")
NAME_MAX = 200
CHUNK = 1 << 20


class UploadRefused(TrackerError):
    """An upload, commit or discard that cannot be done; the message says why."""


@dataclass(frozen=True)
class ImportSettings:
    """What the boundary decides for every web import: who, when, limits and the repeat window."""

    actor: Actor
    now: datetime
    limits: Limits
    repeat_window: timedelta


@dataclass(frozen=True)
class BatchView:
    """One import batch with its report rebuilt from the stored issues."""

    batch: ImportBatch
    report: ImportReport


def profile_choices() -> list[tuple[str, str]]:
    """The built-in profiles as (name, title) for the upload form."""
    return [(p.name, p.title) for p in builtin_profiles()]


@dataclass(frozen=True)
class ProfileDefault:
    """The profile the upload form starts with, and why (told to the clerk beside the choice)."""

    name: str
    reason: str
    problem: str = ""  # a configured default that names no profile


def default_profile(session: Session, *, actor_id: str, configured: str) -> ProfileDefault:
    """This clerk's last profile (their last import batch), else ``TRACKER_DEFAULT_PROFILE``, else detection.

    12345 and 城管诉件 exports share their headers, so detection alone refuses both: a clerk who
    imports the same export every morning should not have to choose it every morning.
    """
    known = {p.name for p in builtin_profiles()}
    problem = ""
    if configured and configured not in known:
        choices = "、".join(sorted(known))
        problem = f"设置 TRACKER_DEFAULT_PROFILE=「{configured}」不是已有的导入配置（可选：{choices}），已忽略"
    last = session.exec(
        select(ImportBatch.profile)
        .where(ImportBatch.actor == actor_id, col(ImportBatch.profile).in_(sorted(known)))
        .order_by(col(ImportBatch.started_at).desc(), col(ImportBatch.id).desc())
        .limit(1)
    ).first()
    if last:
        return ProfileDefault(last, "您上次导入时使用的配置", problem)
    if configured in known:
        return ProfileDefault(configured, "系统设置的默认导入配置（TRACKER_DEFAULT_PROFILE）", problem)
    return ProfileDefault("", "", problem)


def display_name(raw: str | None) -> str:
    """The uploaded file's own name as text: last path component, no control characters, bounded length."""
    name = (raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip()
    return name[:NAME_MAX]


def _profile(name: str) -> Profile | None:
    if not name:
        return None
    if name not in {p.name for p in builtin_profiles()}:
        raise UploadRefused(f"导入配置「{name}」不存在，可选：{'、'.join(p.name for p in builtin_profiles())}")
    return load_profile(name)


def _options(session: Session, settings: ImportSettings, profile: Profile | None) -> ImportOptions:
    return ImportOptions(
        actor=settings.actor,
        now=settings.now,
        calendar=load_calendar(session),
        rules=rule_table(session),
        profile=profile,
        limits=settings.limits,
        repeat_window=settings.repeat_window,
        plan_first=plan_first_default(session),
    )


def _for_people(message: str, upload: ImportUpload) -> str:
    """A file-level message about the stored file, told with the name the clerk knows."""
    message = message.replace(upload.stored_name, upload.original_name)
    return message.replace("请用 --profile 指定", "请在下方选择导入配置，对同一文件重新试导入")


def _renamed(report: ImportReport, upload: ImportUpload) -> ImportReport:
    """The report under the original name (the importer only knows the stored one)."""
    report.file = upload.original_name
    report.warnings = [
        replace(issue, value=upload.original_name)
        if issue.column == "文件" and issue.value == upload.stored_name
        else issue
        for issue in report.warnings
    ]
    return report


def _record(report: ImportReport) -> dict[str, Any]:
    """The dry-run record: the JSON report with its summary, each list cut to LISTED_ISSUES rows."""
    data = report.as_json()
    data["batch"] = ""  # the dry run's batch was rolled back
    data["summary"] = report.summary()
    for key in LIST_KEYS:
        data[f"{key}_total"] = len(data[key])
        data[key] = data[key][:LISTED_ISSUES]
    return data


def _write(stream: IO[bytes], path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    try:
        with path.open("xb") as out:
            while chunk := stream.read(CHUNK):
                out.write(chunk)
                digest.update(chunk)
                size += len(chunk)
    except BaseException:  # no half-written file left behind
        path.unlink(missing_ok=True)
        raise
    return size, digest.hexdigest()


def receive_upload(
    session: Session,
    *,
    stream: IO[bytes],
    original_name: str | None,
    profile: str,
    folder: Path,
    settings: ImportSettings,
) -> ImportUpload:
    """Store an uploaded export under a generated name and dry-run it; the record says checked or failed.

    Refused outright (nothing stored): no file, a type other than .xlsx/.xls/.csv, an unknown profile.
    A file the importer cannot read is recorded as failed with the reason, and its stored copy deleted.
    Call it before anything is written in the session's transaction: it ends that transaction. On
    SQLite the dry run plans without the write lock and holds it only while it writes (then rolls
    back); elsewhere it imports inside a savepoint that is rolled back. The record is added under
    the write lock, for the caller to commit.
    """
    name = display_name(original_name)
    if not name:
        raise UploadRefused("请选择要上传的导出文件（.xlsx、.xls 或 .csv）")
    suffix = SUFFIXES.get(Path(name).suffix.lower())
    if suffix is None:
        raise UploadRefused(f"文件「{name}」的类型不受支持：只能上传 .xlsx、.xls 或 .csv 格式的导出文件")
    chosen = _profile(profile)
    folder.mkdir(parents=True, exist_ok=True)
    stored = f"{secrets.token_hex(16)}{suffix}"
    path = folder / stored
    size, sha = _write(stream, path)
    upload = ImportUpload(
        stored_name=stored,
        original_name=name,
        size=size,
        sha256=sha,
        profile=profile,
        uploaded_by=settings.actor.name[:128],
        uploaded_at=settings.now,
        status="checked",
    )
    _dry_run(session, upload, path, chosen, settings)
    session.add(upload)
    session.flush()
    return upload


def _dry_run(
    session: Session, upload: ImportUpload, path: Path, chosen: Profile | None, settings: ImportSettings
) -> None:
    """Dry-run the stored file; the record says checked or failed. Ends the session's transaction.

    On SQLite the dry run plans without the write lock and holds it only while it writes (then rolls
    back); elsewhere it imports inside a savepoint that is rolled back. Either way the record is set
    afterwards, under the write lock (a rollback expires what changed inside it), for the caller to commit.
    A file no profile reads is not kept. One that another profile may read (the header fits several,
    or not the chosen one) is kept, so the clerk can choose the profile for the same stored file.
    """
    plan_first = plan_first_default(session)
    if not plan_first:
        begin_write(session)  # the chunked path holds the lock from the start (see lock_imports)
    options = _options(session, settings, chosen)
    savepoint = None if plan_first else session.begin_nested()
    record: dict[str, Any]
    try:
        report = import_file(session, path, options=options)
    except TrackerError as exc:
        status, record = "failed", {"error": _for_people(exc.message, upload)}
        choices = [name for name in getattr(exc, "profiles", ()) if name]
        if choices:
            record["choose_profile"] = choices
    except BaseException:
        if upload.id is None:
            path.unlink(missing_ok=True)
        raise
    else:
        status, record = "checked", _record(_renamed(report, upload))
    finally:  # the dry run writes nothing
        if savepoint is not None:
            savepoint.rollback()
        else:
            session.rollback()
    if plan_first:
        begin_write(session)
    if upload.id is not None and not may_choose_profile(upload):  # read again under the lock: another tab
        state = UPLOAD_STATES.get(upload.status, upload.status)
        raise UploadRefused(f"文件「{upload.original_name}」的上传已在别处处理（{state}），未重新试导入")
    upload.status, upload.dry_run = status, record
    if status == "failed" and not record.get("choose_profile"):
        path.unlink(missing_ok=True)  # a file that cannot be imported is not kept


def may_choose_profile(upload: ImportUpload) -> bool:
    """Whether the clerk may dry-run the same stored file again with another profile."""
    return upload.status == "checked" or (upload.status == "failed" and bool(upload.dry_run.get("choose_profile")))


def retry_upload(
    session: Session, *, upload: ImportUpload, profile: str, folder: Path, settings: ImportSettings
) -> ImportUpload:
    """Dry-run the same stored upload again with the profile the clerk chose (after a refusal, or to change it).

    Ends the session's transaction (as :func:`receive_upload`) and returns under the write lock.
    """
    if not may_choose_profile(upload):
        raise UploadRefused(
            f"文件「{upload.original_name}」的上传状态为「{UPLOAD_STATES.get(upload.status, upload.status)}」，"
            "不能换导入配置重新试导入"
        )
    if not profile:
        raise UploadRefused("请选择导入配置")
    chosen = _profile(profile)
    path = folder / upload.stored_name
    if not path.is_file() or file_sha256(path) != upload.sha256:
        raise UploadRefused(
            f"服务器上保存的文件「{upload.original_name}」已被改动或丢失（SHA-256 与上传时不符），"
            "请放弃本次上传后重新上传"
        )
    _dry_run(session, upload, path, chosen, settings)
    upload.profile = profile
    session.add(upload)
    session.flush()
    return upload


UPLOAD_STATES = {"checked": "待确认", "committed": "已导入", "failed": "未通过试导入", "discarded": "已放弃"}


def discard_stale_uploads(
    session: Session, *, now: datetime, older_than: timedelta, dry_run: bool = False
) -> tuple[int, list[str]]:
    """Uploads left unconfirmed longer than ``older_than`` marked discarded: (how many, stored names to delete).

    An upload holds a whole export (names, phone numbers, addresses), and after a day nobody will confirm
    it. The caller deletes the files once the transaction is committed; ``dry_run`` only counts.
    """
    stale = session.exec(
        select(ImportUpload).where(
            col(ImportUpload.status).in_(("checked", "failed")), col(ImportUpload.uploaded_at) < now - older_than
        )
    ).all()
    names = [u.stored_name for u in stale if u.status == "checked" or u.dry_run.get("choose_profile")]
    if not dry_run:
        for upload in stale:
            upload.status = "discarded"
            upload.dry_run = {**upload.dry_run, "discarded_stale": True}
            session.add(upload)
        session.flush()
    return len(stale), names


def get_upload(session: Session, upload_id: int, *, for_update: bool = False) -> ImportUpload | None:
    """One upload by id, or None; ``for_update`` locks its row (PostgreSQL) so commit and discard take turns."""
    return session.get(ImportUpload, upload_id, with_for_update=for_update or None)


def pending_uploads(session: Session, *, limit: int = 50) -> list[ImportUpload]:
    """Uploads waiting for the clerk, newest first: dry-run and waiting for 确认导入, or for a profile choice."""
    query = (
        select(ImportUpload)
        .where(col(ImportUpload.status).in_(("checked", "failed")))
        .order_by(col(ImportUpload.uploaded_at).desc(), col(ImportUpload.id).desc())
        .limit(limit)
    )
    return [u for u in session.exec(query) if u.status == "checked" or may_choose_profile(u)]


def recent_batches(session: Session, *, limit: int = 50) -> list[ImportBatch]:
    """Import batches (web, command line and inbox), newest first."""
    query = select(ImportBatch).order_by(col(ImportBatch.started_at).desc(), col(ImportBatch.id).desc()).limit(limit)
    return list(session.exec(query))


def _checked(upload: ImportUpload, folder: Path) -> Path:
    """The stored file of an upload that may be committed, unchanged since its dry run."""
    if upload.status == "committed":
        raise UploadRefused(f"文件「{upload.original_name}」已于批次 {upload.batch} 导入，不能重复导入")
    if upload.status == "discarded":
        raise UploadRefused(f"文件「{upload.original_name}」的上传已放弃，不能导入；如需导入请重新上传")
    if upload.status == "failed":
        raise UploadRefused(f"文件「{upload.original_name}」未通过试导入检查，不能导入；请修正后重新上传")
    if upload.dry_run.get("already_imported"):
        batch = upload.dry_run["already_imported"]
        raise UploadRefused(f"文件「{upload.original_name}」已于批次 {batch} 导入过，无需再次导入；请放弃本次上传")
    path = folder / upload.stored_name
    if not path.is_file() or file_sha256(path) != upload.sha256:
        raise UploadRefused(
            f"服务器上保存的文件「{upload.original_name}」已被改动或丢失（SHA-256 与试导入时不符），"
            "不能导入；请放弃本次上传后重新上传"
        )
    return path


def commit_upload(session: Session, *, upload: ImportUpload, folder: Path, settings: ImportSettings) -> ImportReport:
    """Import a dry-run upload for real; the batch keeps the original file name. Flushes, never commits.

    On SQLite the import ends the session's transaction and plans before it takes the write lock;
    the upload is then read again under the lock, so a discard or commit made meanwhile by
    someone else refuses this one.
    """
    path = _checked(upload, folder)
    options = _options(session, settings, _profile(upload.profile))
    try:
        report = import_file(session, path, options=options)
    except TrackerError as exc:
        raise UploadRefused(_for_people(exc.message, upload)) from None
    if options.plan_first:
        session.refresh(upload, with_for_update=True)  # PostgreSQL: a discard now waits for this commit
        if upload.status != "checked":
            _checked(upload, folder)  # says why (committed or discarded meanwhile)
    if report.already_imported:
        raise UploadRefused(
            f"文件「{upload.original_name}」已于批次 {report.already_imported} 导入过，无需再次导入；请放弃本次上传"
        )
    _renamed(report, upload)
    batch = session.exec(select(ImportBatch).where(ImportBatch.batch == report.batch)).one()
    batch.file_name = upload.original_name
    notes = select(ImportIssue).where(ImportIssue.batch_id == batch.id, ImportIssue.value == upload.stored_name)
    for issue in session.exec(notes):
        issue.value = upload.original_name
    upload.status = "committed"
    upload.batch = report.batch
    session.add_all([batch, upload])
    session.flush()
    return report


def discard_upload(session: Session, *, upload: ImportUpload) -> str:
    """Mark an upload discarded; returns the stored name, to delete once the transaction is committed."""
    if upload.status == "committed":
        raise UploadRefused(f"文件「{upload.original_name}」已导入（批次 {upload.batch}），不能放弃")
    if upload.status == "discarded":
        raise UploadRefused(f"文件「{upload.original_name}」的上传已经放弃过了")
    upload.status = "discarded"
    session.add(upload)
    session.flush()
    return upload.stored_name


def delete_stored(folder: Path, stored_name: str) -> None:
    """Delete a stored upload (the name is one we generated; anything else is ignored)."""
    path = folder / stored_name
    if path.parent == folder and path.name == stored_name and Path(stored_name).suffix in SUFFIXES.values():
        path.unlink(missing_ok=True)


def _issues(rows: Iterable[ImportIssue]) -> list[RowError]:
    return [RowError(i.row, i.column, i.value, i.reason, i.order_no) for i in rows]


def batch_view(session: Session, batch: str) -> BatchView | None:
    """One batch and its report rebuilt from import_batch and import_issue, or None."""
    found = session.exec(select(ImportBatch).where(ImportBatch.batch == batch)).first()
    if found is None:
        return None
    issues = list(
        session.exec(
            select(ImportIssue)
            .where(ImportIssue.batch_id == found.id)
            .order_by(col(ImportIssue.id))  # stored in the report's order
        )
    )
    report = ImportReport(
        file=found.file_name,
        sha256=found.sha256,
        profile=found.profile,
        source=found.source,
        batch=found.batch,
        rows_read=found.rows_read,
        created=found.created,
        updated=found.updated,
        unchanged=found.unchanged,
        rejected=_issues(i for i in issues if i.kind == "rejected"),
        conflicts=_issues(i for i in issues if i.kind == "conflict"),
        warnings=_issues(i for i in issues if i.kind == "warning"),
    )
    return BatchView(found, report)


def rejected_xlsx(view: BatchView) -> bytes:
    """The batch's rejected and conflicting rows as a formula-safe workbook (the report's own layout)."""
    return replace(view.report, warnings=[]).to_xlsx()


def rejected_sheets(view: BatchView) -> dict[str, list[list[object]]]:
    """The cells of :func:`rejected_xlsx`, sheet by sheet (汇总, 明细), for the CSV download."""
    return report_sheets([replace(view.report, warnings=[])])
