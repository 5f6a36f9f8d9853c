"""Attachments and notes through the web: photos with 先行联系, bad files refused with the order untouched,
downloads never inline, and every attachment, thumbnail and note route × every role, scope and id pairing."""

from __future__ import annotations

import re
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
import time_machine
from flask import Flask
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from tests.helpers import local
from tests.helpers_attachments import PDF_WITH_JS, PHP, decompression_bomb_png, padded_photo, photo
from tests.web.conftest import PEOPLE, post, sign_in
from tracker.models import Order, OrderAttachment, OrderDeadline, OrderEvent, OrderNote

NOW = local("2026-11-26 10:00")
ROLES = ("admin", "supervisor", "squad", "other_squad")


def load_demo(runner) -> None:  # type: ignore[no-untyped-def]
    result = runner.invoke(args=["demo-load", "--now", "2026-11-26T10:00"])
    assert result.exit_code == 0, result.output


def orders_of(engine: Engine, street: str, **where: object) -> list[Order]:
    with Session(engine) as session:
        query = select(Order).where(Order.street == street).order_by(col(Order.id))
        for name, value in where.items():
            query = query.where(getattr(Order, name) == value)
        return list(session.exec(query).all())


def state_of(engine: Engine, order_id: int) -> dict[str, Any]:
    """Everything about an order that a refused post must leave as it was."""
    with Session(engine) as session:
        order = session.get(Order, order_id)
        assert order is not None
        deadlines = session.exec(
            select(OrderDeadline).where(OrderDeadline.order_id == order_id).order_by(col(OrderDeadline.id))
        ).all()
        return {
            "order": order.model_dump(),
            "deadlines": [d.model_dump() for d in deadlines],
            "events": session.exec(select(func.count()).where(OrderEvent.order_id == order_id)).one(),
            "attachments": session.exec(select(func.count()).where(OrderAttachment.order_id == order_id)).one(),
        }


def files_in(app: Flask) -> list[Path]:
    folder = Path(app.config["ATTACHMENT_DIR"])
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def upload(client, order_id: int, *files: tuple[str, bytes], purpose: str = "other"):  # type: ignore[no-untyped-def]
    data: dict[str, Any] = {"purpose": purpose, "files": [(BytesIO(c), n) for n, c in files]}
    return post(client, f"/orders/{order_id}/attachments", data, content_type="multipart/form-data")


def attachments_of(engine: Engine, order_id: int) -> list[OrderAttachment]:
    with Session(engine) as session:
        query = select(OrderAttachment).where(OrderAttachment.order_id == order_id).order_by(col(OrderAttachment.id))
        return list(session.exec(query).all())


@time_machine.travel(NOW, tick=False)
def test_squad_records_first_contact_with_a_photo_and_sees_its_thumbnail(app, as_role, runner, engine) -> None:  # type: ignore[no-untyped-def]
    load_demo(runner)
    client = as_role("squad")
    order = orders_of(engine, "静安寺街道", state="handling", contact_at=None)[0]
    page = client.get(f"/orders/{order.id}").get_data(as_text=True)
    assert 'capture="environment"' in page and 'accept="image/*,application/pdf"' in page
    assert re.search(r'id="action-first_contact" enctype="multipart/form-data"', page)
    data = {"contact_result": "已联", "files": [(BytesIO(photo()), "现场.jpg")]}
    response = post(client, f"/orders/{order.id}/actions/first_contact", data, content_type="multipart/form-data")
    assert response.status_code == 302
    page = client.get(f"/orders/{order.id}").get_data(as_text=True)
    assert "已先行联系，并添加 1 个附件。" in page
    (row,) = attachments_of(engine, order.id)  # type: ignore[arg-type]
    assert row.purpose == "first_contact" and row.original_name == "现场.jpg"
    thumb_url = f"/orders/{order.id}/attachments/{row.id}/thumbnail"
    assert f'src="{thumb_url}"' in page and "添加附件" in page
    thumb = client.get(thumb_url)
    assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg"
    assert "attachment" not in thumb.headers.get("Content-Disposition", "")
    assert thumb.headers["X-Content-Type-Options"] == "nosniff"
    download = client.get(f"/orders/{order.id}/attachments/{row.id}")
    assert download.status_code == 200 and download.headers["Content-Disposition"].startswith("attachment")
    assert download.headers["X-Content-Type-Options"] == "nosniff" and b"GPS" not in download.data
    with Session(engine) as session:
        stored = session.get(Order, order.id)
        assert stored is not None and stored.contact_result == "已联"


