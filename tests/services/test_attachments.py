"""Attachments and notes as services: content checks, stored bytes without GPS, thumbnails, withdrawal, retention."""

from __future__ import annotations

import hashlib
import io
from datetime import timedelta
from pathlib import Path

import pytest
from PIL import Image
from sqlmodel import Session, col, select

from tests.helpers import local
from tests.helpers_attachments import (
    GPS_IFD,
    PDF_WITH_JS,
    PHP,
    decompression_bomb_png,
    heic_photo,
    padded_photo,
    photo,
)
from tracker.domain.lifecycle import ActionInput
from tracker.domain.vocabulary import Action
from tracker.models import OrderAttachment, OrderEvent, OrderNote, SampleItem, SamplePlan
from tracker.services.accounts import Actor
from tracker.services.operations import RetentionPolicy, run_retention
from tracker.services.orders import (
    AttachmentLimits,
    AttachmentRefused,
    NoteRefused,
    Upload,
    add_attachments,
    add_note,
    apply_action,
    attachment_file,
    order_attachments,
    order_notes,
    remove_attachment,
)
from tracker.services.orders.attachments import display_name

LIMITS = AttachmentLimits()
ADMIN = Actor(id="user:1", name="管理员", source="web")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Where the attachments go (beside, not among, the test database's files)."""
    return tmp_path / "attachments"


def add(session: Session, order, folder: Path, make_ctx, *files: tuple[str, bytes], when: str = "2026-11-26 10:00"):  # type: ignore[no-untyped-def]
    uploads = [Upload(name, io.BytesIO(content)) for name, content in files]
    return add_attachments(
        session, order=order, uploads=uploads, purpose="first_contact", folder=folder, limits=LIMITS, ctx=make_ctx(when)
    )


def stored_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def events(session: Session, action: Action) -> list[OrderEvent]:
    return list(session.exec(select(OrderEvent).where(OrderEvent.action == action.value)).all())


def test_a_phone_photo_is_stored_without_gps_with_its_capture_time_and_a_thumbnail(
    session: Session, new_order, make_ctx, folder: Path
) -> None:  # type: ignore[no-untyped-def]
    order = new_order()
    original = photo(4000, 3000)
    (row,), written = add(session, order, folder, make_ctx, ("IMG_0001.JPG", original))
    session.commit()
    assert row.content_type == "image/jpeg" and (row.width, row.height) == (4000, 3000)
    assert row.captured_at == local("2026-11-25 14:30:05")  # EXIF local time, kept as a field
    stored = attachment_file(folder, row)
    assert stored is not None and stored in written and "IMG_0001" not in str(stored)
    content = stored.read_bytes()
    assert row.sha256 == hashlib.sha256(content).hexdigest() and row.size == len(content)
    assert dict(Image.open(stored).getexif().get_ifd(GPS_IFD)) == {}
    assert b"GPS" not in content and Image.open(io.BytesIO(original)).getexif().get_ifd(GPS_IFD)
    thumb = attachment_file(folder, row, thumbnail=True)
    assert thumb is not None and max(Image.open(thumb).size) == 320
    (event,) = events(session, Action.ATTACH)
    assert "IMG_0001.JPG" in event.note and event.state_before == event.state_after == order.state


def test_png_and_heic_are_read_by_content_and_heic_is_stored_as_jpeg(
    session: Session, new_order, make_ctx, folder: Path
) -> None:  # type: ignore[no-untyped-def]
    order = new_order()
    rows, _ = add(session, order, folder, make_ctx, ("plan.png", photo(fmt="PNG")), ("IMG_7.HEIC", heic_photo()))
    assert [r.content_type for r in rows] == ["image/png", "image/jpeg"]
    png = Image.open(attachment_file(folder, rows[0]))  # type: ignore[arg-type]
    assert dict(png.getexif()) == {} and rows[0].captured_at == local("2026-11-25 14:30:05")
    assert all(attachment_file(folder, r, thumbnail=True) for r in rows)
    assert Image.open(attachment_file(folder, rows[1])).format == "JPEG"  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("shell.jpg", PHP, "不是可识别的照片"),
        ("bomb.png", decompression_bomb_png(), "解压炸弹"),
        ("big.jpg", padded_photo(30 * 1024 * 1024), "超过每个文件的上限 15 MB"),
        ("empty.jpg", b"", "空文件"),
        ("half.jpg", photo()[:2000], "已损坏或不完整"),
        ("anim.gif", b"GIF89a" + b"\0" * 64, "不是可识别的照片"),
        ("IMG_1.HEIC", b"\0\0\0\x18ftypheic" + b"\0" * 64, "HEIC 照片，本系统无法读取"),
    ],
)
def test_bad_files_are_refused_by_name_and_nothing_is_written(
    session: Session, new_order, make_ctx, folder: Path, name: str, content: bytes, expected: str
) -> None:  # type: ignore[no-untyped-def]
    order = new_order()
    before = len(events(session, Action.ATTACH))
    with pytest.raises(AttachmentRefused) as refused:
        add(session, order, folder, make_ctx, ("good.jpg", photo()), (name, content))
    assert expected in refused.value.message and f"「{name}」" in refused.value.message
    assert stored_files(folder) == []  # one bad file refuses the post: the good one is not kept either
    assert order_attachments(session, order) == [] and len(events(session, Action.ATTACH)) == before


