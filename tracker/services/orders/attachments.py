"""Attachments on an order: photos (JPEG, PNG, HEIC) and PDF, checked by content, stored under generated names.

An image is opened by Pillow whatever its name says; its size in pixels is checked before it is decoded
(a decompression bomb is refused from its header), then it is re-encoded without any EXIF, so the GPS
position never reaches the disk (the capture time is kept in ``captured_at``) and nothing hidden in the
original bytes survives. HEIC is decoded by pillow-heif and stored as JPEG. A PDF is recognised by its
``%PDF-`` header and kept byte for byte: it is only ever served as a download, never shown inline.

Files live under ``<folder>/<2 hex>/<32 hex>.<ext>``; a thumbnail (JPEG, at most 320 px) is made once at
upload. Adding writes the files first and the row and its 添加附件 event after; the caller removes the
written files (:func:`discard_files`) when its transaction does not commit. A withdrawn attachment keeps
its file until retention (services/operations/retention.py).
"""

from __future__ import annotations

import hashlib
import io
import os
import secrets
import tempfile
import unicodedata
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

from PIL import Image, ImageOps
from sqlmodel import Session, col, select

from tracker.domain.errors import TrackerError
from tracker.domain.labels import ATTACHMENT_PURPOSES
from tracker.domain.sizes import format_size
from tracker.domain.vocabulary import Action
from tracker.models import Order, OrderAttachment
from tracker.services.orders.actions import Context, record_event

try:  # a maintained HEIF decoder from PyPI; without it HEIC is refused with a clear message
    from pillow_heif import register_heif_opener

    register_heif_opener()
    HEIC_SUPPORTED = True
except ImportError:  # pragma: no cover - the pinned requirements install it
    HEIC_SUPPORTED = False

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
JPEG, PNG, PDF = "image/jpeg", "image/png", "application/pdf"
EXTENSIONS = {JPEG: ".jpg", PNG: ".png", PDF: ".pdf"}
KIND_LABELS = {JPEG: "JPEG 照片", PNG: "PNG 图片", PDF: "PDF 文件"}
FORMATS = {"JPEG": JPEG, "MPO": JPEG, "PNG": PNG, "HEIF": JPEG}  # what Pillow found → what is stored
HEIF_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1", b"avif")
THUMBNAIL_PX = 320
NAME_MAX = 100
UNSAFE_NAME_CHARS = str.maketrans({c: "_" for c in '<>:"/\\|?*'})
EXIF_IFD, DATETIME, DATETIME_ORIGINAL, OFFSET_ORIGINAL = 0x8769, 0x0132, 0x9003, 0x9011


class AttachmentRefused(TrackerError):
    """A file that is not stored (the message names the file and the reason), or a refused withdrawal."""


@dataclass(frozen=True)
class AttachmentLimits:
    """How large an attachment may be, and how long its uploader may withdraw it."""

    max_bytes: int = 15 * 1024 * 1024
    max_pixels: int = 50_000_000
    max_files: int = 4
    removal_window: timedelta = timedelta(minutes=30)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> AttachmentLimits:
        """The limits set by TRACKER_ATTACHMENT_MAX_BYTES, _MAX_PIXELS, _MAX_FILES and _REMOVAL_MINUTES."""
        return cls(
            int(config.get("ATTACHMENT_MAX_BYTES", cls.max_bytes)),
            int(config.get("ATTACHMENT_MAX_PIXELS", cls.max_pixels)),
            int(config.get("ATTACHMENT_MAX_FILES", cls.max_files)),
            timedelta(minutes=float(config.get("ATTACHMENT_REMOVAL_MINUTES", 30))),
        )


@dataclass(frozen=True)
class Upload:
    """A file as it arrived: the name the sender gave it and its bytes (a stream, read once)."""

    name: str
    stream: IO[bytes]