BAD = [
    ("shell.jpg", PHP, "不是可识别的照片"),
    ("bomb.png", decompression_bomb_png(), "解压炸弹"),
    ("big.jpg", padded_photo(30 * 1024 * 1024), "超过每个文件的上限 15 MB"),
]


@pytest.mark.parametrize(("name", "content", "expected"), BAD, ids=["php-as-jpg", "bomb-png", "30mb-photo"])
@time_machine.travel(NOW, tick=False)
def test_a_bad_file_refuses_the_action_and_nothing_about_the_order_changes(
    app, as_role, runner, engine, name: str, content: bytes, expected: str
) -> None:  # type: ignore[no-untyped-def]
    load_demo(runner)
    client = as_role("squad")
    order = orders_of(engine, "静安寺街道", state="handling", contact_at=None)[0]
    before = state_of(engine, order.id)  # type: ignore[arg-type]
    data = {"contact_result": "已联", "files": [(BytesIO(photo()), "good.jpg"), (BytesIO(content), name)]}
    response = post(client, f"/orders/{order.id}/actions/first_contact", data, content_type="multipart/form-data")
    assert response.status_code == 302
    page = client.get(f"/orders/{order.id}").get_data(as_text=True)
    assert f"先行联系未完成：附件「{name}」" in page and expected in page
    assert state_of(engine, order.id) == before and files_in(app) == []  # type: ignore[arg-type]
    alone = upload(client, order.id, (name, content))  # type: ignore[arg-type]
    assert alone.status_code == 302
    assert expected in client.get(f"/orders/{order.id}").get_data(as_text=True)
    assert state_of(engine, order.id) == before and files_in(app) == []  # type: ignore[arg-type]


@time_machine.travel(NOW, tick=False)
def test_a_good_action_with_a_bad_form_value_keeps_no_photo(app, as_role, runner, engine) -> None:  # type: ignore[no-untyped-def]
    load_demo(runner)
    client = as_role("squad")
    order = orders_of(engine, "静安寺街道", state="handling", contact_at=None)[0]
    before = state_of(engine, order.id)  # type: ignore[arg-type]
    data = {"contact_result": "也许", "files": [(BytesIO(photo()), "good.jpg")]}
    post(client, f"/orders/{order.id}/actions/first_contact", data, content_type="multipart/form-data")
    assert state_of(engine, order.id) == before and files_in(app) == []  # type: ignore[arg-type]


@time_machine.travel(NOW, tick=False)
def test_a_pdf_with_javascript_is_stored_and_only_ever_downloaded(app, as_role, runner, engine) -> None:  # type: ignore[no-untyped-def]
    load_demo(runner)
    client = as_role("squad")
    order = orders_of(engine, "静安寺街道")[0]
    assert upload(client, order.id, ("整改报告.pdf", PDF_WITH_JS)).status_code == 302  # type: ignore[arg-type]
    (row,) = attachments_of(engine, order.id)  # type: ignore[arg-type]
    response = client.get(f"/orders/{order.id}/attachments/{row.id}")
    assert response.data == PDF_WITH_JS and response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert client.get(f"/orders/{order.id}/attachments/{row.id}/thumbnail").status_code == 404
    page = client.get(f"/orders/{order.id}").get_data(as_text=True)
    assert not re.search(r"<(embed|iframe|object)\b", page) and "整改报告.pdf" in page


