"""Personal-data retention (domain.md §7, PIPL Art. 19): keep personal information no longer than needed.

- Orders closed more than ``pii_days`` ago (730 by default; a reopened order counts from its last
  closure, and an order that is open again is not touched): the complainant's name, phone, address
  (and its normalised key), the contact person, and every mobile number inside the free texts
  (content, reply, reasons, extra export columns) are removed; the order's number, category, street,
  states, deadlines and outcome stay, so statistics do not change. ``anonymised_at`` marks it done.
- Raw export files (uploads and the inbox's ``done/`` and ``failed/``) older than ``file_days`` (90) are
  deleted, and the rejected rows' cell values of imports that old are blanked (their counts stay).
  An upload left unconfirmed longer than ``upload_stale_hours`` (24) is discarded and its file deleted
  (the clerk's next upload does the same; this run catches the days without one).
- Sign-in attempts and ended sessions older than ``login_days`` (90) are deleted; the log of revealed
  phone numbers is kept ``reveal_days`` (3 years).

- Attachments (photos and PDFs on an order, domain.md §7): a site photo can show faces, plates and
  house numbers, so an attachment counts as personal data of its order. When the order is anonymised,
  its attachment files and thumbnails are deleted and the row keeps only what is not personal (type,
  size, SHA-256, purpose, dates; the original name becomes 附件<id>); ``purged_at`` marks it. A spot
  check that still needs them holds them: while the order is in a sample and its review is not yet
  saved, they stay, and the first run after the review deletes them (there is no 通报 record yet to
  hold them the same way). A withdrawn attachment's file is kept ``file_days`` after its withdrawal (in
  case the withdrawal is disputed) and then deleted the same way, whatever the order's age.
  Notes (备注) of an anonymised order keep their text with every mobile number masked.

The audit trail (``order_event``) is never touched: it records personal fields masked from the start.
Every run derives its work from the data and the clock, so a second run the same day changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func
from sqlmodel import Session, col, select

from tracker.domain.errors import TrackerError
from tracker.domain.privacy import mask_phones_in_text
from tracker.domain.vocabulary import State
from tracker.models import (
    PURGEABLE_AFTER,
    ImportBatch,
    ImportIssue,
    ImportUpload,
    LoginAttempt,
    Order,
    OrderAttachment,
    OrderNote,
    PhoneReveal,
    SampleItem,
    UserSession,
)
from tracker.services.imports import uploads as import_uploads
from tracker.services.operations.job_runs import JobFunc, JobResult

PERSONAL_FIELDS = ("complainant", "phone", "address", "address_key", "contact_person")
TEXT_FIELDS = ("content", "reply", "contact_reason", "extension_reason", "return_basis")
BATCH = 500


@dataclass(frozen=True)
class RetentionPolicy:
    """How long each kind of personal data is kept, in days (domain.md §7 defaults)."""

    pii_days: int = 730
    file_days: int = 90
    login_days: int = 90
    reveal_days: int = 1095
    upload_stale_hours: float = 24

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> RetentionPolicy:
        """The periods set by TRACKER_PII_RETENTION_DAYS, _FILE_, _LOGIN_ and _REVEAL_RETENTION_DAYS."""
        policy = cls(
            int(config["PII_RETENTION_DAYS"]),
            int(config["FILE_RETENTION_DAYS"]),
            int(config["LOGIN_RETENTION_DAYS"]),
            int(config["REVEAL_RETENTION_DAYS"]),
            float(config.get("UPLOAD_STALE_HOURS", 24)),
        )
        for name, days in vars(policy).items():
            if name == "upload_stale_hours":
                if days <= 0:
                    raise RetentionError(f"TRACKER_UPLOAD_STALE_HOURS 为 {days:g} 小时：应大于 0")
                continue
            if days < 1:
                raise RetentionError(f"保留期限 {name} 为 {days} 天：至少应为 1 天")
        floor = PURGEABLE_AFTER["phone_reveal"][1]
        if policy.reveal_days < floor:
            raise RetentionError(
                f"TRACKER_REVEAL_RETENTION_DAYS 为 {policy.reveal_days} 天："
                f"查看号码记录至少保留 {floor} 天（数据库拒绝更早删除）"
            )
        return policy


class RetentionError(TrackerError):
    """A retention setting that cannot be used."""


@dataclass
class RetentionResult:
    """What a run did (or, dry, would do)."""

    dry_run: bool
    orders: int = 0
    files: int = 0
    issue_values: int = 0
    upload_reports: int = 0
    login_attempts: int = 0
    sessions: int = 0
    phone_reveals: int = 0
    attachments: int = 0
    notes: int = 0
    stale_uploads: int = 0
    removed_files: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """The counts, for the job run's record."""
        return {
            "orders": self.orders,
            "files": self.files,
            "issue_values": self.issue_values,
            "upload_reports": self.upload_reports,
            "login_attempts": self.login_attempts,
            "sessions": self.sessions,
            "phone_reveals": self.phone_reveals,
            "attachments": self.attachments,
            "notes": self.notes,
            "stale_uploads": self.stale_uploads,
        }

    def summary(self) -> str:
        """One line in Chinese."""
        verb = "将" if self.dry_run else "已"
        return (
            f"个人信息保留期限：{verb}匿名化工单 {self.orders} 件，{verb}删除原始导出文件 {self.files} 个、"
            f"清除导入问题行原值 {self.issue_values} 条和试导入报告 {self.upload_reports} 份，"
            f"{verb}删除登录记录 {self.login_attempts} 条、过期会话 {self.sessions} 个、"
            f"查看号码记录 {self.phone_reveals} 条，{verb}删除附件文件 {self.attachments} 个、"
            f"脱敏备注 {self.notes} 条；{verb}放弃超时未确认的上传 {self.stale_uploads} 个"
        )


