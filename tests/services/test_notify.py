"""Squad notifications end to end against local robots on 127.0.0.1: events from the scan and from actions,
one message per street and run, each platform's exact JSON and signature, errors, rate limits, quiet
hours, the digest, and a sender killed between claiming and sending: every message arrives exactly once."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from tests.helpers import local
from tests.helpers_notify import Robot
from tracker.domain.lifecycle import ActionInput
from tracker.domain.notify import NotifyConfigError
from tracker.domain.vocabulary import Action
from tracker.models import NotifyEvent, NotifyMessage, Order
from tracker.services.notify import (
    ChannelInput,
    Transport,
    compose,
    deliver,
    load_channels_file,
    problem_messages,
    retry_message,
    save_channel,
)
from tracker.services.notify.delivery import claim
from tracker.services.orders import add_street
from tracker.services.orders.actions import apply_action
from tracker.services.orders.alerts import scan

MOBILE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
SECRET = "SEC0123456789abcdef0123456789abcdef"
KEY_A = "keyJingansi0001"
KEY_B = "keyCaojiadu0002"


TRANSPORT = Transport(allow_loopback=True, timeout=5)


@pytest.fixture
def streets(session: Session) -> None:
    add_street(session, name="静安寺街道")
    add_street(session, name="曹家渡街道")
    session.commit()


def channel(session: Session, street: str, kind: str, url: str, **extra: Any) -> int:
    secret = extra.pop("secret", SECRET if kind == "dingtalk" else None)
    data = ChannelInput(street=street, kind=kind, webhook=url, secret=secret, **extra)
    saved = save_channel(session, data=data, actor="管理员", now=local("2026-11-01 09:00"), allow_loopback=True)
    session.commit()
    return saved.id or 0


def orders(new_order, street: str, count: int, start: int = 1) -> list[Order]:  # type: ignore[no-untyped-def]
    return [
        new_order(
            "2026-11-16 09:00",
            order_no=f"SH20261116{start + i:04d}",
            street=street,
            phone=f"1381234{start + i:04d}",
            complainant="王先生",
            address="上海市静安区南京西路1266号",
        )
        for i in range(count)
    ]


def run(session: Session, engine: Engine, when: str, *, holder: str = "test-1") -> None:
    """One notify job: compose (committed), then deliver."""
    compose(session, now=local(when), base_url="https://tracker.example.cn")
    session.commit()
    deliver(engine, clock=lambda: local(when), holder=holder, transport=TRANSPORT)


def test_the_scan_sends_one_wecom_message_per_street_listing_only_its_orders(  # type: ignore[no-untyped-def]
    session: Session, engine: Engine, streets, new_order, calendar, robot: Robot
) -> None:
    channel(session, "静安寺街道", "wecom", robot.wecom(KEY_A))
    channel(session, "曹家渡街道", "wecom", robot.wecom(KEY_B))
    mine = orders(new_order, "静安寺街道", 10)
    theirs = orders(new_order, "曹家渡街道", 1, start=50)
    scan(session, now=local("2026-11-18 09:00"), calendar=calendar)  # contact due 11-17: red
    session.commit()
    run(session, engine, "2026-11-18 09:01")

    by_key = {r["query"]["key"]: r for r in robot.requests}
    assert len(robot.requests) == 2 and set(by_key) == {KEY_A, KEY_B}
    a = by_key[KEY_A]
    assert a["path"] == "/cgi-bin/webhook/send" and a["content_type"] == "application/json; charset=utf-8"
    assert set(a["json"]) == {"msgtype", "markdown"} and a["json"]["msgtype"] == "markdown"
    assert set(a["json"]["markdown"]) == {"content"}
    content = a["json"]["markdown"]["content"]
    assert content.startswith("### 静安寺街道 诉件提醒 10 项（红色 10）")
    assert all(f"[{o.order_no}](https://tracker.example.cn/orders/{o.id})" in content for o in mine)
    assert theirs[0].order_no not in content
    assert theirs[0].order_no in by_key[KEY_B]["json"]["markdown"]["content"]
    for request in robot.requests:
        text = json.dumps(request["json"], ensure_ascii=False)
        assert MOBILE.search(text) is None and "王先生" not in text and "1266号" not in text

    scan(session, now=local("2026-11-18 09:10"), calendar=calendar)  # nothing changed: nothing new
    session.commit()
    run(session, engine, "2026-11-18 09:11")
    assert len(robot.requests) == 2


def test_dingtalk_gets_title_text_timestamp_and_a_valid_sign(  # type: ignore[no-untyped-def]
    session: Session, engine: Engine, streets, new_order, calendar, robot: Robot
) -> None:
    channel(session, "静安寺街道", "dingtalk", robot.dingtalk("token0123456789"))
    orders(new_order, "静安寺街道", 2)
    scan(session, now=local("2026-11-18 09:00"), calendar=calendar)
    session.commit()
    run(session, engine, "2026-11-18 09:01")

    [request] = robot.requests
    assert request["path"] == "/robot/send"
    query = request["query"]
    assert set(query) == {"access_token", "timestamp", "sign"} and query["access_token"] == "token0123456789"
    expected = base64.b64encode(
        hmac.new(SECRET.encode(), f"{query['timestamp']}\n{SECRET}".encode(), hashlib.sha256).digest()
    ).decode()
    assert query["sign"] == expected  # parse_qsl decoded the URL-encoding
    body = request["json"]
    assert body["msgtype"] == "markdown" and set(body["markdown"]) == {"title", "text"}
    assert body["markdown"]["title"] == "静安寺街道 诉件提醒 2 项（红色 2）"
    assert "<font" not in body["markdown"]["text"] and "SH202611160001" in body["markdown"]["text"]


def test_rate_limit_and_server_errors_are_retried_and_delivered_once(  # type: ignore[no-untyped-def]
    session: Session, engine: Engine, streets, new_order, calendar, robot: Robot
) -> None:
    channel(session, "静安寺街道", "wecom", robot.wecom(KEY_A))
    orders(new_order, "静安寺街道", 1)
    scan(session, now=local("2026-11-18 09:00"), calendar=calendar)
    session.commit()
    robot.script = [(200, {"errcode": 45009, "errmsg": "api freq out of limit"}), (502, {"errcode": -1})]
    run(session, engine, "2026-11-18 09:01")
    message = session.exec(select(NotifyMessage)).one()
    session.refresh(message)
    assert message.status == "pending" and "限流" in message.last_error
    assert message.next_attempt_at == local("2026-11-18 09:02")
    run(session, engine, "2026-11-18 09:01:30")  # not due yet
    assert len(robot.requests) == 1
    run(session, engine, "2026-11-18 09:02")  # 502: back off 1 minute (second attempt)
    session.refresh(message)
    assert "HTTP 502" in message.last_error and message.next_attempt_at == local("2026-11-18 09:03")
    assert [m.id for m in problem_messages(session)] == [message.id]  # shown while retrying
    run(session, engine, "2026-11-18 09:03")
    run(session, engine, "2026-11-18 09:10")
    session.refresh(message)
    assert message.status == "sent" and message.attempts == 3
    assert [r["answer"] for r in robot.requests] == [45009, 502, 0]


def test_a_bad_key_is_given_up_shown_and_sent_after_the_fix(  # type: ignore[no-untyped-def]
    session: Session, engine: Engine, streets, new_order, calendar, robot: Robot
) -> None:
    channel(session, "静安寺街道", "wecom", robot.wecom(KEY_A))
    orders(new_order, "静安寺街道", 1)
    scan(session, now=local("2026-11-18 09:00"), calendar=calendar)
    session.commit()
    robot.script = [(200, {"errcode": 93000, "errmsg": "invalid webhook url"})]
    run(session, engine, "2026-11-18 09:01")
    [message] = problem_messages(session)
    assert message.status == "failed" and "webhook key 无效" in message.last_error
    run(session, engine, "2026-11-18 10:00")
    assert len(robot.requests) == 1  # given up: not hammered
    retry_message(session, message_id=message.id or 0, now=local("2026-11-18 10:05"))
    session.commit()
    run(session, engine, "2026-11-18 10:05")
    assert [r["answer"] for r in robot.requests] == [93000, 0]
    assert problem_messages(session) == []


def test_network_down_is_recorded_and_sent_when_the_robot_answers(  # type: ignore[no-untyped-def]
    session: Session, engine: Engine, streets, new_order, calendar, robot: Robot
) -> None:
    channel(session, "静安寺街道", "wecom", "http://127.0.0.1:9/cgi-bin/webhook/send?key=keyNobodyHere1")
    orders(new_order, "静安寺街道", 1)
    scan(session, now=local("2026-11-18 09:00"), calendar=calendar)
    session.commit()
    run(session, engine, "2026-11-18 09:01")
    [message] = problem_messages(session)
    assert message.status == "pending" and message.last_error.startswith("网络错误")
    channel(session, "静安寺街道", "wecom", robot.wecom(KEY_A))  # the network (here: the URL) is back
    run(session, engine, "2026-11-18 09:02")
    assert len(robot.delivered()) == 1 and robot.requests[0]["query"]["key"] == KEY_A


def test_a_sender_killed_after_claiming_sends_exactly_once_after_its_lease(  # type: ignore[no-untyped-def]
    session: Session, engine: Engine, streets, new_order, calendar, robot: Robot
) -> None:
    channel(session, "静安寺街道", "wecom", robot.wecom(KEY_A))
    orders(new_order, "静安寺街道", 3)
    scan(session, now=local("2026-11-18 09:00"), calendar=calendar)
    session.commit()
    compose(session, now=local("2026-11-18 09:01"), base_url="")
    session.commit()  # written, then the scheduler dies before sending: still there at restart
    with Session(engine) as dying:  # a second scheduler claims it and dies before the request leaves
        claimed = claim(
            dying,
            now=local("2026-11-18 09:01"),
            holder="dead-1",
            lease=timedelta(minutes=2),
            skip=set(),
        )
        assert claimed is not None
        dying.commit()
    deliver(engine, clock=lambda: local("2026-11-18 09:02"), holder="new-2", transport=TRANSPORT)
    assert robot.requests == []  # the dead holder's lease still runs: nobody sends it twice at once
    for when in ("2026-11-18 09:04", "2026-11-18 09:05", "2026-11-18 10:00"):
        run(session, engine, when, holder="new-2")
    assert len(robot.requests) == 1
    message = session.exec(select(NotifyMessage)).one()
    session.refresh(message)
    assert message.status == "sent" and message.attempts == 2


def test_a_restarted_scheduler_sends_what_was_written_before_the_crash(  # type: ignore[no-untyped-def]
    session: Session, engine: Engine, streets, new_order, calendar, robot: Robot
) -> None:
    channel(session, "静安寺街道", "wecom", robot.wecom(KEY_A))
    orders(new_order, "静安寺街道", 2)
    scan(session, now=local("2026-11-18 09:00"), calendar=calendar)
    session.commit()  # the events are stored with the alerts; the process dies before the notify job
    for when, holder in (("2026-11-18 09:05", "after-restart"), ("2026-11-18 09:06", "taken-over")):
        run(session, engine, when, holder=holder)
    assert len(robot.requests) == 1


def test_the_rate_limit_holds_twenty_a_minute_per_robot(  # type: ignore[no-untyped-def]
    session: Session, engine: Engine, streets, new_order, robot: Robot
) -> None:
    channel_id = channel(session, "静安寺街道", "wecom", robot.wecom(KEY_A))
    other_id = channel(session, "曹家渡街道", "wecom", robot.wecom(KEY_B))
    for i, (street, target) in enumerate([("静安寺街道", channel_id)] * 45 + [("曹家渡街道", other_id)]):
        # 45 separate decisions composed in 45 runs: 45 messages waiting, and one for another robot behind them
        [order] = orders(new_order, street, 1, start=100 + i)
        session.add(
            NotifyEvent(
                channel_id=target,
                key=f"k{i}",
                kind="supervise",
                street=street,
                order_id=order.id,
                order_no=order.order_no,
                created_at=local("2026-11-18 09:00"),
            )
        )
        session.flush()
        compose(session, now=local("2026-11-18 09:00"), base_url="")
    session.commit()
    deliver(engine, clock=lambda: local("2026-11-18 09:00"), holder="t", transport=TRANSPORT)
    keys = [r["query"]["key"] for r in robot.requests]
    assert keys.count(KEY_A) == 20 and keys.count(KEY_B) == 1  # the other robot is not held up behind the first
    deliver(engine, clock=lambda: local("2026-11-18 09:00:30"), holder="t", transport=TRANSPORT)
    assert len(robot.requests) == 21
    deliver(engine, clock=lambda: local("2026-11-18 09:01:01"), holder="t", transport=TRANSPORT)
    assert len(robot.requests) == 41
    deliver(engine, clock=lambda: local("2026-11-18 09:02:02"), holder="t", transport=TRANSPORT)
    assert len(robot.requests) == 46


def test_quiet_hours_hold_all_but_red_when_the_street_asks(  # type: ignore[no-untyped-def]
    session: Session, engine: Engine, streets, new_order, calendar, robot: Robot
) -> None:
    channel(session, "静安寺街道", "wecom", robot.wecom(KEY_A), red_in_quiet=True)
    channel(session, "曹家渡街道", "wecom", robot.wecom(KEY_B))
    red = orders(new_order, "静安寺街道", 1)[0]  # contact due 11-17 end of day: red at 23:00 on 11-18
    orders(new_order, "曹家渡街道", 1, start=50)
    scan(session, now=local("2026-11-18 23:00"), calendar=calendar)
    session.commit()
    run(session, engine, "2026-11-18 23:01")
    assert [r["query"]["key"] for r in robot.requests] == [KEY_A]  # red goes; 曹家渡 did not ask
    assert red.order_no in robot.requests[0]["json"]["markdown"]["content"]
    run(session, engine, "2026-11-19 06:59")
    assert len(robot.requests) == 1
    run(session, engine, "2026-11-19 07:00")
    assert [r["query"]["key"] for r in robot.requests] == [KEY_A, KEY_B]


def test_the_digest_takes_the_place_of_the_batch(  # type: ignore[no-untyped-def]
    session: Session, engine: Engine, streets, new_order, calendar, robot: Robot
) -> None:
    from tracker.services.orders import build_digests, notices

    channel(session, "静安寺街道", "dingtalk", robot.dingtalk("token0123456789"))
    [order] = orders(new_order, "静安寺街道", 1)
    scan(session, now=local("2026-11-18 08:29"), calendar=calendar)
    digests = build_digests(session, now=local("2026-11-18 08:30"))
    notices.enqueue_digest_notices(
        session, digests=digests, day=local("2026-11-18 08:30").date(), now=local("2026-11-18 08:30")
    )
    session.commit()
    run(session, engine, "2026-11-18 08:30")
    [request] = robot.requests
    text = request["json"]["markdown"]["text"]
    assert request["json"]["markdown"]["title"] == "静安寺街道 诉件日报 2026-11-18"
    assert "诉件日报" in text and "另有 1 项待告知的提醒" in text and order.order_no in text
    notices.enqueue_digest_notices(
        session, digests=digests, day=local("2026-11-18 08:30").date(), now=local("2026-11-18 08:40")
    )
    session.commit()
    run(session, engine, "2026-11-18 08:41")  # the digest job run again: no second digest
    assert len(robot.requests) == 1


def test_a_supervision_is_told_only_if_its_transaction_commits(  # type: ignore[no-untyped-def]
    session: Session, engine: Engine, streets, new_order, make_ctx, robot: Robot
) -> None:
    channel(session, "静安寺街道", "wecom", robot.wecom(KEY_A))
    [order] = orders(new_order, "静安寺街道", 1)
    session.commit()
    data = ActionInput(reason="市民多次来电")
    apply_action(session, order=order, action=Action.SUPERVISE, data=data, ctx=make_ctx("2026-11-16 10:00"))
    session.rollback()
    assert session.exec(select(NotifyEvent)).all() == []
    order = session.get(Order, order.id)
    apply_action(session, order=order, action=Action.SUPERVISE, data=data, ctx=make_ctx("2026-11-16 10:00"))  # type: ignore[arg-type]
    session.commit()
    run(session, engine, "2026-11-16 10:01")
    [request] = robot.requests
    content = request["json"]["markdown"]["content"]
    assert "督办" in content and "阶段：督办" in content and order.order_no in content  # type: ignore[union-attr]
    assert "期限：2026-11-19 23:59" in content  # 3 working days


def test_channels_are_checked_before_anything_is_saved(session: Session, streets, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    now = local("2026-11-01 09:00")
    with pytest.raises(NotifyConfigError, match="街镇「不存在街道」不在街镇名单中"):
        save_channel(session, data=ChannelInput(street="不存在街道", kind="email", emails="a@b.cn"), actor="x", now=now)
    with pytest.raises(NotifyConfigError, match="邮箱「not-an-address」格式不正确"):
        save_channel(
            session,
            data=ChannelInput(street="静安寺街道", kind="email", emails="a@b.cn, not-an-address"),
            actor="x",
            now=now,
        )
    with pytest.raises(NotifyConfigError, match="钉钉机器人缺少加签密钥"):
        url = "https://oapi.dingtalk.com/robot/send?access_token=token0123456789"
        save_channel(session, data=ChannelInput(street="静安寺街道", kind="dingtalk", webhook=url), actor="x", now=now)
    secret_file = tmp_path / "wecom_key"
    secret_file.write_text("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=fromTheFile0001\n")
    good = tmp_path / "good.toml"
    good.write_text(
        f'[[channel]]\nstreet = "静安寺街道"\nkind = "wecom"\nwebhook_file = "{secret_file}"\nred_in_quiet = true\n'
        '[[channel]]\nstreet = "曹家渡街道"\nkind = "email"\nemails = ["duty@caojiadu.example.cn"]\n'
    )
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[[channel]]\nstreet = "静安寺街道"\nkind = "email"\nemails = "a@b.cn"\n'
        '[[channel]]\nstreet = "曹家渡街道"\nkind = "wecom"\nwebhook = "https://example.com/hook?key=abcdefgh123"\n'
    )
    with pytest.raises(NotifyConfigError, match="第 2 个 \\[\\[channel\\]\\]：街镇「曹家渡街道」的企业微信 webhook"):
        load_channels_file(session, path=bad, actor="x", now=now)
    assert session.exec(select(NotifyEvent)).all() == []
    from tracker.services.notify import list_channels

    assert list_channels(session) == []  # the first, valid entry was not saved either
    saved = load_channels_file(session, path=good, actor="x", now=now)
    assert [(c.street, c.kind, c.webhook, c.webhook_file, c.emails) for c in saved] == [
        ("静安寺街道", "wecom", "", str(secret_file), ""),
        ("曹家渡街道", "email", "", "", "duty@caojiadu.example.cn"),
    ]


def test_an_email_channel_gets_the_batch_as_one_mail(  # type: ignore[no-untyped-def]
    session: Session, engine: Engine, streets, new_order, calendar, mailbox
) -> None:
    from email import message_from_bytes, policy

    from tracker.services.orders import MailSettings

    save_channel(
        session,
        data=ChannelInput(
            street="静安寺街道", kind="email", emails="duty@jingansi.example.cn; chief@jingansi.example.cn"
        ),
        actor="管理员",
        now=local("2026-11-01 09:00"),
    )
    session.commit()
    mine = orders(new_order, "静安寺街道", 3)
    orders(new_order, "曹家渡街道", 1, start=50)
    scan(session, now=local("2026-11-18 09:00"), calendar=calendar)
    compose(session, now=local("2026-11-18 09:01"), base_url="")
    session.commit()
    transport = Transport(mail=MailSettings(host="127.0.0.1", port=mailbox.port, sender="tracker@example.cn"))
    nothing = Transport()  # SMTP not configured: recorded, retried, not lost
    deliver(engine, clock=lambda: local("2026-11-18 09:01"), holder="t", transport=nothing)
    [problem] = problem_messages(session)
    assert "未配置 SMTP" in problem.last_error and problem.status == "failed"
    retry_message(session, message_id=problem.id or 0, now=local("2026-11-18 09:05"))
    session.commit()
    deliver(engine, clock=lambda: local("2026-11-18 09:05"), holder="t", transport=transport)
    [(to, raw)] = mailbox.messages
    assert to == ["duty@jingansi.example.cn", "chief@jingansi.example.cn"]
    mail = message_from_bytes(raw, policy=policy.default)
    assert mail["Subject"] == "静安寺街道 诉件提醒 3 项（红色 3）"
    body = mail.get_body().get_content()  # type: ignore[union-attr]
    assert all(o.order_no in body for o in mine) and "SH202611160050" not in body
    assert MOBILE.search(body) is None


KILLER = """
import os, signal, sys
from datetime import datetime
from tracker.db import make_engine
from tracker.services.notify import Transport, deliver

