"""The audit trail of a 核查: one append-only row per step, written with the change it records."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from tracker.domain.vocabulary import CheckAction
from tracker.models import NoticeCheck, NoticeCheckEvent
from tracker.services.accounts import Actor


def audit(
    session: Session,
    check: NoticeCheck,
    action: CheckAction,
    actor: Actor,
    now: datetime,
    *,
    note: str = "",
    changes: dict[str, Any] | None = None,
) -> None:
    """One audit row for one step of a 核查 (flushed with the caller's change)."""
    session.add(
        NoticeCheckEvent(
            check_id=check.id,  # type: ignore[arg-type]
            action=action.value,
            status_after=check.status,
            actor=actor.id,
            actor_name=actor.name,
            at=now,
            note=note,
            changes=changes or {},
        )
    )


def check_events(session: Session, check_id: int) -> list[NoticeCheckEvent]:
    """A 核查's audit trail, oldest first."""
    return list(
        session.exec(
            select(NoticeCheckEvent)
            .where(NoticeCheckEvent.check_id == check_id)
            .order_by(col(NoticeCheckEvent.at), col(NoticeCheckEvent.id))
        ).all()
    )