@time_machine.travel(NOW, tick=False)
def test_a_hostile_file_name_is_stored_under_a_generated_name_and_shown_escaped(app, as_role, runner, engine) -> None:  # type: ignore[no-untyped-def]
    load_demo(runner)
    client = as_role("squad")
    order = orders_of(engine, "静安寺街道")[0]
    assert upload(client, order.id, ("王先生13812345678.jpg", photo())).status_code == 302  # type: ignore[arg-type]
    assert "王先生138****5678.jpg" in client.get(f"/orders/{order.id}").get_data(as_text=True)
    hostile = "../../<script>alert(1)</script><img src=x onerror=alert(2)>.jpg"
    assert upload(client, order.id, (hostile, photo())).status_code == 302  # type: ignore[arg-type]
    row = attachments_of(engine, order.id)[-1]  # type: ignore[arg-type]
    assert "<" not in row.original_name and "/" not in row.original_name and ".." not in row.original_name
    page = client.get(f"/orders/{order.id}").get_data(as_text=True)
    assert "<script>alert" not in page and "<img src=x" not in page and "13812345678" not in page
    folder = Path(app.config["ATTACHMENT_DIR"])
    assert all(folder in p.parents and re.fullmatch(r"[0-9a-f]{32}(\.thumb)?\.jpg", p.name) for p in files_in(app))
    disposition = client.get(f"/orders/{order.id}/attachments/{row.id}").headers["Content-Disposition"]
    assert "<" not in disposition and "/" not in disposition.split("filename")[1]


@time_machine.travel(NOW, tick=False)
def test_a_post_larger_than_every_allowed_file_together_is_refused_in_chinese(app, as_role, runner, engine) -> None:  # type: ignore[no-untyped-def]
    load_demo(runner)
    app.config.update(ATTACHMENT_MAX_BYTES=1024 * 1024, ATTACHMENT_MAX_FILES=1)
    client = as_role("squad")
    order = orders_of(engine, "静安寺街道")[0]
    response = upload(client, order.id, ("huge.jpg", padded_photo(3 * 1024 * 1024)))  # type: ignore[arg-type]
    assert response.status_code == 413
    assert "附件合计超过大小上限" in response.get_data(as_text=True) and files_in(app) == []


@time_machine.travel(NOW, tick=False)
def test_a_note_changes_nothing_but_is_seen_by_everyone_who_sees_the_order(app, as_role, runner, engine) -> None:  # type: ignore[no-untyped-def]
    load_demo(runner)
    client = as_role("squad")
    order = orders_of(engine, "静安寺街道")[0]
    before = state_of(engine, order.id)  # type: ignore[arg-type]
    text = "诉求人说周五下午在家，电话 13812345678\n<b>别敲门</b>"
    response = post(client, f"/orders/{order.id}/notes", {"text": text})
    assert response.status_code == 302 and response.headers["Location"].endswith("#notes")
    after = state_of(engine, order.id)  # type: ignore[arg-type]
    assert after["order"] == before["order"] and after["deadlines"] == before["deadlines"]
    assert after["events"] == before["events"] + 1
    with Session(engine) as session:
        assert session.exec(select(OrderNote.text)).one() == text
    post(client, f"/orders/{order.id}/notes", {"text": "  "})
    assert "备注未保存：请填写备注内容" in client.get(f"/orders/{order.id}").get_data(as_text=True)
    for role in ("admin", "supervisor", "squad"):
        other = app.test_client()
        sign_in(other, PEOPLE[role])
        page = other.get(f"/orders/{order.id}").get_data(as_text=True)
        assert "诉求人说周五下午在家，电话 138****5678" in page and "&lt;b&gt;别敲门&lt;/b&gt;" in page
        assert "13812345678" not in page
    stranger = app.test_client()
    sign_in(stranger, PEOPLE["other_squad"])
    assert stranger.get(f"/orders/{order.id}").status_code == 404


@pytest.fixture
def scene(app, people, runner, engine):  # type: ignore[no-untyped-def]
    """Two orders of 静安寺街道 with a photo each (uploaded by the squad), one of 曹家渡街道 (by its squad)."""
    with time_machine.travel(NOW, tick=False):
        load_demo(runner)
        own_a, own_b = orders_of(engine, "静安寺街道")[:2]
        foreign = orders_of(engine, "曹家渡街道")[0]
        for person, order in (("squad", own_a), ("squad", own_b), ("other_squad", foreign)):
            client = app.test_client()
            sign_in(client, PEOPLE[person])
            assert upload(client, order.id, ("现场.jpg", photo())).status_code == 302
    ids = {name: attachments_of(engine, o.id)[0].id for name, o in (("a", own_a), ("b", own_b), ("f", foreign))}  # type: ignore[arg-type]
    return {"a": own_a.id, "b": own_b.id, "f": foreign.id}, ids