@dataclass(frozen=True)
class Checked:
    """A file that passed the checks, ready to be written: the stored bytes and what is known about it."""

    original_name: str
    content_type: str
    content: bytes
    thumbnail: bytes | None
    width: int | None
    height: int | None
    captured_at: datetime | None


def display_name(raw: str) -> str:
    """The sender's file name made safe to show: last path part, no control or layout characters, short."""
    name = unicodedata.normalize("NFC", raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")  # controls, bidi overrides
    name = name.translate(UNSAFE_NAME_CHARS).strip().lstrip(".").strip()
    if len(name) > NAME_MAX:
        stem, dot, suffix = name.rpartition(".")
        name = f"{stem[: NAME_MAX - len(suffix) - 2]}….{suffix}" if dot and len(suffix) <= 8 else name[:NAME_MAX]
    return name or "未命名文件"


def _read(upload: Upload, name: str, limits: AttachmentLimits) -> bytes:
    content = upload.stream.read(limits.max_bytes + 1)
    if len(content) > limits.max_bytes:
        rest = len(content) + sum(len(chunk) for chunk in iter(lambda: upload.stream.read(1 << 20), b""))
        raise AttachmentRefused(
            f"附件「{name}」大小为 {format_size(rest)}，超过每个文件的上限 {format_size(limits.max_bytes)}，"
            "未保存；请压缩照片或改小分辨率后再上传"
        )
    if not content:
        raise AttachmentRefused(f"附件「{name}」是空文件（0 字节），未保存")
    return content


def _captured_at(image: Image.Image) -> datetime | None:
    """When the photo was taken, from EXIF (DateTimeOriginal, else DateTime); local time unless an offset is given."""
    try:
        exif = image.getexif()
        details = exif.get_ifd(EXIF_IFD)
        text = details.get(DATETIME_ORIGINAL) or exif.get(DATETIME)
        if not isinstance(text, str):
            return None
        moment = datetime.strptime(text.strip("\x00 ")[:19], "%Y:%m:%d %H:%M:%S")
        offset = details.get(OFFSET_ORIGINAL)
        if isinstance(offset, str) and len(offset.strip("\x00 ")) == 6:
            return datetime.fromisoformat(moment.isoformat() + offset.strip("\x00 "))
        return moment.replace(tzinfo=LOCAL_TZ)
    except (ValueError, TypeError, KeyError, OSError, SyntaxError):
        return None  # a broken EXIF block costs the capture time, not the photo


def _is_heif(content: bytes) -> bool:
    return content[4:8] == b"ftyp" and content[8:12] in HEIF_BRANDS


def _encode(image: Image.Image, content_type: str, *, quality: int = 90) -> bytes:
    """Fresh bytes from the decoded pixels only: no EXIF, XMP, comments or text chunks are written."""
    out = io.BytesIO()
    if content_type == PNG:
        image.save(out, format="PNG", optimize=False)
    else:
        if image.mode not in ("RGB", "L"):
            image = image.convert("RGB")
        image.save(out, format="JPEG", quality=quality)
    return out.getvalue()


def _image(name: str, content: bytes, limits: AttachmentLimits) -> Checked:
    refused = f"附件「{name}」"
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(content))
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise AttachmentRefused(
                f"{refused}的像素尺寸过大（疑似“解压炸弹”），超过上限 {limits.max_pixels:,} 像素，未保存"
            ) from None
        except (OSError, SyntaxError, ValueError):
            if _is_heif(content):
                raise AttachmentRefused(
                    f"{refused}是 HEIC 照片，本系统无法读取；请在手机上改用 JPEG 格式拍摄或导出后再上传"
                ) from None
            raise AttachmentRefused(
                f"{refused}不是可识别的照片（JPEG、PNG、HEIC）或 PDF 文件（按文件内容检查，与文件名无关），未保存"
            ) from None
        fmt = image.format or ""
        if fmt not in FORMATS:
            raise AttachmentRefused(
                f"{refused}是 {fmt or '未知'} 格式的图片；只接受 JPEG、PNG、HEIC 照片和 PDF 文件，未保存"
            )
        width, height = image.size
        if width * height > limits.max_pixels:
            raise AttachmentRefused(
                f"{refused}为 {width}×{height} 像素，超过上限 {limits.max_pixels:,} 像素"
                "（疑似“解压炸弹”或超大图片），未保存"
            )
        try:
            image.load()
            captured_at = _captured_at(image)
            upright = ImageOps.exif_transpose(image)
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise AttachmentRefused(f"{refused}已损坏或不完整，无法读取图片内容，未保存") from None
    content_type = FORMATS[fmt]
    try:
        if upright.mode not in ("RGB", "RGBA", "L", "LA", "P", "1", "I;16"):
            upright = upright.convert("RGBA" if content_type == PNG else "RGB")
        clean = upright.copy()
        # nothing of the original's metadata reaches the stored file (a palette's transparency is not metadata)
        clean.info = {"transparency": upright.info["transparency"]} if "transparency" in upright.info else {}
        thumb = clean.convert("RGB") if clean.mode != "RGB" else clean.copy()
        thumb.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX))
        content, thumbnail = _encode(clean, content_type), _encode(thumb, JPEG, quality=80)
    except (OSError, ValueError) as exc:
        raise AttachmentRefused(
            f"{refused}的颜色格式（{upright.mode}）无法处理：{exc}；请另存为普通 JPEG 后再上传"
        ) from None
    return Checked(
        original_name=name,
        content_type=content_type,
        content=content,
        thumbnail=thumbnail,
        width=clean.width,
        height=clean.height,
        captured_at=captured_at,
    )


