"""热线通报核查 on the web: the administrator imports, the squad answers on the order page with a photo, another
street's squad gets 404, the bureau returns and accepts, the reply downloads with exactly the accepted answers."""

from __future__ import annotations

from io import BytesIO

import openpyxl
from PIL import Image
from sqlmodel import Session, select

from tests.helpers import local
from tests.web.conftest import PEOPLE, csrf_token, post, sign_in
from tracker.domain.deadlines import RuleTable
from tracker.models import NoticeCheck, Order, OrderAttachment
from tracker.services.accounts import Actor
from tracker.services.orders.actions import Context, NewOrder, create_order


def notice_file() -> BytesIO:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["通报编号", "工单编号", "通报类型", "通报日期", "通报内容/要求", "反馈时限"])
    sheet.append(["TB2026-11", "SH202611200001", "不满意", "2026-11-20", "请核查", "2026-11-25"])
    sheet.append(["TB2026-11", "SH202611200002", "超时办结", "2026-11-20", "", ""])
    sheet.append(["TB2026-11", "SH209900000000", "重复诉件", "2026-11-20", "", ""])
    buffer = BytesIO()
    book.save(buffer)
    buffer.seek(0)
    return buffer


def photo() -> BytesIO:
    buffer = BytesIO()
    Image.new("RGB", (40, 30), "green").save(buffer, format="JPEG")
    buffer.seek(0)
    return buffer


def make_order(engine, calendar, order_no: str, street: str) -> Order:  # type: ignore[no-untyped-def]
    """An order dispatched on 2026-11-20, stored."""
    with Session(engine, expire_on_commit=False) as db:
        ctx = Context(Actor.importer("t"), local("2026-11-20 09:00"), calendar, RuleTable())
        data = NewOrder(source="12345", order_no=order_no, dispatched_at=local("2026-11-20 09:00"), street=street)
        order = create_order(db, data=data, ctx=ctx)
        db.commit()
    return order


def test_import_answer_decide_reply(app, people, engine, calendar) -> None:  # type: ignore[no-untyped-def]
    own = make_order(engine, calendar, "SH202611200001", "静安寺街道")
    foreign = make_order(engine, calendar, "SH202611200002", "曹家渡街道")
    admin, squad, other, boss = (app.test_client() for _ in range(4))
    for client, who in ((admin, "admin"), (squad, "squad"), (other, "other_squad"), (boss, "supervisor")):
        sign_in(client, PEOPLE[who])

    assert squad.get("/imports/notices").status_code == 403
    sent = {"file": (notice_file(), "通报.xlsx"), "csrf_token": csrf_token(admin)}
    page = admin.post("/imports/notices/upload", data=sent, content_type="multipart/form-data")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "新增核查 3 条" in text and "第 4 行工单「SH209900000000」在系统中不存在" in text
    bad = BytesIO("通报编号,工单编号,通报类型,通报日期\nTB9,SH202611200001,不满意,昨天\n".encode())
    page = admin.post(
        "/imports/notices/upload",
        data={"file": (bad, "坏.csv"), "csrf_token": csrf_token(admin)},
        content_type="multipart/form-data",
    )
    assert page.status_code == 422 and "第 2 行「通报日期」为「昨天」" in page.get_data(as_text=True)

    with Session(engine) as db:
        checks = {c.order_no: c.id for c in db.exec(select(NoticeCheck)).all()}
    mine, theirs = checks["SH202611200001"], checks["SH202611200002"]
    detail = squad.get(f"/orders/{own.id}").get_data(as_text=True)
    assert f'id="check-{mine}-answer"' in detail and "通报 TB2026-11" in detail

    answer = {"conclusion": "属实", "cause": "未按时回电", "measures": "已约谈整改"}
    # another street's 核查: 404 exactly like an unknown id, on its own order's URL and on the other's
    assert post(other, f"/orders/{own.id}/checks/{mine}/answer", answer).status_code == 404
    assert post(other, f"/orders/{foreign.id}/checks/{mine}/answer", answer).status_code == 404
    assert post(squad, f"/orders/{foreign.id}/checks/{theirs}/answer", answer).status_code == 404
    assert post(squad, f"/orders/{own.id}/checks/999999/answer", answer).status_code == 404
    assert f"check-{mine}" not in other.get(f"/orders/{foreign.id}").get_data(as_text=True)

    form = {**answer, "files": (photo(), "现场.jpg"), "csrf_token": csrf_token(squad)}
    done = squad.post(f"/orders/{own.id}/checks/{mine}/answer", data=form, content_type="multipart/form-data")
    assert done.status_code == 302
    with Session(engine) as db:
        assert db.get(NoticeCheck, mine).status == "answered"  # type: ignore[union-attr]
        kinds = db.exec(select(OrderAttachment.purpose).where(OrderAttachment.order_id == own.id)).all()
        assert kinds == ["verification"]

    post(squad, f"/orders/{own.id}/checks/{mine}/accept")  # a squad cannot decide
    post(boss, f"/orders/{own.id}/checks/{mine}/return", {"reason": "措施不具体"})
    with Session(engine) as db:
        assert db.get(NoticeCheck, mine).status == "returned"  # type: ignore[union-attr]
    post(squad, f"/orders/{own.id}/checks/{mine}/answer", answer)
    post(boss, f"/orders/{own.id}/checks/{mine}/accept")
    with Session(engine) as db:
        check = db.get(NoticeCheck, mine)
        assert check is not None and check.status == "accepted" and check.return_count == 1

    listing = boss.get("/notices")
    assert listing.status_code == 200 and squad.get("/notices").status_code == 403
    reply = boss.get(f"/notices/{check.notice_id}/reply.xlsx")
    assert reply.status_code == 200
    rows = list(openpyxl.load_workbook(BytesIO(reply.data)).active.iter_rows(values_only=True))  # type: ignore[union-attr]
    assert [r[1] for r in rows[1:]] == ["SH202611200001"]  # exactly the accepted answer


def test_the_numbers_on_the_dashboard_and_in_the_api(app, people, engine, calendar) -> None:  # type: ignore[no-untyped-def]
    make_order(engine, calendar, "SH202611200001", "静安寺街道")
    make_order(engine, calendar, "SH202611200002", "曹家渡街道")
    admin, squad = app.test_client(), app.test_client()
    sign_in(admin, PEOPLE["admin"])
    sign_in(squad, PEOPLE["squad"])
    sent = {"file": (notice_file(), "通报.xlsx"), "csrf_token": csrf_token(admin)}
    assert admin.post("/imports/notices/upload", data=sent, content_type="multipart/form-data").status_code == 200
    bureau = admin.get("/api/v1/checks?from=2026-11-20&to=2026-11-20").get_json()
    assert bureau["total"] == 3 and bureau["by_street_kind"]["曹家渡街道"] == {"超时办结": 1}
    assert bureau["date_basis"].startswith("按通报日期")
    own = squad.get("/api/v1/checks?from=2026-11-20&to=2026-11-20").get_json()
    assert own["by_street_kind"] == {"静安寺街道": {"不满意": 1}}  # a squad counts its own street only
    assert squad.get("/api/v1/checks?from=2026-11-21&to=2026-11-20").status_code == 400
    page = squad.get("/dashboard/?from=2026-11-01&to=2026-11-30").get_data(as_text=True)
    assert 'id="check-numbers"' in page and "按通报日期统计" in page and "曹家渡街道" not in page
