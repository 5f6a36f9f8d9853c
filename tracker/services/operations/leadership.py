"""Exactly one active scheduler: a lease row that one process holds and renews, the others wait for."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from tracker.models import SchedulerLease

LEASE = "scheduler"
LEASE_TTL = timedelta(seconds=45)


def hold_lease(session: Session, *, holder: str, now: datetime, ttl: timedelta = LEASE_TTL) -> bool:
    """Take or renew the lease for ``holder``; False while another live holder has it. Commits nothing."""
    table = SchedulerLease.__table__  # type: ignore[attr-defined]
    taken = session.execute(
        update(table)
        .where(table.c.name == LEASE, or_(table.c.holder == holder, table.c.expires_at < now))
        .values(holder=holder, expires_at=now + ttl)
    ).rowcount  # type: ignore[attr-defined]
    if taken:
        return True
    if session.get(SchedulerLease, LEASE) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(SchedulerLease(name=LEASE, holder=holder, expires_at=now + ttl))
    except IntegrityError:  # another process inserted it first
        return False
    return True


def lease_holder(session: Session) -> SchedulerLease | None:
    """Who holds the lease, and until when."""
    return session.get(SchedulerLease, LEASE)