READ_ROUTES = ("/orders/{o}/attachments/{a}", "/orders/{o}/attachments/{a}/thumbnail")


@pytest.mark.parametrize("role", ROLES)
def test_every_read_route_for_every_role_with_scope_and_pairing(app, scene, role: str) -> None:  # type: ignore[no-untyped-def]
    orders, att = scene
    client = app.test_client()
    district = role in ("admin", "supervisor")
    with time_machine.travel(NOW, tick=False):
        sign_in(client, PEOPLE[role])
        for route in READ_ROUTES:
            own = client.get(route.format(o=orders["a"], a=att["a"]))
            assert own.status_code == (404 if role == "other_squad" else 200), (role, route)
            theirs = client.get(route.format(o=orders["f"], a=att["f"]))
            assert theirs.status_code == (200 if district or role == "other_squad" else 404), (role, route)
            missing = client.get(route.format(o=orders["a"], a=999999))
            assert missing.status_code == 404
            for o, a in (
                (orders["a"], att["b"]),
                (orders["b"], att["a"]),
                (orders["a"], att["f"]),
                (orders["f"], att["a"]),
            ):
                crossed = client.get(route.format(o=o, a=a))  # an attachment id paired with the wrong order
                assert crossed.status_code == 404, (role, route, o, a)
                if crossed.status_code == 404 and role == "squad":
                    assert crossed.data == missing.data


@pytest.mark.parametrize("role", ROLES)
def test_every_write_route_for_every_role_with_scope_and_pairing(app, scene, engine, role: str) -> None:  # type: ignore[no-untyped-def]
    orders, att = scene
    client = app.test_client()
    sees_a = role != "other_squad"
    with time_machine.travel(NOW, tick=False):
        sign_in(client, PEOPLE[role])
        noted = post(client, f"/orders/{orders['a']}/notes", {"text": f"{role} 的备注"})
        assert noted.status_code == (302 if sees_a else 404)
        added = upload(client, orders["a"], ("补充.jpg", photo()))
        assert added.status_code == (302 if sees_a else 404)
        crossed = post(client, f"/orders/{orders['b']}/attachments/{att['a']}/remove", {"reason": "配错工单"})
        assert crossed.status_code == 404
        foreign = post(client, f"/orders/{orders['f']}/attachments/{att['f']}/remove", {"reason": "不是本街道"})
        assert foreign.status_code == (404 if role == "squad" else 302)
        removal = post(client, f"/orders/{orders['a']}/attachments/{att['a']}/remove", {"reason": "拍错了"})
        assert removal.status_code == (302 if sees_a else 404)
    with Session(engine) as session:
        notes = session.exec(select(OrderNote.text).where(OrderNote.order_id == orders["a"])).all()
        assert notes == ([f"{role} 的备注"] if sees_a else [])
        first = session.get(OrderAttachment, att["a"])
        assert first is not None
        # the squad uploaded it 0 minutes ago: the squad may withdraw it, so may the administrator; nobody else
        assert (first.removed_at is not None) == (role in ("squad", "admin"))
        theirs = session.get(OrderAttachment, att["f"])
        assert theirs is not None
        assert (theirs.removed_at is not None) == (role in ("other_squad", "admin"))
        paired = session.get(OrderAttachment, att["b"])
        assert paired is not None and paired.removed_at is None


def test_the_uploader_may_withdraw_only_within_the_window_the_administrator_later(app, scene, engine) -> None:  # type: ignore[no-untyped-def]
    orders, att = scene
    squad, admin = app.test_client(), app.test_client()
    with time_machine.travel(local("2026-11-26 10:31"), tick=False):
        sign_in(squad, PEOPLE["squad"])
        sign_in(admin, PEOPLE["admin"])
        post(squad, f"/orders/{orders['a']}/attachments/{att['a']}/remove", {"reason": "拍错了"})
        page = squad.get(f"/orders/{orders['a']}").get_data(as_text=True)
        assert "只能由上传人在上传后 30 分钟内移除" in page
        post(admin, f"/orders/{orders['a']}/attachments/{att['a']}/remove", {"reason": ""})
        assert "请填写移除附件的理由" in admin.get(f"/orders/{orders['a']}").get_data(as_text=True)
        post(admin, f"/orders/{orders['a']}/attachments/{att['a']}/remove", {"reason": "与本件无关"})
        # withdrawn: gone for the squad, still there for the bureau until retention
        assert squad.get(f"/orders/{orders['a']}/attachments/{att['a']}").status_code == 404
        assert admin.get(f"/orders/{orders['a']}/attachments/{att['a']}").status_code == 200
        page = squad.get(f"/orders/{orders['a']}").get_data(as_text=True)
        assert "已移除的附件" in page and "与本件无关" in page
    with Session(engine) as session:
        actions = session.exec(
            select(OrderEvent.action).where(OrderEvent.order_id == orders["a"]).order_by(col(OrderEvent.id))
        ).all()
        assert actions[-2:] == ["attach", "detach"]