def check_upload(upload: Upload, limits: AttachmentLimits) -> Checked:
    """Read and check one file by its content; raises :class:`AttachmentRefused` naming the file and the reason."""
    name = display_name(upload.name)
    content = _read(upload, name, limits)
    if content.startswith(b"%PDF-"):  # kept as sent (scripts included): it is only ever downloaded
        return Checked(name, PDF, content, None, None, None, None)
    return _image(name, content, limits)


def _id(order: Order) -> int:
    assert order.id is not None, "a stored order"
    return order.id


def _write(folder: Path, name: str, content: bytes) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".part-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(content)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)  # a half-written file never carries the final name
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def add_attachments(
    session: Session,
    *,
    order: Order,
    uploads: list[Upload],
    purpose: str,
    folder: Path,
    limits: AttachmentLimits,
    ctx: Context,
) -> tuple[list[OrderAttachment], list[Path]]:
    """Check every file first, then store them with one 添加附件 event each; flushes.

    Returns the rows and the files written (for :func:`discard_files` if the transaction is rolled back).
    One refused file refuses the whole post: nothing is written.
    """
    if purpose not in ATTACHMENT_PURPOSES:
        choices = " / ".join(ATTACHMENT_PURPOSES.values())
        raise AttachmentRefused(f"附件用途「{purpose[:20]}」不在可选范围内（{choices}）")
    if order.anonymised_at is not None:
        raise AttachmentRefused("该工单的个人信息已按保留期限删除，不能再添加附件")
    if len(uploads) > limits.max_files:
        raise AttachmentRefused(f"一次最多上传 {limits.max_files} 个附件（本次 {len(uploads)} 个），未保存")
    checked = [check_upload(upload, limits) for upload in uploads]
    rows: list[OrderAttachment] = []
    written: list[Path] = []
    try:
        for item in checked:
            token = secrets.token_hex(16)
            stored = f"{token[:2]}/{token}{EXTENSIONS[item.content_type]}"
            written.append(_write(folder, stored, item.content))
            thumb = None
            if item.thumbnail is not None:
                thumb = f"{token[:2]}/{token}.thumb.jpg"
                written.append(_write(folder, thumb, item.thumbnail))
            row = OrderAttachment(
                order_id=_id(order),
                stored_name=stored,
                thumbnail_name=thumb,
                original_name=item.original_name,
                content_type=item.content_type,
                size=len(item.content),
                sha256=hashlib.sha256(item.content).hexdigest(),
                width=item.width,
                height=item.height,
                purpose=purpose,
                captured_at=item.captured_at,
                uploaded_by=ctx.actor.id,
                uploaded_by_name=ctx.actor.name,
                uploaded_at=ctx.now,
            )
            session.add(row)
            session.flush()
            note = (
                f"附件「{item.original_name}」（{KIND_LABELS[item.content_type]}，{format_size(row.size)}，"
                f"用途：{ATTACHMENT_PURPOSES[purpose]}，编号 {row.id}）"
            )
            record_event(session, order=order, action=Action.ATTACH, ctx=ctx, note=note)
            rows.append(row)
    except BaseException:
        discard_files(written)
        raise
    return rows, written