def test_a_picture_larger_than_the_pixel_limit_is_refused_before_decoding(
    session: Session, new_order, make_ctx, folder: Path
) -> None:  # type: ignore[no-untyped-def]
    order = new_order()
    small = AttachmentLimits(max_pixels=1_000_000)
    with pytest.raises(AttachmentRefused, match="1200×1000 像素，超过上限 1,000,000 像素"):
        add_attachments(
            session,
            order=order,
            uploads=[Upload("wide.png", io.BytesIO(photo(1200, 1000, fmt="PNG")))],
            purpose="other",
            folder=folder,
            limits=small,
            ctx=make_ctx("2026-11-26 10:00"),
        )


def test_a_script_hidden_in_a_photo_does_not_reach_the_disk(
    session: Session, new_order, make_ctx, folder: Path
) -> None:  # type: ignore[no-untyped-def]
    order = new_order()
    (row,), _ = add(session, order, folder, make_ctx, ("x.php.jpg", photo(comment=PHP)))
    stored = attachment_file(folder, row)
    assert stored is not None and stored.suffix == ".jpg" and b"<?php" not in stored.read_bytes()


def test_a_pdf_with_javascript_is_stored_byte_for_byte_without_thumbnail(
    session: Session, new_order, make_ctx, folder: Path
) -> None:  # type: ignore[no-untyped-def]
    order = new_order()
    (row,), _ = add(session, order, folder, make_ctx, ("回复函.pdf", PDF_WITH_JS))
    stored = attachment_file(folder, row)
    assert row.content_type == "application/pdf" and stored is not None and stored.read_bytes() == PDF_WITH_JS
    assert attachment_file(folder, row, thumbnail=True) is None and row.thumbnail_name is None


def test_file_names_are_made_safe_for_display_and_never_used_on_disk(
    session: Session, new_order, make_ctx, folder: Path
) -> None:  # type: ignore[no-untyped-def]
    assert display_name("../../etc/<script>alert(1)</script>.jpg") == "script_.jpg"  # the last path part
    assert display_name("<img src=x onerror=alert(1)>.jpg") == "_img src=x onerror=alert(1)_.jpg"
    assert display_name("C:\\Users\\张三\\现场照片.jpg") == "现场照片.jpg"
    assert display_name("a\u202egpj.exe") == "agpj.exe" and display_name("..") == "未命名文件"
    assert len(display_name("长" * 300 + ".jpg")) <= 100 and display_name("长" * 300 + ".jpg").endswith(".jpg")
    order = new_order()
    (row,), written = add(session, order, folder, make_ctx, ("../../<script>x</script>.jpg", photo()))
    assert row.original_name == "script_.jpg"
    assert all(folder in p.parents and "script" not in str(p) for p in written)


