"""A street's notification channels: saved from the administration page or a TOML file, validated first.

A webhook (its key is the secret) and a DingTalk signing secret are stored, or named by a file
(``webhook_file`` / ``secret_file``, read when sending, the ``_FILE`` form); neither is ever shown again.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from tracker.domain.notify import (
    DINGTALK,
    EMAIL,
    KIND_LABELS,
    WECOM,
    NotifyConfigError,
    parse_hhmm,
    validate_webhook,
)
from tracker.models import NotifyChannel, Street

EMAIL_ADDRESS = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
SECRET_TEXT = re.compile(r"[A-Za-z0-9+/=_-]{8,128}")
TOML_FIELDS = {
    "street",
    "kind",
    "webhook",
    "webhook_file",
    "secret",
    "secret_file",
    "emails",
    "quiet_start",
    "quiet_end",
    "red_in_quiet",
    "enabled",
}


@dataclass(frozen=True)
class ChannelInput:
    """A channel as entered; ``None`` for a secret means: keep what is stored."""

    street: str
    kind: str
    webhook: str | None = None
    webhook_file: str | None = None
    secret: str | None = None
    secret_file: str | None = None
    emails: str = ""
    quiet_start: str = "22:00"
    quiet_end: str = "07:00"
    red_in_quiet: bool = False
    enabled: bool = True


def read_secret_file(path: str, *, street: str, field: str) -> str:
    """The first line of a secret file; a clear error naming street, field and path."""
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise NotifyConfigError(f"街镇「{street}」的 {field}「{path}」无法读取：{exc.strerror or exc}") from None


def split_emails(text: str, *, street: str) -> list[str]:
    """Addresses separated by commas, semicolons or spaces; each checked."""
    addresses = [a for a in re.split(r"[,;，；\s]+", text.strip()) if a]
    for address in addresses:
        if not EMAIL_ADDRESS.fullmatch(address):
            raise NotifyConfigError(f"街镇「{street}」的邮箱「{address}」格式不正确")
    return addresses


def resolve_target(channel: NotifyChannel, *, allow_loopback: bool) -> tuple[str, str]:
    """(webhook, signing secret) as of now: files are read at each send, so a rotated secret applies at once."""
    street = channel.street
    webhook = channel.webhook
    if channel.webhook_file:
        webhook = read_secret_file(channel.webhook_file, street=street, field="webhook_file")
    secret = channel.secret
    if channel.secret_file:
        secret = read_secret_file(channel.secret_file, street=street, field="secret_file")
    if channel.kind in (WECOM, DINGTALK):
        validate_webhook(channel.kind, webhook, street=street, allow_loopback=allow_loopback)
    return webhook, secret


def _check(session: Session, data: ChannelInput, stored: NotifyChannel | None, *, allow_loopback: bool) -> None:
    street = data.street.strip()
    if data.kind not in KIND_LABELS:
        raise NotifyConfigError(f"街镇「{street}」的渠道类型「{data.kind}」无效：应为 wecom、dingtalk 或 email")
    if not session.exec(select(Street.id).where(Street.name == street)).first():
        raise NotifyConfigError(f"街镇「{street}」不在街镇名单中，请先在“街镇与执法队”页面添加")
    parse_hhmm(data.quiet_start, street=street, field="免打扰开始时间")
    parse_hhmm(data.quiet_end, street=street, field="免打扰结束时间")
    if data.kind == EMAIL:
        if not split_emails(data.emails, street=street):
            raise NotifyConfigError(f"街镇「{street}」的电子邮件渠道没有填写邮箱")
        return
    webhook = data.webhook if data.webhook is not None else (stored.webhook if stored else "")
    webhook_file = data.webhook_file if data.webhook_file is not None else (stored.webhook_file if stored else "")
    if webhook and webhook_file:
        raise NotifyConfigError(f"街镇「{street}」的 webhook 与 webhook_file 只能填一个")
    if webhook_file:
        webhook = read_secret_file(webhook_file, street=street, field="webhook_file")
    validate_webhook(data.kind, webhook, street=street, allow_loopback=allow_loopback)
    if data.kind == DINGTALK:
        secret = data.secret if data.secret is not None else (stored.secret if stored else "")
        secret_file = data.secret_file if data.secret_file is not None else (stored.secret_file if stored else "")
        if secret and secret_file:
            raise NotifyConfigError(f"街镇「{street}」的 secret 与 secret_file 只能填一个")
        if secret_file:
            secret = read_secret_file(secret_file, street=street, field="secret_file")
        if not secret:
            raise NotifyConfigError(f"街镇「{street}」的钉钉机器人缺少加签密钥（secret 或 secret_file）")
        if not SECRET_TEXT.fullmatch(secret):
            raise NotifyConfigError(
                f"街镇「{street}」的钉钉加签密钥格式不正确（应为机器人设置页显示的 SEC 开头的字符串）"
            )


def save_channel(
    session: Session, *, data: ChannelInput, actor: str, now: datetime, allow_loopback: bool = False
) -> NotifyChannel:
    """Add or change a street's channel of one kind, after checking every field; flushes."""
    data = replace(data, street=data.street.strip(), kind=data.kind.strip())
    stored = session.exec(
        select(NotifyChannel).where(NotifyChannel.street == data.street, NotifyChannel.kind == data.kind)
    ).first()
    _check(session, data, stored, allow_loopback=allow_loopback)
    channel = stored or NotifyChannel(street=data.street, kind=data.kind, updated_at=now)
    for name in ("webhook", "webhook_file", "secret", "secret_file"):
        value = getattr(data, name)
        if value is not None:
            setattr(channel, name, value.strip())
    if data.kind == EMAIL:
        channel.emails = ", ".join(split_emails(data.emails, street=data.street))
    channel.quiet_start = data.quiet_start.strip()
    channel.quiet_end = data.quiet_end.strip()
    channel.red_in_quiet = data.red_in_quiet
    channel.enabled = data.enabled
    channel.updated_at = now
    channel.updated_by = actor[:128]
    session.add(channel)
    session.flush()
    return channel


