"""What a street's channels must be told, written in the transaction of what happened (the outbox's input).

Each event is fanned out to every enabled channel of the order's street at once, so a channel sees
only its own street's orders, and a rerun adds nothing twice (unique per channel and key). The
notify service batches, renders and sends them; nothing here talks to the outside.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import String, and_, cast, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col

from tracker.domain.labels import STAGE_LABELS
from tracker.domain.vocabulary import Action, AlertLevel, Stage
from tracker.models import Alert, Digest, NotifyChannel, NotifyEvent, Order

NOTICE_ACTIONS = {
    Action.SUPERVISE: "supervise",
    Action.REDO: "redo",
    Action.APPROVE_RETURN: "return_decision",
    Action.REJECT_RETURN: "return_decision",
    Action.APPROVE_EXTENSION: "extension_decision",
    Action.REJECT_EXTENSION: "extension_decision",
}
DECISION_WORDS = {
    Action.APPROVE_RETURN: "退单申请已批准",
    Action.REJECT_RETURN: "退单申请被驳回，请继续办理",
    Action.APPROVE_EXTENSION: "延期申请已批准",
    Action.REJECT_EXTENSION: "延期申请被驳回，按原期限办理",
    Action.SUPERVISE: "上级督办",
    Action.REDO: "重办（新一轮办理）",
}
NOTIFIED_LEVELS = (AlertLevel.YELLOW.value, AlertLevel.RED.value)


def _insert(session: Session) -> Any:
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(NotifyEvent.__table__)  # type: ignore[attr-defined]


def _channels_of(session: Session, street: str | None) -> list[int]:
    if not street:
        return []
    query = select(col(NotifyChannel.id)).where(
        col(NotifyChannel.street) == street, col(NotifyChannel.enabled).is_(True)
    )
    return [int(i) for i in session.execute(query).scalars().all()]


def enqueue_alert_notices(session: Session, *, now: datetime) -> int:
    """Every alert that turned 黄 or 红 at ``now`` (this scan) becomes an event for its street's channels; flushes.

    One set-based statement; the key ``alert:<id>:<level>`` lets a level be told once.
    """
    alert = Alert.__table__  # type: ignore[attr-defined]
    order = Order.__table__  # type: ignore[attr-defined]
    channel = NotifyChannel.__table__  # type: ignore[attr-defined]
    event = NotifyEvent.__table__  # type: ignore[attr-defined]
    key = literal("alert:") + cast(alert.c.id, String) + literal(":") + alert.c.level
    rows = (
        select(
            channel.c.id,
            key,
            literal("alert"),
            order.c.street,
            order.c.id,
            order.c.order_no,
            alert.c.stage,
            alert.c.level,
            alert.c.due_at,
            literal(""),
            literal(now, event.c.created_at.type),
        )
        .select_from(alert)
        .join(order, order.c.id == alert.c.order_id)
        .join(channel, and_(channel.c.street == order.c.street, channel.c.enabled.is_(True)))
        .where(
            alert.c.level_changed_at == now,
            alert.c.resolved_at.is_(None),
            alert.c.level.in_(NOTIFIED_LEVELS),
        )
    )
    columns = [
        "channel_id",
        "key",
        "kind",
        "street",
        "order_id",
        "order_no",
        "stage",
        "level",
        "due_at",
        "detail",
        "created_at",
    ]
    result = session.execute(
        _insert(session).from_select(columns, rows).on_conflict_do_nothing(index_elements=["channel_id", "key"])
    )
    session.flush()
    return max(int(getattr(result, "rowcount", 0) or 0), 0)


def enqueue_order_notice(session: Session, *, order: Order, action: Action, open_rows: list[Any], now: datetime) -> int:
    """A 督办 or 重办 ordered, a 退单 / 延期 decided: one event per channel of the order's street; flushes."""
    kind = NOTICE_ACTIONS.get(action)
    channels = _channels_of(session, order.street) if kind else []
    if not kind or not channels:
        return 0
    stage, due = "", None
    wanted = {Action.SUPERVISE: Stage.SUPERVISION, Action.REDO: Stage.REDO}.get(action, Stage.CLOSURE)
    for row in open_rows:
        if row.stage == wanted.value:
            stage, due = STAGE_LABELS[wanted], row.due_at
    detail = DECISION_WORDS[action]  # an approved extension's new deadline is the line's 期限
    key = f"{action.value}:{order.id}:{order.cycle}:{now.isoformat()}"
    values = [
        {
            "channel_id": channel_id,
            "key": key[:200],
            "kind": kind,
            "street": order.street,
            "order_id": order.id,
            "order_no": order.order_no,
            "stage": stage,
            "level": "",
            "due_at": due,
            "detail": detail,
            "created_at": now,
        }
        for channel_id in channels
    ]
    session.execute(_insert(session).values(values).on_conflict_do_nothing(index_elements=["channel_id", "key"]))
    session.flush()
    return len(values)


def enqueue_digest_notices(session: Session, *, digests: list[Digest], day: date, now: datetime) -> int:
    """Each street's morning digest as an event for its channels (once a day: key ``digest:<day>``); flushes."""
    added = 0
    for digest in digests:
        channels = _channels_of(session, digest.street)
        if not channels:
            continue
        values = [
            {
                "channel_id": channel_id,
                "key": f"digest:{day.isoformat()}",
                "kind": "digest",
                "street": digest.street,
                "order_id": None,
                "order_no": "",
                "stage": "",
                "level": "",
                "due_at": None,
                "detail": digest.text,
                "created_at": now,
            }
            for channel_id in channels
        ]
        session.execute(_insert(session).values(values).on_conflict_do_nothing(index_elements=["channel_id", "key"]))
        added += len(values)
    session.flush()
    return added
