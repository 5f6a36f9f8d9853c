"""Import pages: upload an export, see the dry run, commit it; batch history and reports."""

from __future__ import annotations

from datetime import timedelta
from io import BytesIO
from pathlib import Path

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from tracker.db import begin_write, get_session
from tracker.domain.roles import Role
from tracker.models import ImportUpload, utcnow
from tracker.services.accounts import export_log
from tracker.services.imports import Limits, uploads
from tracker.web import csv_download
from tracker.web.auth import requires, viewer
from tracker.web.orders import actor_of_viewer

bp = Blueprint("imports", __name__, template_folder="templates", url_prefix="/imports")
REJECTED_SHEETS = ("汇总", "明细")  # the sheets of the batch report (services.imports.report_sheets)
REJECTED_CSV_SHEET = "明细"  # the CSV of a batch report is its detail sheet (the rejected, conflicting, skipped rows)


def upload_folder() -> Path:
    """Where uploads are kept: UPLOAD_DIR, else instance/uploads."""
    return Path(current_app.config.get("UPLOAD_DIR") or Path(current_app.instance_path) / "uploads")


def settings() -> uploads.ImportSettings:
    """The signed-in clerk, now, and the configured limits and repeat window."""
    return uploads.ImportSettings(
        actor=actor_of_viewer(),
        now=utcnow(),
        limits=Limits.from_config(current_app.config),
        repeat_window=timedelta(days=current_app.config["REPEAT_WINDOW_DAYS"]),
    )


def stale_after() -> timedelta:
    """How long an upload may wait for 确认导入 before it is discarded (TRACKER_UPLOAD_STALE_HOURS).

    The clerk's next upload discards older ones; the nightly retention job catches the days without one.
    """
    return timedelta(hours=float(current_app.config["UPLOAD_STALE_HOURS"]))


def _index(error: str | None = None, profile: str | None = None) -> str:
    db = get_session()
    default = uploads.default_profile(
        db, actor_id=actor_of_viewer().id, configured=str(current_app.config.get("DEFAULT_PROFILE") or "")
    )
    return render_template(
        "imports/index.html",
        profiles=uploads.profile_choices(),
        pending=uploads.pending_uploads(db),
        batches=uploads.recent_batches(db),
        error=error,
        chosen=default.name if profile is None else profile,
        default=default,
        stale_hours=stale_after().total_seconds() / 3600,
        max_mb=(current_app.config.get("MAX_CONTENT_LENGTH") or 0) // (1024 * 1024),
    )


def _upload_page(record: ImportUpload, *, error: str | None = None) -> str:
    return render_template(
        "imports/upload.html",
        u=record,
        listed=uploads.LISTED_ISSUES,
        error=error,
        profiles=uploads.profile_choices(),
        may_choose=uploads.may_choose_profile(record),
    )


def _upload_or_404(upload_id: int, *, for_update: bool = False) -> ImportUpload:
    found = uploads.get_upload(get_session(), upload_id, for_update=for_update)
    if found is None:
        abort(404)
    return found


@bp.get("/")
@requires(Role.ADMIN)
def index() -> str:
    """导入：上传导出文件，待确认的上传，导入批次记录。"""
    return _index()


@bp.post("/uploads")
@requires(Role.ADMIN)
def upload() -> Response | tuple[str, int]:
    """上传导出文件并立即试导入（不保存任何工单改动）。"""
    db = get_session()
    file = request.files.get("file")
    profile = request.form.get("profile", "").strip()
    try:  # takes the write lock itself, only while it writes (on SQLite the dry run plans first)
        record = uploads.receive_upload(
            db,
            stream=file.stream if file else BytesIO(),
            original_name=file.filename if file else None,
            profile=profile,
            folder=upload_folder(),
            settings=settings(),
        )
    except uploads.UploadRefused as exc:
        db.rollback()
        return _index(error=exc.message, profile=profile), 422
    _, stale = uploads.discard_stale_uploads(db, now=utcnow(), older_than=stale_after())  # under the lock
    db.commit()
    for name in stale:
        uploads.delete_stored(upload_folder(), name)
    return redirect(url_for("imports.upload_page", upload_id=record.id), code=303)


