"""notify: compose the outbox from pending events and send it to the squads' group robots and e-mail (every minute)."""

from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime, timedelta

from flask import current_app
from sqlmodel import Session

from tracker.db import take_write_lock
from tracker.models import utcnow
from tracker.services.notify import Transport, compose, deliver, prune_sent
from tracker.services.operations import JobResult
from tracker.services.orders import MailSettings

HOLDER = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"  # whose lease a claimed message is under


def transport_from_config() -> Transport:
    """The robots' and SMTP settings of the app."""
    settings = current_app.config
    return Transport(allow_loopback=settings["NOTIFY_ALLOW_LOOPBACK"], mail=MailSettings.from_config(settings))


def run(session: Session, *, now: datetime) -> JobResult:
    """Compose in one committed transaction, then send each message in transactions of its own."""
    config = current_app.config
    engine = session.get_bind().engine
    with Session(engine, expire_on_commit=False) as compose_session:
        take_write_lock(compose_session)
        composed = compose(compose_session, now=now, base_url=config["PUBLIC_URL"])
        pruned = prune_sent(compose_session, before=now - timedelta(days=config["NOTIFY_KEEP_DAYS"]))
        compose_session.commit()
    result = deliver(
        engine,
        # leases and back-off by the real clock when the run is late (a coalesced tick, run-job --now): a
        # lease must never start out already expired
        clock=lambda: max(now, utcnow()),
        holder=HOLDER,
        transport=transport_from_config(),
        max_attempts=config["NOTIFY_MAX_ATTEMPTS"],
    )
    return JobResult(
        f"新组消息 {len(composed)} 条；{result.summary()}",
        {
            "composed": len(composed),
            "sent": result.sent,
            "retrying": result.retrying,
            "failed": result.failed,
            "rate_limited": result.rate_limited,
            "pruned": pruned,
            "errors": result.errors[:10],
        },
    )
