"""Squad notification messages as data: each platform's exact JSON, DingTalk's signature, webhook checks,
masking, length limits, quiet hours, back-off and what a platform's answer means."""

from __future__ import annotations

import json
import re
from datetime import time, timedelta

import pytest

from tests.helpers import local
from tracker.domain.notify import (
    DINGTALK,
    EMAIL,
    WECOM,
    WECOM_MAX_BYTES,
    EventView,
    NotifyConfigError,
    backoff,
    dingtalk_sign,
    dingtalk_url,
    in_quiet_hours,
    parse_hhmm,
    payload,
    read_answer,
    redact_webhook,
    render,
    validate_webhook,
)

WECOM_URL = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"
DING_URL = "https://oapi.dingtalk.com/robot/send?access_token=0123456789abcdef0123456789abcdef"
SECRET = "SEC0123456789abcdef0123456789abcdef"
MOBILE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


def test_wecom_payload_is_the_documented_markdown_message() -> None:
    assert json.loads(payload(WECOM, "标题", "### 内容")) == {
        "msgtype": "markdown",
        "markdown": {"content": "### 内容"},
    }


def test_dingtalk_payload_has_title_and_text() -> None:
    assert json.loads(payload(DINGTALK, "标题", "### 内容")) == {
        "msgtype": "markdown",
        "markdown": {"title": "标题", "text": "### 内容"},
    }


def test_dingtalk_sign_matches_openssl() -> None:
    # printf '1700000000000\nSEC…' | openssl dgst -sha256 -hmac SEC… -binary | base64, then URL-encoded
    assert dingtalk_sign(SECRET, 1700000000000) == "hJ95%2FXWePTzrSwXDHEJJY1Ta0B6qiG%2FYMxNzB4v4U2w%3D"
    assert dingtalk_url(DING_URL, SECRET, 1700000000000) == (
        DING_URL + "&timestamp=1700000000000&sign=hJ95%2FXWePTzrSwXDHEJJY1Ta0B6qiG%2FYMxNzB4v4U2w%3D"
    )


def test_platform_webhooks_are_accepted() -> None:
    assert validate_webhook(WECOM, WECOM_URL, street="静安寺街道") == WECOM_URL
    assert validate_webhook(DINGTALK, DING_URL, street="静安寺街道") == DING_URL


@pytest.mark.parametrize(
    ("kind", "url", "words"),
    [
        (WECOM, "http://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abcdefgh12", "必须以 https:// 开头"),
        (WECOM, "https://evil.example.com/cgi-bin/webhook/send?key=abcdefgh12", "不是企业微信群机器人地址"),
        (WECOM, "https://qyapi.weixin.qq.com/cgi-bin/webhook/send", "缺少有效的 key 参数"),
        (DINGTALK, WECOM_URL, "不是钉钉群机器人地址"),
        (WECOM, "http://127.0.0.1:8080/cgi-bin/webhook/send?key=abcdefgh12", "必须以 https:// 开头"),
        (WECOM, "", "为空"),
    ],
)
def test_bad_webhooks_are_refused_naming_street_and_field(kind: str, url: str, words: str) -> None:
    with pytest.raises(NotifyConfigError) as caught:
        validate_webhook(kind, url, street="静安寺街道")
    assert "静安寺街道" in caught.value.message and words in caught.value.message
    assert "abcdefgh12" not in caught.value.message  # the key is a secret: never repeated


def test_loopback_only_with_the_test_flag() -> None:
    url = "http://127.0.0.1:8080/cgi-bin/webhook/send?key=abcdefgh12"
    assert validate_webhook(WECOM, url, street="静安寺街道", allow_loopback=True) == url
    with pytest.raises(NotifyConfigError):
        validate_webhook(WECOM, "http://10.0.0.5/cgi-bin/webhook/send?key=abcdefgh12", street="x", allow_loopback=True)


def test_redacted_webhook_hides_the_key() -> None:
    assert redact_webhook(WECOM_URL) == "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=****"
    assert redact_webhook(DING_URL) == "https://oapi.dingtalk.com/robot/send?access_token=****"


def events(n: int, **extra: object) -> list[EventView]:
    return [
        EventView(
            kind="alert",
            order_no=f"SH2026111600{i:02d}",
            order_id=100 + i,
            stage="先行联系",
            level="red" if i % 2 else "yellow",
            due_at=local("2026-11-17 23:59"),
            **extra,  # type: ignore[arg-type]
        )
        for i in range(n)
    ]


