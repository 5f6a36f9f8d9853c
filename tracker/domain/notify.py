"""Squad notifications as data: what a message says, each platform's payload and signature, webhook
validation, quiet hours, back-off and what a platform's answer means. No I/O here.

Platform facts (public docs): a 企业微信 group robot takes ``{"msgtype": "markdown", "markdown":
{"content": …}}`` (content at most 4096 bytes, 20 messages a minute; errcode 45009 = too fast,
93000 = invalid key); a 钉钉 custom robot takes ``{"msgtype": "markdown", "markdown": {"title": …,
"text": …}}`` at ``…&timestamp=T&sign=S`` where S is the URL-encoded base64 HMAC-SHA256 of
``f"{T}\\n{secret}"`` keyed by the secret (20 messages a minute; 130101 = too fast, 310000 = sign,
keyword or IP refused).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from tracker.domain.errors import TrackerError
from tracker.domain.labels import format_local
from tracker.domain.privacy import mask_phones_in_text

WECOM = "wecom"
DINGTALK = "dingtalk"
EMAIL = "email"
KIND_LABELS = {WECOM: "企业微信群机器人", DINGTALK: "钉钉群机器人", EMAIL: "电子邮件"}

WECOM_HOST = "qyapi.weixin.qq.com"
WECOM_PATH = "/cgi-bin/webhook/send"
DINGTALK_HOST = "oapi.dingtalk.com"
DINGTALK_PATH = "/robot/send"
WECOM_MAX_BYTES = 4096
DINGTALK_MAX_BYTES = 20000  # kept well under what the robot accepts; a long batch says how many were left out
PER_MINUTE = {WECOM: 20, DINGTALK: 20, EMAIL: 60}  # robots: the documented limit; e-mail: our own courtesy

EVENT_LABELS = {
    "alert": "预警",
    "supervise": "督办",
    "redo": "重办",
    "return_decision": "退单审核结果",
    "extension_decision": "延期审核结果",
    "digest": "日报",
}
LEVEL_LABELS = {"red": "红色预警", "yellow": "黄色预警", "blue": "蓝色预警"}


class NotifyConfigError(TrackerError):
    """A channel setting that cannot be used: names the street, field and value (secrets never shown)."""


@dataclass(frozen=True)
class EventView:
    """One line of a message: an order and what happened to it (no personal data)."""

    kind: str
    order_no: str
    order_id: int | None = None
    stage: str = ""  # already a Chinese label
    level: str = ""
    due_at: datetime | None = None
    detail: str = ""


# --- webhooks


def redact_webhook(url: str) -> str:
    """The URL with its key / access_token hidden, for pages and logs."""
    if not url:
        return ""
    parts = urllib.parse.urlsplit(url)
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    shown = "&".join(f"{k}=****" if k in ("key", "access_token") else f"{k}={v}" for k, v in query)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, shown, ""))


def validate_webhook(kind: str, url: str, *, street: str, allow_loopback: bool = False) -> str:
    """The robot URL if it is one: https to the platform's own host and path with its key.

    With ``allow_loopback`` (tests, TRACKER_NOTIFY_ALLOW_LOOPBACK) an http URL on 127.0.0.1 or
    localhost is accepted as well; nothing else ever is, so a channel cannot point the server elsewhere.
    """
    url = url.strip()
    field = "企业微信 webhook" if kind == WECOM else "钉钉 webhook"
    shown = redact_webhook(url) or "（空）"
    if not url:
        raise NotifyConfigError(f"街镇「{street}」的{field}为空")
    parts = urllib.parse.urlsplit(url)
    token_name = "key" if kind == WECOM else "access_token"
    token = urllib.parse.parse_qs(parts.query).get(token_name, [""])[0]
    loopback = allow_loopback and parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost")
    host, path = (WECOM_HOST, WECOM_PATH) if kind == WECOM else (DINGTALK_HOST, DINGTALK_PATH)
    if not loopback:
        if parts.scheme != "https":
            raise NotifyConfigError(f"街镇「{street}」的{field}「{shown}」必须以 https:// 开头")
        if parts.hostname != host or parts.path != path or parts.port not in (None, 443):
            raise NotifyConfigError(
                f"街镇「{street}」的{field}「{shown}」不是{KIND_LABELS[kind]}地址：应为 https://{host}{path}?{token_name}=…"
            )
    if not re.fullmatch(r"[A-Za-z0-9_-]{8,128}", token):
        raise NotifyConfigError(f"街镇「{street}」的{field}「{shown}」缺少有效的 {token_name} 参数")
    return url


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """The ``sign`` parameter: URL-encoded base64 of HMAC-SHA256(secret, f"{timestamp}\\n{secret}")."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return urllib.parse.quote_plus(base64.b64encode(digest).decode("ascii"))


def dingtalk_url(webhook: str, secret: str, timestamp_ms: int) -> str:
    """The robot URL with ``timestamp`` and ``sign`` appended (unsigned when the robot has no secret)."""
    if not secret:
        return webhook
    return f"{webhook}&timestamp={timestamp_ms}&sign={dingtalk_sign(secret, timestamp_ms)}"


def payload(kind: str, title: str, text: str) -> bytes:
    """The JSON body a robot expects (UTF-8)."""
    if kind == WECOM:
        body: dict[str, object] = {"msgtype": "markdown", "markdown": {"content": text}}
    else:
        body = {"msgtype": "markdown", "markdown": {"title": title, "text": text}}
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


# --- what a message says