def _scrub(value: Any) -> Any:
    """A JSON value with mobile numbers masked and raw cell values (``value`` keys) blanked."""
    if isinstance(value, str):
        return mask_phones_in_text(value)
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    if isinstance(value, dict):
        return {k: ("" if k == "value" else _scrub(v)) for k, v in value.items()}
    return value


def _due_orders(session: Session, cutoff: datetime) -> Iterator[list[Order]]:
    query = (
        select(Order)
        .where(
            Order.state == State.CLOSED.value,
            col(Order.closed_at) < cutoff,
            col(Order.anonymised_at).is_(None),
        )
        .order_by(col(Order.id))
        .limit(BATCH)
    )
    last = 0
    while True:
        rows = list(session.exec(query.where(col(Order.id) > last)).all())
        if not rows:
            return
        yield rows
        last = rows[-1].id or last


def _old_files(folder: Path, cutoff: datetime) -> list[Path]:
    if not folder.is_dir():
        return []
    limit = cutoff.timestamp()
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.stat().st_mtime < limit)


def _attachments_due(session: Session, file_cutoff: datetime) -> list[OrderAttachment]:
    """Attachments whose files go now: those of anonymised orders that no pending spot-check review still
    needs, and those withdrawn before ``file_cutoff``."""
    under_review = select(SampleItem.order_id).where(
        col(SampleItem.reviewed_at).is_(None), col(SampleItem.removed_at).is_(None)
    )
    anonymised = select(Order.id).where(col(Order.anonymised_at).is_not(None), col(Order.id).not_in(under_review))
    query = select(OrderAttachment).where(
        col(OrderAttachment.purged_at).is_(None),
        col(OrderAttachment.order_id).in_(anonymised) | (col(OrderAttachment.removed_at) < file_cutoff),
    )
    return list(session.exec(query.order_by(col(OrderAttachment.id))).all())


def _notes_due(session: Session) -> list[OrderNote]:
    anonymised = select(Order.id).where(col(Order.anonymised_at).is_not(None))
    notes = session.exec(select(OrderNote).where(col(OrderNote.order_id).in_(anonymised))).all()
    return [note for note in notes if mask_phones_in_text(note.text) != note.text]