def list_channels(session: Session) -> list[NotifyChannel]:
    """Every channel, by street and kind."""
    return list(session.exec(select(NotifyChannel).order_by(col(NotifyChannel.street), col(NotifyChannel.kind))))


def get_channel(session: Session, channel_id: int) -> NotifyChannel | None:
    """One channel by id."""
    return session.get(NotifyChannel, channel_id)


def _input_from_toml(index: int, table: dict[str, Any]) -> ChannelInput:
    where = f"第 {index} 个 [[channel]]"
    unknown = sorted(set(table) - TOML_FIELDS)
    if unknown:
        raise NotifyConfigError(f"{where}：未知字段「{'、'.join(unknown)}」")
    for name in ("street", "kind"):
        if not isinstance(table.get(name), str) or not table[name].strip():
            raise NotifyConfigError(f"{where}：缺少字段 {name}")
    if isinstance(table.get("emails"), list):  # emails = ["a@…", "b@…"] reads better in TOML
        table = {**table, "emails": ", ".join(str(e) for e in table["emails"])}
    texts = {}
    for name in ("webhook", "webhook_file", "secret", "secret_file", "emails", "quiet_start", "quiet_end"):
        value = table.get(name)
        if value is not None and not isinstance(value, str):
            raise NotifyConfigError(f"{where}（{table['street']}）：字段 {name} 的值「{value}」应为字符串")
        texts[name] = value
    flags = {}
    for name in ("red_in_quiet", "enabled"):
        value = table.get(name, name == "enabled")
        if not isinstance(value, bool):
            raise NotifyConfigError(f"{where}（{table['street']}）：字段 {name} 的值「{value}」应为 true 或 false")
        flags[name] = value
    return ChannelInput(
        street=table["street"],
        kind=table["kind"],
        webhook=texts["webhook"] if texts["webhook"] is not None else ("" if texts["webhook_file"] else None),
        webhook_file=texts["webhook_file"] if texts["webhook_file"] is not None else ("" if texts["webhook"] else None),
        secret=texts["secret"] if texts["secret"] is not None else ("" if texts["secret_file"] else None),
        secret_file=texts["secret_file"] if texts["secret_file"] is not None else ("" if texts["secret"] else None),
        emails=texts["emails"] or "",
        quiet_start=texts["quiet_start"] or "22:00",
        quiet_end=texts["quiet_end"] or "07:00",
        red_in_quiet=flags["red_in_quiet"],
        enabled=flags["enabled"],
    )


def load_channels_file(
    session: Session, *, path: Path, actor: str, now: datetime, allow_loopback: bool = False
) -> list[NotifyChannel]:
    """Every ``[[channel]]`` of a TOML file, all checked before any is saved; flushes (the caller commits)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise NotifyConfigError(f"渠道文件「{path}」无法读取：{exc}") from None
    tables = data.get("channel", [])
    if not isinstance(tables, list) or not tables:
        raise NotifyConfigError(f"渠道文件「{path}」中没有 [[channel]] 表")
    inputs = [_input_from_toml(i, t) for i, t in enumerate(tables, start=1)]
    seen: set[tuple[str, str]] = set()
    for index, item in enumerate(inputs, start=1):
        pair = (item.street.strip(), item.kind.strip())
        if pair in seen:
            raise NotifyConfigError(f"第 {index} 个 [[channel]]：街镇「{pair[0]}」的 {pair[1]} 渠道重复")
        seen.add(pair)
        try:
            stored = session.exec(
                select(NotifyChannel).where(NotifyChannel.street == pair[0], NotifyChannel.kind == pair[1])
            ).first()
            _check(session, replace(item, street=pair[0], kind=pair[1]), stored, allow_loopback=allow_loopback)
        except NotifyConfigError as exc:
            raise NotifyConfigError(f"第 {index} 个 [[channel]]：{exc.message}") from None
    return [save_channel(session, data=i, actor=actor, now=now, allow_loopback=allow_loopback) for i in inputs]
