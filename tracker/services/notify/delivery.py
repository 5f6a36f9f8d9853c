"""Sending the outbox: claim a message (attempt and lease committed first), send it, record the answer.

Exactly once as far as we can make it: a message is claimed in its own committed transaction (the
SQLite write lock; ``FOR UPDATE SKIP LOCKED`` on PostgreSQL) with a lease, so a second scheduler or a
restarted one does not take it while the first may still be sending; it is marked sent only by the
holder of that lease. A process killed after the claim and before the request leaves is retried when
the lease ends. The one window left: killed after the platform accepted the request and before the
``sent`` commit (milliseconds), the message goes again once the lease ends; robots have no
idempotency key to stop that (README "Squad notifications").
"""

from __future__ import annotations

import http.client
import smtplib
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from tracker.db import take_write_lock
from tracker.domain.notify import (
    DINGTALK,
    EMAIL,
    PER_MINUTE,
    Answer,
    NotifyConfigError,
    backoff,
    dingtalk_url,
    payload,
    read_answer,
)
from tracker.models import NotifyChannel, NotifyMessage
from tracker.services.notify.channels import resolve_target, split_emails
from tracker.services.orders import MailSettings

RATE_WINDOW = timedelta(minutes=1)


@dataclass
class Transport:
    """How messages leave: HTTP to the robots, SMTP for e-mail (``mail`` None: e-mail is not configured)."""

    allow_loopback: bool = False
    timeout: float = 10.0
    mail: MailSettings | None = None
    clock_ms: Callable[[], int] = field(default=lambda: int(time.time() * 1000))

    def post(self, url: str, body: bytes) -> tuple[int, bytes]:
        """POST JSON; (status, body) of any HTTP answer; OSError when the network fails."""
        request = urllib.request.Request(
            url, data=body, method="POST", headers={"Content-Type": "application/json; charset=utf-8"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return int(response.status), bytes(response.read())
        except urllib.error.HTTPError as exc:
            return int(exc.code), bytes(exc.read() or b"")

    def send_mail(self, to: list[str], subject: str, text: str) -> None:
        """One e-mail; raises OSError or SMTPException."""
        if self.mail is None:
            raise NotifyConfigError("未配置 SMTP（TRACKER_SMTP_HOST），无法发送邮件")
        message = EmailMessage()
        message["Subject"] = subject
        message["From"] = self.mail.sender
        message["To"] = ", ".join(to)
        message.set_content(text)
        with smtplib.SMTP(self.mail.host, self.mail.port, timeout=self.timeout) as smtp:
            if self.mail.starttls:
                smtp.starttls()
            if self.mail.user:
                smtp.login(self.mail.user, self.mail.password)
            smtp.send_message(message)


def send_message(channel: NotifyChannel, message: NotifyMessage, transport: Transport) -> Answer:
    """One attempt at one message; every failure becomes an Answer with a Chinese reason (never raises)."""
    try:
        webhook, secret = resolve_target(channel, allow_loopback=transport.allow_loopback)
        if channel.kind == EMAIL:
            transport.send_mail(split_emails(channel.emails, street=channel.street), message.title, message.body)
            return Answer(ok=True)
        url = dingtalk_url(webhook, secret, transport.clock_ms()) if channel.kind == DINGTALK else webhook
        status, body = transport.post(url, payload(channel.kind, message.title, message.body))
        return read_answer(channel.kind, status, body)
    except NotifyConfigError as exc:
        return Answer(ok=False, permanent=True, error=exc.message)
    except smtplib.SMTPException as exc:
        return Answer(ok=False, error=f"邮件发送失败：{type(exc).__name__} {exc}"[:300])
    except (OSError, http.client.HTTPException) as exc:  # URLError, timeouts, refused connections
        reason = getattr(exc, "reason", None) or exc
        return Answer(ok=False, error=f"网络错误：{type(exc).__name__} {reason}"[:300])


@dataclass
class DeliveryResult:
    """Counts of one delivery run."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0
    rate_limited: int = 0
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """The job's one line."""
        line = f"群消息与邮件：发送 {self.sent} 条，待重试 {self.retrying} 条，放弃 {self.failed} 条"
        if self.rate_limited:
            line += f"，因限流顺延 {self.rate_limited} 条"
        return line


def _recent_attempts(session: Session, channel_id: int, now: datetime) -> int:
    query = select(func.count()).where(
        NotifyMessage.channel_id == channel_id, col(NotifyMessage.last_attempt_at) > now - RATE_WINDOW
    )
    return int(session.exec(query).one())


def claim(
    session: Session,
    *,
    now: datetime,
    holder: str,
    lease: timedelta,
    skip: set[int],
    attempts_in_run: dict[int, deque[datetime]] | None = None,
) -> tuple[NotifyMessage, NotifyChannel] | None:
    """The next due message of a channel under its rate limit, its attempt and lease written; flushes.

    The caller commits before sending, so the attempt is on record whatever happens next.
    """
    take_write_lock(session)
    in_run = attempts_in_run if attempts_in_run is not None else {}
    while True:  # each pass that finds only rate-limited channels skips them all, so this ends
        query = (
            select(NotifyMessage)
            .where(
                NotifyMessage.status == "pending",
                col(NotifyMessage.next_attempt_at) <= now,
                (col(NotifyMessage.lease_until).is_(None)) | (col(NotifyMessage.lease_until) < now),
            )
            .order_by(col(NotifyMessage.next_attempt_at), col(NotifyMessage.id))
            .limit(20)
        )
        if skip:
            query = query.where(col(NotifyMessage.channel_id).not_in(skip))
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        candidates = session.exec(query).all()
        if not candidates:
            return None
        for message in candidates:
            channel = session.get(NotifyChannel, message.channel_id)
            if channel is None or message.channel_id in skip:
                skip.add(message.channel_id)
                continue
            recent = in_run.setdefault(message.channel_id, deque())
            while recent and recent[0] <= now - RATE_WINDOW:
                recent.popleft()
            if max(len(recent), _recent_attempts(session, message.channel_id, now)) >= PER_MINUTE[channel.kind]:
                skip.add(message.channel_id)  # this channel's minute is used up: the next run goes on
                continue
            message.attempts += 1
            message.lease_until = now + lease
            message.lease_holder = holder
            message.last_attempt_at = now
            session.add(message)
            session.flush()
            recent.append(now)
            return message, channel


def finish(session: Session, *, message_id: int, holder: str, answer: Answer, now: datetime, max_attempts: int) -> str:
    """Record one attempt's answer, only if this process still holds the lease; flushes. Returns the outcome."""
    take_write_lock(session)
    query = select(NotifyMessage).where(NotifyMessage.id == message_id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    message = session.exec(query).one()
    if message.status != "pending" or message.lease_holder != holder:
        return "lost"  # taken over after our lease ended: the new holder decides
    message.lease_until = None
    if answer.ok:
        message.status = "sent"
        message.sent_at = now
        outcome = "sent"
    else:
        message.last_error = answer.error[:500]
        if answer.permanent or message.attempts >= max_attempts:
            message.status = "failed"
            outcome = "failed"
        elif answer.rate_limited:
            message.next_attempt_at = now + RATE_WINDOW
            outcome = "rate_limited"
        else:
            message.next_attempt_at = now + backoff(message.attempts)
            outcome = "retrying"
    session.add(message)
    session.flush()
    return outcome


def deliver(
    engine: Engine,
    *,
    clock: Callable[[], datetime],
    holder: str,
    transport: Transport,
    lease: timedelta = timedelta(minutes=2),
    max_attempts: int = 12,
    limit: int = 500,
) -> DeliveryResult:
    """Send due outbox messages one by one, each claimed and finished in its own committed transaction."""
    result = DeliveryResult()
    skip: set[int] = set()
    attempts_in_run: dict[int, deque[datetime]] = {}
    for _ in range(limit):
        with Session(engine, expire_on_commit=False) as session:
            claimed = claim(
                session, now=clock(), holder=holder, lease=lease, skip=skip, attempts_in_run=attempts_in_run
            )
            session.commit()
        if claimed is None:
            break
        message, channel = claimed
        answer = send_message(channel, message, transport)
        with Session(engine, expire_on_commit=False) as session:
            outcome = finish(
                session,
                message_id=message.id or 0,
                holder=holder,
                answer=answer,
                now=clock(),
                max_attempts=max_attempts,
            )
            session.commit()
        if outcome == "sent":
            result.sent += 1
        elif outcome == "failed":
            result.failed += 1
        elif outcome == "rate_limited":
            result.rate_limited += 1
            skip.add(channel.id or 0)
        elif outcome == "retrying":
            result.retrying += 1
        if answer.error:
            result.errors.append(f"{channel.street} {channel.kind}：{answer.error}"[:300])
    return result