def run_retention(
    session: Session,
    *,
    now: datetime,
    policy: RetentionPolicy,
    folders: list[Path],
    dry_run: bool = False,
    attachment_dir: Path | None = None,
) -> RetentionResult:
    """Apply ``policy`` as of ``now``; with ``dry_run`` count only. Flushes, never commits; files go last.

    ``attachment_dir`` is where order attachments are kept (their rule is in the module docstring).
    """
    result = RetentionResult(dry_run=dry_run)
    pii_cutoff = now - timedelta(days=policy.pii_days)
    for rows in _due_orders(session, pii_cutoff):
        result.orders += len(rows)
        if dry_run:
            continue
        for order in rows:
            for name in PERSONAL_FIELDS:
                setattr(order, name, None)
            for name in TEXT_FIELDS:
                text = getattr(order, name)
                if text:
                    setattr(order, name, mask_phones_in_text(text))
            order.extras = _scrub(order.extras)
            order.anonymised_at = now
        session.flush()

    result.stale_uploads, stale_names = import_uploads.discard_stale_uploads(
        session, now=now, older_than=timedelta(hours=policy.upload_stale_hours), dry_run=dry_run
    )
    stale_files = [folder / name for folder in folders for name in stale_names if (folder / name).is_file()]

    file_cutoff = now - timedelta(days=policy.file_days)
    old_batches = select(ImportBatch.id).where(col(ImportBatch.started_at) < file_cutoff)
    issues = session.exec(
        select(ImportIssue).where(col(ImportIssue.batch_id).in_(old_batches), ImportIssue.value != "")
    ).all()
    result.issue_values = len(issues)
    uploads = session.exec(
        select(ImportUpload).where(col(ImportUpload.uploaded_at) < file_cutoff, ImportUpload.status != "discarded")
    ).all()
    reports = [u for u in uploads if u.dry_run and _scrub(u.dry_run) != u.dry_run]
    result.upload_reports = len(reports)
    if not dry_run:
        for issue in issues:
            issue.value = ""
        for upload in reports:
            upload.dry_run = _scrub(upload.dry_run)
        for upload in uploads:
            if upload.status == "checked":  # never committed in 90 days: the file goes, so the upload cannot be
                upload.status = "discarded"

    login_cutoff = now - timedelta(days=policy.login_days)
    purges = (
        (LoginAttempt, col(LoginAttempt.at) < login_cutoff, "login_attempts"),
        (UserSession, col(UserSession.expires_at) < login_cutoff, "sessions"),
        (PhoneReveal, col(PhoneReveal.at) < now - timedelta(days=policy.reveal_days), "phone_reveals"),
    )
    for model, condition, name in purges:
        setattr(result, name, session.exec(select(func.count()).select_from(model).where(condition)).one())
        if not dry_run:
            session.execute(delete(model).where(condition))
    session.flush()

    attachment_files: list[Path] = []
    if not dry_run:
        session.flush()  # the orders anonymised above count for their attachments and notes
    due = _attachments_due(session, file_cutoff)
    for attachment in due:
        # a dry run counts the attachments of orders it would anonymise only from the next real run on
        if attachment_dir is not None:
            names = (attachment.stored_name, attachment.thumbnail_name)
            attachment_files.extend(attachment_dir / name for name in names if name)
        if not dry_run:
            attachment.purged_at = now
            attachment.original_name = f"附件{attachment.id}"
    result.attachments = len(due)
    notes = _notes_due(session)
    result.notes = len(notes)
    if not dry_run:
        for note in notes:
            note.text = mask_phones_in_text(note.text)
    session.flush()

    old = [p for folder in folders for p in _old_files(folder, file_cutoff)]
    old += [p for p in stale_files if p not in old]
    result.files = len(old)
    result.removed_files = [str(p) for p in old]
    result.removed_files += [str(p) for p in attachment_files]
    if not dry_run:
        for path in old:  # last: a raw file is only a copy, and a rerun finds what a failed run left
            path.unlink(missing_ok=True)
        for path in attachment_files:  # the rows say purged; a file that cannot be removed is retried by no one
            path.unlink(missing_ok=True)
    return result


def retention_job(policy: RetentionPolicy, folders: list[Path], attachment_dir: Path | None = None) -> JobFunc:
    """The scheduler's (and ``retention run``'s) job: apply ``policy``, recorded as a job run."""

    def run(session: Session, *, now: datetime) -> JobResult:
        result = run_retention(session, now=now, policy=policy, folders=folders, attachment_dir=attachment_dir)
        return JobResult(result.summary(), result.counts())

    return run
