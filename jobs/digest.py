"""digest: per squad, today's new alerts, still-open overdue stages, yesterday's closures, analysis lines (08:30)."""

from __future__ import annotations

from datetime import datetime

from flask import current_app
from sqlmodel import Session

from tracker.domain.deadlines import to_local
from tracker.services.operations import JobResult
from tracker.services.orders import (
    MailSettings,
    build_digests,
    load_calendar,
    load_recipients,
    notices,
    send_digests,
)
from tracker.services.stats import digest_lines
from tracker.services.verifications import digest_lines as check_digest_lines


def run(session: Session, *, now: datetime) -> JobResult:
    """Build and store every street's digest; e-mail them when SMTP is configured."""
    config = current_app.config
    checks = check_digest_lines(session, now=now, calendar=load_calendar(session))
    digests = build_digests(session, now=now, analysis=digest_lines(session, now=now), checks=checks)
    # the group robots' copy goes through the outbox (job notify), in this same transaction
    notices.enqueue_digest_notices(session, digests=digests, day=to_local(now).date(), now=now)
    sent = failed = 0
    mail = MailSettings.from_config(config)
    if mail is not None:
        sent, failed = send_digests(digests, mail=mail, recipients=load_recipients(config["DIGEST_RECIPIENTS"]))
    note = f"，发送失败 {failed} 封（下次运行重发）" if failed else ""
    return JobResult(
        f"日报：生成 {len(digests)} 个街镇，发送邮件 {sent} 封{note}",
        {"streets": len(digests), "sent": sent, "failed": failed},
    )
