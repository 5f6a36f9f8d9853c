"""Attachments and notes on an order: add photos or PDFs, download them, see thumbnails, withdraw one, write a 备注.

Every route reaches the attachment through its order and the viewer's scope: another street's order, an
attachment of another order, and a missing id all answer the same 404. Files are downloaded with
``Content-Disposition: attachment`` (a PDF with scripts is never shown inline); only the thumbnails we
made ourselves are shown in the page.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, request, send_file, url_for
from werkzeug.datastructures import FileStorage
from werkzeug.wrappers import Response

from tracker.db import begin_write, get_session
from tracker.domain.errors import TrackerError
from tracker.domain.labels import ATTACHMENT_PURPOSES
from tracker.domain.roles import Role, is_district_wide
from tracker.models import Order, OrderAttachment, utcnow
from tracker.services.accounts import Actor, visible_order
from tracker.services.orders import (
    HEIC_SUPPORTED,
    NOTE_MAX_CHARS,
    AttachmentLimits,
    Context,
    Upload,
    add_attachments,
    add_note,
    attachment_file,
    discard_files,
    find_attachment,
    load_calendar,
    may_withdraw,
    order_attachments,
    order_notes,
    remove_attachment,
    rule_table,
)
from tracker.web.auth import viewer

bp = Blueprint("attachments", __name__, template_folder="templates")
__all__ = ["bp", "discard_files", "evidence", "store_with_action"]


def limits() -> AttachmentLimits:
    """The attachment limits configured for this app."""
    return AttachmentLimits.from_config(current_app.config)


def folder() -> Path:
    """Where attachment files are kept (instance/attachments unless TRACKER_ATTACHMENT_DIR says otherwise)."""
    return Path(current_app.config.get("ATTACHMENT_DIR") or Path(current_app.instance_path) / "attachments")


def posted_files() -> list[Upload]:
    """The files of the post's ``files`` inputs (camera and file chooser), empty inputs left out."""
    files: list[FileStorage] = request.files.getlist("files")
    return [Upload(f.filename or "", f.stream) for f in files if f.filename]


def _context() -> Context:
    db = get_session()
    me = viewer()
    actor = Actor(id=f"user:{me.user_id}", name=me.label, source="web")
    return Context(actor, utcnow(), load_calendar(db), rule_table(db))


def store_with_action(order: Order, purpose: str, ctx: Context) -> tuple[int, list[Path]]:
    """Store the post's files with an action being recorded in the same transaction: how many, the files written."""
    uploads = posted_files()
    if not uploads:
        return 0, []
    rows, written = add_attachments(
        get_session(), order=order, uploads=uploads, purpose=purpose, folder=folder(), limits=limits(), ctx=ctx
    )
    return len(rows), written


def evidence(order: Order) -> dict[str, Any]:
    """What the order page and the spot-check review show of an order's attachments and notes."""
    db = get_session()
    me = viewer()
    window = limits().removal_window
    now = utcnow()
    actor_id = f"user:{me.user_id}"
    rows = order_attachments(db, order)
    return {
        "attachments": [a for a in rows if a.removed_at is None],
        "withdrawn": [a for a in rows if a.removed_at is not None],
        "withdrawable": {
            a.id
            for a in rows
            if may_withdraw(a, actor_id=actor_id, is_admin=me.role is Role.ADMIN, now=now, window=window)
        },
        "notes": order_notes(db, order),
        "note_max": NOTE_MAX_CHARS,
        "purposes": ATTACHMENT_PURPOSES,
        "heic_supported": HEIC_SUPPORTED,
        "attachment_limit_mb": limits().max_bytes // (1024 * 1024),
        "attachment_max_files": limits().max_files,
    }


def _order_or_404(order_id: int, *, for_update: bool = False) -> Order:
    order = visible_order(get_session(), viewer(), order_id, for_update=for_update)
    if order is None:
        abort(404)
    return order