def discard_files(paths: list[Path]) -> None:
    """Remove files written for a transaction that did not commit."""
    for path in paths:
        path.unlink(missing_ok=True)


def order_attachments(session: Session, order: Order) -> list[OrderAttachment]:
    """The order's attachments, oldest first (withdrawn ones included; the page shows them as such)."""
    query = select(OrderAttachment).where(OrderAttachment.order_id == order.id).order_by(col(OrderAttachment.id))
    return list(session.exec(query).all())


def find_attachment(session: Session, *, order: Order, attachment_id: int) -> OrderAttachment | None:
    """The attachment with this id if it belongs to this order; None otherwise (a mismatched pair is not found)."""
    query = select(OrderAttachment).where(OrderAttachment.id == attachment_id, OrderAttachment.order_id == order.id)
    return session.exec(query).first()


def attachment_file(folder: Path, attachment: OrderAttachment, *, thumbnail: bool = False) -> Path | None:
    """Where the attachment's file (or thumbnail) is on disk, if it is still there."""
    name = attachment.thumbnail_name if thumbnail else attachment.stored_name
    if not name or attachment.purged_at is not None:
        return None
    path = folder / name
    return path if path.is_file() else None


def may_withdraw(
    attachment: OrderAttachment, *, actor_id: str, is_admin: bool, now: datetime, window: timedelta
) -> bool:
    """Whether this person may withdraw the attachment now: its uploader within the window, an administrator always."""
    if attachment.removed_at is not None:
        return False
    return is_admin or (attachment.uploaded_by == actor_id and now - attachment.uploaded_at <= window)


def remove_attachment(
    session: Session,
    *,
    order: Order,
    attachment: OrderAttachment,
    reason: str,
    is_admin: bool,
    limits: AttachmentLimits,
    ctx: Context,
) -> None:
    """Withdraw an attachment with a reason and a 移除附件 event; the file stays until retention. Flushes."""
    reason = reason.strip()
    if attachment.removed_at is not None:
        raise AttachmentRefused(f"附件「{attachment.original_name}」已于此前移除")
    window = limits.removal_window
    if not may_withdraw(attachment, actor_id=ctx.actor.id, is_admin=is_admin, now=ctx.now, window=window):
        minutes = int(limits.removal_window.total_seconds() // 60)
        raise AttachmentRefused(
            f"附件「{attachment.original_name}」只能由上传人在上传后 {minutes} 分钟内移除，之后须由管理员移除"
        )
    if len(reason) < 2:
        raise AttachmentRefused("请填写移除附件的理由（至少 2 个字）")
    if len(reason) > 500:
        raise AttachmentRefused(f"移除理由过长（{len(reason)} 字，最多 500 字）")
    attachment.removed_at = ctx.now
    attachment.removed_by = ctx.actor.id
    attachment.removed_reason = reason
    session.add(attachment)
    note = f"移除附件「{attachment.original_name}」（编号 {attachment.id}）：{reason}"
    record_event(session, order=order, action=Action.DETACH, ctx=ctx, note=note)
