"""Read queries for the administration pages: counts, lists, the phone-reveal audit, deadlines a calendar moved."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_
from sqlmodel import Session, col, select

from tracker.domain.lifecycle import OPEN_STATES
from tracker.domain.vocabulary import Unit
from tracker.models import (
    AppUser,
    CalendarYear,
    Category,
    DeadlineRuleRow,
    ExportLog,
    JobRun,
    NotifyChannel,
    NotifyMessage,
    Order,
    OrderDeadline,
    PhoneReveal,
    Street,
)
from tracker.services.accounts import Viewer, scoped


def _count(session: Session, model: type, *where: object) -> int:
    query = select(func.count()).select_from(model)
    for condition in where:
        query = query.where(condition)  # type: ignore[arg-type]
    return int(session.exec(query).one())


def section_counts(session: Session) -> dict[str, int]:
    """How many rows each administration section holds (and how many are active where that applies)."""
    return {
        "users": _count(session, AppUser),
        "users_active": _count(session, AppUser, col(AppUser.active).is_(True)),
        "streets": _count(session, Street),
        "streets_active": _count(session, Street, col(Street.active).is_(True)),
        "categories": _count(session, Category),
        "categories_active": _count(session, Category, col(Category.active).is_(True)),
        "rules": _count(session, DeadlineRuleRow),
        "calendar_years": _count(session, CalendarYear),
        "job_runs": _count(session, JobRun),
        "job_errors": _count(session, JobRun, col(JobRun.outcome) == "error"),
        "reveals": _count(session, PhoneReveal),
        "exports": _count(session, ExportLog),
        "notify_channels": _count(session, NotifyChannel),
        "notify_failed": _count(session, NotifyMessage, col(NotifyMessage.status) == "failed"),
    }


def list_users(session: Session) -> list[AppUser]:
    """Every user, in the order they were created."""
    return list(session.exec(select(AppUser).order_by(col(AppUser.id))).all())


def rule_rows(session: Session) -> list[DeadlineRuleRow]:
    """The stored deadline rules, by stage and then from generic to specific."""
    return list(
        session.exec(
            select(DeadlineRuleRow).order_by(
                col(DeadlineRuleRow.stage),
                col(DeadlineRuleRow.urgency).is_not(None),
                col(DeadlineRuleRow.request_type).is_not(None),
                col(DeadlineRuleRow.id),
            )
        ).all()
    )


def rule_by_id(session: Session, rule_id: int) -> DeadlineRuleRow | None:
    """One stored rule, or None."""
    return session.get(DeadlineRuleRow, rule_id)


def job_ids_seen(session: Session) -> list[str]:
    """The job ids that have recorded runs."""
    return list(session.exec(select(JobRun.job_id).distinct().order_by(col(JobRun.job_id))).all())


@dataclass(frozen=True)
class RevealLine:
    """One logged phone reveal, with the order number it concerned."""

    at: datetime
    user_name: str
    order_id: int
    order_no: str
    source: str
    reason: str


def phone_reveals(session: Session, *, viewer: Viewer, limit: int, offset: int) -> tuple[list[RevealLine], int]:
    """The phone-reveal log, newest first, one page of it and the total."""
    on_order = col(Order.id) == col(PhoneReveal.order_id)
    total_query = scoped(select(func.count()).select_from(PhoneReveal).join(Order, on_order), viewer)
    total = int(session.exec(total_query).one())
    rows = session.exec(
        scoped(select(PhoneReveal, Order).join(Order, on_order), viewer)
        .order_by(col(PhoneReveal.at).desc(), col(PhoneReveal.id).desc())
        .limit(limit)
        .offset(offset)
    ).all()
    lines = [
        RevealLine(
            at=reveal.at,
            user_name=reveal.user_name,
            order_id=order.id or 0,
            order_no=order.order_no,
            source=order.source,
            reason=reveal.reason,
        )
        for reveal, order in rows
    ]
    return lines, total


# --- which open deadlines a calendar load moved


DueState = tuple[datetime | None, str | None, datetime | None]  # due_at, due_error, rule_due_at


def _rule_based_of_open_orders(viewer: Viewer) -> Any:
    """Rule-based stage deadlines of open orders (the calendar cannot move a date set by a person)."""
    query = (
        select(OrderDeadline, Order)
        .join(Order, col(Order.id) == col(OrderDeadline.order_id))
        .where(
            col(OrderDeadline.unit) != Unit.FIXED.value,
            col(Order.state).in_([s.value for s in OPEN_STATES]),
        )
    )
    return scoped(query, viewer)


def open_due_snapshot(session: Session, *, viewer: Viewer) -> dict[int, DueState]:
    """The due times of every deadline a calendar change could move, taken before the change.

    Those are the ones recompute_open_deadlines looks at: open stages, and ended stages whose due
    time was unknown (their year not loaded) and so were never judged.
    """
    query = _rule_based_of_open_orders(viewer).where(
        or_(
            col(OrderDeadline.completed_at).is_(None),
            and_(col(OrderDeadline.due_at).is_(None), col(OrderDeadline.outcome).is_(None)),
        )
    )
    return {row.id or 0: (row.due_at, row.due_error, row.rule_due_at) for row, _order in session.exec(query).all()}


@dataclass(frozen=True)
class MovedDeadline:
    """One stage deadline whose due time changed (our rule's result, beside a platform deadline, counts too)."""

    order_id: int
    order_no: str
    source: str
    stage: str
    before: datetime | None
    before_error: str | None
    after: datetime | None
    after_error: str | None
    platform_due: bool  # the platform's 处理时限 stays the deadline of record; our computed one moved


def moved_deadlines(session: Session, *, viewer: Viewer, before: Mapping[int, DueState]) -> list[MovedDeadline]:
    """The deadlines whose due time differs from the snapshot ``before``, by order number."""
    moved = []
    for row, order in session.exec(_rule_based_of_open_orders(viewer)).all():
        if row.id not in before:
            continue
        old_due, old_error, old_rule_due = before[row.id]
        if row.platform_due_at is not None:
            if row.rule_due_at == old_rule_due:
                continue
            old, new = old_rule_due, row.rule_due_at
        else:
            if (row.due_at, row.due_error) == (old_due, old_error):
                continue
            old, new = old_due, row.due_at
        moved.append(
            MovedDeadline(
                order_id=order.id or 0,
                order_no=order.order_no,
                source=order.source,
                stage=row.stage,
                before=old,
                before_error=old_error if row.platform_due_at is None else None,
                after=new,
                after_error=row.due_error if row.platform_due_at is None else None,
                platform_due=row.platform_due_at is not None,
            )
        )
    moved.sort(key=lambda m: (m.order_no, m.stage))
    return moved
