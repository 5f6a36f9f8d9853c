"""Personal-data retention, time-travelled: what goes when, what stays, a second run changes nothing."""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from tests.helpers import local
from tracker.domain.lifecycle import ActionInput
from tracker.domain.privacy import audit_changes, audit_value, mask_address
from tracker.domain.roles import Role
from tracker.domain.vocabulary import Action, State
from tracker.models import (
    ImportBatch,
    ImportIssue,
    ImportUpload,
    JobRun,
    LoginAttempt,
    Order,
    OrderEvent,
    PhoneReveal,
)
from tracker.services.accounts import create_user
from tracker.services.operations import RetentionPolicy, run_retention
from tracker.services.orders.actions import apply_action, update_details

MOBILE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


def test_the_audit_trail_keeps_personal_values_masked() -> None:
    assert audit_value("complainant", "王先生") == "王**"
    assert audit_value("phone", "13812345678") == "138****5678"
    assert audit_value("address", "上海市静安区南京西路1266号3楼") == "上海市静安区******"
    assert mask_address("短地址") == "短地址*"
    assert audit_value("content", "请回电 13912345678 谢谢") == "请回电 139****5678 谢谢"
    assert audit_value("street", "静安寺街道") == "静安寺街道" and audit_value("return_count", 2) == 2
    assert audit_changes({"phone": ["13812345678", "13912345678"], "extras": [{}, {"联系人电话": "13700001111"}]}) == {
        "phone": ["138****5678", "139****5678"],
        "extras": [{}, {"联系人电话": "137****1111"}],
    }


def close(session: Session, order: Order, make_ctx, when: str) -> None:  # type: ignore[no-untyped-def]
    for action, data in (
        (Action.SIGN, ActionInput()),
        (Action.FIRST_CONTACT, ActionInput(contact_result="已联", contact_at=local(when), contact_person="王先生")),
        (Action.CLOSE, ActionInput(reply="已处理，回访电话 13812345678", verdict="实际解决", reply_method="电话")),
    ):
        apply_action(session, order=order, action=action, data=data, ctx=make_ctx(when))


def test_events_written_from_now_on_hold_no_personal_value(session: Session, new_order, make_ctx) -> None:  # type: ignore[no-untyped-def]
    order = new_order("2026-11-20 09:00", order_no="P1")
    update_details(
        session,
        order=order,
        values={
            "phone": "13700001111",
            "complainant": "李四",
            "address": "上海市静安区愚园路100号",
            "content": "电话13600002222",
        },
        ctx=make_ctx("2026-11-20 10:00"),
    )
    close(session, order, make_ctx, "2026-11-21 10:00")
    session.commit()
    raw = session.execute(text("SELECT note, CAST(changes AS TEXT) FROM order_event")).all()
    assert raw and not any(MOBILE.search(f"{note} {changes}") for note, changes in raw)
    assert not any("李四" in changes or "愚园路100号" in changes for _, changes in raw)
    assert order.phone == "13700001111"  # the order itself keeps it until its retention period ends