def test_withdrawal_by_the_uploader_within_the_window_by_an_administrator_later_always_with_a_reason(
    session: Session, new_order, make_ctx, folder: Path
) -> None:  # type: ignore[no-untyped-def]
    order = new_order()
    (first, second), _ = add(session, order, folder, make_ctx, ("a.jpg", photo()), ("b.jpg", photo()))
    ctx = make_ctx("2026-11-26 10:20")
    with pytest.raises(AttachmentRefused, match="请填写移除附件的理由"):
        remove_attachment(session, order=order, attachment=first, reason=" ", is_admin=False, limits=LIMITS, ctx=ctx)
    remove_attachment(session, order=order, attachment=first, reason="拍错了", is_admin=False, limits=LIMITS, ctx=ctx)
    late = make_ctx("2026-11-26 10:31")
    with pytest.raises(AttachmentRefused, match="30 分钟内移除"):
        remove_attachment(
            session, order=order, attachment=second, reason="重复", is_admin=False, limits=LIMITS, ctx=late
        )
    stranger = make_ctx("2026-11-26 10:05", Actor(id="user:99", name="别人", source="web"))
    with pytest.raises(AttachmentRefused, match="只能由上传人"):
        remove_attachment(
            session, order=order, attachment=second, reason="重复", is_admin=False, limits=LIMITS, ctx=stranger
        )
    admin = make_ctx("2026-11-30 09:00", ADMIN)
    remove_attachment(
        session, order=order, attachment=second, reason="与本件无关", is_admin=True, limits=LIMITS, ctx=admin
    )
    with pytest.raises(AttachmentRefused, match="已于此前移除"):
        remove_attachment(
            session, order=order, attachment=second, reason="再删", is_admin=True, limits=LIMITS, ctx=admin
        )
    session.commit()
    assert [e.note.split("：")[-1] for e in events(session, Action.DETACH)] == ["拍错了", "与本件无关"]
    assert all(attachment_file(folder, a) for a in (first, second))  # kept until retention
    assert (second.removed_by, second.removed_reason) == ("user:1", "与本件无关")


def test_a_note_is_stored_as_written_with_its_own_event_and_leaves_the_order_alone(
    session: Session, new_order, make_ctx
) -> None:  # type: ignore[no-untyped-def]
    order = new_order()
    session.commit()
    state, updated = order.state, order.updated_at
    text = "  =SUM(A1)\r\n诉求人改用 13812345678 联系\t<b>x</b>  "
    add_note(session, order=order, text=text, ctx=make_ctx("2026-11-26 10:00"))
    session.commit()
    (note,) = order_notes(session, order)
    assert note.text == text.replace("\r\n", "\n")  # verbatim, the line ending made \n
    (event,) = events(session, Action.NOTE)
    assert "138****5678" in event.note and "13812345678" not in event.note  # the trail keeps it masked
    assert (order.state, order.updated_at) == (state, updated)


@pytest.mark.parametrize(
    ("text", "expected"), [("   \n ", "请填写备注内容"), ("长" * 5001, "5001 字，最多 5000 字"), ("a\x00b", "NUL")]
)
def test_bad_notes_are_refused(session: Session, new_order, make_ctx, text: str, expected: str) -> None:  # type: ignore[no-untyped-def]
    order = new_order()
    with pytest.raises(NoteRefused, match=expected):
        add_note(session, order=order, text=text, ctx=make_ctx("2026-11-26 10:00"))
    assert order_notes(session, order) == [] and events(session, Action.NOTE) == []