def _level(kind: str, level: str) -> str:
    label = LEVEL_LABELS.get(level, level)
    if kind == WECOM and level == "red":
        return f'<font color="warning">{label}</font>'
    if kind == WECOM and level == "yellow":
        return f'<font color="comment">{label}</font>'
    return f"**{label}**" if level == "red" else label


def event_line(kind: str, event: EventView, base_url: str) -> str:
    """One order in a message: number (a link to its page), what happened, stage, level, due time."""
    number = event.order_no or "（无编号）"
    link = f"[{number}]({base_url.rstrip('/')}/orders/{event.order_id})" if base_url and event.order_id else number
    parts = [EVENT_LABELS.get(event.kind, event.kind)]
    if event.level:
        parts.append(_level(kind, event.level))
    if event.stage:
        parts.append(f"阶段：{event.stage}")
    if event.detail:
        parts.append(mask_phones_in_text(event.detail))
    if event.due_at is not None:
        parts.append(f"期限：{format_local(event.due_at)}")
    return f"- {link} " + "，".join(parts)


def _fits(kind: str, text: str) -> bool:
    limit = WECOM_MAX_BYTES if kind == WECOM else DINGTALK_MAX_BYTES
    return kind == EMAIL or len(text.encode("utf-8")) <= limit


def render(
    kind: str,
    *,
    street: str,
    events: Sequence[EventView],
    base_url: str,
    now: datetime,
    digest_text: str = "",
) -> tuple[str, str]:
    """(title, markdown) of one message to one channel: a batch of events, or the digest with them.

    Every line is one order of ``street`` (the caller passes only that street's events). Lines that
    do not fit the platform's limit are counted at the end instead of cut mid-line.
    """
    red = sum(1 for e in events if e.level == "red")
    if digest_text:
        title = f"{street} 诉件日报 {format_local(now)[:10]}"
    else:
        title = f"{street} 诉件提醒 {len(events)} 项" + (f"（红色 {red}）" if red else "")
    head = [f"### {title}", ""]
    if digest_text:
        head += [mask_phones_in_text(line) for line in digest_text.splitlines()] + [""]
        if events:
            head.append(f"另有 {len(events)} 项待告知的提醒：")
    footer = ["", f"> 发送时间 {format_local(now)}（北京时间）；请登录诉件系统处理。"]
    ordered = sorted(events, key=lambda e: (0 if e.level == "red" else 1, e.due_at or now, e.order_no))
    lines = list(head)
    for index, event in enumerate(ordered):
        line = event_line(kind, event, base_url)
        rest = len(ordered) - index
        tail = [f"- ……另有 {rest} 项未列出，请登录系统查看"]
        if not _fits(kind, "\n".join([*lines, line, *tail, *footer])):
            lines += [f"- ……另有 {rest} 项未列出，请登录系统查看"]
            break
        lines.append(line)
    text = "\n".join([*lines, *footer])
    while not _fits(kind, text) and len(lines) > 2:  # a digest too long by itself: shorten it from the end
        lines = [*lines[:-2], "……（内容过长，其余请登录系统查看）"]
        text = "\n".join([*lines, *footer])
    return title, text


# --- timing


def parse_hhmm(value: str, *, street: str, field: str) -> time:
    """'22:00' → time(22, 0); a clear error naming the street and field otherwise."""
    match = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", value.strip())
    if not match:
        raise NotifyConfigError(f"街镇「{street}」的{field}「{value}」不是 HH:MM 格式的时间（如 22:00）")
    return time(int(match.group(1)), int(match.group(2)))


def in_quiet_hours(local: time, start: time, end: time) -> bool:
    """Whether a local time of day falls in [start, end), a window that may span midnight; empty when equal."""
    if start == end:
        return False
    if start < end:
        return start <= local < end
    return local >= start or local < end


def backoff(attempts: int) -> timedelta:
    """The wait before attempt ``attempts + 1``: 30 s, 1, 2, 4 … minutes, at most an hour."""
    return timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 3600))


@dataclass(frozen=True)
class Answer:
    """What a platform's answer means for the message."""

    ok: bool
    rate_limited: bool = False
    permanent: bool = False  # retrying cannot help until someone fixes the channel
    error: str = ""


PERMANENT_CODES = {WECOM: {93000: "webhook key 无效"}, DINGTALK: {310000: "签名、关键词或 IP 校验未通过"}}
RATE_CODES = {WECOM: {45009}, DINGTALK: {130101}}


def read_answer(kind: str, status: int, body: bytes) -> Answer:
    """Interpret an HTTP status and JSON body from a robot."""
    label = KIND_LABELS[kind]
    try:
        data = json.loads(body.decode("utf-8") or "{}")
        code = int(data.get("errcode", -1))
        message = str(data.get("errmsg", ""))[:200]
    except (ValueError, AttributeError, TypeError):
        code, message = -1, body[:200].decode("utf-8", "replace")
    if status == 200 and code == 0:
        return Answer(ok=True)
    if code in RATE_CODES[kind] or status == 429:
        return Answer(ok=False, rate_limited=True, error=f"{label}限流（errcode {code}）：{message}")
    if code in PERMANENT_CODES[kind]:
        reason = PERMANENT_CODES[kind][code]
        return Answer(ok=False, permanent=True, error=f"{label}拒绝：{reason}（errcode {code}）：{message}")
    return Answer(ok=False, error=f"{label}返回错误（HTTP {status}，errcode {code}）：{message}")
