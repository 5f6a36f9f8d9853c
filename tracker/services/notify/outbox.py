"""From pending events to outbox messages: one message per channel and run, quiet hours kept, the digest
taking the batch's place; and what the administration page shows of it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, update
from sqlmodel import Session, col, select

from tracker.domain.deadlines import to_local
from tracker.domain.labels import STAGE_LABELS
from tracker.domain.notify import EventView, in_quiet_hours, parse_hhmm, render
from tracker.domain.vocabulary import Stage
from tracker.models import Alert, NotifyChannel, NotifyEvent, NotifyMessage


def _view(event: NotifyEvent) -> EventView:
    stage = event.stage
    if event.kind == "alert" and stage in {s.value for s in Stage}:
        stage = STAGE_LABELS[Stage(stage)]
    return EventView(
        kind=event.kind,
        order_no=event.order_no,
        order_id=event.order_id,
        stage=stage,
        level=event.level,
        due_at=event.due_at,
        detail=event.detail,
    )


def sendable(channel: NotifyChannel, events: list[NotifyEvent], *, now: datetime) -> list[NotifyEvent]:
    """The events a channel may be sent now: all of them, or in quiet hours only red alerts (if it asked)."""
    start = parse_hhmm(channel.quiet_start, street=channel.street, field="免打扰开始时间")
    end = parse_hhmm(channel.quiet_end, street=channel.street, field="免打扰结束时间")
    if not in_quiet_hours(to_local(now).time(), start, end):
        return events
    if not channel.red_in_quiet:
        return []
    return [e for e in events if e.kind == "alert" and e.level == "red"]


def _ended_alerts(session: Session, events: list[NotifyEvent]) -> list[NotifyEvent]:
    """Alert events whose stage has no open alert any more (done, or the order closed) since they were written."""
    alerts = [e for e in events if e.kind == "alert" and e.order_id is not None]
    if not alerts:
        return []
    still_open = {
        (int(order_id), str(stage))
        for order_id, stage in session.exec(
            select(Alert.order_id, Alert.stage).where(
                col(Alert.order_id).in_({e.order_id for e in alerts}), col(Alert.resolved_at).is_(None)
            )
        ).all()
    }
    return [e for e in alerts if (e.order_id, e.stage) not in still_open]


def compose(session: Session, *, now: datetime, base_url: str) -> list[NotifyMessage]:
    """Turn each enabled channel's pending events into one outbox message; flushes (commit with the caller).

    Events wait through quiet hours; a pending digest carries the events pending beside it (the 08:30
    digest replaces that batch). The message's key is derived from its events, and the events are marked
    in the same transaction, so a composition is stored once or not at all.
    """
    channel_ids = session.exec(
        select(NotifyEvent.channel_id).where(col(NotifyEvent.batched_at).is_(None)).distinct()
    ).all()
    messages = []
    for channel_id in sorted(channel_ids):
        channel = session.get(NotifyChannel, channel_id)
        if channel is None or not channel.enabled:
            continue
        pending = list(
            session.exec(
                select(NotifyEvent)
                .where(
                    NotifyEvent.channel_id == channel_id,
                    NotifyEvent.street == channel.street,  # never another street's order, whatever was written
                    col(NotifyEvent.batched_at).is_(None),
                )
                .order_by(col(NotifyEvent.id))
            ).all()
        )
        ended = _ended_alerts(session, pending)
        if ended:  # held (quiet hours, a channel switched off) while its stage was done: nothing left to tell
            session.execute(
                update(NotifyEvent)
                .where(col(NotifyEvent.id).in_([e.id for e in ended]), col(NotifyEvent.batched_at).is_(None))
                .values(batched_at=now)
            )
            pending = [e for e in pending if e not in ended]
        events = sendable(channel, pending, now=now)
        if not events:
            continue
        digests = [e for e in events if e.kind == "digest"]
        others = [e for e in events if e.kind != "digest"]
        title, body = render(
            channel.kind,
            street=channel.street,
            events=[_view(e) for e in others],
            base_url=base_url,
            now=now,
            digest_text=digests[-1].detail if digests else "",
        )
        ids = ",".join(str(e.id) for e in events)
        key = f"ch{channel_id}:" + hashlib.sha256(ids.encode()).hexdigest()[:40]
        message = NotifyMessage(
            channel_id=channel_id,
            idempotency_key=key,
            street=channel.street,
            kind="digest" if digests else "batch",
            title=title,
            body=body,
            event_count=len(others),
            next_attempt_at=now,
            created_at=now,
        )
        session.add(message)
        session.flush()
        session.execute(
            update(NotifyEvent)
            .where(col(NotifyEvent.id).in_([e.id for e in events]), col(NotifyEvent.batched_at).is_(None))
            .values(batched_at=now, message_id=message.id)
        )
        messages.append(message)
    session.flush()
    return messages


@dataclass(frozen=True)
class ChannelState:
    """A channel with what waits and what went wrong (the administration page)."""

    channel: NotifyChannel
    waiting_events: int
    pending_messages: int
    failed_messages: int
    last_sent_at: datetime | None


def channel_states(session: Session) -> list[ChannelState]:
    """Every channel with its counts, by street and kind."""
    channels = list(session.exec(select(NotifyChannel).order_by(col(NotifyChannel.street), col(NotifyChannel.kind))))
    waiting = dict(
        session.exec(
            select(NotifyEvent.channel_id, func.count())
            .where(col(NotifyEvent.batched_at).is_(None))
            .group_by(col(NotifyEvent.channel_id))
        ).all()
    )
    by_status: dict[tuple[int, str], int] = {}
    for channel_id, status, count in session.exec(
        select(NotifyMessage.channel_id, NotifyMessage.status, func.count()).group_by(
            col(NotifyMessage.channel_id), col(NotifyMessage.status)
        )
    ).all():
        by_status[(int(channel_id), str(status))] = int(count)
    last = dict(
        session.exec(
            select(NotifyMessage.channel_id, func.max(NotifyMessage.sent_at)).group_by(col(NotifyMessage.channel_id))
        ).all()
    )
    return [
        ChannelState(
            channel=c,
            waiting_events=int(waiting.get(c.id or 0, 0)),
            pending_messages=by_status.get((c.id or 0, "pending"), 0),
            failed_messages=by_status.get((c.id or 0, "failed"), 0),
            last_sent_at=last.get(c.id or 0),
        )
        for c in channels
    ]


def problem_messages(session: Session, *, limit: int = 50) -> list[NotifyMessage]:
    """Messages given up on or still retrying after an error, newest attempt first."""
    query = (
        select(NotifyMessage)
        .where(
            (col(NotifyMessage.status) == "failed")
            | ((col(NotifyMessage.status) == "pending") & (col(NotifyMessage.last_error) != ""))
        )
        .order_by(col(NotifyMessage.last_attempt_at).desc(), col(NotifyMessage.id).desc())
        .limit(limit)
    )
    return list(session.exec(query).all())


def retry_message(session: Session, *, message_id: int, now: datetime) -> NotifyMessage | None:
    """Send a given-up message again at the next run (after the channel was fixed); flushes."""
    message = session.get(NotifyMessage, message_id)
    if message is None or message.status != "failed":
        return message
    message.status = "pending"
    message.attempts = 0
    message.next_attempt_at = now
    message.lease_until = None
    session.add(message)
    session.flush()
    return message


def prune_sent(session: Session, *, before: datetime) -> int:
    """Delete messages sent before ``before`` with their events (failed and waiting ones stay); flushes."""
    old = select(NotifyMessage.id).where(NotifyMessage.status == "sent", col(NotifyMessage.sent_at) < before)
    session.execute(delete(NotifyEvent).where(col(NotifyEvent.message_id).in_(old)))
    result = session.execute(
        delete(NotifyMessage).where(col(NotifyMessage.status) == "sent", col(NotifyMessage.sent_at) < before)
    )
    session.flush()
    return max(int(getattr(result, "rowcount", 0) or 0), 0)