def test_retention_deletes_the_files_of_anonymised_orders_unless_a_review_needs_them_and_of_long_withdrawn_ones(
    session: Session, new_order, make_ctx, folder: Path
) -> None:  # type: ignore[no-untyped-def]
    old = new_order("2024-01-08 09:00", order_no="OLD1")
    for action, data in (
        (Action.SIGN, ActionInput()),
        (Action.CLOSE, ActionInput(reply="已处理", verdict="实际解决", reply_method="电话")),
    ):
        apply_action(session, order=old, action=action, data=data, ctx=make_ctx("2024-01-08 10:00"))
    recent = new_order("2026-11-20 09:00", order_no="NEW1")
    (old_photo,), _ = add(session, old, folder, make_ctx, ("张三家门口.jpg", photo()), when="2024-01-08 10:00")
    (kept, withdrawn), _ = add(session, recent, folder, make_ctx, ("a.jpg", photo()), ("b.pdf", PDF_WITH_JS))
    remove_attachment(
        session,
        order=recent,
        attachment=withdrawn,
        reason="传错",
        is_admin=True,
        limits=LIMITS,
        ctx=make_ctx("2026-11-26 10:00", ADMIN),
    )
    add_note(session, order=old, text="新号码 13912345678", ctx=make_ctx("2024-01-08 10:00"))
    session.commit()
    policy = RetentionPolicy(pii_days=730, file_days=90)

    dry = run_retention(
        session, now=local("2026-12-01 03:00"), policy=policy, folders=[], attachment_dir=folder, dry_run=True
    )
    assert dry.attachments == 0 and len(stored_files(folder)) == 5  # the order is not anonymised yet
    session.rollback()

    plan = SamplePlan(
        name="抽查", created_by="user:2", created_by_name="督察", created_at=local("2026-11-30 09:00"), seed="s"
    )
    session.add(plan)
    session.flush()
    item = SampleItem(plan_id=plan.id, order_id=old.id, reason="manual")  # type: ignore[arg-type]
    session.add(item)
    session.commit()

    first = run_retention(session, now=local("2026-12-01 03:00"), policy=policy, folders=[], attachment_dir=folder)
    session.commit()
    assert first.orders == 1 and first.attachments == 0 and first.notes == 1  # the pending review holds the photo
    assert attachment_file(folder, old_photo) is not None

    item.reviewed_at = local("2026-12-01 09:00")
    session.commit()
    reviewed = run_retention(session, now=local("2026-12-02 03:00"), policy=policy, folders=[], attachment_dir=folder)
    session.commit()
    assert reviewed.attachments == 1
    assert old_photo.purged_at is not None and old_photo.original_name == f"附件{old_photo.id}"
    assert attachment_file(folder, old_photo) is None and not (folder / old_photo.stored_name).exists()
    assert attachment_file(folder, withdrawn) is not None  # withdrawn 5 days ago: kept
    assert session.exec(select(OrderNote.text)).one() == "新号码 139****5678"

    later = local("2027-03-01 03:00")  # 90 days after the withdrawal
    second = run_retention(session, now=later, policy=policy, folders=[], attachment_dir=folder)
    session.commit()
    assert second.attachments == 1 and attachment_file(folder, withdrawn) is None
    assert attachment_file(folder, kept) is not None and kept.purged_at is None
    again = run_retention(session, now=later + timedelta(hours=1), policy=policy, folders=[], attachment_dir=folder)
    assert again.attachments == again.notes == 0
    remaining = session.exec(select(OrderAttachment).order_by(col(OrderAttachment.id))).all()
    assert len(remaining) == 3  # rows stay for the audit trail


def test_the_migration_lets_the_trail_take_notes_and_attachments_and_keeps_it_append_only(
    tmp_path: Path, calendar, folder: Path
) -> None:  # type: ignore[no-untyped-def]
    from alembic import command
    from sqlalchemy import exc, text

    from tests.conftest import PG_URL, seed
    from tracker.cli.common import alembic_config
    from tracker.db import make_engine
    from tracker.domain.deadlines import RuleTable
    from tracker.services.orders.actions import Context, NewOrder, create_order

    engine = make_engine(PG_URL or f"sqlite:///{tmp_path / 'migrated.db'}")
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    config = alembic_config()
    for step in ("head", "5d1e8c3b9a72", "head"):  # up, down past this revision, up again
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            (command.upgrade if step == "head" else command.downgrade)(config, step)
    with Session(engine, expire_on_commit=False) as session:
        seed(session)
        ctx = Context(actor=ADMIN, now=local("2026-11-26 10:00"), calendar=calendar, rules=RuleTable())
        data = NewOrder(source="12345", order_no="M1", dispatched_at=local("2026-11-26 09:00"))
        order = create_order(session, data=data, ctx=ctx)
        add_note(session, order=order, text="迁移后的备注", ctx=ctx)
        add_attachments(
            session,
            order=order,
            uploads=[Upload("a.jpg", io.BytesIO(photo()))],
            purpose="other",
            folder=folder,
            limits=LIMITS,
            ctx=ctx,
        )
        session.commit()
        assert session.exec(select(OrderEvent.action).order_by(col(OrderEvent.id))).all() == [
            "dispatch",
            "note",
            "attach",
        ]
    with engine.connect() as conn, pytest.raises(exc.DBAPIError, match="append-only"):
        conn.execute(text("UPDATE order_event SET note = 'x'"))
    with engine.connect() as conn, pytest.raises(exc.IntegrityError):
        conn.execute(
            text(
                "INSERT INTO order_event (order_id, cycle, action, state_after, actor, actor_name, source, at, note, "
                "changes) VALUES (1, 1, 'bogus', 'dispatched', 'a', 'a', 'web', '2026-11-26 10:00:00+00', '', '{}')"
            )
        )
    engine.dispose()