def test_a_batch_lists_each_order_with_stage_level_due_and_link() -> None:
    title, text = render(
        WECOM,
        street="静安寺街道",
        events=events(2),
        base_url="https://tracker.example.cn/",
        now=local("2026-11-18 09:00"),
    )
    assert title == "静安寺街道 诉件提醒 2 项（红色 1）"
    assert text.splitlines() == [
        "### 静安寺街道 诉件提醒 2 项（红色 1）",
        "",
        '- [SH202611160001](https://tracker.example.cn/orders/101) 预警，<font color="warning">红色预警</font>，阶段：先行联系，期限：2026-11-17 23:59',
        '- [SH202611160000](https://tracker.example.cn/orders/100) 预警，<font color="comment">黄色预警</font>，阶段：先行联系，期限：2026-11-17 23:59',
        "",
        "> 发送时间 2026-11-18 09:00（北京时间）；请登录诉件系统处理。",
    ]


def test_dingtalk_batch_has_no_wecom_font_tags() -> None:
    _, text = render(DINGTALK, street="静安寺街道", events=events(2), base_url="", now=local("2026-11-18 09:00"))
    assert "<font" not in text and "**红色预警**" in text and "- SH202611160001 预警" in text


def test_phone_numbers_in_a_detail_or_digest_are_masked() -> None:
    detail = [EventView(kind="return_decision", order_no="SH1", order_id=1, detail="市民 13812345678 来电")]
    _, text = render(
        EMAIL,
        street="静安寺街道",
        events=detail,
        base_url="",
        now=local("2026-11-18 09:00"),
        digest_text="联系 13987654321",
    )
    assert MOBILE.search(text) is None
    assert "138****5678" in text and "139****4321" in text


def test_a_long_batch_fits_the_wecom_limit_and_says_how_many_are_left_out() -> None:
    _, text = render(
        WECOM, street="静安寺街道", events=events(200), base_url="https://t.cn", now=local("2026-11-18 09:00")
    )
    assert len(text.encode("utf-8")) <= WECOM_MAX_BYTES
    listed = len([line for line in text.splitlines() if line.startswith("- [")])
    assert 10 < listed < 200
    assert f"……另有 {200 - listed} 项未列出" in text


def test_quiet_hours_span_midnight() -> None:
    start, end = parse_hhmm("22:00", street="s", field="f"), parse_hhmm("07:00", street="s", field="f")
    assert in_quiet_hours(time(23, 0), start, end) and in_quiet_hours(time(6, 59), start, end)
    assert not in_quiet_hours(time(7, 0), start, end) and not in_quiet_hours(time(21, 59), start, end)
    assert in_quiet_hours(time(13, 0), time(12, 0), time(14, 0)) and not in_quiet_hours(time(13, 0), start, start)


def test_a_bad_time_names_street_field_and_value() -> None:
    with pytest.raises(NotifyConfigError, match="街镇「静安寺街道」的免打扰开始时间「25:00」不是 HH:MM"):
        parse_hhmm("25:00", street="静安寺街道", field="免打扰开始时间")


def test_backoff_doubles_to_an_hour() -> None:
    assert [backoff(n) for n in (1, 2, 3)] == [timedelta(seconds=30), timedelta(seconds=60), timedelta(seconds=120)]
    assert backoff(30) == timedelta(hours=1)


def test_platform_answers() -> None:
    assert read_answer(WECOM, 200, b'{"errcode": 0, "errmsg": "ok"}').ok
    limited = read_answer(WECOM, 200, b'{"errcode": 45009, "errmsg": "api freq out of limit"}')
    assert limited.rate_limited and not limited.ok and "45009" in limited.error
    bad_key = read_answer(WECOM, 200, b'{"errcode": 93000, "errmsg": "invalid webhook url"}')
    assert bad_key.permanent and "webhook key 无效" in bad_key.error
    assert read_answer(DINGTALK, 200, b'{"errcode": 130101, "errmsg": "send too fast"}').rate_limited
    assert read_answer(DINGTALK, 200, b'{"errcode": 310000, "errmsg": "sign not match"}').permanent
    other = read_answer(DINGTALK, 502, b"<html>bad gateway</html>")
    assert not other.ok and not other.permanent and "HTTP 502" in other.error