def _attachment_or_404(order: Order, attachment_id: int) -> OrderAttachment:
    found = find_attachment(get_session(), order=order, attachment_id=attachment_id)
    if found is None:
        abort(404)
    if found.removed_at is not None and not is_district_wide(viewer().role):
        abort(404)  # a withdrawn file stays on disk for the bureau, not for the squads
    return found


def _back(order_id: int) -> Response:
    return redirect(url_for("orders.detail", order_id=order_id) + "#attachments")


@bp.post("/orders/<int:order_id>/attachments")
def add(order_id: int) -> Response:
    """添加附件（照片、PDF），可不随任何操作单独上传。"""
    db = get_session()
    begin_write(db)
    order = _order_or_404(order_id, for_update=True)
    uploads = posted_files()
    if not uploads:
        db.rollback()
        flash("添加附件未完成：请选择或拍摄至少一个文件", "error")
        return _back(order_id)
    written: list[Path] = []
    try:
        rows, written = add_attachments(
            db,
            order=order,
            uploads=uploads,
            purpose=request.form.get("purpose", "other"),
            folder=folder(),
            limits=limits(),
            ctx=_context(),
        )
        db.commit()
    except TrackerError as exc:
        db.rollback()
        discard_files(written)
        flash(f"添加附件未完成：{exc.message}", "error")
        return _back(order_id)
    except BaseException:
        db.rollback()
        discard_files(written)
        raise
    flash(f"已添加 {len(rows)} 个附件。")
    return _back(order_id)


def _send(order_id: int, attachment_id: int, *, thumbnail: bool) -> Response:
    order = _order_or_404(order_id)
    found = _attachment_or_404(order, attachment_id)
    path = attachment_file(folder(), found, thumbnail=thumbnail)
    if path is None:
        abort(404)
    if thumbnail:
        response = send_file(path, mimetype="image/jpeg", max_age=0)
    else:
        response = send_file(
            path, mimetype=found.content_type, as_attachment=True, download_name=found.original_name, max_age=0
        )
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.get("/orders/<int:order_id>/attachments/<int:attachment_id>")
def download(order_id: int, attachment_id: int) -> Response:
    """下载附件（一律作为下载文件，不在浏览器内打开）。"""
    return _send(order_id, attachment_id, thumbnail=False)


@bp.get("/orders/<int:order_id>/attachments/<int:attachment_id>/thumbnail")
def thumbnail(order_id: int, attachment_id: int) -> Response:
    """附件缩略图（上传时生成的 JPEG；PDF 没有缩略图）。"""
    return _send(order_id, attachment_id, thumbnail=True)


@bp.post("/orders/<int:order_id>/attachments/<int:attachment_id>/remove")
def remove(order_id: int, attachment_id: int) -> Response:
    """移除附件：上传人在上传后短时间内、管理员随时，须填写理由；文件保留到保留期限。"""
    db = get_session()
    begin_write(db)
    order = _order_or_404(order_id, for_update=True)
    found = _attachment_or_404(order, attachment_id)
    try:
        remove_attachment(
            db,
            order=order,
            attachment=found,
            reason=request.form.get("reason", ""),
            is_admin=viewer().role is Role.ADMIN,
            limits=limits(),
            ctx=_context(),
        )
    except TrackerError as exc:
        db.rollback()
        flash(f"移除附件未完成：{exc.message}", "error")
        return _back(order_id)
    db.commit()
    flash(f"已移除附件「{found.original_name}」。")
    return _back(order_id)


@bp.post("/orders/<int:order_id>/notes")
def note(order_id: int) -> Response:
    """写备注：不改变工单状态，记入操作记录，能看到该工单的人都能看到。"""
    db = get_session()
    begin_write(db)
    order = _order_or_404(order_id, for_update=True)
    try:
        add_note(db, order=order, text=request.form.get("text", ""), ctx=_context())
    except TrackerError as exc:
        db.rollback()
        flash(f"备注未保存：{exc.message}", "error")
        return redirect(url_for("orders.detail", order_id=order_id) + "#notes")
    db.commit()
    flash("已保存备注。")
    return redirect(url_for("orders.detail", order_id=order_id) + "#notes")
