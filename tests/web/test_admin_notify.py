"""The notification channels page: add and change a robot, secrets never shown again, refusals keep nothing,
a failed message shown with its error and resent; squads cannot open it."""

from __future__ import annotations

from sqlmodel import Session, select

from tests.helpers import local
from tests.web.conftest import post
from tracker.models import NotifyChannel, NotifyMessage

KEY = "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"
WECOM = f"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={KEY}"
DING = "https://oapi.dingtalk.com/robot/send?access_token=abcdef0123456789"
SECRET = "SEC0123456789abcdef0123456789abcdef"


def text(response) -> str:  # type: ignore[no-untyped-def]
    return str(response.get_data(as_text=True))


def channels(engine) -> list[tuple[str, str, str, str]]:  # type: ignore[no-untyped-def]
    with Session(engine) as s:
        return [
            (c.street, c.kind, c.webhook, c.secret) for c in s.exec(select(NotifyChannel).order_by(NotifyChannel.id))
        ]


def test_add_a_robot_and_its_secret_is_never_shown_again(as_role, engine) -> None:  # type: ignore[no-untyped-def]
    admin = as_role("admin")
    form = {
        "street": "静安寺街道",
        "kind": "dingtalk",
        "webhook": DING,
        "secret": SECRET,
        "quiet_start": "22:00",
        "quiet_end": "07:00",
        "red_in_quiet": "1",
    }
    assert post(admin, "/admin/notify/save", form).status_code == 302
    page = text(admin.get("/admin/notify"))
    assert "已保存 静安寺街道 的钉钉群机器人渠道" in page
    assert "access_token=****" in page and "已设置" in page and "22:00–07:00（红色照发）" in page
    assert "abcdef0123456789" not in page and SECRET not in page
    # saved again with blank webhook and secret: both kept, quiet hours changed
    again = {**form, "webhook": "", "secret": "", "quiet_start": "23:00"}
    assert post(admin, "/admin/notify/save", again).status_code == 302
    assert channels(engine) == [("静安寺街道", "dingtalk", DING, SECRET)]


def test_a_bad_webhook_is_refused_with_the_reason_and_nothing_is_stored(as_role, engine) -> None:  # type: ignore[no-untyped-def]
    admin = as_role("admin")
    bad = {
        "street": "静安寺街道",
        "kind": "wecom",
        "webhook": f"http://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={KEY}",
    }
    response = post(admin, "/admin/notify/save", bad)
    assert response.status_code == 422
    page = text(response)
    assert "保存通知渠道未完成：街镇「静安寺街道」的企业微信 webhook" in page and "必须以 https:// 开头" in page
    assert KEY not in page  # not even echoed back into the form
    assert channels(engine) == []
    assert post(admin, "/admin/notify/save", {**bad, "webhook": WECOM}).status_code == 302
    assert channels(engine) == [("静安寺街道", "wecom", WECOM, "")]


def test_a_failed_message_is_shown_and_can_be_resent(as_role, engine) -> None:  # type: ignore[no-untyped-def]
    admin = as_role("admin")
    post(admin, "/admin/notify/save", {"street": "静安寺街道", "kind": "wecom", "webhook": WECOM})
    with Session(engine) as s:
        channel = s.exec(select(NotifyChannel)).one()
        message = NotifyMessage(
            channel_id=channel.id or 0,
            idempotency_key="k1",
            street="静安寺街道",
            kind="batch",
            title="静安寺街道 诉件提醒 1 项",
            status="failed",
            attempts=1,
            last_error="企业微信群机器人拒绝：webhook key 无效（errcode 93000）：invalid webhook url",
            next_attempt_at=local("2026-11-18 09:01"),
            last_attempt_at=local("2026-11-18 09:01"),
            created_at=local("2026-11-18 09:01"),
        )
        s.add(message)
        s.commit()
        message_id = message.id
    page = text(admin.get("/admin/notify"))
    assert "webhook key 无效（errcode 93000）" in page and "已放弃" in page
    assert "1 个（发送失败 1 条）" in text(admin.get("/admin/"))
    assert post(admin, "/admin/notify/retry", {"message_id": str(message_id)}).status_code == 302
    with Session(engine) as s:
        stored = s.get(NotifyMessage, message_id)
        assert stored is not None and stored.status == "pending" and stored.attempts == 0


def test_a_squad_cannot_open_the_channels(as_role) -> None:  # type: ignore[no-untyped-def]
    squad = as_role("squad")
    assert squad.get("/admin/notify").status_code in (302, 403)