def test_the_spot_check_review_shows_the_orders_photos_beside_the_checklist(app, scene, engine) -> None:  # type: ignore[no-untyped-def]
    from tracker.models import SampleItem, SamplePlan

    supervisor = app.test_client()
    with time_machine.travel(NOW, tick=False):
        sign_in(supervisor, PEOPLE["supervisor"])
        plan = {"closed_from": "2026-01-01", "closed_to": "2026-11-30", "stratify_by": "none"}
        plan |= {"allocation": "proportional", "minimum_per_stratum": "0", "size_kind": "fixed", "size_fixed": "3"}
        assert post(supervisor, "/spot-checks/plans", {**plan, "seed": "photos"}).status_code == 302
        with Session(engine) as session:
            plan_id = session.exec(select(SamplePlan.id)).one()
            item = session.exec(select(SampleItem).where(SampleItem.plan_id == plan_id)).first()
            assert item is not None
            order = session.get(Order, item.order_id)
            assert order is not None
        photos = app.test_client()
        sign_in(photos, PEOPLE["admin"])
        assert upload(photos, item.order_id, ("核查.jpg", photo()), purpose="verification").status_code == 302
        page = supervisor.get(f"/spot-checks/plans/{plan_id}/items/{item.id}").get_data(as_text=True)
    section = page.split('id="checklist"')[1]
    assert 'id="review-photos"' in section and "核查 · 核查.jpg" in section
    assert re.search(rf'src="/orders/{item.order_id}/attachments/\d+/thumbnail"', section)


def test_a_review_saves_its_verification_photos_or_with_a_bad_one_nothing(app, scene, engine) -> None:  # type: ignore[no-untyped-def]
    from tests.web.test_spot_checks import ALL_PASS
    from tracker.models import SampleItem, SamplePlan

    supervisor = app.test_client()
    with time_machine.travel(NOW, tick=False):
        sign_in(supervisor, PEOPLE["supervisor"])
        plan = {"closed_from": "2026-01-01", "closed_to": "2026-11-30", "stratify_by": "none"}
        plan |= {"allocation": "proportional", "minimum_per_stratum": "0", "size_kind": "fixed", "size_fixed": "3"}
        assert post(supervisor, "/spot-checks/plans", {**plan, "seed": "verify"}).status_code == 302
        with Session(engine) as session:
            plan_id = session.exec(select(SamplePlan.id)).one()
            item = session.exec(select(SampleItem).where(SampleItem.plan_id == plan_id)).first()
            assert item is not None
        url = f"/spot-checks/plans/{plan_id}/items/{item.id}/review"
        bad = {**ALL_PASS, "files": [(BytesIO(PHP), "核查.jpg")]}
        refused = post(supervisor, url, bad, content_type="multipart/form-data")
        assert refused.status_code == 400 and "未保存：附件「核查.jpg」不是可识别的照片" in refused.get_data(
            as_text=True
        )
        with Session(engine) as session:
            stored = session.get(SampleItem, item.id)
            assert stored is not None and stored.reviewed_at is None
        assert attachments_of(engine, item.order_id) == []
        good = {**ALL_PASS, "files": [(BytesIO(photo()), "核查.jpg")]}
        assert post(supervisor, url, good, content_type="multipart/form-data").status_code == 302
    (row,) = attachments_of(engine, item.order_id)
    assert row.purpose == "verification" and row.uploaded_by_name.endswith("duchao")
    with Session(engine) as session:
        stored = session.get(SampleItem, item.id)
        assert stored is not None and stored.reviewed_at is not None