@bp.post("/uploads/<int:upload_id>/profile")
@requires(Role.ADMIN)
def choose_profile(upload_id: int) -> Response | tuple[str, int]:
    """用选定的导入配置对同一个已上传的文件重新试导入（无需再次上传）。"""
    db = get_session()
    begin_write(db)
    record = _upload_or_404(upload_id, for_update=True)
    try:
        uploads.retry_upload(
            db,
            upload=record,
            profile=request.form.get("profile", "").strip(),
            folder=upload_folder(),
            settings=settings(),
        )
    except uploads.UploadRefused as exc:
        db.rollback()
        return _upload_page(_upload_or_404(upload_id), error=exc.message), 422
    db.commit()
    return redirect(url_for("imports.upload_page", upload_id=upload_id), code=303)


@bp.get("/uploads/<int:upload_id>")
@requires(Role.ADMIN)
def upload_page(upload_id: int) -> str:
    """一次上传的试导入报告。"""
    return _upload_page(_upload_or_404(upload_id))


@bp.post("/uploads/<int:upload_id>/commit")
@requires(Role.ADMIN)
def commit(upload_id: int) -> Response | tuple[str, int]:
    """确认导入：按试导入的文件正式导入。"""
    db = get_session()
    begin_write(db)
    record = _upload_or_404(upload_id, for_update=True)
    try:
        report = uploads.commit_upload(db, upload=record, folder=upload_folder(), settings=settings())
    except uploads.UploadRefused as exc:
        db.rollback()
        return _upload_page(_upload_or_404(upload_id), error=exc.message), 422
    db.commit()
    flash(f"已导入。{report.summary()}")
    return redirect(url_for("imports.batch_page", batch=report.batch), code=303)


@bp.post("/uploads/<int:upload_id>/discard")
@requires(Role.ADMIN)
def discard(upload_id: int) -> Response | tuple[str, int]:
    """放弃本次上传，删除服务器上保存的文件。"""
    db = get_session()
    begin_write(db)
    record = _upload_or_404(upload_id, for_update=True)
    try:
        stored = uploads.discard_upload(db, upload=record)
    except uploads.UploadRefused as exc:
        db.rollback()
        return _upload_page(_upload_or_404(upload_id), error=exc.message), 422
    db.commit()
    uploads.delete_stored(upload_folder(), stored)
    flash(f"已放弃上传的文件「{record.original_name}」，服务器上保存的文件已删除。")
    return redirect(url_for("imports.index"), code=303)


@bp.get("/batches/<batch>")
@requires(Role.ADMIN)
def batch_page(batch: str) -> str:
    """一个导入批次的报告：计数，拒绝、冲突的行及提示。"""
    view = uploads.batch_view(get_session(), batch)
    if view is None:
        abort(404)
    return render_template("imports/batch.html", b=view.batch, r=view.report, listed=uploads.LISTED_ISSUES)


@bp.get("/batches/<batch>/rejected.xlsx")
@requires(Role.ADMIN)
def rejected(batch: str) -> Response:
    """下载批次中被拒绝和冲突的行（Excel，以 = + - @ 开头的内容不会被当作公式）。"""
    view = uploads.batch_view(get_session(), batch)
    if view is None:
        abort(404)
    download = csv_download.prepare_sheets(REJECTED_SHEETS, default_sheet=REJECTED_CSV_SHEET)
    content = download.content(uploads.rejected_sheets(view), lambda: uploads.rejected_xlsx(view))
    row_count = len(view.report.rejected) + len(view.report.conflicts) + len(view.report.skipped)
    db = get_session()
    begin_write(db)
    export_log.record_export(
        db,
        viewer=viewer(),
        kind=export_log.KIND_IMPORT_REPORT,
        parameters=download.logged({"batch": batch, "file": view.batch.file_name}),
        row_count=row_count,
        masked=False,  # rejected rows are shown with their cells as the file had them
        now=utcnow(),
    )
    db.commit()
    return download.send(
        content,
        name=f"导入批次_{view.batch.batch}_拒绝与冲突",
        xlsx_mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