def test_retention_removes_personal_data_when_its_period_ends(
    session: Session, engine: Engine, new_order, make_ctx, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    old = new_order("2024-10-08 09:00", order_no="OLD", phone="13812345678", complainant="王先生")
    old.address, old.content = "上海市静安区南京西路1号", "噪音扰民，回电13812345678"
    close(session, old, make_ctx, "2024-10-10 10:00")
    recent = new_order("2025-06-02 09:00", order_no="RECENT", phone="13912345678", complainant="李女士")
    close(session, recent, make_ctx, "2025-06-03 10:00")
    reopened = new_order("2024-10-08 09:00", order_no="REOPENED", phone="13512345678", complainant="赵先生")
    close(session, reopened, make_ctx, "2024-10-10 10:00")
    apply_action(
        session,
        order=reopened,
        action=Action.REDO,
        data=ActionInput(reason="回访不满意"),
        ctx=make_ctx("2024-10-12 10:00"),
    )
    user = create_user(
        session,
        username="u",
        display_name="用户",
        role=Role.SUPERVISOR,
        password="pass-2026-xyz",
        now=local("2026-01-01 00:00"),
    )
    now = local("2026-10-12 12:00")  # 732 days after the old closure, 496 after the recent one
    session.add_all(
        [
            LoginAttempt(username="u", address="10.0.0.1", at=now - timedelta(days=91)),
            LoginAttempt(username="u", address="10.0.0.2", at=now - timedelta(days=89)),
            PhoneReveal(
                user_id=user.id or 0,
                user_name="用户",
                order_id=old.id or 0,
                reason="回访",
                at=now - timedelta(days=1100),
            ),
            PhoneReveal(
                user_id=user.id or 0, user_name="用户", order_id=old.id or 0, reason="回访", at=now - timedelta(days=30)
            ),
        ]
    )
    batch = ImportBatch(
        batch="B-old",
        file_name="a.csv",
        size=1,
        sha256="0" * 64,
        profile="x",
        source="x",
        actor="x",
        actor_name="x",
        started_at=now - timedelta(days=100),
    )
    session.add(batch)
    session.flush()
    session.add(
        ImportIssue(batch_id=batch.id or 0, kind="rejected", row=3, column="联系电话", value="13800001111", reason="x")
    )
    session.commit()
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    (uploads / "old.csv").write_text("x", encoding="utf-8")
    (uploads / "new.csv").write_text("y", encoding="utf-8")
    stamp = (now - timedelta(days=91)).timestamp()
    os.utime(uploads / "old.csv", (stamp, stamp))
    closed_before = session.exec(select(func.count()).select_from(Order).where(Order.state == State.CLOSED.value)).one()

    dry = run_retention(session, now=now, policy=RetentionPolicy(), folders=[uploads], dry_run=True)
    session.commit()
    assert (dry.orders, dry.files, dry.login_attempts, dry.phone_reveals, dry.issue_values) == (1, 1, 1, 1, 1)
    assert (uploads / "old.csv").exists() and session.get(Order, old.id).phone == "13812345678"  # type: ignore[union-attr]

    result = run_retention(session, now=now, policy=RetentionPolicy(), folders=[uploads])
    session.commit()
    assert (result.orders, result.files, result.login_attempts, result.phone_reveals) == (1, 1, 1, 1)
    session.expire_all()
    gone = session.get(Order, old.id)
    assert gone is not None and gone.anonymised_at is not None
    assert (gone.complainant, gone.phone, gone.address, gone.address_key, gone.contact_person) == (None,) * 5
    assert gone.content == "噪音扰民，回电138****5678" and "138****5678" in (gone.reply or "")
    assert (gone.order_no, gone.state, gone.street) == ("OLD", State.CLOSED.value, old.street)  # the record stays
    kept = session.get(Order, recent.id)
    assert kept is not None and kept.phone == "13912345678" and kept.anonymised_at is None
    again = session.get(Order, reopened.id)
    assert again is not None and again.phone == "13512345678"  # open again after 重办: not touched
    assert not (uploads / "old.csv").exists() and (uploads / "new.csv").exists()
    assert [a.address for a in session.exec(select(LoginAttempt)).all()] == ["10.0.0.2"]
    assert len(session.exec(select(PhoneReveal)).all()) == 1
    assert session.exec(select(ImportIssue)).one().value == ""
    closed_after = session.exec(select(func.count()).select_from(Order).where(Order.state == State.CLOSED.value)).one()
    assert closed_after == closed_before  # statistics read states and dates, which stay
    events = session.exec(select(func.count()).select_from(OrderEvent)).one()

    second = run_retention(session, now=now, policy=RetentionPolicy(), folders=[uploads])
    session.commit()
    assert second.counts() == dict.fromkeys(second.counts(), 0)  # idempotent
    assert session.exec(select(func.count()).select_from(OrderEvent)).one() == events  # the trail is not touched


def test_the_command_records_a_job_run_and_the_dry_run_changes_nothing(runner, engine: Engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert runner.invoke(args=["demo-load", "--now", "2026-11-26T10:00"]).exit_code == 0
    dry = runner.invoke(args=["retention", "run", "--dry-run"])
    assert dry.exit_code == 0 and dry.output.startswith("个人信息保留期限：将匿名化工单 0 件")
    result = runner.invoke(args=["retention", "run"])
    assert result.exit_code == 0 and "已匿名化工单 0 件" in result.output, result.output
    with Session(engine) as session:
        runs = session.exec(select(JobRun).where(JobRun.job_id == "retention")).all()
        assert [(r.outcome, r.counts["orders"]) for r in runs] == [("ok", 0)]
    scheduled = runner.invoke(args=["run-job", "retention", "--now", "2029-01-01T03:00"])
    assert scheduled.exit_code == 0 and "已匿名化工单" in scheduled.output
    with Session(engine) as session:
        orders = session.exec(select(Order).where(col(Order.anonymised_at).is_not(None))).all()
        assert orders and all(o.phone is None for o in orders)  # the demo's orders closed in 2026, two years on


def test_a_bad_retention_setting_is_refused_in_chinese(runner, app) -> None:  # type: ignore[no-untyped-def]
    app.config["PII_RETENTION_DAYS"] = 0
    result = runner.invoke(args=["retention", "run"])
    assert result.exit_code != 0 and "至少应为 1 天" in result.output


def test_the_nightly_run_discards_uploads_left_unconfirmed_for_a_day(
    runner, app, engine: Engine, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "uploads"
    folder.mkdir()
    app.config["UPLOAD_DIR"] = str(folder)
    with Session(engine) as session:
        for n, (status, hours_ago) in enumerate((("checked", 30), ("checked", 2), ("committed", 30))):
            name = f"{n:032x}.csv"
            (folder / name).write_bytes(b"x")
            session.add(
                ImportUpload(
                    stored_name=name,
                    original_name=f"导出{n}.csv",
                    size=1,
                    sha256="0" * 64,
                    uploaded_by="王敏",
                    uploaded_at=local("2026-11-26 10:00") - timedelta(hours=hours_ago),
                    status=status,
                    batch="b" if status == "committed" else None,
                )
            )
        session.commit()
    dry = runner.invoke(args=["retention", "run", "--dry-run"], env={})
    assert "将放弃超时未确认的上传" in dry.output
    result = runner.invoke(args=["run-job", "retention", "--now", "2026-11-26T10:00"])
    assert result.exit_code == 0 and "已放弃超时未确认的上传 1 个" in result.output, result.output
    with Session(engine) as session:
        statuses = [u.status for u in session.exec(select(ImportUpload).order_by(col(ImportUpload.id)))]
    assert statuses == ["discarded", "checked", "committed"]
    assert sorted(p.name for p in folder.iterdir()) == [f"{1:032x}.csv", f"{2:032x}.csv"]


def test_a_bad_stale_upload_setting_is_refused_in_chinese(runner, app) -> None:  # type: ignore[no-untyped-def]
    app.config["UPLOAD_STALE_HOURS"] = 0
    result = runner.invoke(args=["retention", "run"])
    assert result.exit_code != 0 and "TRACKER_UPLOAD_STALE_HOURS 为 0 小时：应大于 0" in result.output