class Dying(Transport):
    def post(self, url, body):
        if sys.argv[2] == "before":
            os.kill(os.getpid(), signal.SIGKILL)  # dies before the request leaves
        answer = super().post(url, body)
        os.kill(os.getpid(), signal.SIGKILL)  # the robot took it; dies before `sent` is committed
        return answer

now = datetime.fromisoformat(sys.argv[3])
deliver(make_engine(sys.argv[1]), clock=lambda: now, holder="doomed", transport=Dying(allow_loopback=True, timeout=5))
"""


@pytest.mark.parametrize(("when", "arrivals"), [("before", 1), ("after", 2)])
def test_a_scheduler_killed_by_sigkill(  # type: ignore[no-untyped-def]
    session: Session, engine: Engine, database_url: str, streets, new_order, calendar, robot: Robot, when, arrivals
) -> None:
    """Killed before the request leaves: sent once after the lease. Killed after the robot accepted it and
    before ``sent`` was committed: sent again after the lease (the documented at-least-once window)."""
    import subprocess
    import sys

    channel(session, "静安寺街道", "wecom", robot.wecom(KEY_A))
    orders(new_order, "静安寺街道", 2)
    scan(session, now=local("2026-11-18 09:00"), calendar=calendar)
    compose(session, now=local("2026-11-18 09:01"), base_url="")
    session.commit()
    start = local("2026-11-18 09:01").isoformat()
    killed = subprocess.run([sys.executable, "-c", KILLER, database_url, when, start], cwd=Path(__file__).parents[2])
    assert killed.returncode == -9
    assert len(robot.requests) == arrivals - 1
    run(session, engine, "2026-11-18 09:02", holder="standby")  # lease of the dead one still runs
    assert len(robot.requests) == arrivals - 1
    run(session, engine, "2026-11-18 09:04", holder="standby")
    run(session, engine, "2026-11-18 09:10", holder="standby")
    assert len(robot.requests) == arrivals
    message = session.exec(select(NotifyMessage)).one()
    session.refresh(message)
    assert message.status == "sent" and message.attempts == 2


def test_yellow_then_red_are_told_once_each(  # type: ignore[no-untyped-def]
    session: Session, engine: Engine, streets, new_order, calendar, robot: Robot
) -> None:
    channel(
        session, "静安寺街道", "wecom", robot.wecom(KEY_A), quiet_start="00:00", quiet_end="00:00"
    )  # no quiet hours
    [order] = orders(new_order, "静安寺街道", 1)  # contact due 2026-11-17 23:59
    for when in ("2026-11-17 12:00", "2026-11-17 20:00", "2026-11-17 20:10", "2026-11-18 00:30", "2026-11-18 01:00"):
        scan(session, now=local(when), calendar=calendar)
        session.commit()
        run(session, engine, when)
    contents = [r["json"]["markdown"]["content"] for r in robot.requests]
    assert len(contents) == 2  # blue is not told; each rise once
    assert "黄色预警" in contents[0] and "红色预警" in contents[1]
    assert all(order.order_no in c for c in contents)


def test_return_and_extension_decisions_are_told_with_their_outcome(  # type: ignore[no-untyped-def]
    session: Session, engine: Engine, streets, new_order, make_ctx, robot: Robot
) -> None:
    from datetime import date

    channel(session, "静安寺街道", "wecom", robot.wecom(KEY_A))
    first, second = orders(new_order, "静安寺街道", 2)
    apply_action(session, order=first, action=Action.SIGN, data=ActionInput(), ctx=make_ctx("2026-11-16 09:30"))
    apply_action(
        session,
        order=first,
        action=Action.REQUEST_RETURN,
        data=ActionInput(reason_code="非本辖区", basis="地址属江宁路街道，市民电话 13812345678"),
        ctx=make_ctx("2026-11-16 10:00"),
    )
    apply_action(session, order=second, action=Action.SIGN, data=ActionInput(), ctx=make_ctx("2026-11-16 09:30"))
    apply_action(
        session,
        order=second,
        action=Action.REQUEST_EXTENSION,
        data=ActionInput(reason="需协调房管部门", new_due_date=date(2026, 11, 30)),
        ctx=make_ctx("2026-11-16 10:00"),
    )
    session.commit()
    run(session, engine, "2026-11-16 10:01")
    assert robot.requests == []  # a squad's own requests are not told back to it
    apply_action(
        session,
        order=first,
        action=Action.REJECT_RETURN,
        data=ActionInput(reason="属本辖区"),
        ctx=make_ctx("2026-11-16 11:00"),
    )
    apply_action(
        session, order=second, action=Action.APPROVE_EXTENSION, data=ActionInput(), ctx=make_ctx("2026-11-16 11:00")
    )
    session.commit()
    run(session, engine, "2026-11-16 11:01")
    [request] = robot.requests  # both decisions in one message
    content = request["json"]["markdown"]["content"]
    assert (
        f"[{first.order_no}](https://tracker.example.cn/orders/{first.id}) 退单审核结果，阶段：办结，退单申请被驳回"
        in content
    )
    assert (
        f"[{second.order_no}](https://tracker.example.cn/orders/{second.id}) 延期审核结果，阶段：办结，延期申请已批准，期限：2026-11-30 23:59"
        in content
    )
    assert MOBILE.search(content) is None


def test_two_senders_at_once_send_each_message_once(  # type: ignore[no-untyped-def]
    session: Session, engine: Engine, streets, new_order, robot: Robot
) -> None:
    channel_id = channel(session, "静安寺街道", "wecom", robot.wecom(KEY_A))
    for i in range(12):
        [order] = orders(new_order, "静安寺街道", 1, start=200 + i)
        session.add(
            NotifyEvent(
                channel_id=channel_id,
                key=f"k{i}",
                kind="redo",
                street="静安寺街道",
                order_id=order.id,
                order_no=order.order_no,
                created_at=local("2026-11-18 09:00"),
            )
        )
        session.flush()
        compose(session, now=local("2026-11-18 09:00"), base_url="")
    session.commit()
    senders = [
        threading.Thread(
            target=deliver,
            args=(engine,),
            kwargs={"clock": lambda: local("2026-11-18 09:00"), "holder": f"s{n}", "transport": TRANSPORT},
        )
        for n in range(2)
    ]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join()
    numbers = sorted(re.findall(r"SH2026111602\d\d", "".join(r["json"]["markdown"]["content"] for r in robot.requests)))
    assert numbers == [f"SH2026111602{i:02d}" for i in range(12)]
    assert session.exec(select(NotifyMessage).where(NotifyMessage.status != "sent")).all() == []


def test_old_sent_messages_are_pruned_and_failed_ones_kept(session: Session, streets) -> None:  # type: ignore[no-untyped-def]
    from tracker.services.notify import prune_sent

    channel_id = channel(session, "静安寺街道", "email", "", emails="duty@jingansi.example.cn")
    for key, status, sent in (
        ("old", "sent", "2026-08-01 09:00"),
        ("new", "sent", "2026-11-10 09:00"),
        ("bad", "failed", None),
    ):
        message = NotifyMessage(
            channel_id=channel_id,
            idempotency_key=key,
            street="静安寺街道",
            kind="batch",
            status=status,
            next_attempt_at=local("2026-08-01 09:00"),
            created_at=local("2026-08-01 09:00"),
            sent_at=local(sent) if sent else None,
        )
        session.add(message)
        session.flush()
        session.add(
            NotifyEvent(
                channel_id=channel_id,
                key=key,
                kind="redo",
                street="静安寺街道",
                created_at=local("2026-08-01 09:00"),
                batched_at=local("2026-08-01 09:00"),
                message_id=message.id,
            )
        )
    session.commit()
    assert prune_sent(session, before=local("2026-11-18 09:00") - timedelta(days=90)) == 1
    session.commit()
    assert sorted(m.idempotency_key for m in session.exec(select(NotifyMessage))) == ["bad", "new"]
    assert sorted(e.key for e in session.exec(select(NotifyEvent))) == ["bad", "new"]


def test_an_alert_held_overnight_is_not_told_once_its_stage_is_done(  # type: ignore[no-untyped-def]
    session: Session, engine: Engine, streets, new_order, make_ctx, calendar, robot: Robot
) -> None:
    channel(session, "静安寺街道", "wecom", robot.wecom(KEY_A))  # quiet 22:00–07:00, red not let through
    done, still = orders(new_order, "静安寺街道", 2)
    scan(session, now=local("2026-11-18 23:00"), calendar=calendar)
    session.commit()
    run(session, engine, "2026-11-18 23:01")
    assert robot.requests == []
    apply_action(
        session,
        order=done,
        action=Action.FIRST_CONTACT,
        data=ActionInput(contact_result="已联"),
        ctx=make_ctx("2026-11-18 23:30"),
    )
    scan(session, now=local("2026-11-18 23:40"), calendar=calendar)  # resolves its alert
    session.commit()
    run(session, engine, "2026-11-19 07:00")
    [request] = robot.requests
    content = request["json"]["markdown"]["content"]
    assert still.order_no in content and done.order_no not in content
    assert content.startswith("### 静安寺街道 诉件提醒 1 项")
    assert session.exec(select(NotifyEvent).where(col(NotifyEvent.batched_at).is_(None))).all() == []
